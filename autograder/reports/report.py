"""``report``: one table per lesson of scores and flags with their reasons (similar answers among them)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry, SubmittedAssignment

from autograder.courseroot import REPORT_FILE, Course
from autograder.flags import Flag
from autograder.grading.records import read_record
from autograder.lms.formats import LMS_FILE
from autograder.reports.similarity import read_similarity, similarity_flags


def late_flags(course: Course, submission: SubmittedAssignment) -> list[Flag]:
    """Late flags from nbgrader's timestamp and due date, and from the LMS."""
    flags = []
    if submission.total_seconds_late > 0:
        flags.append(Flag("late", f"{submission.total_seconds_late / 3600:.1f} h after the due date"))
    lms = course.submission_dir(submission.student.id, submission.assignment.name) / LMS_FILE
    try:
        lms_late = json.loads(lms.read_text()).get("late")
    except (OSError, ValueError):
        lms_late = False
    if lms_late:
        flags.append(Flag("late", "the LMS marked the upload late"))
    return flags


def lesson_rows(course: Course, gradebook: Gradebook, lesson: str) -> list[tuple]:
    """Rows (student, score, max, manual grading left, flags) of one lesson; the flags include those
    of the similarity report ``report`` or ``similarity`` last wrote."""
    similar = similarity_flags(read_similarity(course), lesson)
    rows = []
    for student in sorted(gradebook.students, key=lambda s: s.id):
        try:
            submission = gradebook.find_submission(lesson, student.id)
        except MissingEntry:
            rows.append((student.id, None, None, False, [Flag("missing", "no submission")]))
            continue
        record = read_record(course, student.id, lesson) or {}
        flags = [Flag.from_dict(flag) for flag in record.get("flags", [])]
        if record.get("failure"):
            flags.insert(0, Flag("ungradable", record["failure"], serious=True))
        flags += late_flags(course, submission) + similar.get(student.id, [])
        flags.sort(key=lambda flag: not flag.serious)
        rows.append((student.id, submission.score, submission.max_score, submission.needs_manual_grade, flags))
    return rows


def format_lesson_table(lesson: str, rows: list[tuple]) -> str:
    width = max([len("student")] + [len(row[0]) for row in rows])
    lines = [f"== {lesson} ==", f"{'student':<{width}}  {'score':>7}  {'max':>5}  flags"]
    for student, score, maximum, manual, flags in rows:
        shown = "-" if score is None else f"{score:g}"
        top = "-" if maximum is None else f"{maximum:g}"
        notes = ([Flag("to-grade", "answers to grade by hand")] if manual else []) + flags
        lines.append(f"{student:<{width}}  {shown:>7}  {top:>5}  " + "; ".join(str(flag) for flag in notes))
    return "\n".join(lines)


def report(
    course: Course, lessons: tuple[str, ...] | list[str] = (), csv_path: Path | str | None = None
) -> tuple[str, Path]:
    """The report as text, and the path of the CSV written (autograded/report.csv by default)."""
    csv_path = Path(csv_path or course.folder("autograded") / REPORT_FILE)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    tables = []
    with (
        Gradebook(course.db_url, course.coursedir().course_id) as gradebook,
        open(csv_path, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(
            ["lesson", "student", "score", "max_score", "needs_manual_grade", "serious", "flags", "reasons"]
        )
        for assignment in gradebook.assignments:
            if lessons and assignment.name not in lessons:
                continue
            rows = lesson_rows(course, gradebook, assignment.name)
            tables.append(format_lesson_table(assignment.name, rows))
            for student, score, maximum, manual, flags in rows:
                writer.writerow(
                    [
                        assignment.name,
                        student,
                        "" if score is None else score,
                        "" if maximum is None else maximum,
                        manual,
                        any(flag.serious for flag in flags),
                        " ".join(flag.code for flag in flags),
                        " | ".join(flag.message for flag in flags),
                    ]
                )
    return "\n\n".join(tables) or "no lessons in the gradebook", csv_path
