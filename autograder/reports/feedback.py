"""``feedback``: per-student HTML feedback with nbgrader generate_feedback, minus hidden tests.

nbgrader builds feedback from the autograded notebook, whose test cells hold the hidden tests
again (nbgrader issue 1363). ``HideHiddenTests`` removes those regions and the tracebacks that
quote them; after generating, every HTML file is searched for hidden-test lines and deleted
if one is found, so a leak fails loudly instead of reaching students. A hidden-test line that
the released lesson shows anyway (``import keras``) or that the student wrote is no secret.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.converters import GenerateFeedback
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import ClearHiddenTests

from autograder.courseroot import Course, CourseError
from autograder.grading.mark_schemes import without_mark_schemes
from autograder.grading.submission import UnreadableNotebook, read_notebook

HIDDEN_TESTS_PREPROCESSOR = "autograder.reports.feedback.HideHiddenTests"
MIN_SECRET_LENGTH = 12  # shorter hidden-test lines ("else:", "pass") are not secrets


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden-test regions from cells and the graders' mark-scheme cells, and reduce the
    tracebacks of those cells to their last line (a traceback quotes the failing hidden assertion)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enforce_metadata = False

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        """Also take out the mark schemes the formgrader shows (autograder.grading.mark_schemes)."""
        return super().preprocess(without_mark_schemes(nb), resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        had_hidden_tests = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden_tests and cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


def hidden_test_lines(gradebook: Gradebook, lesson: str, begin: str, end: str) -> set[str]:
    """Source lines inside hidden-test regions of a lesson's cells, as stored in the gradebook."""
    lines = set()
    for notebook in gradebook.find_assignment(lesson).notebooks:
        for cell in notebook.source_cells:
            inside = False
            for line in (cell.source or "").splitlines():
                if begin in line:
                    inside = True
                elif end in line:
                    inside = False
                elif inside and len(line.strip()) >= MIN_SECRET_LENGTH:
                    lines.add(line.strip())
    return lines


def visible_text(page: str) -> str:
    """The text a reader sees in an HTML page (tags removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def notebook_lines(paths: Iterable[Path]) -> set[str]:
    """The stripped source lines of the notebooks' cells (files that are not notebooks give none)."""
    lines = set()
    for path in paths:
        try:
            cells = read_notebook(path).cells
        except UnreadableNotebook:
            continue
        lines |= {line.strip() for cell in cells for line in cell.source.splitlines()}
    return lines


def leaked_lines(html_path: Path, secrets: set[str], seen: Iterable[Path] = ()) -> list[str]:
    """The secret lines the page shows, except those in the notebooks ``seen`` (the released
    lesson and the student's own submission: what the student has seen already)."""
    text = visible_text(html_path.read_text(errors="replace"))
    return sorted(line for line in secrets - notebook_lines(seen) if line in text)


def generate_feedback(
    course: Course, students: list[str] | tuple[str, ...] = (), lessons: list[str] | tuple[str, ...] = ()
) -> Iterator[str]:
    """Write feedback/<student>/<lesson>/<notebook>.html for autograded submissions; yield one
    line per lesson describing what was written, withheld or failed."""
    config = course.config.copy()
    preprocessors = list(config.GenerateFeedback.get("preprocessors", []))
    if HIDDEN_TESTS_PREPROCESSOR not in preprocessors:
        config.GenerateFeedback.preprocessors = [
            HIDDEN_TESTS_PREPROCESSOR,
            "nbgrader.preprocessors.GetGrades",
            "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
        ]
    delimiters = ClearHiddenTests(config=config)
    autograded = course.folder("autograded")
    all_lessons = sorted({p.name for p in autograded.glob("*/*") if p.is_dir()})
    unknown = sorted(set(lessons) - set(all_lessons))
    if unknown:
        raise CourseError(f"nothing autograded for {', '.join(unknown)}: run grade first")
    course_id = course.coursedir().course_id
    for lesson in lessons or all_lessons:
        pattern = students[0] if len(students) == 1 else "*"
        coursedir = course.coursedir(lesson, pattern)
        converter = GenerateFeedback(coursedir=coursedir, config=config)
        converter.force = True
        problem = ""
        try:
            converter.start()
        except NbGraderException as error:
            problem = f"; nbgrader reported errors ({error})"
        with Gradebook(course.db_url, course_id) as gradebook:
            secrets = hidden_test_lines(
                gradebook, lesson, delimiters.begin_test_delimeter, delimiters.end_test_delimeter
            )
        written, withheld = 0, []
        for page in sorted(course.folder("feedback").glob(f"*/{lesson}/*.html")):
            student = page.parent.parent.name
            if students and student not in students:
                continue
            seen = course.release_notebooks(lesson) + sorted(course.submission_dir(student, lesson).glob("*.ipynb"))
            leaks = leaked_lines(page, secrets, seen)
            if leaks:
                page.unlink()
                withheld.append(f"{student} (hidden test shown: {leaks[0]!r})")
            else:
                written += 1
        line = f"{lesson}: feedback for {written} students in {course.folder('feedback')}"
        if withheld:
            line += f"; WITHHELD, hidden tests would show: {', '.join(withheld)}"
        yield line + problem
