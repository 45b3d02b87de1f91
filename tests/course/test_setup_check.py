"""course.environment.check_environment, which every lesson's setup cell runs after installing."""

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from course.environment import TESTED_RUNTIMES, EnvironmentNotReady, check_environment, newer_than_tested
from course_tools.next_runtime import installed_versions
from tests.colab_standin import CONSTRAINTS

ROOT = Path(__file__).resolve().parents[2]


def test_this_environment_is_ready():
    assert check_environment().startswith("Runtime ready: TensorFlow ")


def test_a_missing_package_of_the_data_path_is_named_with_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "importlib_resources", None)  # import then raises ModuleNotFoundError
    with pytest.raises(EnvironmentNotReady, match=r"importing importlib_resources failed \(it is not installed\)"):
        check_environment()
    with pytest.raises(EnvironmentNotReady, match="run the setup cell again"):
        check_environment()


def test_a_missing_kerascv_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_cv", None)
    with pytest.raises(EnvironmentNotReady, match="KerasCV cannot be imported"):
        check_environment()


def test_a_runtime_newer_than_any_tested_is_ready_and_named_with_the_tested_versions(monkeypatch):
    versions = {"tensorflow": "2.99.0", "keras": "3.99.0"}
    real_version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda package: versions.get(package) or real_version(package))
    summary, note = check_environment().splitlines()
    assert summary.startswith("Runtime ready: TensorFlow 2.99.0, Keras 3.99.0, KerasCV ")
    assert note.startswith("Not tested yet: TensorFlow 2.99.0 and Keras 3.99.0 are newer than the course's tested")
    assert all(f"TensorFlow {run.tensorflow} with Keras {run.keras}" in note for run in TESTED_RUNTIMES)


@pytest.mark.parametrize(
    ("tensorflow", "keras", "newer"),
    [
        ("2.20.0", "3.13.2", None),
        ("2.16.1", "3.3.3", None),  # older than tested but within the requirements: no note
        ("2.22.0", "3.15.1", "TensorFlow 2.22.0 is newer"),  # the release after a tested release candidate
        ("2.21.0", "3.16.0rc0", "Keras 3.16.0rc0 is newer"),
    ],
)
def test_only_versions_above_every_tested_one_get_the_note(tensorflow, keras, newer):
    note = newer_than_tested(tensorflow, keras)
    assert (note is None) if newer is None else note.startswith(f"Not tested yet: {newer}")


def test_the_virtualenvs_ci_runs_are_among_the_tested_runtimes():
    """make test runs every lesson in the development virtualenv and the Colab stand-in: both pairs are listed."""
    tested = {(run.tensorflow, run.keras) for run in TESTED_RUNTIMES}
    assert (importlib.metadata.version("tensorflow"), importlib.metadata.version("keras")) in tested
    colab = installed_versions(CONSTRAINTS.read_text())
    assert (colab["tensorflow"], colab["keras"]) in tested


def test_tensorflow_and_keras_have_no_upper_bound_without_a_named_incompatibility():
    """A bound is allowed only on a line whose comment names what breaks above it."""
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    for line in lines:
        requirement = line.strip().split("#")[0].strip().strip('",')
        if re.match(r"(tensorflow|keras)\s*[<>=!~]", requirement):
            specifier = SpecifierSet(re.sub(r"^(tensorflow|keras)", "", requirement))
            assert "incompatib" in line or specifier.contains("99.0", prereleases=True), line
