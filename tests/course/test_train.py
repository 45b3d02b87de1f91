"""Training: the distribution strategy and ``fit`` with profiles, epoch times, early stopping and
continued epoch numbering, on tiny tf.data datasets in eager mode (the offline profiles' setting); the
test set is read only by ``evaluate_on_test``."""

import time
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from course.acceleration import distribution_strategy
from course.config import NUM_CLASSES, get_profile
from course.models import build_transfer_model
from course.runtime import checkpoint_dir
from course.train import _set_run_eagerly, early_stopping, evaluate_on_test, fit, kept_history

pytestmark = pytest.mark.slow

IMAGE_SIZE = 32
BATCH = 4


def random_batches(batches, seed):
    """``batches`` batches of random float32 images in 0..255 with one-hot labels."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (batches * BATCH, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    labels = tf.one_hot(rng.integers(0, NUM_CLASSES, batches * BATCH), NUM_CLASSES)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH)


def constant_batches(label, batches):
    """Batches of one grey image, all labelled ``label``."""
    images = np.full((BATCH, IMAGE_SIZE, IMAGE_SIZE, 3), 128.0, "float32")
    labels = tf.one_hot([label] * BATCH, NUM_CLASSES)
    return tf.data.Dataset.from_tensors((images, labels)).repeat(batches)


class BatchCounter(keras.callbacks.Callback):
    """Counts the training and validation batches of every epoch."""

    def __init__(self):
        super().__init__()
        self.train, self.validation = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.train.append(0)
        self.validation.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.train[-1] += 1

    def on_test_batch_end(self, batch, logs=None):
        self.validation[-1] += 1


@pytest.fixture(scope="module")
def profile():
    return get_profile("grade", steps_per_epoch=3, validation_steps=1)


@pytest.fixture(scope="module")
def data():
    return SimpleNamespace(
        train=random_batches(2, seed=0), validation=random_batches(3, seed=1), test=random_batches(1, seed=2)
    )


@pytest.fixture(scope="module")
def trained(profile, data):
    """Two epochs of 3 steps on a 2-batch training set, then one more epoch continuing the count."""
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    counter = BatchCounter()
    started = time.perf_counter()
    first = fit(model, data, epochs=2, profile=profile, callbacks=[counter])
    seconds = time.perf_counter() - started
    continued = fit(model, data, epochs=3, profile=profile, initial_epoch=2)
    return SimpleNamespace(model=model, counter=counter, first=first, seconds=seconds, continued=continued)


def test_default_strategy_without_accelerators_is_chosen_once(capsys):
    distribution_strategy.cache_clear()
    strategy = distribution_strategy()
    announcement = capsys.readouterr().out
    assert distribution_strategy() is strategy
    assert capsys.readouterr().out == ""
    assert strategy is tf.distribute.get_strategy()
    assert announcement == "Training with the default strategy on the CPU.\n"


def test_history_records_each_epoch_time(trained):
    history = trained.first.history
    assert trained.first.epoch == [0, 1]
    assert len(history["epoch_time"]) == len(history["loss"]) == 2
    assert all(isinstance(seconds, float) and seconds > 0 for seconds in history["epoch_time"])
    assert sum(history["epoch_time"]) <= trained.seconds


def test_steps_per_epoch_repeats_the_training_data(trained):
    assert trained.counter.train == [3, 3]  # the training set has 2 batches
    assert trained.counter.validation == [1, 1]
    assert set(trained.first.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_time"}


def test_initial_epoch_continues_the_numbering(trained):
    assert trained.continued.epoch == [2]
    assert len(trained.continued.history["epoch_time"]) == 1


def test_fit_applies_the_profile_eager_setting(trained):
    assert trained.model.run_eagerly
    eager_step = trained.model.train_function
    _set_run_eagerly(trained.model, False)
    assert not trained.model.run_eagerly
    assert trained.model.train_function is not eager_step


def test_fit_never_reads_the_test_set(profile, data):
    """fit validates on data.validation; a test set that raises when read is never touched."""

    def unreadable(images, labels):
        check = tf.debugging.assert_negative(tf.reduce_max(images), message="the test set was read")  # images >= 0
        with tf.control_dependencies([check]):
            return tf.identity(images), labels

    untouched = SimpleNamespace(train=data.train, validation=data.validation, test=data.test.map(unreadable))
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    history = fit(model, untouched, 1, profile)
    assert len(history.history["val_accuracy"]) == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="the test set was read"):
        evaluate_on_test(model, untouched, profile)


def test_evaluate_on_test_reads_the_test_set(trained, profile, data):
    results = evaluate_on_test(trained.model, data, profile)
    expected = trained.model.evaluate(data.test, verbose=0, return_dict=True)
    assert set(results) == {"loss", "accuracy"}
    assert results == pytest.approx({name: float(value) for name, value in expected.items()})


def test_early_stopping_stops_and_restores_the_best_weights(profile):
    """Training on a grey image labelled 0 makes the same image labelled 1 less likely at every
    step, so val_loss rises from the first epoch on."""
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    model.get_layer("head_batch_normalization").trainable = False  # features then do not depend on the batch
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy", metrics=["accuracy"])
    data = SimpleNamespace(train=constant_batches(label=0, batches=2), validation=constant_batches(label=1, batches=1))
    kernels = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: kernels.append(model.get_layer("pred").get_weights()[0])
    )
    stopping = early_stopping(get_profile(profile, early_stopping_patience=1))
    assert (stopping.monitor, stopping.patience, stopping.restore_best_weights) == ("val_loss", 1, True)
    history = fit(model, data, epochs=6, profile=get_profile(profile, steps_per_epoch=2), callbacks=[record, stopping])
    assert history.epoch == [0, 1]
    assert history.history["val_loss"][1] > history.history["val_loss"][0]
    restored = model.get_layer("pred").get_weights()[0]
    np.testing.assert_array_equal(restored, kernels[0])
    assert not np.array_equal(restored, kernels[1])
    kept = kept_history(history, stopping)  # ends at the epoch whose weights the model holds
    assert kept.epoch == [0]
    assert kept.history == {key: values[:1] for key, values in history.history.items()}


def test_kept_history_without_restoring_is_the_whole_history(trained):
    stopping = keras.callbacks.EarlyStopping(patience=5)  # keeps the last epoch's weights
    stopping.best_epoch = 0
    kept = kept_history(trained.first, stopping)
    assert (kept.epoch, kept.history) == (trained.first.epoch, trained.first.history)


def test_fit_rejects_bad_input(trained, profile, data):
    with pytest.raises(TypeError, match="data.train"):
        fit(trained.model, SimpleNamespace(train=[1, 2], validation=data.validation), 1, profile)
    with pytest.raises(TypeError, match="data.validation"):
        fit(trained.model, SimpleNamespace(train=data.train, test=data.validation), 1, profile)
    with pytest.raises(ValueError, match="larger than initial_epoch"):
        fit(trained.model, data, epochs=2, profile=profile, initial_epoch=2)
    endless = SimpleNamespace(train=data.train, validation=data.validation.repeat())
    with pytest.raises(ValueError, match="data.validation repeats forever.*validation_steps"):
        fit(trained.model, endless, 1, get_profile("grade", validation_steps=None))


class Disconnect(Exception):
    """Stands in for a Colab disconnect in the middle of an epoch."""


class Recorder(keras.callbacks.Callback):
    """The epochs a fit runs, the weights it starts from and each epoch's final weights; raises
    :class:`Disconnect` after the first batch of epoch ``disconnect_in`` when given."""

    def __init__(self, disconnect_in=None):
        super().__init__()
        self.disconnect_in, self.epochs, self.end_weights, self.start_weights = disconnect_in, [], {}, None

    def on_epoch_begin(self, epoch, logs=None):
        if self.start_weights is None:
            self.start_weights = self.model.get_weights()
        self.epochs.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        if self.epochs[-1] == self.disconnect_in:
            raise Disconnect

    def on_epoch_end(self, epoch, logs=None):
        self.end_weights[epoch] = self.model.get_weights()


@pytest.fixture
def work_profile(profile, tmp_path):
    return get_profile(profile, steps_per_epoch=2, work_dir=str(tmp_path / "work"))


def test_a_disconnected_fit_resumes_at_the_last_completed_epoch(work_profile, data):
    interrupted = Recorder(disconnect_in=2)
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    with pytest.raises(Disconnect):
        fit(model, data, epochs=4, profile=work_profile, callbacks=[interrupted], resume="phase")
    backup = checkpoint_dir(work_profile, "phase")
    assert (backup / "history.json").is_file() and (backup / "state").is_dir()
    first_losses = model.history.history["loss"]  # the epochs the interrupted fit finished

    # the rerun, as after a restart: a new model with other random weights, the same call
    rerun = Recorder()
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    history = fit(model, data, epochs=4, profile=work_profile, callbacks=[rerun], resume="phase")
    assert interrupted.epochs == [0, 1, 2] and rerun.epochs == [2, 3]
    for restored, saved in zip(rerun.start_weights, interrupted.end_weights[1], strict=True):
        np.testing.assert_array_equal(restored, saved)
    assert int(model.optimizer.iterations) == 4 * 2  # the optimizer state came back too
    assert history.epoch == [0, 1, 2, 3]
    assert len(history.history["loss"]) == len(history.history["epoch_time"]) == 4
    assert history.history["loss"][:2] == pytest.approx(first_losses)
    assert not backup.exists()  # a finished run leaves no backup

    # the next phase numbers its epochs itself, whatever the resumed fit left in the model
    continued = fit(model, data, epochs=5, profile=work_profile, initial_epoch=4, resume="next")
    assert continued.epoch == [4]


def test_a_finished_run_starts_again_from_its_first_epoch(work_profile, data):
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    fit(model, data, epochs=1, profile=work_profile, resume="phase")
    again = fit(model, data, epochs=1, profile=work_profile, resume="phase")
    assert again.epoch == [0] and len(again.history["loss"]) == 1


def test_resume_without_a_work_folder_keeps_nothing(trained, profile, data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    history = fit(trained.model, data, epochs=4, profile=profile, initial_epoch=3, resume="phase")
    assert history.epoch == [3] and list(tmp_path.iterdir()) == []
