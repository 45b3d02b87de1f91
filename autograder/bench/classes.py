"""``python -m autograder.bench --class N``: grading a class, timed three ways.

Builds a temporary course (``bench.build_course``: release, which also times the solutions for the
grading limits), files N students' work in every lesson (the first student correct everywhere,
the others drawn in turn from CLASS_MIX, kinds of the catalogue ``autograder.samples.kinds``: mostly
correct or mangled, some partial, a few hostile) and grades the whole class from a fresh gradebook
with ``--jobs 1``, with ``--jobs 2`` and on a local Dask cluster of two single-threaded worker
processes. Prints notebooks per minute, the slowest hostile notebook against the lesson's correct
one, the merge time per submission, and projections for larger classes from those figures.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.bench.lessons import build_course, fresh_grading_state, load_average, plural, shortfalls
from autograder.courseroot import Course, CourseError
from autograder.grading.cluster import ClusterGrader
from autograder.grading.execution import cell_label
from autograder.grading.grader import Grader
from autograder.grading.lesson_model import LessonModel
from autograder.grading.records import read_record
from autograder.grading.student_work import write_submission
from autograder.grading.time_limits import cell_seconds, read_measurements
from autograder.samples.kinds import FULL, KINDS, PARTIAL
from autograder.samples.work import WorkMaker

# Students after the first hand in these kinds in turn (one lesson after another): 6 of 10 full
# marks, 2 partial, 2 hostile code that a limit must stop.
CLASS_MIX = (
    "colab-saved",
    "partial",
    "keep-alive-loop",
    "metadata-and-ids-stripped",
    "correct",
    "extra-cells",
    "always-equal",
    "correct",
    "infinite-loop",
    "test-moved",
)
PROJECTIONS = ((1_000, 2), (1_000, 16), (1_000, 128), (25_000, 16), (25_000, 128))
TARGET_CLASS_MINUTES = 45  # 200 students x 5 lessons on 2 cores
TARGET_HOSTILE_RATIO = 3.0
TARGET_CLUSTER_OVERHEAD = 0.10
TARGET_MERGE_SECONDS = 0.2


def is_hostile(kind: str) -> bool:
    """Work whose code runs and misbehaves (loops, crashes, floods, cheats), from the catalogue."""
    work_kind = KINDS[kind]
    return work_kind.serious and work_kind.outcome in (FULL, PARTIAL)


def file_class(course: Course, lessons: list[str], students: int, seed: int = 13) -> dict[tuple[str, str], str]:
    """File every student's work; returns {(student, lesson): kind}."""
    models = {name: LessonModel.load(course, name) for name in lessons}
    maker = WorkMaker(models, random.Random(seed))
    kinds, turn = {}, 0
    for number in range(1, students + 1):
        student = f"student{number:03d}"
        for name in lessons:
            kind = "correct"
            if number > 1:
                kind = CLASS_MIX[turn % len(CLASS_MIX)]
                turn += 1
                if not maker.applies(kind, models[name]):
                    kind = "correct"
            for upload in maker.make(kind, models[name]).uploads:
                write_submission(course.root, student, name, upload.content, upload.filename)
            kinds[student, name] = kind
    return kinds


@dataclass
class ClassRun:
    """One way of grading the class, timed."""

    label: str
    seconds: float
    notebooks: int
    workers: int
    merge_seconds: list[float]

    @property
    def per_minute(self) -> float:
        return 60 * self.notebooks / self.seconds

    @property
    def worker_seconds_per_notebook(self) -> float:
        return self.seconds * self.workers / self.notebooks


def timed_grading(grader: Grader, label: str, workers: int) -> ClassRun:
    started = time.monotonic()
    outcomes = grader.run()
    return ClassRun(label, time.monotonic() - started, len(outcomes), workers, grader.merge_seconds)


def grading_seconds(course: Course, kinds: dict[tuple[str, str], str]) -> dict[tuple[str, str], float]:
    return {key: (read_record(course, *key) or {}).get("seconds", 0.0) for key in kinds}


def check_full_marks(course: Course, kinds: dict[tuple[str, str], str]) -> list[str]:
    """Problems with work that must get every point (correct or harmlessly mangled)."""
    problems = []
    for (student, lesson), kind in sorted(kinds.items()):
        if KINDS[kind].outcome == FULL and not KINDS[kind].serious:
            problems += [f"{line} ({kind})" for line in shortfalls(course, lesson, [student])]
    return problems


def hostile_rows(
    course: Course, kinds: dict[tuple[str, str], str], seconds: dict[tuple[str, str], float]
) -> list[tuple[str, str, float, float, float]]:
    """(lesson, slowest hostile kind, its seconds, the correct notebook's seconds, the solution's
    cells' seconds) for each lesson that has hostile work, from the --jobs 1 run."""
    measured = read_measurements(course)
    rows = []
    for lesson in sorted({lesson for _, lesson in kinds}):
        correct = [seconds[key] for key, kind in kinds.items() if key[1] == lesson and kind == "correct"]
        hostile = [(seconds[key], kind) for key, kind in kinds.items() if key[1] == lesson and is_hostile(kind)]
        if correct and hostile:
            slowest, kind = max(hostile)
            solution = measured.get(lesson, {}).get("solution_seconds", 0.0)
            rows.append((lesson, kind, slowest, statistics.median(correct), solution))
    return rows


@dataclass
class NotebookBreakdown:
    """Where grading one correct notebook's seconds went."""

    lesson: str
    graded: float  # the whole grading of the submission (the record's seconds)
    cells: float  # its code cells, as the kernel ran them
    setup: float  # of which the setup cell (the kernel's imports: TensorFlow, Keras, KerasCV)
    slowest: list[tuple[str, float]]  # its slowest other cells

    @property
    def outside_cells(self) -> float:
        """Starting the kernel, nbgrader's own steps (repair, scratch course, gradebook) and stopping."""
        return self.graded - self.cells


def breakdowns(course: Course, kinds: dict[tuple[str, str], str], seconds: dict[tuple[str, str], float]):
    """A NotebookBreakdown of the first correct notebook of each lesson, from the graded notebooks of
    the run whose record seconds are ``seconds``."""
    found = []
    for lesson in sorted({lesson for _, lesson in kinds}):
        student = min((key[0] for key, kind in kinds.items() if key[1] == lesson and kind == "correct"), default=None)
        if student is None:
            continue
        timed = {}
        for path in sorted((course.folder("autograded") / student / lesson).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            timed.update(
                {
                    cell_label(cell, index): cell_seconds(cell)
                    for index, cell in enumerate(nb.cells)
                    if cell.cell_type == "code"
                }
            )
        setup = timed.pop("setup", 0.0)
        slowest = sorted(timed.items(), key=lambda item: -item[1])[:2]
        found.append(NotebookBreakdown(lesson, seconds[student, lesson], setup + sum(timed.values()), setup, slowest))
    return found


def format_breakdowns(rows: list[NotebookBreakdown]) -> str:
    lines = [
        "where a correct notebook's seconds go (--jobs 1):",
        f"{'lesson':<22} {'graded s':>8} {'cells s':>8} {'setup s':>8} {'outside s':>9}  slowest other cells",
    ]
    for row in rows:
        slowest = ", ".join(f"{name} {seconds:.1f}" for name, seconds in row.slowest)
        figures = f"{row.graded:>8.1f} {row.cells:>8.1f} {row.setup:>8.1f} {row.outside_cells:>9.1f}"
        lines.append(f"{row.lesson:<22} {figures}  {slowest}")
    lines.append("(setup: the kernel's imports; outside: the kernel's start and stop and nbgrader's own steps)")
    return "\n".join(lines)


def format_class_report(
    runs: list[ClassRun], hostile: list[tuple[str, str, float, float, float]], students: int, lessons: int
) -> str:
    lines = [f"{'grading':<28} {'notebooks':>9} {'seconds':>8} {'nb/min':>7} {'merge s/sub':>11}"]
    for run in runs:
        merge = statistics.mean(run.merge_seconds) if run.merge_seconds else 0.0
        lines.append(f"{run.label:<28} {run.notebooks:>9} {run.seconds:>8.1f} {run.per_minute:>7.1f} {merge:>11.3f}")
    lines.append("")
    lines.append(
        f"{'lesson':<22} {'slowest hostile':<18} {'s':>6} {'correct s':>9} {'ratio':>6} {'solution cells s':>16}"
    )
    for lesson, kind, slowest, correct, solution in hostile:
        lines.append(
            f"{lesson:<22} {kind:<18} {slowest:>6.1f} {correct:>9.1f} {slowest / correct:>5.2f}x {solution:>16.1f}"
        )
    by_label = {run.label.split(" (")[0]: run for run in runs}
    two = by_label.get("--jobs 2")
    cluster = by_label.get("Dask, 2 workers")
    lines.append("")
    if two:
        lines.append(
            f"projections from --jobs 2 ({two.worker_seconds_per_notebook:.1f} worker-seconds per notebook, "
            "workers as fast as these cores, merging overlapped):"
        )
        for notebooks, workers in PROJECTIONS:
            minutes = max(notebooks * two.worker_seconds_per_notebook / workers, notebooks * max_merge(runs)) / 60
            lines.append(f"  {notebooks:>6,} notebooks on {workers:>3} workers: {minutes:8.1f} min")
    lines.append("targets:")
    if two:
        class_minutes = 1_000 * two.worker_seconds_per_notebook / 2 / 60
        lines.append(
            verdict(
                f"200 students x 5 lessons on 2 cores: {class_minutes:.1f} min",
                class_minutes < TARGET_CLASS_MINUTES,
                f"< {TARGET_CLASS_MINUTES} min",
            )
        )
    if hostile:
        worst = max(slowest / correct for _, _, slowest, correct, _ in hostile)
        lines.append(
            verdict(
                f"slowest hostile notebook {worst:.2f}x the correct one",
                worst <= TARGET_HOSTILE_RATIO,
                f"<= {TARGET_HOSTILE_RATIO:g}x",
            )
        )
    if two and cluster:
        overhead = cluster.seconds / two.seconds - 1
        lines.append(
            verdict(
                f"Dask cluster vs --jobs 2: {overhead:+.0%}",
                overhead <= TARGET_CLUSTER_OVERHEAD,
                f"within {TARGET_CLUSTER_OVERHEAD:.0%}",
            )
        )
    merge = max_merge(runs)
    lines.append(
        verdict(
            f"merge {merge:.3f} s per submission (mean, worst run)",
            merge < TARGET_MERGE_SECONDS,
            f"< {TARGET_MERGE_SECONDS} s",
        )
    )
    lines.append(f"{plural(students, 'student')} x {plural(lessons, 'lesson')}; {os.cpu_count()} cores")
    return "\n".join(lines)


def max_merge(runs: list[ClassRun]) -> float:
    return max((statistics.mean(run.merge_seconds) for run in runs if run.merge_seconds), default=0.0)


def verdict(measured: str, met: bool, target: str) -> str:
    return f"  {measured}: {'met' if met else 'NOT met'} (target {target})"


def start_local_cluster(workers: int):  # -> distributed.LocalCluster
    try:
        from distributed import LocalCluster
    except ImportError:
        raise CourseError(
            "the class benchmark's cluster run needs Dask's distributed: pip install distributed"
        ) from None
    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )


def run_class(
    repository: Path | str,
    students: int,
    lessons: tuple[str, ...] | list[str] = (),
    keep: bool = False,
    echo: Callable[[str], None] = print,
) -> int:
    """Run the class benchmark; return 0, or 1 when work that must get full marks did not."""
    echo(f"load average (1, 5, 15 min) before: {load_average()}")
    folder = Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    quiet = lambda line: None  # noqa: E731
    warnings.filterwarnings("ignore", message=".*not in session, add operation along")  # as the grade command
    try:
        started = time.monotonic()
        course, lessons = build_course(repository, folder / "course", lessons)
        echo(f"released and timed {plural(len(lessons), 'lesson')} in {time.monotonic() - started:.0f} s")
        kinds = file_class(course, lessons, students)
        released_gradebook = folder / "released-gradebook.db"
        shutil.copy(course.root / "gradebook.db", released_gradebook)
        runs, seconds = [], {}
        for jobs in (1, 2):
            fresh_grading_state(course, released_gradebook)
            runs.append(timed_grading(Grader(course, jobs=jobs, echo=quiet), f"--jobs {jobs}", jobs))
            echo(f"  --jobs {jobs}: {runs[-1].seconds:.1f} s")
            problems = check_full_marks(course, kinds)
            if problems:
                echo("BENCHMARK INVALID: work that must get full marks lost points:\n  " + "\n  ".join(problems))
                echo(f"the graded course is kept: python -m autograder --course-dir {course.root} report")
                keep = True
                return 1
            if jobs == 1:
                seconds = grading_seconds(course, kinds)
                breakdown = breakdowns(course, kinds, seconds)
        fresh_grading_state(course, released_gradebook)
        cluster_started = time.monotonic()
        with start_local_cluster(2) as cluster:
            startup = time.monotonic() - cluster_started
            grader = ClusterGrader(course, cluster.scheduler_address, echo=quiet)
            runs.append(timed_grading(grader, f"Dask, 2 workers (+{startup:.0f} s start)", 2))
        echo(f"  Dask, 2 workers: {runs[-1].seconds:.1f} s (the cluster took {startup:.1f} s to start)")
        echo(format_class_report(runs, hostile_rows(course, kinds, seconds), students, len(lessons)))
        echo(format_breakdowns(breakdown))
        echo(f"load average (1, 5, 15 min) after: {load_average()}")
        if keep:
            echo(f"the course is kept in {course.root}")
        return 0
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
