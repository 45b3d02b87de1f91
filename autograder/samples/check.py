"""``python -m autograder.samples.make_class OUT_DIR --check REPORT_CSV``: how the autograder's report
of a graded sample class differs from the class's expected.csv, and how many copied and independent
pairs of answers the similarity report flagged."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

from autograder.reports.similarity import LIBRARY_PREFIX
from autograder.samples.kinds import KINDS

# Flags of the similarity report: one the class does not expect is a false positive.
SIMILARITY_FLAGS = ("similar", "like-library")


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
        unexpected = (set(got["flags"].split()) - set(want["flags"].split())) & set(SIMILARITY_FLAGS)
        if unexpected:
            found.append(f"{where}: flags {' '.join(sorted(unexpected))} not expected ({got['reasons']})")
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


def similarity_summary(expected_csv: Path | str, similarity_json: Path | str) -> str:
    """How many pairs of answers from one source (a student's own answers and the classmates who copied
    them) and of independent answers the similarity report flagged, over the pairs it compared."""
    kinds = {(row["lesson"], row["student"]): row["kind"] for row in read_csv(expected_csv)}
    report = json.loads(Path(similarity_json).read_text(encoding="utf-8"))
    flagged = {
        (match["lesson"], match["exercise"], *sorted((match["student"], match["other"])))
        for match in report["matches"]
        if not match["other"].startswith(LIBRARY_PREFIX)
    }
    counts = {True: [0, 0], False: [0, 0]}  # copied? -> [flagged, compared]
    for lesson, exercises in report["comparable"].items():
        for exercise, students in exercises.items():
            for pair in itertools.combinations(sorted(students), 2):
                copied = all("similar" in KINDS[kinds.get((lesson, student), "correct")].flags for student in pair)
                counts[copied][0] += (lesson, exercise, *pair) in flagged
                counts[copied][1] += 1
    (hits, copies), (false, independent) = counts[True], counts[False]
    rate = f"{100 * false / independent:.1f}%" if independent else "-"
    return (
        f"similarity: {hits} of {copies} pairs of copied answers flagged; {false} of {independent} pairs of "
        f"independent answers flagged (false positives: {rate})"
    )
