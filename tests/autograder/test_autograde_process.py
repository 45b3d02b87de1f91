"""The long-lived autograde process: it answers one submission after another, and a crash or a hard
time limit costs only the submission it was grading (the next one gets a fresh process)."""

import os
import shutil
import subprocess

import pytest

from autograder.grading.autograde_process import AutogradeProcess, AutogradeProcessDied, grade_request
from tests.graded_course import ROOT


def scratch_without_submission(folder):
    """A scratch course whose gradebook and submitted/ folder are empty: nbgrader finds nothing to grade."""
    (folder / "submitted").mkdir(parents=True)
    return grade_request(folder, "basics", "nobody", ["--Execute.timeout=5"])


def test_one_process_answers_request_after_request_and_crashes_cost_one_submission(tmp_path):
    process = AutogradeProcess(ROOT, dict(os.environ))
    try:
        first = process.autograde(scratch_without_submission(tmp_path / "first"), timeout=600)
        pid = process.process.pid
        second = process.autograde(scratch_without_submission(tmp_path / "second"), timeout=600)
        assert process.process.pid == pid  # the same process graded both
        assert (tmp_path / "second" / "nbgrader.log").read_text()  # nbgrader's log went to that submission's file
        # nbgrader's error names each request's own scratch course: nothing carried over between them.
        assert str(tmp_path / "first" / "submitted" / "nobody" / "basics") in first
        assert str(tmp_path / "second" / "submitted" / "nobody" / "basics") in second

        crashing = {**scratch_without_submission(tmp_path / "third"), "log": str(tmp_path / "no-such-folder" / "log")}
        with pytest.raises(AutogradeProcessDied, match="exited with code 1"):
            process.autograde(crashing, timeout=600)

        # A fresh process takes the next submission; one that outlives its hard limit is killed.
        with pytest.raises(subprocess.TimeoutExpired):
            process.autograde(scratch_without_submission(tmp_path / "fourth"), timeout=0.01)
        assert process.process.pid != pid
        assert process.process.poll() is not None
    finally:
        process.kill()


def test_a_copy_of_the_autograder_in_the_course_folder_is_not_what_runs(tmp_path):
    """The process imports the installed autograder, as the sandboxed kernels do: a course folder that
    is a copy of the repository (or holds anything named autograder) changes nothing."""
    course = tmp_path / "course"
    (course / "autograder").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    (course / "autograder" / "__init__.py").write_text("")
    (course / "autograder" / "autograde_process.py").write_text(f"open({str(tmp_path / 'decoy-ran')!r}, 'w')\n")
    process = AutogradeProcess(course, dict(os.environ))
    try:
        error = process.autograde(scratch_without_submission(tmp_path / "scratch"), timeout=600)
    finally:
        process.kill()
    assert str(tmp_path / "scratch" / "submitted" / "nobody" / "basics") in error  # nbgrader itself answered
    assert not (tmp_path / "decoy-ran").exists()
