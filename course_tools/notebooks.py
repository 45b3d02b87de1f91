"""Execute the lesson notebooks with papermill, the way CI does.

    python -m course_tools.notebooks [LESSON ...] --profile smoke --out executed [--jobs 2]

Lessons are the folders ``<source>/<lesson>/<lesson>.ipynb`` (``solutions/`` by default). Each runs
on the Jupyter kernel ``python3`` with the papermill parameters ``profile`` and ``output_dir``
(``<out>/<lesson>/``: the lesson saves its figures there), plus the lesson's own parameters from
``course_tools/notebooks.toml``, which also sets how long one cell may run and which lessons must have
finished before a lesson starts (``[after]``: lesson 5 fine-tunes the model lesson 4 saved). With ``--jobs N``
up to N lessons run at once, each on its own kernel: much of a lesson is single-threaded (importing
TensorFlow, building EfficientNetB0 and tracing its training graph), so two lessons on two cores take less
wall time than one after the other. The executed notebook is written to ``<out>/<lesson>.ipynb``, what its
kernel itself prints (TensorFlow's start-up notices) to ``<out>/<lesson>.kernel.log``. A table
gives each lesson's status, time and recorded metrics, then, when the lessons recorded them, the three
approaches' test accuracies side by side (also drawn in ``<out>/approaches.png``), then the wall time
of the whole run; the exit status is 1 if any lesson failed (the failing lesson and cell are named, with the
last lines of its kernel's log), 2 if the run cannot start.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from pathlib import Path

from course.config import PROFILES
from course.errors import USAGE_ERROR, report_error
from course.metrics import read_metrics
from course_tools.errors import CourseToolsError
from course_tools.settings import read_settings

KERNEL = "python3"
# The three approaches, by the metric the lesson that trains each records: the accuracy of its final model on
# the test split, measured once (the validation split served the choices made while training).
APPROACHES = {
    "from scratch": "scratch_test_accuracy",
    "frozen backbone, new head": "frozen_test_accuracy",
    "fine-tuned top layers": "finetuned_test_accuracy",
}
REQUIRED_PARAMETERS = ("profile", "output_dir")
NOTEBOOK_FOLDERS = ("solutions", "lessons")
DEFAULT_CONFIG = Path(__file__).with_name("notebooks.toml")
_PAPERMILL_CELL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


class NotebookRunError(CourseToolsError, RuntimeError):
    """The run cannot start: no lessons, an unknown lesson, a bad configuration or no kernel."""

    exit_status = USAGE_ERROR


@dataclass(frozen=True)
class LessonPlan:
    """One lesson notebook and the settings it runs with."""

    name: str
    notebook: Path
    timeout: float  # seconds one cell may run
    parameters: dict = field(default_factory=dict)  # papermill parameters besides profile and output_dir
    after: tuple[str, ...] = ()  # lessons that must have finished first, when they run too


@dataclass
class LessonRun:
    """What happened when a lesson ran."""

    lesson: str
    status: str  # "passed", "failed", "timed out" or "not run"
    seconds: float
    metrics: dict = field(default_factory=dict)
    failure: str = ""  # which cell failed and why

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def discover_lessons(folder: Path) -> dict[str, Path]:
    """Every ``folder/<lesson>/<lesson>.ipynb``, by lesson name, sorted."""
    if not folder.is_dir():
        raise NotebookRunError(
            f"No lesson folder {folder}. Run from the repository root or pass --root; "
            "lessons live in solutions/<lesson>/<lesson>.ipynb."
        )
    lessons = {}
    for lesson_folder in sorted(path for path in folder.iterdir() if path.is_dir()):
        if lesson_folder.name.startswith((".", "_")):
            continue
        notebook = lesson_folder / f"{lesson_folder.name}.ipynb"
        if not notebook.is_file():
            raise NotebookRunError(
                f"{lesson_folder} has no {notebook.name}: each lesson folder holds a notebook named "
                "after it (<lesson>/<lesson>.ipynb). Rename the notebook or move the folder out."
            )
        lessons[lesson_folder.name] = notebook
    if not lessons:
        raise NotebookRunError(f"No lessons in {folder}: expected {folder}/<lesson>/<lesson>.ipynb.")
    return lessons


def load_config(path: Path) -> dict:
    """The runner settings in ``path`` (see ``course/notebooks.toml``)."""
    config = read_settings(path, NotebookRunError)
    unknown = sorted(set(config) - {"timeout", "lessons", "after"})
    if unknown:
        raise NotebookRunError(
            f"{path}: unknown table(s) {unknown}; expected [timeout], [after] and [lessons.<lesson>]."
        )
    return config


def plan_lessons(
    available: dict[str, Path], names: list[str], config: dict, profile: str, timeout: float | None
) -> list[LessonPlan]:
    """The lessons ``names`` (all when empty) with their timeouts and parameters for ``profile``."""
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise NotebookRunError(f"Unknown lesson(s) {unknown}. Lessons: {', '.join(available)}.")
    configured = config.get("lessons", {})
    stray = sorted(set(configured) - set(available))
    if stray:
        raise NotebookRunError(
            f"The runner settings configure lesson(s) {stray}, which do not exist. Lessons: {', '.join(available)}."
        )
    lessons = []
    for name in names or list(available):
        settings = configured.get(name, {})
        unknown_settings = sorted(set(settings) - {"timeout", "parameters"})
        if unknown_settings:
            raise NotebookRunError(
                f"Lesson {name!r}: unknown setting(s) {unknown_settings}; a lesson may set timeout and parameters."
            )
        after = config.get("after", {}).get(name, [])
        if not (isinstance(after, list) and all(isinstance(other, str) and other != name for other in after)):
            raise NotebookRunError(
                f'[after] {name} must list other lessons, e.g. {name} = ["lesson4_frozen"]; got {after!r}.'
            )
        parameters = settings.get("parameters", {})
        reserved = sorted(set(parameters) & set(REQUIRED_PARAMETERS))
        if reserved:
            raise NotebookRunError(
                f"Lesson {name!r}: the runner sets {reserved} itself; remove them from its parameters."
            )
        lesson_timeouts = settings.get("timeout", {})
        if not isinstance(lesson_timeouts, dict):
            raise NotebookRunError(
                f"Lesson {name!r}: timeout must be a table by profile, e.g. timeout = {{ full = 43200 }}."
            )
        lesson_timeout = timeout or lesson_timeouts.get(profile) or config.get("timeout", {}).get(profile)
        if not lesson_timeout:
            raise NotebookRunError(
                f"No cell timeout for profile {profile!r}: add `{profile} = <seconds>` to [timeout] "
                "in the runner settings or pass --timeout."
            )
        lessons.append(LessonPlan(name, available[name], float(lesson_timeout), dict(parameters), tuple(after)))
    return lessons


def missing_parameters(lesson: LessonPlan) -> list[str]:
    """Parameters the runner passes that the lesson's ``parameters`` cell does not declare."""
    import papermill

    declared = papermill.inspect_notebook(str(lesson.notebook))
    return [name for name in (*REQUIRED_PARAMETERS, *lesson.parameters) if name not in declared]


def failing_cell(executed: Path) -> str:
    """Where an executed notebook stopped: the last cell papermill started, counted as in the lesson."""
    import nbformat

    if not executed.is_file():
        return "before the first cell ran"
    notebook = nbformat.read(str(executed), as_version=4)
    lesson_cells = [cell for cell in notebook.cells if not _PAPERMILL_CELL_TAGS & set(cell.metadata.get("tags", []))]
    started = [
        (number, cell)
        for number, cell in enumerate(lesson_cells, start=1)
        if cell.metadata.get("papermill", {}).get("start_time")
    ]
    if not started:
        return "before the first cell ran"
    number, cell = started[-1]
    first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"cell {number} of {len(lesson_cells)} (`{first_line.strip()}`)"


def run_lesson(lesson: LessonPlan, profile: str, out: Path, kernel: str = KERNEL, log_output: bool = True) -> LessonRun:
    """Execute ``lesson`` on the Jupyter kernel ``kernel`` into ``out/<lesson>.ipynb``, with its figures
    in ``out/<lesson>/``; ``log_output`` logs each cell and its outputs as it runs."""
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    missing = missing_parameters(lesson)
    if missing:
        return LessonRun(
            lesson.name,
            "not run",
            0.0,
            failure=f"its cell tagged 'parameters' does not define {', '.join(missing)}; give each a default "
            'there (for example `profile = None`, `output_dir = "figures"`)',
        )
    executed = out / f"{lesson.name}.ipynb"
    figures = out / lesson.name
    kernel_log = out / f"{lesson.name}.kernel.log"
    executed.unlink(missing_ok=True)
    kernel_log.unlink(missing_ok=True)
    shutil.rmtree(figures, ignore_errors=True)
    figures.mkdir(parents=True)
    parameters = {"profile": profile, "output_dir": str(figures.resolve()), **lesson.parameters}

    started = time.perf_counter()
    status, failure = "passed", ""
    try:
        papermill.execute_notebook(
            str(lesson.notebook),
            str(executed),
            parameters=parameters,
            kernel_name=kernel,
            kernel_manager_class=kernel_logging_to(kernel_log),
            execution_timeout=lesson.timeout,
            log_output=log_output,
            progress_bar=False,
            cwd=str(lesson.notebook.parent),
        )
    except papermill.PapermillExecutionError as error:
        status, failure = "failed", f"{failing_cell(executed)} raised {error.ename}: {error.evalue}"
    except CellTimeoutError:
        status = "timed out"
        failure = (
            f"{failing_cell(executed)} ran longer than {lesson.timeout:g} s, the per-cell limit for profile "
            f"{profile!r}; raise it in course/notebooks.toml or with --timeout"
        )
    except DeadKernelError:
        status, failure = "failed", f"the kernel died in {failing_cell(executed)} (out of memory?)"
    except NoSuchKernel:
        raise NotebookRunError(
            f"No Jupyter kernel named {kernel!r}. Install one into this environment: python -m pip install ipykernel"
        ) from None
    seconds = time.perf_counter() - started
    if status != "passed":
        failure += kernel_log_tail(kernel_log)
    metrics = read_metrics(executed) if executed.is_file() else {}
    return LessonRun(lesson.name, status, seconds, metrics, failure)


def kernel_logging_to(log: Path) -> type:
    """A kernel manager whose kernel writes its own output to ``log`` rather than to this terminal: what
    TensorFlow's C++ side and ipykernel print there (start-up notices, a shutdown's "KeyboardInterrupt caught
    in kernel"). What the cells print still goes to the executed notebook."""
    from jupyter_client import AsyncKernelManager

    class KernelLoggingToFile(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            with log.open("ab") as stream:  # the kernel process keeps its own copy of the descriptor
                await super()._async_launch_kernel(kernel_cmd, stdout=stream, stderr=stream, **kw)

    return KernelLoggingToFile


def kernel_log_tail(log: Path, lines: int = 5) -> str:
    """The last ``lines`` of a failed lesson's kernel log, with its path, to follow its failure."""
    if not log.is_file():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n  the kernel's own output is in {log}; it ends:\n" + "\n".join(f"    {line}" for line in tail)


def run_lessons(
    lessons: list[LessonPlan],
    profile: str,
    out: Path,
    kernel: str = KERNEL,
    jobs: int = 1,
    announce: Callable[[str], None] = print,
) -> list[LessonRun]:
    """Run ``lessons``, up to ``jobs`` at once: the lessons others wait for (``after``) first, then the others
    in their order, or from the last to the first when several run at once; a lesson starts once the lessons it
    runs after have finished (passed or not).
    Returns the runs in the order of ``lessons``. One at a time, each cell is logged as it runs; several at
    once, each runs in a process of its own (papermill changes the working folder while it executes)."""
    if jobs < 1:
        raise NotebookRunError(f"--jobs must be at least 1; got {jobs}.")
    out = out.resolve()
    names = {lesson.name for lesson in lessons}
    waited_for = {name for lesson in lessons for name in lesson.after}
    in_turn = lessons if jobs == 1 else lessons[::-1]  # later lessons train longer: started first, the run ends sooner
    waiting = sorted(in_turn, key=lambda lesson: lesson.name not in waited_for)
    finished: dict[str, LessonRun] = {}
    pool_kind = ThreadPoolExecutor if jobs == 1 else partial(ProcessPoolExecutor, mp_context=get_context("spawn"))
    with pool_kind(max_workers=jobs) as pool:
        running = {}
        while waiting or running:
            ready = [lesson for lesson in waiting if all(name in finished for name in set(lesson.after) & names)]
            for lesson in ready[: jobs - len(running)]:
                waiting.remove(lesson)
                announce(f"== {lesson.name} (profile {profile}, up to {lesson.timeout:g} s per cell)")
                running[pool.submit(run_lesson, lesson, profile, out, kernel, jobs == 1)] = lesson
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                run = future.result()
                finished[running.pop(future).name] = run
                if jobs > 1:
                    announce(f"== {run.lesson} {run.status} in {run.seconds:.0f} s")
    return [finished[lesson.name] for lesson in lessons]


def format_runs(runs: list[LessonRun]) -> str:
    """One line per lesson: name, status, seconds and the metrics it recorded."""
    rows = [("lesson", "status", "seconds", "metrics")]
    for run in runs:
        metrics = ", ".join(
            f"{name}={value:.4f}" if isinstance(value, float) else f"{name}={value}"
            for name, value in run.metrics.items()
        )
        rows.append((run.lesson, run.status, f"{run.seconds:.1f}", metrics or "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3]]) for row in rows
    )


def approach_accuracies(runs: list[LessonRun]) -> dict[str, float]:
    """The test accuracy of each approach (:data:`APPROACHES`) whose lesson recorded one."""
    recorded = {name: value for run in runs for name, value in run.metrics.items()}
    return {approach: recorded[metric] for approach, metric in APPROACHES.items() if metric in recorded}


def format_approaches(accuracies: dict[str, float], profile: str) -> str:
    """The approaches side by side, each transfer approach with its margin over the one before."""
    scratch, frozen, _ = (accuracies.get(approach) for approach in APPROACHES)
    lines = [f"three approaches, test accuracy (profile {profile}, this run):"]
    for approach, accuracy in accuracies.items():
        if approach == "frozen backbone, new head" and scratch is not None:
            times = f"{accuracy / scratch:.1f}x" if scratch > 0 else "infinitely many times"
            comparison = f"{times} from scratch, {100 * (accuracy - scratch):+.1f} points"
        elif approach == "fine-tuned top layers" and frozen is not None:
            comparison = f"{100 * (accuracy - frozen):+.1f} points on the frozen backbone"
        else:
            comparison = ""
        lines.append(f"  {approach:<26} {accuracy:.4f}  {comparison}".rstrip())
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_tools.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", metavar="LESSON", help="lessons to run (default: every lesson)")
    parser.add_argument("--profile", required=True, choices=list(PROFILES), help="run profile passed to every lesson")
    parser.add_argument("--out", type=Path, required=True, help="folder for executed notebooks and figures")
    parser.add_argument("--timeout", type=float, help="seconds any one cell may run (overrides the runner settings)")
    parser.add_argument(
        "--source", choices=NOTEBOOK_FOLDERS, default="solutions", help="instructor or student notebooks"
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: this folder)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="runner settings (TOML)")
    parser.add_argument("--kernel", default=KERNEL, help=f"Jupyter kernel to run the lessons on (default: {KERNEL})")
    parser.add_argument("--jobs", type=int, default=1, help="lessons run at once, each on its own kernel (default: 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    try:
        available = discover_lessons(args.root / args.source)
        lessons = plan_lessons(available, args.lessons, load_config(args.config), args.profile, args.timeout)
        args.out.mkdir(parents=True, exist_ok=True)
        runs = run_lessons(
            lessons, args.profile, args.out, args.kernel, args.jobs, announce=lambda line: print(line, flush=True)
        )
    except NotebookRunError as error:
        return report_error(error)
    print(format_runs(runs))
    accuracies = approach_accuracies(runs)
    if accuracies:
        from course.plots import plot_accuracies, save

        print(format_approaches(accuracies, args.profile))
        title = f"three approaches, profile {args.profile}"
        print(f"figure: {save(plot_accuracies(accuracies, title), args.out / 'approaches.png')}")
    failed = [run for run in runs if not run.passed]
    for run in failed:
        print(f"FAILED {run.lesson} ({args.source}/{run.lesson}/{run.lesson}.ipynb): {run.failure}", file=sys.stderr)
    print(f"{len(runs) - len(failed)} of {len(runs)} lesson(s) passed; executed notebooks in {args.out}/")
    wall = time.perf_counter() - started
    lesson_seconds = sum(run.seconds for run in runs)
    print(
        f"wall time {wall:.0f} s ({wall / 60:.1f} min) for {lesson_seconds:.0f} s of lessons, up to {args.jobs} at "
        "once, on this machine"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
