"""The console scripts of pyproject.toml: each names a main function, the site's architecture page lists them
all with the module of each subcommand, and an installed script does what ``python -m`` does."""

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from autograder.courseroot import AutograderError
from course.errors import FAILED, USAGE_ERROR, CourseError
from course_tools.cli import COMMANDS
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


def runnable(module_name: str) -> bool:
    """``python -m <module_name>`` runs it: a module file, or a package with ``__main__.py``."""
    path = ROOT / module_name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def test_the_architecture_page_lists_every_command_with_the_module_that_runs_it():
    """Rows such as ``| `dogs-course lessons` | `course_tools.notebooks` |``: one command per audience, every
    subcommand of ``dogs-course`` listed, and each row's module the one its subcommand runs."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `(dogs-[a-z-]+)(?: ([a-z-]+))?`[^|]* \| `([a-z_.]+)` \|", page, re.M)
    assert {script for script, _, _ in rows} == set(SCRIPTS)
    assert {command for script, command, _ in rows if script == "dogs-course"} == set(COMMANDS)
    for script, command, module in rows:
        assert runnable(module), f"python -m {module} does not run"
        if script == "dogs-course":
            assert COMMANDS[command][0].removesuffix(".__main__") == module, command
        elif module != "autograder":
            usage = subprocess.run(
                [sys.executable, "-m", "autograder", command, "--help"], capture_output=True, text=True, check=True
            ).stdout
            assert usage.startswith(f"usage: python -m {module} "), usage


def test_an_installed_script_prints_what_python_dash_m_prints():
    script = Path(sys.executable).with_name("dogs-course")
    assert script.is_file(), f"{script} is missing: reinstall with pip install -e ."
    installed = subprocess.run([str(script), "estimates"], capture_output=True, text=True, check=True)
    module = subprocess.run(
        [sys.executable, "-m", "course_tools.estimates"], capture_output=True, text=True, check=True
    )
    assert installed.stdout == module.stdout
    assert "| the course |" in installed.stdout


def test_the_maintainers_script_lists_its_commands_and_refuses_an_unknown_one():
    listed = subprocess.run([sys.executable, "-m", "course_tools.cli", "--help"], capture_output=True, text=True)
    assert listed.returncode == 0 and all(command in listed.stdout for command in COMMANDS)
    unknown = subprocess.run([sys.executable, "-m", "course_tools.cli", "train"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "no command 'train'" in unknown.stderr


def test_the_autograder_script_shows_its_commands():
    script = Path(sys.executable).with_name("dogs-autograder")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for command in ("release", "collect", "grade", "report", "feedback", "export", "bench", "sample-class"):
        assert command in result.stdout


# One exit-status rule for the commands of course/ and course_tools/ (course.errors): 2 for a usage or
# configuration error, 1 for a failed check or run.


def _main(command):
    """The main function ``dogs-course <command>`` runs."""
    return importlib.import_module(COMMANDS[command][0]).main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_bad_argument_exits_with_status_2(name, capsys):
    with pytest.raises(SystemExit) as stopped:
        _main(name)(["--no-such-option"])
    assert stopped.value.code == USAGE_ERROR
    error = capsys.readouterr().err
    assert error.startswith("usage: ") and "error: " in error


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("run", [], "Unknown profile 'no-such-profile'"),
        ("gates", ["{tmp}", "--config", "{tmp}/missing.toml"], "missing.toml"),
        ("lessons", ["--profile", "smoke", "--out", "{tmp}/out", "--root", "{tmp}"], "No lesson folder"),
        ("caches", ["prepare", "--profile", "smoke", "--source", "archive"], "needs a data folder"),
        ("standins", ["archive", "{tmp}/dogs", "--train-count", "5"], "at least one image per breed"),
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
    assert _main("caches")(["verify", "--manifest", str(tmp_path / "caches.json")]) == FAILED
    assert "No cache manifest" in capsys.readouterr().err


def _error_classes(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        if path.stem == "__main__":
            continue
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if module_name.startswith("autograder.sandbox.kernel_"):
            continue  # raised in the student's kernel, on the standard library only (WriteItYourself)
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                yield value


@pytest.mark.parametrize(("package", "base"), [("course", CourseError), ("course_tools", CourseToolsError)])
def test_every_error_derives_from_its_package_base(package, base):
    classes = list(_error_classes(package))
    assert len(classes) >= 5
    assert [error for error in classes if not issubclass(error, base)] == []
    assert {error.exit_status for error in classes} <= {FAILED, USAGE_ERROR}


def test_every_error_of_the_autograder_derives_from_its_base():
    classes = list(_error_classes("autograder"))
    assert len(classes) >= 4
    assert [error for error in classes if not issubclass(error, AutograderError)] == []
