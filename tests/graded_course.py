"""A course of the fixture lessons graded by the real ``grade`` command, for the tests that need one.

``graded_fixture_class`` releases the fixture lessons, hands in one ``basics`` submission per
robustness case (tests/autograder_fixtures/students.py) and grades them with --jobs 2; the
session fixture ``graded`` in conftest.py does it once for every test module that needs it.
"""

import contextlib
import io
import json
import shutil
import time
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.cli import main
from autograder.grading.student_work import replace_source
from tests.autograder_fixtures import students

ROOT = Path(__file__).resolve().parents[1]
# Small limits so the hostile cases finish quickly (release times the fixture solutions, whose cells
# take milliseconds, so the floors set the limits).
TEST_LIMITS = """
c.Execute.timeout = 5
c.Execute.startup_timeout = 60
c.SafeExecute.notebook_time_limit = 90
c.TimeLimits.cell_floor_seconds = 5
c.TimeLimits.notebook_floor_seconds = 90
c.SafeExecute.memory_limit_mb = 1024
c.SafeExecute.stretch_with_load = False
c.SafeExecute.max_output_chars = 20000
c.GradingRun.kill_grace_seconds = 60
"""
# Every cell after the answer runs `while True: pass` instead of its code (an IPython input
# transformer): the kernel answers interrupts but never finishes a cell again.
HIJACK = "\n\nget_ipython().input_transformers_post.append(lambda lines: ['while True: pass\\n'])"
FULL = students.full_score_cases()
HALF = students.half_score_cases()
ZERO = students.zero_score_cases()


def run_cli(*args: str | Path) -> tuple[int, str]:
    """Run ``python -m autograder`` in this process; return (exit code, printed text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(arg) for arg in args])
    return code, out.getvalue()


def hangs_in_every_cell() -> dict:
    """Correct work of basics whose add answer makes every later cell an endless loop."""
    return replace_source(students.answered(), "add-answer", students.ADD + "    return a + b" + HIJACK)


def make_course(folder: Path, cases: dict, lesson: str = "basics", release_options=(), extra_config: str = "") -> Path:
    """A course in ``folder`` with one student per case, released with ``release_options`` (which may
    name the lessons; all by default), its solutions timed."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(students.SOURCE, folder / "solutions")
    config = (ROOT / "nbgrader_config.py").read_text() + TEST_LIMITS + extra_config
    (folder / "nbgrader_config.py").write_text(config)
    code, text = run_cli("--course-dir", str(folder), "release", *release_options)
    assert code == 0, text
    for student, content in cases.items():
        students.write_submission(folder, student, lesson, content)
    return folder


def graded_fixture_class(folder: Path) -> tuple[Path, str]:
    """Every case of students.py handed in for ``basics`` (none for ``vectors``), the ``correct``
    student 12 h late, graded with --jobs 2; return the course folder and grade's output."""
    make_course(folder, {**FULL, **HALF, **ZERO}, release_options=["--duedate", "2025-03-01 23:59:00 UTC"])
    late = folder / "submitted" / "correct" / "basics"
    (late / "timestamp.txt").write_text("2025-03-02 11:59:00.000000 UTC")
    (late / "lms_submission.json").write_text(json.dumps({"late": True}))
    started = time.monotonic()
    code, text = run_cli("--course-dir", str(folder), "grade", "--jobs", "2")
    assert code == 0, text
    print(f"graded {len(FULL) + len(HALF) + len(ZERO)} submissions with --jobs 2 in {time.monotonic() - started:.0f} s")
    return folder, text


def gradebook_rows(folder: Path) -> list[tuple]:
    """Every autograded grade and notebook flag of the course gradebook, comparable between runs."""
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "transfer-learning") as gradebook:
        return sorted(
            (
                submission.assignment.name,
                submission.student.id,
                notebook.name,
                grade.name,
                grade.auto_score,
                grade.needs_manual_grade,
                notebook.flagged,
            )
            for assignment in gradebook.assignments
            for submission in assignment.submissions
            for notebook in submission.notebooks
            for grade in notebook.grades
        )
