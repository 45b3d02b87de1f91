"""course.features: backbone features computed once and cached, a head trained on them and plugged back."""

import keras
import numpy as np
import pytest

from course import features as features_module
from course.augment import reference_augmentation
from course.config import NUM_CLASSES, get_profile
from course.data import load_examples, load_raw, preprocess
from course.fast_augment import FastAugment
from course.features import (
    FeatureSet,
    build_head,
    cached_features,
    feature_extractor,
    plug_head,
    time_standard_and_lightweight,
    train_head,
)
from course.models import build_transfer_model, unfreeze_top

pytestmark = pytest.mark.slow

SIZE = 32  # EfficientNetB0's smallest input


@pytest.fixture(scope="module")
def profile():
    return get_profile(
        "grade",
        image_size=SIZE,
        batch_size=8,
        synthetic_train_size=48,
        synthetic_test_size=16,
        validation_steps=1,
        test_steps=1,
    )


def transfer_model(augmentation=None):
    """The course's transfer model (random weights), compiled to run eagerly: quicker for a few steps."""
    model = build_transfer_model(NUM_CLASSES, SIZE, weights=None, augmentation=augmentation)
    model.run_eagerly = True
    return model


@pytest.fixture(scope="module")
def model():
    return transfer_model()


@pytest.fixture(scope="module")
def train_features(model, profile, tmp_path_factory):
    """The training features, computed once into a cache folder the tests share."""
    folder = tmp_path_factory.mktemp("features")
    return cached_features(feature_extractor(model), profile, "train", cache_dir=folder), folder


def images_and_labels(profile, split):
    """The split's images resized as the pipelines do, in order, straight from course.data."""
    examples, _ = load_examples(split, profile)
    pairs = [preprocess(image, label, SIZE) for image, label in examples]
    return np.stack([image for image, _ in pairs]), np.stack([label for _, label in pairs])


def test_features_are_the_pooled_backbone_output_of_the_same_images(model, profile, train_features):
    train, _ = train_features
    images, labels = images_and_labels(profile, "train")
    last_activation = keras.Model(model.input, model.get_layer("top_activation").output)
    expected = np.asarray(last_activation(images, training=False)).mean(axis=(1, 2))
    assert train.features.shape == (36, 1280) and train.features.dtype == np.float32  # 12 of 48 held out
    np.testing.assert_allclose(train.features, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(train.labels, labels)


@pytest.mark.parametrize("split", ["validation", "test"])
def test_validation_and_test_splits_are_cut_like_the_standard_pipeline(model, profile, split):
    features = cached_features(
        feature_extractor(model), get_profile(profile, **{f"{split}_steps": 1}), split, cache_dir=None
    )
    whole = cached_features(
        feature_extractor(model), get_profile(profile, **{f"{split}_steps": None}), split, cache_dir=None
    )
    assert len(features.features) == profile.batch_size == 8
    np.testing.assert_array_equal(features.labels, whole.labels[:8])
    assert len(whole.features) == {"validation": 12, "test": 16}[split]


def test_cache_is_reused_and_tied_to_the_weights(model, profile, train_features, monkeypatch):
    extractor = feature_extractor(model)
    first, folder = train_features
    [stored] = folder.iterdir()
    assert stored.name.startswith(f"train-{SIZE}px-synthetic-") and stored.suffix == ".npz"

    def must_not_run(*args, **kwargs):
        raise AssertionError("features were computed again instead of read from the cache")

    monkeypatch.setattr(features_module, "extract_features", must_not_run)
    second = cached_features(extractor, profile, "train", cache_dir=folder)
    np.testing.assert_array_equal(second.features, first.features)
    np.testing.assert_array_equal(second.labels, first.labels)
    with pytest.raises(AssertionError, match="computed again"):  # other weights: other features
        cached_features(feature_extractor(transfer_model()), profile, "train", cache_dir=folder)
    with pytest.raises(AssertionError, match="computed again"):  # other data
        cached_features(extractor, get_profile(profile, seed=1), "train", cache_dir=folder)


def test_trained_head_plugged_back_predicts_like_head_on_features(model, profile, train_features):
    train, _ = train_features
    head = build_head(model)
    assert [type(layer).__name__ for layer in head.layers[1:]] == ["BatchNormalization", "Dropout", "Dense"]
    assert head.layers[-1].compute_dtype == "float32"
    history = train_head(head, train, epochs=2, batch_size=8, seed=0)
    assert len(history.history["loss"]) == 2

    images, _ = images_and_labels(profile, "train")
    before = np.asarray(model(images, training=False))
    on_features = np.asarray(head(train.features, training=False))
    assert not np.allclose(before, on_features, atol=1e-3)
    plug_head(head, model)
    np.testing.assert_allclose(model(images, training=False), on_features, atol=1e-5)


def test_feature_set_batches_and_shuffles():
    features = FeatureSet(np.arange(10, dtype=np.float32)[:, None], np.eye(10, dtype=np.float32))
    ordered = np.concatenate([x for x, _ in features.dataset(4).as_numpy_iterator()])
    np.testing.assert_array_equal(ordered[:, 0], np.arange(10))
    shuffled = np.concatenate([x for x, _ in features.dataset(4, shuffle=True, seed=0).as_numpy_iterator()])
    assert sorted(shuffled[:, 0]) == list(range(10)) and not np.array_equal(shuffled[:, 0], np.arange(10))


def test_augmentation_in_the_model_is_silent_when_features_are_computed(model, profile):
    images, _ = images_and_labels(profile, "test")
    with_augmentation = transfer_model(augmentation=FastAugment(seed=0))
    with_augmentation.set_weights(model.get_weights())
    extractor = feature_extractor(with_augmentation)
    np.testing.assert_allclose(extractor(images, training=False), feature_extractor(model)(images), atol=1e-5)
    assert not np.allclose(with_augmentation(images, training=True), with_augmentation(images), atol=1e-4)


def test_models_that_would_give_wrong_features_are_refused():
    finetuned = transfer_model()
    unfreeze_top(finetuned, 20)
    with pytest.raises(ValueError, match="trainable weights: features stay fixed only while the backbone is frozen"):
        feature_extractor(finetuned)
    inputs = keras.Input((SIZE, SIZE, 3))
    frozen = keras.layers.Conv2D(4, 3, trainable=False)(reference_augmentation(seed=0)(inputs))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(frozen))
    with pytest.raises(ValueError, match="augment even at inference.*without augmentation"):
        feature_extractor(keras.Model(inputs, outputs))
    flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no GlobalAveragePooling2D"):
        feature_extractor(flat)


def test_plug_head_refuses_a_head_of_another_shape(model):
    other = keras.Sequential([keras.Input((1280,)), keras.layers.Dense(NUM_CLASSES)])
    with pytest.raises(ValueError, match="do not match the head"):
        plug_head(other, model)


def test_timing_reports_every_epoch_of_both_workflows(profile):
    examples = load_raw("train", profile)[0].take(8)
    times = time_standard_and_lightweight(
        transfer_model(), examples, SIZE, batch_size=8, epochs=2, augment=FastAugment(seed=0), seed=0
    )
    assert len(times.standard_epochs) == len(times.head_epochs) == 2
    assert all(seconds > 0 for seconds in [*times.standard_epochs, times.extraction, *times.head_epochs])
    assert times.standard == pytest.approx(sum(times.standard_epochs))
    assert times.speedup == pytest.approx(times.standard / (times.extraction + sum(times.head_epochs)))
