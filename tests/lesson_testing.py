"""Checking the lessons: release them, execute them, grade them with nbgrader.

The lessons are the folders ``solutions/<lesson>/<lesson>.ipynb`` (the nbgrader source). Their
student versions in ``lessons/`` are generated, never edited by hand; after changing a lesson run

    python -m autograder release

from the repository root (it runs ``nbgrader generate_assignment`` for every lesson and gives the
released cells stable ids). ``tests/lessons/test_lessons.py`` checks that ``lessons/`` is up to date, that
it gives nothing away, that every lesson runs in the ``smoke`` profile and that nbgrader gives the
solutions full marks and the untouched student versions none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.cells import (
    CODE_STUB,
    SECRET_MARKERS,
    SECRET_REGIONS,
    TEXT_STUB,
    is_answer,
    is_test,
)
from course_tools.notebooks import (
    DEFAULT_CONFIG,
    LessonRun,
    discover_lessons,
    load_config,
    plan_lessons,
    run_lessons,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDER = "solutions"
RELEASE_FOLDER = "lessons"
CONFIG_FILE = "nbgrader_config.py"
GRADE_PROFILE_ENVIRONMENT = {"COURSE_PROFILE": "grade", "NBGRADER_EXECUTION": "autograde"}

# Lines shorter than this (``return x``, ``)``) may legitimately appear in both versions.
DISTINCTIVE_LINE_LENGTH = 12
# The lessons that train, executed in the demo profile (real transfer learning, checked by its gates:
# tests/lessons/test_demo.py) rather than in smoke; the others run in smoke.
DEMO_LESSONS = ("lesson3_scratch", "lesson4_frozen", "lesson5_finetune")


# --- lessons and notebooks ---------------------------------------------------------------------


def lesson_names(root: Path = REPO_ROOT) -> list[str]:
    """Every lesson, from ``solutions/<lesson>/<lesson>.ipynb``, sorted; none if there is no folder."""
    if not (root / SOURCE_FOLDER).is_dir():
        return []
    return list(discover_lessons(root / SOURCE_FOLDER))


def source_notebook(lesson: str, root: Path = REPO_ROOT) -> Path:
    return root / SOURCE_FOLDER / lesson / f"{lesson}.ipynb"


def released_notebook(lesson: str, root: Path = REPO_ROOT) -> Path:
    return root / RELEASE_FOLDER / lesson / f"{lesson}.ipynb"


def committed_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The notebooks under ``solutions/`` and ``lessons/`` (checkpoints excluded)."""
    notebooks = []
    for folder in (SOURCE_FOLDER, RELEASE_FOLDER):
        notebooks += [
            path for path in sorted((root / folder).rglob("*.ipynb")) if ".ipynb_checkpoints" not in path.parts
        ]
    return notebooks


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=nbformat.NO_CONVERT)


def hygiene_problems(path: Path) -> list[str]:
    """What is wrong with a notebook as committed: outputs, execution counts, missing cell ids."""
    notebook = read(path)
    problems = []
    if (notebook.nbformat, notebook.nbformat_minor) < (4, 5):
        problems.append(f"nbformat {notebook.nbformat}.{notebook.nbformat_minor}: cell ids need 4.5")
    for index, cell in enumerate(notebook.cells):
        where = f"cell {index + 1} ({cell.get('id', 'no id')})"
        if not cell.get("id"):
            problems.append(f"{where} has no id")
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"{where} was committed with outputs")
        if cell.cell_type == "code" and cell.get("execution_count") is not None:
            problems.append(f"{where} was committed with an execution count")
    return problems


# --- releasing ---------------------------------------------------------------------------------


def make_course_root(destination: Path, root: Path = REPO_ROOT) -> Path:
    """A copy of the course (its nbgrader configuration and ``solutions/``) to release and grade in."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / CONFIG_FILE, destination / CONFIG_FILE)
    shutil.copytree(
        root / SOURCE_FOLDER,
        destination / SOURCE_FOLDER,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
    )
    return destination


def release(course_root: Path, lessons: tuple[str, ...] = ()) -> None:
    """``python -m autograder release --skip-timing``: regenerate ``lessons/`` (and the gradebook) in
    ``course_root``. Its grading uses the configuration's own limits, not those measured on the machine
    that released the course (a slower test machine would time out correct work)."""
    command = [
        sys.executable,
        "-m",
        "autograder",
        "--course-dir",
        str(course_root),
        "release",
        "--skip-timing",
        *lessons,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=course_root, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")


def _comparable(notebook) -> dict:
    cells = []
    for cell in notebook.cells:
        metadata = {key: value for key, value in cell.get("metadata", {}).items()}
        if "nbgrader" in metadata:
            metadata["nbgrader"] = {key: value for key, value in metadata["nbgrader"].items() if key != "checksum"}
        cells.append({"id": cell.get("id"), "cell_type": cell.cell_type, "source": cell.source, "metadata": metadata})
    return {
        "nbformat": (notebook.nbformat, notebook.nbformat_minor),
        "metadata": dict(notebook.metadata),
        "cells": cells,
    }


def release_differences(expected_path: Path, actual_path: Path) -> list[str]:
    """How the committed release ``actual_path`` differs from a fresh one, ``expected_path``."""
    if not actual_path.is_file():
        return [f"{actual_path} does not exist"]
    expected, actual = _comparable(read(expected_path)), _comparable(read(actual_path))
    differences = [f"notebook {key} differs" for key in ("nbformat", "metadata") if expected[key] != actual[key]]
    expected_ids = [cell["id"] for cell in expected["cells"]]
    actual_ids = [cell["id"] for cell in actual["cells"]]
    if expected_ids != actual_ids:
        return differences + [f"cells differ: expected {expected_ids}, found {actual_ids}"]
    for fresh, committed in zip(expected["cells"], actual["cells"], strict=True):
        for key in ("cell_type", "source", "metadata"):
            if fresh[key] != committed[key]:
                differences.append(f"cell {fresh['id']}: {key} differs")
    return differences


def secret_lines(notebook) -> tuple[set[str], str]:
    """Distinctive lines only the instructors' version may hold (solutions, hidden tests, mark
    schemes, model answers), and the text the student version may show."""
    secrets, public = set(), []
    for cell in notebook.cells:
        lines = cell.source.splitlines()
        if cell.cell_type == "markdown" and is_answer(cell):
            secrets.update(lines)
            continue
        inside = None
        for line in lines:
            if inside is None:
                inside = next((end for begin, end in SECRET_REGIONS if begin in line), None)
                if inside is None:
                    public.append(line)
            elif inside in line:
                inside = None
            else:
                secrets.add(line)
    public_text = "\n".join(public)
    distinctive = {
        line.strip()
        for line in secrets
        if len(line.strip()) >= DISTINCTIVE_LINE_LENGTH and line.strip() not in public_text
    }
    return distinctive, public_text


def leaks(source_path: Path, released_path: Path) -> list[str]:
    """What the released notebook gives away: region markers and lines of solutions, hidden tests,
    mark schemes or model answers; and answer cells that are not stubs."""
    released = read(released_path)
    text = "\n".join(cell.source for cell in released.cells)
    found = [f"marker {marker!r}" for marker in SECRET_MARKERS if marker in text]
    secrets, _ = secret_lines(read(source_path))
    found += [f"line {line!r}" for line in sorted(secrets) if line in text]
    for cell in released.cells:
        if is_answer(cell):
            stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
            if stub not in cell.source:
                found.append(f"answer cell {cell.get('id')} is not a stub")
    return found


# --- executing ---------------------------------------------------------------------------------


def execute_lesson(lesson: str, profile: str, out: Path, root: Path = REPO_ROOT) -> tuple[LessonRun, Path]:
    """Run ``solutions/<lesson>`` with papermill as CI does (``course_tools.notebooks``); returns the run
    and the executed notebook."""
    [run] = execute_lessons([lesson], profile, out, root=root)
    return run, out / f"{lesson}.ipynb"


def execute_lessons(
    lessons: list[str], profile: str, out: Path, root: Path = REPO_ROOT, jobs: int = 1
) -> list[LessonRun]:
    """Run ``solutions/<lesson>`` for each of ``lessons`` into ``out``, up to ``jobs`` at once, as
    ``python -m course_tools.notebooks --jobs`` does (a lesson waits for those it runs ``[after]``)."""
    available = discover_lessons(root / SOURCE_FOLDER)
    planned = plan_lessons(available, list(lessons), load_config(DEFAULT_CONFIG), profile, None)
    out.mkdir(parents=True, exist_ok=True)
    return run_lessons(planned, profile, out, jobs=jobs, announce=lambda line: None)


def stderr_in_test_cells(executed_path: Path) -> dict[str, str]:
    """Test cells of an executed notebook that wrote to stderr, with what they wrote."""
    written = {}
    for cell in read(executed_path).cells:
        if is_test(cell):
            text = "".join(
                output.get("text", "")
                for output in cell.get("outputs", [])
                if output.get("output_type") == "stream" and output.get("name") == "stderr"
            )
            if text:
                written[cell.get("id")] = text
    return written


def errors_in_cells(executed_path: Path, cell_ids) -> dict[str, str]:
    """The cells among ``cell_ids`` whose execution raised, with the error."""
    errors = {}
    for cell in read(executed_path).cells:
        if cell.get("id") in cell_ids:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    errors[cell.get("id")] = f"{output.get('ename')}: {output.get('evalue')}"
    return errors


def execute_with_errors(
    notebook_path: Path, executed_path: Path, environment: dict[str, str], timeout: int = 600
) -> Path:
    """Run every cell of a notebook, carrying on after errors (as nbgrader does), in a kernel whose
    environment is updated with ``environment``; the executed notebook goes to ``executed_path``."""
    from nbclient import NotebookClient

    notebook = read(notebook_path)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(notebook_path.parent)}},
    )
    client.execute(env={**os.environ, **environment})
    nbformat.write(notebook, str(executed_path))
    return executed_path


# --- grading -----------------------------------------------------------------------------------


@dataclass
class Grading:
    """What ``nbgrader autograde`` gave one submission of one lesson."""

    lesson: str
    student: str
    seconds: float
    scores: dict[str, float | None]  # grade id -> autograded score (None: graded by hand)
    max_scores: dict[str, float]
    autograded_cells: list[str]  # grade ids of the autograded test cells
    autograded_notebook: Path
    log: str

    @property
    def score(self) -> float:
        return sum(self.scores[cell] or 0.0 for cell in self.autograded_cells)

    @property
    def max_score(self) -> float:
        return sum(self.max_scores[cell] for cell in self.autograded_cells)


def submit(course_root: Path, student: str, lesson: str, notebook: Path | nbformat.NotebookNode) -> Path:
    """Put ``notebook`` where nbgrader expects ``student``'s submission of ``lesson``."""
    destination = course_root / "submitted" / student / lesson / f"{lesson}.ipynb"
    destination.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, Path):
        shutil.copyfile(notebook, destination)
    else:
        nbformat.write(notebook, str(destination))
    return destination


def autograde(course_root: Path, lesson: str, student: str) -> Grading:
    """``nbgrader autograde`` one submission with the course's configuration, in the ``grade``
    profile, and read its scores from the gradebook."""
    nbgrader = Path(sys.executable).with_name("nbgrader")
    command = [
        str(nbgrader),
        "autograde",
        lesson,
        "--student",
        student,
        "--force",
        f"--CourseDirectory.root={course_root}",
    ]
    environment = {
        **os.environ,
        **GRADE_PROFILE_ENVIRONMENT,
        "PATH": os.pathsep.join([str(nbgrader.parent), os.environ.get("PATH", "")]),
    }
    seconds, log = run_grading(command, course_root, environment)
    return graded(course_root, lesson, student, seconds, log)


def grade_two_at_a_time(course_root: Path, student: str) -> tuple[float, str]:
    """``python -m autograder grade --jobs 2`` on every lesson ``student`` handed in, in the ``grade``
    profile, as an instructor grades a class; its seconds and output."""
    command = [sys.executable, "-m", "autograder", "--course-dir", str(course_root), "grade"]
    command += ["--students", student, "--jobs", "2", "--force"]
    return run_grading(command, course_root, {**os.environ, **GRADE_PROFILE_ENVIRONMENT})


def run_grading(command: list[str], course_root: Path, environment: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=course_root, env=environment, check=False)
    seconds = time.perf_counter() - started
    log = f"{completed.stdout}\n{completed.stderr}"
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {completed.returncode}):\n{log[-5000:]}")
    return seconds, log


def graded(course_root: Path, lesson: str, student: str, seconds: float, log: str) -> Grading:
    """What the gradebook holds for ``student``'s ``lesson``."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(lesson, lesson, student)
        scores = {grade.name: grade.auto_score for grade in submission.grades}
        max_scores = {grade.name: grade.max_score for grade in submission.grades}
        autograded = [grade.name for grade in submission.grades if grade.cell_type == "code"]
    notebook = course_root / "autograded" / student / lesson / f"{lesson}.ipynb"
    return Grading(lesson, student, seconds, scores, max_scores, autograded, notebook, log)


def unexecuted_test_cells(autograded_path: Path) -> list[str]:
    """Test cells the grading run never reached (no execution count): the run broke off."""
    return [
        cell.get("id") for cell in read(autograded_path).cells if is_test(cell) and cell.get("execution_count") is None
    ]


def autograder_events(autograded_path: Path) -> list[dict]:
    """What the course's safe execution had to do to a graded notebook (timeouts, truncated
    output, kernel restarts), as it records them in the notebook's metadata."""
    return read(autograded_path).metadata.get("autograder", {}).get("events", [])


def with_answers(notebook_path: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The notebook with the cells ``answers`` names (by id) given new sources."""
    notebook = read(notebook_path)
    cells = {cell.get("id"): cell for cell in notebook.cells}
    unknown = sorted(set(answers) - set(cells))
    if unknown:
        raise KeyError(f"{notebook_path.name} has no cell(s) {unknown}")
    for cell_id, source in answers.items():
        cells[cell_id].source = source
    return notebook
