"""nbgrader's marks on notebook cells, read in one place: which cell is an answer, a test or
read-only, its grade id and points, and the marker and stub texts nbgrader writes and reads.

The predicates take a notebook node or the plain JSON dict of a cell. The texts are nbgrader's
defaults, which ``nbgrader_config.py`` sets explicitly (``ClearSolutions``, ``ClearHiddenTests``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SOLUTION_BEGIN = "BEGIN SOLUTION"
SOLUTION_END = "END SOLUTION"
HIDDEN_TESTS_BEGIN = "BEGIN HIDDEN TESTS"
HIDDEN_TESTS_END = "END HIDDEN TESTS"
MARK_SCHEME_BEGIN = "BEGIN MARK SCHEME"
MARK_SCHEME_END = "END MARK SCHEME"
SOLUTION_DELIMITERS = (SOLUTION_BEGIN, SOLUTION_END)
# Regions only the instructors' version may hold, as the source notebooks write them.
SECRET_REGIONS = (
    (f"### {SOLUTION_BEGIN}", f"### {SOLUTION_END}"),
    (f"### {HIDDEN_TESTS_BEGIN}", f"### {HIDDEN_TESTS_END}"),
    (f"=== {MARK_SCHEME_BEGIN} ===", f"=== {MARK_SCHEME_END} ==="),
)
SECRET_MARKERS = (
    SOLUTION_BEGIN,
    SOLUTION_END,
    HIDDEN_TESTS_BEGIN,
    HIDDEN_TESTS_END,
    MARK_SCHEME_BEGIN,
    MARK_SCHEME_END,
)

# What a released answer cell holds in place of the solution.
CODE_STUB_COMMENT = "# YOUR CODE HERE"
CODE_STUB = "raise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
CODE_STUB_LINES = (CODE_STUB_COMMENT, CODE_STUB)
STUB_PLACEHOLDERS = ("YOUR CODE HERE", TEXT_STUB, CODE_STUB)

NBGRADER_CELL_KEYS = ("nbgrader", "deletable", "editable")  # cell metadata nbgrader sets


def nbgrader_metadata(cell: Mapping[str, Any]) -> dict:
    """The cell's nbgrader metadata; empty for a cell nbgrader does not know."""
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def grade_id(cell: Mapping[str, Any]) -> str | None:
    """The nbgrader grade id of a cell, or None."""
    return nbgrader_metadata(cell).get("grade_id")


def is_answer(cell: Mapping[str, Any]) -> bool:
    """A cell the student writes in (nbgrader's solution cell)."""
    return bool(nbgrader_metadata(cell).get("solution"))


def is_graded(cell: Mapping[str, Any]) -> bool:
    """A cell that carries points: a test cell, or an answer graded by hand."""
    return bool(nbgrader_metadata(cell).get("grade"))


def is_test(cell: Mapping[str, Any]) -> bool:
    """An autograded test cell: a graded code cell that is not an answer."""
    return cell.get("cell_type") == "code" and is_graded(cell) and not is_answer(cell)


def is_read_only(cell: Mapping[str, Any]) -> bool:
    """Test cells and locked cells: students may not change them."""
    metadata = nbgrader_metadata(cell)
    return bool(metadata) and not metadata.get("solution") and bool(metadata.get("grade") or metadata.get("locked"))


def points(cell: Mapping[str, Any]) -> float:
    """The points a graded cell is worth (0 for any other cell)."""
    return float(nbgrader_metadata(cell).get("points", 0))
