"""The demo's source task, and EfficientNetB0 pretrained on it offline: what ImageNet is to Stanford Dogs.

ImageNet weights cannot be had offline, but transfer learning can still be shown honestly at small scale.
The *source task* is a set of synthetic pictures from the same family as the synthetic breeds, with other
classes (figures, textures and colour pairs: :func:`course.synthetic.source_image`). :func:`pretrain_backbone`
trains EfficientNetB0 on it from random weights, on the CPU, at a small image size, deterministically;
:func:`source_weights` keeps the backbone's weights in Keras's cache (``~/.keras/models``) with a manifest
of their sha256 beside them, checks them on every use and pretrains again when they are missing or
corrupt. The ``demo`` profile's ``weights="synthetic-source"`` means these weights
(:func:`resolve_weights`). They are always described as what they are, "pretrained offline on synthetic
source images" (:data:`SOURCE_WEIGHTS_DESCRIPTION`), never as ImageNet weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from course.downloads import (
    SOURCE_WEIGHTS_MARK,
    file_digest,
    keras_cache_dir,
    save_like_the_imagenet_file,
    weights_mark,
)
from course.errors import CourseError
from course.pipeline import resize_to_uint8
from course.synthetic import source_classes, source_image

SOURCE_WEIGHTS = "synthetic-source"  # the Profile.weights value that means the weights of this module
SOURCE_WEIGHTS_DESCRIPTION = "pretrained offline on synthetic source images"
REBUILD_COMMAND = "dogs-course pretrain --force"
_DRAWN_SIDE = 3  # pictures are drawn at this many times the image size, then resized as the data pipeline does


class SourceWeightsError(CourseError, RuntimeError):
    """The source-pretrained weights cannot be built or read."""


@dataclass(frozen=True)
class SourceTask:
    """The source data set and how EfficientNetB0 is pretrained on it. Any change gives another cache file."""

    image_size: int = 32  # pixels, the demo profile's
    num_classes: int = 60  # source classes (course.synthetic.source_classes)
    images_per_class: int = 100
    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 2e-3  # Adam
    # of the backbone's BatchNormalization layers while pretraining. A frozen backbone normalizes with their moving
    # statistics; at Keras's default 0.99 these are still near their initial values after this short pretraining
    # (0.99 ** 188 steps = 0.15), and its frozen features gave chance accuracy on the breeds
    normalization_momentum: float = 0.9
    seed: int = 0  # of the classes, the images, the initial weights and the shuffle
    generator_version: int = 1  # raise it when course.synthetic.source_image draws other pictures

    @property
    def key(self) -> str:
        """A short hash of the settings, part of the cache file's name."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:10]

    @property
    def steps(self) -> int:
        """Training steps of the whole pretraining."""
        return self.epochs * -(-self.num_classes * self.images_per_class // self.batch_size)


SOURCE_TASK = SourceTask()


def source_dataset(task: SourceTask = SOURCE_TASK) -> tuple[np.ndarray, np.ndarray]:
    """The source pictures (uint8 [N, S, S, 3], S = ``task.image_size``) and their integer labels, class by
    class in turn; drawn larger and resized (antialiased) like the data pipeline resizes the breeds."""

    classes = source_classes(task.num_classes, task.seed)
    rng = np.random.default_rng([task.seed, task.generator_version])
    labels = np.arange(task.num_classes * task.images_per_class, dtype=np.int64) % task.num_classes
    side = task.image_size * _DRAWN_SIDE
    drawn = np.stack([source_image(rng, classes[label], side) for label in labels])
    images = np.concatenate(
        [resize_to_uint8(tf.constant(chunk), task.image_size).numpy() for chunk in np.array_split(drawn, 8)]
    )
    return images, labels


def pretrain_backbone(task: SourceTask = SOURCE_TASK, progress: bool = True):
    """EfficientNetB0 without its top, trained from random weights with a softmax over the source classes.

    Deterministic: the same settings give the same weights on the same machine and software. Shows its
    progress when ``progress`` (:class:`_ProgressBar`). Returns the backbone (a ``keras.Model``)
    and the last epoch's training accuracy on the source task.
    """
    images, labels = source_dataset(task)
    keras.utils.set_random_seed(task.seed)
    tf.config.experimental.enable_op_determinism()
    backbone = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(task.image_size, task.image_size, 3)
    )
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = task.normalization_momentum
    pooled = keras.layers.GlobalAveragePooling2D()(backbone.output)
    outputs = keras.layers.Dense(task.num_classes, activation="softmax")(pooled)
    model = keras.Model(backbone.input, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(task.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    batches = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(labels), seed=task.seed, reshuffle_each_iteration=True)
        .batch(task.batch_size)
        .map(lambda image, label: (tf.cast(image, tf.float32), label))
    )
    callbacks = [_ProgressBar(task)] if progress else []
    history = model.fit(batches, epochs=task.epochs, verbose=0, callbacks=callbacks, shuffle=False)
    return backbone, float(history.history["accuracy"][-1])


class _ProgressBar(keras.callbacks.Callback):
    """On a terminal, one ``keras.utils.Progbar`` over every step of every epoch, with the running loss and
    accuracy; elsewhere (a log, CI), one line per epoch, where the bar would write all its updates into one."""

    def __init__(self, task: SourceTask):
        super().__init__()
        self.task = task

    def on_train_begin(self, logs=None):
        self.bar = None
        if sys.stdout.isatty():
            self.bar = keras.utils.Progbar(self.task.steps, stateful_metrics=["loss", "accuracy"], unit_name="step")
        self.done = 0
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.done, [(name, float(value)) for name, value in (logs or {}).items()])

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is None:
            print(
                f"epoch {epoch + 1}/{self.task.epochs}: loss {logs['loss']:.3f}, accuracy {logs['accuracy']:.3f} "
                f"({time.perf_counter() - self.started:.0f} s)",
                flush=True,
            )


def source_weights_path(task: SourceTask = SOURCE_TASK) -> Path:
    """Where the weights pretrained on ``task`` are cached: Keras's cache, beside the ImageNet file."""
    return keras_cache_dir() / "models" / f"efficientnetb0_notop_synthetic_source_{task.image_size}px_{task.key}.h5"


def manifest_path(weights_path: Path) -> Path:
    """The JSON manifest beside a cached weights file: its sha256 and how it was made."""
    return weights_path.with_suffix(".json")


def cache_problem(task: SourceTask = SOURCE_TASK) -> str | None:
    """Why the cached weights for ``task`` cannot be used (missing, no manifest, checksum differs); None if
    they can."""
    path = source_weights_path(task)
    manifest = manifest_path(path)
    if not path.is_file():
        return f"{path} does not exist"
    if not manifest.is_file():
        return f"{path} has no manifest {manifest.name}"
    try:
        expected = json.loads(manifest.read_text())["sha256"]
    except (ValueError, KeyError) as error:
        return f"its manifest {manifest} is unreadable ({error!r})"
    actual = file_digest(path)
    if actual != expected:
        return f"{path} has sha256 {actual}, its manifest says {expected}: the file is corrupt or was changed"
    return None


def source_weights(task: SourceTask = SOURCE_TASK, rebuild: bool = False) -> Path:
    """The cached weights pretrained on ``task``, checked against their manifest; pretrained now (a minute or
    two on a CPU, once) when missing, corrupt or ``rebuild``. While one process pretrains, another that asks
    for the same weights waits for them instead of pretraining too (two lessons or test workers at once)."""
    with _pretraining_lock(source_weights_path(task)):
        problem = "a rebuild was asked for" if rebuild else cache_problem(task)
        if problem is None:
            return source_weights_path(task)
        return _pretrain_and_cache(task, problem)


@contextlib.contextmanager
def _pretraining_lock(path: Path):
    """Held while the weights at ``path`` are checked or pretrained: an exclusive lock on a file beside them."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; two processes pretraining at once would each write the weights
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_suffix(".lock"), "w")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise _unwritable(path, error) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("Another process is pretraining the source weights; waiting for it to finish.", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _unwritable(path: Path, error: OSError) -> SourceWeightsError:
    return SourceWeightsError(
        f"Cannot write the pretrained weights to {path.parent} ({error}). Set KERAS_HOME to a writable folder "
        "(the weights go to $KERAS_HOME/models)."
    )


def _pretrain_and_cache(task: SourceTask, problem: str) -> Path:
    """Pretrain on ``task`` (``problem`` says why), cache the weights with their manifest and return their path."""
    print(
        f"Pretraining EfficientNetB0 on the synthetic source task ({task.num_classes} classes, "
        f"{task.num_classes * task.images_per_class} images, {task.image_size} px, {task.epochs} epochs), once: "
        f"{problem}.",
        flush=True,
    )
    started = time.perf_counter()
    backbone, accuracy = pretrain_backbone(task)
    seconds = time.perf_counter() - started
    path = source_weights_path(task)
    partial = path.with_name(f"partial-{os.getpid()}-{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_like_the_imagenet_file(
            backbone, partial, {SOURCE_WEIGHTS_MARK: f"EfficientNetB0 {SOURCE_WEIGHTS_DESCRIPTION}"}
        )
    except OSError as error:
        raise _unwritable(path, error) from None
    os.replace(partial, path)
    record = {
        "sha256": file_digest(path),
        "description": f"EfficientNetB0 {SOURCE_WEIGHTS_DESCRIPTION} (not ImageNet)",
        "task": dataclasses.asdict(task),
        "source_train_accuracy": accuracy,
        "seconds": round(seconds, 1),
        "rebuild": REBUILD_COMMAND,
    }
    manifest_path(path).write_text(json.dumps(record, indent=1))  # written last: it vouches for a complete file
    print(f"Pretrained in {seconds:.0f} s (training accuracy on the source task {accuracy:.3f}); cached in {path}.")
    return path


def is_source_weights(weights: str | os.PathLike | None) -> bool:
    """Whether ``weights`` (a Profile's or a model's) means the source-pretrained weights: the name
    :data:`SOURCE_WEIGHTS` or a file of them."""
    if weights is None or weights in ("imagenet", SOURCE_WEIGHTS):
        return weights == SOURCE_WEIGHTS
    return weights_mark(Path(weights), SOURCE_WEIGHTS_MARK) is not None


def resolve_weights(weights: str | os.PathLike | None) -> str | os.PathLike | None:
    """``weights`` as Keras takes them: :data:`SOURCE_WEIGHTS` becomes the cached file (pretrained first if
    needed); anything else is returned as it is."""
    return str(source_weights()) if weights == SOURCE_WEIGHTS else weights


def describe_weights(weights: str | os.PathLike | None) -> str:
    """What backbone weights are, in words, for the lessons and the commands to print."""
    if weights is None:
        return "RANDOM (weights=None): this backbone is NOT pretrained, nothing is transferred"
    if weights == "imagenet":
        return "ImageNet (Keras's efficientnetb0_notop.h5)"
    if is_source_weights(weights):
        where = "" if weights == SOURCE_WEIGHTS else f" ({weights})"
        return f"{SOURCE_WEIGHTS_DESCRIPTION}{where}: not ImageNet"
    return f"from the file {weights}"
