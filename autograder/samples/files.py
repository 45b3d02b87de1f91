"""The files of a sample class, as an LMS and a registrar deliver them: ``submissions.zip``
(Canvas file names, submission ids in upload order), ``roster.csv`` (the columns ``collect
--roster`` and ``export --roster`` read) and ``expected.csv`` (for each student and lesson, the
score the autograder should give and the flags its report should show)."""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable
from pathlib import Path

from autograder.lms.formats import canvas_file_name
from autograder.samples.kinds import KINDS
from autograder.samples.plan import SampleClass

SUBMISSIONS_ZIP = "submissions.zip"
ROSTER_CSV = "roster.csv"
EXPECTED_CSV = "expected.csv"
ROSTER_COLUMNS = ["id", "first_name", "last_name", "email", "sis_user_id", "section"]
EXPECTED_COLUMNS = [
    "lesson",
    "student",
    "name",
    "kind",
    "upload",
    "score",
    "max_score",
    "autograded_max",
    "grade",
    "flags",
    "serious",
    "to_grade",
    "description",
]


def write_class(sample: SampleClass, out_dir: Path | str, first_submission_id: int = 700000) -> list[Path]:
    """Write submissions.zip, roster.csv and expected.csv into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    uploads = sorted(
        ((upload, student) for student in sample.students for work in student.work.values() for upload in work.uploads),
        key=lambda pair: pair[0].time,
    )
    with zipfile.ZipFile(out_dir / SUBMISSIONS_ZIP, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (upload, student) in enumerate(uploads):
            upload.entry = canvas_file_name(
                student.login_name, student.user_id, first_submission_id + number, upload.filename, late=upload.late
            )
            archive.writestr(zipfile.ZipInfo(upload.entry, upload.time.timetuple()[:6]), upload.content)
    write_csv(
        out_dir / ROSTER_CSV,
        ROSTER_COLUMNS,
        [[s.user_id, s.first_name, s.last_name, s.email, f"SIS{s.user_id}", s.section] for s in sample.students],
    )
    write_csv(out_dir / EXPECTED_CSV, EXPECTED_COLUMNS, expected_rows(sample))
    return [out_dir / name for name in (SUBMISSIONS_ZIP, ROSTER_CSV, EXPECTED_CSV)]


def expected_rows(sample: SampleClass) -> list[list]:
    """The rows of expected.csv: lesson by lesson, student by student."""
    rows = []
    for lesson in sample.lessons:
        for student in sorted(sample.students, key=lambda s: s.user_id):
            work = student.work[lesson.name]
            filed = work.score is not None
            rows.append(
                [
                    lesson.name,
                    student.user_id,
                    f"{student.first_name} {student.last_name}",
                    work.kind,
                    work.uploads[-1].entry,
                    f"{work.score:g}" if filed else "",
                    f"{lesson.max_score:g}" if filed else "",
                    f"{lesson.full_points:g}",
                    work.grade,
                    " ".join(work.flags),
                    work.serious,
                    work.to_grade,
                    KINDS[work.kind].description,
                ]
            )
    return rows


def write_csv(path: Path, header: list[str], rows: Iterable[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
