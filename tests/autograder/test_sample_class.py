"""The sample class made from the real lessons: a Canvas zip, a roster, expected grades; collect
files it as an LMS download; the dataflow estimate behind partial scores; the report check.

Nothing here runs a kernel: grading the sample class end to end takes half an hour (see
autograder/samples/make_class.py for the commands).
"""

import contextlib
import csv
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook

from autograder.cells import is_test
from autograder.cli import main as autograder_main
from autograder.grading.dataflow import DataFlow
from autograder.grading.student_work import student_answer, with_stub_body
from autograder.samples import make_class as sample_class
from autograder.samples.files import write_csv
from autograder.samples.kinds import FULL, KINDS, PARTIAL, ZERO
from autograder.samples.plan import COPY_GROUP, SAMPLE_KINDS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CANVAS_NAME = re.compile(r"(?P<name>[a-z]+)_(?P<late>LATE_)?(?P<id>\d+)_(?P<submission>\d+)_(?P<file>.+)")
LESSONS = sorted(path.name for path in (ROOT / "lessons").iterdir() if path.is_dir())
STUDENTS = 12
FULL_KINDS = {kind for kind in SAMPLE_KINDS if KINDS[kind].outcome == FULL}
PARTIAL_KINDS = {kind for kind in SAMPLE_KINDS if KINDS[kind].outcome == PARTIAL}
ZERO_KINDS = {kind for kind in SAMPLE_KINDS if KINDS[kind].outcome == ZERO}


def run(main, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(arg) for arg in args])
    return code, out.getvalue()


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course, released (lessons/ copied from the repository, no gradebook yet)."""
    folder = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    for step in ("solutions", "lessons"):
        shutil.copytree(ROOT / step, folder / step)
    return folder


@pytest.fixture(scope="module")
def sample(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    code, text = run(sample_class.main, out, "--course-dir", course, "--students", STUDENTS, "--seed", 3)
    assert code == 0, text
    archive = zipfile.ZipFile(out / "submissions.zip")
    entries = {info.filename: archive.read(info) for info in archive.infolist()}
    return out, text, entries, read_csv(out / "expected.csv"), read_csv(out / "roster.csv")


def kinds_of(expected):
    return {(row["lesson"], row["student"]): row["kind"] for row in expected}


def test_every_student_and_lesson_has_one_expected_row_and_every_kind_appears(sample):
    out, text, _, expected, roster = sample
    assert len(roster) == STUDENTS and {"id", "first_name", "last_name", "email"} <= set(roster[0])
    ids = sorted(row["id"] for row in roster)
    assert sorted(kinds_of(expected)) == sorted((lesson, student) for lesson in LESSONS for student in ids)
    assert {row["kind"] for row in expected} == set(SAMPLE_KINDS)
    assert {row["lesson"] for row in expected if row["kind"] == "partial"} == set(LESSONS)
    first = roster[0]["id"]
    assert {row["kind"] for row in expected if row["student"] == first} == {"correct"}
    keep_alive = [row for row in expected if row["kind"] == "keep-alive-loop"]
    assert [row["lesson"] for row in keep_alive] == [LESSONS[0]], "one per-cell timeout, in the lightest lesson"
    assert f"wrote {out / 'expected.csv'}" in text


def test_expected_grades_follow_from_the_kind(sample):
    _, _, entries, expected, _ = sample
    for row in expected:
        where = f"{row['lesson']} {row['student']} {row['kind']}"
        kind, flags = row["kind"], set(row["flags"].split())
        assert row["upload"] in entries, where
        if kind == "unmatched":
            assert (row["score"], row["max_score"], flags) == ("", "", {"missing"}), where
            continue
        score, top = float(row["score"]), float(row["autograded_max"])
        assert float(row["max_score"]) >= top > 0, where
        if kind in FULL_KINDS:
            assert score == top and row["grade"].startswith("full"), where
        elif kind in ZERO_KINDS:
            assert score == 0 and row["serious"] == "True" and row["to_grade"] == "False", where
        else:
            assert kind in PARTIAL_KINDS and 0 <= score < top and row["grade"].startswith("partial"), where
        assert (row["serious"] == "True") == (kind in ZERO_KINDS | {"keep-alive-loop"}), where
        assert ("late" in flags) == (kind == "late"), where
        assert ("late" in flags) == ("_LATE_" in row["upload"]), where
    assert {row["flags"] for row in expected if row["kind"] == "empty"} == {"ungradable unreadable"}
    assert {row["flags"] for row in expected if row["kind"] == "other-lesson"} == {"wrong-notebook"}


def test_partial_scores_add_up_the_tests_that_still_pass(sample, course):
    """A partial row names the tests that fail; its score is the points of the others, and the
    answers it names are the release's stubs in the uploaded notebook."""
    _, _, entries, expected, _ = sample
    partial = [row for row in expected if row["kind"] == "partial"]
    for row in partial:
        release = nbformat.read(course / "lessons" / row["lesson"] / f"{row['lesson']}.ipynb", as_version=4)
        points = {
            cell.metadata.nbgrader["grade_id"]: cell.metadata.nbgrader["points"]
            for cell in release.cells
            if is_test(cell)
        }
        named, failing = re.fullmatch(
            r"partial: (.+) left as the release's stubs?, so (.+) fails?", row["grade"]
        ).groups()
        failing = [] if failing == "no test" else failing.split(", ")
        assert float(row["score"]) == sum(points.values()) - sum(points[test] for test in failing)
        assert 0 < float(row["score"]) < sum(points.values()), row["grade"]
        uploaded = nbformat.reads(entries[row["upload"]].decode(), as_version=4)
        stubs = {
            cell.metadata.nbgrader["grade_id"]: cell.source
            for cell in release.cells
            if cell.metadata.get("nbgrader", {}).get("solution")
        }
        for cell in uploaded.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in stubs:
                assert (cell.source == stubs[grade_id]) == (grade_id in named.split(", ")), (row["upload"], grade_id)


def test_zip_names_follow_canvas_and_hold_each_kind_of_file(sample):
    _, _, entries, expected, roster = sample
    names = {row["id"]: (row["last_name"] + row["first_name"]).lower().replace("-", "") for row in roster}
    submission_ids = []
    for entry in entries:
        match = CANVAS_NAME.fullmatch(entry)
        assert match, entry
        assert names[match["id"]] == match["name"], entry
        submission_ids.append(int(match["submission"]))
    assert len(set(submission_ids)) == len(entries)
    by_kind = {}
    for row in expected:
        by_kind.setdefault(row["kind"], []).append(entries[row["upload"]])
    files = {row["kind"]: CANVAS_NAME.fullmatch(row["upload"])["file"] for row in expected}
    assert files["copy-of"].startswith("Copy of ") and files["browser-copy"].endswith(" (1).ipynb")
    assert files["uploaded-twice"].endswith("-1.ipynb") and files["unmatched"] == "Untitled0.ipynb"
    assert by_kind["empty"] == [b""]
    with pytest.raises(json.JSONDecodeError):
        json.loads(by_kind["truncated"][0])
    for data in by_kind["colab-saved"] + by_kind["copy-of"]:
        colab = json.loads(data)
        assert colab["nbformat_minor"] == 0 and "colab" in colab["metadata"]
        assert "language" not in colab["metadata"]["kernelspec"]
        assert all("id" in cell["metadata"] and "id" not in cell for cell in colab["cells"])
        assert any(cell.get("outputs") for cell in colab["cells"])
    for data in by_kind["metadata-and-ids-stripped"]:
        assert '"nbgrader"' not in data.decode()
    assert b"sys.exit(" in by_kind["sys-exit"][0] and b"__eq__" in by_kind["always-equal"][0]
    assert b"while True:" in by_kind["keep-alive-loop"][0]
    assert sum(b"while True:" in data for data in entries.values()) == 1
    test_pass = nbformat.reads(by_kind["test-pass"][0].decode(), as_version=4)
    assert any(is_test(cell) and cell.source == "pass" for cell in test_pass.cells)


def test_collect_files_every_student_with_the_newest_upload_and_reports_the_unmatched_file(sample, course):
    out, _, entries, expected, roster = sample
    code, text = run(
        autograder_main, "--course-dir", course, "collect", out / "submissions.zip", "--roster", out / "roster.csv"
    )
    assert code == 0, text
    filed = [row for row in expected if row["score"] != ""]
    assert f"filed {len(filed)} notebooks" in text
    for row in filed:
        folder = course / "submitted" / row["student"] / row["lesson"]
        assert (folder / f"{row['lesson']}.ipynb").read_bytes() == entries[row["upload"]], row["upload"]
        lms = json.loads((folder / "lms_submission.json").read_text())
        assert lms["late"] == (row["kind"] == "late") and lms["source"] == row["upload"]
    twice = next(row for row in expected if row["kind"] == "uploaded-twice")
    older = [
        entry
        for entry in entries
        if entry != twice["upload"] and f"_{twice['student']}_" in entry and twice["lesson"] in entry
    ]
    assert len(older) == 1 and entries[older[0]] == b""
    assert f"{older[0]} (a newer upload is {twice['upload']})" in text
    unmatched = next(row for row in expected if row["kind"] == "unmatched")
    assert "NOT FILED, fix by hand (1):" in text
    assert f"{unmatched['upload']}: cannot tell which lesson it is" in text
    assert not (course / "submitted" / unmatched["student"] / unmatched["lesson"]).exists()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "transfer-learning") as gradebook:
        recorded = {
            student.id: (student.first_name, student.last_name, student.email) for student in gradebook.students
        }
    assert recorded == {row["id"]: (row["first_name"], row["last_name"], row["email"]) for row in roster}


def report_rows(expected):
    """The report CSV the autograder should write for a class graded as expected."""
    return [
        {
            "lesson": row["lesson"],
            "student": row["student"],
            "score": row["score"],
            "max_score": row["max_score"],
            "needs_manual_grade": row["to_grade"],
            "serious": row["serious"],
            "flags": row["flags"],
            "reasons": "...",
        }
        for row in expected
    ]


def test_check_lists_every_disagreement_with_the_report(sample, tmp_path):
    out, _, _, expected, _ = sample
    report = tmp_path / "report.csv"
    rows = report_rows(expected)
    write_csv(report, list(rows[0]), [list(row.values()) for row in rows])
    code, text = run(sample_class.main, out, "--check", report)
    assert (code, text.strip()) == (0, f"0 disagreements with {out / 'expected.csv'}")

    full = next(row for row in rows if row["flags"] == "" and row["score"] not in ("", "0"))
    full["score"] = "0.0"
    late = next(row for row in rows if row["flags"] == "late")
    late["flags"] = ""
    empty = next(row for row in rows if row["flags"] == "ungradable unreadable")
    empty["serious"] = "False"
    rows.remove(next(row for row in rows if row["flags"] == "missing"))
    write_csv(report, list(rows[0]), [list(row.values()) for row in rows])
    code, text = run(sample_class.main, out, "--check", report)
    assert code == 1 and "4 disagreements" in text, text
    assert f"{full['lesson']} {full['student']} (" in text and "score 0.0, expected" in text
    assert "flags (none) lack late" in text and "serious False, expected True" in text
    assert "not in the report" in text


def test_too_small_a_class_says_how_many_students_it_needs(course, tmp_path):
    code, text = run(sample_class.main, tmp_path, "--course-dir", course, "--students", 3, "--lessons", "lesson1_data")
    # one lesson holds one kind of work per student, the first student's being correct; lesson 1 has no
    # answers students wrote themselves, so none of the kinds made from them
    needed = len(SAMPLE_KINDS) - len(COPY_GROUP)
    assert code == 2 and f"cannot hold every kind of work: use --students {needed} or more" in text
    code, text = run(sample_class.main, tmp_path, "--course-dir", course, "--lessons", "lesson9")
    assert code == 2 and "lesson9 not released" in text


def test_student_answer_drops_solution_delimiters_and_the_mark_scheme():
    code = new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION")
    assert student_answer(code) == "def f(x):\n    return x"
    written = new_markdown_cell("Because.\n\n=== BEGIN MARK SCHEME ===\n1 point\n=== END MARK SCHEME ===")
    assert student_answer(written) == "Because."
    stub = 'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
    assert with_stub_body(stub, "y = x\n\nreturn y") == 'def f(x):\n    """Doc."""\n    y = x\n\n    return y'
    with pytest.raises(ValueError, match="not a released code stub"):
        with_stub_body("x = 1", "return 2")


def exercise(source, grade_id, test=False):
    flags = {"grade": test, "solution": not test, "locked": test, "grade_id": grade_id}
    if test:
        flags["points"] = 1
    return new_code_cell(source, metadata={"nbgrader": flags})


def test_dataflow_follows_wrong_answers_statement_by_statement():
    notebook = new_notebook(
        cells=[
            new_code_cell("import numpy as np\nscale = 2"),
            exercise("def f(x):\n    return x * scale", "f-answer"),
            exercise("data = [1, 2]", "data-answer"),
            new_code_cell("table = f(3)\nlabel = 'ok'"),
            exercise("assert table == 6", "table-tests", test=True),
            exercise("assert label == 'ok'", "label-tests", test=True),
            exercise(
                "def helper(values):\n    return [f(v) for v in values]\n\nassert helper([1]) == [2]\n"
                "import numpy as np",
                "helper-tests",
                test=True,
            ),
            exercise("assert np.sum(data) == 3", "data-tests", test=True),
            exercise("values = [scale]\nassert len(values) == 1", "local-tests", test=True),
        ]
    )
    flow = DataFlow(notebook)
    # table = f(3) fails, so label is never defined; helper calls f, so it fails when called;
    # np keeps its binding although the import after the failing assert never runs
    assert flow.failing_tests({"f-answer"}) == ["table-tests", "label-tests", "helper-tests"]
    assert flow.failing_tests({"data-answer"}) == ["data-tests"]
    assert flow.failing_tests(set()) == []
    assert flow.direct_readers("f-answer") == 2
    with pytest.raises(KeyError):
        flow.failing_tests({"nope"})
