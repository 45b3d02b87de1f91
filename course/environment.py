"""Is this Python environment ready for the lessons? Every lesson's setup cell checks, right after it installs.

On Colab the setup cell installs the course and what the runtime lacks; a package that is still
missing or cannot be imported would otherwise surface many cells later, in the middle of a download
or a training run. :func:`check_environment` imports everything a lesson's code paths need, the real data
path included, and stops with what is wrong and what to do.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

SETUP_FIX = (
    "On Colab, run the setup cell again; if this message stays, choose Runtime > Disconnect and delete "
    "runtime, then Runtime > Run all. Elsewhere, install the course into this environment: "
    "pip install -e . in the course folder."
)


class EnvironmentNotReady(RuntimeError):
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
    return f"Runtime ready: {versions}; {'a GPU' if gpu_available() else 'no GPU'}."
