"""The full profile rehearsed offline: its own code path run end to end on generated stand-ins for
its two downloads (course_tools.standins), the official Stanford Dogs archive and Keras's ImageNet file.

Only the step counts and epochs are cut; everything else is the ``full`` profile's (224 px, batch 64,
graph mode, the ``archive`` source, weights from a file). ``pytest -m rehearsal`` runs the rehearsal
alone.
"""

import dataclasses
import re
import tarfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds
from PIL import Image

from course import __main__ as course_command  # python -m course
from course import acceleration, runtime
from course.approaches import RunResult, load_augmented_data, warn_if_not_meaningful
from course.breeds import STANFORD_DOGS_FOLDERS
from course.config import NUM_CLASSES, PROFILES, Profile, get_profile
from course.data import readable_breed
from course.downloads import ARCHIVE_MARK, WEIGHTS_FILE_NAME, standin_reasons
from course.models import IMAGENET_STDDEV_RGB, build_transfer_model
from course_tools.standins import (
    IMAGENET_MEAN_RGB,
    MAT_HEADER,
    StandInError,
    main,
    per_breed_counts,
    standin_image_shape,
    write_standin_archive,
    write_standin_weights,
)

pytestmark = pytest.mark.slow

TRAIN_COUNT, TEST_COUNT = 2 * NUM_CLASSES, NUM_CLASSES  # the quick archive: 2 + 1 images per breed
FILE_NAME = re.compile(r"^(n\d{8})_\d+\.jpg$")
# What the rehearsal cuts from the full profile; every other setting stays the full profile's.
CUT = {
    "steps_per_epoch": 2,
    "validation_steps": 1,
    "test_steps": 1,
    "epochs_scratch": 1,
    "epochs_frozen": 1,
    "epochs_finetune": 1,
}


@pytest.fixture(scope="module")
def standin_archive(tmp_path_factory) -> Path:
    return write_standin_archive(tmp_path_factory.mktemp("stanford_dogs"), TRAIN_COUNT, TEST_COUNT)


@pytest.fixture(scope="module")
def standin_weights(tmp_path_factory) -> Path:
    return write_standin_weights(tmp_path_factory.mktemp("weights"))


def read_list(path: Path) -> dict[str, np.ndarray]:
    """A list file as MATLAB stores it (no squeezing): the shapes and types the real files have."""
    return scipy.io.loadmat(path)


def cells(column: np.ndarray) -> list[str]:
    """An N x 1 cell array of strings -> the strings."""
    return [str(cell.item()) for cell in column[:, 0]]


def archive_files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


# --- the archive -----------------------------------------------------------------------------------


def test_standin_archive_has_the_official_layout(standin_archive):
    images = standin_archive / "Images"
    assert sorted(path.name for path in images.iterdir()) == list(STANFORD_DOGS_FOLDERS)
    on_disk = set()
    for folder in STANFORD_DOGS_FOLDERS:
        for path in (images / folder).iterdir():
            match = FILE_NAME.match(path.name)
            assert match and match.group(1) == folder.split("-")[0], path
            with Image.open(path) as image:
                assert (image.format, image.mode) == ("JPEG", "RGB")
            on_disk.add(f"{folder}/{path.name}")
    assert (standin_archive / ARCHIVE_MARK).is_file()

    listed = {}
    for split, count in (("train", TRAIN_COUNT), ("test", TEST_COUNT), ("file", TRAIN_COUNT + TEST_COUNT)):
        contents = read_list(standin_archive / "lists" / f"{split}_list.mat")
        assert contents["__header__"].startswith(b"MATLAB 5.0 MAT-file") and contents["__header__"] == MAT_HEADER
        files, annotations, labels = contents["file_list"], contents["annotation_list"], contents["labels"]
        assert files.shape == annotations.shape == labels.shape == (count, 1)
        assert files.dtype == annotations.dtype == object and labels.dtype == np.float64
        names = cells(files)
        assert cells(annotations) == [name.removesuffix(".jpg") for name in names]
        assert [STANFORD_DOGS_FOLDERS[int(label) - 1] for label in labels[:, 0]] == [
            name.split("/")[0] for name in names
        ]
        assert np.all(np.diff(labels[:, 0]) >= 0), "the lists run through the breeds in folder order"
        listed[split] = names
    assert not set(listed["train"]) & set(listed["test"])
    assert set(listed["train"]) | set(listed["test"]) == set(listed["file"]) == on_disk


def test_counts_are_spread_over_the_breeds():
    assert per_breed_counts(12_000) == [100] * NUM_CLASSES
    test_counts = per_breed_counts(8_580)
    assert sum(test_counts) == 8_580 and set(test_counts) == {71, 72}
    with pytest.raises(StandInError, match="at least one image per breed"):
        per_breed_counts(NUM_CLASSES - 1)


def test_standin_image_sizes_follow_the_archive():
    rng = np.random.default_rng(1)
    heights, widths = np.array([standin_image_shape(rng) for _ in range(20_580)]).T
    long_sides = np.maximum(heights, widths)
    assert 420 < widths.mean() < 470 and 370 < heights.mean() < 420  # the archive: about 443 x 386
    assert 0.75 < np.mean(long_sides == 500) < 0.85
    assert long_sides.min() >= 200 and 3000 < long_sides.max() <= 3264


def test_standin_archive_files_are_deterministic(standin_archive, tmp_path):
    again = write_standin_archive(tmp_path / "again", TRAIN_COUNT, TEST_COUNT)
    assert archive_files(again) == archive_files(standin_archive)
    other_seed = write_standin_archive(tmp_path / "other", NUM_CLASSES, NUM_CLASSES, seed=1)
    pictures = {content for name, content in archive_files(standin_archive).items() if name.startswith("Images/")}
    assert pictures.isdisjoint(archive_files(other_seed).values())


def test_standin_archive_is_only_written_into_an_empty_folder(standin_archive):
    with pytest.raises(StandInError, match="already holds Images/ or lists/"):
        write_standin_archive(standin_archive, TRAIN_COUNT, TEST_COUNT)


def write_annotations(root: Path, annotations: Path) -> None:
    """annotation.tar's files (Annotation/<folder>/<wnid>_<n>, PASCAL VOC XML), one whole-image box each;
    TFDS's builder reads them, course.data does not."""
    for path in (root / "Images").glob("*/*.jpg"):
        with Image.open(path) as image:
            width, height = image.size
        folder = annotations / path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.stem).write_text(
            f"<annotation><filename>{path.stem}</filename><size><width>{width}</width><height>{height}</height>"
            f"<depth>3</depth></size><object><name>{path.parent.name.split('-', 1)[1]}</name><bndbox><xmin>0</xmin>"
            f"<ymin>0</ymin><xmax>{width}</xmax><ymax>{height}</ymax></bndbox></object></annotation>"
        )


class UnpackedDownloads:
    """TFDS's download manager for stanford_dogs once its three files are downloaded: images.tar
    as a file, lists.tar and annotation.tar extracted."""

    def __init__(self, images_tar: Path, lists: Path, annotations: Path):
        self.images_tar, self.lists, self.annotations = images_tar, lists, annotations

    def download(self, url):
        assert url.endswith("/images.tar")
        return str(self.images_tar)

    def download_and_extract(self, urls):
        assert [url.rsplit("/", 1)[1] for url in urls] == ["lists.tar", "annotation.tar"]
        return [str(self.lists), str(self.annotations)]

    def iter_archive(self, path):
        return tfds.download.iter_archive(path, tfds.download.ExtractMethod.TAR)


def test_tfds_stanford_dogs_builder_reads_the_standin_archive(standin_archive, tmp_path):
    images_tar = tmp_path / "images.tar"
    with tarfile.open(images_tar, "w") as tar:
        tar.add(standin_archive / "Images", arcname="Images")
    write_annotations(standin_archive, tmp_path / "annotation" / "Annotation")
    builder = tfds.builder_cls("stanford_dogs")(data_dir=str(tmp_path / "tfds"))
    downloads = UnpackedDownloads(images_tar, standin_archive / "lists", tmp_path / "annotation")
    generators = builder._split_generators(downloads)
    label_feature = builder.info.features["label"]
    assert label_feature.names == [folder.lower() for folder in STANFORD_DOGS_FOLDERS]
    for generator, count in zip(generators, (TRAIN_COUNT, TEST_COUNT), strict=True):
        examples = 0
        for key, example in builder._generate_examples(**generator.gen_kwargs):
            encoded = builder.info.features.encode_example(example)  # reads the image as it is yielded
            folder = key.split("/")[1]
            assert encoded["label"] == STANFORD_DOGS_FOLDERS.index(folder)
            assert len(encoded["objects"]["bbox"]) == 1
            examples += 1
        assert examples == count, generator.name


# --- the weights -----------------------------------------------------------------------------------


def text(attribute) -> list[str]:
    return [name.decode() if isinstance(name, bytes) else str(name) for name in attribute]


def normalization_weights(model: keras.Model) -> list[np.ndarray]:
    return next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization)).get_weights()


def test_standin_weights_are_saved_like_the_keras_imagenet_file(standin_weights):
    assert standin_weights.name == WEIGHTS_FILE_NAME == "efficientnetb0_notop.h5"
    with h5py.File(standin_weights, "r") as stream:  # legacy HDF5: one group per layer, named in an attribute
        layer_names = text(stream.attrs["layer_names"])
        weight_names = text(stream["stem_bn"].attrs["weight_names"])
    plain = keras.applications.EfficientNetB0(include_top=False, weights=str(standin_weights))
    assert layer_names[:3] == ["input_1", "rescaling", "normalization"]  # as a fresh process names them
    assert layer_names[3:] == [layer.name for layer in plain.layers[3:]]
    assert weight_names == [f"stem_bn/{name}:0" for name in ("gamma", "beta", "moving_mean", "moving_variance")]
    mean, variance, _ = normalization_weights(plain)
    np.testing.assert_allclose(mean.ravel(), IMAGENET_MEAN_RGB, rtol=1e-6)
    np.testing.assert_allclose(variance.ravel(), IMAGENET_STDDEV_RGB, rtol=1e-6)


def test_build_transfer_model_loads_the_standin_weights(standin_weights):
    """Every backbone weight as in the file, except the Normalization variance: squared, as for
    the real file (course.models._square_imagenet_variance)."""
    plain = keras.applications.EfficientNetB0(include_top=False, weights=str(standin_weights))
    model = build_transfer_model(NUM_CLASSES, 224, weights=standin_weights)
    backbone = model.layers[1 : len(plain.layers)]  # the image input, the backbone, then the head
    assert [type(layer) for layer in backbone] == [type(layer) for layer in plain.layers[1:]]
    compared = 0
    for layer, loaded in zip(plain.layers[1:], backbone, strict=True):
        if isinstance(layer, keras.layers.Normalization):
            mean, variance, count = layer.get_weights()
            expected = [mean, np.square(variance), count]
        else:
            expected = layer.get_weights()
        for actual, wanted in zip(loaded.get_weights(), expected, strict=True):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
            compared += 1
    assert compared == len(plain.weights)
    np.testing.assert_allclose(normalization_weights(model)[1].ravel(), np.square(IMAGENET_STDDEV_RGB), rtol=1e-6)


def test_standin_weights_are_deterministic_and_kept_out_of_the_keras_cache(standin_weights, tmp_path, monkeypatch):
    assert write_standin_weights(tmp_path / "again").read_bytes() == standin_weights.read_bytes()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(StandInError, match="Keras's cache, where weights='imagenet' looks"):
        write_standin_weights(tmp_path / "keras" / "models")


def test_runs_on_standins_say_their_accuracies_mean_nothing(standin_archive, standin_weights, tmp_path, capsys):
    profile = get_profile("full", source="archive", data_dir=str(standin_archive), weights=str(standin_weights))
    assert profile.meaningful  # by its settings alone the run would look like the real thing
    warn_if_not_meaningful(profile)
    note = capsys.readouterr().err
    assert "generated stand-in, not Stanford Dogs" in note and "RANDOM stand-in weights" in note
    assert standin_reasons(get_profile("full", source="archive", data_dir=str(tmp_path))) == []


def test_command_writes_both_standins(tmp_path, capsys):
    assert main(["archive", str(tmp_path / "dogs"), "--train-count", "120", "--test-count", "120"]) == 0
    assert "240 JPEGs" in capsys.readouterr().out
    assert main(["archive", str(tmp_path / "dogs"), "--train-count", "120", "--test-count", "120"]) == 2
    assert "write the stand-in into an empty folder" in capsys.readouterr().err
    assert main(["weights", str(tmp_path / "weights")]) == 0
    assert (tmp_path / "weights" / WEIGHTS_FILE_NAME).is_file()


# --- the rehearsal ---------------------------------------------------------------------------------


def rehearsal_profile(archive: Path, weights: Path, work_dir: Path) -> Profile:
    """The full profile on the stand-ins, with only its step counts and epochs cut, a work folder for its
    checkpoints and saved frozen model, the explicit override of its refusal to train on a CPU, and the
    augmentation placed as on a GPU (inside the training step; mixed precision and XLA stay as this
    machine decides, since float16 and XLA compilation on a CPU would take the test's minutes many times)."""
    return get_profile(
        "full",
        source="archive",
        data_dir=str(archive),
        weights=str(weights),
        work_dir=str(work_dir),
        allow_cpu=True,
        augment_in_model=True,
        **CUT,
    )


def rehearse(profile: Profile, out: Path) -> list[RunResult]:
    """The run, driven exactly as ``python -m course --profile full`` drives it (``course.__main__.run``):
    the one place the rehearsal trains. What ``run`` and ``course.approaches`` apply around training
    (the acceleration decision before the models are built, checkpoints) applies here as well."""
    return course_command.run(profile, out)


@pytest.mark.rehearsal
def test_full_profile_rehearsal(standin_archive, standin_weights, tmp_path, without_gpu):
    work_dir = tmp_path / "work"
    profile = rehearsal_profile(standin_archive, standin_weights, work_dir)
    with pytest.raises(runtime.AcceleratorRequiredError, match="T4 GPU"):
        rehearse(dataclasses.replace(profile, allow_cpu=False), tmp_path / "refused")
    full = PROFILES["full"]
    kept = {name: getattr(full, name) for name in ("image_size", "batch_size", "run_eagerly", "seed", "verbose")}
    assert (
        {name: getattr(profile, name) for name in kept}
        == kept
        == {
            "image_size": 224,
            "batch_size": 64,
            "run_eagerly": False,
            "seed": 42,
            "verbose": "auto",
        }
    )
    assert (profile.name, profile.source) == ("full", "archive")

    data = load_augmented_data(profile)
    assert (data.num_train, data.num_test) == (TRAIN_COUNT, TEST_COUNT)
    assert data.class_names == [readable_breed(folder) for folder in STANFORD_DOGS_FOLDERS]
    images, labels = next(iter(data.train))
    assert images.shape == (64, 224, 224, 3) and labels.shape == (64, NUM_CLASSES)
    assert images.dtype == "uint8" and data.train_augmentation is not None  # augmented on the accelerator
    assert data.num_validation == TRAIN_COUNT // 10  # the full profile holds out 10 % of the 240
    assert [batch[0].shape[0] for batch in data.validation] == [TRAIN_COUNT // 10]  # one batch, all of them
    assert [batch[0].shape[0] for batch in data.test] == [64]  # test_steps=1 batch of 64

    scratch, frozen, finetuned = rehearse(profile, tmp_path / "outputs")
    assert acceleration.applied() == acceleration.decide(profile)
    assert acceleration.applied().augment_in_model
    assert keras.config.dtype_policy().name == acceleration.applied().dtype_policy
    assert (scratch.name, frozen.name, finetuned.name) == ("scratch", "frozen", "fine-tuned")
    for result in (scratch, frozen, finetuned):
        assert result.epochs == 1
        assert np.isfinite(result.history["loss"]).all() and np.isfinite(result.history["val_loss"]).all()
        assert 0 <= result.final_val_accuracy <= 1 and 0 <= result.test_accuracy <= 1
    assert sorted(path.name for path in (tmp_path / "outputs").iterdir()) == [
        "comparison.png",
        "finetuned.png",
        "frozen.png",
        "scratch.png",
    ]
    saved = runtime.saved_model_path(profile, "frozen")
    assert saved.parent == work_dir / "models" and saved.is_file()
    assert [path for path in (work_dir / "checkpoints").rglob("*") if path.is_file()] == []  # finished: no backup left


def test_python_m_course_runs_the_profile_it_is_given(monkeypatch, tmp_path):
    driven = []
    monkeypatch.setattr(course_command, "run", lambda profile, out: driven.append((profile, out)))
    course_command.main(["--profile", "grade", "--out", str(tmp_path)])
    assert driven == [(get_profile("grade"), tmp_path)]
