"""Stanford Dogs as batched ``tf.data`` pipelines, from TFDS, the official archive or offline images.

Three sources give the same structure: uint8 RGB images of varying size, integer labels over the
120 breeds in the official order, and readable breed names.

Stanford Dogs has two official splits, train (12,000 images) and test (8,580). The course holds out a
validation split from the training images (``profile.validation_fraction`` of every breed, chosen by
:func:`validation_mask`, the same images every run): the model trains on the rest, every choice made
while training (when to stop, which epoch's weights to keep, which learning rate) looks at the
validation split, and the test split is evaluated once, at the end, on the model finally kept.

- ``tfds``: ``tfds.load("stanford_dogs")``, which downloads the dataset (the default on Colab);
- ``archive``: a local copy of the official archive (``Images/`` and ``lists/`` in ``data_dir``);
- ``synthetic``: images generated offline, one colour scheme per breed, so that a model can learn
  something in a few steps. Accuracies on them say nothing about dogs.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from course.acceleration import decide
from course.breeds import STANFORD_DOGS_FOLDERS
from course.config import NUM_CLASSES, SOURCES, Profile, get_profile
from course.errors import CourseError
from course.fast_augment import FastAugment
from course.pipeline import fast_pipeline, one_hot, resize_to_uint8
from course.runtime import work_path
from course.synthetic import class_palettes, synthetic_image

SPLITS = ("train", "test")  # the official splits
PIPELINE_SPLITS = ("train", "validation", "test")  # train: the official training split minus validation
OFFLINE_SOURCES_HINT = (
    "Sources that work offline: source='synthetic' (or COURSE_PROFILE=smoke), or source='archive' with "
    "data_dir set to a folder holding the official archive's Images/ and lists/."
)
ARCHIVE_URL = "http://vision.stanford.edu/aditya86/ImageNetDogs/"

_FOLDER_PATTERN = re.compile(r"^(n\d{8})-(.+)$")
_OFFICIAL_BREEDS = {folder.split("-", 1)[0]: folder.split("-", 1)[1] for folder in STANFORD_DOGS_FOLDERS}


class DataSourceError(CourseError, RuntimeError):
    """Stanford Dogs could not be loaded from the chosen source; the message says what to do."""


@dataclass
class DogsData:
    """Batched train, validation and test pipelines with what is needed to read them."""

    train: tf.data.Dataset  # (float32 images [B, S, S, 3] in 0..255, float32 one-hot [B, 120])
    test: tf.data.Dataset
    class_names: list[str]
    num_train: int  # examples in the official training split, validation included, before any steps limit
    num_test: int
    profile: Profile
    # When set, train gives unaugmented uint8 images and course.train.fit augments them in the training step.
    train_augmentation: Callable | None = None
    validation: tf.data.Dataset | None = None  # held out of the official training split
    num_validation: int = 0  # of the num_train examples; train gives the other ones

    @property
    def num_fitted(self) -> int:
        """The training examples the model learns from: the official training split minus validation."""
        return self.num_train - self.num_validation

    def describe(self) -> str:
        """The sizes of the three splits, in one line."""
        return (
            f"{self.num_fitted:,} training images, {self.num_validation:,} validation images (held out of the "
            f"{self.num_train:,} of the training split), {self.num_test:,} test images, {len(self.class_names)} breeds"
        )


def readable_breed(folder_name: str) -> str:
    """``"n02085782-Japanese_spaniel"`` (or TFDS's lower-cased form) -> ``"Japanese spaniel"``.

    Known breeds keep the official spelling, so both forms give the same name.
    """
    match = _FOLDER_PATTERN.match(folder_name)
    if not match:
        raise ValueError(
            f"{folder_name!r} is not a Stanford Dogs folder name; expected '<wnid>-<breed>', "
            "for example 'n02085620-Chihuahua'."
        )
    wnid, breed = match.groups()
    words = _OFFICIAL_BREEDS.get(wnid, breed).replace("_", " ")
    return words[0].upper() + words[1:]


def preprocess(image, label, image_size: int, num_classes: int = NUM_CLASSES):
    """One example as the pipelines give it: float32 ``image_size`` square in 0..255, one-hot label."""
    return tf.cast(resize_to_uint8(image, image_size), tf.float32), one_hot(label, num_classes)


def load_raw(
    split: str, profile: Profile | str | None = None, *, source: str | None = None, data_dir: str | None = None
) -> tuple[tf.data.Dataset, list[str]]:
    """One split, unbatched: (uint8 HxWx3 image of its original size, int64 label), and the class names."""
    profile = _resolve(profile, source, data_dir)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}. Valid splits: {', '.join(SPLITS)}.")
    loaders = {"tfds": _tfds_split, "archive": _archive_split, "synthetic": _synthetic_split}
    return loaders[profile.source](split, profile)


def validation_mask(labels, fraction: float, seed: int) -> np.ndarray:
    """Which of the examples with these ``labels`` to hold out for validation: a boolean array.

    Stratified: each label keeps its share, ``fraction`` of its examples (rounded so that the total is
    ``round(fraction * len(labels))``, at least 1, the labels with the largest remainders rounding up).
    Deterministic: the same labels, fraction and seed always give the same examples.
    """
    labels = np.asarray(labels)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1; got {fraction!r}.")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    shares = fraction * counts
    held = np.floor(shares).astype(int)
    missing = max(1, round(fraction * len(labels))) - held.sum()
    ties = rng.permutation(len(classes))  # breaks ties between equal remainders
    rounding_up = np.lexsort((ties, -(shares - held)))[:missing]
    held[rounding_up] += 1
    mask = np.zeros(len(labels), dtype=bool)
    for label, count in zip(classes, held, strict=True):
        members = np.flatnonzero(labels == label)
        mask[rng.choice(members, size=count, replace=False)] = True
    return mask


def load_examples(split: str, profile: Profile | str | None = None) -> tuple[tf.data.Dataset, list[str]]:
    """One split of the pipelines, unbatched, as :func:`load_raw` gives it: ``"train"`` (the official
    training split without the validation examples), ``"validation"`` (:func:`validation_mask`) or
    ``"test"`` (the official test split)."""
    profile = get_profile(profile)
    if split not in PIPELINE_SPLITS:
        raise ValueError(f"Unknown split {split!r}. Valid splits: {', '.join(PIPELINE_SPLITS)}.")
    if split == "test":
        return load_raw("test", profile)
    train, validation, class_names = _train_and_validation(profile)
    return (validation if split == "validation" else train), class_names


def load_dogs(
    profile: Profile | str | None = None,
    *,
    source: str | None = None,
    data_dir: str | None = None,
    augment: Callable | None = None,
    shuffle: bool = True,
) -> DogsData:
    """Train, validation and test pipelines for ``profile`` (see :func:`course.config.get_profile`).

    The validation set is held out of the official training split (:func:`load_examples`); the train
    set is the rest of it. Built with :func:`course.pipeline.fast_pipeline`: images are decoded and
    resized once and cached as uint8 (in memory when they fit, else in a file); the train set is
    shuffled (seeded, new order each epoch), and ``augment(images, training=True)`` runs on its whole
    batches (a :class:`course.fast_augment.FastAugment` reads the uint8 batch; any other augmentation,
    such as a ``keras.Sequential`` of KerasCV layers, gets float32). With ``steps_per_epoch`` set the
    train set repeats forever; with ``validation_steps`` (``test_steps``) set the validation (test) set
    is its first that many batches. The validation and test sets are never shuffled or augmented.

    When the profile puts the augmentation in the model (``augment_in_model``, on in ``full`` with a
    GPU: :mod:`course.acceleration`), a ``FastAugment`` does not run in the pipeline: the train set
    gives the cached uint8 batches unaugmented, and ``train_augmentation`` holds the ``FastAugment``
    for :func:`course.train.fit` to run inside the training step, on the accelerator.

    Args:
        profile: the run profile (a name, a :class:`course.config.Profile`, or ``None`` for the default).
        source: ``"tfds"``, ``"archive"`` or ``"synthetic"``, instead of the profile's.
        data_dir: the data folder, instead of the profile's.
        augment: called as ``augment(images, training=True)`` on each training batch; ``None`` for none.
        shuffle: shuffle the training set (the validation and test sets never are).

    Returns:
        A :class:`DogsData` with the train, validation and test datasets, the class names and the set sizes.
    """
    profile = _resolve(profile, source, data_dir)
    train, validation, class_names = _train_and_validation(profile)
    test, _ = load_raw("test", profile)
    num_validation, num_test = int(validation.cardinality()), int(test.cardinality())
    num_train = int(train.cardinality()) + num_validation
    if profile.validation_steps:
        validation = validation.take(profile.validation_steps * profile.batch_size)
    if profile.test_steps:
        test = test.take(profile.test_steps * profile.batch_size)
    in_model = isinstance(augment, FastAugment) and decide(profile).augment_in_model
    if augment is not None and not isinstance(augment, FastAugment):
        augment = _on_float32(augment)

    def pipeline(examples, split, **options):
        return fast_pipeline(
            examples,
            profile.image_size,
            profile.batch_size,
            seed=profile.seed,
            cache_name=_cache_name(profile, split),
            **options,
        )

    return DogsData(
        train=pipeline(
            train,
            "train",
            augment=None if in_model else augment,
            keep_uint8=in_model,
            shuffle=shuffle,
            repeat=bool(profile.steps_per_epoch),
        ),
        test=pipeline(test, "test", shuffle=False),
        class_names=class_names,
        num_train=num_train,
        num_test=num_test,
        profile=profile,
        train_augmentation=augment if in_model else None,
        validation=pipeline(validation, "validation", shuffle=False),
        num_validation=num_validation,
    )


def _cache_name(profile: Profile, split: str) -> str:
    """The start of a file cache's name: the train and validation sets depend on the held-out examples."""
    if split == "test":
        return f"{profile.source}-test"
    return f"{profile.source}-{split}-holdout{profile.validation_fraction:g}-seed{profile.seed}"


def _train_and_validation(profile: Profile) -> tuple[tf.data.Dataset, tf.data.Dataset, list[str]]:
    """The official training split cut in two by :func:`validation_mask`: train, validation, class names."""
    examples, class_names = load_raw("train", profile)
    held_out = _held_out(profile)
    return _select(examples, ~held_out), _select(examples, held_out), class_names


@functools.lru_cache(maxsize=8)
def _held_out(profile: Profile) -> np.ndarray:
    """:func:`validation_mask` over ``profile``'s official training split, read once per profile and session:
    reading the labels decodes every training image, and a lesson asks for the split several times
    (:func:`load_dogs`, then the features of the training and validation images)."""
    examples, _ = load_raw("train", profile)
    mask = validation_mask(_labels(examples), profile.validation_fraction, profile.seed)
    mask.setflags(write=False)
    return mask


def _labels(examples: tf.data.Dataset) -> np.ndarray:
    """The integer labels of (image, label) ``examples``, in order."""
    labels = examples.map(lambda image, label: label, num_parallel_calls=tf.data.AUTOTUNE)
    return np.fromiter(labels.as_numpy_iterator(), dtype=np.int64, count=int(examples.cardinality()))


def _select(examples: tf.data.Dataset, keep: np.ndarray) -> tf.data.Dataset:
    """The ``examples`` whose position is True in ``keep``, in order, with their count known."""
    kept = tf.constant(keep)
    chosen = examples.enumerate().filter(lambda index, example: tf.gather(kept, index))
    chosen = chosen.map(lambda index, example: example, num_parallel_calls=tf.data.AUTOTUNE)
    return chosen.apply(tf.data.experimental.assert_cardinality(int(keep.sum())))


def _on_float32(augment: Callable) -> Callable:
    """``augment`` fed float32 batches, for layers that do not take uint8 pixels."""

    def augment_float32(images, training=True):
        return augment(tf.cast(images, tf.float32), training=training)

    return augment_float32


def _resolve(profile: Profile | str | None, source: str | None, data_dir: str | None) -> Profile:
    profile = get_profile(profile)
    source = source or profile.source
    if source not in SOURCES:
        raise DataSourceError(f"Unknown data source {source!r}. Valid sources: {', '.join(SOURCES)}.")
    return replace(profile, source=source, data_dir=data_dir or profile.data_dir)


def _decode(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """(encoded image, label) -> (uint8 RGB image, label); JPEG, PNG, GIF or BMP."""

    def decode(encoded, label):
        return tf.io.decode_image(encoded, channels=3, expand_animations=False), label

    return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def _tfds_split(split: str, profile: Profile) -> tuple[tf.data.Dataset, list[str]]:
    import requests
    import tensorflow_datasets as tfds

    try:
        dataset, info = tfds.load(
            "stanford_dogs", split=split, as_supervised=True, with_info=True, **_tfds_folders(profile)
        )
    except (requests.exceptions.RequestException, tfds.download.DownloadError) as error:
        raise DataSourceError(
            f"Downloading Stanford Dogs through TensorFlow Datasets failed ({error}). Check the internet "
            f"connection. {OFFLINE_SOURCES_HINT}"
        ) from error
    except ModuleNotFoundError as error:
        raise DataSourceError(
            f"TensorFlow Datasets needs the package {error.name!r} to prepare Stanford Dogs: pip install {error.name}"
        ) from error
    return dataset, _tfds_class_names(info.features["label"].names)


def _tfds_folders(profile: Profile) -> dict:
    """``tfds.load`` arguments for where the data set goes: ``profile.data_dir`` if set, else the work
    folder's ``tensorflow_datasets/`` (prepared once, reused by every lesson and session), else TFDS's
    default. With a work folder the downloaded archives (about 780 MB, needed only while preparing)
    stay on the local disk, so they take neither time nor space on Google Drive."""
    if profile.data_dir:
        return {"data_dir": profile.data_dir}
    prepared = work_path(profile, "tensorflow_datasets")
    if prepared is None:
        return {"data_dir": None}
    downloads = Path(tempfile.gettempdir()) / "course-tfds-downloads"
    return {"data_dir": str(prepared), "download_and_prepare_kwargs": {"download_dir": str(downloads)}}


def _tfds_class_names(label_names: list[str]) -> list[str]:
    """TFDS names the labels after the sorted folder names (the official order); before the
    dataset is prepared (as under ``tfds.testing.mock_data``) they are only "0" to "119"."""
    if label_names == [str(index) for index in range(NUM_CLASSES)]:
        label_names = list(STANFORD_DOGS_FOLDERS)
    return [readable_breed(name) for name in label_names]


def _archive_split(split: str, profile: Profile) -> tuple[tf.data.Dataset, list[str]]:
    import scipy.io

    if not profile.data_dir:
        raise DataSourceError(
            "source='archive' needs data_dir: the folder holding Images/ and lists/ extracted from "
            f"images.tar and lists.tar ({ARCHIVE_URL}). Pass data_dir=... or set COURSE_DATA_DIR."
        )
    root = Path(profile.data_dir)
    images = root / "Images"
    if not images.is_dir():
        raise DataSourceError(
            f"No Images folder in {root}. Extract images.tar ({ARCHIVE_URL}) there, so that "
            f"{images / STANFORD_DOGS_FOLDERS[0]} holds JPEG files."
        )
    list_file = root / "lists" / f"{split}_list.mat"
    if not list_file.is_file():
        raise DataSourceError(
            f"Missing {list_file}. Extract lists.tar ({ARCHIVE_URL}) into {root}: it holds "
            "lists/train_list.mat and lists/test_list.mat."
        )
    folders = sorted(path.name for path in images.iterdir() if path.is_dir())
    contents = scipy.io.loadmat(list_file, squeeze_me=True)
    relative_paths = [str(path) for path in np.atleast_1d(contents["file_list"])]
    labels = np.atleast_1d(contents["labels"]).astype(np.int64) - 1
    _check_archive_list(list_file, images, folders, relative_paths, labels)
    paths = [str(images / path) for path in relative_paths]

    def read(path, label):
        return tf.io.read_file(path), label

    files = tf.data.Dataset.from_tensor_slices((paths, labels)).map(read)
    return _decode(files), [readable_breed(folder) for folder in folders]


def _check_archive_list(list_file: Path, images: Path, folders: list[str], paths: list[str], labels) -> None:
    """Each listed file must exist and sit in the folder its label names (labels count folders from 1)."""
    if len(folders) != NUM_CLASSES:
        raise DataSourceError(
            f"{images} has {len(folders)} breed folders, Stanford Dogs has {NUM_CLASSES}. "
            f"Extract the complete images.tar ({ARCHIVE_URL}) there."
        )
    for path, label in zip(paths, labels, strict=True):
        if not (0 <= label < NUM_CLASSES and path.split("/")[0] == folders[label]):
            raise DataSourceError(
                f"{list_file} gives label {label + 1} to {path}, which is not in breed folder {label + 1} "
                f"of {images} (labels run from 1 to {NUM_CLASSES} over the sorted folders). "
                "Use the official lists.tar."
            )
    missing = [path for path in paths if not (images / path).is_file()]
    if missing:
        raise DataSourceError(
            f"{len(missing)} image(s) listed in {list_file} are missing from {images}, for example "
            f"{missing[0]}. Extract the complete images.tar ({ARCHIVE_URL}) there."
        )


def _synthetic_split(split: str, profile: Profile) -> tuple[tf.data.Dataset, list[str]]:
    size = profile.synthetic_train_size if split == "train" else profile.synthetic_test_size
    rng = np.random.default_rng([profile.seed, SPLITS.index(split)])
    labels = np.arange(size, dtype=np.int64) % NUM_CLASSES
    palettes = class_palettes()
    jpegs = [tf.io.encode_jpeg(synthetic_image(rng, *palettes[label]), quality=90).numpy() for label in labels]
    class_names = [readable_breed(folder) for folder in STANFORD_DOGS_FOLDERS]
    return _decode(tf.data.Dataset.from_tensor_slices((jpegs, labels))), class_names
