"""Gradebook operations: backups, per-submission scratch gradebooks, and merging their grades.

nbgrader's SQLite gradebook takes one writer at a time (nbgrader issue 174), so parallel
grading gives every submission a scratch SQLite gradebook holding only its lesson, and the
results are merged into the course gradebook (SQLite or PostgreSQL, any nbgrader ``db_url``)
one submission at a time, each in its own commit.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.engine import make_url


def sqlite_path(db_url: str) -> Path | None:
    """The file of a SQLite gradebook URL, or None for other databases."""
    url = make_url(db_url)
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None


def backup_gradebook(db_url: str) -> Path | None:
    """Copy a SQLite gradebook to ``gradebook.db.backup-<time>``; return the copy's path, or
    None when there is nothing to copy (no gradebook yet, or a server database)."""
    path = sqlite_path(db_url)
    if path is None or not path.exists():
        return None
    destination = path.with_name(f"{path.name}.backup-{datetime.now():%Y%m%d-%H%M%S-%f}")
    with sqlite3.connect(path) as source, sqlite3.connect(destination) as copy:
        source.backup(copy)
    return destination


def copy_lesson(source: Gradebook, target: Gradebook, lesson: str) -> None:
    """Copy one lesson's assignment, notebooks and cells from gradebook ``source`` to ``target``."""
    assignment = source.find_assignment(lesson)
    target.update_or_create_assignment(lesson, duedate=assignment.duedate)
    for notebook in assignment.notebooks:
        target.update_or_create_notebook(notebook.name, lesson, kernelspec=notebook.kernelspec)
        for cell in notebook.grade_cells:
            target.update_or_create_grade_cell(
                cell.name, notebook.name, lesson, max_score=cell.max_score, cell_type=cell.cell_type
            )
        for cell in notebook.solution_cells:
            target.update_or_create_solution_cell(cell.name, notebook.name, lesson)
        for cell in notebook.task_cells:
            target.update_or_create_task_cell(
                cell.name, notebook.name, lesson, max_score=cell.max_score, cell_type=cell.cell_type
            )
        for cell in notebook.source_cells:
            target.update_or_create_source_cell(
                cell.name,
                notebook.name,
                lesson,
                cell_type=cell.cell_type,
                locked=cell.locked,
                source=cell.source,
                checksum=cell.checksum,
            )


def make_lesson_template(db_url: str, course_id: str, lesson: str, path: Path) -> Path:
    """A fresh SQLite gradebook at ``path`` holding only ``lesson``, copied from the course's."""
    with Gradebook(db_url, course_id) as source, Gradebook(f"sqlite:///{path}", course_id) as target:
        copy_lesson(source, target, lesson)
    return path


@dataclass
class NotebookScores:
    """What nbgrader recorded for one graded notebook: its late penalty, auto scores and comments by cell name."""

    late_penalty: float | None
    grades: dict[str, float | None]
    comments: dict[str, str | None]


@dataclass
class GradedScores:
    """What nbgrader recorded for one submission in its scratch gradebook. Read where the submission
    was graded (in parallel, or on a cluster worker), so the serial merge touches one database only."""

    timestamp: datetime | None
    notebooks: dict[str, NotebookScores]

    def as_dict(self) -> dict:
        """Plain data (for a Dask result); ``from_dict`` reads it back."""
        return {
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "notebooks": {name: asdict(notebook) for name, notebook in self.notebooks.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> GradedScores:
        timestamp = datetime.fromisoformat(data["timestamp"]) if data["timestamp"] else None
        return cls(timestamp, {name: NotebookScores(**notebook) for name, notebook in data["notebooks"].items()})


def read_graded(db_url: str, course_id: str, lesson: str, student: str) -> GradedScores:
    """The scores nbgrader recorded for ``student``'s ``lesson`` in the gradebook at ``db_url``;
    raises MissingEntry when it recorded none."""
    with Gradebook(db_url, course_id) as graded:
        result = graded.find_submission(lesson, student)
        return GradedScores(
            result.timestamp,
            {
                notebook.name: NotebookScores(
                    notebook.late_submission_penalty,
                    {grade.name: grade.auto_score for grade in notebook.grades},
                    {comment.name: comment.auto_comment for comment in notebook.comments},
                )
                for notebook in result.notebooks
            },
        )


def merge_graded(target: Gradebook, scores: GradedScores, lesson: str, student: str, flagged: bool) -> None:
    """Copy one student's autograded ``scores`` for ``lesson`` into ``target``, keeping manual
    grades, and commit. Raises MissingEntry when ``target`` lacks a notebook or cell that was graded."""
    target.update_or_create_student(student)
    submission = target.update_or_create_submission(lesson, student, timestamp=scores.timestamp)
    submitted = {notebook.name: notebook for notebook in submission.notebooks}
    for name, graded in scores.notebooks.items():
        notebook = named(submitted, name, f"submitted notebook of {lesson}")
        notebook.late_submission_penalty = graded.late_penalty
        notebook.flagged = notebook.flagged or flagged
        grades = {grade.name: grade for grade in notebook.grades}
        for cell, auto_score in graded.grades.items():
            kept = named(grades, cell, f"grade in {name}")
            kept.auto_score = auto_score
            kept.needs_manual_grade = kept.manual_score is not None or auto_score is None
        comments = {comment.name: comment for comment in notebook.comments}
        for cell, auto_comment in graded.comments.items():
            named(comments, cell, f"comment in {name}").auto_comment = auto_comment
    target.db.commit()


def named(found: dict, name: str, what: str):
    """``found[name]``, or MissingEntry naming what is missing."""
    if name not in found:
        raise MissingEntry(f"No such {what}: {name}")
    return found[name]


def record_ungradable(target: Gradebook, lesson: str, student: str, timestamp: datetime | None, reason: str) -> None:
    """Score a submission that could not be graded 0 on every cell, flagged, and commit."""
    target.update_or_create_student(student)
    submission = target.update_or_create_submission(lesson, student, timestamp=timestamp)
    for notebook in submission.notebooks:
        notebook.flagged = True
        for grade in notebook.grades:
            grade.auto_score = 0.0
            grade.needs_manual_grade = grade.manual_score is not None
        for comment in notebook.comments:
            comment.auto_comment = f"Not graded: {reason}"
    target.db.commit()
