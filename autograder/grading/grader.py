"""``grade``: repair and autograde every submission, in parallel, losing nothing.

Each submission is graded by nbgrader's Autograde converter in its own scratch course folder with
its own scratch gradebook (so N of them can run at once), after the autograder has repaired the
notebook against the release; each job runs the converter in one long-lived process (see
autograder.grading.autograde_process), every notebook in a fresh kernel. The main process merges each finished
submission into the course gradebook in its own commit, then writes the submission's record
(``autograded/<student>/<lesson>/autograder.json``), so a run stopped midway keeps everything
already merged and a second run only regrades what changed.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import parse_utc
from traitlets import Integer
from traitlets.config import Configurable

from autograder.courseroot import Course, CourseError
from autograder.flags import Flag, flag_from_event
from autograder.grading.autograde_process import AutogradeProcess, AutogradeProcessDied, grade_request
from autograder.grading.execution import EVENTS_KEY, MAX_LOAD_STRETCH, SafeExecute
from autograder.grading.gradebook import (
    GradedScores,
    backup_gradebook,
    make_lesson_template,
    merge_graded,
    read_graded,
    record_ungradable,
    sqlite_path,
)
from autograder.grading.mark_schemes import show_mark_schemes
from autograder.grading.records import read_record, write_record
from autograder.grading.repair import SubmissionRepair
from autograder.grading.submission import Submission, UnreadableNotebook, find_submissions, read_notebook
from autograder.grading.time_limits import lesson_limits
from autograder.sandbox.bwrap import COURSE_ROOT_VARIABLE, UNSANDBOXED_FLAG, Sandbox

TIMESTAMP_FILE = "timestamp.txt"
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b.*")


class GradingRun(Configurable):
    """Settings of ``python -m autograder grade``."""

    kill_grace_seconds = Integer(
        300,
        help="Seconds an nbgrader process may outlive its notebooks' time limits before it "
        "is stopped and the submission scored 0.",
    ).tag(config=True)


@dataclass
class Outcome:
    """What grading one submission produced."""

    submission: Submission
    fingerprint: str
    flags: list[Flag] = field(default_factory=list)
    scratch: Path | None = None
    failure: str = ""  # why nothing could be graded; empty when nbgrader graded it
    seconds: float = 0.0
    scores: GradedScores | None = None  # what nbgrader recorded, when it graded it

    @property
    def serious(self) -> bool:
        return bool(self.failure) or any(flag.serious for flag in self.flags)


def timestamp_of(folder: Path) -> datetime | None:
    """The submission time nbgrader would use (timestamp.txt), or None."""
    path = folder / TIMESTAMP_FILE
    try:
        return parse_utc(path.read_text().strip()) if path.exists() else None
    except (ValueError, OverflowError):
        return None


class Grader:
    """Grades submissions of one course; see the module docstring."""

    def __init__(self, course: Course, jobs: int = 1, force: bool = False, echo: Callable[[str], None] = print) -> None:
        self.course = course
        self.jobs = max(1, jobs)
        self.force = force
        self.echo = echo
        self.course_id = course.coursedir().course_id
        execute = SafeExecute(config=course.config)
        self.notebook_time_limit = execute.notebook_time_limit
        self.kill_grace = GradingRun(config=course.config).kill_grace_seconds
        self.sandbox = Sandbox(config=course.config)
        self.repairers = {}
        self.job = threading.local()  # each job thread's AutogradeProcess
        self.running = set()  # every job's AutogradeProcess
        self.running_lock = threading.Lock()
        self.merge_seconds: list[float] = []  # how long merging each outcome took (the benchmark reports it)

    def released_lessons(self) -> set[str]:
        with Gradebook(self.course.db_url, self.course_id) as gradebook:
            return {assignment.name for assignment in gradebook.assignments}

    def run(self, students: Iterable[str] = (), lessons: Iterable[str] = ()) -> list[Outcome]:
        """Grade the matching submissions; return the list of Outcomes merged. Raises
        SandboxUnavailable when student code cannot be sandboxed (and the sandbox is not turned off)."""
        self.sandbox.ensure_available()
        backup = backup_gradebook(self.course.db_url)
        if backup:
            self.echo(f"gradebook backed up to {backup}")
        elif not sqlite_path(self.course.db_url):
            self.echo(
                "the gradebook is on a database server: back it up with its own tools (e.g. pg_dump) before grading"
            )
        with Gradebook(self.course.db_url, self.course_id) as gradebook:
            return self.grade_and_merge(gradebook, students, lessons)

    def grade_and_merge(self, gradebook: Gradebook, students: Iterable[str], lessons: Iterable[str]) -> list[Outcome]:
        """Grade the matching submissions and merge each into ``gradebook`` (the course's, open for
        the whole run: opening it costs more than a merge) as it finishes."""
        released = self.released_lessons()
        todo, unchanged = [], 0
        for submission in find_submissions(self.course, students, lessons):
            if submission.lesson not in released or not self.course.release_notebooks(submission.lesson):
                self.echo(
                    f"skipped {submission.folder}: lesson {submission.lesson!r} is not released "
                    "(run: python -m autograder release)"
                )
                continue
            fingerprint = submission.fingerprint(self.course.release_notebooks(submission.lesson))
            if not self.force and self.is_current(gradebook, submission, fingerprint):
                unchanged += 1
                continue
            todo.append((submission, fingerprint))
        if unchanged:
            self.echo(f"{unchanged} submissions are graded already and unchanged (--force regrades)")
        if not todo:
            self.echo("nothing to grade")
            return []
        outcomes = []
        with tempfile.TemporaryDirectory(prefix="autograder-") as scratch_root:
            scratch_root = Path(scratch_root)
            templates = {
                lesson: make_lesson_template(
                    self.course.db_url, self.course_id, lesson, scratch_root / f"{lesson}.template.db"
                )
                for lesson in sorted({s.lesson for s, _ in todo})
            }
            graded = self.grade_all(todo, templates, scratch_root)
            try:
                for done, outcome in enumerate(graded, start=1):
                    merge_started = time.monotonic()
                    self.merge(gradebook, outcome)
                    self.merge_seconds.append(time.monotonic() - merge_started)
                    shutil.rmtree(outcome.scratch, ignore_errors=True)
                    outcomes.append(outcome)
                    self.echo(self.progress_line(gradebook, done, len(todo), outcome))
            finally:
                graded.close()
        return outcomes

    def grade_all(
        self, todo: list[tuple[Submission, str]], templates: dict[str, Path], scratch_root: Path
    ) -> Iterator[Outcome]:
        """Grade ``todo`` (submission, fingerprint) with ``jobs`` nbgrader processes at once; yield
        each Outcome as it finishes. Closing the iterator early stops what is still running."""
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = [
                pool.submit(
                    self.grade_one, submission, fingerprint, templates[submission.lesson], scratch_root / f"job{index}"
                )
                for index, (submission, fingerprint) in enumerate(todo)
            ]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()
                self.stop_running()

    def stop_running(self) -> None:
        """Kill the autograde processes, with whatever they are still grading (the run is over or
        being interrupted)."""
        with self.running_lock:
            for process in self.running:
                process.kill()
            self.running.clear()

    def autograde_process(self) -> AutogradeProcess:
        """This job thread's autograde process."""
        process = getattr(self.job, "process", None)
        if process is None:
            env = {**os.environ, COURSE_ROOT_VARIABLE: str(self.course.root)}
            process = self.job.process = AutogradeProcess(self.course.root, env)
            with self.running_lock:
                self.running.add(process)
        return process

    def is_current(self, gradebook: Gradebook, submission: Submission, fingerprint: str) -> bool:
        record = read_record(self.course, submission.student, submission.lesson)
        if not record or record.get("fingerprint") != fingerprint:
            return False
        try:
            gradebook.find_submission(submission.lesson, submission.student)
        except MissingEntry:
            return False
        return True

    def repairer(self, lesson: str, path: Path) -> SubmissionRepair:
        state = path.stat()
        key = (lesson, path.name, state.st_mtime_ns, state.st_size)  # a new release of the lesson gets a new one
        if key not in self.repairers:
            self.repairers[key] = SubmissionRepair(nbformat.read(path, as_version=4))
        return self.repairers[key]

    def grade_one(self, submission: Submission, fingerprint: str, template: Path, scratch: Path) -> Outcome:
        """Repair and autograde one submission in ``scratch``; never raises."""
        started = time.monotonic()
        outcome = Outcome(submission, fingerprint, scratch=scratch)
        if not self.sandbox.enabled:
            outcome.flags.append(
                Flag(UNSANDBOXED_FLAG, "graded without a sandbox (c.Sandbox.enabled = False in nbgrader_config.py)")
            )
        try:
            self.prepare_scratch(outcome, template)
            if not outcome.failure:
                self.run_nbgrader(outcome)
            if not outcome.failure:
                self.read_scores(outcome)
        except Exception as error:  # noqa: BLE001 - a broken submission must not stop the run
            outcome.failure = f"the autograder could not grade it: {type(error).__name__}: {error}"
        outcome.seconds = time.monotonic() - started
        return outcome

    def prepare_scratch(self, outcome: Outcome, template: Path) -> None:
        """A course folder of one submission: its lesson's source, a copy of the lesson-only
        gradebook, and the repaired notebooks in submitted/."""
        submission = outcome.submission
        scratch = outcome.scratch
        target = scratch / "submitted" / submission.student / submission.lesson
        target.mkdir(parents=True)
        shutil.copy(template, scratch / "gradebook.db")
        source = self.course.folder("source") / submission.lesson
        (scratch / source.parent.name).mkdir()
        (scratch / source.parent.name / submission.lesson).symlink_to(source)
        if (submission.folder / TIMESTAMP_FILE).exists():
            shutil.copy(submission.folder / TIMESTAMP_FILE, target / TIMESTAMP_FILE)
        readable = 0
        releases = self.course.release_notebooks(submission.lesson)
        for release_path in releases:
            path = submission.folder / release_path.name
            if not path.exists():
                outcome.flags.append(Flag("missing", f"{path.name} was not submitted", serious=True))
                continue
            try:
                nb = read_notebook(path)
                outcome.flags += self.repairer(submission.lesson, release_path).repair(nb)
            except UnreadableNotebook as error:
                outcome.flags.append(Flag("unreadable", f"{path.name}: {error}", serious=True))
                continue
            nbformat.write(nb, target / path.name)
            readable += 1
        if not readable:
            outcome.failure = "no readable notebook was submitted"

    def run_nbgrader(self, outcome: Outcome) -> None:
        """Autograde the scratch folder with nbgrader (in this job's autograde process), with a hard time limit."""
        submission = outcome.submission
        notebooks = len(self.course.release_notebooks(submission.lesson))
        limits = lesson_limits(self.course, submission.lesson)
        notebook_limit = limits.notebook if limits else self.notebook_time_limit
        # the kernels' limits stretch with the load (SafeExecute.stretch_with_load), so this one does too
        hard_limit = (
            math.ceil(notebook_limit * MAX_LOAD_STRETCH) * notebooks + self.kill_grace if notebook_limit else None
        )
        request = grade_request(
            outcome.scratch, submission.lesson, submission.student, limits.nbgrader_arguments() if limits else []
        )
        try:
            error = self.autograde_process().autograde(request, timeout=hard_limit)
        except subprocess.TimeoutExpired:
            outcome.failure = (
                f"nbgrader was stopped after {hard_limit} s (the kernel hung "
                "beyond the per-cell and per-notebook limits)"
            )
            return
        except AutogradeProcessDied as died:
            error = str(died)
        graded = outcome.scratch / "autograded" / submission.student / submission.lesson
        for path in sorted(graded.glob("*.ipynb")):
            events = nbformat.read(path, as_version=4).metadata.get(EVENTS_KEY, {}).get("events", [])
            outcome.flags += [flag_from_event(event) for event in events]
            show_mark_schemes(path, self.course.folder("source") / submission.lesson / path.name)
        if error:
            log_lines = (outcome.scratch / "nbgrader.log").read_text(errors="replace").strip().splitlines()
            tail = [error, *last_exception(log_lines), *log_lines[-2:]]
            outcome.flags.append(
                Flag("nbgrader-error", "nbgrader autograde reported an error: " + " / ".join(tail), serious=True)
            )
            if not any(graded.glob("*.ipynb")):
                outcome.failure = "nbgrader autograde failed on every notebook"

    def read_scores(self, outcome: Outcome) -> None:
        """Read what nbgrader recorded in the scratch gradebook into ``outcome.scores``."""
        submission = outcome.submission
        scratch_db = f"sqlite:///{outcome.scratch / 'gradebook.db'}"
        try:
            outcome.scores = read_graded(scratch_db, self.course_id, submission.lesson, submission.student)
        except MissingEntry as error:
            outcome.failure = f"nbgrader recorded no grades ({error})"

    def merge(self, target: Gradebook, outcome: Outcome) -> None:
        """Record one outcome in the course gradebook ``target``, autograded/ and its record file."""
        submission = outcome.submission
        course_dir = self.course.submission_dir(submission.student, submission.lesson, "autograded")
        if not outcome.failure:
            try:
                merge_graded(target, outcome.scores, submission.lesson, submission.student, flagged=outcome.serious)
            except MissingEntry as error:
                target.db.rollback()
                outcome.failure = f"the course gradebook does not match the graded lesson ({error})"
        if outcome.failure:
            record_ungradable(
                target, submission.lesson, submission.student, timestamp_of(submission.folder), outcome.failure
            )
        replace_folder(outcome.scratch / "autograded" / submission.student / submission.lesson, course_dir)
        write_record(
            self.course,
            submission.student,
            submission.lesson,
            seconds=outcome.seconds,
            fingerprint=outcome.fingerprint,
            failure=outcome.failure,
            flags=outcome.flags,
        )

    def progress_line(self, gradebook: Gradebook, done: int, total: int, outcome: Outcome) -> str:
        submission = outcome.submission
        graded = gradebook.find_submission(submission.lesson, submission.student)
        score = f"{graded.score:g}/{graded.max_score:g}"
        problems = [outcome.failure] if outcome.failure else []
        problems += [flag.code for flag in outcome.flags if flag.serious]
        note = f"  FLAGGED: {'; '.join(problems)}" if problems else ""
        return f"[{done}/{total}] {submission.student} {submission.lesson}: {score} ({outcome.seconds:.0f} s){note}"


def replace_folder(new: Path, destination: Path) -> None:
    """Put ``new``'s files at ``destination`` (an empty folder when ``new`` does not exist)."""
    staging = destination.with_name(destination.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    if new.is_dir():
        shutil.copytree(new, staging)
        for path in staging.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
    else:
        staging.mkdir(parents=True)
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)


def grade(
    course: Course,
    students: Iterable[str] = (),
    lessons: Iterable[str] = (),
    jobs: int = 1,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> list[Outcome]:
    """Grade submissions (see Grader); raise CourseError when nothing is released."""
    grader = Grader(course, jobs=jobs, force=force, echo=echo)
    if not grader.released_lessons():
        raise CourseError("no lesson is released yet: run `python -m autograder release` first")
    return grader.run(students, lessons)


def last_exception(log_lines: list[str]) -> list[str]:
    """The line naming the last exception of a traceback in an nbgrader log (none when there is none)."""
    found = [line for line in log_lines if EXCEPTION_LINE.match(line)]
    return found[-1:]
