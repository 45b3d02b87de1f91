"""course.pipeline: batches as load_dogs gives them, augmented in the pipeline or kept uint8; the cache."""

import numpy as np
import pytest
import tensorflow as tf

from course.config import NUM_CLASSES
from course.fast_augment import FastAugment
from course.pipeline import cache_bytes, cache_target, fast_pipeline

SEED = 3


def raw_examples(count=10, seed=0):
    """Like course.data.load_raw: uint8 images of different sizes, integer labels."""
    rng = np.random.default_rng(seed)
    images = [
        rng.integers(0, 256, (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3), dtype=np.uint8)
        for _ in range(count)
    ]
    labels = np.arange(count, dtype=np.int64) * 11 % NUM_CLASSES
    return tf.data.Dataset.from_generator(
        lambda: zip(images, labels, strict=True),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int64)),
    ).apply(tf.data.experimental.assert_cardinality(count)), labels


def test_pipeline_gives_load_dogs_batches_and_augments_them():
    examples, labels = raw_examples()
    plain = list(fast_pipeline(examples, 16, 4, shuffle=False).as_numpy_iterator())
    assert [images.shape for images, _ in plain] == [(4, 16, 16, 3), (4, 16, 16, 3), (2, 16, 16, 3)]
    images, one_hot = plain[0]
    assert images.dtype == np.float32 and one_hot.dtype == np.float32 and one_hot.shape == (4, NUM_CLASSES)
    np.testing.assert_array_equal(np.concatenate([batch[1] for batch in plain]).argmax(axis=1), labels)
    np.testing.assert_array_equal(images, np.round(images))  # cached as uint8

    augmented = list(fast_pipeline(examples, 16, 4, FastAugment(seed=SEED), shuffle=False).as_numpy_iterator())
    assert all(np.abs(a[0] - p[0]).mean() > 1 for a, p in zip(augmented, plain, strict=True))
    np.testing.assert_array_equal(augmented[0][1], plain[0][1])


def test_pipeline_keeps_uint8_batches_for_augmentation_in_the_model():
    examples, _ = raw_examples()
    plain = list(fast_pipeline(examples, 16, 4, shuffle=False).as_numpy_iterator())
    raw = list(fast_pipeline(examples, 16, 4, shuffle=False, keep_uint8=True).as_numpy_iterator())
    assert [images.dtype for images, _ in raw] == [np.uint8] * 3
    for (images, labels), (expected_images, expected_labels) in zip(raw, plain, strict=True):
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)
    with pytest.raises(ValueError, match="keep_uint8=True gives the cached uint8 batches as they are"):
        fast_pipeline(examples, 16, 4, FastAugment(seed=SEED), keep_uint8=True)


def test_pipeline_shuffles_each_epoch_and_repeats():
    examples, labels = raw_examples(count=12)
    pipeline = fast_pipeline(examples, 8, 12, seed=1)
    first, second = (np.argmax(next(iter(pipeline))[1], axis=1) for _ in range(2))
    assert sorted(first) == sorted(labels) and not np.array_equal(first, second)
    endless = fast_pipeline(examples, 8, 5, repeat=True, seed=1)
    assert len(list(endless.take(7))) == 7


def test_cache_goes_to_memory_when_it_fits_and_to_a_file_otherwise(tmp_path):
    assert cache_bytes(12_000, 224) == 12_000 * 224 * 224 * 3
    assert cache_target(100, 32, memory_budget=cache_bytes(100, 32)) == ""
    target = cache_target(100, 32, name="train", cache_dir=tmp_path, memory_budget=cache_bytes(99, 32))
    assert target == str(tmp_path / "train-32px-100.tfcache")


def test_file_cache_is_written_once_and_gives_the_same_images(tmp_path):
    examples, _ = raw_examples()
    in_memory = list(fast_pipeline(examples, 16, 4, shuffle=False).as_numpy_iterator())
    on_disk = fast_pipeline(examples, 16, 4, shuffle=False, cache_name="tiny", cache_dir=tmp_path, memory_budget=0)
    for _ in range(2):
        read = list(on_disk.as_numpy_iterator())
        for (images, labels), (expected_images, expected_labels) in zip(read, in_memory, strict=True):
            np.testing.assert_array_equal(images, expected_images)
            np.testing.assert_array_equal(labels, expected_labels)
    assert min(path.name for path in tmp_path.iterdir()).startswith("tiny-16px-10.tfcache")


def test_pipeline_needs_a_known_size():
    unknown = tf.data.Dataset.from_tensors((tf.zeros((8, 8, 3), tf.uint8), tf.constant(0, tf.int64))).filter(
        lambda image, label: True
    )
    with pytest.raises(ValueError, match="assert_cardinality"):
        fast_pipeline(unknown, 8, 2)
