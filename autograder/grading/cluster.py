"""``grade --cluster ADDRESS``: grade submissions on a Dask ``distributed`` cluster.

Each submission becomes one Dask task. The task carries everything its worker needs besides the
installed course package: the course's configuration and time limits, the lesson's source and
release notebooks, the lesson-only template gradebook and the submitted files. The worker repairs
and grades the submission exactly as ``--jobs`` does (``Grader.grade_one``: its own scratch course
and gradebook; the worker thread's autograde process, started once for every lesson of the course,
as a job's is once per job) and returns the scores nbgrader recorded and the graded files.
The main process merges the results into the course gradebook one submission at a time, so a run
that is killed, loses a worker (Dask reruns its task elsewhere) or loses its scheduler keeps every
submission merged so far, and the next run grades only the rest.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Unicode
from traitlets.config import Configurable

from autograder.courseroot import CONFIG_FILE, Course, CourseError
from autograder.flags import Flag
from autograder.grading.gradebook import GradedScores
from autograder.grading.grader import TIMESTAMP_FILE, Grader, Outcome
from autograder.grading.records import RECORD_FILE
from autograder.grading.submission import Submission
from autograder.grading.time_limits import LIMITS_FILE

TEMPLATE_FOLDER = "gradebook-templates"  # a lesson's: gradebook-templates/<lesson>/gradebook.db
COURSE_FILES = (CONFIG_FILE, LIMITS_FILE)  # a bundle's files that are the course's, not the lesson's
RESULT_PARTS = ("autograded", "nbgrader.log")
Files = dict[str, bytes]  # relative path -> content


class ClusterGrading(Configurable):
    """Where ``python -m autograder grade`` sends submissions when no --cluster is given."""

    address = Unicode(
        "",
        help="Address of a Dask scheduler, e.g. tcp://10.0.0.5:8786 ('' grades on this machine).",
    ).tag(config=True)


def read_tree(folder: Path, under: str = "") -> Files:
    """Every file below ``folder`` (symlinks followed), by path relative to it, prefixed ``under``."""
    prefix = f"{under}/" if under else ""
    if folder.is_file():
        return {under: folder.read_bytes()}
    return {
        f"{prefix}{path.relative_to(folder).as_posix()}": path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts
    }


def write_tree(files: Files, folder: Path) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def relative_folder(course: Course, step: str) -> str:
    folder = course.folder(step)
    if not folder.is_relative_to(course.root):
        raise CourseError(
            f"the {step} folder {folder} is outside the course root {course.root}: "
            "grading on a cluster needs it inside (set a relative path in nbgrader_config.py)"
        )
    return folder.relative_to(course.root).as_posix()


def template_name(lesson: str) -> str:
    return f"{TEMPLATE_FOLDER}/{lesson}/gradebook.db"


def lesson_bundle(course: Course, lesson: str, template: Path) -> Files:
    """What a worker needs to grade submissions of ``lesson``, as files of a course root."""
    bundle = {CONFIG_FILE: (course.root / CONFIG_FILE).read_bytes(), template_name(lesson): template.read_bytes()}
    if (course.root / LIMITS_FILE).exists():
        bundle[LIMITS_FILE] = (course.root / LIMITS_FILE).read_bytes()
    for step in ("source", "release"):
        bundle.update(read_tree(course.folder(step) / lesson, f"{relative_folder(course, step)}/{lesson}"))
    return bundle


def submission_files(submission: Submission) -> Files:
    """The submitted files the grading uses (notebooks and timestamp), by name."""
    return {
        path.name: path.read_bytes()
        for path in sorted(submission.folder.iterdir())
        if path.is_file() and (path.suffix == ".ipynb" or path.name == TIMESTAMP_FILE) and path.name != RECORD_FILE
    }


def files_digest(files: Files) -> str:
    """A fingerprint of every file name and content of ``files``."""
    digest = hashlib.sha256()
    for name, content in sorted(files.items()):
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


@dataclass
class WorkerCourse:
    """A course root on a worker, written from bundles, and the Grader that grades in it."""

    grader: Grader
    lessons: dict[str, Files] = field(default_factory=dict)  # lesson -> its files as written

    def write_lesson(self, lesson: str, files: Files) -> None:
        """Make the course hold ``files`` as the lesson's (a new release replaces the old)."""
        written = self.lessons.get(lesson, {})
        if written == files:
            return
        root = self.grader.course.root
        for name in written:
            (root / name).unlink(missing_ok=True)
        write_tree(files, root)
        self.lessons[lesson] = files


_worker_courses: dict[str, WorkerCourse] = {}  # this worker process's, by files_digest of COURSE_FILES
_worker_courses_lock = threading.Lock()


def worker_grader(bundle: Files, lesson: str) -> Grader:
    """This worker process's Grader for the course ``bundle`` comes from, with ``lesson``'s files as
    the bundle has them. One Grader per course configuration lives as long as the worker, so its
    autograde processes (one per worker thread) grade submission after submission of every lesson,
    as a ``--jobs`` job's does."""
    shared = {name: content for name, content in bundle.items() if name in COURSE_FILES}
    key = files_digest(shared)
    with _worker_courses_lock:
        if key not in _worker_courses:
            root = Path(tempfile.mkdtemp(prefix="autograder-worker-")) / "course"
            write_tree(shared, root)
            _worker_courses[key] = WorkerCourse(Grader(Course.load(root), echo=lambda line: None))
            atexit.register(forget_course, _worker_courses[key].grader)
        course = _worker_courses[key]
        course.write_lesson(lesson, {name: content for name, content in bundle.items() if name not in shared})
        return course.grader


def forget_course(grader: Grader) -> None:
    """Stop a worker's Grader and remove its course (the worker is exiting)."""
    grader.stop_running()
    shutil.rmtree(grader.course.root.parent, ignore_errors=True)


def grade_on_worker(bundle: Files, student: str, lesson: str, submitted: Files, fingerprint: str) -> dict:
    """Run on a Dask worker: grade one submission with the worker's Grader for ``bundle``
    (``worker_grader``), in a scratch course of its own; return the outcome (with its scores) and
    the graded files the main process merges."""
    grader = worker_grader(bundle, lesson)
    with tempfile.TemporaryDirectory(prefix="autograder-submission-") as folder:
        root = Path(folder)
        write_tree(submitted, root / "submission")
        submission = Submission(student, lesson, root / "submission")
        outcome = grader.grade_one(
            submission, fingerprint, grader.course.root / template_name(lesson), root / "scratch"
        )
        result = {}
        for part in RESULT_PARTS:
            if (root / "scratch" / part).exists():
                result.update(read_tree(root / "scratch" / part, part))
        return {
            "failure": outcome.failure,
            "flags": [flag.as_dict() for flag in outcome.flags],
            "seconds": outcome.seconds,
            "scores": outcome.scores.as_dict() if outcome.scores else None,
            "files": result,
            "worker": socket.gethostname(),
        }


class ClusterGrader(Grader):
    """A Grader whose submissions are graded by the workers of a Dask cluster."""

    def __init__(self, course: Course, address: str, force: bool = False, echo: Callable[[str], None] = print) -> None:
        super().__init__(course, jobs=1, force=force, echo=echo)
        self.address = address

    def connect(self):  # -> distributed.Client
        if logging.getLogger().getEffectiveLevel() > logging.INFO:  # without --verbose
            logging.getLogger("distributed").setLevel(logging.CRITICAL)  # its reconnection tracebacks
        try:
            from distributed import Client
        except ImportError:
            raise CourseError(
                "grading on a cluster needs Dask's distributed: pip install distributed (on the workers too)"
            ) from None
        try:
            return Client(self.address, timeout=30)
        except (OSError, TimeoutError) as error:
            raise CourseError(
                f"no Dask scheduler answers at {self.address} ({error}); start one (dask scheduler) or fix --cluster"
            ) from None

    def grade_all(
        self, todo: list[tuple[Submission, str]], templates: dict[str, Path], scratch_root: Path
    ) -> Iterator[Outcome]:
        """Send every submission to the cluster; yield each Outcome, its files unpacked into
        ``scratch_root``, as its task finishes."""
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        client = self.connect()
        bundles = {lesson: lesson_bundle(self.course, lesson, path) for lesson, path in templates.items()}
        workers = len(client.scheduler_info().get("workers", {}))
        self.echo(f"grading {len(todo)} submissions on the Dask cluster at {self.address} ({workers} workers)")
        submissions, futures = {}, []
        for index, (submission, fingerprint) in enumerate(todo):
            future = client.submit(
                grade_on_worker,
                bundles[submission.lesson],
                submission.student,
                submission.lesson,
                submission_files(submission),
                fingerprint,
                key=f"grade-{submission.student}-{submission.lesson}-{index}",
                pure=False,
            )
            submissions[future.key] = (submission, fingerprint, scratch_root / f"job{index}")
            futures.append(future)
        finished = 0
        try:
            for future in as_completed(futures):
                submission, fingerprint, scratch = submissions[future.key]
                try:
                    result = future.result()
                except KilledWorker as error:
                    yield Outcome(
                        submission,
                        fingerprint,
                        scratch=scratch,
                        failure=f"every Dask worker that graded it died ({error}); it may crash its kernel's host",
                    )
                    finished += 1
                    continue
                except (FutureCancelledError, OSError) as error:
                    raise self.lost(finished, len(todo), error) from None
                write_tree(result["files"], scratch)
                outcome = Outcome(submission, fingerprint, scratch=scratch, failure=result["failure"])
                outcome.flags = [Flag.from_dict(flag) for flag in result["flags"]]
                outcome.seconds = result["seconds"]
                outcome.scores = GradedScores.from_dict(result["scores"]) if result["scores"] else None
                finished += 1
                yield outcome
        finally:
            client.cancel(futures)
            client.close(timeout=5)

    def lost(self, finished: int, total: int, error: BaseException) -> CourseError:
        """The error of a run whose scheduler went away."""
        return CourseError(
            f"lost the Dask scheduler at {self.address} ({type(error).__name__}: {error}) after "
            f"{finished} of {total} submissions; every one of those is merged and kept: "
            "start the scheduler again and rerun the command to grade the rest"
        )


def grade_on_cluster(
    course: Course,
    address: str,
    students: Iterable[str] = (),
    lessons: Iterable[str] = (),
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> list[Outcome]:
    """Grade submissions on the Dask cluster at ``address`` (see the module docstring)."""
    grader = ClusterGrader(course, address, force=force, echo=echo)
    if not grader.released_lessons():
        raise CourseError("no lesson is released yet: run `python -m autograder release` first")
    return grader.run(students, lessons)
