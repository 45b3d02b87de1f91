"""course.augment_checks: a right pipeline passes in either library's layers, a wrong one fails and says why."""

from __future__ import annotations

import re

import keras
import keras_cv
import numpy as np
import pytest

from course.augment_checks import (
    AugmentationMismatch,
    check_reference_augmentation,
    check_training_only,
    find_augmentation_layers,
    measure_reference_augmentation,
)
from course.models import TrainingOnly


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(3)  # KerasCV also draws from TensorFlow's global state


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")


def core_pipeline(rotation=0.15, translation=(0.1, 0.1), flip="horizontal_and_vertical", contrast=0.1):
    """The reference example's own answer: core Keras layers, which augment only while training."""
    return keras.Sequential(
        [
            keras.layers.RandomRotation(rotation),
            keras.layers.RandomTranslation(*translation),
            keras.layers.RandomFlip(flip),
            keras.layers.RandomContrast(contrast),
        ]
    )


def kerascv_layers(rotation=0.15, flip="horizontal"):
    return [
        keras_cv.layers.RandomRotation(factor=rotation),
        keras_cv.layers.RandomTranslation(height_factor=0.1, width_factor=0.1),
        keras_cv.layers.RandomFlip(mode=flip),
        keras_cv.layers.RandomContrast(value_range=(0, 255), factor=0.1),
    ]


def kerascv_pipeline(**settings):
    """The course's answer: KerasCV layers, each kept out of inference by TrainingOnly."""
    return keras.Sequential([TrainingOnly(layer) for layer in kerascv_layers(**settings)])


@pytest.mark.parametrize("build", [core_pipeline, kerascv_pipeline], ids=["core Keras", "KerasCV"])
def test_a_right_pipeline_passes_in_either_library(build, images):
    pipeline = build()
    measured = check_reference_augmentation(pipeline)
    check_training_only(pipeline, images)
    assert set(measured) == {"rotation", "translation", "flip", "contrast"}
    assert 0.15 * 0.75 <= measured["rotation"].largest <= 0.15 + 2 / 360
    assert all(0.075 <= shift <= 0.11 for shift in measured["translation"].largest)
    assert measured["flip"].flips["other"] == 0


def test_a_pipeline_wrapped_as_a_whole_and_nested_passes(images):
    inner = keras.Sequential([keras.Sequential(kerascv_layers()[:2]), *kerascv_layers()[2:]])
    pipeline = keras.Sequential([TrainingOnly(inner)])
    check_reference_augmentation(pipeline)
    check_training_only(pipeline, images)


def test_measurements_name_the_library_and_the_numbers():
    measured = measure_reference_augmentation(kerascv_pipeline())
    assert str(measured["rotation"]).split()[:2] == ["rotation", "keras_cv.RandomRotation"]
    assert "of a turn" in measured["rotation"].detail
    core = measure_reference_augmentation(core_pipeline())
    assert core["contrast"].layer == "keras.RandomContrast"
    assert 0.075 <= core["contrast"].largest <= 0.106


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        (lambda: core_pipeline(rotation=0.2), "rotation: expected at most 0.15; found 0.19"),
        (lambda: core_pipeline(rotation=0.05), "rotation: expected changes of up to 0.15"),
        (lambda: core_pipeline(translation=(0.2, 0.1)), "translation (height): expected at most 0.1"),
        (lambda: core_pipeline(translation=(0.1, 0.02)), "translation (width): expected changes of up to 0.1"),
        (lambda: core_pipeline(contrast=0.3), "contrast: expected at most 0.1"),
        (lambda: core_pipeline(flip="vertical"), "flip: expected left-right mirror images"),
        (lambda: kerascv_pipeline(rotation=0.3), "rotation: expected at most 0.15"),
        (lambda: core_pipeline(rotation=(0.0, 0.15)), "rotation: expected changes of up to 0.15 in both directions"),
        (
            lambda: core_pipeline(translation=((-0.1, 0.0), (-0.1, 0.1))),
            "translation (height): expected changes of up to 0.1 in both directions",
        ),
    ],
    ids=[
        "rotation too strong",
        "rotation too weak",
        "translation too far",
        "translation too short",
        "contrast too strong",
        "upside-down only",
        "KerasCV rotation too strong",
        "rotation one way only",
        "translation one way only",
    ],
)
def test_a_wrong_strength_fails_and_says_what_was_expected_and_found(pipeline, message):
    with pytest.raises(AugmentationMismatch, match=re.escape(message)):
        check_reference_augmentation(pipeline())


def test_a_missing_or_doubled_layer_fails_and_lists_the_layers():
    missing = keras.Sequential(
        [keras.layers.RandomRotation(0.15), keras.layers.RandomFlip(), keras.layers.RandomContrast(0.1)]
    )
    with pytest.raises(
        AugmentationMismatch, match="no translation layer.*holds: RandomRotation, RandomFlip, RandomContrast"
    ):
        find_augmentation_layers(missing)
    doubled = keras.Sequential([*core_pipeline().layers, keras.layers.RandomFlip("horizontal")])
    with pytest.raises(AugmentationMismatch, match="2 flip layers"):
        check_reference_augmentation(doubled)
    with pytest.raises(AugmentationMismatch, match="expected a Keras layer.*found function"):
        find_augmentation_layers(lambda images: images)


def test_kerascv_layers_without_a_wrapper_fail_at_inference(images):
    """KerasCV 0.9 layers ignore training=False: right strengths, but they would distort validation images."""
    bare = keras.Sequential(kerascv_layers())
    check_reference_augmentation(bare)  # the strengths are right
    with pytest.raises(AugmentationMismatch, match="unchanged with training=False.*TrainingOnly"):
        check_training_only(bare, images)


def test_a_pipeline_that_is_not_random_or_changes_the_shape_or_range_fails(images):
    with pytest.raises(AugmentationMismatch, match="augment differently"):
        check_training_only(lambda batch, training: batch, images)
    with pytest.raises(AugmentationMismatch, match="expected the shape"):
        check_training_only(lambda batch, training: batch[:, :16], images)
    with pytest.raises(AugmentationMismatch, match="values in 0..255"):
        check_training_only(lambda batch, training: batch * 2 + np.random.uniform(size=batch.shape), images)
    with pytest.raises(AugmentationMismatch, match="its own random draw"):
        # one brightness offset for the whole batch: random on every call, but not per image
        check_training_only(
            lambda batch, training: np.clip(batch + np.random.uniform(-20, 20), 0, 255) if training else batch, images
        )
    with pytest.raises(ValueError, match="must be a batch"):
        check_training_only(core_pipeline(), images[0])
