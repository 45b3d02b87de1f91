"""One long-lived ``nbgrader autograde`` process per grading job, instead of one per submission.

Starting ``python -m nbgrader autograde`` costs about 4 s of CPU importing nbgrader before the first
kernel starts, for every submission. ``AutogradeProcess`` starts ``python -m
autograder.grading.autograde_process COURSE_ROOT`` once per job and sends it one submission at a time (a JSON
line on its stdin): it runs nbgrader's Autograde converter, as the command does, on that submission's
scratch course and gradebook, and nbgrader starts a fresh (sandboxed) kernel for every notebook as
before; nothing of a submission outlives it but the process itself. The process writes everything
the command would print to the submission's ``nbgrader.log`` and replies with one JSON line on a
private copy of its stdout. It runs in its own session: a submission that outlives its hard limit
is stopped by killing the process group, and a crash costs only the submission being graded; the
next submission gets a fresh process.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import select
import signal
import subprocess
import sys
import traceback
from pathlib import Path

from autograder.courseroot import AutograderError, Course


class AutogradeProcessDied(AutograderError):
    """The autograde process exited or broke its pipe while grading a submission."""


class AutogradeProcess:
    """A job's autograde process, started on first use and again after it is stopped or dies."""

    def __init__(self, course_root: Path, env: dict[str, str]) -> None:
        self.course_root = course_root
        self.env = env
        self.process: subprocess.Popen | None = None

    def autograde(self, request: dict, timeout: float | None) -> str:
        """Grade one submission (see ``grade_request``); return nbgrader's error, "" when it succeeded.
        Raises subprocess.TimeoutExpired (the process is killed) or AutogradeProcessDied."""
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                # -P: import the installed autograder, as the kernels do, not a copy in the course folder
                [sys.executable, "-P", "-m", "autograder.grading.autograde_process", str(self.course_root)],
                cwd=self.course_root,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self.died() from None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise subprocess.TimeoutExpired("nbgrader autograde", timeout)
        line = self.process.stdout.readline()
        if not line:
            raise self.died()
        return json.loads(line)["error"]

    def died(self) -> AutogradeProcessDied:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        return AutogradeProcessDied(f"the autograde process exited with code {self.process.returncode}")

    def kill(self) -> None:
        """Stop the process and everything in its process group, now."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def close(self) -> None:
        """Let the process finish (it exits when its stdin closes); kill it if it does not."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def grade_request(scratch: Path, lesson: str, student: str, arguments: list[str]) -> dict:
    """The request to autograde ``student``'s ``lesson`` in the scratch course ``scratch``, with its
    gradebook there, and ``arguments`` (``--Class.trait=value`` settings, as on nbgrader's command line)."""
    return {
        "scratch": str(scratch),
        "lesson": lesson,
        "student": student,
        "arguments": arguments,
        "log": str(scratch / "nbgrader.log"),
    }


def autograde_in_process(config, request: dict) -> str:
    """Run nbgrader's Autograde converter on one request; return its error, "" when it succeeded."""
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import KVArgParseConfigLoader

    settings = copy.deepcopy(config)
    settings.merge(KVArgParseConfigLoader(request["arguments"]).load_config())
    settings.CourseDirectory.root = request["scratch"]
    settings.CourseDirectory.db_url = f"sqlite:///{Path(request['scratch']) / 'gradebook.db'}"
    coursedir = CourseDirectory(config=settings)
    coursedir.assignment_id = request["lesson"]
    coursedir.student_id = request["student"]
    converter = Autograde(coursedir=coursedir, config=settings)
    converter.force = True
    try:
        converter.start()
    except NbGraderException as error:
        return f"nbgrader autograde failed: {error}"
    except Exception as error:  # noqa: BLE001 - reported like the command's crash; the process goes on
        traceback.print_exc()
        return f"nbgrader autograde crashed: {type(error).__name__}: {error}"
    return ""


def redirect_output(path: str) -> None:
    """Send this process's stdout and stderr (and its kernels') to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def serve(course_root: str) -> None:
    """Answer requests from stdin until it closes."""
    replies = os.fdopen(os.dup(1), "w")  # not inherited by kernels; fds 1 and 2 go to each log
    logging.basicConfig(level=logging.INFO, format="[AutogradeApp | %(levelname)s] %(message)s", stream=sys.stderr)
    config = Course.load(course_root).config
    for line in sys.stdin:
        request = json.loads(line)
        redirect_output(request["log"])
        error = autograde_in_process(config, request)
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(json.dumps({"error": error}) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
