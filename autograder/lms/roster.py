"""The class list: a CSV with columns id, first_name, last_name, email (plus optional
sis_user_id and section for the Canvas export)."""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.courseroot import CourseError

REQUIRED_COLUMNS = ("id", "first_name", "last_name", "email")


def read_roster(path: Path | str) -> list[dict[str, str]]:
    """Rows of the roster as dicts keyed by lower-case column name, in file order."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            rows = list(reader)
    except OSError as error:
        raise CourseError(f"cannot read the roster {path}: {error.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise CourseError(f"{path} is not a UTF-8 CSV file ({error})") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise CourseError(
            f"{path}: missing column(s) {', '.join(missing)}; the first line must "
            f"be {','.join(REQUIRED_COLUMNS)} (sis_user_id and section may follow)"
        )
    students = []
    for number, row in enumerate(rows, start=2):
        row = {key.strip().lower(): (value or "").strip() for key, value in row.items() if key}
        if not row["id"]:
            raise CourseError(f"{path}, line {number}: the id is empty")
        students.append(row)
    return students


def update_gradebook_students(gradebook: Gradebook, students: list[dict[str, str]]) -> None:
    """Create or update the gradebook's students with the roster's names and emails."""
    for row in students:
        gradebook.update_or_create_student(
            row["id"], first_name=row["first_name"], last_name=row["last_name"], email=row["email"]
        )
