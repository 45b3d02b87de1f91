"""Augmentation in one warp per image, on whole batches (:class:`FastAugment`).

The reference augmentation (:func:`course.augment.reference_augmentation`) runs KerasCV layers one
after another: a rotation warp, a translation warp, two flips and a contrast change, each a full
pass over every pixel. :class:`FastAugment` draws the parameters from the distributions of
those KerasCV 0.9.0 layers (each flip axis on its own coin, contrast factors in ``[1 - f, 1 + f]``; the
reference example's core Keras 3 layers flip both axes or neither and draw contrast factors in
``[1, 1 + f]``, see :mod:`course.keras_counterparts`), composes rotation, translation, zoom, shear
and flip into one matrix per image, and warps each image once, then changes the contrast, the
whole batch at a time. The warp computes
exactly what ``tf.raw_ops.ImageProjectiveTransformV3`` (the op behind KerasCV's layers) computes,
but with gathers that XLA compiles (:func:`projective_warp`), straight from the cached uint8
pixels: on two CPU cores that costs less CPU time than the raw op on float32, and it also compiles
inside a model trained with ``jit_compile``. ``python -m course_tools.bench`` measures it
in the input pipeline (:mod:`course.pipeline`).

Conventions, the same as KerasCV 0.9.0's layers (``keras_cv/src/layers/preprocessing``):

- A transform maps each *output* pixel ``(x, y)`` to the *input* point it samples, with pixel
  centres at integer coordinates. Layers applied in the order L1, L2, ... therefore compose as
  ``M = M1 @ M2 @ ...``. The geometric order here is rotation, translation, zoom, shear, flip.
- ``rotation=f``: an angle drawn from ``[-f, f]`` of a full turn (0.15 is up to 54 degrees), about
  the centre ``((w - 1) / 2, (h - 1) / 2)``.
- ``translation=(hf, wf)``: a shift of up to ``hf`` of the height and ``wf`` of the width.
- ``zoom=f``: one factor in ``[1 - f, 1 + f]`` for both axes (the aspect ratio is kept), about
  the centre; above 1 shows more of the image (zooms out).
- ``shear=(xf, yf)``: a magnitude in ``[0, xf]`` with a random sign, ``x_in = x + s * y`` (about
  the top-left corner, as KerasCV does), then likewise along y.
- ``flip``: each axis of the mode mirrored with probability ``flip_rate``.
- ``contrast=f``: each channel becomes ``(x - mean) * c + mean`` with ``c`` in ``[1 - f, 1 + f]``,
  clipped to the value range.
- Points that fall outside the image are filled by reflection, and sampled bilinearly.

Factors can also be ``(lower, upper)`` ranges, as in KerasCV. ``None`` switches a part off.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from course.config import REFERENCE_AUGMENTATION

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def _symmetric_range(factor, name: str) -> tuple[float, float]:
    """``f`` -> ``(-f, f)``; a ``(lower, upper)`` pair is kept."""
    lower, upper = (-factor, factor) if isinstance(factor, (int, float)) else tuple(factor)
    if lower > upper:
        raise ValueError(
            f"{name} must be a number f >= 0 or a (lower, upper) range with lower <= upper; got {factor!r}."
        )
    return float(lower), float(upper)


def _around_one(factor, name: str) -> tuple[float, float]:
    """``f`` -> ``(1 - f, 1 + f)``; ``(a, b)`` -> ``(1 + a, 1 + b)`` for zoom, as KerasCV reads them."""
    lower, upper = _symmetric_range(factor, name)
    if 1 + lower <= 0:
        raise ValueError(f"{name} must keep the factor above 0 (a range within (-1, ...)); got {factor!r}.")
    return 1 + lower, 1 + upper


def _shear_range(factor, name: str) -> tuple[float, float]:
    """Shear magnitudes: ``f`` -> ``(0, f)``; the sign is drawn separately."""
    lower, upper = (0.0, factor) if isinstance(factor, (int, float)) else tuple(factor)
    if not 0 <= lower <= upper:
        raise ValueError(
            f"{name} must be a magnitude f >= 0 or a range (lower, upper) with 0 <= lower <= upper; got {factor!r}."
        )
    return float(lower), float(upper)


def _affine(a0, a1, a2, b0, b1, b2) -> tf.Tensor:
    """[B, 3, 3] matrices ``[[a0, a1, a2], [b0, b1, b2], [0, 0, 1]]`` from [B] rows of entries."""
    zeros, ones = tf.zeros_like(a0), tf.ones_like(a0)
    entries = [tf.broadcast_to(tf.cast(entry, tf.float32), tf.shape(a0)) for entry in (a0, a1, a2, b0, b1, b2)]
    return tf.reshape(tf.stack([*entries, zeros, zeros, ones], axis=1), [-1, 3, 3])


def _map_coordinates(coordinates: tf.Tensor, size, fill_mode: str) -> tf.Tensor:
    """Input coordinates outside ``[0, size - 1]`` brought inside as ``ImageProjectiveTransformV3``
    does for each fill mode (tensorflow/core/kernels/image/image_ops.h); "constant" keeps them."""
    length = tf.cast(size, tf.float32)
    last = length - 1
    if fill_mode == "constant":
        return coordinates
    if fill_mode == "nearest":
        return tf.clip_by_value(coordinates, 0.0, last)
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        period = 2 * length
        below = period * tf.floor(-coordinates / period) + coordinates
        below = tf.where(below < -length, below + period, -below - 1)
        above = coordinates - period * tf.floor(coordinates / period)
        above = tf.where(above >= length, period - above - 1, above)
    else:  # wrap: a b c d | a b c d | a b c d
        span = tf.maximum(last, 1.0)
        below = coordinates + length * (tf.floor(-coordinates / span) + 1)
        above = coordinates - length * tf.floor(coordinates / span)
    mapped = tf.where(coordinates < 0, below, tf.where(coordinates > last, above, coordinates))
    return tf.clip_by_value(tf.where(length <= 1, tf.zeros_like(mapped), mapped), 0.0, last)


def projective_warp(
    images, transforms, fill_mode: str = "reflect", interpolation: str = "bilinear", fill_value: float = 0.0
) -> tf.Tensor:
    """What ``tf.raw_ops.ImageProjectiveTransformV3`` computes, as float32, written with gathers so
    that XLA can compile it (the raw op has no XLA kernel).

    ``images`` [B, H, W, C] of any numeric type; ``transforms`` [B, 8], each mapping an output
    pixel to the input point it samples (see the module docstring). Each pixel's source point is
    computed once for all its channels.
    """
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    rows, columns = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    entry = [transforms[:, index, None, None] for index in range(8)]
    projection = entry[6] * columns + entry[7] * rows + 1
    x = _map_coordinates((entry[0] * columns + entry[1] * rows + entry[2]) / projection, width, fill_mode)
    y = _map_coordinates((entry[3] * columns + entry[4] * rows + entry[5]) / projection, height, fill_mode)
    pixels = tf.reshape(images, [-1, channels])
    first_pixel = (tf.range(batch) * height * width)[:, None, None]

    def read(row, column):
        """Pixels at integer (row, column) [B, H, W, C]. Other fill modes have mapped every point
        inside the image, so only a neighbour of weight 0 can fall outside: clamping it is enough
        (and measurably cheaper). With "constant", points outside read ``fill_value``."""
        row, column = tf.cast(row, tf.int32), tf.cast(column, tf.int32)
        index = first_pixel + tf.clip_by_value(row, 0, height - 1) * width + tf.clip_by_value(column, 0, width - 1)
        values = tf.cast(tf.gather(pixels, index), tf.float32)
        if fill_mode != "constant":
            return values
        inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
        return tf.where(inside[..., None], values, fill_value)

    if interpolation == "nearest":  # std::round: halves away from zero
        output = read(tf.sign(y) * tf.floor(tf.abs(y) + 0.5), tf.sign(x) * tf.floor(tf.abs(x) + 0.5))
    else:
        top, left = tf.floor(y), tf.floor(x)
        bottom, right = top + 1, left + 1
        to_left, to_right = (right - x)[..., None], (x - left)[..., None]
        upper = to_left * read(top, left) + to_right * read(top, right)
        lower = to_left * read(bottom, left) + to_right * read(bottom, right)
        output = (bottom - y)[..., None] * upper + (y - top)[..., None] * lower
    return tf.where((projection == 0)[..., None], tf.cast(fill_value, tf.float32), output)


# Two compiled functions, not one: fused into a single XLA computation, the warp would be
# recomputed inside both the mean and the contrast loops (measured 2x slower on CPU).
_compiled_warp = tf.function(projective_warp, jit_compile=True, reduce_retracing=True)


@tf.function(jit_compile=True, reduce_retracing=True)
def _compiled_contrast(images, factors, value_range):
    """``(x - mean) * c + mean`` per image and channel, clipped to ``value_range``."""
    means = tf.reduce_mean(images, axis=(1, 2), keepdims=True)
    return tf.clip_by_value(images * factors + means * (1 - factors), *value_range)


@keras.saving.register_keras_serializable(package="course")
class FastAugment(keras.layers.Layer):
    """Rotation, translation, flip and contrast (optionally zoom and shear) as one warp per image.

    The defaults are the reference augmentation's (:data:`course.config.REFERENCE_AUGMENTATION`):
    ``rotation=0.15``, ``translation=(0.1, 0.1)``, ``flip="horizontal_and_vertical"`` (Keras'
    ``RandomFlip()`` default, which the reference uses) and ``contrast=0.1``. Call it on batches
    ``[B, H, W, C]`` of pixels in ``value_range``:
    with ``training=True`` it augments, otherwise it returns the images unchanged (as float32),
    so it can sit in a ``tf.data`` map (``augment(images, training=True)``) or as the first
    layer of a model, where it is silent during evaluation and prediction (and compiles with the
    model under ``jit_compile``).

    Args:
        rotation: ``f`` turns by up to ``f`` of a full turn either way, or a ``(lower, upper)`` range.
        translation: ``(height_factor, width_factor)``, shifts by up to those fractions of the image.
        flip: ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"`` or ``None``.
        contrast: ``f`` scales contrast by a factor in ``[1 - f, 1 + f]``.
        zoom: ``f`` zooms by a factor in ``[1 - f, 1 + f]``, both axes alike; ``None`` for none.
        shear: ``(x_factor, y_factor)``, shear magnitudes along x and y; ``None`` for none.
        flip_rate: the probability that each axis of ``flip`` is mirrored.
        fill_mode: how points outside the image are filled: ``"reflect"``, ``"wrap"``, ``"constant"``
            or ``"nearest"``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        value_range: the range of the pixel values, for clipping the contrast.
        seed: seed of the random parameters; ``None`` draws them non-deterministically.
    """

    def __init__(
        self,
        rotation=REFERENCE_AUGMENTATION["rotation"],
        translation=REFERENCE_AUGMENTATION["translation"],
        flip: str | None = REFERENCE_AUGMENTATION["flip"],
        contrast=REFERENCE_AUGMENTATION["contrast"],
        zoom=None,
        shear=None,
        *,
        flip_rate: float = 0.5,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        value_range: tuple[float, float] = (0, 255),
        seed: int | None = None,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")  # warps stay float32 under a mixed-precision policy
        super().__init__(**kwargs)
        if flip is not None and flip not in FLIP_MODES:
            raise ValueError(f"Unknown flip mode {flip!r}. Valid modes: {', '.join(FLIP_MODES)}, or None for no flip.")
        if not 0 <= flip_rate <= 1:
            raise ValueError(f"flip_rate is a probability and must be between 0 and 1; got {flip_rate}.")
        if fill_mode not in FILL_MODES:
            raise ValueError(f"Unknown fill_mode {fill_mode!r}. Valid modes: {', '.join(FILL_MODES)}.")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"Unknown interpolation {interpolation!r}. Valid values: {', '.join(INTERPOLATIONS)}.")
        if translation is not None and (isinstance(translation, (int, float)) or len(translation) != 2):
            raise ValueError(
                f"translation is (height_factor, width_factor), for example (0.1, 0.1); got {translation!r}."
            )
        if shear is not None and (isinstance(shear, (int, float)) or len(shear) != 2):
            raise ValueError(f"shear is (x_factor, y_factor), for example (0.2, 0.2); got {shear!r}.")
        self.rotation, self.translation, self.flip, self.contrast = rotation, translation, flip, contrast
        self.zoom, self.shear, self.flip_rate, self.seed = zoom, shear, flip_rate, seed
        self.fill_mode, self.interpolation, self.value_range = fill_mode, interpolation, tuple(value_range)

        self.angle_range = tuple(2 * math.pi * bound for bound in _symmetric_range(rotation or 0.0, "rotation"))
        height_factor, width_factor = translation or (0.0, 0.0)
        self.height_translation_range = _symmetric_range(height_factor, "translation height_factor")
        self.width_translation_range = _symmetric_range(width_factor, "translation width_factor")
        self.zoom_range = _around_one(zoom or 0.0, "zoom")
        x_factor, y_factor = shear or (0.0, 0.0)
        self.shear_x_range = _shear_range(x_factor, "shear x_factor")
        self.shear_y_range = _shear_range(y_factor, "shear y_factor")
        self.contrast_range = _around_one(contrast or 0.0, "contrast")
        self.flips_horizontally = flip in ("horizontal", "horizontal_and_vertical")
        self.flips_vertically = flip in ("vertical", "horizontal_and_vertical")
        self._generator = (
            tf.random.Generator.from_seed(seed)
            if seed is not None
            else tf.random.Generator.from_non_deterministic_state()
        )

    def _uniform(self, shape, bounds: tuple[float, float]) -> tf.Tensor:
        return self._generator.uniform(shape, minval=bounds[0], maxval=bounds[1], dtype=tf.float32)

    def _coin(self, batch_size, probability: float) -> tf.Tensor:
        """1.0 with ``probability``, else 0.0, per image, shaped [B, 1]."""
        return tf.cast(self._generator.uniform((batch_size, 1)) < probability, tf.float32)

    def sample_parameters(self, batch_size) -> dict[str, tf.Tensor]:
        """Random parameters for ``batch_size`` images, named and shaped as KerasCV's layers take
        them: angles [B] (radians); translations, zooms and shears [B, 1] (fractions of the
        height and width; factors; slopes); flips [B, 1] (1.0 flips); contrast factors [B, 1, 1, 1].
        Parts that are switched off get neutral values (0 angle, zoom 1, no flip...)."""
        column = (batch_size, 1)
        zooms = self._uniform(column, self.zoom_range)
        sign_x, sign_y = 1 - 2 * self._coin(batch_size, 0.5), 1 - 2 * self._coin(batch_size, 0.5)
        return {
            "angles": self._uniform((batch_size,), self.angle_range),
            "height_translations": self._uniform(column, self.height_translation_range),
            "width_translations": self._uniform(column, self.width_translation_range),
            "height_zooms": zooms,
            "width_zooms": zooms,
            "shear_x": self._uniform(column, self.shear_x_range) * sign_x,
            "shear_y": self._uniform(column, self.shear_y_range) * sign_y,
            "flip_horizontals": self._coin(batch_size, self.flip_rate if self.flips_horizontally else 0.0),
            "flip_verticals": self._coin(batch_size, self.flip_rate if self.flips_vertically else 0.0),
            "contrast_factors": self._uniform((batch_size, 1, 1, 1), self.contrast_range),
        }

    @staticmethod
    def transform_matrices(parameters: dict[str, tf.Tensor], height, width) -> tf.Tensor:
        """One output-to-input projective transform per image, [B, 8] as ``ImageProjectiveTransformV3``
        takes it: rotation @ translation @ zoom @ shear_x @ shear_y @ flip_h @ flip_v."""
        height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
        centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
        angles = parameters["angles"]
        cos, sin = tf.cos(angles), tf.sin(angles)
        rotation = _affine(
            cos,
            -sin,
            centre_x - (cos * centre_x - sin * centre_y),
            sin,
            cos,
            centre_y - (sin * centre_x + cos * centre_y),
        )
        zero, one = tf.zeros_like(angles), tf.ones_like(angles)
        shift_x = parameters["width_translations"][:, 0] * width
        shift_y = parameters["height_translations"][:, 0] * height
        translation = _affine(one, zero, -shift_x, zero, one, -shift_y)
        zoom_x, zoom_y = parameters["width_zooms"][:, 0], parameters["height_zooms"][:, 0]
        zoom = _affine(zoom_x, zero, centre_x * (1 - zoom_x), zero, zoom_y, centre_y * (1 - zoom_y))
        shear_x = _affine(one, parameters["shear_x"][:, 0], zero, zero, one, zero)
        shear_y = _affine(one, zero, zero, parameters["shear_y"][:, 0], one, zero)
        flip_h, flip_v = parameters["flip_horizontals"][:, 0], parameters["flip_verticals"][:, 0]
        mirror_x = _affine(1 - 2 * flip_h, zero, flip_h * (width - 1), zero, one, zero)
        mirror_y = _affine(one, zero, zero, zero, 1 - 2 * flip_v, flip_v * (height - 1))
        combined = rotation
        for matrix in (translation, zoom, shear_x, shear_y, mirror_x, mirror_y):
            combined = tf.linalg.matmul(combined, matrix)
        return tf.reshape(combined, [-1, 9])[:, :8]

    def augment(self, images, parameters: dict[str, tf.Tensor]) -> tf.Tensor:
        """``images`` [B, H, W, C] (any numeric type) augmented with the given :meth:`sample_parameters`:
        one warp, then contrast, as float32."""
        shape = tf.shape(images)
        transforms = self.transform_matrices(parameters, shape[1], shape[2])
        augmented = _compiled_warp(images, transforms, self.fill_mode, self.interpolation)
        if self.contrast is not None:
            augmented = _compiled_contrast(augmented, parameters["contrast_factors"], self.value_range)
        return tf.ensure_shape(augmented, images.shape)

    def call(self, images, training=None):
        if images.shape.rank != 4:
            raise ValueError(
                f"FastAugment works on batches [batch, height, width, channels]; got shape {images.shape}. "
                "Batch the dataset first (dataset.batch(...)), or pass images[None] for one image."
            )
        if not training:
            return tf.cast(images, self.compute_dtype)
        return tf.cast(self.augment(images, self.sample_parameters(tf.shape(images)[0])), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "translation": self.translation,
            "flip": self.flip,
            "contrast": self.contrast,
            "zoom": self.zoom,
            "shear": self.shear,
            "flip_rate": self.flip_rate,
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "value_range": self.value_range,
            "seed": self.seed,
        }
