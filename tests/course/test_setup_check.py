"""course.environment.check_environment, which every lesson's setup cell runs after installing."""

import sys

import pytest

from course.environment import EnvironmentNotReady, check_environment


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
