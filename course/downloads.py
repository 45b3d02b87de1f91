"""The files the full profile downloads, where Keras keeps them, and how to tell a generated stand-in.

The published files (the EfficientNetB0 ImageNet weights, the official Stanford Dogs archive) are named
here with their hashes; :mod:`course.models` downloads the weights, ``course_tools.caches`` prepares
and verifies both. ``course_tools.standins`` writes files in the same layout for offline rehearsals,
marked so that :func:`standin_reasons` can say a run's numbers come from stand-ins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from course.config import Profile

ARCHIVE_MARK = "STAND-IN.txt"  # in the data folder of a generated archive (course_tools.standins)
WEIGHTS_FILE_NAME = "efficientnetb0_notop.h5"  # the name keras.applications gives the ImageNet file
WEIGHTS_MARK = "course_standin"  # HDF5 attribute on the root group of generated weights


@dataclass(frozen=True)
class RemoteFile:
    """A published file: where it lives, its hash (md5 or sha256) and where it is unpacked, if anywhere."""

    name: str
    url: str
    file_hash: str
    unpack_into: str | None = None  # folder under the data folder, for archives


# keras/src/applications/efficientnet.py: BASE_WEIGHTS_PATH + "efficientnetb0_notop.h5", WEIGHTS_HASHES["b0"][1]
EFFICIENTNETB0_NOTOP = RemoteFile(
    "efficientnetb0_notop.h5",
    "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
    "50bc09e76180e00e4465e1a485ddc09d",
)
# The official archive, with the sha256 sums TFDS publishes for it (stanford_dogs/checksums.tsv).
DOGS_ARCHIVE = (
    RemoteFile(
        "images.tar",
        "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar",
        "a443fc2f9a851aa1a7b8e4fa4af94b8459fce2c9f5a2f4dd4669cf9673a4ec58",
        unpack_into=".",
    ),
    RemoteFile(
        "lists.tar",
        "http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar",
        "34b47cacd9a98b5d150e084f24d29391c084c55272295ec65c85651bc35f4d6c",
        unpack_into="lists",
    ),
)
ARCHIVE_LISTS = ("lists/train_list.mat", "lists/test_list.mat")


def keras_cache_dir() -> Path:
    """Keras's cache folder, where ``keras.applications`` looks for weights: $KERAS_HOME, else ~/.keras."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def standin_reasons(profile: Profile) -> list[str]:
    """Why ``profile``'s results mean nothing because it reads stand-ins written by this module."""
    reasons = []
    if profile.source == "archive" and profile.data_dir and (Path(profile.data_dir) / ARCHIVE_MARK).is_file():
        reasons.append(f"the archive in {profile.data_dir} is a generated stand-in, not Stanford Dogs")
    if profile.weights not in (None, "imagenet") and _is_standin_weights(Path(profile.weights)):
        reasons.append(f"the weights file {profile.weights} holds RANDOM stand-in weights, not ImageNet weights")
    return reasons


def _is_standin_weights(path: Path) -> bool:
    import h5py

    if not (path.is_file() and h5py.is_hdf5(path)):
        return False
    with h5py.File(path, "r") as stream:
        return WEIGHTS_MARK in stream.attrs
