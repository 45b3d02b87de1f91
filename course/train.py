"""Training: ``fit`` driven by a run profile, with checkpoints, timing and resumable histories."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras
import tensorflow as tf

from course.acceleration import prepare_for_training, set_train_augmentation
from course.config import Profile, get_profile
from course.keras_private import forget_restored_epoch
from course.runtime import checkpoint_dir, require_accelerator


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall time in seconds, training plus validation, to the logs as ``epoch_time``.

    Keras calls the callbacks it is given before its own History callback, so History records it.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["epoch_time"] = time.perf_counter() - self._started


def fit(
    model: keras.Model,
    data,
    epochs: int,
    profile: Profile | str | None = None,
    *,
    callbacks=(),
    initial_epoch: int = 0,
    resume: str | None = None,
) -> keras.callbacks.History:
    """Train ``model`` on ``data.train`` and validate on ``data.validation`` as ``profile`` says.

    ``data`` is a :class:`course.data.DogsData` or anything with ``train`` and ``validation`` datasets
    of (float32 images in 0..255, one-hot labels) batches; the test set stays untouched (see
    :func:`evaluate_on_test`). With ``profile.steps_per_epoch`` set the training data repeat, so every
    epoch has that many steps. ``epochs`` is the last epoch, as in Keras: a fine-tuning phase after 25
    epochs passes ``initial_epoch=25, epochs=29``. ``history.history["epoch_time"]`` holds the seconds
    each epoch took. To stop early, pass a ``keras.callbacks.EarlyStopping`` among ``callbacks``
    (:func:`early_stopping`); :func:`kept_history` then gives the epochs up to the one it kept.

    ``resume`` names the training phase (such as ``"lesson4-frozen"``). When the profile has a work
    folder (:mod:`course.runtime`), the weights, optimizer state and history are backed up there after
    every epoch (``keras.callbacks.BackupAndRestore``), and the same call after a disconnect continues
    from the last completed epoch; the returned history still covers the whole run. A run that
    finishes deletes its backup. Early stopping starts counting afresh after a resume.

    In the ``full`` profile, training refuses to start without a GPU or TPU unless ``profile.allow_cpu``
    (:func:`course.runtime.require_accelerator`).

    The model trains as :mod:`course.acceleration` decides for ``profile``: its output layer computes
    in float32 under mixed precision, XLA is on or off, and ``data.train_augmentation`` (set by
    ``load_dogs`` when the augmentation runs on the accelerator) augments each batch inside the
    training step.

    Args:
        model: a compiled Keras model.
        data: a :class:`course.data.DogsData`, or anything with ``train`` and ``validation`` datasets.
        epochs: the last epoch (Keras's meaning), not a count when ``initial_epoch`` is set.
        profile: the run profile (a name, a :class:`course.config.Profile`, or ``None`` for the default).
        callbacks: more Keras callbacks.
        initial_epoch: the epoch to start from, for a second phase of training.
        resume: the name of the training phase, to back it up in the work folder and resume it.

    Returns:
        Keras's ``History``, with ``epoch_time`` among its metrics.
    """
    profile = get_profile(profile)
    require_accelerator(profile)
    for split in ("train", "validation"):
        if not isinstance(getattr(data, split, None), tf.data.Dataset):
            raise TypeError(
                f"data needs a tf.data.Dataset as data.{split}; got {type(data).__name__}. "
                "Load it with course.data.load_dogs(profile)."
            )
    if not 0 <= initial_epoch < epochs:
        raise ValueError(
            f"initial_epoch={initial_epoch} and epochs={epochs}: epochs is the number of the last epoch, "
            "so it must be larger than initial_epoch (to train 4 more epochs after 25, pass "
            "initial_epoch=25, epochs=29)."
        )
    train = data.train.repeat() if profile.steps_per_epoch else data.train
    _check_finite(train, profile.steps_per_epoch, "data.train", "steps_per_epoch")
    _check_finite(data.validation, profile.validation_steps, "data.validation", "validation_steps")
    _set_run_eagerly(model, profile.run_eagerly)
    prepare_for_training(model, profile)  # float32 output under mixed precision, XLA as the profile says
    set_train_augmentation(model, getattr(data, "train_augmentation", None))  # augmentation on the GPU

    all_callbacks = [EpochTimer(), *callbacks]
    backup = checkpoint_dir(profile, resume) if resume else None
    if backup is not None:
        history_backup = HistoryBackup(backup / "history.json")
        all_callbacks += [history_backup, keras.callbacks.BackupAndRestore(str(backup / "state"))]
    try:
        history = model.fit(
            train,
            validation_data=data.validation,
            epochs=epochs,
            shuffle=False,  # tf.data pipelines shuffle themselves; Keras would warn that it cannot
            initial_epoch=initial_epoch,
            steps_per_epoch=profile.steps_per_epoch,
            validation_steps=profile.validation_steps,
            callbacks=all_callbacks,
            verbose=profile.verbose,
        )
    finally:
        # a later fit of the same model (fine-tuning after the frozen phase) would start where this one resumed
        forget_restored_epoch(model)
    if backup is not None:
        history.epoch, history.history = history_backup.epochs, history_backup.history
        if backup.is_dir() and not any(backup.iterdir()):  # both callbacks delete their files when done
            backup.rmdir()
    return history


def early_stopping(profile: Profile | str | None = None) -> keras.callbacks.EarlyStopping:
    """The course's early stopping: stop once the validation loss has not improved for
    ``profile.early_stopping_patience`` epochs, and keep the weights of the epoch with the lowest one."""
    profile = get_profile(profile)
    return keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=profile.early_stopping_patience, restore_best_weights=True
    )


def kept_history(history: keras.callbacks.History, stopping: keras.callbacks.EarlyStopping) -> keras.callbacks.History:
    """``history`` up to the epoch whose weights the model holds after ``fit``: ``stopping``'s best epoch
    when it restores the best weights (Keras restores them when training ends, stopped early or not),
    else the last epoch. Its last validation accuracy is the kept model's."""
    kept = keras.callbacks.History()
    last = len(history.epoch)
    if stopping.restore_best_weights and stopping.best_weights is not None and stopping.best_epoch in history.epoch:
        last = history.epoch.index(stopping.best_epoch) + 1
    kept.epoch = list(history.epoch[:last])
    kept.history = {key: list(values[:last]) for key, values in history.history.items()}
    return kept


def evaluate_on_test(model: keras.Model, data, profile: Profile | str | None = None) -> dict[str, float]:
    """``model``'s loss and accuracy on ``data.test``: the final measurement, once the training and
    every choice made on the validation split are over, to be quoted and compared with other runs."""
    profile = get_profile(profile)
    _set_run_eagerly(model, profile.run_eagerly)
    results = model.evaluate(data.test, verbose=0, return_dict=True)
    return {name: float(value) for name, value in results.items()}


class HistoryBackup(keras.callbacks.Callback):
    """Keeps each finished epoch's logs in a JSON file, so that a fit resumed by
    ``keras.callbacks.BackupAndRestore`` (which returns only the epochs it ran) can give the history of
    the whole run: ``epochs`` and ``history`` hold it, restored epochs first. Put it before
    BackupAndRestore, which then saves the weights of an epoch only after its logs are on disk.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self.epochs: list[int] = []
        self.history: dict[str, list] = {}

    def on_train_begin(self, logs=None):
        saved = json.loads(self.path.read_text()) if self.path.is_file() else {"epoch": [], "history": {}}
        self.epochs, self.history = saved["epoch"], saved["history"]
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:  # keep the restored epochs before this one; later ones were never backed up
            self._started = True
            kept = sum(1 for finished in self.epochs if finished < epoch)
            self.epochs = self.epochs[:kept]
            self.history = {key: values[:kept] for key, values in self.history.items()}

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        values = {key: [float(value) for value in values] for key, values in self.history.items()}
        partial.write_text(json.dumps({"epoch": self.epochs, "history": values}))
        os.replace(partial, self.path)

    def on_train_end(self, logs=None):
        self.path.unlink(missing_ok=True)


def _check_finite(dataset: tf.data.Dataset, steps: int | None, name: str, setting: str) -> None:
    if steps is None and dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"{name} repeats forever, so an epoch would never end. Set the profile's {setting}, "
            "or pass a dataset that ends."
        )


def _set_run_eagerly(model: keras.Model, run_eagerly: bool) -> None:
    """Apply the profile's eager setting; Keras keeps the train and test functions it already made."""
    if model.run_eagerly != run_eagerly:
        model.run_eagerly = run_eagerly
        model.make_train_function(force=True)
        model.make_test_function(force=True)
