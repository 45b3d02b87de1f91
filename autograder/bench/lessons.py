"""How long grading the lessons takes, with 1 job and with 2 (``python -m autograder.bench``).

Builds a temporary course from the repository (its nbgrader_config.py and solutions/,
released with ``autograder release``), files N correct submissions of every lesson (the
solutions' answers put into the released notebooks), and grades them lesson by lesson through
``python -m autograder grade`` itself: first with ``--jobs 1``, then, from a fresh gradebook,
with ``--jobs 2``. Prints seconds per notebook and the speed-up per lesson, the total for one
student's lessons (the target: under 5 minutes on 2 cores) and the load average before and
after. Every graded notebook must get full points: timing grading that fails measures
nothing, so the benchmark stops, says so, keeps the course for inspection and exits 1.
``--sandbox-cost`` instead grades every lesson with one job in the sandbox and without it
(``c.Sandbox.enabled``) and prints what the sandbox costs per notebook.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.courseroot import CONFIG_FILE, Course, CourseError
from autograder.grading.lesson_model import LessonModel
from autograder.grading.records import read_record
from autograder.grading.student_work import notebook_bytes, write_submission
from autograder.grading.time_limits import LIMITS_FILE
from autograder.release.release import release

TARGET_SECONDS = 300  # one student's lessons, graded on 2 cores


def build_course(
    repository: Path | str, folder: Path, lessons: tuple[str, ...] | list[str] = ()
) -> tuple[Course, list[str]]:
    """A released copy of ``repository``'s course in ``folder``; returns (course, lessons). The
    grading time limits are the repository's (nbgrader_time_limits.json), else measured here."""
    repository = Path(repository)
    for needed in (CONFIG_FILE, "solutions"):
        if not (repository / needed).exists():
            raise CourseError(
                f"{repository / needed} not found: --repository must be a course root "
                f"holding {CONFIG_FILE} and solutions/"
            )
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(repository / CONFIG_FILE, folder / CONFIG_FILE)
    shutil.copytree(
        repository / "solutions",
        folder / "solutions",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
    )
    measured = (repository / LIMITS_FILE).exists()
    if measured:  # grade with the limits the course's last release measured
        shutil.copy(repository / LIMITS_FILE, folder / LIMITS_FILE)
    course = Course.load(folder)
    with contextlib.redirect_stdout(io.StringIO()):
        released = release(course, lessons, timing=not measured)
    return course, sorted(released)


def file_correct_work(course: Course, lessons: list[str], students: int) -> list[str]:
    """``students`` copies of every lesson's correct notebook in submitted/; returns the ids."""
    ids = [f"bench{number:02d}" for number in range(1, students + 1)]
    for name in lessons:
        lesson = LessonModel.load(course, name)
        content = notebook_bytes(lesson.correct())
        for student in ids:
            write_submission(course.root, student, name, content, lesson.filename)
    return ids


def fresh_grading_state(course: Course, gradebook_copy: Path) -> None:
    """The gradebook as released, and nothing autograded."""
    shutil.copy(gradebook_copy, course.root / "gradebook.db")
    shutil.rmtree(course.folder("autograded"), ignore_errors=True)


def grade_lesson(course: Course, lesson: str, jobs: int) -> tuple[float, str]:
    """Seconds ``python -m autograder grade --lessons LESSON --jobs N`` took, and what it printed."""
    command = [sys.executable, "-m", "autograder", "--course-dir", str(course.root), "grade"]
    started = time.monotonic()
    done = subprocess.run([*command, "--lessons", lesson, "--jobs", str(jobs)], capture_output=True, text=True)
    seconds = time.monotonic() - started
    printed = done.stdout + done.stderr
    if done.returncode != 0:
        raise CourseError(f"grade --lessons {lesson} --jobs {jobs} failed (exit {done.returncode}):\n{printed}")
    return seconds, printed


def shortfalls(course: Course, lesson: str, students: list[str]) -> list[str]:
    """One line per submission of ``lesson`` that did not get every autograded point."""
    found = []
    with Gradebook(course.db_url, course.coursedir().course_id) as gradebook:
        for student in students:
            try:
                submission = gradebook.find_submission(lesson, student)
            except MissingEntry:
                found.append(f"{lesson} {student}: not graded")
                continue
            lost = [
                f"{grade.name} {grade.auto_score or 0:g}/{grade.max_score:g}"
                for notebook in submission.notebooks
                for grade in notebook.grades
                if grade.cell_type == "code" and (grade.auto_score or 0) < grade.max_score
            ]
            failure = (read_record(course, student, lesson) or {}).get("failure")
            if lost or failure:
                found.append(f"{lesson} {student}: {failure or 'lost points on ' + ', '.join(lost)}")
    return found


def invalid_run(course: Course, problems: list[str], printed: str) -> str:
    """The loud message of a benchmark whose grading failed."""
    lines = ["BENCHMARK INVALID: correct work lost points; timing failing grading measures nothing:"]
    lines += [f"  {problem}" for problem in problems]
    lines += [
        "grade printed:",
        printed.rstrip(),
        f"the graded course is kept: python -m autograder --course-dir {course.root} report",
    ]
    return "\n".join(lines)


def format_timing_table(
    rows: list[tuple[str, int, dict[int, float]]], jobs_list: list[int] | tuple[int, ...], students: int
) -> str:
    """rows: (lesson, notebooks, {jobs: seconds per notebook})."""
    jobs_headers = [f"s/nb {jobs} job{'s' if jobs > 1 else ''}" for jobs in jobs_list]
    header = f"{'lesson':<22} {'notebooks':>9} " + " ".join(f"{h:>12}" for h in jobs_headers)
    speed_up = len(jobs_list) > 1
    if speed_up:
        header += f" {'speed-up':>9}"
    lines = [header]
    totals = {jobs: 0.0 for jobs in jobs_list}
    for lesson, notebooks, per_notebook in rows:
        line = f"{lesson:<22} {notebooks:>9} " + " ".join(f"{per_notebook[j]:>12.1f}" for j in jobs_list)
        if speed_up:
            line += f" {per_notebook[jobs_list[0]] / per_notebook[jobs_list[-1]]:>8.2f}x"
        lines.append(line)
        for jobs in jobs_list:
            totals[jobs] += per_notebook[jobs]
    total = f"{'one student, ' + str(len(rows)) + ' lessons':<22} {len(rows):>9} "
    total += " ".join(f"{totals[j]:>12.1f}" for j in jobs_list)
    if speed_up:
        total += f" {totals[jobs_list[0]] / totals[jobs_list[-1]]:>8.2f}x"
    lines.append(total)
    best = min(totals.values())
    verdict = "met" if best < TARGET_SECONDS else "NOT met"
    lines.append(
        f"target: one student's lessons graded in under {TARGET_SECONDS} s on 2 cores: "
        f"{verdict} ({best:.0f} s at best; {plural(students, 'correct submission')} per lesson)"
    )
    return "\n".join(lines)


def sandbox_cost(
    course: Course, lessons: list[str], ids: list[str], released_gradebook: Path, echo: Callable[[str], None]
) -> int:
    """Grade every lesson with one job, sandboxed and not; print seconds per notebook and the
    difference. Returns 0, or 1 when grading did not give full points."""
    config = course.root / CONFIG_FILE
    original = config.read_text()
    lines = [f"{'lesson':<22} {'s/nb sandboxed':>15} {'s/nb unsandboxed':>17} {'cost s/nb':>10}"]
    costs = []
    for lesson in lessons:
        per_notebook = {}
        for sandboxed in (True, False):
            config.write_text(f"{original}\nc.Sandbox.enabled = {sandboxed}\n")
            fresh_grading_state(course, released_gradebook)
            seconds, printed = grade_lesson(course, lesson, 1)
            problems = shortfalls(course, lesson, ids)
            if problems:
                echo(invalid_run(course, problems, printed))
                return 1
            per_notebook[sandboxed] = seconds / len(ids)
            echo(f"  {lesson}, {'sandboxed' if sandboxed else 'unsandboxed'}: {seconds:.1f} s")
        costs.append(per_notebook[True] - per_notebook[False])
        lines.append(f"{lesson:<22} {per_notebook[True]:>15.1f} {per_notebook[False]:>17.1f} {costs[-1]:>+10.1f}")
    config.write_text(original)
    lines.append(f"sandbox cost: {sum(costs) / len(costs):+.1f} s per notebook on average ({len(ids)} per lesson)")
    echo("\n".join(lines))
    return 0


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run(
    repository: Path | str,
    students: int = 2,
    lessons: tuple[str, ...] | list[str] = (),
    jobs_list: tuple[int, ...] | list[int] = (1, 2),
    keep: bool = False,
    echo: Callable[[str], None] = print,
    sandbox: bool = False,
) -> int:
    """Run the benchmark (``sandbox``: the sandbox's cost instead); return 0, or 1 when grading did
    not give full points."""
    echo(f"load average (1, 5, 15 min) before: {load_average()}")
    folder = Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    try:
        course, lessons = build_course(repository, folder / "course", lessons)
        ids = file_correct_work(course, lessons, students)
        released_gradebook = folder / "released-gradebook.db"
        shutil.copy(course.root / "gradebook.db", released_gradebook)
        if sandbox:
            code = sandbox_cost(course, lessons, ids, released_gradebook, echo)
            keep = keep or code != 0
            echo(f"load average (1, 5, 15 min) after: {load_average()}  ({os.cpu_count()} cores)")
            return code
        per_notebook = {lesson: {} for lesson in lessons}
        for jobs in jobs_list:
            fresh_grading_state(course, released_gradebook)
            for lesson in lessons:
                seconds, printed = grade_lesson(course, lesson, jobs)
                problems = shortfalls(course, lesson, ids)
                if problems:
                    echo(invalid_run(course, problems, printed))
                    keep = True
                    return 1
                per_notebook[lesson][jobs] = seconds / students
                echo(f"  {lesson}, --jobs {jobs}: {seconds:.1f} s for {plural(students, 'notebook')}")
        echo(
            format_timing_table(
                [(lesson, students, per_notebook[lesson]) for lesson in lessons], list(jobs_list), students
            )
        )
        echo(f"load average (1, 5, 15 min) after: {load_average()}  ({os.cpu_count()} cores)")
        if keep:
            echo(f"the course is kept in {course.root}")
        return 0
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
