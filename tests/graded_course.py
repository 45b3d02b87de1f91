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

from autograder.cli import main
from tests.autograder_fixtures import students

ROOT = Path(__file__).resolve().parents[1]
# Small limits so the hostile cases finish quickly.
TEST_LIMITS = """
c.Execute.timeout = 5
c.Execute.startup_timeout = 60
c.SafeExecute.notebook_time_limit = 90
c.SafeExecute.memory_limit_mb = 1024
c.SafeExecute.max_output_chars = 20000
c.GradingRun.kill_grace_seconds = 60
"""
FULL = students.full_score_cases()
HALF = students.half_score_cases()
ZERO = students.zero_score_cases()


def run_cli(*args: str) -> tuple[int, str]:
    """Run ``python -m autograder`` in this process; return (exit code, printed text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([*args])
    return code, out.getvalue()


def make_course(folder: Path, cases: dict, lesson: str = "basics", release_options=()) -> Path:
    """A released course in ``folder`` with one student per case."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(students.SOURCE, folder / "solutions")
    (folder / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text() + TEST_LIMITS)
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
