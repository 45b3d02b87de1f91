"""The package versions live in pyproject.toml; environment.yml must say the same."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["dev"]


def _environment_pip_requirements():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [item["pip"] for item in environment["dependencies"] if isinstance(item, dict)]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    return [requirement for requirement in pip_sections[0] if requirement != "-e ."]


def test_environment_yml_agrees_with_pyproject():
    assert sorted(_environment_pip_requirements()) == sorted(_pyproject_requirements())


def test_environment_yml_installs_the_course_package():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert "-e ." in pip_section


def test_tensorflow_is_a_range_that_colab_satisfies():
    tensorflow = next(r for r in _pyproject_requirements() if r.startswith("tensorflow") and "datasets" not in r)
    assert tensorflow.startswith("tensorflow>=") and "==" not in tensorflow
