"""``python -m autograder.sample_class OUT_DIR --check REPORT_CSV``: how the autograder's report
of a graded sample class differs from the class's expected.csv."""

from __future__ import annotations

import csv
from pathlib import Path


def read_csv(path: Path | str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def disagreements(expected_csv: Path | str, report_csv: Path | str) -> list[str]:
    """How the autograder's report (``report --csv``) differs from expected.csv, one line each."""
    report = {(row["lesson"], row["student"]): row for row in read_csv(report_csv)}
    found = []
    for want in read_csv(expected_csv):
        key = (want["lesson"], want["student"])
        where = f"{want['lesson']} {want['student']} ({want['kind']})"
        got = report.pop(key, None)
        if got is None:
            found.append(f"{where}: not in the report")
            continue
        for column in ("score", "max_score"):
            if not same_number(want[column], got[column]):
                found.append(
                    f"{where}: {column} {got[column] or '-'}, expected {want[column] or '-'} ({want['grade']})"
                )
        missing_flags = set(want["flags"].split()) - set(got["flags"].split())
        if missing_flags:
            found.append(f"{where}: flags {got['flags'] or '(none)'} lack {' '.join(sorted(missing_flags))}")
        if want["serious"] != got["serious"]:
            found.append(f"{where}: serious {got['serious']}, expected {want['serious']} (flags: {got['reasons']})")
        if want["to_grade"] != got["needs_manual_grade"]:
            found.append(f"{where}: needs manual grade {got['needs_manual_grade']}, expected {want['to_grade']}")
    lessons = {row["lesson"] for row in read_csv(expected_csv)}
    found += [
        f"{lesson} {student}: in the report, not in expected.csv"
        for lesson, student in sorted(report)
        if lesson in lessons
    ]
    return found


def same_number(expected: str, got: str) -> bool:
    if not expected or not got:
        return expected == got
    return abs(float(expected) - float(got)) < 1e-6
