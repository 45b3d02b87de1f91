"""Generated stand-ins for the two downloads of the ``full`` profile, to rehearse it offline.

    python -m course_tools.standins archive DIR [--train-count 12000] [--test-count 8580] [--seed 0]
    python -m course_tools.standins weights DIR [--seed 0]

``archive`` writes the official Stanford Dogs archive's layout (``images.tar`` and ``lists.tar``
unpacked): ``Images/n02085620-Chihuahua/n02085620_10074.jpg`` and so on, 120 breed folders, JPEGs
of the archive's sizes (mostly 500 px on the long side, a few much larger), and
``lists/{train,test,file}_list.mat`` as MATLAB cell arrays (``file_list``, ``annotation_list``) with
``labels`` a column of doubles from 1 to 120. The pictures are the course's synthetic "dogs", one
colour scheme per breed. ``weights`` writes ``efficientnetb0_notop.h5``: a randomly initialised
EfficientNetB0 without top in the legacy HDF5 format of Keras's ImageNet file, with the ImageNet
mean and standard deviation in its Normalization layer as that file has them.

Point the ``full`` profile at them with ``source="archive", data_dir=DIR, weights=DIR/efficientnetb0_notop.h5``.
Both carry a mark (``STAND-IN.txt``, an HDF5 attribute) so that a run on them says that its
accuracies mean nothing. Every file is the same for the same seed and counts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from course.breeds import STANFORD_DOGS_FOLDERS
from course.config import NUM_CLASSES
from course.downloads import (
    ARCHIVE_MARK,
    WEIGHTS_FILE_NAME,
    WEIGHTS_MARK,
    keras_cache_dir,
    save_like_the_imagenet_file,
)
from course.errors import USAGE_ERROR, report_error
from course.synthetic import class_palettes, synthetic_image
from course_tools.errors import CourseToolsError

# The official archive: 100 training images per breed, 20,580 in all.
ARCHIVE_TRAIN_COUNT = 12_000
ARCHIVE_TEST_COUNT = 8_580
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)  # keras/src/applications/efficientnet.py
JPEG_QUALITY = 90
# What a MAT file's 116-byte text header holds; scipy writes the time of day there, which would
# make every file different.
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by course_tools.standins: a generated stand-in, not Stanford Dogs"
_HIGHEST_FILE_NUMBER = 20_000  # official file names run up to about n02085620_14516.jpg


class StandInError(CourseToolsError, ValueError):
    """A stand-in that cannot be written as asked; the message says what to change."""

    exit_status = USAGE_ERROR


def standin_image_shape(rng: np.random.Generator) -> tuple[int, int]:
    """(height, width) of one picture, distributed like the archive's: 80% have a long side of 500 px
    (ImageNet's usual size), 19% are smaller, 1% much larger (up to 3264 px); most are 4:3 or 3:2
    and 70% are landscape. The mean is about 450 x 390 (width x height), as in the archive."""
    kind = rng.random()
    if kind < 0.01:
        long_side = int(rng.integers(600, 3265))
    elif kind < 0.20:
        long_side = int(rng.integers(200, 500))
    else:
        long_side = 500
    ratio = rng.choice([0.75, 0.667, 0.8, 1.0, 0.5625], p=[0.5, 0.25, 0.1, 0.1, 0.05])
    short_side = max(1, round(long_side * ratio))
    return (short_side, long_side) if rng.random() < 0.7 else (long_side, short_side)


def per_breed_counts(total: int) -> list[int]:
    """``total`` images spread over the 120 breeds as evenly as possible, in folder order."""
    if total < NUM_CLASSES:
        raise StandInError(
            f"A stand-in split needs at least one image per breed ({NUM_CLASSES}); got {total}. "
            f"Ask for at least {NUM_CLASSES}."
        )
    return [total // NUM_CLASSES + (label < total % NUM_CLASSES) for label in range(NUM_CLASSES)]


def write_standin_archive(
    root: str | os.PathLike,
    train_count: int = ARCHIVE_TRAIN_COUNT,
    test_count: int = ARCHIVE_TEST_COUNT,
    seed: int = 0,
) -> Path:
    """Write the stand-in archive (see the module docstring) into ``root`` and return it.

    ``train_count`` and ``test_count`` default to the archive's; smaller counts (at least 120 each)
    make a quick one. Each picture depends only on ``seed``, its breed and its file number.
    """
    root = Path(root)
    if (root / "Images").exists() or (root / "lists").exists():
        raise StandInError(f"{root} already holds Images/ or lists/; write the stand-in into an empty folder.")
    train_counts, test_counts = per_breed_counts(train_count), per_breed_counts(test_count)
    palettes = class_palettes()
    lists: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    for label, folder in enumerate(STANFORD_DOGS_FOLDERS):
        (root / "Images" / folder).mkdir(parents=True)
        wnid = folder.split("-", 1)[0]
        count = train_counts[label] + test_counts[label]
        numbers = np.random.default_rng([seed, label]).choice(_HIGHEST_FILE_NUMBER, count, replace=False) + 1
        for index, number in enumerate(numbers):
            relative = f"{folder}/{wnid}_{number}.jpg"
            rng = np.random.default_rng([seed, label, number])
            pixels = synthetic_image(rng, *palettes[label], shape=standin_image_shape(rng))
            Image.fromarray(pixels).save(root / "Images" / relative, "JPEG", quality=JPEG_QUALITY)
            lists["train" if index < train_counts[label] else "test"].append((relative, label + 1))
    (root / "lists").mkdir()
    for split, entries in (*lists.items(), ("file", lists["train"] + lists["test"])):
        _write_list(root / "lists" / f"{split}_list.mat", entries)
    (root / ARCHIVE_MARK).write_text(
        f"Generated by `python -m course_tools.standins archive` (seed {seed}): synthetic pictures in the layout of\n"
        "the official Stanford Dogs archive, for rehearsing the full profile offline. Not Stanford Dogs:\n"
        "accuracies measured on it say nothing about dogs.\n"
    )
    return root


def _write_list(path: Path, entries: list[tuple[str, int]]) -> None:
    """A list file as lists.tar has it: N x 1 cell arrays of paths and a N x 1 column of double labels."""
    files = sorted(entries, key=lambda entry: (entry[1], entry[0]))
    scipy.io.savemat(
        path,
        {
            "file_list": np.array([name for name, _ in files], dtype=object).reshape(-1, 1),
            "annotation_list": np.array([name.removesuffix(".jpg") for name, _ in files], dtype=object).reshape(-1, 1),
            "labels": np.array([label for _, label in files], dtype=np.float64).reshape(-1, 1),
        },
    )
    with open(path, "r+b") as stream:
        stream.write(MAT_HEADER.ljust(116))


def write_standin_weights(folder: str | os.PathLike, seed: int = 0) -> Path:
    """Write ``folder/efficientnetb0_notop.h5``: random EfficientNetB0 weights without top, with the
    ImageNet mean as the Normalization mean and the ImageNet standard deviation where its variance
    belongs, in the format of Keras's ImageNet file (see :func:`course.downloads.save_like_the_imagenet_file`).
    Seeds Keras's global random generators with ``seed``."""
    import keras

    from course.models import IMAGENET_STDDEV_RGB

    folder = Path(folder)
    if folder.resolve() == (keras_cache_dir() / "models").resolve():
        raise StandInError(
            f"{folder} is Keras's cache, where weights='imagenet' looks for the real file; write the "
            "stand-in weights to another folder."
        )
    keras.utils.set_random_seed(seed)
    backbone = keras.applications.EfficientNetB0(include_top=False, weights=None)
    normalization = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.Normalization))
    mean, _, count = normalization.get_weights()
    normalization.set_weights(
        [
            np.reshape(IMAGENET_MEAN_RGB, mean.shape).astype(mean.dtype),
            np.reshape(IMAGENET_STDDEV_RGB, mean.shape).astype(mean.dtype),
            count,
        ]
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WEIGHTS_FILE_NAME
    mark = f"random EfficientNetB0 weights (seed {seed}), not ImageNet's"
    save_like_the_imagenet_file(backbone, path, {WEIGHTS_MARK: mark})
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.standins", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    archive = commands.add_parser("archive", help="write a stand-in of the official archive (Images/, lists/)")
    archive.add_argument("--train-count", type=int, default=ARCHIVE_TRAIN_COUNT, help="default: the archive's 12000")
    archive.add_argument("--test-count", type=int, default=ARCHIVE_TEST_COUNT, help="default: the archive's 8580")
    weights = commands.add_parser("weights", help=f"write stand-in weights as {WEIGHTS_FILE_NAME}")
    for command in (archive, weights):
        command.add_argument("folder", type=Path, help="where to write")
        command.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "archive":
            root = write_standin_archive(args.folder, args.train_count, args.test_count, args.seed)
            print(f"stand-in archive in {root}: {_describe_images(root / 'Images')}")
        else:
            print(f"stand-in weights in {write_standin_weights(args.folder, args.seed)}")
    except StandInError as error:
        return report_error(error)
    return 0


def _describe_images(images: Path) -> str:
    sizes, total_bytes = [], 0
    for path in images.glob("*/*.jpg"):
        with Image.open(path) as image:
            sizes.append(image.size)
        total_bytes += path.stat().st_size
    widths, heights = np.array(sizes).T
    return (
        f"{len(sizes)} JPEGs, {total_bytes / 2**20:.0f} MiB, mean {widths.mean():.0f} x {heights.mean():.0f} px, "
        f"widths up to {widths.max()} px, heights up to {heights.max()} px"
    )


if __name__ == "__main__":
    sys.exit(main())
