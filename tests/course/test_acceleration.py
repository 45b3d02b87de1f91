"""course.acceleration: the profile's mixed precision, XLA and augmentation placement reach Keras.

Every decision is forced (``gpu=`` or a monkeypatched ``gpu_available``), so these tests mean the same
on a machine with a GPU as on one without.
"""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from course import acceleration
from course.acceleration import (
    Acceleration,
    apply_acceleration,
    apply_jit_compile,
    decide,
    float32_output,
    set_train_augmentation,
)
from course.config import NUM_CLASSES, get_profile
from course.data import load_dogs
from course.fast_augment import FastAugment
from course.models import build_scratch_model, build_transfer_model
from course.train import fit

SIZE = 32
BATCH = 8


@pytest.fixture(autouse=True)
def _nothing_applied_afterwards(monkeypatch):
    monkeypatch.setattr(acceleration, "_applied", acceleration.NO_ACCELERATION)
    yield
    keras.config.set_dtype_policy("float32")


def tiny_classifier(num_classes=3, input_shape=(8,)):
    """A model as a student compiles it, with no dtype given anywhere."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(16)(x))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="pred")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize(
    "name, overrides, gpu, expected",
    [
        ("full", {}, True, (True, True, True)),
        ("full", {}, False, (False, False, False)),
        ("smoke", {}, True, (False, False, False)),
        ("grade", {}, True, (False, False, False)),
        ("full", {"mixed_precision": False, "augment_in_model": False}, True, (False, True, False)),
        ("smoke", {"jit_compile": True, "augment_in_model": True}, False, (False, True, True)),
    ],
)
def test_decision_follows_the_profile_and_the_gpu(name, overrides, gpu, expected):
    decision = decide(get_profile(name, **overrides), gpu=gpu)
    assert (decision.mixed_precision, decision.jit_compile, decision.augment_in_model) == expected
    assert decision.gpu is gpu


def test_decision_asks_tensorflow_for_a_gpu_when_not_told(with_gpu):
    assert decide("full") == Acceleration(gpu=True, mixed_precision=True, jit_compile=True, augment_in_model=True)


def test_full_profile_with_a_gpu_sets_the_policy_and_prints_the_decision(with_gpu, capsys):
    decision = apply_acceleration("full")
    assert keras.config.dtype_policy().name == "mixed_float16" == decision.dtype_policy
    printed = capsys.readouterr().out
    assert printed.strip() == str(decision)
    assert "GPU found" in printed and "mixed precision on (mixed_float16)" in printed and "XLA on" in printed
    assert "augmentation inside the training step on a GPU" in printed


def test_applying_a_profile_without_acceleration_resets_float32(with_gpu, capsys):
    apply_acceleration("full")
    decision = apply_acceleration("smoke")
    assert keras.config.dtype_policy().name == "float32"
    assert acceleration.applied() == decision
    printed = capsys.readouterr().out.splitlines()[-1]
    assert "mixed precision off (float32)" in printed and "XLA off" in printed
    assert "augmentation in the tf.data pipeline on the CPU" in printed


def test_no_gpu_in_full_keeps_float32_and_says_why(without_gpu, capsys):
    apply_acceleration("full")
    assert keras.config.dtype_policy().name == "float32"
    assert capsys.readouterr().out.startswith("Acceleration (no GPU found): mixed precision off")


def test_library_models_built_after_the_decision_compute_in_float16_with_a_float32_output(with_gpu):
    apply_acceleration("full")
    for model in (build_transfer_model(NUM_CLASSES, SIZE, weights=None), build_scratch_model(NUM_CLASSES, SIZE)):
        convolution = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
        assert (convolution.compute_dtype, convolution.variable_dtype) == ("float16", "float32")
        assert model.layers[-1].compute_dtype == "float32"
        assert keras.ops.convert_to_numpy(model(np.zeros((2, SIZE, SIZE, 3), "float32"))).dtype == np.float32
        assert model.jit_compile is True
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_models_built_before_any_decision_are_plain_float32():
    model = build_transfer_model(NUM_CLASSES, SIZE, weights=None)
    assert all(layer.compute_dtype == "float32" for layer in model.layers)
    assert model.jit_compile is False


def test_a_students_include_top_model_gets_a_float32_output():
    keras.config.set_dtype_policy("mixed_float16")
    model = keras.applications.EfficientNetB0(
        include_top=True, weights=None, classes=NUM_CLASSES, input_shape=(SIZE, SIZE, 3)
    )
    assert model.layers[-1].compute_dtype == "float16"
    assert float32_output(model) == ["predictions"]
    assert model.layers[-1].compute_dtype == "float32" and model.layers[-2].compute_dtype == "float16"
    probabilities = keras.ops.convert_to_numpy(model(np.zeros((2, SIZE, SIZE, 3), "float32")))
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert float32_output(model) == []  # already float32


def test_a_float16_model_without_known_outputs_is_refused_with_the_fix():
    keras.config.set_dtype_policy("mixed_float16")
    unbuilt = keras.Sequential([keras.layers.Dense(3, activation="softmax")], name="unbuilt")
    with pytest.raises(ValueError, match="Model 'unbuilt' computes in float16 .* Give its last layer dtype='float32'"):
        float32_output(unbuilt)
    keras.config.set_dtype_policy("float32")
    assert float32_output(keras.Sequential([keras.layers.Dense(3)])) == []


@pytest.mark.slow
def test_fit_trains_a_students_mixed_precision_model_with_xla_and_a_float32_output():
    profile = get_profile("grade", mixed_precision=True, jit_compile=True, run_eagerly=False, steps_per_epoch=2)
    keras.config.set_dtype_policy("mixed_float16")
    model = tiny_classifier(NUM_CLASSES, (SIZE, SIZE, 3))
    assert model.layers[-1].compute_dtype == "float16"
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2 * BATCH, SIZE, SIZE, 3)).astype("float32")
    labels = tf.one_hot(rng.integers(0, NUM_CLASSES, 2 * BATCH), NUM_CLASSES)
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH)
    history = fit(model, SimpleNamespace(train=batches, validation=batches), 1, profile)
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["val_loss"][0])
    assert model.jit_compile is True  # trained through XLA
    assert model.layers[-1].compute_dtype == "float32" and model.layers[2].compute_dtype == "float16"
    assert keras.ops.convert_to_numpy(model(images[:2])).dtype == np.float32


@pytest.mark.slow
def test_a_mixed_precision_efficientnet_trains_a_step_on_the_cpu():
    profile = get_profile("grade", mixed_precision=True, steps_per_epoch=1, validation_steps=1)
    keras.config.set_dtype_policy("mixed_float16")
    model = build_transfer_model(NUM_CLASSES, SIZE, weights=None)
    images = np.random.default_rng(1).uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    batch = tf.data.Dataset.from_tensors((images, tf.one_hot([0, 1, 2, 3], NUM_CLASSES)))
    head_before = model.layers[-1].get_weights()[0].copy()
    history = fit(model, SimpleNamespace(train=batch, validation=batch), 1, profile)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(model.layers[-1].get_weights()[0], head_before), "the head trained"


@pytest.mark.slow
@pytest.mark.parametrize("wanted", [True, False])
def test_jit_compile_reaches_a_model_compiled_elsewhere(wanted):
    model = tiny_classifier()
    assert apply_jit_compile(model, get_profile("full", jit_compile=wanted)) is wanted
    assert model.jit_compile is wanted
    history = model.fit(np.ones((4, 8), np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_jit_compile_stays_off_while_running_eagerly():
    model = tiny_classifier()
    model.run_eagerly = True
    assert apply_jit_compile(model, get_profile("full", jit_compile=True)) is False
    profile = get_profile("grade", jit_compile=True)  # grade runs eagerly
    data = SimpleNamespace(
        train=tf.data.Dataset.from_tensors((np.ones((2, 8), "float32"), np.eye(3, dtype="float32")[:2]))
    )
    data.validation = data.train.repeat()
    fit(model, data, 1, profile)
    assert model.run_eagerly is True and model.jit_compile is False


@keras.saving.register_keras_serializable(package="tests")
class Probe(keras.layers.Layer):
    """Passes its input through and keeps the last batch it saw in training and in evaluation."""

    def build(self, input_shape):
        shape = (BATCH, *input_shape[1:])
        self.seen_in_training = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="training")
        self.seen_in_evaluation = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="evaluation")

    def call(self, inputs, training=None):
        (self.seen_in_training if training else self.seen_in_evaluation).assign(tf.cast(inputs, "float32"))
        return inputs


def probed_model():
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(Probe(name="probe")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(NUM_CLASSES, activation="softmax")(x))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def placement_profile(augment_in_model, **overrides):
    return get_profile(
        "grade",
        augment_in_model=augment_in_model,
        image_size=SIZE,
        batch_size=BATCH,
        steps_per_epoch=1,
        validation_steps=1,
        synthetic_train_size=2 * BATCH,
        validation_fraction=0.5,  # a batch to train on, a batch to validate on
        synthetic_test_size=BATCH,
        **overrides,
    )


def test_augmentation_in_the_model_leaves_the_pipeline_uint8_and_unaugmented():
    augment = FastAugment(seed=0)
    data = load_dogs(placement_profile(True), augment=augment, shuffle=False)
    assert data.train_augmentation is augment
    images, labels = next(iter(data.train))
    assert images.dtype == tf.uint8 and tuple(images.shape) == (BATCH, SIZE, SIZE, 3) and labels.dtype == tf.float32
    plain, _ = next(iter(load_dogs(placement_profile(True), shuffle=False).train))
    np.testing.assert_array_equal(images.numpy(), plain.numpy().astype(np.uint8))
    assert next(iter(data.validation))[0].dtype == next(iter(data.test))[0].dtype == tf.float32

    in_pipeline = load_dogs(placement_profile(False), augment=FastAugment(seed=0), shuffle=False)
    assert in_pipeline.train_augmentation is None
    augmented, _ = next(iter(in_pipeline.train))
    assert augmented.dtype == tf.float32 and np.abs(augmented.numpy() - plain.numpy()).mean() > 1


@pytest.mark.slow
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "graph+XLA"])
def test_fit_augments_inside_the_training_step_only(compiled):
    profile = placement_profile(True, run_eagerly=not compiled, jit_compile=compiled)
    data = load_dogs(profile, augment=FastAugment(seed=0), shuffle=False)
    model = probed_model()
    history = fit(model, data, 1, profile)
    assert np.isfinite(history.history["loss"][0])
    probe = model.get_layer("probe")
    trained_on, evaluated_on = probe.seen_in_training.numpy(), probe.seen_in_evaluation.numpy()
    first_train, first_validation = next(iter(data.train))[0].numpy(), next(iter(data.validation))[0].numpy()
    assert trained_on.shape == first_train.shape and 0 <= trained_on.min() and trained_on.max() <= 255
    assert np.abs(trained_on - first_train).mean() > 1, "the training batch was augmented in the step"
    np.testing.assert_array_equal(evaluated_on, first_validation)  # validation saw its images as they are
    assert model.predict(first_validation, verbose=0).shape == (BATCH, NUM_CLASSES)
    np.testing.assert_array_equal(probe.seen_in_evaluation.numpy(), first_validation)  # prediction: no augmentation


def test_training_step_augmentation_is_replaced_and_removed():
    model = probed_model()
    batch = (np.full((BATCH, SIZE, SIZE, 3), 100, "uint8"), np.eye(NUM_CLASSES, dtype="float32")[:BATCH])

    def constant(value):
        return lambda images, training: tf.fill(tf.shape(images), float(value))

    seen = model.get_layer("probe").seen_in_training
    for value in (7, 9):
        set_train_augmentation(model, constant(value))
        model.train_on_batch(*batch)
        assert float(seen.numpy().max()) == value
    set_train_augmentation(model, None)
    assert "train_step" not in vars(model)
    model.train_on_batch(*batch)
    assert float(seen.numpy().max()) == 100
    # fit with data that carry no augmentation takes a previous one away
    set_train_augmentation(model, constant(7))
    batches = tf.data.Dataset.from_tensors(batch).repeat()
    fit(model, SimpleNamespace(train=batches, validation=batches), 1, "grade")
    assert float(seen.numpy().max()) == 100
