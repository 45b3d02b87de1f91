"""course.augment: every KerasCV technique on a small batch, the pipelines, and the label arithmetic."""

import logging

import keras
import keras_cv
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from course import augment
from course.augment import LABEL_MIXING, TECHNIQUES
from course.config import NUM_CLASSES

IMAGE_SIZE = 32
BATCH = 6
SEED = 7
# KerasCV layers take no `training` argument; only the core Keras noise layer honours it.
HONOURS_TRAINING = {"gaussian_noise"}
# These repeat for a given seed alone; the others also draw from TensorFlow's global random state.
REPEATS_WITH_SEED_ALONE = {"rotation", "translation", "flip", "zoom", "gaussian_noise"}
NOISE_STDDEV = 10.0


@pytest.fixture(scope="session")
def images():
    """Random pixels over the whole 0..255 range, with exact 0 and 255 so unclipped shifts would show."""
    pixels = np.random.default_rng(0).uniform(0, 255, (BATCH, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    pixels[:, :2] = 0.0
    pixels[:, -2:] = 255.0
    return pixels


@pytest.fixture(scope="session")
def labels():
    return np.eye(NUM_CLASSES, dtype=np.float32)[np.arange(BATCH) * 7]


def make(name, seed=SEED):
    options = {"image_size": IMAGE_SIZE} if name == "crop_and_resize" else {}
    if name == "gaussian_noise":
        options["stddev"] = NOISE_STDDEV
    return TECHNIQUES[name](seed=seed, **options)


def apply(layer, name, images, labels, training=True):
    """The layer's output images as NumPy; label-mixing layers get {"images", "labels"}."""
    if name in LABEL_MIXING:
        batch = {"images": tf.constant(images), "labels": tf.constant(labels)}
        return np.asarray(layer(batch, training=training)["images"])
    return np.asarray(layer(images, training=training))


@pytest.fixture(scope="session")
def outputs(images, labels):
    """Per technique: two training calls and one training=False call of one layer."""
    keras.utils.set_random_seed(SEED)
    results = {}
    for name in TECHNIQUES:
        layer = make(name)
        results[name] = {
            "first": apply(layer, name, images, labels),
            "second": apply(layer, name, images, labels),
            "inference": apply(layer, name, images, labels, training=False),
        }
    return results


# --- every technique -------------------------------------------------------------------------


def test_registry_has_every_technique_of_the_course():
    assert set(TECHNIQUES) == {
        "rotation",
        "translation",
        "flip",
        "contrast",
        "zoom",
        "shear",
        "brightness",
        "channel_shift",
        "gaussian_noise",
        "crop_and_resize",
        "randaugment",
        "cutmix",
        "mixup",
    }
    assert set(LABEL_MIXING) <= set(TECHNIQUES)


@pytest.mark.parametrize("name", TECHNIQUES)
def test_shape_and_dtype_kept(name, outputs, images):
    for output in outputs[name].values():
        assert output.shape == images.shape
        assert output.dtype == np.float32


@pytest.mark.parametrize("name", TECHNIQUES)
def test_training_calls_augment_and_differ(name, outputs, images):
    first, second = outputs[name]["first"], outputs[name]["second"]
    assert not np.allclose(first, images), f"{name} left the batch unchanged"
    assert not np.allclose(first, second), f"{name} gave the same result twice"


@pytest.mark.parametrize("name", sorted(HONOURS_TRAINING))
def test_inference_returns_the_input(name, outputs, images):
    np.testing.assert_allclose(outputs[name]["inference"], images, atol=1e-4)


@pytest.mark.parametrize("name", [name for name in TECHNIQUES if name not in HONOURS_TRAINING])
def test_keras_cv_layers_still_augment_with_training_false(name, outputs, images):
    """Documents why the lessons keep KerasCV layers out of the model: training=False is ignored."""
    assert not np.allclose(outputs[name]["inference"], images)


@pytest.mark.parametrize("name", [name for name in TECHNIQUES if name != "gaussian_noise"])
def test_value_range_kept(name, outputs):
    for output in outputs[name].values():
        assert output.min() >= -1e-3 and output.max() <= 255 + 1e-3, (name, output.min(), output.max())


def test_gaussian_noise_has_the_asked_spread_in_grey_levels(outputs, images):
    noise = outputs["gaussian_noise"]["first"] - images
    assert abs(noise.mean()) < 0.5
    assert noise.std() == pytest.approx(NOISE_STDDEV, rel=0.05)


def test_gaussian_noise_rejects_a_spread_beyond_the_value_range():
    with pytest.raises(ValueError, match="grey levels"):
        augment.gaussian_noise(stddev=300)


@pytest.mark.parametrize("name", [name for name in TECHNIQUES if name not in LABEL_MIXING])
def test_seed_alone_repeats_exactly_the_documented_layers(name, images, labels):
    first = apply(make(name), name, images, labels)
    again = apply(make(name), name, images, labels)
    assert np.allclose(first, again) == (name in REPEATS_WITH_SEED_ALONE)


@pytest.mark.parametrize("name", TECHNIQUES)
def test_global_seed_makes_every_technique_repeat(name, images, labels):
    keras.utils.set_random_seed(SEED)
    first = apply(make(name), name, images, labels)
    keras.utils.set_random_seed(SEED)
    again = apply(make(name), name, images, labels)
    np.testing.assert_array_equal(first, again)


def test_factories_pass_their_settings_through():
    assert augment.describe(TECHNIQUES["rotation"](factor=0.3))[0]["factor"] == 0.3
    assert augment.describe(TECHNIQUES["brightness"](factor=0.4))[0]["factor"] == (-0.4, 0.4)
    assert augment.describe(TECHNIQUES["randaugment"](magnitude=0.8))[0]["magnitude"] == 0.8
    assert augment.describe(TECHNIQUES["mixup"](alpha=0.4))[0]["alpha"] == 0.4
    assert TECHNIQUES["flip"](seed=3).get_config()["seed"] == 3


# --- reference pipeline, build_pipeline, describe --------------------------------------------


def test_reference_augmentation_is_the_reference_example_set(images):
    pipeline = augment.reference_augmentation(seed=SEED)
    assert pipeline.name == "img_augmentation"
    kinds = [
        keras_cv.layers.RandomRotation,
        keras_cv.layers.RandomTranslation,
        keras_cv.layers.RandomFlip,
        keras_cv.layers.RandomContrast,
    ]
    assert [type(layer) for layer in pipeline.layers] == kinds
    assert augment.describe(pipeline) == [
        {
            "layer": "RandomRotation",
            "factor": 0.15,
            "fill_mode": "reflect",
            "fill_value": 0.0,
            "interpolation": "bilinear",
        },
        {
            "layer": "RandomTranslation",
            "height_factor": 0.1,
            "width_factor": 0.1,
            "fill_mode": "reflect",
            "fill_value": 0.0,
            "interpolation": "bilinear",
        },
        {"layer": "RandomFlip", "mode": "horizontal_and_vertical", "rate": 0.5},
        {"layer": "RandomContrast", "factor": 0.1, "value_range": (0, 255)},
    ]
    augmented = np.asarray(pipeline(images, training=True))
    assert augmented.shape == images.shape and not np.allclose(augmented, images)


def test_each_layer_of_a_pipeline_gets_its_own_seed():
    seeds = [layer.get_config()["seed"] for layer in augment.reference_augmentation(seed=SEED).layers]
    assert seeds == [SEED, SEED + 1, SEED + 2, SEED + 3]
    unseeded = [layer.get_config()["seed"] for layer in augment.build_pipeline(["flip", "rotation"]).layers]
    assert unseeded == [None, None]


def test_build_pipeline_keeps_the_order_of_names(images):
    pipeline = augment.build_pipeline(["flip", "crop_and_resize", "randaugment"], seed=SEED, image_size=IMAGE_SIZE)
    described = augment.describe(pipeline)
    assert [entry["layer"] for entry in described] == ["RandomFlip", "RandomCropAndResize", "RandAugment"]
    assert described[1]["target_size"] == (IMAGE_SIZE, IMAGE_SIZE)
    assert np.asarray(pipeline(images, training=True)).shape == images.shape


def test_build_pipeline_rejects_unknown_names_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown technique\(s\) \['blur'\]. Valid names: rotation, translation"):
        augment.build_pipeline(["flip", "blur"])


@pytest.mark.parametrize("name", LABEL_MIXING)
def test_build_pipeline_sends_label_mixing_to_mix_batch(name):
    with pytest.raises(ValueError, match="mix_batch"):
        augment.build_pipeline(["flip", name])


def test_build_pipeline_rejects_a_bare_string_and_an_empty_list():
    with pytest.raises(TypeError, match=r"Write \['flip'\]"):
        augment.build_pipeline("flip")
    with pytest.raises(ValueError, match="at least one technique"):
        augment.build_pipeline([])


def test_crop_and_resize_needs_the_image_size():
    with pytest.raises(ValueError, match="image_size"):
        augment.build_pipeline(["crop_and_resize"])


def test_describe_flattens_nested_pipelines_and_ignores_seeds():
    described = augment.describe(augment.build_pipeline(["shear", "gaussian_noise"], seed=1))
    assert [entry["layer"] for entry in described] == ["RandomShear", "Rescaling", "GaussianNoise", "Rescaling"]
    assert described[0]["x_factor"] == (0.0, 0.2) and described[0]["y_factor"] == (0.0, 0.2)
    assert described[2]["stddev"] == pytest.approx(10.0 / 255)
    assert described == augment.describe(augment.build_pipeline(["shear", "gaussian_noise"], seed=2))
    assert described != augment.describe(augment.build_pipeline(["gaussian_noise", "shear"], seed=1))


def test_describe_rejects_what_is_not_a_layer():
    with pytest.raises(TypeError, match="Keras layer"):
        augment.describe(["flip"])


# --- mix_batch -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def flat_images():
    """Image b is filled with the value 30 * b, so every pixel tells which image it came from."""
    values = 30.0 * np.arange(BATCH, dtype=np.float32)
    return np.broadcast_to(values[:, None, None, None], (BATCH, IMAGE_SIZE, IMAGE_SIZE, 3)).copy()


@pytest.mark.parametrize("kind", LABEL_MIXING)
def test_mix_batch_labels_are_convex_combinations_of_two_batch_labels(kind, images, labels):
    keras.utils.set_random_seed(SEED)
    mixed_images, mixed_labels = augment.mix_batch(images, labels, kind=kind, alpha=1.0)
    mixed_labels = np.asarray(mixed_labels)
    assert mixed_images.shape == images.shape and mixed_images.dtype == tf.float32
    assert mixed_labels.shape == labels.shape and mixed_labels.dtype == np.float32
    np.testing.assert_allclose(mixed_labels.sum(axis=1), 1.0, atol=1e-6)
    assert mixed_labels.min() >= 0
    classes_in_batch = labels.argmax(axis=1)
    for row in mixed_labels:
        used = np.flatnonzero(row > 1e-6)
        assert 1 <= len(used) <= 2 and set(used) <= set(classes_in_batch)
    assert (np.count_nonzero(mixed_labels > 1e-6, axis=1) == 2).any(), "no image was mixed"


def test_mixup_images_blend_with_the_label_weights(images, labels):
    keras.utils.set_random_seed(SEED)
    mixed_images, mixed_labels = augment.mix_batch(images, labels, kind="mixup", alpha=1.0)
    weights = np.asarray(mixed_labels) @ labels.T
    np.testing.assert_allclose(np.asarray(mixed_images), np.einsum("bs,shwc->bhwc", weights, images), atol=1e-3)


def test_cutmix_labels_weigh_the_pixels_actually_kept(flat_images, labels):
    keras.utils.set_random_seed(SEED)
    mixed_images, mixed_labels = augment.mix_batch(flat_images, labels, kind="cutmix", alpha=1.0)
    weights = np.asarray(mixed_labels) @ labels.T
    sources = np.asarray(mixed_images)[..., 0] / 30.0
    for b in range(BATCH):
        shares = [(sources[b] == s).mean() for s in range(BATCH)]
        np.testing.assert_allclose(weights[b], shares, atol=1e-6)


def test_keras_cv_cutmix_labels_overstate_the_pasted_share_at_borders(flat_images, labels):
    """Why mix_batch recomputes CutMix labels: the layer uses the box's area before clipping."""
    keras.utils.set_random_seed(SEED)
    mixed = augment.cutmix_layer(alpha=1.0)({"images": tf.constant(flat_images), "labels": tf.constant(labels)})
    kept_by_label = np.asarray(mixed["labels"]) @ labels.T
    sources = np.asarray(mixed["images"])[..., 0] / 30.0
    kept_by_pixels = np.array([(sources[b] == b).mean() for b in range(BATCH)])
    understated = np.diag(kept_by_label) < kept_by_pixels - 1e-3
    assert understated.any()
    assert (np.diag(kept_by_label) <= kept_by_pixels + 1e-6).all()


def test_mix_batch_works_inside_a_tf_data_map(images, labels):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(3)
    dataset = dataset.map(lambda x, y: augment.mix_batch(x, y, kind="cutmix"))
    for mixed_images, mixed_labels in dataset:
        assert mixed_images.shape == (3, IMAGE_SIZE, IMAGE_SIZE, 3)
        np.testing.assert_allclose(np.asarray(mixed_labels).sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"kind": "cutout"}, ValueError, "Valid kinds: cutmix, mixup"),
        ({"alpha": 0.0}, ValueError, "alpha must be positive"),
    ],
)
def test_mix_batch_rejects_bad_settings(arguments, error, message, images, labels):
    with pytest.raises(error, match=message):
        augment.mix_batch(images, labels, **arguments)


def test_mix_batch_rejects_bad_batches(images, labels):
    with pytest.raises(ValueError, match="tf.one_hot"):
        augment.mix_batch(images, labels.argmax(axis=1))
    with pytest.raises(ValueError, match="at least 2"):
        augment.mix_batch(images[:1], labels[:1])
    with pytest.raises(ValueError, match="6 images, 5 labels"):
        augment.mix_batch(images, labels[:5])
    with pytest.raises(ValueError, match=r"\[batch, height, width, 3\]"):
        augment.mix_batch(images[0], labels)


# --- label arithmetic in NumPy ---------------------------------------------------------------

Y1 = np.array([1.0, 0.0, 0.0], dtype=np.float32)
Y2 = np.array([0.0, 1.0, 0.0], dtype=np.float32)


def test_mixup_by_hand():
    x1, x2 = np.zeros((2, 2, 3)), np.full((2, 2, 3), 10.0)
    x, y = augment.mixup(x1, Y1, x2, Y2, lam=0.7)
    np.testing.assert_allclose(x, 3.0, rtol=1e-6)
    np.testing.assert_allclose(y, [0.7, 0.3, 0.0], rtol=1e-6)


def test_the_wrong_source_formula_is_not_a_label():
    _, right = augment.mixup(np.zeros(1), Y1, np.zeros(1), Y2, lam=0.7)
    for y in (Y1, Y2):  # the source's `y` read either way
        wrong = Y1 * 0.7 + (1 - y) * 0.7
        assert not np.allclose(wrong, right)
        assert wrong.sum() > 1.0 + 1e-6
    assert right.sum() == pytest.approx(1.0)


def test_mixup_rejects_bad_weights_and_shapes():
    with pytest.raises(ValueError, match="between 0 and 1"):
        augment.mixup(np.zeros(2), Y1, np.zeros(2), Y2, lam=1.5)
    with pytest.raises(ValueError, match="same shape"):
        augment.mixup(np.zeros(2), Y1, np.zeros(3), Y2, lam=0.5)


def test_sample_lambda_follows_beta_alpha_alpha():
    rng = np.random.default_rng(0)
    for alpha in (0.2, 1.0):
        draws = [augment.sample_lambda(alpha, rng) for _ in range(2000)]
        assert all(isinstance(draw, float) and 0 <= draw <= 1 for draw in draws)
        assert scipy.stats.kstest(draws, scipy.stats.beta(alpha, alpha).cdf).pvalue > 0.01
    small = np.array([augment.sample_lambda(0.2, rng) for _ in range(2000)])
    assert ((small < 0.1) | (small > 0.9)).mean() > 0.5  # small alpha: mostly one image


def test_sample_lambda_rejects_bad_arguments():
    with pytest.raises(TypeError, match="default_rng"):
        augment.sample_lambda(0.2, 42)
    with pytest.raises(ValueError, match="positive"):
        augment.sample_lambda(0.0, np.random.default_rng(0))


def test_cutmix_by_hand():
    x1, x2 = np.zeros((32, 32, 3)), np.ones((32, 32, 3))
    x, y, lam = augment.cutmix(x1, Y1, x2, Y2, box=(0, 0, 16, 8))
    assert lam == pytest.approx(1 - 16 * 8 / (32 * 32)) == pytest.approx(0.875)
    np.testing.assert_allclose(y, [0.875, 0.125, 0.0], rtol=1e-6)
    assert (x[:16, :8] == 1).all() and x.sum() == 16 * 8 * 3
    assert (x1 == 0).all(), "cutmix must not change its input"


def test_cutmix_lam_is_the_exact_fraction_kept_from_the_first_image():
    height, width = 24, 40
    x1, x2 = np.zeros((height, width)), np.ones((height, width))
    for seed in range(50):
        rng = np.random.default_rng(seed)
        box = augment.cutmix_box(augment.sample_lambda(1.0, rng), height, width, rng)
        x, y, lam = augment.cutmix(x1, Y1, x2, Y2, box)
        assert lam == pytest.approx((x == 0).mean())
        np.testing.assert_allclose(y, [lam, 1 - lam, 0.0], rtol=1e-6)


def test_cutmix_box_covers_one_minus_lam_and_is_clipped_at_borders():
    height = width = 32
    lam = 0.75  # sides sqrt(0.25) = 1/2 of the image: a 16 x 16 box before clipping
    sizes = set()
    for seed in range(200):
        top, left, bottom, right = augment.cutmix_box(lam, height, width, np.random.default_rng(seed))
        assert 0 <= top <= bottom <= height and 0 <= left <= right <= width
        box_height, box_width = bottom - top, right - left
        assert box_height <= 16 and box_width <= 16
        if 0 < top and bottom < height:
            assert box_height == 16
        if 0 < left and right < width:
            assert box_width == 16
        sizes.add((box_height, box_width))
    assert (16, 16) in sizes, "no box fell inside the image"
    assert any(h * w < 16 * 16 for h, w in sizes), "no box was clipped"


def test_cutmix_box_extremes():
    rng = np.random.default_rng(0)
    top, left, bottom, right = augment.cutmix_box(1.0, 32, 32, rng)
    assert (bottom - top) * (right - left) == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        augment.cutmix_box(-0.1, 32, 32, rng)
    with pytest.raises(TypeError, match="default_rng"):
        augment.cutmix_box(0.5, 32, 32, None)


def test_cutmix_rejects_a_box_outside_the_image():
    with pytest.raises(ValueError, match="inside a 32 x 32 image"):
        augment.cutmix(np.zeros((32, 32)), Y1, np.zeros((32, 32)), Y2, box=(0, 0, 40, 8))
    with pytest.raises(ValueError, match="top <= bottom"):
        augment.cutmix(np.zeros((32, 32)), Y1, np.zeros((32, 32)), Y2, box=(10, 0, 5, 8))


@pytest.mark.parametrize("name", ["channel_shift", "crop_and_resize"])
def test_per_image_layers_log_nothing(name, images, labels, caplog):
    """nbgrader scores a test cell 0 when it writes to stderr, as TensorFlow's vectorising fallback does."""
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        apply(make(name), name, images, labels)
    assert [record.getMessage() for record in caplog.records] == []


# --- what core Keras does: lesson 2 teaches it ------------------------------------------------------


def test_core_keras_augmentation_layers_augment_unless_called_with_training_false(images):
    """Core Keras image preprocessing layers default to training=True: a plain call augments, only an explicit
    training=False (which predict and evaluate pass) returns the images unchanged."""
    layer = keras.layers.RandomRotation(0.15, seed=SEED)
    assert np.abs(np.asarray(layer(images)) - images).max() > 10  # a plain call rotates
    np.testing.assert_allclose(np.asarray(layer(images, training=False)), images)
    model = keras.Sequential([keras.Input(images.shape[1:]), keras.layers.RandomRotation(0.15, seed=SEED)])
    assert np.abs(np.asarray(model(images)) - images).max() > 10  # so does a plain call of a model holding it
    np.testing.assert_allclose(model.predict(images, verbose=0), images)


def test_core_keras_gaussian_noise_is_silent_unless_called_with_training_true(images):
    layer = keras.layers.GaussianNoise(0.5, seed=SEED)  # core Keras allows a stddev of at most 1
    np.testing.assert_allclose(np.asarray(layer(images)), images)
    assert not np.allclose(np.asarray(layer(images, training=True)), images)


def test_core_keras_reference_flip_and_contrast_differ_from_kerascv(images):
    """Lesson 2: RandomFlip() flips both axes or neither; RandomContrast(0.1) only raises the contrast."""
    batch = np.concatenate([images] * 8)  # 48 images
    flipped = np.asarray(keras.layers.RandomFlip(seed=SEED)(batch))
    kinds = set()
    for before, after in zip(batch, flipped, strict=True):
        kinds.add(
            next(
                kind
                for kind, mirror in (
                    ("none", before),
                    ("both", before[::-1, ::-1]),
                    ("horizontal", before[:, ::-1]),
                    ("vertical", before[::-1]),
                )
                if np.allclose(after, mirror)
            )
        )
    assert kinds == {"none", "both"}
    contrasted = np.asarray(keras.layers.RandomContrast(0.1, seed=SEED)(batch))
    spread_before = (batch - batch.mean(axis=(1, 2), keepdims=True)).std(axis=(1, 2))
    spread_after = (contrasted - contrasted.mean(axis=(1, 2), keepdims=True)).std(axis=(1, 2))
    factors = spread_after / spread_before
    assert factors.min() > 0.999 and factors.max() < 1.1 + 1e-3
