"""The README's lesson table gives each lesson's points as the notebooks' nbgrader metadata does."""

from __future__ import annotations

import re

from autograder.cells import is_graded, is_test, points
from tests import lesson_testing as lt

TABLE_HEADER = "| lesson | teaches | autograded | written (manual) |"
# a written exercise's heading: "### Exercise 2.4 — ... (the assignment's Exercise 7-1; 5 points)"
WRITTEN_HEADING = re.compile(r"^### Exercise (\d+\.\d+) — .*\(the assignment's Exercise (7-\d)\b", re.MULTILINE)


def readme_points() -> dict[str, tuple[str, str]]:
    """Each row of the README's lesson table: lesson -> (autograded cell, written cell), as written."""
    lines = (lt.REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert TABLE_HEADER in lines, f"expected the README's lesson table, headed {TABLE_HEADER!r}; found none"
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


def test_readme_lesson_table_shows_the_notebooks_points():
    expected = {lesson: notebook_points(lesson) for lesson in lt.lesson_names()}
    found = readme_points()
    assert found == expected, f"README lesson table (autograded, written): expected {expected}; found {found}"


def test_readme_names_the_written_and_total_points_of_the_course():
    cells = [cell for lesson in lt.lesson_names() for cell in lt.read(lt.source_notebook(lesson)).cells]
    written = sum(points(cell) for cell in cells if is_graded(cell) and not is_test(cell))
    total = sum(points(cell) for cell in cells if is_graded(cell))
    readme = (lt.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"the assignment's 7-1 to 7-4; (\d+) of\s+the course's (\d+) points\)", readme)
    assert found, "expected the README to say '(the assignment's 7-1 to 7-4; <written> of the course's <total> points)'"
    assert (found.group(1), found.group(2)) == (f"{written:g}", f"{total:g}"), (
        f"expected {written:g} written of {total:g} points; found {found.group(1)} of {found.group(2)}"
    )
