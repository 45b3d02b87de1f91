"""The grading record: what the autograder did to one submission, kept beside the graded notebook
as ``autograded/<student>/<lesson>/autograder.json`` (fingerprint, failure, flags, time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from autograder.courseroot import Course
from autograder.flags import Flag

RECORD_FILE = "autograder.json"


def record_path(course: Course, student: str, lesson: str) -> Path:
    """Where the autograder writes what it did to one submission."""
    return course.submission_dir(student, lesson, "autograded") / RECORD_FILE


def read_record(course: Course, student: str, lesson: str) -> dict | None:
    """The record of one submission, or None when it was never graded (or the file is damaged)."""
    try:
        return json.loads(record_path(course, student, lesson).read_text())
    except (OSError, ValueError):
        return None


def write_record(
    course: Course, student: str, lesson: str, *, seconds: float, fingerprint: str, failure: str, flags: list[Flag]
) -> Path:
    """Write the record of one submission just graded; returns its path."""
    path = record_path(course, student, lesson)
    record = {
        "student": student,
        "lesson": lesson,
        "graded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "fingerprint": fingerprint,
        "failure": failure,
        "flags": [flag.as_dict() for flag in flags],
    }
    path.write_text(json.dumps(record, indent=1))
    return path
