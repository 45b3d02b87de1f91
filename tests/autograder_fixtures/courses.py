"""Courses of the fixture lessons to grade in tests: released, with students' submissions filed."""

import contextlib
import io
import shutil
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.cli import main
from autograder.student_work import replace_source
from tests.autograder_fixtures import students

ROOT = Path(__file__).resolve().parents[2]
# Small limits so the hostile cases finish quickly (release measures the fixture solutions, whose
# cells take milliseconds, so the floors set the limits).
TEST_LIMITS = """
c.Execute.startup_timeout = 60
c.SafeExecute.memory_limit_mb = 1024
c.TimeLimits.cell_floor_seconds = 4
c.TimeLimits.notebook_floor_seconds = 10
c.GradingRun.kill_grace_seconds = 60
"""
# Every cell after the answer runs `while True: pass` instead of its code (an IPython input
# transformer): the kernel answers interrupts but never finishes a cell again.
HIJACK = "\n\nget_ipython().input_transformers_post.append(lambda lines: ['while True: pass\\n'])"


def run_cli(*args):
    """Run ``python -m autograder`` in this process; return (exit code, printed text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(arg) for arg in args])
    return code, out.getvalue()


def hangs_in_every_cell():
    """Correct work of basics whose add answer makes every later cell an endless loop."""
    return replace_source(students.answered(), "add-answer", students.ADD + "    return a + b" + HIJACK)


def make_course(folder, cases, lesson="basics", extra_config="", released=()):
    """A course in ``folder`` with one student per case, its lessons (``released``: all) released
    and their solutions timed."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(students.SOURCE, folder / "solutions")
    config = (ROOT / "nbgrader_config.py").read_text() + TEST_LIMITS + extra_config
    (folder / "nbgrader_config.py").write_text(config)
    code, text = run_cli("--course-dir", folder, "release", *released)
    assert code == 0, text
    for student, content in cases.items():
        students.write_submission(folder, student, lesson, content)
    return folder


def gradebook_rows(folder):
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
