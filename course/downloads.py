"""The files the full profile downloads, where Keras keeps them, and how to tell a generated stand-in.

The published files (the EfficientNetB0 ImageNet weights, the official Stanford Dogs archive) are named
here with their hashes; :mod:`course.models` downloads the weights, ``course_tools.caches`` prepares
and verifies both. ``course_tools.standins`` writes files in the same layout for offline rehearsals,
marked so that :func:`standin_reasons` can say a run's numbers come from stand-ins.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from course.config import Profile

ARCHIVE_MARK = "STAND-IN.txt"  # in the data folder of a generated archive (course_tools.standins)
WEIGHTS_FILE_NAME = "efficientnetb0_notop.h5"  # the name keras.applications gives the ImageNet file
WEIGHTS_MARK = "course_standin"  # HDF5 attribute on the root group of generated weights
SOURCE_WEIGHTS_MARK = "course_source_pretrained"  # HDF5 attribute of weights pretrained on the synthetic source task


@dataclass(frozen=True)
class RemoteFile:
    """A published file: where it lives, its hash (md5 or sha256) and where it is unpacked, if anywhere."""

    name: str
    url: str
    file_hash: str
    unpack_into: str | None = None  # folder under the data folder, for archives


# what keras.applications downloads (course.keras_private.efficientnet_published_weights, checked by a test)
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


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keras_cache_dir() -> Path:
    """Keras's cache folder, where ``keras.applications`` looks for weights: $KERAS_HOME, else ~/.keras."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def standin_reasons(profile: Profile) -> list[str]:
    """Why ``profile``'s results mean nothing because it reads stand-ins written by this module."""
    reasons = []
    if profile.source == "archive" and profile.data_dir and (Path(profile.data_dir) / ARCHIVE_MARK).is_file():
        reasons.append(f"the archive in {profile.data_dir} is a generated stand-in, not Stanford Dogs")
    if profile.weights not in (None, "imagenet") and weights_mark(Path(profile.weights), WEIGHTS_MARK) is not None:
        reasons.append(f"the weights file {profile.weights} holds RANDOM stand-in weights, not ImageNet weights")
    return reasons


def weights_mark(path: Path, mark: str) -> str | None:
    """The text of the attribute ``mark`` on the root of the HDF5 weights file ``path``; None without one."""
    import h5py

    if not (path.is_file() and h5py.is_hdf5(path)):
        return None
    with h5py.File(path, "r") as stream:
        value = stream.attrs.get(mark)
    return value.decode() if isinstance(value, bytes) else value


def save_like_the_imagenet_file(model, path: Path, marks: dict[str, str]) -> None:
    """Save ``model``'s weights in Keras 2's HDF5 format, which ``keras.applications`` reads topologically,
    with the attributes ``marks`` on the root. The root lists ``layer_names``; each layer's group lists its
    ``weight_names`` ("<layer>/<weight>:0", trainable weights first) and holds them. Layers are named as in
    a fresh process ("input_1", "rescaling", "normalization"), so that the file does not depend on the
    models built before it."""
    import h5py
    import keras

    from course.keras_private import save_attributes_to_hdf5_group

    names = [
        "input_1" if isinstance(layer, keras.layers.InputLayer) else re.sub(r"_\d+$", "", layer.name)
        for layer in model.layers
    ]
    if len(set(names)) != len(names):
        raise ValueError(f"Layer names clash once their numbers are removed: {sorted(names)}.")
    with h5py.File(path, "w") as stream:
        save_attributes_to_hdf5_group(stream, "layer_names", [name.encode() for name in names])
        stream.attrs["backend"] = b"tensorflow"
        stream.attrs["keras_version"] = keras.__version__.encode()
        for mark, text in marks.items():
            stream.attrs[mark] = text
        for layer, name in zip(model.layers, names, strict=True):
            weights = layer.trainable_weights + layer.non_trainable_weights
            weight_names = [f"{name}/{weight.name}:0" for weight in weights]
            group = stream.create_group(name)
            save_attributes_to_hdf5_group(group, "weight_names", [weight_name.encode() for weight_name in weight_names])
            for weight_name, weight in zip(weight_names, weights, strict=True):
                group.create_dataset(weight_name, data=keras.ops.convert_to_numpy(weight))
