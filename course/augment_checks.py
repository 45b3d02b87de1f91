"""Check an augmentation pipeline by what it does, not by which library built it.

Lesson 2 asks for the reference example's augmentation: random rotation by up to 0.15 of a turn,
translation by up to 0.1 of the height and width, a left-right flip (upside-down allowed too) and a
contrast change of up to 0.1, random while training and the identity at inference. The reference
builds it from core Keras layers (``keras.layers.RandomRotation``, ...), the course from KerasCV
layers kept out of inference by :class:`course.models.TrainingOnly`; both are right. So the checks
here find the four layers by their class names (in either library, however they are nested), then
feed each one probe images and measure what it did:

- rotation: the angle by which a dot off the centre moved around the centre;
- translation: how far a dot at the centre moved, as a fraction of the height and the width;
- flip: which mirror images of an asymmetric image came out;
- contrast: how much the spread of the pixel values around their mean was scaled.

:func:`measure_reference_augmentation` returns those measurements (the lesson prints them);
:func:`check_reference_augmentation` and :func:`check_training_only` raise
:class:`AugmentationMismatch`, an ``AssertionError`` saying what was expected and what was found.
Each check comes in two halves, so that a grader can run the second outside the kernel that ran the
pipeline: what the pipeline did, as data (:func:`layer_classes`, :func:`augmentation_samples`,
:func:`training_only_samples`), and the verdict on that data (:func:`check_layer_classes`,
:func:`measure_samples` with :func:`check_measurements`, :func:`check_training_samples`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np

from course.errors import CourseError
from course.keras_private import direct_sublayers

PROBE_SIZE = 64  # pixels; the probes below keep their dots away from the borders at this size
DRAWS = 64  # images per probe: every layer draws its random parameters once per image
TECHNIQUE_OF_CLASS = {
    "RandomRotation": "rotation",
    "RandomTranslation": "translation",
    "RandomFlip": "flip",
    "RandomContrast": "contrast",
}
TECHNIQUES = tuple(TECHNIQUE_OF_CLASS.values())
# What the reference draws: up to these magnitudes (a rotation in turns, a translation in fractions of
# the side, a contrast factor's distance from 1), both directions.
REFERENCE_STRENGTH = {"rotation": 0.15, "translation": 0.1, "contrast": 0.1}
# A strength is right when no draw exceeds it by more than TOLERANCE (measurement error) and the largest
# of DRAWS draws reaches REACHED of it (for a uniform draw, missing that by chance has odds below 1e-7);
# a rotation's and a translation's draws must reach REACHED_EACH_WAY of it in both directions (odds 0.75**64,
# about 1e-8, each).
# A contrast is measured by its size only: core Keras 3.15's RandomContrast(0.1) draws factors in 1..1.1.
TOLERANCE = {"rotation": 2 / 360, "translation": 0.01, "contrast": 0.006}
REACHED = 0.75
REACHED_EACH_WAY = 0.5


class AugmentationMismatch(CourseError, AssertionError):
    """A pipeline does not augment as asked; the message says what was expected and what was found."""


@dataclass(frozen=True)
class Measurement:
    """What one augmentation layer did to ``DRAWS`` probe images."""

    technique: str
    layer: str  # the layer's class and module, e.g. "keras_cv...RandomRotation"
    largest: float | tuple[float, float] | None  # the largest change (per axis for a translation; None for a flip)
    detail: str  # the measurement in words
    flips: dict[str, int] | None = None  # for a flip: how many images came out unchanged, left-right, ...
    # For a rotation or translation: the most negative and the most positive change (per axis).
    extremes: tuple[tuple[float, float], ...] = ()

    def __str__(self) -> str:
        return f"{self.technique:<12} {self.layer:<48} {self.detail}"


def find_augmentation_layers(pipeline: keras.layers.Layer) -> dict[str, keras.layers.Layer]:
    """The pipeline's rotation, translation, flip and contrast layers, by technique name.

    Layers are recognised by class name (``RandomRotation``, ... from Keras or KerasCV) however deeply
    they are nested (``keras.Sequential``, :class:`course.models.TrainingOnly`, any wrapper layer).
    Raises :class:`AugmentationMismatch` when one is missing or appears twice.
    """
    if not isinstance(pipeline, keras.layers.Layer):
        raise AugmentationMismatch(
            f"expected a Keras layer such as a keras.Sequential of augmentation layers; found "
            f"{type(pipeline).__name__}."
        )
    layers = list(_leaf_layers(pipeline))
    check_layer_classes([type(layer).__name__ for layer in layers])
    return {
        TECHNIQUE_OF_CLASS[type(layer).__name__]: layer
        for layer in layers
        if type(layer).__name__ in TECHNIQUE_OF_CLASS
    }


def layer_classes(pipeline: keras.layers.Layer) -> list[str]:
    """The class names of the layers inside ``pipeline`` (as :func:`find_augmentation_layers` looks at them)."""
    return (
        [type(layer).__name__ for layer in _leaf_layers(pipeline)] if isinstance(pipeline, keras.layers.Layer) else []
    )


def check_layer_classes(classes: list[str]) -> None:
    """Raise :class:`AugmentationMismatch` unless ``classes`` hold each technique's layer exactly once."""
    problems = []
    for technique in TECHNIQUES:
        count = sum(TECHNIQUE_OF_CLASS.get(name) == technique for name in classes)
        if not count:
            problems.append(f"no {technique} layer (expected one Random{technique.capitalize()} layer)")
        elif count > 1:
            problems.append(f"{count} {technique} layers (expected one)")
    if problems:
        raise AugmentationMismatch(f"{'; '.join(problems)}. The pipeline holds: {', '.join(classes or ['no layers'])}.")


def augmentation_samples(pipeline: keras.layers.Layer, seed: int = 0) -> dict:
    """What each of the four layers of ``pipeline`` does alone (``training=True``) to its probe images
    (:func:`probe_images`), as data: the layers' descriptions and their outputs averaged over the colour
    channels, to 0.01."""
    layers = find_augmentation_layers(pipeline)
    return {
        "layers": {technique: _describe_layer(layers[technique]) for technique in TECHNIQUES},
        "outputs": {
            technique: _apply(layers[technique], probe_images(technique, seed)).mean(axis=3).round(2)
            for technique in TECHNIQUES
        },
    }


def measure_samples(samples: dict, seed: int = 0) -> dict[str, Measurement]:
    """The measurements of :func:`augmentation_samples` made with the same ``seed``."""
    return {
        technique: _MEASURE[technique](
            samples["layers"][technique],
            np.asarray(samples["outputs"][technique], dtype=np.float64),
            probe_images(technique, seed).mean(axis=3, dtype=np.float64),
        )
        for technique in TECHNIQUES
    }


def measure_reference_augmentation(pipeline: keras.layers.Layer, seed: int = 0) -> dict[str, Measurement]:
    """Each of the four layers of ``pipeline`` applied alone (``training=True``) to ``DRAWS`` probe
    images, and what it did. Draws are random: the numbers differ slightly from call to call."""
    return measure_samples(augmentation_samples(pipeline, seed), seed)


def check_measurements(measured: dict[str, Measurement]) -> dict[str, Measurement]:
    """Raise :class:`AugmentationMismatch` unless the measured layers rotate by up to 0.15 of a turn,
    translate by up to 0.1 of the height and the width, flip left-right (upside-down as well is
    allowed) and scale the contrast by up to 0.1; returns the measurements."""
    problems = [problem for technique in TECHNIQUES if (problem := _strength_problem(measured[technique]))]
    if problems:
        raise AugmentationMismatch("; ".join(problems))
    return measured


def check_reference_augmentation(pipeline: keras.layers.Layer, seed: int = 0) -> dict[str, Measurement]:
    """:func:`check_measurements` on ``pipeline``'s measurements."""
    return check_measurements(measure_reference_augmentation(pipeline, seed))


def training_only_samples(pipeline: Callable, images) -> dict[str, np.ndarray]:
    """``pipeline``'s outputs on ``images`` (a batch, float in 0..255) as data: two calls with
    ``training=True``, one on copies of the first image, one with ``training=False``."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) < 2:
        raise ValueError(f"images must be a batch [batch >= 2, height, width, channels]; got shape {images.shape}.")
    copies = np.repeat(images[:1], len(images), axis=0)
    return {
        "first": np.asarray(pipeline(images, training=True), dtype=np.float64),
        "second": np.asarray(pipeline(images, training=True), dtype=np.float64),
        "copies": np.asarray(pipeline(copies, training=True), dtype=np.float64),
        "at_inference": np.asarray(pipeline(images, training=False), dtype=np.float64),
    }


def check_training_samples(samples: dict, images) -> None:
    """Raise :class:`AugmentationMismatch` unless the :func:`training_only_samples` of ``images`` keep
    their shape and the 0..255 range, differ from call to call with ``training=True``, draw for each
    image of a batch on its own (copies of one image come out different) and leave the images unchanged
    with ``training=False``."""
    images = np.asarray(images, dtype=np.float32)
    first, second, copies, at_inference = (
        np.asarray(samples[key], dtype=np.float64) for key in ("first", "second", "copies", "at_inference")
    )
    if first.shape != images.shape:
        raise AugmentationMismatch(f"expected the shape {images.shape} to be kept; found {first.shape}.")
    if first.min() < -0.5 or first.max() > 255.5:
        raise AugmentationMismatch(f"expected augmented values in 0..255; found {first.min():.1f}..{first.max():.1f}.")
    if second.shape == first.shape and np.allclose(first, second):
        raise AugmentationMismatch(
            "expected two calls with training=True to augment differently; found the same images."
        )
    if all(augmented.shape == copies[0].shape and np.allclose(augmented, copies[0]) for augmented in copies[1:]):
        raise AugmentationMismatch(
            f"expected each image of a batch to get its own random draw; found {len(images)} copies of one image "
            "augmented identically in one call (one draw for the whole batch)."
        )
    change = float(np.abs(at_inference - images).max()) if at_inference.shape == images.shape else float("inf")
    if change > 1e-3:
        raise AugmentationMismatch(
            f"expected the images unchanged with training=False (inference); found pixels changed by up to "
            f"{change:.1f}. KerasCV layers augment on every call: wrap them in course.models.TrainingOnly, or "
            "use the core Keras layers, which return their input when called with training=False."
        )


def check_training_only(pipeline: Callable, images) -> None:
    """:func:`check_training_samples` on ``pipeline``'s outputs for ``images``."""
    check_training_samples(training_only_samples(pipeline, images), images)


# --- probes ------------------------------------------------------------------------------------


def _leaf_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """The layers inside ``layer`` that hold no recognised technique inside them, depth first."""
    if type(layer).__name__ in TECHNIQUE_OF_CLASS:
        yield layer
        return
    inner = direct_sublayers(layer)
    if not inner:
        if not isinstance(layer, keras.layers.InputLayer):
            yield layer
        return
    for child in inner:
        yield from _leaf_layers(child)


def _apply(layer: keras.layers.Layer, images: np.ndarray) -> np.ndarray:
    return np.asarray(layer(images, training=True), dtype=np.float64)


def probe_images(technique: str, seed: int) -> np.ndarray:
    """The ``DRAWS`` probe images [DRAWS, PROBE_SIZE, PROBE_SIZE, 3] (float32) one technique's layer gets:
    a dot right of the centre (rotation; its reflections, fill_mode "reflect", lie beyond any corner), a dot
    at the centre (translation), copies of one random image (flip), random images whose values 60..190
    stay inside 0..255 for contrast factors up to 1.5 (contrast)."""
    centre = (PROBE_SIZE - 1) / 2
    rng = np.random.default_rng([seed, TECHNIQUES.index(technique)])
    if technique == "rotation":
        return _dot(centre, centre + 12)
    if technique == "translation":
        return _dot(centre, centre)
    if technique == "flip":
        return np.repeat(rng.uniform(0, 255, (1, PROBE_SIZE, PROBE_SIZE, 3)).astype(np.float32), DRAWS, axis=0)
    return rng.uniform(60, 190, (DRAWS, PROBE_SIZE, PROBE_SIZE, 3)).astype(np.float32)


def _dot(row: float, column: float) -> np.ndarray:
    """``DRAWS`` black images with one small bright Gaussian dot (std 1.5 px) centred at (row, column)."""
    rows, columns = np.mgrid[0:PROBE_SIZE, 0:PROBE_SIZE].astype(np.float32)
    dot = 255 * np.exp(-((rows - row) ** 2 + (columns - column) ** 2) / (2 * 1.5**2))
    return np.repeat(dot[None, :, :, None], 3, axis=3).repeat(DRAWS, axis=0).astype(np.float32)


def _centroids(images: np.ndarray) -> np.ndarray:
    """The intensity-weighted centre (row, column) of each image's dot, in pixel coordinates (images
    averaged over their channels)."""
    weights = np.where(images > 0.05 * images.max(axis=(1, 2), keepdims=True), images, 0.0)
    rows, columns = np.mgrid[0:PROBE_SIZE, 0:PROBE_SIZE]
    total = weights.sum(axis=(1, 2))
    return np.stack([(weights * rows).sum(axis=(1, 2)) / total, (weights * columns).sum(axis=(1, 2)) / total], axis=1)


def _describe_layer(layer: keras.layers.Layer) -> str:
    return f"{type(layer).__module__.split('.')[0]}.{type(layer).__name__}"


def _measure_rotation(layer: str, outputs: np.ndarray, probes: np.ndarray) -> Measurement:
    centre = (PROBE_SIZE - 1) / 2
    rows, columns = _centroids(outputs).T
    turns = np.arctan2(-(rows - centre), columns - centre) / (2 * np.pi)
    largest = float(np.abs(turns).max())
    return Measurement(
        "rotation",
        layer,
        largest,
        f"rotated by {turns.min():.3f}..{turns.max():.3f} of a turn (up to {360 * largest:.0f} degrees)",
        extremes=((float(turns.min()), float(turns.max())),),
    )


def _measure_translation(layer: str, outputs: np.ndarray, probes: np.ndarray) -> Measurement:
    centre = (PROBE_SIZE - 1) / 2
    shifts = (_centroids(outputs) - centre) / PROBE_SIZE
    height, width = (float(value) for value in np.abs(shifts).max(axis=0))
    return Measurement(
        "translation",
        layer,
        (height, width),
        f"shifted by up to {height:.3f} of the height and {width:.3f} of the width",
        extremes=tuple(
            (float(low), float(high)) for low, high in zip(shifts.min(axis=0), shifts.max(axis=0), strict=True)
        ),
    )


def _measure_flip(layer: str, outputs: np.ndarray, probes: np.ndarray) -> Measurement:
    probe = probes[0]
    variants = {
        "unchanged": probe,
        "left-right": probe[:, ::-1],
        "upside-down": probe[::-1],
        "both": probe[::-1, ::-1],
    }
    counts = dict.fromkeys([*variants, "other"], 0)
    for output in outputs:
        matching = [name for name, variant in variants.items() if np.allclose(output, variant, atol=2e-2)]
        counts[matching[0] if matching else "other"] += 1
    seen = [name for name, count in counts.items() if count]
    detail = ", ".join(f"{name} {counts[name]}" for name in seen) + f" of {len(outputs)}"
    return Measurement("flip", layer, None, detail, flips=counts)


def _measure_contrast(layer: str, outputs: np.ndarray, probes: np.ndarray) -> Measurement:
    # A contrast factor scales every channel's spread around its mean, so also their average's.
    def spread(images):
        return (images - images.mean(axis=(1, 2), keepdims=True)).std(axis=(1, 2))

    factors = spread(outputs) / spread(probes)
    largest = float(np.abs(factors - 1).max())
    return Measurement("contrast", layer, largest, f"contrast scaled by {factors.min():.3f}..{factors.max():.3f}")


_MEASURE: dict[str, Callable[[str, np.ndarray, np.ndarray], Measurement]] = {
    "rotation": _measure_rotation,
    "translation": _measure_translation,
    "flip": _measure_flip,
    "contrast": _measure_contrast,
}


def _strength_problem(measurement: Measurement) -> str | None:
    """What is wrong with one measured layer, in words, or None."""
    technique = measurement.technique
    if technique == "flip":
        counts = measurement.flips
        if counts["other"]:
            return f"flip: expected only mirror images; found images that are not ({measurement.detail})"
        if not counts["left-right"] + counts["both"]:
            return f"flip: expected left-right mirror images; found {measurement.detail}"
        if not counts["unchanged"]:
            return f"flip: expected some images left as they are; found {measurement.detail}"
        return None
    expected = REFERENCE_STRENGTH[technique]
    for (largest, axis), extremes in zip(_per_axis(measurement), measurement.extremes or [None] * 2, strict=False):
        where = f"{technique}{axis}"
        if largest > expected + TOLERANCE[technique]:
            return f"{where}: expected at most {expected}; found {largest:.3f} ({measurement.detail})"
        if largest < REACHED * expected:
            return (
                f"{where}: expected changes of up to {expected}; the largest of {DRAWS} draws was only "
                f"{largest:.3f} ({measurement.detail})"
            )
        if extremes is not None and min(-extremes[0], extremes[1]) < REACHED_EACH_WAY * expected:
            return (
                f"{where}: expected changes of up to {expected} in both directions; {DRAWS} draws went from "
                f"{extremes[0]:.3f} to {extremes[1]:.3f} ({measurement.detail})"
            )
    return None


def _per_axis(measurement: Measurement) -> list[tuple[float, str]]:
    if isinstance(measurement.largest, tuple):
        height, width = measurement.largest
        return [(height, " (height)"), (width, " (width)")]
    return [(measurement.largest, "")]
