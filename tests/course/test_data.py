"""Stanford Dogs pipelines: offline images, a fake official archive, TFDS mock data and every error; the
validation split held out of the training images (disjoint, stratified by breed, deterministic)."""

import math
import re
from pathlib import Path

import keras
import keras_cv
import numpy as np
import pytest
import requests
import scipy.io
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from course import data
from course.approaches import load_augmented_data
from course.breeds import STANFORD_DOGS_FOLDERS
from course.config import NUM_CLASSES, PROFILES, get_profile
from course.data import (
    DataSourceError,
    load_dogs,
    load_examples,
    load_raw,
    preprocess,
    readable_breed,
    validation_mask,
)
from course.fast_augment import FastAugment

real_labels = data._labels
SMOKE = PROFILES["smoke"]  # a Profile object, so COURSE_* variables of the caller cannot leak in
OFFICIAL_NAMES = [readable_breed(folder) for folder in STANFORD_DOGS_FOLDERS]


def smoke(**overrides):
    return get_profile(SMOKE, **overrides)


def raw_examples(dataset):
    return [(image.numpy(), int(label)) for image, label in dataset]


def epoch_labels(batches):
    """The integer labels of one pass over a batched, finite dataset."""
    return np.concatenate([labels.numpy().argmax(1) for _, labels in batches])


@pytest.fixture(scope="module")
def smoke_data():
    return load_dogs(SMOKE)


@pytest.fixture(scope="module")
def synthetic_train():
    return raw_examples(load_raw("train", SMOKE)[0])


# --- breed names ---------------------------------------------------------------------------------


def test_breed_folders_are_the_official_120_in_tfds_order():
    assert len(STANFORD_DOGS_FOLDERS) == len(set(STANFORD_DOGS_FOLDERS)) == NUM_CLASSES
    assert STANFORD_DOGS_FOLDERS[:2] == ("n02085620-Chihuahua", "n02085782-Japanese_spaniel")
    assert STANFORD_DOGS_FOLDERS[-1] == "n02116738-African_hunting_dog"
    assert all(re.fullmatch(r"n\d{8}-[A-Za-z_-]+", folder) for folder in STANFORD_DOGS_FOLDERS)
    lowered = [folder.lower() for folder in STANFORD_DOGS_FOLDERS]
    assert sorted(lowered) == lowered  # TFDS labels are the sorted lower-cased folder names


@pytest.mark.parametrize(
    "folder, readable",
    [
        ("n02085620-Chihuahua", "Chihuahua"),
        ("n02085620-chihuahua", "Chihuahua"),
        ("n02085782-Japanese_spaniel", "Japanese spaniel"),
        ("n02085782-japanese_spaniel", "Japanese spaniel"),
        ("n02086240-shih-tzu", "Shih-Tzu"),
        ("n02096177-cairn", "Cairn"),
        ("n02089078-black-and-tan_coonhound", "Black-and-tan coonhound"),
        ("n02098286-west_highland_white_terrier", "West Highland white terrier"),
        ("n02116738-African_hunting_dog", "African hunting dog"),
        ("n09999999-sea_dog", "Sea dog"),
    ],
)
def test_readable_breed(folder, readable):
    assert readable_breed(folder) == readable


@pytest.mark.parametrize("bad", ["Chihuahua", "n0208-Chihuahua", "", "0"])
def test_readable_breed_rejects_names_that_are_not_folders(bad):
    with pytest.raises(ValueError, match="not a Stanford Dogs folder name.*n02085620-Chihuahua"):
        readable_breed(bad)


# --- preprocessing -------------------------------------------------------------------------------


def test_preprocess_resizes_to_float_square_and_one_hot():
    image = tf.fill([37, 81, 3], tf.constant(200, tf.uint8))
    resized, one_hot = preprocess(image, tf.constant(7, tf.int64), 32)
    assert resized.shape == (32, 32, 3) and resized.dtype == tf.float32
    np.testing.assert_array_equal(resized.numpy(), 200.0)
    assert one_hot.dtype == tf.float32 and one_hot.shape == (NUM_CLASSES,)
    assert one_hot.numpy().argmax() == 7 and one_hot.numpy().sum() == 1


# --- synthetic source ----------------------------------------------------------------------------


def test_synthetic_raw_images_are_rgb_uint8_of_varying_size(synthetic_train):
    sizes = {image.shape[:2] for image, _ in synthetic_train}
    assert all(image.dtype == np.uint8 and image.shape[2:] == (3,) for image, _ in synthetic_train)
    assert all(120 <= side <= 300 for size in sizes for side in size)
    assert len(sizes) > len(synthetic_train) // 2
    assert len(synthetic_train) == SMOKE.synthetic_train_size


def test_synthetic_classes_are_balanced_and_named(synthetic_train):
    counts = np.bincount([label for _, label in synthetic_train], minlength=NUM_CLASSES)
    assert counts.min() == counts.max() == SMOKE.synthetic_train_size // NUM_CLASSES
    _, class_names = load_raw("test", SMOKE)
    assert class_names == OFFICIAL_NAMES
    assert class_names[:2] == ["Chihuahua", "Japanese spaniel"] and len(set(class_names)) == NUM_CLASSES


def test_synthetic_images_are_deterministic_per_seed(synthetic_train):
    same = raw_examples(load_raw("train", SMOKE)[0])
    assert len(same) == len(synthetic_train)
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(same, synthetic_train, strict=True))
    other_seed = raw_examples(load_raw("train", smoke(seed=SMOKE.seed + 1))[0].take(5))
    assert all(not np.array_equal(a[0], b[0]) for a, b in zip(other_seed, synthetic_train, strict=False))
    test_split = raw_examples(load_raw("test", SMOKE)[0].take(5))
    assert all(not np.array_equal(a[0], b[0]) for a, b in zip(test_split, synthetic_train, strict=False))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")
def test_synthetic_images_are_learnable():
    profile = smoke(
        image_size=32, batch_size=32, synthetic_train_size=1200, steps_per_epoch=None, validation_steps=None
    )
    dogs = load_dogs(profile)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.Conv2D(64, 1, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(dogs.train, epochs=4, verbose=0)
    _, accuracy = model.evaluate(dogs.test, verbose=0)
    assert accuracy > 5 / NUM_CLASSES, f"test accuracy {accuracy:.3f} is not clearly above chance"

    reference_augmentation = keras.Sequential(
        [
            keras_cv.layers.RandomRotation(0.15, seed=1),
            keras_cv.layers.RandomTranslation(0.1, 0.1, seed=2),
            keras_cv.layers.RandomFlip(seed=3),
            keras_cv.layers.RandomContrast(value_range=(0, 255), factor=0.1, seed=4),
        ]
    )
    augmented = [reference_augmentation(images, training=True) for images, _ in dogs.test]
    predictions = [model.predict(images, verbose=0) for images in augmented]
    hits = np.concatenate(predictions).argmax(1) == epoch_labels(dogs.test)
    assert hits.mean() > 5 / NUM_CLASSES, f"augmentation destroys the class signal (accuracy {hits.mean():.3f})"


# --- batched pipelines ---------------------------------------------------------------------------


def test_batches_have_the_documented_shapes_and_ranges(smoke_data):
    size, batch = SMOKE.image_size, SMOKE.batch_size
    for dataset in (smoke_data.train, smoke_data.validation, smoke_data.test):
        images, labels = next(iter(dataset))
        assert images.shape == (batch, size, size, 3) and images.dtype == tf.float32
        assert labels.shape == (batch, NUM_CLASSES) and labels.dtype == tf.float32
        assert 0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255
        assert float(tf.reduce_max(images)) > 1  # 0..255, not rescaled to 0..1
        np.testing.assert_array_equal(tf.reduce_sum(labels, axis=1), 1.0)
        assert set(np.unique(labels.numpy())) == {0.0, 1.0}
    assert smoke_data.class_names == OFFICIAL_NAMES
    assert smoke_data.num_train == SMOKE.synthetic_train_size == 480
    assert smoke_data.num_validation == 120 and smoke_data.num_fitted == 360  # one of 4 images per breed held out
    assert smoke_data.describe() == (
        "360 training images, 120 validation images (held out of the 480 of the training split), "
        "240 test images, 120 breeds"
    )
    assert smoke_data.num_test == SMOKE.synthetic_test_size == 240
    assert smoke_data.profile == SMOKE


def test_unshuffled_batches_are_the_preprocessed_raw_examples(synthetic_train):
    dogs = load_dogs(smoke(steps_per_epoch=None), shuffle=False)
    images, labels = next(iter(dogs.train))
    held_out = validation_mask([label for _, label in synthetic_train], SMOKE.validation_fraction, SMOKE.seed)
    trained_on = [example for example, held in zip(synthetic_train, held_out, strict=True) if not held]
    for index, (raw_image, raw_label) in enumerate(trained_on[: SMOKE.batch_size]):
        expected_image, expected_label = preprocess(raw_image, raw_label, SMOKE.image_size)
        np.testing.assert_array_equal(images[index], expected_image)
        np.testing.assert_array_equal(labels[index], expected_label)
        assert int(tf.argmax(labels[index])) == raw_label


def test_steps_limits_repeat_train_and_take_validation_and_test(smoke_data):
    assert smoke_data.train.cardinality() == tf.data.INFINITE_CARDINALITY
    assert smoke_data.validation.cardinality() == SMOKE.validation_steps
    assert smoke_data.test.cardinality() == SMOKE.test_steps
    for split in (smoke_data.validation, smoke_data.test):
        first, second = list(split), list(split)
        for (images_a, labels_a), (images_b, labels_b) in zip(first, second, strict=True):
            np.testing.assert_array_equal(images_a, images_b)
            np.testing.assert_array_equal(labels_a, labels_b)


def test_without_steps_limits_each_epoch_is_one_pass():
    dogs = load_dogs(smoke(steps_per_epoch=None, validation_steps=None, test_steps=None))
    assert dogs.train.cardinality() == math.ceil(dogs.num_fitted / SMOKE.batch_size)
    assert dogs.validation.cardinality() == math.ceil(dogs.num_validation / SMOKE.batch_size)
    assert dogs.test.cardinality() == math.ceil(SMOKE.synthetic_test_size / SMOKE.batch_size)
    first_epoch, second_epoch = epoch_labels(dogs.train), epoch_labels(dogs.train)
    assert sorted(first_epoch) == sorted(second_epoch)
    assert not np.array_equal(first_epoch, second_epoch), "the train set is reshuffled every epoch"
    again = load_dogs(smoke(steps_per_epoch=None, validation_steps=None))
    np.testing.assert_array_equal(epoch_labels(again.train), first_epoch)  # the order is seeded


def test_augment_runs_on_train_batches_only():
    grayscale = keras_cv.layers.Grayscale(output_channels=3)
    calls = []

    def augment(images, training):
        calls.append((images.shape.rank, training))
        return grayscale(images, training=training)

    dogs = load_dogs(SMOKE, augment=augment)
    train_images, _ = next(iter(dogs.train))
    test_images, _ = next(iter(dogs.test))
    assert calls and all(call == (4, True) for call in calls)  # whole batches, in training mode
    np.testing.assert_allclose(train_images[..., 0], train_images[..., 1], atol=1e-3)
    assert float(tf.reduce_max(tf.abs(test_images[..., 0] - test_images[..., 1]))) > 10


def test_keras_cv_layers_get_float32_batches():
    seen = []

    def augment(images, training):
        seen.append(images.dtype)
        return images

    next(iter(load_dogs(SMOKE, augment=augment).train))
    assert seen == [tf.float32]


def test_lessons_train_on_fast_augment_fed_the_cached_uint8(monkeypatch):
    calls = []
    original_call = FastAugment.call

    def recording_call(layer, images, training=None):
        calls.append((images.dtype, training))
        return original_call(layer, images, training)

    monkeypatch.setattr(FastAugment, "call", recording_call)
    images, labels = next(iter(load_augmented_data(get_profile(SMOKE, steps_per_epoch=None)).train))
    plain = load_dogs(get_profile(SMOKE, steps_per_epoch=None))
    assert calls == [(tf.uint8, True)]
    assert images.dtype == tf.float32 and labels.shape == (SMOKE.batch_size, NUM_CLASSES)
    assert float(tf.reduce_min(images)) >= 0 and float(tf.reduce_max(images)) <= 255
    assert not any(np.allclose(images[0], other) for other in next(iter(plain.train))[0]), "train images are augmented"


# --- archive source ------------------------------------------------------------------------------


def class_colour(label):
    return (2 * label, 250 - 2 * label, 90)


ARCHIVE_IMAGES_PER_CLASS = {"train": 2, "test": 1}


def write_fake_archive(root: Path, per_class=ARCHIVE_IMAGES_PER_CLASS):
    """The official layout: Images/<wnid>-<breed>/<wnid>_<n>.jpg and lists/{train,test}_list.mat."""
    rng = np.random.default_rng(0)
    (root / "lists").mkdir(parents=True)
    number = 0
    for split, count in per_class.items():
        files, labels = [], []
        for label, folder in enumerate(STANFORD_DOGS_FOLDERS):
            (root / "Images" / folder).mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                number += 1
                relative = f"{folder}/{folder.split('-')[0]}_{number}.jpg"
                size = tuple(int(side) for side in rng.integers(20, 48, size=2))
                encoding = "PNG" if number == 6 else "JPEG"  # the real archive has a PNG named .jpg too
                Image.new("RGB", size, class_colour(label)).save(root / "Images" / relative, encoding, quality=95)
                files.append(relative)
                labels.append(label + 1)
        scipy.io.savemat(
            root / "lists" / f"{split}_list.mat",
            {
                "file_list": np.array(files, dtype=object).reshape(-1, 1),
                "annotation_list": np.array([f[: -len(".jpg")] for f in files], dtype=object).reshape(-1, 1),
                "labels": np.array(labels, dtype=np.float64).reshape(-1, 1),
            },
        )
    return root


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_fake_archive(tmp_path_factory.mktemp("stanford_dogs"))


def test_archive_labels_are_zero_based_and_match_the_folders(archive):
    dataset, class_names = load_raw("train", SMOKE, source="archive", data_dir=str(archive))
    examples = raw_examples(dataset)
    assert class_names == OFFICIAL_NAMES
    assert sorted(label for _, label in examples) == sorted(list(range(NUM_CLASSES)) * 2)
    for image, label in examples:
        assert image.dtype == np.uint8 and image.shape[2] == 3 and 20 <= image.shape[0] < 48
        np.testing.assert_allclose(image.mean(axis=(0, 1)), class_colour(label), atol=3)


def test_archive_pipelines(archive):
    dogs = load_dogs(SMOKE, source="archive", data_dir=str(archive))
    assert (dogs.num_train, dogs.num_validation, dogs.num_test) == (2 * NUM_CLASSES, NUM_CLASSES // 2, NUM_CLASSES)
    assert dogs.profile.source == "archive" and dogs.profile.data_dir == str(archive)
    images, labels = next(iter(dogs.test))
    assert images.shape == (SMOKE.batch_size, SMOKE.image_size, SMOKE.image_size, 3)
    np.testing.assert_array_equal(labels.numpy().argmax(1), np.arange(SMOKE.batch_size))


def test_archive_from_the_environment(archive, monkeypatch):
    monkeypatch.setenv("COURSE_SOURCE", "archive")
    monkeypatch.setenv("COURSE_DATA_DIR", str(archive))
    _, class_names = load_raw("test", "smoke")
    assert class_names[0] == "Chihuahua"


def test_archive_without_data_dir():
    message = r"source='archive' needs data_dir.*Images/ and lists/.*COURSE_DATA_DIR"
    with pytest.raises(DataSourceError, match=message):
        load_raw("train", SMOKE, source="archive")


def test_archive_without_images_folder(tmp_path):
    message = rf"No Images folder in {re.escape(str(tmp_path))}\. Extract images\.tar"
    with pytest.raises(DataSourceError, match=message):
        load_dogs(SMOKE, source="archive", data_dir=str(tmp_path))


@pytest.mark.parametrize("split", ["train", "test"])
def test_archive_without_a_list_file(tmp_path, split):
    root = write_fake_archive(tmp_path / "dogs", per_class={"train": 1, "test": 1})
    (root / "lists" / f"{split}_list.mat").unlink()
    with pytest.raises(DataSourceError, match=rf"Missing .*{split}_list\.mat\. Extract lists\.tar"):
        load_dogs(SMOKE, source="archive", data_dir=str(root))


def test_archive_with_labels_that_do_not_match_the_folders(tmp_path):
    root = write_fake_archive(tmp_path / "dogs", per_class={"train": 1})
    listing = scipy.io.loadmat(root / "lists" / "train_list.mat")
    listing = {key: value for key, value in listing.items() if not key.startswith("__")}
    listing["labels"] = listing["labels"] - 1  # 0-based labels: off by one
    scipy.io.savemat(root / "lists" / "train_list.mat", listing)
    message = r"gives label 0 to n02085620-Chihuahua/.*labels run from 1 to 120"
    with pytest.raises(DataSourceError, match=message):
        load_raw("train", SMOKE, source="archive", data_dir=str(root))


def test_archive_with_missing_images(tmp_path):
    root = write_fake_archive(tmp_path / "dogs", per_class={"train": 1})
    next((root / "Images" / STANFORD_DOGS_FOLDERS[3]).glob("*.jpg")).unlink()
    message = r"1 image\(s\) listed in .*train_list\.mat are missing.*n02086079-Pekinese/"
    with pytest.raises(DataSourceError, match=message):
        load_raw("train", SMOKE, source="archive", data_dir=str(root))


def test_archive_with_missing_breed_folders(tmp_path):
    root = write_fake_archive(tmp_path / "dogs", per_class={"train": 1})
    for image in (root / "Images" / STANFORD_DOGS_FOLDERS[-1]).iterdir():
        image.unlink()
    (root / "Images" / STANFORD_DOGS_FOLDERS[-1]).rmdir()
    with pytest.raises(DataSourceError, match=r"has 119 breed folders, Stanford Dogs has 120"):
        load_raw("train", SMOKE, source="archive", data_dir=str(root))


# --- tfds source ---------------------------------------------------------------------------------


def test_tfds_mock_data_gives_the_same_structure():
    with tfds.testing.mock_data(num_examples=20):
        raw = raw_examples(load_raw("train", SMOKE, source="tfds")[0])
        dogs = load_dogs(smoke(source="tfds", validation_steps=None))
        images, labels = next(iter(dogs.train))
        test_batches = list(dogs.test)
    assert all(image.dtype == np.uint8 and image.shape[2] == 3 for image, _ in raw)
    assert len({image.shape[:2] for image, _ in raw}) > 1
    assert all(0 <= label < NUM_CLASSES for _, label in raw)
    assert dogs.class_names == OFFICIAL_NAMES
    assert (dogs.num_train, dogs.num_validation, dogs.num_test) == (20, 5, 20) and dogs.profile.source == "tfds"
    assert images.shape == (SMOKE.batch_size, SMOKE.image_size, SMOKE.image_size, 3)
    assert labels.shape == (SMOKE.batch_size, NUM_CLASSES)
    assert [len(batch_labels) for _, batch_labels in test_batches] == [16, 4]


def test_tfds_lower_case_label_names_read_like_the_archive():
    tfds_names = sorted(folder.lower() for folder in STANFORD_DOGS_FOLDERS)
    assert data._tfds_class_names(tfds_names) == OFFICIAL_NAMES


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError(
            "HTTPConnectionPool(host='vision.stanford.edu', port=80): Max retries exceeded with url: "
            "/aditya86/ImageNetDogs/images.tar (Caused by NameResolutionError)"
        ),
        tfds.download.DownloadError(
            "Failed to get url http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar. HTTP code: 503."
        ),
    ],
)
def test_tfds_download_failure_names_the_offline_sources(tmp_path, monkeypatch, failure):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)
    with pytest.raises(DataSourceError) as raised:
        load_dogs(smoke(source="tfds", data_dir=str(tmp_path)))
    message = str(raised.value)
    assert message.startswith("Downloading Stanford Dogs through TensorFlow Datasets failed")
    assert "vision.stanford.edu" in message
    assert "source='synthetic'" in message and "COURSE_PROFILE=smoke" in message
    assert "source='archive' with data_dir" in message
    assert raised.value.__cause__ is failure


def test_tfds_missing_dependency_says_what_to_install(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)
    message = "needs the package 'importlib_resources'.*pip install importlib_resources"
    with pytest.raises(DataSourceError, match=message):
        load_raw("train", smoke(source="tfds", data_dir=str(tmp_path)))


# --- choosing a source and a split ---------------------------------------------------------------


def test_unknown_source_lists_the_valid_ones():
    message = r"Unknown data source 'kaggle'\. Valid sources: tfds, archive, synthetic"
    with pytest.raises(DataSourceError, match=message):
        load_dogs(SMOKE, source="kaggle")


def test_unknown_split():
    with pytest.raises(ValueError, match=r"Unknown split 'validation'\. Valid splits: train, test"):
        load_raw("validation", SMOKE)
    with pytest.raises(ValueError, match=r"Unknown split 'holdout'\. Valid splits: train, validation, test"):
        load_examples("holdout", SMOKE)


# --- the validation split ------------------------------------------------------------------------


def test_validation_mask_holds_out_each_breeds_share():
    labels = np.repeat(np.arange(NUM_CLASSES), 100)  # Stanford Dogs' training split: 100 images per breed
    held_out = validation_mask(labels, 0.1, seed=42)
    assert held_out.dtype == bool and held_out.shape == labels.shape
    assert (np.bincount(labels[held_out], minlength=NUM_CLASSES) == 10).all()
    uneven = np.repeat(np.arange(4), [10, 20, 30, 41])
    held_out = validation_mask(uneven, 0.25, seed=0)
    assert held_out.sum() == round(0.25 * len(uneven))
    shares = np.bincount(uneven[held_out]) / np.bincount(uneven)
    assert np.abs(shares - 0.25).max() < 0.05  # every label within rounding of its share


def test_validation_mask_is_deterministic_and_seeded():
    labels = np.random.default_rng(0).integers(0, NUM_CLASSES, 1000)
    first = validation_mask(labels, 0.2, seed=7)
    np.testing.assert_array_equal(first, validation_mask(labels, 0.2, seed=7))
    assert not np.array_equal(first, validation_mask(labels, 0.2, seed=8))
    assert validation_mask([3, 3, 5], 0.1, seed=0).sum() == 1  # never empty
    with pytest.raises(ValueError, match="between 0 and 1"):
        validation_mask(labels, 1.0, seed=0)


def test_validation_split_is_disjoint_from_the_training_images_and_stratified(synthetic_train):
    fitted = raw_examples(load_examples("train", SMOKE)[0])
    validation = raw_examples(load_examples("validation", SMOKE)[0])
    assert len(fitted) + len(validation) == len(synthetic_train) == SMOKE.synthetic_train_size

    def key(example):
        return example[0].tobytes(), example[1]

    fitted_keys, validation_keys = {key(e) for e in fitted}, {key(e) for e in validation}
    assert fitted_keys.isdisjoint(validation_keys)
    assert fitted_keys | validation_keys == {key(e) for e in synthetic_train}
    per_breed = np.bincount([label for _, label in validation], minlength=NUM_CLASSES)
    assert (per_breed == SMOKE.validation_fraction * SMOKE.synthetic_train_size / NUM_CLASSES).all()
    again = raw_examples(load_examples("validation", SMOKE)[0])
    assert [key(e) for e in again] == [key(e) for e in validation]  # the same images every run
    test = raw_examples(load_examples("test", SMOKE)[0])
    assert not {key(e) for e in test} & (fitted_keys | validation_keys)


def test_the_training_labels_are_read_once_for_every_split_a_lesson_asks_for(monkeypatch):
    """Reading the labels decodes every training image: load_dogs and the features of the training and
    validation images share one reading per profile."""
    reads = []
    monkeypatch.setattr(data, "_labels", lambda examples: reads.append(1) or real_labels(examples))
    data._held_out.cache_clear()
    profile = get_profile(SMOKE, seed=7)  # not held by an earlier test
    load_dogs(profile)
    load_examples("train", profile)
    load_examples("validation", profile)
    assert len(reads) == 1


def test_the_demo_profile_trains_on_four_images_per_breed():
    demo = PROFILES["demo"]
    held = demo.validation_fraction * demo.synthetic_train_size / NUM_CLASSES
    assert held == 1 and demo.synthetic_train_size / NUM_CLASSES - held == 4


class Prepared(Exception):
    """Raised by a stand-in download_and_prepare after noting where TFDS would put the data."""


def test_tfds_prepares_the_data_set_in_the_work_folder(tmp_path, monkeypatch):
    """With a work folder (Google Drive on Colab) the prepared data set goes there, for every later
    lesson and session; the downloaded archives stay on the local disk."""
    calls = []

    def note(builder, *args, **kwargs):
        calls.append((Path(builder.data_dir), kwargs.get("download_dir")))
        raise Prepared

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", note)
    work = tmp_path / "work"
    with pytest.raises(Prepared):
        load_raw("train", smoke(source="tfds", work_dir=str(work)))
    ((data_dir, download_dir),) = calls
    assert data_dir.is_relative_to(work / "tensorflow_datasets")
    assert download_dir is not None and not Path(download_dir).is_relative_to(work)
    with pytest.raises(Prepared):  # an explicit data_dir still wins
        load_raw("train", smoke(source="tfds", work_dir=str(work), data_dir=str(tmp_path / "tfds")))
    assert calls[1][0].is_relative_to(tmp_path / "tfds") and calls[1][1] is None


def test_tfds_with_a_work_folder_loads_like_without(tmp_path):
    with tfds.testing.mock_data(num_examples=8):
        raw = raw_examples(load_raw("test", smoke(source="tfds", work_dir=str(tmp_path)))[0])
    assert len(raw) == 8 and all(image.dtype == np.uint8 for image, _ in raw)
