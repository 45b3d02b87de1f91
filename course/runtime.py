"""The machine a lesson runs on: a work folder that outlives the session, and its accelerator.

A Colab session keeps nothing: each lesson would download and prepare Stanford Dogs again (about
750 MB), a disconnect would restart a 40-epoch training from zero, and lesson 5 would retrain
lesson 4's frozen phase. With a **work folder** (``drive = True`` in a lesson's parameters cell,
which mounts Google Drive on Colab; or ``COURSE_WORK_DIR`` anywhere) the expensive work is kept:

- ``tensorflow_datasets/``: the prepared data set (TFDS's ``data_dir``), reused by every lesson;
- ``checkpoints/<phase>-<profile>-<key>/``: the training state after each epoch
  (:func:`course.train.fit` with ``resume=``), so a rerun continues where the last one stopped;
- ``models/frozen-<profile>-<key>.*``: the trained frozen model (lesson 4), where lesson 5 starts.

``<key>`` is a hash of the profile's settings that shape the training, so files of one set of
settings are never mistaken for another's. The ``grade`` profile never uses a work folder: every
graded notebook runs alone. The ``full`` profile refuses to train without a GPU or TPU unless
``allow_cpu`` is set (:func:`require_accelerator`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from course import acceleration
from course.config import Profile
from course.errors import USAGE_ERROR, CourseError
from course.source_task import SOURCE_WEIGHTS, resolve_weights

WORK_DIR_ENVIRONMENT = "COURSE_WORK_DIR"
DRIVE_MOUNT_POINT = "/content/drive"
DRIVE_COURSE_FOLDER = "MyDrive/stanford-dogs-course"  # under the mount point
# Settings that change how a run executes or where it reads from, not what it trains.
_KEY_EXCLUDED = (
    "name",
    "verbose",
    "run_eagerly",
    "data_dir",
    "work_dir",
    "allow_cpu",
    "mixed_precision",
    "jit_compile",
)
SWITCH_RUNTIME_HINT = (
    "In Colab choose Runtime > Change runtime type > T4 GPU > Save, then run the notebook again from the "
    "top (the new runtime starts with an empty disk; with drive = True the prepared data set and saved "
    "models stay on your Google Drive). Or check your code first with the quick offline profile: "
    'profile = "smoke" in the parameters cell.'
)


class WorkDirError(CourseError, RuntimeError):
    """The work folder that was asked for cannot be used; the message says what to do."""

    exit_status = USAGE_ERROR


class AcceleratorRequiredError(CourseError, RuntimeError):
    """The full profile would train on a CPU, which takes hours; the message says how to switch."""

    exit_status = USAGE_ERROR


def accelerator_available() -> bool:
    """True when TensorFlow sees a GPU (:func:`course.acceleration.gpu_available`) or an initialised TPU
    (:func:`course.acceleration.distribution_strategy` initialises a TPU when it finds one)."""
    return acceleration.gpu_available() or bool(tf.config.list_logical_devices("TPU"))


def require_accelerator(profile: Profile) -> None:
    """Refuse long training on a CPU: raise :class:`AcceleratorRequiredError` in the ``full`` profile
    when there is neither a GPU nor a TPU, unless ``profile.allow_cpu``. Other profiles never refuse."""
    if profile.name != "full" or profile.allow_cpu or accelerator_available():
        return
    raise AcceleratorRequiredError(
        "This runtime has no GPU or TPU, and the full profile trains EfficientNetB0 on 224-px Stanford Dogs "
        "for the reference schedule: on a CPU that takes hours (on two CPU cores an epoch of 12,000 images "
        "takes minutes with a frozen backbone and about 20 minutes from scratch; a Colab T4 about 40 s). "
        f"{SWITCH_RUNTIME_HINT} To train on the CPU anyway, set allow_cpu = True in the parameters cell "
        "(or the environment variable COURSE_ALLOW_CPU=1)."
    )


def prepare_runtime(
    profile: Profile, drive: bool = False, allow_cpu: bool = False, *, mount: Callable[[str], None] | None = None
) -> Profile:
    """The lesson's profile with its work folder and CPU permission, saying what it will do.

    ``drive=True`` keeps the work folder on Google Drive: on Colab it mounts Drive (``mount``, by
    default ``google.colab.drive.mount``) and uses ``MyDrive/stanford-dogs-course``. A work folder
    already in the profile (``COURSE_WORK_DIR``, or set explicitly) is used as it is, Colab or not;
    elsewhere ``drive=True`` without one is an error. ``allow_cpu=True`` lets the ``full`` profile
    train without a GPU or TPU. The ``grade`` profile ignores ``drive``. Prints the work folder and,
    in the ``full`` profile on a machine without an accelerator, how to switch the runtime.
    ``weights="synthetic-source"`` (the ``demo`` profile) becomes the cached file of those weights,
    pretrained here first when it is missing (:func:`course.source_task.source_weights`).
    """
    if drive and profile.name == "grade":
        print("drive = True is ignored in the grade profile: every graded notebook runs on its own.")
    elif drive and not profile.work_dir:
        profile = dataclasses.replace(profile, work_dir=_mount_drive(mount))
    if allow_cpu:
        profile = dataclasses.replace(profile, allow_cpu=True)
    if profile.weights == SOURCE_WEIGHTS:
        profile = dataclasses.replace(profile, weights=resolve_weights(profile.weights))
    if profile.work_dir:
        Path(profile.work_dir).mkdir(parents=True, exist_ok=True)
        print(f"Work folder: {profile.work_dir} (the prepared data set, training checkpoints, saved models).")
    if profile.name == "full" and not accelerator_available():
        if profile.allow_cpu:
            print("No GPU or TPU: allow_cpu = True, so the full profile trains on the CPU, which takes hours.")
        else:
            print(
                f"WARNING: this runtime has no GPU or TPU, and training in the full profile refuses to start "
                f"without one. {SWITCH_RUNTIME_HINT}"
            )
    return profile


def _mount_drive(mount: Callable[[str], None] | None) -> str:
    if mount is None:
        if importlib.util.find_spec("google.colab") is None:
            raise WorkDirError(
                "drive = True keeps the work folder on Google Drive, which is only available on Colab. "
                f"Elsewhere, set the environment variable {WORK_DIR_ENVIRONMENT} to a folder that should "
                "hold the prepared data set, checkpoints and saved models, or set drive = False."
            )
        from google.colab import drive

        mount = drive.mount
    mount(DRIVE_MOUNT_POINT)
    return str(Path(DRIVE_MOUNT_POINT) / DRIVE_COURSE_FOLDER)


def run_key(profile: Profile) -> str:
    """Eight hex digits that change with every profile setting that shapes training (data, sizes,
    epochs, learning rates, seed, weights), not with how or where it runs."""
    settings = {
        field.name: getattr(profile, field.name)
        for field in dataclasses.fields(profile)
        if field.name not in _KEY_EXCLUDED
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]


def work_path(profile: Profile, *parts: str) -> Path | None:
    """``profile.work_dir / parts``, or None when the profile has no work folder."""
    return Path(profile.work_dir, *parts) if profile.work_dir else None


def checkpoint_dir(profile: Profile, phase: str) -> Path | None:
    """Where :func:`course.train.fit` backs up the training ``phase`` (such as ``"lesson4-frozen"``) of
    ``profile``, or None without a work folder."""
    return work_path(profile, "checkpoints", f"{phase}-{profile.name}-{run_key(profile)}")


def saved_model_path(profile: Profile, name: str) -> Path | None:
    """The weights file of the trained model ``name`` (such as ``"frozen"``) for ``profile``, or None
    without a work folder. Its history and layer list are kept beside it (``.json``)."""
    return work_path(profile, "models", f"{name}-{profile.name}-{run_key(profile)}.weights.h5")
