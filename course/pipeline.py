"""The input pipeline: images resized once, cached as uint8, shuffled, batched and augmented on whole batches.

:func:`fast_pipeline` builds the train and test sets of :func:`course.data.load_dogs` and the feature
caches of :mod:`course.features`; :func:`cache_target` decides whether the resized images fit in memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tensorflow as tf

from course.config import NUM_CLASSES

DEFAULT_MEMORY_FRACTION = 0.5  # of the available memory, for an in-memory image cache
FALLBACK_AVAILABLE_MEMORY = 2 << 30  # bytes, when the system does not say


def resize_to_uint8(image, image_size: int) -> tf.Tensor:
    """``image`` resized (antialiased) to an ``image_size`` square, rounded to uint8."""
    resized = tf.image.resize(image, (image_size, image_size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def one_hot(label, num_classes: int = NUM_CLASSES) -> tf.Tensor:
    """An integer label as a float32 one-hot vector."""
    return tf.one_hot(label, num_classes, dtype=tf.float32)


def available_memory() -> int:
    """Bytes of memory available to this process now (Linux ``MemAvailable``; a 2 GiB guess elsewhere)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return FALLBACK_AVAILABLE_MEMORY


def cache_bytes(num_examples: int, image_size: int) -> int:
    """Estimated size of a cache of ``num_examples`` uint8 RGB ``image_size`` squares."""
    return num_examples * image_size * image_size * 3


def cache_target(
    num_examples: int,
    image_size: int,
    *,
    name: str = "images",
    cache_dir: str | Path | None = None,
    memory_budget: int | None = None,
) -> str:
    """Where ``tf.data.Dataset.cache`` should keep the resized images: ``""`` (memory) when they fit in
    ``memory_budget`` bytes (default: half the available memory), else a file under ``cache_dir``
    (default: the system's temporary folder) named after ``name``, the size and the count.

    At 224 px the 12,000 training images take 1.8 GB and the 8,580 test images 1.3 GB.
    """
    budget = int(available_memory() * DEFAULT_MEMORY_FRACTION) if memory_budget is None else memory_budget
    if cache_bytes(num_examples, image_size) <= budget:
        return ""
    folder = Path(cache_dir or Path(tempfile.gettempdir()) / "course-cache")
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{name}-{image_size}px-{num_examples}.tfcache")


def fast_pipeline(
    examples: tf.data.Dataset,
    image_size: int,
    batch_size: int,
    augment=None,
    *,
    shuffle: bool = True,
    seed: int | None = None,
    repeat: bool = False,
    keep_uint8: bool = False,
    cache: str | None = "auto",
    cache_name: str = "images",
    cache_dir: str | Path | None = None,
    memory_budget: int | None = None,
) -> tf.data.Dataset:
    """(uint8 image of any size, integer label) examples -> batches as ``load_dogs`` gives them:
    float32 ``[B, image_size, image_size, 3]`` in 0..255 and one-hot float32 labels.

    Each image is resized once (:func:`resize_to_uint8`) and cached as uint8;
    ``cache="auto"`` picks memory or a file by :func:`cache_target`, ``"memory"`` or a file path
    force one, ``None`` caches nothing (for a single pass). Then: shuffle (the whole set when it
    is cached in memory, otherwise as much as fits in the budget), optionally repeat, batch,
    ``augment(images, training=True)`` on whole batches (for example a :class:`FastAugment`), and
    prefetch. ``augment`` receives the uint8 batch and may return any numeric type; the result is
    cast to float32. ``keep_uint8=True`` (without ``augment``) leaves the batches uint8, a quarter of
    the bytes, for a model that augments inside its training step
    (:func:`course.acceleration.set_train_augmentation`). A file cache is complete only after one full
    pass; a run that stops earlier leaves it to be written again next time.

    Args:
        examples: unbatched (uint8 image of any size, integer label) pairs of known cardinality.
        image_size: the side of the square the images are resized to.
        batch_size: images per batch.
        augment: called as ``augment(images, training=True)`` on each batch; ``None`` for none.
        shuffle: shuffle the examples, in a new order each pass.
        seed: seed of the shuffle.
        repeat: repeat the examples forever.
        keep_uint8: give uint8 batches (only without ``augment``).
        cache: ``"auto"``, ``"memory"``, a file path, or ``None`` for no cache.
        cache_name: the start of the cache file's name.
        cache_dir: the folder of a file cache (default: the system's temporary folder).
        memory_budget: bytes the cache and shuffle buffer may take (default: half the available memory).
    """
    if keep_uint8 and augment is not None:
        raise ValueError(
            "keep_uint8=True gives the cached uint8 batches as they are, unaugmented: pass augment=None, or "
            "keep_uint8=False to augment in the pipeline."
        )
    num_examples = int(examples.cardinality())
    if num_examples < 0:
        raise ValueError(
            "fast_pipeline needs a dataset of known size to size its cache and shuffle buffer; "
            "add .apply(tf.data.experimental.assert_cardinality(n)) with the number of examples."
        )
    budget = int(available_memory() * DEFAULT_MEMORY_FRACTION) if memory_budget is None else memory_budget
    if cache == "auto":
        target = cache_target(num_examples, image_size, name=cache_name, cache_dir=cache_dir, memory_budget=budget)
    else:
        target = "" if cache in ("memory", None) else str(cache)

    def resize_once(image, label):
        return resize_to_uint8(image, image_size), one_hot(label, NUM_CLASSES)

    def model_inputs(images, labels):
        if augment is not None:  # on the uint8 batch: FastAugment reads it without a float32 copy
            images = augment(images, training=True)
        return tf.cast(images, tf.float32), labels

    cached = examples.map(resize_once, num_parallel_calls=tf.data.AUTOTUNE)
    if cache is not None:
        cached = cached.cache(target)
    if shuffle:
        fitting = max(1, budget // max(1, cache_bytes(1, image_size)))
        buffer = num_examples if cache is not None and target == "" else min(num_examples, fitting)
        cached = cached.shuffle(max(1, buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        cached = cached.repeat()
    batches = cached.batch(batch_size)
    if not keep_uint8:
        batches = batches.map(model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)
