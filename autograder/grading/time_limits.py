"""Time limits of grading, measured from the solutions rather than guessed.

``release`` runs every solution notebook of a lesson the way grading runs a submission
(``SafeExecute`` with the course's kernel settings, so in the ``grade`` profile), records how long
each cell took and writes the seconds, with the limits derived from them, to ``LIMITS_FILE`` beside
``nbgrader_config.py``:

- a cell may run ``c.TimeLimits.margin`` times the lesson's slowest solution cell, and at least
  ``c.TimeLimits.cell_floor_seconds``;
- a notebook may run ``margin`` times the solution's total, and at least
  ``c.TimeLimits.notebook_floor_seconds``.

``c.TimeLimits.overrides`` in ``nbgrader_config.py`` sets either limit of a lesson by hand. A lesson
never measured is graded with ``c.Execute.timeout`` and ``c.SafeExecute.notebook_time_limit``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
from traitlets import Dict, Float
from traitlets.config import Configurable

from autograder.courseroot import Course, CourseError
from autograder.grading.execution import SafeExecute, cell_label

LIMITS_FILE = "nbgrader_time_limits.json"


class TimeLimits(Configurable):
    """How grading's time limits follow from the solutions' measured times."""

    margin = Float(3.0, help="A limit is this many times the solution's measured time.").tag(config=True)
    cell_floor_seconds = Float(10.0, help="The least time a cell gets, however fast the solution's.").tag(config=True)
    notebook_floor_seconds = Float(20.0, help="The least time a notebook gets.").tag(config=True)
    overrides = Dict(
        {},
        help='Limits set by hand, by lesson, e.g. {"lesson4_frozen": {"cell": 120, "notebook": 300}}.',
    ).tag(config=True)


@dataclass(frozen=True)
class LessonLimits:
    """The time limits one lesson is graded with, in whole seconds."""

    cell: int
    notebook: int
    origin: str  # "measured", "override" or "measured, override"

    def nbgrader_arguments(self) -> list[str]:
        """Command-line settings that make ``nbgrader autograde`` apply these limits."""
        return [f"--Execute.timeout={self.cell}", f"--SafeExecute.notebook_time_limit={self.notebook}"]


def limits_path(course: Course) -> Path:
    return course.root / LIMITS_FILE


def cell_seconds(cell: nbformat.NotebookNode) -> float:
    """How long an executed cell ran, from the timestamps nbclient records in its metadata."""
    timing = cell.metadata.get("execution", {})
    started, replied = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not started or not replied:
        return 0.0
    return max(0.0, (datetime.fromisoformat(replied) - datetime.fromisoformat(started)).total_seconds())


def measure_notebook(course: Course, path: Path) -> dict[str, float]:
    """Run one solution notebook as grading would; return {cell label: seconds} of its code cells.
    Raises CourseError when a solution cell fails: grading would fail correct work too."""
    nb = nbformat.read(path, as_version=4)
    execute = SafeExecute(config=course.config)
    execute.preprocess(nb, {"metadata": {"path": str(path.parent)}})
    seconds = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "execution" not in cell.metadata:  # empty, or left unrun as grading does
            continue
        errors = [output for output in cell.outputs if output.output_type == "error"]
        if errors:
            raise CourseError(
                f"{path}: the solution fails in {cell_label(cell, index)} when run as grading runs it "
                f"({errors[0].ename}: {errors[0].evalue}); fix the solution, then release again"
            )
        seconds[cell_label(cell, index)] = round(cell_seconds(cell), 3)
    return seconds


def derive_limits(measured: dict[str, dict[str, float]], settings: TimeLimits) -> tuple[int, int]:
    """(cell limit, notebook limit) from {notebook: {cell: seconds}} of one lesson."""
    cells = [seconds for notebook in measured.values() for seconds in notebook.values()]
    slowest = max(cells, default=0.0)
    slowest_notebook = max((sum(notebook.values()) for notebook in measured.values()), default=0.0)
    cell = max(settings.cell_floor_seconds, settings.margin * slowest)
    notebook = max(settings.notebook_floor_seconds, settings.margin * slowest_notebook, cell)
    return math.ceil(cell), math.ceil(notebook)


def read_measurements(course: Course) -> dict:
    """The contents of LIMITS_FILE ({} when there is none)."""
    path = limits_path(course)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise CourseError(f"{path} is damaged ({error}): run `python -m autograder release` to measure again") from None


def measure_lesson(course: Course, lesson: str, echo: Callable[[str], None] = print) -> dict:
    """Time every solution notebook of ``lesson``, record them and their limits in LIMITS_FILE."""
    settings = TimeLimits(config=course.config)
    notebooks = sorted((course.folder("source") / lesson).glob("*.ipynb"))
    measured = {path.name: measure_notebook(course, path) for path in notebooks}
    cell, notebook = derive_limits(measured, settings)
    entry = {
        "cell_limit": cell,
        "notebook_limit": notebook,
        "solution_seconds": round(sum(sum(cells.values()) for cells in measured.values()), 1),
        "measured": measured,
    }
    everything = read_measurements(course)
    everything[lesson] = entry
    limits_path(course).write_text(json.dumps(everything, indent=1, sort_keys=True) + "\n")
    echo(
        f"timed {lesson}: the solution's cells ran {entry['solution_seconds']} s; "
        f"limits {cell} s per cell, {notebook} s per notebook"
    )
    return entry


def lesson_limits(course: Course, lesson: str) -> LessonLimits | None:
    """The limits grading applies to ``lesson`` (measured, then overridden), or None when the
    lesson was never measured and has no override (the config's defaults apply)."""
    settings = TimeLimits(config=course.config)
    entry = read_measurements(course).get(lesson)
    override = settings.overrides.get(lesson, {})
    unknown = sorted(set(override) - {"cell", "notebook"})
    if unknown:
        raise CourseError(
            f"c.TimeLimits.overrides[{lesson!r}] has unknown key(s) {unknown}: give 'cell' and/or 'notebook' seconds"
        )
    if entry is None and not override:
        return None
    defaults = SafeExecute(config=course.config)
    cell = override.get("cell", entry["cell_limit"] if entry else defaults.timeout)
    notebook = override.get("notebook", entry["notebook_limit"] if entry else defaults.notebook_time_limit)
    origin = ", ".join(name for name, used in (("measured", entry), ("override", override)) if used)
    return LessonLimits(int(cell), int(notebook), origin)
