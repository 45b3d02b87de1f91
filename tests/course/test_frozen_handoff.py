"""Lesson 4 hands its trained frozen model to lesson 5 through the work folder: the weights (with the
BatchNormalization statistics) and history come back, the model fine-tunes, and without a usable
saved model lesson 5 says so and trains the frozen phase itself. In lesson 5, a wrong attempt at
unfreezing is undone in seconds: ``FrozenStart`` rebuilds the model the frozen phase ended with."""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from course import approaches
from course.approaches import FrozenStart, RunResult, frozen_phase, load_frozen_model, save_frozen_model
from course.config import NUM_CLASSES, get_profile
from course.models import build_transfer_model, param_summary, unfreeze_top
from course.runtime import saved_model_path
from course.train import fit

pytestmark = pytest.mark.slow

IMAGE_SIZE = 32
BATCH = 4
FINETUNED_TRAINABLE = 1_121_584 + 2 * 1280 + 1280 * NUM_CLASSES + NUM_CLASSES  # block 7a, top conv, head


def batches(count, seed):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (count * BATCH, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    labels = tf.one_hot(rng.integers(0, NUM_CLASSES, count * BATCH), NUM_CLASSES)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH)


def student_frozen_model():
    """Lesson 4's build_frozen_model as a student writes it: the same architecture as
    build_transfer_model, but its own layer names and no float32 output setting."""
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
    backbone = keras.applications.EfficientNetB0(include_top=False, weights=None, input_tensor=inputs)
    backbone.trainable = False
    x = keras.layers.GlobalAveragePooling2D()(backbone.output)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def course_model():
    return build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)


def normalizations(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.fixture(scope="module")
def data():
    return SimpleNamespace(train=batches(2, seed=0), validation=batches(1, seed=1))


@pytest.fixture
def profile(tmp_path):
    return get_profile(
        "grade", image_size=IMAGE_SIZE, steps_per_epoch=2, validation_steps=1, work_dir=str(tmp_path / "work")
    )


@pytest.fixture
def saved(profile, data, capsys):
    """A student's frozen model after one epoch, saved as lesson 4 saves it."""
    model = student_frozen_model()
    history = fit(model, data, 1, profile)
    # moving statistics that differ from their initial values, as ImageNet's do
    for layer in normalizations(model)[:-1]:
        layer.moving_mean.assign(np.random.default_rng(2).normal(size=layer.moving_mean.shape))
    path = save_frozen_model(model, history, profile)
    return SimpleNamespace(model=model, history=history, path=path, message=capsys.readouterr().out)


def test_lesson5_starts_from_the_model_lesson4_saved(saved, profile, data, capsys):
    assert saved.message.startswith(f"Saved the trained frozen model to {saved.path}")
    model = course_model()
    history = load_frozen_model(model, profile)
    assert "Starting from the frozen model saved in" in capsys.readouterr().out
    assert history.epoch == saved.history.epoch == [0]
    assert history.history["val_accuracy"] == pytest.approx(saved.history.history["val_accuracy"])
    for loaded, original in zip(model.get_weights(), saved.model.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, original)
    probe = next(iter(data.validation))[0]
    np.testing.assert_allclose(model(probe, training=False), saved.model(probe, training=False), rtol=1e-5, atol=1e-6)
    assert not any(layer.trainable for layer in normalizations(model)[:-1])  # the backbone stays frozen
    assert param_summary(model)["trainable"] == 2 * 1280 + 1280 * NUM_CLASSES + NUM_CLASSES


def test_the_loaded_model_fine_tunes_with_frozen_batchnorm(saved, profile, data):
    model = course_model()
    load_frozen_model(model, profile)
    statistics = [layer.moving_mean.numpy().copy() for layer in normalizations(model)[:-1]]
    top_kernel = model.get_layer("top_conv").kernel.numpy().copy()
    unfreeze_top(model, 20, learning_rate=1e-3)
    assert param_summary(model)["trainable"] == FINETUNED_TRAINABLE
    history = fit(model, data, 2, profile, initial_epoch=1)
    assert history.epoch == [1]
    assert not np.array_equal(model.get_layer("top_conv").kernel.numpy(), top_kernel)
    for layer, before in zip(normalizations(model)[:-1], statistics, strict=True):
        np.testing.assert_array_equal(layer.moving_mean.numpy(), before)  # inference mode: never updated


def test_a_model_with_other_layers_is_not_loaded(profile, data, capsys):
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(inputs))
    other = keras.Model(inputs, keras.layers.Dense(NUM_CLASSES, activation="softmax")(x))
    other.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    save_frozen_model(other, fit(other, data, 1, profile), profile)
    model = course_model()
    before = model.get_weights()
    assert load_frozen_model(model, profile) is None
    assert "has other layers than this model" in capsys.readouterr().out
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_other_profile_settings_do_not_share_a_saved_model(saved, profile, capsys):
    assert load_frozen_model(course_model(), get_profile(profile, epochs_frozen=3)) is None
    assert "No frozen model saved in" in capsys.readouterr().out


def test_without_a_work_folder_nothing_is_kept(profile, data, capsys):
    no_folder = get_profile(profile, work_dir=None)
    model = course_model()
    assert save_frozen_model(model, fit(model, data, 1, no_folder), no_folder) is None
    assert "not kept" in capsys.readouterr().out
    assert load_frozen_model(course_model(), no_folder) is None
    assert "No work folder" in capsys.readouterr().out


def test_frozen_phase_trains_and_saves_once_then_reuses(profile, data, monkeypatch, capsys):
    monkeypatch.setattr(approaches, "load_augmented_data", None)  # frozen_phase must use the data it is given
    model, history = frozen_phase(profile, data)
    assert history.epoch == [0] and saved_model_path(profile, "frozen").is_file()
    assert "Training the frozen phase here" in capsys.readouterr().out

    def no_training(*args, **kwargs):
        raise AssertionError("the saved frozen model should have been used")

    monkeypatch.setattr(approaches, "fit", no_training)
    again, again_history = frozen_phase(profile, data)
    assert again_history.history["loss"] == pytest.approx(history.history["loss"])
    for loaded, trained in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, trained)


def test_frozen_start_undoes_a_wrong_unfreeze_and_its_training(profile, data):
    """A first attempt that unfroze every layer, BatchNormalization included, and trained: the model
    FrozenStart gives holds the frozen phase's weights and flags again, and unfreezes right."""
    model, _ = frozen_phase(get_profile(profile, work_dir=None), data)
    start = FrozenStart(model, profile)
    frozen_weights = [weight.copy() for weight in model.get_weights()]
    frozen_flags = [layer.trainable for layer in model.layers]
    frozen_trainable = param_summary(model)["trainable"]
    for layer in model.layers:  # the wrong attempt
        layer.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    fit(model, data, 2, profile, initial_epoch=1)
    assert any(not np.array_equal(a, b) for a, b in zip(frozen_weights, model.get_weights(), strict=True))

    again = start.model()
    assert again is not model
    for restored, frozen in zip(again.get_weights(), frozen_weights, strict=True):
        np.testing.assert_array_equal(restored, frozen)
    assert [layer.trainable for layer in again.layers] == frozen_flags
    assert param_summary(again)["trainable"] == frozen_trainable
    probe = next(iter(data.validation))[0]
    np.testing.assert_allclose(again(probe, training=False), start.model()(probe, training=False), rtol=1e-6)
    unfreeze_top(again, 20, learning_rate=1e-5)  # the corrected attempt
    assert param_summary(again)["trainable"] == FINETUNED_TRAINABLE


def test_a_run_summary_names_the_validation_and_the_test_accuracy():
    history = {"loss": [1.0, 0.5], "val_accuracy": [0.5, 0.7], "epoch_time": [2.0, 4.0]}
    assert RunResult("frozen", history, 0.68).summary() == (
        "frozen     val_accuracy 0.700 after 2 epoch(s), test_accuracy 0.680, 3.0 s/epoch"
    )
    assert RunResult("frozen", history).summary() == "frozen     val_accuracy 0.700 after 2 epoch(s), 3.0 s/epoch"
