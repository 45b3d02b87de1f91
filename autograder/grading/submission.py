"""A submission (one student's folder for one lesson), reading its notebook, and undoing what
Colab does to notebooks."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.courseroot import AutograderError, Course
from autograder.flags import Flag
from autograder.grading.records import RECORD_FILE
from autograder.lms.formats import LMS_FILE

VALID_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Notebook and cell metadata that Colab (and other hosts) add and nbgrader has no use for.
HOST_NOTEBOOK_KEYS = ("colab", "accelerator", "gpuClass", "widgets", "kaggle")
HOST_CELL_KEYS = ("id", "colab", "colab_type", "executionInfo", "outputId", "pycharm")


class UnreadableNotebook(AutograderError):
    """A submitted file that cannot be graded; the message says why and what to do."""


@dataclass
class Submission:
    """One student's folder for one lesson in submitted/."""

    student: str
    lesson: str
    folder: Path

    def fingerprint(self, release_paths: Iterable[Path]) -> str:
        """A hash of the submitted files and the release they are graded against."""
        digest = hashlib.sha256()
        for path in sorted(self.folder.iterdir()) + list(release_paths):
            if path.is_file() and path.name not in (RECORD_FILE, LMS_FILE):
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()


def find_submissions(course: Course, students: Iterable[str] = (), lessons: Iterable[str] = ()) -> list[Submission]:
    """Submissions under submitted/, filtered by student and lesson names."""
    found = []
    submitted = course.folder("submitted")
    if not submitted.is_dir():
        return found
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if students and student_dir.name not in students:
            continue
        for lesson_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if lessons and lesson_dir.name not in lessons:
                continue
            found.append(Submission(student_dir.name, lesson_dir.name, lesson_dir))
    return found


def read_notebook(path: Path) -> NotebookNode:
    """Read a submission as an nbformat 4 notebook or raise UnreadableNotebook."""
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableNotebook(
            "the file is empty: ask the student to download the notebook again "
            "(File > Download > Download .ipynb) and re-upload it"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableNotebook(
            "the file is not text, so not a notebook (a PDF, zip or image renamed .ipynb?): "
            "ask the student for the .ipynb file"
        ) from None
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        where = f" ({error.msg}, line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
        raise UnreadableNotebook(
            f"the file is not valid JSON{where}: it is truncated or not a notebook; ask the "
            "student to download the notebook again and re-upload it"
        ) from None
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        raise UnreadableNotebook("the file is JSON but not a Jupyter notebook (it has no cells)")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds for damaged files
        raise UnreadableNotebook(f"the notebook cannot be read by nbformat: {error}") from None


def host_cell_ids(cell: NotebookNode) -> list[str]:
    """Ids a cell may carry: its nbformat id and the id Colab keeps in its metadata."""
    ids = [cell.get("id"), cell.get("metadata", {}).get("id")]
    return [value for value in ids if isinstance(value, str) and value]


def normalise(nb: NotebookNode, release: NotebookNode) -> Flag | None:
    """Make a notebook saved by Colab or an older Jupyter a clean nbformat 4.5 notebook.

    Drops host metadata and widget state, clears outputs (nbgrader would), takes the
    kernelspec from the release, and gives every cell a valid unique id. Returns a Flag
    describing the host-specific changes, or None.
    """
    changes = []
    if nb.nbformat_minor < 5:
        changes.append(f"nbformat 4.{nb.nbformat_minor} upgraded to 4.5")
    host_keys = [key for key in HOST_NOTEBOOK_KEYS if key in nb.metadata]
    for key in host_keys:
        del nb.metadata[key]
    if host_keys:
        changes.append(f"notebook metadata {', '.join(host_keys)} removed")
    kernelspec = release.metadata.get("kernelspec")
    if kernelspec and nb.metadata.get("kernelspec") != kernelspec:
        nb.metadata["kernelspec"] = copy.deepcopy(kernelspec)
        changes.append("kernelspec taken from the lesson")

    stripped_cells = 0
    used_ids = set()
    for cell in nb.cells:
        removed = [key for key in HOST_CELL_KEYS if key in cell.metadata]
        for key in removed:
            del cell.metadata[key]
        stripped_cells += bool(removed)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        cell_id = cell.get("id")
        if not (isinstance(cell_id, str) and VALID_CELL_ID.match(cell_id)) or cell_id in used_ids:
            cell_id = uuid.uuid4().hex[:8]
        cell["id"] = cell_id
        used_ids.add(cell_id)
    if stripped_cells:
        changes.append(f"host metadata removed from {stripped_cells} cells")
    nb.nbformat, nb.nbformat_minor = 4, 5
    if not changes:
        return None
    return Flag("normalised", "; ".join(changes))
