"""``export``: nbgrader's grades CSV and a CSV that Canvas's gradebook imports."""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin
from traitlets import Bool, Dict
from traitlets.config import Configurable

from autograder.courseroot import Course
from autograder.lms.roster import read_roster

CANVAS_FIXED_COLUMNS = ["Student", "ID", "SIS User ID", "Section"]
# The row under the header of Canvas's own gradebook CSV: each assignment's points possible.
CANVAS_POINTS_POSSIBLE = "    Points Possible"


class GradeExport(Configurable):
    """Settings of ``python -m autograder export``."""

    canvas_columns = Dict(
        {},
        help="Canvas column header per lesson, e.g. {'lesson1': 'Lesson 1 (123456)'}; "
        "lessons not listed use their name.",
    ).tag(config=True)
    missing_as_zero = Bool(
        False,
        help="Export a lesson a student never submitted as 0 points in the Canvas CSV "
        "(default: left empty, which Canvas imports as missing).",
    ).tag(config=True)


def final_score(gradebook: Gradebook, lesson: str, student: str, missing_as_zero: bool = False) -> float | None:
    """Points after the late penalty, as nbgrader's CSV export computes them; None when the student
    submitted nothing (0.0 with ``missing_as_zero``)."""
    try:
        submission = gradebook.find_submission(lesson, student)
    except MissingEntry:
        return 0.0 if missing_as_zero else None
    return max(0.0, submission.score - (submission.late_submission_penalty or 0.0))


def write_canvas_csv(
    gradebook: Gradebook,
    path: Path,
    headers: dict[str, str],
    roster_rows: list[dict[str, str]],
    missing_as_zero: bool = False,
) -> None:
    """Canvas's layout: the header, the Points Possible row, then one row per student (Student, ID,
    SIS User ID, Section, points per lesson; empty for a missing submission unless
    ``missing_as_zero``)."""
    extra = {row["id"]: row for row in roster_rows}
    lessons = [assignment.name for assignment in gradebook.assignments]
    students = sorted(
        gradebook.students, key=lambda s: ((s.last_name or "").lower(), (s.first_name or "").lower(), s.id)
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANVAS_FIXED_COLUMNS + [headers.get(lesson, lesson) for lesson in lessons])
        writer.writerow(
            [CANVAS_POINTS_POSSIBLE]
            + [""] * (len(CANVAS_FIXED_COLUMNS) - 1)
            + [f"{gradebook.find_assignment(lesson).max_score:g}" for lesson in lessons]
        )
        for student in students:
            names = ", ".join(part for part in (student.last_name, student.first_name) if part)
            row = extra.get(student.id, {})
            writer.writerow(
                [names or student.id, student.id, row.get("sis_user_id", ""), row.get("section", "")]
                + [format_points(final_score(gradebook, lesson, student.id, missing_as_zero)) for lesson in lessons]
            )


def format_points(points: float | None) -> str:
    """Points as Canvas reads them: empty for a missing submission."""
    return "" if points is None else f"{points:g}"


def export(
    course: Course,
    grades_csv: Path | str | None = None,
    canvas_csv: Path | str | None = None,
    roster: Path | str | None = None,
    missing_as_zero: bool | None = None,
) -> list[Path]:
    """Write both CSV files (default: in autograded/, which git ignores); return their paths.
    ``missing_as_zero`` (default: ``GradeExport.missing_as_zero``) fills missing lessons with 0."""
    autograded = course.folder("autograded")
    autograded.mkdir(exist_ok=True)
    grades_csv = Path(grades_csv or autograded / "grades.csv")
    canvas_csv = Path(canvas_csv or autograded / "canvas_grades.csv")
    roster_rows = read_roster(roster) if roster else []
    with Gradebook(course.db_url, course.coursedir().course_id) as gradebook:
        CsvExportPlugin(config=course.config, to=str(grades_csv)).export(gradebook)
        settings = GradeExport(config=course.config)
        zeros = settings.missing_as_zero if missing_as_zero is None else missing_as_zero
        write_canvas_csv(gradebook, canvas_csv, settings.canvas_columns, roster_rows, zeros)
    return [grades_csv, canvas_csv]
