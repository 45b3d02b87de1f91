"""Mark schemes beside written answers for graders (autograder/grading/mark_schemes.py), on the real lessons."""

from pathlib import Path

import nbformat

from autograder.cells import grade_id
from autograder.grading.mark_schemes import is_mark_scheme_cell, solution_mark_schemes, with_mark_schemes
from autograder.reports.feedback import HideHiddenTests

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = {
    "lesson2_augmentation": "ex7-1-answer",
    "lesson3_scratch": "ex7-2-answer",
    "lesson4_frozen": "ex7-3-answer",
    "lesson5_finetune": "ex7-4-answer",
}


def test_every_written_exercise_has_its_mark_scheme_put_under_the_answer_and_never_in_feedback():
    for lesson, answer in WRITTEN.items():
        solution = nbformat.read(ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
        schemes = solution_mark_schemes(solution)
        assert list(schemes) == [answer], lesson
        assert "MARK SCHEME" not in schemes[answer] and "point" in schemes[answer], lesson
        released = nbformat.read(ROOT / "lessons" / lesson / f"{lesson}.ipynb", as_version=4)
        cells = len(released.cells)
        assert with_mark_schemes(released, schemes) == 1
        assert with_mark_schemes(released, schemes) == 1, "a second run replaces, never doubles"
        position = next(i for i, cell in enumerate(released.cells) if grade_id(cell) == answer)
        shown = released.cells[position + 1]
        assert is_mark_scheme_cell(shown) and schemes[answer] in shown.source
        assert len(released.cells) == cells + 1
        nbformat.validate(released)
        feedback, _ = HideHiddenTests().preprocess(released, {})
        assert len(feedback.cells) == cells and not any(is_mark_scheme_cell(cell) for cell in feedback.cells)
