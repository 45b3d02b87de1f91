"""Submissions of the fixture lessons as students make them: correct, mangled, broken, hostile.

Every builder starts from the released notebook (what a student downloads) and returns a
notebook node, or bytes for files that are not notebooks at all.
"""

import copy
import json
import random
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

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


def grade_id(cell):
    """The nbgrader grade id of a cell (a notebook node or plain JSON), or None."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def index_of(nb, wanted):
    return next(i for i, cell in enumerate(nb.cells) if grade_id(cell) == wanted or cell.get("id") == wanted)


def answered(lesson="basics", **answers):
    """The released notebook with correct answers, or the answers given (by grade id)."""
    nb = released(lesson)
    chosen = {**CORRECT_ANSWERS, **{key.replace("_", "-"): value for key, value in answers.items()}}
    for cell in nb.cells:
        if grade_id(cell) in chosen:
            cell.source = chosen[grade_id(cell)]
    return nb


def strip_nbgrader_metadata(nb):
    for cell in nb.cells:
        for key in ("nbgrader", "deletable", "editable"):
            cell.metadata.pop(key, None)
    return nb


def new_cell_ids(nb):
    """Fresh random cell ids, as a notebook rebuilt cell by cell would have."""
    for cell in nb.cells:
        cell["id"] = nbformat.v4.new_code_cell().id
    return nb


def move(nb, wanted, after):
    cell = nb.cells.pop(index_of(nb, wanted))
    nb.cells.insert(index_of(nb, after) + 1, cell)
    return nb


def colab_saved(nb):
    """What Colab's File > Download gives: nbformat 4.0, no cell ids, Colab metadata, outputs
    and widget state, a kernelspec without language."""
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 0
    data["metadata"] = {
        "colab": {"provenance": [], "toc_visible": True},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"},
        "accelerator": "GPU",
        "widgets": {"application/vnd.jupyter.widget-state+json": {"abc": {"model_name": "HBoxModel"}}},
    }
    for number, cell in enumerate(data["cells"]):
        colab_id = cell.pop("id")
        cell["metadata"]["id"] = colab_id
        cell["metadata"]["colab"] = {"base_uri": "https://localhost/"}
        if cell["cell_type"] == "code":
            cell["execution_count"] = number
            cell["metadata"]["outputId"] = f"out-{number}"
            cell["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": ["ran\n"]},
                {"output_type": "display_data", "metadata": {},
                 "data": {"application/vnd.jupyter.widget-view+json":
                          {"model_id": "abc", "version_major": 2, "version_minor": 0},
                          "text/plain": ["HBox()"]}},
            ]
    return nbformat.reads(json.dumps(data), as_version=4)


def with_extra_cells(nb):
    nb.cells.insert(0, new_markdown_cell("My notes on this lesson."))
    nb.cells.insert(index_of(nb, "add-answer") + 1, new_code_cell("scratch = add(2, 2)\nprint(scratch)"))
    nb.cells.insert(index_of(nb, "normalise-tests"), new_markdown_cell("Trying things out:"))
    nb.cells.append(new_code_cell("print('the end')"))
    return nb


def shuffled(nb, seed=7):
    random.Random(seed).shuffle(nb.cells)
    return nb


def edit_test(nb, wanted, source):
    nb.cells[index_of(nb, wanted)].source = source
    return nb


def delete(nb, wanted):
    del nb.cells[index_of(nb, wanted)]
    return nb


def truncated(nb):
    text = nbformat.writes(nb)
    return text[: len(text) // 2].encode()


SNEAKY_EQUALS = ADD + ("    class AlwaysEqual:\n        def __eq__(self, other):\n            return True\n"
                       "    return AlwaysEqual()")


def full_score_cases():
    """Correct work, mangled: each must still get every autograded point."""
    return {
        "correct": answered(),
        "test-deleted": delete(answered(), "add-tests"),
        "test-edited": edit_test(answered(), "add-tests", "assert True  # I fixed the test"),
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
        "test-pass": edit_test(answered(add_answer=ADD + "    return a - b"), "add-tests", "pass"),
        "stripped-test-pass": strip_nbgrader_metadata(
            edit_test(answered(add_answer=ADD + "    return a - b"), "add-tests", "pass")),
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


def write_submission(course_root, student, lesson, content):
    """Put ``content`` (a notebook or bytes) at submitted/<student>/<lesson>/<lesson>.ipynb."""
    folder = Path(course_root) / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lesson}.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        nbformat.write(copy.deepcopy(content), path)
    return path
