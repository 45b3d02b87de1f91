"""course.keras_counterparts: each KerasCV layer of the lessons against its core-Keras layer, same parameters.

KerasCV draws a batch's parameters with ``get_random_transformation_batch``; they are handed, in core
Keras's form, to the core layer's ``transform_images``. MixUp and CutMix draw theirs inside the call,
so theirs are read back from what KerasCV did (labels that name each image, a mask of each pixel's source).
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from packaging.version import Version

from course import augment
from course.keras_counterparts import COUNTERPARTS, core_layer

SIZE = 32
BATCH = 6
SEED = 5
# Both layers call the same TensorFlow resampling op; only float rounding of the matrices differs.
TOLERANCE = 1e-3
DRAWS = 2000  # parameters drawn to compare two samplers' ranges


@pytest.fixture(scope="module")
def images():
    """Smooth colour patterns in 0..255 (resampling errors would show, and none should)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    pattern = [
        [128 + 60 * np.sin(x / 6 + index + channel) * np.cos(y / 7 - channel) for channel in range(3)]
        for index in range(BATCH)
    ]
    return tf.constant(np.moveaxis(np.array(pattern, np.float32), 1, -1))


def kerascv_layers():
    """Every KerasCV layer the lessons build: the techniques and the reference augmentation."""
    techniques = [
        factory(seed=SEED, **({"image_size": SIZE} if name == "crop_and_resize" else {}))
        for name, factory in augment.TECHNIQUES.items()
        if name != "gaussian_noise"  # core Keras already
    ]
    return [*techniques, *augment.reference_augmentation(seed=SEED).layers]


def test_every_kerascv_layer_of_the_lessons_has_its_counterpart_named():
    used = {type(layer).__name__ for layer in kerascv_layers()}
    assert {type(layer).__module__.split(".")[0] for layer in kerascv_layers()} == {"keras_cv"}
    assert used == set(COUNTERPARTS)


@pytest.mark.parametrize("name", [name for name, counterpart in COUNTERPARTS.items() if counterpart.core])
def test_the_counterpart_exists_in_every_keras_since_the_version_named(name):
    counterpart = COUNTERPARTS[name]
    assert Version(keras.__version__) >= Version(counterpart.since)
    assert hasattr(keras.layers, counterpart.core)


@pytest.mark.parametrize("layer", kerascv_layers(), ids=lambda layer: type(layer).__name__)
def test_core_layer_builds_the_counterpart_with_the_seed(layer):
    counterpart = COUNTERPARTS[type(layer).__name__]
    if counterpart.core is None:
        with pytest.raises(ValueError, match="has no core-Keras counterpart"):
            core_layer(layer)
        return
    core = core_layer(layer)
    assert type(core) is getattr(keras.layers, counterpart.core)
    assert core.get_config()["seed"] == layer.get_config()["seed"] is not None


def test_a_setting_the_core_layer_lacks_is_refused_unless_it_behaves_so():
    with pytest.raises(ValueError, match="keras.layers.RandomFlip has no rate; it behaves as rate=0.5"):
        core_layer(augment.flip(rate=0.8))


def _both_ways(layer, images, core_parameters):
    """KerasCV's output and the core layer's, on the parameters KerasCV sampled."""
    parameters = layer.get_random_transformation_batch(BATCH, images=images)
    core = core_layer(layer)
    return layer.augment_images(images, transformations=parameters), core.transform_images(
        images, core_parameters(parameters, core)
    )


def _affine(core, angle):
    """Core RandomRotation's matrix for ``angle`` degrees about the centre."""
    zeros, ones = tf.zeros_like(angle), tf.ones_like(angle)
    return core._compute_affine_matrix(
        center_x=0.5, center_y=0.5, angle=angle, translate_x=zeros, translate_y=zeros, scale=ones,
        shear_x=zeros, shear_y=zeros, height=SIZE, width=SIZE,
    )  # fmt: skip


def _rotation(parameters, core):
    angle = parameters["angles"] * 180 / math.pi  # KerasCV radians, core degrees
    return {"angle": angle, "rotation_matrix": _affine(core, angle), "image_height": SIZE, "image_width": SIZE,
            "batch_size": len(angle)}  # fmt: skip


PARAMETERS_IN_CORE_FORM = {
    "rotation": (augment.rotation, _rotation),
    "translation": (
        augment.translation,
        lambda p, _: {
            "translations": tf.concat([p["width_translations"], p["height_translations"]], 1) * SIZE,
            "input_shape": None,
        },
    ),
    "zoom": (
        augment.zoom,
        lambda p, _: {"height_zoom": p["height_zooms"], "width_zoom": p["width_zooms"], "input_shape": None},
    ),
    "shear along x": (
        lambda seed: augment.shear(y_factor=0.0, seed=seed),
        lambda p, _: {"shear_factor": tf.concat([p["shear_x"], p["shear_y"]], 1), "input_shape": None},
    ),
    "shear along y": (
        lambda seed: augment.shear(x_factor=0.0, seed=seed),
        lambda p, _: {"shear_factor": tf.concat([p["shear_x"], p["shear_y"]], 1), "input_shape": None},
    ),
    "contrast": (augment.contrast, lambda p, _: {"contrast_factor": p}),
    "brightness": (augment.brightness, lambda p, _: {"rgb_delta": p}),
    "flip horizontal": (
        lambda seed: augment.flip("horizontal", seed=seed),
        lambda p, _: {"flips": p["flip_horizontals"][:, :, None, None] > 0.5, "input_shape": None},
    ),
    "flip vertical": (
        lambda seed: augment.flip("vertical", seed=seed),
        lambda p, _: {"flips": p["flip_verticals"][:, :, None, None] > 0.5, "input_shape": None},
    ),
}


@pytest.mark.parametrize("technique", PARAMETERS_IN_CORE_FORM)
def test_the_core_layer_augments_as_kerascv_on_the_same_parameters(technique, images):
    factory, core_parameters = PARAMETERS_IN_CORE_FORM[technique]
    kerascv, core = _both_ways(factory(seed=SEED), images, core_parameters)
    assert np.abs(np.asarray(kerascv) - np.asarray(images)).mean() > 0.5, "nothing was augmented"
    np.testing.assert_allclose(core, kerascv, atol=TOLERANCE)


@pytest.mark.parametrize("technique", PARAMETERS_IN_CORE_FORM)
def test_the_core_layer_draws_its_parameters_from_the_same_ranges(technique):
    """Many draws of each layer's own sampler: the same bounds and mean, for KerasCV's in core form."""
    factory, core_parameters = PARAMETERS_IN_CORE_FORM[technique]
    layer = factory(seed=SEED)
    core = core_layer(layer)
    images = tf.zeros((DRAWS, SIZE, SIZE, 3))
    kerascv = core_parameters(layer.get_random_transformation_batch(DRAWS, images=images), core)
    drawn = core.get_random_transformation(images, training=True)
    for key in ("angle", "translations", "height_zoom", "shear_factor", "contrast_factor", "rgb_delta", "flips"):
        if key in drawn:
            ours, theirs = (np.asarray(values, np.float32).reshape(DRAWS, -1) for values in (drawn[key], kerascv[key]))
            width = max(np.ptp(theirs), 1e-6)
            for statistic in (np.min, np.max, np.mean):
                assert np.allclose(statistic(ours, axis=0), statistic(theirs, axis=0), atol=0.05 * width), key


def test_the_reference_flip_is_the_same_where_kerascv_drew_both_axes_alike(images):
    """Core RandomFlip("horizontal_and_vertical") flips both axes on one draw; KerasCV draws each."""
    layer = augment.flip("horizontal_and_vertical", seed=SEED)
    parameters = layer.get_random_transformation_batch(BATCH, images=images)
    horizontal, vertical = (np.asarray(parameters[key])[:, 0] > 0.5 for key in ("flip_horizontals", "flip_verticals"))
    alike = horizontal == vertical
    assert alike.any() and not alike.all(), "seed gives no image of each kind"
    flips = tf.constant(horizontal[:, None, None, None])
    core = core_layer(layer).transform_images(images, {"flips": flips, "input_shape": None})
    kerascv = layer.augment_images(images, transformations=parameters)
    np.testing.assert_allclose(np.asarray(core)[alike], np.asarray(kerascv)[alike], atol=TOLERANCE)


def test_mixup_is_the_same_for_the_weights_and_partners_kerascv_drew(images):
    """Each image's one-hot label names it, so KerasCV's mixed labels give each weight and partner."""
    layer = augment.mixup_layer(seed=SEED)
    mixed = layer({"images": images, "labels": tf.eye(BATCH)})
    labels = np.asarray(mixed["labels"])
    own = np.diag(labels).copy()
    others = labels * (1 - np.eye(BATCH))
    partner = np.where(others.max(axis=1) > 0, others.argmax(axis=1), np.arange(BATCH))
    own[partner == np.arange(BATCH)] = 1.0
    assert (partner != np.arange(BATCH)).any(), "seed mixes no pair"
    core = core_layer(layer).transform_images(images, {"mix_weight": own, "permutation_order": partner})
    np.testing.assert_allclose(core, mixed["images"], atol=TOLERANCE)


def test_cutmix_is_the_same_for_the_boxes_and_partners_kerascv_drew(images):
    """A mask holding each image's index, cut and pasted with the images, gives each pixel's source."""
    layer = augment.cutmix_layer(seed=SEED)
    index = tf.broadcast_to(tf.range(BATCH, dtype=tf.float32)[:, None, None, None], (BATCH, SIZE, SIZE, 1))
    mixed = layer({"images": images, "labels": tf.eye(BATCH), "segmentation_masks": index})
    source = np.asarray(mixed["segmentation_masks"])[..., 0].astype(int)
    pasted = source != np.arange(BATCH)[:, None, None]
    assert pasted.any(), "seed pastes no box"
    partner = np.array([source[i][pasted[i]][0] if pasted[i].any() else i for i in range(BATCH)])
    assert all(set(np.unique(source[i])) <= {i, partner[i]} for i in range(BATCH))
    transformation = {
        "permutation_order": partner,
        "batch_masks": np.repeat(pasted[..., None], 3, axis=-1),
        "mix_weight": 1 - pasted.mean(axis=(1, 2)),
    }
    core = core_layer(layer).transform_images(images, transformation)
    np.testing.assert_allclose(core, mixed["images"], atol=TOLERANCE)


def test_randaugment_runs_both_ways_on_the_lessons_settings(images):
    """Different operations: the same kind of augmentation, not the same images (see COUNTERPARTS)."""
    layer = augment.randaugment(seed=SEED)
    keras.utils.set_random_seed(SEED)
    for output in (layer(images), core_layer(layer)(images, training=True)):
        output = np.asarray(output)
        assert output.shape == images.shape
        assert output.min() >= 0 and output.max() <= 255
        assert np.abs(output - np.asarray(images)).mean() > 1.0
