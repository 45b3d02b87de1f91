"""Is this Python environment ready for the lessons? Every lesson's setup cell checks, right after it installs.

On Colab the setup cell installs the course and what the runtime lacks; a package that is still
missing or cannot be imported would otherwise surface many cells later, in the middle of a download
or a training run. :func:`check_environment` imports everything a lesson's code paths need, the real data
path included, and stops with what is wrong and what to do. A TensorFlow or Keras newer than any in
:data:`TESTED_RUNTIMES` is no error: the check says so and names the tested versions.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from typing import NamedTuple

from course.errors import CourseError

SETUP_FIX = (
    "On Colab, run the setup cell again; if this message stays, choose Runtime > Disconnect and delete "
    "runtime, then Runtime > Run all. Elsewhere, install the course into this environment: "
    "pip install -e . in the course folder."
)


class KnownRuntime(NamedTuple):
    """A TensorFlow and Keras pair every lesson ran on in CI, and the run that shows it."""

    tensorflow: str
    keras: str
    where: str


# tests/course/test_setup_check.py fails when the development or Colab stand-in virtualenv runs a pair not listed.
TESTED_RUNTIMES = (
    KnownRuntime("2.20.0", "3.13.2", "the Colab stand-in, Colab's runtime of 2026-08-19 (make test)"),
    KnownRuntime("2.21.0", "3.15.1", "the development virtualenv (make test)"),
    KnownRuntime("2.22.0rc0", "3.15.1", "the newest on PyPI on 2026-12-05 (make next-runtime)"),
)


class EnvironmentNotReady(CourseError, RuntimeError):
    """A package the lessons need is missing or cannot be imported."""


def _tensorflow_datasets_problem() -> str | None:
    """TFDS logs, rather than raises, an import that failed half-way: import its parts to see the errors."""
    failures = []
    for module in ("tensorflow_metadata.proto.v0.schema_pb2", "importlib_resources"):
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 (protobuf's VersionError is no ImportError)
            why = (
                "it is not installed" if isinstance(error, ModuleNotFoundError) else f"{type(error).__name__}: {error}"
            )
            failures.append(f"importing {module} failed ({why})")
    if not failures:
        problem = _import_problem("tensorflow_datasets", "TensorFlow Datasets")
        if problem:
            return problem
        if not hasattr(sys.modules["tensorflow_datasets"], "builder"):
            failures.append("it imported only in part (see the error logged above)")
    return "TensorFlow Datasets cannot prepare Stanford Dogs: " + ", ".join(failures) if failures else None


def _import_problem(module: str, package: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as error:  # noqa: BLE001 (a broken install raises anything)
        return f"{package} cannot be imported ({type(error).__name__}: {error})"
    return None


def check_environment() -> str:
    """Import what the lessons need; return a one-line summary, or raise :class:`EnvironmentNotReady`."""
    problems = [
        problem
        for problem in (
            _import_problem("tensorflow", "TensorFlow"),
            _import_problem("keras", "Keras"),
            _import_problem("keras_cv", "KerasCV"),
            _tensorflow_datasets_problem(),
        )
        if problem
    ]
    if problems:
        raise EnvironmentNotReady(
            "This runtime is not ready for the lessons: " + "; ".join(problems) + ". " + SETUP_FIX
        )
    from course.acceleration import gpu_available  # imports Keras: only once the imports above work

    versions = ", ".join(
        f"{name} {importlib.metadata.version(package)}"
        for name, package in (("TensorFlow", "tensorflow"), ("Keras", "keras"), ("KerasCV", "keras-cv"))
    )
    summary = f"Runtime ready: {versions}; {'a GPU' if gpu_available() else 'no GPU'}."
    untested = newer_than_tested(importlib.metadata.version("tensorflow"), importlib.metadata.version("keras"))
    return f"{summary}\n{untested}" if untested else summary


def newer_than_tested(tensorflow: str, keras: str) -> str | None:
    """What to know when ``tensorflow`` or ``keras`` is newer than every version in :data:`TESTED_RUNTIMES`."""
    from packaging.version import Version

    newer = [
        f"{name} {version}"
        for name, version, tested in (
            ("TensorFlow", tensorflow, [runtime.tensorflow for runtime in TESTED_RUNTIMES]),
            ("Keras", keras, [runtime.keras for runtime in TESTED_RUNTIMES]),
        )
        if Version(version) > max(map(Version, tested))
    ]
    if not newer:
        return None
    verb = "are" if len(newer) > 1 else "is"
    known = "; ".join(f"TensorFlow {runtime.tensorflow} with Keras {runtime.keras}" for runtime in TESTED_RUNTIMES)
    return (
        f"Not tested yet: {' and '.join(newer)} {verb} newer than the course's tested versions ({known}). "
        "The lessons are expected to run; if a cell fails inside TensorFlow or Keras, tell your instructor "
        "and quote this line."
    )
