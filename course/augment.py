"""Data augmentation with KerasCV for images that are float32 in 0..255.

EfficientNet in Keras rescales inside the model, so every layer here works on raw 0..255 pixels,
batched ``[B, H, W, 3]``, with one-hot float32 labels ``[B, 120]``.

- :func:`reference_augmentation`: the reference example's four layers.
- :data:`TECHNIQUES`: every technique the course teaches, by name, each a factory returning a
  configured layer; :func:`build_pipeline` chains them; :func:`describe` lists what a pipeline does.
- :func:`mix_batch`: MixUp or CutMix on a batch (images and labels together).
- :func:`sample_lambda`, :func:`mixup`, :func:`cutmix_box`, :func:`cutmix`: the label arithmetic
  in plain NumPy, to read and to check against.

Two behaviours of keras_cv 0.9.0 matter for the lessons:

- **Training and inference.** KerasCV layers ignore the ``training`` argument: called with
  ``training=False`` they still augment. (Core Keras augmentation layers default to
  ``training=True`` and return their input only when called with ``training=False``.)
  Apply them to the training ``tf.data`` pipeline, never
  inside the model (where they would also distort validation and test images). Only the
  ``gaussian_noise`` technique (a core Keras layer) honours ``training``: it is silent unless
  called with ``training=True``, so call pipelines with ``training=True`` in a ``tf.data`` map.
- **Seeds.** Rotation, translation, flip, zoom and Gaussian noise repeat exactly for a given
  ``seed``. The other techniques also draw from TensorFlow's global random state, so they repeat
  only after ``keras.utils.set_random_seed(seed)`` (which makes every technique repeat).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import keras_cv
import numpy as np
import tensorflow as tf

from course.config import REFERENCE_AUGMENTATION

VALUE_RANGE = (0, 255)
MIXING_DEFAULT_ALPHA = {"mixup": 0.2, "cutmix": 1.0}
_CONFIG_KEYS_NOT_DESCRIBED = {
    "name",
    "trainable",
    "dtype",
    "seed",
    "autocast",
    "bounding_box_format",
    "segmentation_classes",
    "auto_vectorize",
}


# --- techniques ------------------------------------------------------------------------------


def rotation(factor: float = 0.15, seed: int | None = None) -> keras.layers.Layer:
    """Rotate by a random angle in ``[-factor, factor]`` of a full turn (0.15 is up to 54 degrees)."""
    return keras_cv.layers.RandomRotation(factor=factor, seed=seed)


def translation(height_factor: float = 0.1, width_factor: float = 0.1, seed: int | None = None) -> keras.layers.Layer:
    """Shift by up to ``height_factor`` of the height and ``width_factor`` of the width, reflecting at the borders."""
    return keras_cv.layers.RandomTranslation(height_factor=height_factor, width_factor=width_factor, seed=seed)


def flip(mode: str = "horizontal", rate: float = 0.5, seed: int | None = None) -> keras.layers.Layer:
    """Mirror with probability ``rate``. ``mode`` is "horizontal", "vertical" or
    "horizontal_and_vertical"; dogs rarely stand on their heads, so the default is "horizontal"."""
    return keras_cv.layers.RandomFlip(mode=mode, rate=rate, seed=seed)


def contrast(factor: float = 0.1, seed: int | None = None) -> keras.layers.Layer:
    """Scale each image's contrast by a random factor in ``[1 - factor, 1 + factor]``, clipped to 0..255."""
    return keras_cv.layers.RandomContrast(value_range=VALUE_RANGE, factor=factor, seed=seed)


def zoom(height_factor: float = 0.2, width_factor: float | None = None, seed: int | None = None) -> keras.layers.Layer:
    """Zoom in or out by up to ``height_factor``; ``width_factor=None`` keeps the aspect ratio."""
    return keras_cv.layers.RandomZoom(height_factor=height_factor, width_factor=width_factor, seed=seed)


def shear(x_factor: float = 0.2, y_factor: float = 0.2, seed: int | None = None) -> keras.layers.Layer:
    """Shear along x and y by up to the given fraction of the image, in a random direction."""
    return keras_cv.layers.RandomShear(x_factor=x_factor, y_factor=y_factor, seed=seed)


def brightness(factor: float = 0.2, seed: int | None = None) -> keras.layers.Layer:
    """Add a random offset of up to ``factor`` of the value range (0.2 is about 51 levels), clipped to 0..255."""
    return keras_cv.layers.RandomBrightness(factor=factor, value_range=VALUE_RANGE, seed=seed)


def channel_shift(factor: float = 0.2, seed: int | None = None) -> keras.layers.Layer:
    """Shift each colour channel by its own random offset of up to ``factor / 2`` of the value range.

    The layer draws per image, which TensorFlow cannot vectorise (it falls back to a loop and logs
    a warning on every trace), so it maps over the batch explicitly: quieter and about twice as fast.
    """
    layer = keras_cv.layers.RandomChannelShift(value_range=VALUE_RANGE, factor=factor, seed=seed)
    layer.auto_vectorize = False
    return layer


def crop_and_resize(
    image_size: int | tuple[int, int],
    crop_area_factor: tuple[float, float] = (0.5, 1.0),
    aspect_ratio_factor: tuple[float, float] = (3 / 4, 4 / 3),
    seed: int | None = None,
) -> keras.layers.Layer:
    """Crop a random part (``crop_area_factor`` of the area, aspect ratio distorted within
    ``aspect_ratio_factor``) and resize it to ``image_size``; give the input size to keep it.

    Like :func:`channel_shift`, it maps over the batch explicitly instead of a vectorised loop.
    """
    target_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    layer = keras_cv.layers.RandomCropAndResize(
        target_size=target_size, crop_area_factor=crop_area_factor, aspect_ratio_factor=aspect_ratio_factor, seed=seed
    )
    layer.auto_vectorize = False
    return layer


def randaugment(
    augmentations_per_image: int = 3, magnitude: float = 0.3, seed: int | None = None
) -> keras.layers.Layer:
    """RandAugment: ``augmentations_per_image`` operations drawn at random per image (colour,
    contrast, solarise, equalise, shear, translation...), each of strength about ``magnitude`` (0..1)."""
    return keras_cv.layers.RandAugment(
        value_range=VALUE_RANGE, augmentations_per_image=augmentations_per_image, magnitude=magnitude, seed=seed
    )


def gaussian_noise(stddev: float = 10.0, seed: int | None = None) -> keras.layers.Layer:
    """Add Gaussian noise of standard deviation ``stddev`` grey levels (0..255 scale).

    KerasCV has no noise layer, so this is core ``keras.layers.GaussianNoise``, which accepts a
    standard deviation of at most 1 in the units of its input: it runs on pixels rescaled to
    0..1 and the result is scaled back. Being a regularisation layer, it adds noise only when
    called with ``training=True`` and otherwise returns its input (up to float rounding, below
    1e-4). The noise is not clipped: values may leave 0..255 slightly, which EfficientNet's own
    rescaling takes in its stride.
    """
    if not 0 <= stddev <= VALUE_RANGE[1]:
        raise ValueError(f"stddev is in grey levels and must be between 0 and {VALUE_RANGE[1]}; got {stddev}.")
    scale = VALUE_RANGE[1] - VALUE_RANGE[0]
    return keras.Sequential(
        [
            keras.layers.Rescaling(1 / scale),
            keras.layers.GaussianNoise(stddev / scale, seed=seed),
            keras.layers.Rescaling(scale),
        ]
    )


def cutmix_layer(alpha: float = MIXING_DEFAULT_ALPHA["cutmix"], seed: int | None = None) -> keras.layers.Layer:
    """KerasCV CutMix: pastes a box from another image of the batch; call it on
    ``{"images": ..., "labels": ...}``. Prefer :func:`mix_batch`, whose labels match the pixels."""
    return keras_cv.layers.CutMix(alpha=alpha, seed=seed)


def mixup_layer(alpha: float = MIXING_DEFAULT_ALPHA["mixup"], seed: int | None = None) -> keras.layers.Layer:
    """KerasCV MixUp: blends each image with another of the batch; call it on
    ``{"images": ..., "labels": ...}`` (or use :func:`mix_batch`)."""
    return keras_cv.layers.MixUp(alpha=alpha, seed=seed)


TECHNIQUES: dict[str, Callable[..., keras.layers.Layer]] = {
    "rotation": rotation,
    "translation": translation,
    "flip": flip,
    "contrast": contrast,
    "zoom": zoom,
    "shear": shear,
    "brightness": brightness,
    "channel_shift": channel_shift,
    "gaussian_noise": gaussian_noise,
    "crop_and_resize": crop_and_resize,
    "randaugment": randaugment,
    "cutmix": cutmix_layer,
    "mixup": mixup_layer,
}
LABEL_MIXING = ("cutmix", "mixup")


# --- pipelines -------------------------------------------------------------------------------


def _layer_seed(seed: int | None, position: int) -> int | None:
    """A distinct seed per layer, so two layers of one pipeline do not draw the same numbers."""
    return None if seed is None else seed + position


def reference_augmentation(seed: int | None = None) -> keras.Sequential:
    """The reference example's augmentation: rotation 0.15, translation 0.1 x 0.1, flip and
    contrast 0.1. Its ``RandomFlip()`` is Keras' default, horizontal and vertical, kept here."""
    settings = REFERENCE_AUGMENTATION
    layers = [
        rotation(factor=settings["rotation"], seed=_layer_seed(seed, 0)),
        translation(*settings["translation"], seed=_layer_seed(seed, 1)),
        flip(mode=settings["flip"], seed=_layer_seed(seed, 2)),
        contrast(factor=settings["contrast"], seed=_layer_seed(seed, 3)),
    ]
    return keras.Sequential(layers, name="img_augmentation")


def build_pipeline(names: Sequence[str], seed: int | None = None, image_size: int | None = None) -> keras.Sequential:
    """A pipeline of the :data:`TECHNIQUES` ``names`` with their default settings, in order.

    ``image_size`` is needed only by "crop_and_resize" (give the input size). Each layer gets its
    own seed derived from ``seed``. Label-mixing techniques need the labels too: use :func:`mix_batch`.
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a list of technique names; got the string {names!r}. Write [{names!r}].")
    names = list(names)
    if not names:
        raise ValueError(f"names is empty: give at least one technique from {', '.join(TECHNIQUES)}.")
    unknown = [name for name in names if name not in TECHNIQUES]
    if unknown:
        raise ValueError(f"Unknown technique(s) {unknown}. Valid names: {', '.join(TECHNIQUES)}.")
    mixing = [name for name in names if name in LABEL_MIXING]
    if mixing:
        raise ValueError(
            f"{mixing} mix labels as well as images, so they cannot sit in an image pipeline. "
            "Apply them to batches with mix_batch(images, labels, kind=...)."
        )
    if "crop_and_resize" in names and image_size is None:
        raise ValueError("crop_and_resize resizes every crop to a fixed size: pass image_size=<your image size>.")
    layers = []
    for position, name in enumerate(names):
        options = {"image_size": image_size} if name == "crop_and_resize" else {}
        layers.append(TECHNIQUES[name](seed=_layer_seed(seed, position), **options))
    return keras.Sequential(layers, name="augmentation")


def _plain(value):
    """A config value as plain Python: factor samplers become their (lower, upper) range or value."""
    if isinstance(value, keras_cv.core.UniformFactorSampler):
        return (float(value.lower), float(value.upper))
    if isinstance(value, keras_cv.core.ConstantFactorSampler):
        return float(value.value)
    if isinstance(value, (list, tuple)):
        return tuple(_plain(item) for item in value)
    return value


def describe(pipeline: keras.layers.Layer) -> list[dict]:
    """One dict per augmentation layer, in order: ``{"layer": class name, **its settings}``.

    Nested pipelines are flattened; factor ranges show as ``(lower, upper)``. Names, seeds and
    dtypes are left out, so two pipelines that augment alike describe alike.
    """
    if not isinstance(pipeline, keras.layers.Layer):
        raise TypeError(
            f"describe needs a Keras layer or Sequential pipeline, such as build_pipeline returns; "
            f"got {type(pipeline).__name__}."
        )
    if isinstance(pipeline, keras.Sequential):
        return [entry for layer in pipeline.layers for entry in describe(layer)]
    config = pipeline.get_config()
    settings = {key: _plain(value) for key, value in config.items() if key not in _CONFIG_KEYS_NOT_DESCRIBED}
    return [{"layer": type(pipeline).__name__, **settings}]


# --- label mixing with KerasCV ---------------------------------------------------------------


def _as_batch(images, labels) -> tuple[tf.Tensor, tf.Tensor]:
    """``images`` and ``labels`` as float32 tensors, checked to be a batch that can be mixed."""
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    labels = tf.convert_to_tensor(labels, dtype=tf.float32)
    if images.shape.rank != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be a batch [batch, height, width, 3]; got shape {images.shape}.")
    if labels.shape.rank != 2:
        raise ValueError(
            f"labels must be one-hot [batch, classes]; got shape {labels.shape}. "
            "Turn class indices into one-hot rows with tf.one_hot(labels, NUM_CLASSES)."
        )
    batch, label_batch = images.shape[0], labels.shape[0]
    if batch is not None and label_batch is not None and batch != label_batch:
        raise ValueError(f"images and labels disagree on the batch size: {batch} images, {label_batch} labels.")
    if batch is not None and batch < 2:
        raise ValueError(f"mixing needs a batch of at least 2 images to mix; got {batch}.")
    return images, labels


def _cutmix_with_pixel_labels(
    images: tf.Tensor, labels: tf.Tensor, layer: keras.layers.Layer
) -> tuple[tf.Tensor, tf.Tensor]:
    """KerasCV CutMix on the images; each label mixed in proportion to the pixels actually taken
    from each source image.

    KerasCV sets the label weight from the box's area before clipping it to the image, which
    overstates the pasted share whenever the box crosses a border (most boxes do). A mask holding
    each image's batch index goes through the layer as a segmentation mask, which it cuts and
    pastes with the same boxes, so every output pixel says which image it came from.
    """
    shape = tf.shape(images)
    batch, pixels = shape[0], shape[1] * shape[2]
    index_mask = tf.broadcast_to(tf.range(batch)[:, None, None, None], tf.concat([shape[:3], [1]], axis=0))
    mixed = layer({"images": images, "labels": labels, "segmentation_masks": index_mask})
    source = tf.cast(mixed["segmentation_masks"][..., 0], tf.int32)
    pair = tf.reshape(source + batch * tf.range(batch)[:, None, None], [-1])
    counts = tf.math.bincount(pair, minlength=batch * batch, maxlength=batch * batch, dtype=labels.dtype)
    shares = tf.reshape(counts, [batch, batch]) / tf.cast(pixels, labels.dtype)
    return mixed["images"], tf.linalg.matmul(shares, labels)


def mix_batch(images, labels, kind: str = "mixup", alpha: float | None = None, seed: int | None = None):
    """MixUp or CutMix a batch with the KerasCV layers; returns ``(images, labels)`` as tensors.

    ``images`` [B, H, W, 3] float in 0..255, ``labels`` one-hot [B, classes]. Each image is mixed
    with another of the batch, ``lam ~ Beta(alpha, alpha)``; ``alpha`` defaults to 0.2 for MixUp
    and 1.0 for CutMix. Mixed labels are ``lam * y1 + (1 - lam) * y2``; for CutMix, ``lam`` is
    the share of pixels kept from the first image. Works eagerly and inside ``tf.data`` maps.
    """
    if kind not in LABEL_MIXING:
        raise ValueError(f"Unknown kind {kind!r}. Valid kinds: {', '.join(LABEL_MIXING)}.")
    alpha = MIXING_DEFAULT_ALPHA[kind] if alpha is None else alpha
    if not alpha > 0:
        raise ValueError(f"alpha must be positive (lam ~ Beta(alpha, alpha)); got {alpha}.")
    images, labels = _as_batch(images, labels)
    layer = TECHNIQUES[kind](alpha=alpha, seed=seed)
    if kind == "cutmix":
        return _cutmix_with_pixel_labels(images, labels, layer)
    mixed = layer({"images": images, "labels": labels})
    return mixed["images"], mixed["labels"]


# --- the label arithmetic in NumPy -----------------------------------------------------------


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a NumPy Generator: pass np.random.default_rng(seed); got {type(rng).__name__}.")


def _check_lambda(lam: float) -> None:
    if not 0 <= lam <= 1:
        raise ValueError(f"lam is a mixing weight and must be between 0 and 1; got {lam}.")


def _check_pair(first, second, what: str) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.asarray(first, dtype=np.float32), np.asarray(second, dtype=np.float32)
    if first.shape != second.shape:
        raise ValueError(f"the two {what} must have the same shape; got {first.shape} and {second.shape}.")
    return first, second


def sample_lambda(alpha: float, rng: np.random.Generator) -> float:
    """A mixing weight ``lam ~ Beta(alpha, alpha)``: small alpha gives lam near 0 or 1, alpha=1 uniform."""
    _check_rng(rng)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive; got {alpha}.")
    return float(rng.beta(alpha, alpha))


def mixup(x1, y1, x2, y2, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """MixUp of two examples: ``x = lam*x1 + (1-lam)*x2`` and ``y = lam*y1 + (1-lam)*y2``.

    Both weights come from the same ``lam``, so a mixed one-hot label still sums to 1. One
    source writes ``y1 * lam + (1 - y) * lam``: that is not a weighted average of the two labels
    (its entries can sum to more than 1) and must not be used.
    """
    _check_lambda(lam)
    x1, x2 = _check_pair(x1, x2, "images")
    y1, y2 = _check_pair(y1, y2, "labels")
    return lam * x1 + (1 - lam) * x2, lam * y1 + (1 - lam) * y2


def cutmix_box(lam: float, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """The CutMix box ``(top, left, bottom, right)``, bottom and right exclusive.

    Its sides are ``sqrt(1 - lam)`` of the image's, so before clipping it covers about
    ``1 - lam`` of the image; its centre is uniform over the image and it is clipped to the
    borders, so it may be smaller. :func:`cutmix` recomputes ``lam`` from the clipped box.
    """
    _check_lambda(lam)
    _check_rng(rng)
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be positive; got {height} x {width}.")
    ratio = np.sqrt(1 - lam)
    cut_height, cut_width = int(height * ratio), int(width * ratio)
    center_y, center_x = int(rng.integers(height)), int(rng.integers(width))
    top, left = center_y - cut_height // 2, center_x - cut_width // 2
    bottom, right = top + cut_height, left + cut_width
    return (
        int(np.clip(top, 0, height)),
        int(np.clip(left, 0, width)),
        int(np.clip(bottom, 0, height)),
        int(np.clip(right, 0, width)),
    )


def cutmix(x1, y1, x2, y2, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """CutMix of two images [H, W, ...]: x2's ``box`` (top, left, bottom, right) pasted into x1.

    Returns ``(x, y, lam)`` where ``lam`` is the fraction of the image kept from x1 (the area
    outside the box) and ``y = lam*y1 + (1-lam)*y2``.
    """
    x1, x2 = _check_pair(x1, x2, "images")
    y1, y2 = _check_pair(y1, y2, "labels")
    if x1.ndim < 2:
        raise ValueError(f"images must be at least [height, width]; got shape {x1.shape}.")
    height, width = x1.shape[:2]
    top, left, bottom, right = box
    if not (0 <= top <= bottom <= height and 0 <= left <= right <= width):
        raise ValueError(
            f"box {box} must be (top, left, bottom, right) inside a {height} x {width} image, with "
            "top <= bottom and left <= right; cutmix_box gives such boxes."
        )
    mixed = x1.copy()
    mixed[top:bottom, left:right] = x2[top:bottom, left:right]
    lam = 1 - (bottom - top) * (right - left) / (height * width)
    return mixed, lam * y1 + (1 - lam) * y2, float(lam)
