"""Mark schemes beside the written answers in nbgrader's formgrader, never in students' feedback.

The course writes each written answer's mark scheme inside the answer cell of the solution
(``=== BEGIN MARK SCHEME === ... === END MARK SCHEME ===``). The released cell is only a stub and the
student's answer replaces it, so the graded notebook the formgrader shows has no mark scheme. After
nbgrader has graded a submission, ``show_mark_schemes`` puts each scheme, as a markdown cell marked in
its metadata, right after the student's answer in the autograded notebook; ``without_mark_schemes``
takes those cells out again, and ``autograder.reports.feedback`` applies it before any feedback is written.
"""

from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell

from autograder.cells import MARK_SCHEME_BEGIN, grade_id, is_answer

MARK_SCHEME_END = "END MARK SCHEME"
METADATA_KEY = "autograder_mark_scheme"  # cell metadata: the grade id of the answer it marks
HEADING = "**Mark scheme for `{answer}`** (from the solution; shown to graders, never in feedback)"


def mark_scheme(source: str) -> str | None:
    """The lines between the mark-scheme delimiters of a cell's source, or None without a scheme."""
    lines = source.splitlines()
    begin = next((i for i, line in enumerate(lines) if MARK_SCHEME_BEGIN in line), None)
    if begin is None:
        return None
    end = next((i for i, line in enumerate(lines) if i > begin and MARK_SCHEME_END in line), len(lines))
    return "\n".join(lines[begin + 1 : end]).strip() or None


def solution_mark_schemes(solution: NotebookNode) -> dict[str, str]:
    """Grade id -> mark scheme of every answer cell of a solution notebook that has one."""
    schemes = {}
    for cell in solution.cells:
        scheme = mark_scheme(cell.source) if is_answer(cell) else None
        if scheme:
            schemes[grade_id(cell)] = scheme
    return schemes


def is_mark_scheme_cell(cell: NotebookNode) -> bool:
    return METADATA_KEY in cell.get("metadata", {})


def without_mark_schemes(nb: NotebookNode) -> NotebookNode:
    """The notebook with the mark-scheme cells ``show_mark_schemes`` added taken out (in place)."""
    nb.cells = [cell for cell in nb.cells if not is_mark_scheme_cell(cell)]
    return nb


def with_mark_schemes(nb: NotebookNode, schemes: dict[str, str]) -> int:
    """Put each scheme in a cell right after the answer it marks (replacing any put there before);
    return how many were put in."""
    without_mark_schemes(nb)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        answer = grade_id(cell)
        if is_answer(cell) and answer in schemes:
            scheme = new_markdown_cell(
                f"{HEADING.format(answer=answer)}\n\n{schemes[answer]}",
                metadata={METADATA_KEY: answer, "deletable": False, "editable": False},
            )
            cells.append(scheme)
    added = len(cells) - len(nb.cells)
    nb.cells = cells
    return added


def show_mark_schemes(graded_path: Path, solution_path: Path) -> int:
    """Add the solution's mark schemes to a graded notebook file; return how many were added."""
    if not solution_path.is_file():
        return 0
    schemes = solution_mark_schemes(nbformat.read(solution_path, as_version=4))
    if not schemes:
        return 0
    nb = nbformat.read(graded_path, as_version=4)
    added = with_mark_schemes(nb, schemes)
    nbformat.write(nb, graded_path)
    return added
