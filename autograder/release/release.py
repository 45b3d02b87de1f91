"""``release``: student notebooks in lessons/ from solutions/, with nbgrader generate_assignment."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.converters import GenerateAssignment
from nbgrader.converters.base import NbGraderException

from autograder.cells import grade_id
from autograder.courseroot import Course, CourseError
from autograder.grading.submission import VALID_CELL_ID
from autograder.grading.time_limits import measure_lesson
from autograder.release.colab import ColabLink, write_colab_cells


def stable_cell_ids(nb: NotebookNode) -> bool:
    """Give cells ids that do not change between releases: an exercise cell's grade id, else
    its source id, else a hash of its position and content. Returns True if any id changed."""
    used, changed = set(), False
    for index, cell in enumerate(nb.cells):
        wanted = [grade_id(cell), cell.get("id"), hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:12]]
        cell_id = next(
            value for value in wanted if isinstance(value, str) and VALID_CELL_ID.match(value) and value not in used
        )
        changed |= cell.get("id") != cell_id
        cell["id"] = cell_id
        used.add(cell_id)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    return changed


def release(
    course: Course,
    lessons: tuple[str, ...] | list[str] = (),
    duedate: str | None = None,
    timing: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, list[Path]]:
    """Write the Colab badge and setup cell (c.ColabLink) into each lesson's source, regenerate
    lessons/<lesson>/ for each lesson (all of solutions/ by default), record the lessons in the
    gradebook and, with ``timing``, time their solutions for grading's limits (autograder.grading.time_limits).
    Returns {lesson: [released notebook paths]}."""
    available = course.source_lessons()
    unknown = sorted(set(lessons) - set(available))
    if unknown:
        raise CourseError(
            f"no such lesson in {course.folder('source')}: {', '.join(unknown)}; "
            f"lessons there: {', '.join(available) or 'none'}"
        )
    link = ColabLink(config=course.config)
    released = {}
    for lesson in lessons or available:
        for path in sorted((course.folder("source") / lesson).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            if write_colab_cells(nb, lesson, link):
                nbformat.write(nb, path)
        converter = GenerateAssignment(coursedir=course.coursedir(lesson), config=course.config)
        converter.force = True
        converter.create_assignment = True
        try:
            converter.start()
        except NbGraderException as error:
            raise CourseError(
                f"nbgrader generate_assignment failed for {lesson}: {error}; see the log above for the cell at fault"
            ) from None
        for path in course.release_notebooks(lesson):
            nb = nbformat.read(path, as_version=4)
            stable_cell_ids(nb)
            nbformat.write(nb, path)
        if duedate:
            with Gradebook(course.db_url, course.coursedir().course_id) as gradebook:
                gradebook.update_or_create_assignment(lesson, duedate=duedate)
        released[lesson] = course.release_notebooks(lesson)
        if timing:
            measure_lesson(course, lesson, echo)
    return released
