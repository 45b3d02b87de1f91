"""End to end: release, grade (real nbgrader autograde processes), feedback, export, report.

One class of students, every robustness case a student, is released and graded once with
--jobs 2 in a temporary course (the session fixture ``graded``, tests/graded_course.py); the tests
read the gradebook, records and files it produced.
"""

import csv
import json
import subprocess
import sys
import time

import pytest
from nbgrader.api import Grade, Gradebook

from autograder.courseroot import Course
from autograder.lms.export import export
from autograder.reports.feedback import visible_text
from tests.autograder_fixtures import students
from tests.graded_course import FULL, HALF, ZERO, make_course, run_cli

pytestmark = pytest.mark.slow


def auto_scores(folder, student, lesson="basics"):
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "transfer-learning") as gradebook:
        submission = gradebook.find_submission(lesson, student)
        return {
            grade.name: grade.auto_score
            for notebook in submission.notebooks
            for grade in notebook.grades
            if grade.name in students.AUTO_POINTS
        }


def record(folder, student, lesson="basics"):
    return json.loads((folder / "autograded" / student / lesson / "autograder.json").read_text())


def flag_codes(folder, student):
    return {flag["code"] for flag in record(folder, student)["flags"]}


def test_release_is_stable_and_has_no_outputs(graded):
    folder, _ = graded
    for lesson in ("basics", "vectors"):
        released = (folder / "lessons" / lesson / f"{lesson}.ipynb").read_text()
        assert released == (students.RELEASE / lesson / f"{lesson}.ipynb").read_text()
        assert '"outputs": []' in released and "BEGIN SOLUTION" not in released


@pytest.mark.parametrize("student", sorted(FULL))
def test_correct_work_mangled_gets_full_score(graded, student):
    folder, _ = graded
    assert auto_scores(folder, student) == students.AUTO_POINTS
    assert not record(folder, student)["failure"]


@pytest.mark.parametrize("student", sorted(HALF))
def test_broken_or_hostile_add_earns_nothing_but_normalise_still_counts(graded, student):
    """Hostile work includes every way of rigging the kernel (work_kinds.KERNEL_HOOKS): none earns a point."""
    folder, _ = graded
    broken = students.WRONG_ANSWER.get(student, "add-answer")
    expected = {"add-tests": 2.0, "normalise-tests": 2.0, broken.replace("answer", "tests"): 0.0}
    assert auto_scores(folder, student) == expected


def test_a_test_the_guard_cannot_vouch_for_fails_with_the_reason(graded):
    """The input transformer turns the wrapped test into `pass`: the test never ran, so it fails."""
    folder, _ = graded
    flags = [flag for flag in record(folder, "input-transformer")["flags"] if flag["code"] == "tampering"]
    assert flags and flags[0]["serious"] and flags[0]["message"].startswith("add-tests: this test's result cannot")
    nb = json.loads((folder / "autograded" / "input-transformer" / "basics" / "basics.ipynb").read_text())
    test_cell = next(cell for cell in nb["cells"] if students.grade_id(cell) == "add-tests")
    assert [output["ename"] for output in test_cell["outputs"] if output["output_type"] == "error"] == [
        "TestNotVerified"
    ]


@pytest.mark.parametrize("student", sorted(ZERO))
def test_unusable_files_score_zero_with_a_serious_flag(graded, student):
    folder, _ = graded
    assert set(auto_scores(folder, student).values()) == {0.0}
    entry = record(folder, student)
    serious = [flag for flag in entry["flags"] if flag["serious"]]
    assert serious, entry
    expected = "wrong-notebook" if student == "other-lesson" else "unreadable"
    assert expected in {flag["code"] for flag in serious}


@pytest.mark.parametrize(
    "student, event",
    [
        ("os-exit", "kernel-died"),
        ("segfault", "kernel-died"),
        ("infinite-loop", "timeout"),
        ("memory-bomb", "memory"),
        ("output-flood", "output-truncated"),
    ],
)
def test_execution_failures_are_flagged_on_the_cell(graded, student, event):
    folder, _ = graded
    flags = [flag for flag in record(folder, student)["flags"] if flag["code"] == event]
    assert flags and flags[0]["message"].startswith("add-tests:")


def test_library_warnings_on_stderr_do_not_cost_points(graded):
    folder, _ = graded
    nb = json.loads((folder / "autograded" / "stderr-warning" / "basics" / "basics.ipynb").read_text())
    test_cell = next(cell for cell in nb["cells"] if students.grade_id(cell) == "add-tests")
    stderr = [out for out in test_cell["outputs"] if out.get("name") == "stderr"]
    assert stderr and "cuDNN" in "".join(stderr[0]["text"]), "stock nbgrader would score this 0"
    assert auto_scores(folder, "stderr-warning")["add-tests"] == 2.0


def test_output_flood_is_cut_in_the_graded_notebook(graded):
    folder, _ = graded
    graded_notebook = folder / "autograded" / "output-flood" / "basics" / "basics.ipynb"
    assert graded_notebook.stat().st_size < 200_000
    assert "output truncated by the autograder" in graded_notebook.read_text()


def test_grading_backs_up_the_gradebook_and_reports_progress(graded):
    folder, text = graded
    assert list(folder.glob("gradebook.db.backup-*"))
    assert text.count("basics:") == len(FULL) + len(HALF) + len(ZERO)
    total = len(FULL) + len(HALF) + len(ZERO)
    assert f"graded {total} submissions" in text
    flagged = {line.split()[1] for line in text.splitlines() if "FLAGGED" in line}
    assert set(ZERO) <= flagged and not set(FULL) & flagged


def test_feedback_never_shows_hidden_tests_or_solutions(graded):
    folder, _ = graded
    code, text = run_cli("--course-dir", str(folder), "feedback")
    assert code == 0 and "WITHHELD" not in text, text
    pages = sorted((folder / "feedback").glob("*/basics/basics.html"))
    assert len(pages) == len(FULL) + len(HALF) + 1  # every readable notebook
    hidden_source = (students.SOURCE / "basics" / "basics.ipynb").read_text()
    assert "hidden_sum" in hidden_source and "reference-solution-add" in hidden_source
    for page in pages:
        seen = visible_text(page.read_text())
        assert "assert add(1, 2) == 3" in seen, "the visible test is shown"
        for secret in (
            "hidden_sum",
            "hidden_z",
            "hidden-test",
            "HIDDEN TESTS",
            "reference-solution",
            "mark-scheme-explain",
            "Mark scheme for",
        ):
            assert secret not in seen, (page, secret)
    assert not list((folder / "feedback").glob("*/basics/autograder.json"))


def test_export_writes_nbgrader_and_canvas_csv(graded, tmp_path):
    folder, _ = graded
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email,sis_user_id,section\ncorrect,Ada,Lovelace,ada@example.org,SIS-1,Section A\n"
    )
    code, text = run_cli("--course-dir", str(folder), "export", "--roster", str(roster))
    assert code == 0, text
    grades = (folder / "autograded" / "grades.csv").read_text().splitlines()
    assert grades[0] == (
        "assignment,duedate,timestamp,student_id,last_name,first_name,email,"
        "raw_score,late_submission_penalty,score,max_score"
    )
    rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(grades)}
    late = rows[("basics", "correct")]
    assert (late["duedate"], late["timestamp"]) == ("2025-03-01 23:59:00", "2025-03-02 11:59:00")
    assert (late["raw_score"], late["score"], late["max_score"]) == ("4.0", "4.0", "5.0")
    assert rows[("vectors", "correct")]["score"] == "0.0"
    canvas = (folder / "autograded" / "canvas_grades.csv").read_text().splitlines()
    assert canvas[0] == "Student,ID,SIS User ID,Section,basics,vectors"
    assert canvas[1] == "    Points Possible,,,,5,3", "Canvas's row of each assignment's points"
    assert "correct,correct,SIS-1,Section A,4," in canvas, "vectors was never submitted: missing, not 0"
    assert "not-json,not-json,,,0," in canvas, "an unreadable file scores 0; the missing lesson stays empty"
    zeros = tmp_path / "zeros.csv"
    code, text = run_cli("--course-dir", str(folder), "export", "--canvas", str(zeros), "--missing-as-zero")
    assert code == 0, text
    assert "not-json,not-json,,,0,0" in zeros.read_text().splitlines()
    course = Course.load(folder)
    course.config.GradeExport.missing_as_zero = True  # the nbgrader_config.py setting
    from_config = tmp_path / "zeros-from-config.csv"
    export(course, grades_csv=tmp_path / "grades.csv", canvas_csv=from_config)
    assert "not-json,not-json,,,0,0" in from_config.read_text().splitlines()


def test_report_lists_scores_and_reasons_per_lesson(graded):
    folder, _ = graded
    code, text = run_cli("--course-dir", str(folder), "report")
    assert code == 0, text
    assert "== basics ==" in text and "== vectors ==" in text
    line = next(row for row in text.splitlines() if row.startswith("os-exit "))
    assert " 2 " in line and "kernel-died" in line and "to-grade" in line
    line = next(row for row in text.splitlines() if row.startswith("correct "))
    assert "late: 12.0 h after the due date" in line and "late: the LMS marked" in line
    line = next(row for row in text.splitlines() if row.startswith("empty "))
    assert "ungradable" in line and "empty" in line
    rows = (folder / "autograded" / "report.csv").read_text().splitlines()
    assert rows[0].startswith("lesson,student,score,max_score")
    assert len(rows) == 1 + 2 * (len(FULL) + len(HALF) + len(ZERO))


def test_serial_run_killed_resumed_and_regraded_matches_the_parallel_run(graded, tmp_path):
    """--jobs 1 gives the --jobs 2 gradebook; a run killed midway keeps what it merged and the
    next run finishes the rest; regrading with --force changes nothing and adds no rows."""
    folder, _ = graded
    chosen = ["correct", "metadata-and-ids-stripped", "not-json", "os-exit"]
    serial = make_course(tmp_path / "serial", {name: {**FULL, **HALF, **ZERO}[name] for name in chosen})
    command = [sys.executable, "-m", "autograder", "--course-dir", str(serial), "grade", "--jobs", "1"]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_record = serial / "autograded" / "correct" / "basics" / "autograder.json"
    deadline = time.monotonic() + 180
    while not first_record.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    run.kill()
    run.wait()
    assert auto_scores(serial, "correct") == students.AUTO_POINTS

    code, text = run_cli("--course-dir", str(serial), "grade", "--jobs", "1")
    assert code == 0, text
    assert "correct basics" not in text and "are graded already and unchanged" in text
    for student in chosen:
        assert auto_scores(serial, student) == auto_scores(folder, student), student
        assert flag_codes(serial, student) == flag_codes(folder, student), student

    def grade_rows():
        with Gradebook(f"sqlite:///{serial / 'gradebook.db'}") as gradebook:
            return gradebook.db.query(Grade).count()

    rows = grade_rows()
    code, text = run_cli("--course-dir", str(serial), "grade", "--force")
    assert code == 0 and text.count("basics: ") == len(chosen), text
    for student in chosen:
        assert auto_scores(serial, student) == auto_scores(folder, student), student
    assert grade_rows() == rows
    assert len(list(serial.glob("gradebook.db.backup-*"))) == 3
