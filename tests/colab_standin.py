"""Colab's runtime stood in by a virtualenv with its package versions, to run the lessons as students do.

``make test`` (and so ``.ci/run``) builds ``.venv-colab`` from ``.ci/colab/constraints.txt``: the
packages a lesson imports from Colab's GPU runtime, at Colab's versions, and nothing Colab lacks.
Its Python is this machine's (3.11), not Colab's 3.13. A Jupyter kernel on it imports a stand-in
``google.colab`` module first, so a lesson's setup cell takes its Colab branch; the course's GitHub
URL in that cell is swapped for a copy of this checkout, so the cell installs the code under test
the way it installs the tagged release on Colab. Every Colab session starts from a fresh runtime:
:func:`reset` puts the virtualenv back to what it was built as before each lesson.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import nbformat

from autograder.cells import HIDDEN_TESTS_BEGIN, HIDDEN_TESTS_END
from autograder.courseroot import Course
from autograder.release.students_tree import write_students_tree
from course_tools.next_runtime import installed_versions, normalize
from course_tools.notebooks import LessonPlan, LessonRun, run_lesson

REPO_ROOT = Path(__file__).resolve().parents[1]
STANDIN = REPO_ROOT / ".venv-colab"
PYTHON = STANDIN / "bin" / "python"
BASELINE = STANDIN / "baseline.txt"
CONSTRAINTS = REPO_ROOT / ".ci" / "colab" / "constraints.txt"
KERNEL = "colab-standin"
# What Colab's runtime does not have, so neither may the stand-in before a setup cell runs.
COLAB_LACKS = ("course", "keras-cv", "keras-core", "importlib-resources")
COURSE_URL = re.compile(r"git\+https://github\.com/[\w.-]+/[\w.-]+@[\w.+-]+")
COLAB_MODULE = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')"
LESSON_TIMEOUT = 900


class StandinMissing(RuntimeError):
    """The stand-in virtualenv has not been built."""


def require_standin() -> None:
    if not BASELINE.is_file():
        raise StandinMissing(f"{STANDIN} is not built: run `make colab-standin` (`make test` builds it too).")


def _pip(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PYTHON), "-m", "pip", *arguments], capture_output=True, text=True, check=True, env=standin_environment()
    )


def installed() -> dict[str, str]:
    """Every distribution in the stand-in, by normalized name."""
    listing = json.loads(_pip("list", "--format=json", "--disable-pip-version-check").stdout)
    return {normalize(item["name"]): item["version"] for item in listing}


def reset() -> None:
    """Put the stand-in back to its baseline: remove what setup cells added, restore what they changed."""
    baseline = installed_versions(BASELINE.read_text())
    current = installed()
    added = sorted(name for name in current if name not in baseline and name not in {"pip", "setuptools", "wheel"})
    if added:
        _pip("uninstall", "--yes", *added)
    changed = [f"{name}=={version}" for name, version in baseline.items() if current.get(name) != version]
    if changed:
        _pip("install", "--quiet", "--no-deps", *changed)


def standin_environment() -> dict[str, str]:
    """This process's environment without what would make the stand-in import this checkout or pick a profile."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "COURSE_PROFILE", "NBGRADER_EXECUTION", "VIRTUAL_ENV"}
    }


def install_kernel(folder: Path) -> Path:
    """A Jupyter kernel named KERNEL on the stand-in's Python; returns the folder to put on JUPYTER_PATH."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [
        str(PYTHON),
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        f"--IPKernelApp.exec_lines={COLAB_MODULE}",
    ]
    kernel = {"argv": argv, "display_name": "Colab stand-in", "language": "python", "env": {"PYTHONPATH": ""}}
    (spec / "kernel.json").write_text(json.dumps(kernel, indent=1))
    return folder


def students_checkout(destination: Path) -> Path:
    """The students' tree of this checkout (``release --students``): what Colab installs the course from."""
    write_students_tree(Course.load(REPO_ROOT), destination)
    return destination


def with_checkout(notebook: nbformat.NotebookNode, checkout: Path) -> nbformat.NotebookNode:
    """``notebook`` with the course's GitHub URL in its setup cell replaced by ``checkout``."""
    setup = next(cell for cell in notebook.cells if cell.get("id") == "setup")
    urls = COURSE_URL.findall(setup.source)
    if len(urls) != 1:
        raise ValueError(f"the setup cell should name the course's GitHub URL once; found {urls}")
    setup.source = setup.source.replace(urls[0], checkout.resolve().as_uri())
    return notebook


def as_students_run_it(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution notebook as a student who answered every exercise runs it on Colab: its test cells
    without their hidden tests (they run only in the grader)."""
    for cell in solution.cells:
        while f"### {HIDDEN_TESTS_BEGIN}" in cell.source:
            before, _, rest = cell.source.partition(f"### {HIDDEN_TESTS_BEGIN}")
            cell.source = before + rest.partition(f"### {HIDDEN_TESTS_END}")[2].lstrip("\n")
    return solution


def run_on_colab(notebook: nbformat.NotebookNode, name: str, out: Path) -> LessonRun:
    """Execute ``notebook`` in the smoke profile on the stand-in kernel (JUPYTER_PATH must hold the kernel)."""
    folder = out / "notebooks" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return run_lesson(LessonPlan(name, path, LESSON_TIMEOUT), "smoke", out, kernel=KERNEL)


def check_environment(cwd: Path) -> subprocess.CompletedProcess:
    """``course.environment.check_environment()`` in the stand-in, outside the checkout, as a setup cell
    would call it."""
    return subprocess.run(
        [str(PYTHON), "-c", "from course.environment import check_environment; print(check_environment())"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=standin_environment(),
        check=False,
    )
