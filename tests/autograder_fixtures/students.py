"""Submissions of the fixture lessons as students make them: correct, mangled, broken, hostile.

Every builder starts from the released notebook (what a student downloads) and returns a
notebook node, or bytes for files that are not notebooks at all. The changes that work on any
notebook (Colab, deleted or moved cells, broken files) come from autograder.student_work.
"""

import json
from pathlib import Path

import nbformat

from autograder.student_work import (  # noqa: F401 - re-exported for the tests
    answered as answered_with,
    colab_saved,
    delete,
    grade_id,
    index_of,
    move,
    new_cell_ids,
    replace_source,
    shuffled,
    strip_nbgrader_metadata,
    truncated,
    with_extra_cells as extra_cells,
    write_submission,
)

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


def released(lesson="basics"):
    return nbformat.read(RELEASE / lesson / f"{lesson}.ipynb", as_version=4)


def answered(lesson="basics", **answers):
    """The released notebook with correct answers, or the answers given (by grade id)."""
    nb = released(lesson)
    chosen = {**CORRECT_ANSWERS, **{key.replace("_", "-"): value for key, value in answers.items()}}
    return answered_with(nb, {key: value for key, value in chosen.items()
                              if key in {grade_id(cell) for cell in nb.cells}})


def with_extra_cells(nb):
    return extra_cells(nb, scratch_code="scratch = add(2, 2)\nprint(scratch)")


SNEAKY_EQUALS = ADD + ("    class AlwaysEqual:\n        def __eq__(self, other):\n            return True\n"
                       "    return AlwaysEqual()")


def full_score_cases():
    """Correct work, mangled: each must still get every autograded point."""
    return {
        "correct": answered(),
        "test-deleted": delete(answered(), "add-tests"),
        "test-edited": replace_source(answered(), "add-tests", "assert True  # I fixed the test"),
        "test-moved": move(answered(), "add-tests", "intro"),
        "answer-moved": move(answered(), "add-answer", "normalise-tests"),
        "metadata-stripped": strip_nbgrader_metadata(answered()),
        "metadata-and-ids-stripped": new_cell_ids(strip_nbgrader_metadata(answered())),
        "colab": colab_saved(answered()),
        "colab-stripped": colab_saved(strip_nbgrader_metadata(answered())),
        "extra-cells": with_extra_cells(answered()),
        "shuffled": shuffled(answered()),
        "stderr-warning": answered(add_answer=ADD + (
            "    import sys, warnings\n"
            "    sys.stderr.write('W0000 00:00:1.0 cuda_dnn.cc:1] Unable to register cuDNN factory\\n')\n"
            "    warnings.warn('this function is deprecated', DeprecationWarning)\n"
            "    return a + b")),
    }


def half_score_cases():
    """Work that breaks or cheats on the add exercise (2 points) but not on normalise."""
    return {
        "sys-exit": answered(add_answer=ADD + "    import sys\n    sys.exit(1)"),
        "os-exit": answered(add_answer=ADD + "    import os\n    os._exit(1)"),
        "segfault": answered(add_answer=ADD + "    import ctypes\n    return ctypes.string_at(0)"),
        "infinite-loop": answered(add_answer=ADD + "    while True:\n        pass"),
        "memory-bomb": answered(add_answer=ADD + "    return len(bytearray(8 * 1024 ** 3))"),
        "output-flood": answered(add_answer=ADD + (
            "    for _ in range(20000):\n        print('flood ' * 200)\n    return a - b")),
        "always-equal": answered(add_answer=SNEAKY_EQUALS),
        "test-pass": replace_source(answered(add_answer=ADD + "    return a - b"), "add-tests", "pass"),
        "stripped-test-pass": strip_nbgrader_metadata(
            replace_source(answered(add_answer=ADD + "    return a - b"), "add-tests", "pass")),
        "monkeypatch": answered(add_answer=ADD + "    return a + b", normalise_answer=NORMALISE + (
            "    import numpy\n    numpy.allclose = lambda *args, **kwargs: True\n    return x")),
    }


def zero_score_cases():
    """Files that are not this lesson's notebook: no points, a clear flag."""
    return {
        "not-json": b"I could not download it so here is my answer: return a + b",
        "empty": b"",
        "truncated": truncated(answered()),
        "not-a-notebook": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj",
        "json-not-notebook": json.dumps({"answer": "a + b"}).encode(),
        "other-lesson": answered("vectors"),
    }
