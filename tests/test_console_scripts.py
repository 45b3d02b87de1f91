"""The console scripts of pyproject.toml: each names a main function, the site's architecture page lists them
all with the module of each subcommand, and an installed script does what ``python -m`` does."""

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

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


def test_the_architecture_page_lists_every_script_and_each_subcommands_module():
    """Rows such as ``| `dogs-course lessons` | `course_tools.notebooks` |``: one command per audience."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `(dogs-[a-z-]+)(?: [a-z-]+)?`[^|]* \| `([a-z_.]+)` \|", page, re.M)
    assert rows, "expected the architecture page's commands table"
    assert {script for script, _ in rows} == set(SCRIPTS)
    not_runnable = [module for _, module in rows if not runnable(module)]
    assert not_runnable == [], f"python -m does not run: {not_runnable}"


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
