"""The console scripts of pyproject.toml: each names a main function, the README lists them all, and an
installed script does what ``python -m`` does."""

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from course.errors import FAILED, USAGE_ERROR, CourseError
from course_tools.errors import CourseToolsError

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_every_script_names_a_main_function_of_a_runnable_module():
    for name, target in SCRIPTS.items():
        module_name, function = target.split(":")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, function)), name
        runnable = module_name if (ROOT / module_name.replace(".", "/")).with_suffix(".py").is_file() else None
        assert runnable or (ROOT / module_name / "__main__.py").is_file(), (
            f"{name}: python -m {module_name} does not run"
        )


def test_the_readme_lists_every_script_with_its_module():
    readme = (ROOT / "README.md").read_text()
    listed = dict(re.findall(r"^\| `(dogs-[a-z-]+)` \| `([a-z_.]+)` \|", readme, re.M))
    expected = {
        name: target.split(":")[0].removesuffix(".__main__").removesuffix(".cli") for name, target in SCRIPTS.items()
    }
    assert listed == expected


def test_an_installed_script_prints_what_python_dash_m_prints():
    script = Path(sys.executable).with_name("dogs-course-estimates")
    assert script.is_file(), f"{script} is missing: reinstall with pip install -e ."
    installed = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    module = subprocess.run(
        [sys.executable, "-m", "course_tools.estimates"], capture_output=True, text=True, check=True
    )
    assert installed.stdout == module.stdout
    assert "| the course |" in installed.stdout


def test_the_autograder_script_shows_its_commands():
    script = Path(sys.executable).with_name("dogs-autograder")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for command in ("release", "collect", "grade", "report", "feedback", "export"):
        assert command in result.stdout


# One exit-status rule for the commands of course/ and course_tools/ (course.errors): 2 for a usage or
# configuration error, 1 for a failed check or run.
COURSE_SCRIPTS = {name: target for name, target in SCRIPTS.items() if target.startswith(("course.", "course_tools."))}


def _main(name):
    module_name, function = COURSE_SCRIPTS[name].split(":")
    return getattr(importlib.import_module(module_name), function)


@pytest.mark.parametrize("name", sorted(COURSE_SCRIPTS))
def test_a_bad_argument_exits_with_status_2(name, capsys):
    with pytest.raises(SystemExit) as stopped:
        _main(name)(["--no-such-option"])
    assert stopped.value.code == USAGE_ERROR
    error = capsys.readouterr().err
    assert error.startswith("usage: ") and "error: " in error


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("dogs-course", [], "Unknown profile 'no-such-profile'"),
        ("dogs-course-gates", ["{tmp}", "--config", "{tmp}/missing.toml"], "missing.toml"),
        ("dogs-course-lessons", ["--profile", "smoke", "--out", "{tmp}/out", "--root", "{tmp}"], "No lesson folder"),
        ("dogs-course-caches", ["prepare", "--profile", "smoke", "--source", "archive"], "needs a data folder"),
        ("dogs-course-standins", ["archive", "{tmp}/dogs", "--train-count", "5"], "at least one image per breed"),
    ],
)
def test_a_configuration_error_exits_with_status_2(name, arguments, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "no-such-profile")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert _main(name)([argument.format(tmp=tmp_path) for argument in arguments]) == USAGE_ERROR
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error


def test_a_failed_check_exits_with_status_1(tmp_path, capsys):
    assert _main("dogs-course-caches")(["verify", "--manifest", str(tmp_path / "caches.json")]) == FAILED
    assert "No cache manifest" in capsys.readouterr().err


def _error_classes(package):
    for path in sorted((ROOT / package).glob("*.py")):
        module = importlib.import_module(f"{package}.{path.stem}" if path.stem != "__init__" else package)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                yield value


@pytest.mark.parametrize(("package", "base"), [("course", CourseError), ("course_tools", CourseToolsError)])
def test_every_error_derives_from_its_package_base(package, base):
    classes = list(_error_classes(package))
    assert len(classes) >= 5
    assert [error for error in classes if not issubclass(error, base)] == []
    assert {error.exit_status for error in classes} <= {FAILED, USAGE_ERROR}
