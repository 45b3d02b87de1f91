"""The console scripts of pyproject.toml: each names a main function, the site's architecture page lists them
all with the module of each subcommand, and an installed script does what ``python -m`` does."""

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from course_tools.cli import COMMANDS

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
