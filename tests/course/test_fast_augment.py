"""course.fast_augment: one warp equals KerasCV's layers applied one by one; distributions; errors."""

import keras
import keras_cv
import numpy as np
import pytest
import tensorflow as tf

from course.augment import describe, reference_augmentation
from course.fast_augment import FastAugment, projective_warp

SIZE = 96
BATCH = 8
SEED = 3
# Tolerance of the one-warp path against the layer-by-layer path, in grey levels, on interior pixels.
# Each bilinear resampling of an image whose second derivatives are at most K (grey levels per
# pixel^2, both axes together) is off by at most K / 8. The smooth test image below has K < 2.3, so
# one resampling errs by < 0.29; the layer-by-layer path resamples up to five times (rotation,
# translation, zoom, shear x, shear y) where the fast path resamples once: < 6 * 0.29 = 1.7 apart.
GEOMETRY_MAX_DIFFERENCE = 2.0
GEOMETRY_MEAN_DIFFERENCE = 0.5
# A wrong parameter (one angle sign) moves interior pixels by far more than that.
WRONG_PARAMETERS_MEAN_DIFFERENCE = 5.0


def smooth_images(batch=BATCH, size=SIZE, seed=0):
    """Smooth colour patterns (periods >= 40 px plus a ramp), different per image and channel, in 0..255."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    rng = np.random.default_rng(seed)
    images = np.empty((batch, size, size, 3), np.float32)
    for index in range(batch):
        for channel in range(3):
            phase = rng.uniform(0, 2 * np.pi, 3)
            images[index, ..., channel] = (
                128
                + 40 * np.sin(2 * np.pi * x / 40 + phase[0]) * np.cos(2 * np.pi * y / 52 + phase[1])
                + 30 * np.sin(2 * np.pi * (x + y) / 64 + phase[2])
                + 0.3 * (x - y)
            )
    return tf.constant(np.clip(images, 0, 255))


def keras_cv_geometry(fill_mode="reflect", zoom=False, shear=False):
    """KerasCV's geometric layers in FastAugment's order (rotation, translation, zoom, shear, flip)."""
    layers = [
        keras_cv.layers.RandomRotation(0.15, fill_mode=fill_mode),
        keras_cv.layers.RandomTranslation(0.1, 0.1, fill_mode=fill_mode),
    ]
    if zoom:
        layers.append(keras_cv.layers.RandomZoom(0.2, fill_mode=fill_mode))
    if shear:
        layers.append(keras_cv.layers.RandomShear(0.2, 0.2, fill_mode=fill_mode))
    layers.append(keras_cv.layers.RandomFlip("horizontal_and_vertical"))
    return layers


def layer_by_layer(layers, images, parameters):
    """Each KerasCV layer's own augment_images, one after another, with the given parameters
    (FastAugment names them as KerasCV's batched layers do; a flip flag of 1.0 is above 1 - rate)."""
    for layer in layers:
        images = layer.augment_images(images, transformations=parameters)
    return images


def interior_mask(layers, parameters, shape):
    """Pixels whose every intermediate sample falls inside the image: an all-ones image warped
    with constant zero fill stays exactly 1 there and drops below 1 wherever a fill was read."""
    ones = layer_by_layer([_with_constant_fill(layer) for layer in layers], tf.ones(shape), parameters)
    return np.all(ones.numpy() >= 1 - 1e-4, axis=-1)


def _with_constant_fill(layer):
    config = layer.get_config()
    if "fill_mode" in config:
        config["fill_mode"] = "constant"
    return type(layer).from_config(config)


def interior_differences(first, second, mask):
    difference = np.abs(np.asarray(first) - np.asarray(second))
    return [difference[index][mask[index]] for index in range(len(mask))]


@pytest.mark.parametrize("zoom, shear", [(None, None), (0.2, (0.2, 0.2))], ids=["reference", "with_zoom_and_shear"])
def test_one_warp_equals_keras_cv_layers_one_by_one(zoom, shear):
    images = smooth_images()
    augmentation = FastAugment(contrast=None, zoom=zoom, shear=shear, seed=SEED)
    parameters = augmentation.sample_parameters(BATCH)
    layers = keras_cv_geometry(zoom=zoom is not None, shear=shear is not None)

    fast = augmentation.augment(images, parameters)
    slow = layer_by_layer(layers, images, parameters)
    mask = interior_mask(layers, parameters, images.shape)

    assert mask.mean(axis=(1, 2)).min() > 0.5, "too few interior pixels to compare"
    for difference in interior_differences(fast, slow, mask):
        assert difference.max() <= GEOMETRY_MAX_DIFFERENCE
        assert difference.mean() <= GEOMETRY_MEAN_DIFFERENCE
    wrong = dict(parameters, angles=-parameters["angles"])
    wrong_differences = interior_differences(augmentation.augment(images, wrong), slow, mask)
    assert min(difference.mean() for difference in wrong_differences) > WRONG_PARAMETERS_MEAN_DIFFERENCE


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_projective_warp_computes_what_the_raw_op_computes(fill_mode, interpolation):
    """Against TensorFlow's own kernel, on noise (no smoothness to hide errors), with projective
    matrices that send many pixels far outside the image (several periods of reflect and wrap)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 17, 23, 3)).astype(np.uint8)
    transforms = np.column_stack(
        [
            rng.uniform(-2.5, 2.5, (6, 2)),
            rng.uniform(-40, 40, 6),
            rng.uniform(-2.5, 2.5, (6, 2)),
            rng.uniform(-40, 40, 6),
            rng.uniform(-0.01, 0.01, (6, 2)),
        ]
    ).astype(np.float32)
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.constant(images, tf.float32),
        transforms=transforms,
        output_shape=[17, 23],
        fill_value=7.0,
        fill_mode=fill_mode.upper(),
        interpolation=interpolation.upper(),
    )
    eager = projective_warp(images, transforms, fill_mode, interpolation, fill_value=7.0)
    compiled = tf.function(projective_warp, jit_compile=True)(images, transforms, fill_mode, interpolation, 7.0)
    assert eager.dtype == compiled.dtype == tf.float32
    np.testing.assert_allclose(eager, expected, atol=1e-4)
    np.testing.assert_allclose(compiled, expected, atol=1e-2)  # XLA reorders float arithmetic


def test_contrast_equals_keras_cv_random_contrast():
    images = smooth_images() * 1.6 - 60  # reaches past 0 and 255, so clipping is exercised
    images = tf.clip_by_value(images, 0, 255)
    augmentation = FastAugment(rotation=None, translation=None, flip=None, contrast=0.1, seed=SEED)
    parameters = augmentation.sample_parameters(BATCH)
    expected = keras_cv.layers.RandomContrast((0, 255), 0.1).augment_images(
        images, transformations=parameters["contrast_factors"]
    )
    np.testing.assert_allclose(augmentation.augment(images, parameters), expected, atol=1e-3)
    assert not np.allclose(expected, images, atol=1)


def test_reference_defaults_match_keras_cv_chain_with_contrast():
    """The whole reference family at once: geometry within the tolerance above, plus contrast,
    whose per-channel means see the border fill, so each pixel may move by up to
    ``|1 - c| * |difference of the means|`` more."""
    images = smooth_images(seed=1)
    augmentation = FastAugment(seed=SEED)
    parameters = augmentation.sample_parameters(BATCH)
    layers = keras_cv_geometry()
    warped = layer_by_layer(layers, images, parameters)
    slow = keras_cv.layers.RandomContrast((0, 255), 0.1).augment_images(
        warped, transformations=parameters["contrast_factors"]
    )
    fast = augmentation.augment(images, parameters)
    fast_geometry = FastAugment(contrast=None).augment(images, parameters)
    mean_shift = np.abs(np.mean(fast_geometry, axis=(1, 2)) - np.mean(warped, axis=(1, 2))).max(axis=-1) * np.abs(
        1 - parameters["contrast_factors"].numpy().reshape(-1)
    )
    mask = interior_mask(layers, parameters, images.shape)
    for index, difference in enumerate(interior_differences(fast, slow, mask)):
        assert difference.max() <= GEOMETRY_MAX_DIFFERENCE + mean_shift[index]


def test_defaults_are_the_reference_augmentation():
    rotation, translation, flip, contrast = describe(reference_augmentation())
    fast = FastAugment()
    assert fast.rotation == rotation["factor"]
    assert fast.translation == (translation["height_factor"], translation["width_factor"])
    assert (fast.flip, fast.flip_rate) == (flip["mode"], flip["rate"])
    assert fast.contrast == contrast["factor"] and fast.value_range == tuple(contrast["value_range"])
    assert (fast.fill_mode, fast.interpolation) == (rotation["fill_mode"], rotation["interpolation"])
    assert (fast.fill_mode, fast.interpolation) == (translation["fill_mode"], translation["interpolation"])


def test_sampled_parameters_follow_the_reference_distributions():
    samples = 4096
    parameters = {
        name: value.numpy().reshape(samples)
        for name, value in FastAugment(zoom=0.2, shear=(0.2, 0.3), seed=SEED).sample_parameters(samples).items()
    }
    bounds = {
        "angles": (-0.15 * 2 * np.pi, 0.15 * 2 * np.pi),
        "height_translations": (-0.1, 0.1),
        "width_translations": (-0.1, 0.1),
        "height_zooms": (0.8, 1.2),
        "shear_x": (-0.2, 0.2),
        "shear_y": (-0.3, 0.3),
        "contrast_factors": (0.9, 1.1),
    }
    for name, (lower, upper) in bounds.items():
        values = parameters[name]
        assert lower <= values.min() and values.max() <= upper, name
        span = upper - lower
        # uniform over the whole range: reaches both ends, mean in the middle, variance span^2 / 12
        assert values.min() < lower + 0.01 * span and values.max() > upper - 0.01 * span, name
        assert abs(values.mean() - (lower + upper) / 2) < 0.02 * span, name
        assert abs(values.std() - span / np.sqrt(12)) < 0.02 * span, name
    np.testing.assert_array_equal(parameters["height_zooms"], parameters["width_zooms"])
    for name in ("flip_horizontals", "flip_verticals"):
        assert set(np.unique(parameters[name])) == {0.0, 1.0}
        assert abs(parameters[name].mean() - 0.5) < 0.03, name  # 4 standard deviations
    assert abs(np.corrcoef(parameters["flip_horizontals"], parameters["flip_verticals"])[0, 1]) < 0.06


def test_switched_off_parts_are_neutral():
    parameters = FastAugment(rotation=None, translation=None, flip="horizontal", contrast=None).sample_parameters(64)
    for name in ("angles", "height_translations", "width_translations", "shear_x", "shear_y", "flip_verticals"):
        assert not np.any(parameters[name]), name
    for name in ("height_zooms", "contrast_factors"):
        np.testing.assert_array_equal(parameters[name], 1.0)
    assert 0 < parameters["flip_horizontals"].numpy().mean() < 1


def test_a_horizontal_flip_alone_mirrors_exactly():
    images = smooth_images(batch=2)
    augmentation = FastAugment(rotation=None, translation=None, flip="horizontal", contrast=None)
    parameters = dict(augmentation.sample_parameters(2), flip_horizontals=tf.constant([[1.0], [0.0]]))
    flipped = augmentation.augment(images, parameters).numpy()
    np.testing.assert_allclose(flipped[0], images[0, :, ::-1], atol=1e-4)
    np.testing.assert_allclose(flipped[1], images[1], atol=1e-4)


def test_augments_only_in_training_and_repeats_with_a_seed():
    images = smooth_images(batch=4)
    augmentation = FastAugment(seed=SEED)
    for training in (None, False):
        np.testing.assert_array_equal(augmentation(images, training=training), images)
    augmented = augmentation(tf.cast(images, tf.uint8), training=True)
    assert augmented.dtype == tf.float32 and augmented.shape == images.shape
    assert np.abs(augmented - tf.round(images)).mean() > 5
    assert float(tf.reduce_min(augmented)) >= 0 and float(tf.reduce_max(augmented)) <= 255
    np.testing.assert_array_equal(
        FastAugment(seed=SEED)(images, training=True), FastAugment(seed=SEED)(images, training=True)
    )
    assert not np.array_equal(augmentation(images, training=True), augmentation(images, training=True))


def test_parallel_batches_in_tf_data_get_their_own_parameters():
    augmentation = FastAugment(seed=SEED)
    images = tf.data.Dataset.from_tensors(smooth_images(batch=2)).repeat(8)
    augmented = images.map(lambda batch: augmentation(batch, training=True), num_parallel_calls=4)
    outputs = [batch.tobytes() for batch in augmented.as_numpy_iterator()]
    assert len(set(outputs)) == len(outputs) == 8


def test_as_first_layer_of_a_model_it_is_silent_at_inference_keeps_float32_and_compiles_with_xla():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input((SIZE, SIZE, 3))
        augmented = FastAugment(seed=SEED)(inputs)
        outputs = keras.layers.Dense(2, dtype="float32")(keras.layers.GlobalAveragePooling2D()(augmented))
        model = keras.Model(inputs, outputs)
    finally:
        keras.config.set_dtype_policy("float32")
    images = smooth_images(batch=2)
    assert model.layers[1].compute_dtype == "float32"
    np.testing.assert_allclose(model.predict(images, verbose=0), model(images, training=False), atol=1e-2)
    assert not np.allclose(model(images, training=True), model(images, training=False), atol=1e-2)
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is True
    history = model.fit(images, np.zeros((2, 2), np.float32), epochs=2, verbose=0)  # augments inside XLA
    assert np.all(np.isfinite(history.history["loss"]))


def test_survives_serialisation():
    augmentation = FastAugment(rotation=(-0.1, 0.2), zoom=0.3, shear=(0.1, 0.0), flip="vertical", seed=5)
    restored = keras.layers.deserialize(keras.layers.serialize(augmentation))
    assert isinstance(restored, FastAugment)
    assert restored.get_config() == augmentation.get_config()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"flip": "diagonal"}, "Unknown flip mode 'diagonal'"),
        ({"flip_rate": 1.5}, "flip_rate is a probability"),
        ({"rotation": (0.2, 0.1)}, "lower <= upper"),
        ({"translation": 0.1}, r"translation is \(height_factor, width_factor\)"),
        ({"shear": (-0.1, 0.2, 0.3)}, r"shear is \(x_factor, y_factor\)"),
        ({"shear": ((0.2, 0.1), 0.0)}, "0 <= lower <= upper"),
        ({"zoom": 1.0}, "above 0"),
        ({"fill_mode": "mirror"}, "Valid modes: reflect, wrap, constant, nearest"),
        ({"interpolation": "bicubic"}, "Valid values: bilinear, nearest"),
    ],
)
def test_invalid_settings_are_explained(options, message):
    with pytest.raises(ValueError, match=message):
        FastAugment(**options)


def test_single_images_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"batches \[batch, height, width, channels\].*images\[None\]"):
        FastAugment()(tf.zeros((8, 8, 3)), training=True)
