"""Submissions of the fixture lessons as students make them: correct, mangled, broken, hostile.

Every kind of work comes from the autograder's catalogue (``autograder.samples.kinds``), made from
the fixture lesson ``basics`` with the answers below; the hostile kinds break the ``add``
exercise (those that patch numpy the ``normalise`` one, whose test uses numpy.allclose).
"""

from pathlib import Path

from autograder.cells import grade_id
from autograder.grading.lesson_model import LessonModel
from autograder.grading.student_work import answered as answered_with
from autograder.grading.student_work import (  # noqa: F401 - re-exported for the tests
    colab_saved,
    delete,
    new_cell_ids,
    strip_nbgrader_metadata,
    write_submission,
)
from autograder.samples.kinds import CATALOGUE, FULL, LIBRARY_WORK, OWN_WORK, PARTIAL, ZERO, Target

FIXTURES = Path(__file__).parent
SOURCE = FIXTURES / "solutions"
RELEASE = FIXTURES / "lessons"

ADD = 'def add(a, b):\n    """Return a + b."""\n'
NORMALISE = 'def normalise(x):\n    """Return (x - mean) / std as a new array."""\n'
CORRECT_ANSWERS = {
    "add-answer": ADD + "    return a + b",
    "normalise-answer": NORMALISE + "    return (x - x.mean()) / x.std()",
    "explain": "Scaling keeps the optimisation well conditioned.",
    "dot-answer": 'def dot(u, v):\n    """Return the dot product of two equal-length lists."""\n'
                  "    return sum(a * b for a, b in zip(u, v))",
}
# Test-cell points of the basics lesson (the written answer is graded by hand).
AUTO_POINTS = {"add-tests": 2.0, "normalise-tests": 2.0}
# The others break add-answer.
WRONG_ANSWER = {name: "normalise-answer" for name in ("monkeypatch", "numpy-internals", "numpy-code")}


def lesson(name="basics"):
    """A fixture lesson whose correct answers are CORRECT_ANSWERS (not the solution's, which
    carry markers that must never reach a student's feedback)."""
    return LessonModel.from_notebooks(name, RELEASE / name / f"{name}.ipynb", SOURCE / name / f"{name}.ipynb",
                                      answers=CORRECT_ANSWERS)


def released(name="basics"):
    return lesson(name).release


def answered(name="basics", **answers):
    """The released notebook with correct answers, or the answers given (by grade id, _ for -)."""
    nb = released(name)
    chosen = {**CORRECT_ANSWERS, **{key.replace("_", "-"): value for key, value in answers.items()}}
    return answered_with(nb, {key: value for key, value in chosen.items()
                              if key in {grade_id(cell) for cell in nb.cells}})


def cases(outcome):
    """{kind: submission} for every kind in the catalogue with this outcome that a student hands in
    once, on time, under the lesson's name (the other kinds differ only in how they are uploaded),
    and that the autograder does not flag as serious when it gives full points; not the kinds made
    from answers students wrote themselves or from the course library, which only the course's lessons have."""
    basics, vectors = lesson("basics"), lesson("vectors")
    return {kind.name: kind.make(Target(basics, (WRONG_ANSWER.get(kind.name, "add-answer"),), other=vectors))
            for kind in CATALOGUE
            if kind.outcome == outcome and kind.plain_upload and not (outcome == FULL and kind.serious)
            and kind.needs not in (OWN_WORK, LIBRARY_WORK)}


def full_score_cases():
    """Correct work, mangled: each must still get every autograded point."""
    return cases(FULL)


def half_score_cases():
    """Work that breaks or cheats on one exercise (2 points) but not on the other."""
    return cases(PARTIAL)


def zero_score_cases():
    """Files that are not this lesson's notebook: no points, a clear flag."""
    return cases(ZERO)
