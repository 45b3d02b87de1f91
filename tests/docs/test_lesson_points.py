"""The site's lessons page (docs/students/lessons.md) gives each lesson's points as the notebooks' nbgrader metadata
does, and the pages that name the written points give the notebooks' totals."""

from __future__ import annotations

import re

import pytest

from autograder.cells import is_graded, is_test, points
from tests import lesson_testing as lt

TABLE_HEADER = "| lesson | teaches | autograded | written (manual) |"
LESSONS_PAGE = lt.REPO_ROOT / "docs" / "students" / "lessons.md"
WRITTEN_POINTS_PAGES = [LESSONS_PAGE, lt.REPO_ROOT / "docs" / "instructors" / "formgrader.md"]
# a written exercise's heading: "### Exercise 2.4 — ... (the assignment's Exercise 7-1; 5 points)"
WRITTEN_HEADING = re.compile(r"^### Exercise (\d+\.\d+) — .*\(the assignment's Exercise (7-\d)\b", re.MULTILINE)


def page_points() -> dict[str, tuple[str, str]]:
    """Each row of the lessons page's table: lesson -> (autograded cell, written cell), as written."""
    lines = LESSONS_PAGE.read_text(encoding="utf-8").splitlines()
    assert TABLE_HEADER in lines, f"expected the lessons page's table, headed {TABLE_HEADER!r}; found none"
    rows = {}
    for line in lines[lines.index(TABLE_HEADER) + 2 :]:
        if not line.startswith("|"):
            break
        lesson, _, autograded, written = (cell.strip() for cell in line.strip("|").split("|"))
        rows[lesson.strip("`")] = (autograded, written)
    return rows


def written_exercise(cells, position: int) -> str:
    """'Exercise 2.4: assignment 7-1' for the written answer at ``position``: the last heading above it."""
    for cell in reversed(cells[:position]):
        found = WRITTEN_HEADING.findall(cell.source) if cell.cell_type == "markdown" else []
        if found:
            lesson_number, assignment_number = found[-1]
            return f"Exercise {lesson_number}: assignment {assignment_number}"
    raise AssertionError('expected a heading like "### Exercise 2.4 — ... (the assignment\'s Exercise 7-1; ...)"')


def notebook_points(lesson: str) -> tuple[str, str]:
    """The two table cells the lesson's metadata implies: autograded points, written points and exercises."""
    cells = lt.read(lt.source_notebook(lesson)).cells
    autograded = sum(points(cell) for cell in cells if is_test(cell))
    written = [position for position, cell in enumerate(cells) if is_graded(cell) and not is_test(cell)]
    if not written:
        return f"{autograded:g}", "–"
    exercises = [written_exercise(cells, position) for position in written]
    return f"{autograded:g}", f"{sum(points(cells[i]) for i in written):g} ({', '.join(exercises)})"


def test_the_lesson_table_shows_the_notebooks_points():
    expected = {lesson: notebook_points(lesson) for lesson in lt.lesson_names()}
    found = page_points()
    assert found == expected, f"lesson table (autograded, written): expected {expected}; found {found}"


@pytest.mark.parametrize("page", WRITTEN_POINTS_PAGES, ids=lambda page: page.name)
def test_the_pages_name_the_written_and_total_points_of_the_course(page):
    cells = [cell for lesson in lt.lesson_names() for cell in lt.read(lt.source_notebook(lesson)).cells]
    written = sum(points(cell) for cell in cells if is_graded(cell) and not is_test(cell))
    total = sum(points(cell) for cell in cells if is_graded(cell))
    text = " ".join(page.read_text(encoding="utf-8").split())
    found = re.search(r"the assignment's 7-1 to 7-4; (\d+) of the course's (\d+) points\)", text)
    assert found, (
        f"expected {page.name} to say '(the assignment's 7-1 to 7-4; <written> of the course's <total> points)'"
    )
    assert (found.group(1), found.group(2)) == (f"{written:g}", f"{total:g}"), (
        f"expected {written:g} written of {total:g} points; found {found.group(1)} of {found.group(2)}"
    )
