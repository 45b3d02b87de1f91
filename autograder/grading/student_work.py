"""Notebooks as students hand them in, made from any lesson: the released notebook with the
solutions' answers put in, and the ways notebooks get changed on their way back (Colab,
deleted, edited, moved or extra cells, stripped metadata, broken files).

Used by the catalogue of kinds of work (``autograder.samples.kinds``), ``autograder.grading.lesson_model``,
``autograder.bench.lessons`` and the tests' fixtures.
The functions that change a notebook return it (changed in place, except ``colab_saved``).
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder.cells import (
    CODE_STUB,
    CODE_STUB_LINES,
    MARK_SCHEME_BEGIN,
    NBGRADER_CELL_KEYS,
    SOLUTION_DELIMITERS,
    grade_id,
    is_answer,
    is_test,
)


def index_of(nb: NotebookNode, wanted: str) -> int:
    """Position of the cell whose grade id or cell id is ``wanted``."""
    for index, cell in enumerate(nb.cells):
        if wanted in (grade_id(cell), cell.get("id")):
            return index
    raise KeyError(f"the notebook has no cell with grade id or cell id {wanted!r}")


def student_answer(solution_cell: NotebookNode) -> str:
    """What a student who got it right writes in an answer cell: the solution cell without
    nbgrader's solution delimiters and without the mark scheme."""
    lines = []
    for line in solution_cell.source.splitlines():
        if MARK_SCHEME_BEGIN in line:
            break
        if not any(delimiter in line for delimiter in SOLUTION_DELIMITERS):
            lines.append(line)
    return "\n".join(lines).strip("\n")


def correct_answers(solution: NotebookNode) -> dict[str, str]:
    """{grade id: correct answer} for every answer cell of a solution (source) notebook."""
    return {grade_id(cell): student_answer(cell) for cell in solution.cells if is_answer(cell)}


def answered(release: NotebookNode, answers: dict[str, str]) -> NotebookNode:
    """A copy of the released notebook with the answer cells named in ``answers`` (by grade id
    or cell id) given those sources."""
    nb = copy.deepcopy(release)
    for name, source in answers.items():
        nb.cells[index_of(nb, name)].source = source
    return nb


def with_stub_body(stub: str, body: str) -> str:
    """An answer written in place of a released code stub's placeholder lines, at the stub's
    indentation, so the signature and docstring the student was given are kept."""
    lines, replaced = [], False
    for line in stub.splitlines():
        if line.strip() in CODE_STUB_LINES:
            if not replaced:
                indent = line[: len(line) - len(line.lstrip())]
                lines += [indent + body_line if body_line else "" for body_line in body.splitlines()]
                replaced = True
        else:
            lines.append(line)
    if not replaced:
        raise ValueError(f"not a released code stub (no {CODE_STUB!r} line):\n{stub}")
    return "\n".join(lines)


def replace_source(nb: NotebookNode, wanted: str, source: str) -> NotebookNode:
    nb.cells[index_of(nb, wanted)].source = source
    return nb


def delete(nb: NotebookNode, wanted: str) -> NotebookNode:
    del nb.cells[index_of(nb, wanted)]
    return nb


def move(nb: NotebookNode, wanted: str, after: str) -> NotebookNode:
    """Move cell ``wanted`` to just after cell ``after``."""
    cell = nb.cells.pop(index_of(nb, wanted))
    nb.cells.insert(index_of(nb, after) + 1, cell)
    return nb


def shuffled(nb: NotebookNode, seed: int = 7) -> NotebookNode:
    random.Random(seed).shuffle(nb.cells)
    return nb


def strip_nbgrader_metadata(nb: NotebookNode) -> NotebookNode:
    for cell in nb.cells:
        for key in NBGRADER_CELL_KEYS:
            cell.metadata.pop(key, None)
    return nb


def new_cell_ids(nb: NotebookNode) -> NotebookNode:
    """Fresh random cell ids, as a notebook rebuilt cell by cell would have."""
    for cell in nb.cells:
        cell["id"] = new_code_cell().id
    return nb


def with_extra_cells(nb: NotebookNode, scratch_code: str = "print('trying things out')") -> NotebookNode:
    """A student's own cells: notes at the top, scratch code after the first answer, a note
    before the first test, and a cell at the end."""
    first_answer = next(i for i, cell in enumerate(nb.cells) if is_answer(cell))
    nb.cells.insert(first_answer + 1, new_code_cell(scratch_code))
    first_test = next(i for i, cell in enumerate(nb.cells) if is_test(cell))
    nb.cells.insert(first_test, new_markdown_cell("Trying things out:"))
    nb.cells.insert(0, new_markdown_cell("My notes on this lesson."))
    nb.cells.append(new_code_cell("print('the end')"))
    return nb


def colab_saved(nb: NotebookNode) -> NotebookNode:
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
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {
                        "application/vnd.jupyter.widget-view+json": {
                            "model_id": "abc",
                            "version_major": 2,
                            "version_minor": 0,
                        },
                        "text/plain": ["HBox()"],
                    },
                },
            ]
    return nbformat.reads(json.dumps(data), as_version=4)


def truncated(nb: NotebookNode) -> bytes:
    """The first half of the notebook's file, as an interrupted download leaves it."""
    text = nbformat.writes(nb)
    return text[: len(text) // 2].encode()


def notebook_bytes(content: NotebookNode | bytes) -> bytes:
    """A notebook node or the raw bytes of a broken file, as the bytes of a file."""
    if isinstance(content, bytes):
        return content
    return nbformat.writes(content).encode()


def write_submission(
    course_root: Path | str, student: str, lesson: str, content: NotebookNode | bytes, filename: str | None = None
) -> Path:
    """Put ``content`` (a notebook or the bytes of a file) at
    submitted/<student>/<lesson>/<filename> (default ``<lesson>.ipynb``); return the path."""
    folder = Path(course_root) / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or f"{lesson}.ipynb")
    path.write_bytes(notebook_bytes(content))
    return path
