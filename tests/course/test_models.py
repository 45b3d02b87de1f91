"""The three EfficientNetB0 models: structure, parameter counts, freezing, weights and errors."""

import re

import keras
import keras_cv
import numpy as np
import pytest

from course.config import NUM_CLASSES
from course.keras_private import APPLICATIONS_FILE_UTILS
from course.models import (
    TrainingOnly,
    WeightsUnavailableError,
    build_scratch_model,
    build_transfer_model,
    param_summary,
    trainable_backbone_normalizations,
    trainable_backbone_parameters,
    unfreeze_top,
)
from course_tools.standins import write_standin_weights

IMAGE_SIZE = 32
FEATURES = 1280  # channels of EfficientNetB0's last feature map
HEAD = [
    ("avg_pool", keras.layers.GlobalAveragePooling2D),
    ("head_batch_normalization", keras.layers.BatchNormalization),
    ("top_dropout", keras.layers.Dropout),
    ("pred", keras.layers.Dense),
]


def random_images(count=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")


def backbone_layers(model):
    """The transfer model's backbone: every layer between the input and the head."""
    return model.layers[1 : -len(HEAD)]


def weights_of(layers):
    return [weight for layer in layers for weight in layer.get_weights()]


def assert_same_features(actual, expected):
    """Equal up to float32 rounding, relative to the largest feature (random weights give tiny ones)."""
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def features(model, images):
    """The backbone's last feature map (EfficientNet's ``top_activation``) in inference mode."""
    extractor = keras.Model(model.input, model.get_layer("top_activation").output)
    return keras.ops.convert_to_numpy(extractor(images, training=False))


@pytest.fixture(scope="session")
def notop_params():
    backbone = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)
    )
    return backbone.count_params()


@pytest.fixture(scope="session")
def transfer_model():
    return build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)


@pytest.fixture(scope="session")
def scratch_model():
    augmentation = [keras_cv.layers.RandomFlip("horizontal", rate=1.0), keras_cv.layers.RandomRotation(0.15)]
    return build_scratch_model(NUM_CLASSES, IMAGE_SIZE, augmentation=augmentation)


@pytest.fixture(scope="module")
def finetuned():
    """A transfer model before and after ``unfreeze_top(n=20)``."""
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    before = param_summary(model)
    trainable_before = {id(layer) for layer in model.layers if layer.trainable}
    unfrozen = unfreeze_top(model, n=20, learning_rate=1e-5)
    return model, before, trainable_before, unfrozen


@pytest.fixture(scope="module")
def imagenet_style_file(tmp_path_factory):
    """Random weights saved as Keras saves its ImageNet file: legacy HDF5, the ImageNet mean in the
    Normalization layer and the ImageNet standard deviation where its variance belongs."""
    return write_standin_weights(tmp_path_factory.mktemp("standin"))


@pytest.fixture(scope="module")
def keras_imagenet_backbone(imagenet_style_file):
    """What keras.applications builds with weights="imagenet" when its weights file is that file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(APPLICATIONS_FILE_UTILS, "get_file", lambda *args, **kwargs: str(imagenet_style_file))
        return keras.applications.EfficientNetB0(
            include_top=False, weights="imagenet", input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)
        )


# The transfer model


def test_transfer_model_trains_only_the_head(transfer_model, notop_params):
    head_params = 4 * FEATURES + FEATURES * NUM_CLASSES + NUM_CLASSES  # batch norm (half trainable), dense
    assert notop_params == 4_049_571
    assert param_summary(transfer_model) == {
        "trainable": 156_280,
        "non_trainable": notop_params + 2 * FEATURES,
        "total": notop_params + head_params,
    }


def test_transfer_backbone_is_frozen_including_batch_norm(transfer_model):
    backbone = backbone_layers(transfer_model)
    batch_norms = [layer for layer in backbone if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(backbone) == 237 - 1  # EfficientNetB0's layers without its input
    assert len(batch_norms) == 49
    assert not any(layer.trainable for layer in backbone)
    assert all(not weight.trainable for layer in backbone for weight in layer.weights)


def test_transfer_head_follows_the_reference(transfer_model):
    head = transfer_model.layers[-len(HEAD) :]
    assert [(layer.name, type(layer)) for layer in head] == HEAD
    assert all(layer.trainable for layer in head)
    assert transfer_model.layers[-len(HEAD) - 1].name == "top_activation"  # flat: no nested backbone model
    dropout, pred = head[2], head[3]
    assert dropout.rate == 0.2
    assert pred.units == NUM_CLASSES
    assert pred.activation is keras.activations.softmax
    assert transfer_model.output.shape == (None, NUM_CLASSES)


def test_transfer_model_is_compiled_like_the_reference(transfer_model):
    assert isinstance(transfer_model.optimizer, keras.optimizers.Adam)
    assert float(transfer_model.optimizer.learning_rate) == pytest.approx(1e-2)
    assert transfer_model.loss == "categorical_crossentropy"


def test_transfer_prediction_stays_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.get_layer("top_activation").compute_dtype == "float16"
    assert model.get_layer("pred").compute_dtype == "float32"


# The scratch model


def test_scratch_model_has_a_120_way_softmax_top(scratch_model, notop_params):
    top = scratch_model.layers[-1]
    assert isinstance(top, keras.layers.Dense)
    assert top.units == NUM_CLASSES and top.activation is keras.activations.softmax
    assert scratch_model.count_params() == notop_params + FEATURES * NUM_CLASSES + NUM_CLASSES
    assert all(layer.trainable for layer in scratch_model.layers)
    assert float(scratch_model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_augmentation_sits_in_front_and_runs_only_in_training(scratch_model):
    flip, rotation = scratch_model.layers[1:3]
    assert [type(layer.layer) for layer in (flip, rotation)] == [
        keras_cv.layers.RandomFlip,
        keras_cv.layers.RandomRotation,
    ]
    images = random_images()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(flip(images, training=True)), images[:, :, ::-1])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(flip(images, training=False)), images)
    first = keras.ops.convert_to_numpy(scratch_model(images, training=False))
    second = keras.ops.convert_to_numpy(scratch_model(images, training=False))
    np.testing.assert_array_equal(first, second)  # a rotation at inference would change the output


def test_training_only_layer_round_trips_through_its_config():
    layer = TrainingOnly(keras_cv.layers.RandomFlip("vertical", rate=1.0), name="flip_in_training")
    copy = TrainingOnly.from_config(layer.get_config())
    assert copy.name == "flip_in_training"
    assert isinstance(copy.layer, keras_cv.layers.RandomFlip) and copy.layer.mode == "vertical"


def test_augmentation_must_be_keras_layers():
    with pytest.raises(TypeError, match="Keras layer"):
        build_scratch_model(NUM_CLASSES, IMAGE_SIZE, augmentation=[lambda images: images])


# Fine-tuning


def test_unfreeze_top_unfreezes_exactly_the_reference_layers(finetuned):
    model, _, _, unfrozen = finetuned
    top = model.layers[-20:]
    assert top[0].name == "block7a_expand_conv"
    expected = [layer for layer in top if not isinstance(layer, keras.layers.BatchNormalization)]
    assert unfrozen == expected
    head_batch_norm = model.get_layer("head_batch_normalization")  # trainable since it was built
    assert [layer for layer in top if layer.trainable] == [
        layer for layer in top if layer in expected or layer is head_batch_norm
    ]
    assert not any(layer.trainable for layer in model.layers[1:-20])


def test_unfreeze_top_keeps_every_backbone_batch_norm_frozen(finetuned):
    model = finetuned[0]
    batch_norms = [layer for layer in backbone_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    assert {"block7a_expand_bn", "block7a_bn", "block7a_project_bn", "top_bn"} <= {layer.name for layer in batch_norms}
    assert not any(layer.trainable for layer in batch_norms)


def test_unfreeze_top_recompiles_with_the_low_learning_rate(finetuned):
    model = finetuned[0]
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    assert model.compiled and model.loss == "categorical_crossentropy"


def test_unfreeze_top_adds_the_unfrozen_layers_parameters(finetuned):
    model, before, trainable_before, unfrozen = finetuned
    newly_trainable = [layer for layer in unfrozen if id(layer) not in trainable_before]
    added = sum(layer.count_params() for layer in newly_trainable)
    after = param_summary(model)
    assert added > 0
    assert after["trainable"] == before["trainable"] + added
    assert after["total"] == before["total"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"learning_rate": 1e-2}, "too high for fine-tuning"),
        ({"learning_rate": 0.0}, "positive"),
        ({"n": 0}, "n must be between 1"),
        ({"n": 10_000}, "n must be between 1"),
    ],
)
def test_unfreeze_top_rejects_bad_arguments_before_changing_anything(transfer_model, arguments, message):
    with pytest.raises(ValueError, match=message):
        unfreeze_top(transfer_model, **arguments)
    assert not any(layer.trainable for layer in backbone_layers(transfer_model))
    assert float(transfer_model.optimizer.learning_rate) == pytest.approx(1e-2)


# Weights


# What the gates count (course_tools/gates.toml)


def test_a_frozen_model_trains_no_backbone_weight_and_fine_tuning_no_backbone_batch_norm(transfer_model, finetuned):
    assert (trainable_backbone_parameters(transfer_model), trainable_backbone_normalizations(transfer_model)) == (0, 0)
    model = finetuned[0]
    top_of_backbone = model.layers[-20 : -len(HEAD)]
    unfrozen = sum(
        layer.count_params() for layer in top_of_backbone if not isinstance(layer, keras.layers.BatchNormalization)
    )
    assert unfrozen > 0
    assert (trainable_backbone_parameters(model), trainable_backbone_normalizations(model)) == (unfrozen, 0)


def test_a_backbone_left_trainable_is_counted_whole_flat_or_nested(notop_params):
    backbone = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)
    )
    backbone_trainable = param_summary(backbone)["trainable"]
    normalizations = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in backbone.layers)
    assert normalizations > 40 and 0 < backbone_trainable < notop_params
    flat = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None)
    for layer in flat.layers:
        layer.trainable = True
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
    head = keras.layers.BatchNormalization()(keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    nested = keras.Model(inputs, keras.layers.Dense(3)(head))  # the backbone one layer, trainable as built
    for model in (flat, nested):
        assert trainable_backbone_parameters(model) == backbone_trainable, model.name
        assert trainable_backbone_normalizations(model) == normalizations, model.name
    backbone.trainable = False
    assert (trainable_backbone_parameters(nested), trainable_backbone_normalizations(nested)) == (0, 0)


def test_weights_from_a_local_file_are_loaded_exactly(tmp_path):
    source = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(path)
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=path)
    loaded = weights_of(backbone_layers(model))
    saved = weights_of(source.layers[1:])
    assert len(loaded) == len(saved) > 0
    for loaded_weight, saved_weight in zip(loaded, saved, strict=True):
        np.testing.assert_array_equal(loaded_weight, saved_weight)


def test_a_local_copy_of_the_imagenet_file_normalizes_like_weights_imagenet(
    imagenet_style_file, keras_imagenet_backbone
):
    images = random_images()
    expected = keras.ops.convert_to_numpy(keras_imagenet_backbone(images, training=False))
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=str(imagenet_style_file))
    assert_same_features(features(model, images), expected)
    # Without the correction, Keras's own loading of the same file computes different features.
    plain = keras.applications.EfficientNetB0(
        include_top=False, weights=str(imagenet_style_file), input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)
    )
    difference = np.abs(keras.ops.convert_to_numpy(plain(images, training=False)) - expected).max()
    assert difference > 0.1 * np.abs(expected).max()


def test_imagenet_weights_from_the_keras_cache(monkeypatch, imagenet_style_file, keras_imagenet_backbone):
    fetched = []
    monkeypatch.setattr(
        keras.utils, "get_file", lambda name, origin, **kwargs: fetched.append(name) or str(imagenet_style_file)
    )
    monkeypatch.setattr(APPLICATIONS_FILE_UTILS, "get_file", lambda *args, **kwargs: str(imagenet_style_file))
    model = build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights="imagenet")
    images = random_images()
    assert fetched == ["efficientnetb0_notop.h5"]
    assert_same_features(
        features(model, images), keras.ops.convert_to_numpy(keras_imagenet_backbone(images, training=False))
    )


def test_unreachable_imagenet_weights_raise_a_clear_error(monkeypatch, tmp_path):
    download = keras.utils.get_file

    def from_a_closed_port(name, origin, **kwargs):  # a real download that fails at once, online or not
        return download(name, f"http://127.0.0.1:9/{name}", **{**kwargs, "cache_dir": str(tmp_path)})

    monkeypatch.setattr(keras.utils, "get_file", from_a_closed_port)
    with pytest.raises(WeightsUnavailableError) as caught:
        build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights="imagenet")
    message = str(caught.value)
    assert "weights=<path>" in message and "efficientnetb0_notop.h5" in message
    assert "weights=None for RANDOM weights" in message and "not pretrained" in message
    assert "URL fetch failure" in str(caught.value.__cause__)


def test_a_missing_weights_file_is_named(tmp_path):
    missing = tmp_path / "efficientnetb0_notop.h5"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{missing}': no such file")):
        build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=missing)


def test_builders_reject_a_learning_rate_that_is_not_positive():
    with pytest.raises(ValueError, match="positive"):
        build_transfer_model(NUM_CLASSES, IMAGE_SIZE, weights=None, learning_rate=-1e-2)
