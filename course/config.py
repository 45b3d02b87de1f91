"""Run profiles: one switch that decides how big a run is.

``full`` is the real thing (Stanford Dogs, ImageNet weights, 224 px, the reference schedule);
``smoke`` runs offline in minutes on two CPU cores; ``grade`` is smoke made deterministic and
quiet for the autograder. See :func:`get_profile` for how a profile is chosen.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from course.errors import USAGE_ERROR, CourseError

NUM_CLASSES = 120
SOURCES = ("tfds", "archive", "synthetic")
# The reference example's augmentation (keras-io "Image classification via fine-tuning with EfficientNet"):
# its RandomFlip() takes Keras' default mode, horizontal and vertical.
REFERENCE_AUGMENTATION = {
    "rotation": 0.15,
    "translation": (0.1, 0.1),
    "flip": "horizontal_and_vertical",
    "contrast": 0.1,
}
ACCELERATION_SETTINGS = ("mixed_precision", "jit_compile", "augment_in_model")


class ProfileError(CourseError, ValueError):
    """A profile name, source or override that does not exist."""

    exit_status = USAGE_ERROR


@dataclass(frozen=True)
class Profile:
    """Everything that changes between a Colab run and an offline run, as one printable record."""

    name: str
    source: str  # "tfds", "archive" or "synthetic"
    image_size: int
    batch_size: int
    epochs_scratch: int
    epochs_frozen: int
    epochs_finetune: int
    steps_per_epoch: int | None  # None: the whole training set each epoch
    validation_steps: int | None  # None: the whole validation split
    weights: str | None  # "imagenet", "synthetic-source" (course.source_task), a path to a weights file, or None
    seed: int
    verbose: int | str  # Keras fit verbosity
    run_eagerly: bool  # True skips graph building: faster for a handful of steps on a CPU
    data_dir: str | None = None  # TFDS data_dir, or the folder of the official archive
    synthetic_train_size: int = 480
    synthetic_test_size: int = 240
    # Held out of the training split, the same fraction of every breed, for the choices made while training
    # (early stopping, which model to keep); the test split is evaluated once, at the end (course.data).
    validation_fraction: float = 0.1
    test_steps: int | None = None  # None: the whole test split
    early_stopping_patience: int = 3  # epochs without a lower validation loss before training stops
    learning_rate_scratch: float = 1e-3
    learning_rate_head: float = 1e-2
    learning_rate_finetune: float = 1e-5
    finetune_layers: int = 20
    mixed_precision: bool | str = "auto"  # "auto": on in `full` when a GPU is present (see accelerated)
    jit_compile: bool | str = "auto"  # XLA; "auto" likewise
    augment_in_model: bool | str = "auto"  # FastAugment inside the training step, on the GPU; "auto" likewise
    work_dir: str | None = None  # a folder that outlives the session (Google Drive on Colab): see course.runtime
    allow_cpu: bool = False  # True: the full profile trains even without a GPU or TPU (hours instead of minutes)

    @property
    def meaningful(self) -> bool:
        """True when accuracies can be compared with the reference (real data, real weights)."""
        return self.source != "synthetic" and self.weights is not None

    def __str__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)[1:])
        return f"Profile {self.name!r}: {fields}"


# fmt: off
_SMOKE = Profile(
    name="smoke", source="synthetic", image_size=64, batch_size=16,
    epochs_scratch=2, epochs_frozen=2, epochs_finetune=1, steps_per_epoch=6, validation_steps=3,
    weights=None, seed=42, verbose=2, run_eagerly=True, validation_fraction=0.25, test_steps=3,
)
PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full", source="tfds", image_size=224, batch_size=64,
        epochs_scratch=40, epochs_frozen=25, epochs_finetune=4, steps_per_epoch=None, validation_steps=None,
        weights="imagenet", seed=42, verbose="auto", run_eagerly=False,
    ),
    "smoke": _SMOKE,
    # Transfer learning that works offline: a backbone pretrained on the synthetic source task
    # (course.source_task), few images per breed, 32 px. Scratch stays near chance; frozen and fine-tuned don't.
    # 5 training images per breed: 4 to train on, 1 held out for validation.
    "demo": dataclasses.replace(
        _SMOKE, name="demo", image_size=32, batch_size=32, epochs_scratch=4, epochs_frozen=4,
        steps_per_epoch=None, validation_steps=None, test_steps=None, weights="synthetic-source",
        run_eagerly=False, synthetic_train_size=600, synthetic_test_size=480, validation_fraction=0.2,
    ),
    # Smoke made deterministic, quiet and as short as grading allows.
    "grade": dataclasses.replace(
        _SMOKE, name="grade", epochs_scratch=1, epochs_frozen=1, steps_per_epoch=2, validation_steps=2, test_steps=2,
        seed=0, verbose=0,
    ),
}
# fmt: on


def accelerated(profile: Profile, setting: str, gpu_available: bool) -> bool:
    """Whether ``setting`` (one of ``ACCELERATION_SETTINGS``) is on for ``profile``: as set when
    True or False; when "auto", on in the ``full`` profile on a machine with a GPU and off otherwise
    (on a CPU, float16 is slower, XLA costs more compile time than it saves, and augmenting in the
    input pipeline overlaps with the training step instead of adding to it)."""
    value = _acceleration_value(profile, setting)
    if value == "auto":
        return profile.name == "full" and gpu_available
    return value


def _acceleration_value(profile: Profile, setting: str) -> bool | str:
    if setting not in ACCELERATION_SETTINGS:
        raise ProfileError(
            f"Unknown acceleration setting {setting!r}. Valid settings: {', '.join(ACCELERATION_SETTINGS)}."
        )
    value = getattr(profile, setting)
    if not (value == "auto" or isinstance(value, bool)):
        raise ProfileError(f"{setting} must be 'auto', True or False; got {value!r}.")
    return value


def profile_name_from_environment(name: str | None = None) -> str:
    """The profile name: ``name`` if given, else ``COURSE_PROFILE``, else ``grade`` under
    nbgrader (``NBGRADER_EXECUTION`` set), else ``full``."""
    if name:
        return name
    if os.environ.get("COURSE_PROFILE"):
        return os.environ["COURSE_PROFILE"]
    if os.environ.get("NBGRADER_EXECUTION"):
        return "grade"
    return "full"


def get_profile(name: str | Profile | None = None, **overrides) -> Profile:
    """Resolve a profile (see :func:`profile_name_from_environment`) and apply ``overrides``.

    ``COURSE_SOURCE`` and ``COURSE_DATA_DIR`` override the source and data folder of any profile,
    so a GPU runner can point the ``full`` profile at a local copy of the official archive.
    ``COURSE_WORK_DIR`` sets the work folder (:mod:`course.runtime`) of every profile but ``grade``,
    whose graded notebooks each run alone; ``COURSE_ALLOW_CPU=1`` sets ``allow_cpu``. A
    :class:`Profile` passed in is taken as already resolved: only ``overrides`` apply to it.
    """
    if isinstance(name, Profile):
        profile = name
    else:
        chosen = profile_name_from_environment(name)
        environment = {
            "source": os.environ.get("COURSE_SOURCE"),
            "data_dir": os.environ.get("COURSE_DATA_DIR"),
            "work_dir": os.environ.get("COURSE_WORK_DIR") if chosen != "grade" else None,
            "allow_cpu": _environment_flag("COURSE_ALLOW_CPU"),
        }
        overrides = {**{k: v for k, v in environment.items() if v}, **overrides}
        if chosen not in PROFILES:
            raise ProfileError(
                f"Unknown profile {chosen!r}. Valid profiles: {', '.join(PROFILES)}. "
                "Set it with get_profile('smoke') or the COURSE_PROFILE environment variable."
            )
        profile = PROFILES[chosen]
    known = {f.name for f in dataclasses.fields(Profile)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ProfileError(f"Unknown profile setting(s) {unknown}. Valid settings: {', '.join(sorted(known))}.")
    profile = dataclasses.replace(profile, **overrides)
    for setting in ACCELERATION_SETTINGS:
        _acceleration_value(profile, setting)
    if not 0 < profile.validation_fraction < 1:
        raise ProfileError(
            f"validation_fraction must be between 0 and 1 (the share of each breed's training images held out "
            f"for validation, such as 0.1); got {profile.validation_fraction!r}."
        )
    if not isinstance(profile.allow_cpu, bool):
        raise ProfileError(f"allow_cpu must be True or False; got {profile.allow_cpu!r}.")
    if profile.source not in SOURCES:
        raise ProfileError(
            f"Unknown data source {profile.source!r}. Valid sources: {', '.join(SOURCES)} ('synthetic' works offline)."
        )
    return profile


def _environment_flag(variable: str) -> bool:
    """An on/off environment variable: unset, empty, 0, false or no is off; 1, true or yes is on."""
    value = os.environ.get(variable, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ProfileError(f"{variable}={os.environ[variable]!r}: set it to 1 (on) or 0 (off).")
