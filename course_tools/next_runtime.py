"""The lessons on the next runtime: the newest TensorFlow, Keras, KerasCV and TensorFlow Datasets on PyPI.

    python -m course_tools.next_runtime --venv .venv-next --out outputs/next-runtime [--uv PATH]

Colab moves its TensorFlow and Keras without notice; this finds out first (``make next-runtime``, and weekly
in ``.github/workflows/next-runtime.yml``). The steps, each recorded in ``<out>/report.md``:

1. resolve: the newest version of each of :data:`PACKAGES`, pre-releases included
   (``pip install --dry-run --pre --no-deps --report``);
2. install: a fresh virtualenv with that TensorFlow, Keras and TensorFlow Datasets (what Colab preinstalls),
   then the course with its ``dev`` and ``colab`` extras and the runtime's own versions of :data:`KEPT` as
   constraints, as a lesson's setup cell installs it on Colab (and the newest KerasCV); pip then checks, as
   the setup cell's own command, that the course installs on this runtime;
3. lessons: every lesson's solution in the smoke profile (``course_tools.notebooks``, two at a time);
4. tests: :data:`TESTS` (the lesson tests, whose smoke runs also check that no test cell writes to stderr, which
   would cost students the points, and the KerasCV counterparts).

The report's first line is a title naming what broke; the exit status is 0 when every step passed, 1 when
one failed. Besides the standard library only ``course.environment`` is imported, so any Python 3.11 runs
this; steps 3 and 4 run in the new virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from course.environment import TESTED_RUNTIMES
from course_tools.machine import cpu_model

PACKAGES = ("tensorflow", "keras", "keras-cv", "tensorflow-datasets")
PREINSTALLED = ("tensorflow", "keras", "tensorflow-datasets")  # on Colab before any setup cell runs
KEPT = ("tensorflow", "keras", "numpy", "protobuf")  # the setup cell's constraints (autograder/release/colab.py)
REPORTED = (*PACKAGES, "keras-core", "numpy", "protobuf", "tensorflow-metadata")
TESTS = ("tests/lessons/test_lessons.py", "tests/course/test_keras_counterparts.py")
ROOT = Path(__file__).resolve().parents[1]
TAIL = 3000  # characters of a failed command's output kept in the report


@dataclass
class Step:
    """One step's outcome: passed or not, what it ran, and what to read when it failed."""

    name: str
    passed: bool
    seconds: float
    detail: str = ""


@dataclass
class LessonResult:
    lesson: str
    status: str  # as course_tools.notebooks says: "passed", "failed", "timed out" or "not run"
    seconds: float
    failure: str = ""


@dataclass
class TestResults:
    passed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (test id, first line of its message)
    skipped: int = 0


def normalize(name: str) -> str:
    """A distribution name as PyPI compares them: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def newest_versions(pip_report: dict) -> dict[str, str]:
    """``{package: version}`` from the JSON of ``pip install --dry-run --report``."""
    return {normalize(item["metadata"]["name"]): item["metadata"]["version"] for item in pip_report["install"]}


def pins(versions: dict[str, str], names: tuple[str, ...]) -> list[str]:
    """``name==version`` for each of ``names`` in ``versions``; a missing name is an error."""
    missing = [name for name in names if name not in versions]
    if missing:
        raise KeyError(f"no version for {', '.join(missing)}")
    return [f"{name}=={versions[name]}" for name in names]


def installed_versions(freeze: str) -> dict[str, str]:
    """``{normalized name: version}`` from ``pip freeze`` output (editable and URL lines skipped)."""
    versions = {}
    for line in freeze.splitlines():
        name, separator, version = line.partition("==")
        if separator:
            versions[normalize(name.strip())] = version.strip()
    return versions


def lesson_results(executed: Path, lessons: list[str], runner_stderr: str) -> list[LessonResult]:
    """Each lesson's result from the runner's ``FAILED <lesson> (...): <why>`` lines and the executed
    notebooks' papermill metadata (their durations)."""
    failures = {}
    for line in runner_stderr.splitlines():
        if line.startswith("FAILED "):
            lesson, _, rest = line[len("FAILED ") :].partition(" ")
            failures[lesson] = rest.partition("): ")[2]
    results = []
    for lesson in lessons:
        notebook = executed / f"{lesson}.ipynb"
        metadata = (
            json.loads(notebook.read_text()).get("metadata", {}).get("papermill", {}) if notebook.is_file() else {}
        )
        seconds = float(metadata.get("duration") or 0.0)
        if lesson in failures:
            status = "timed out" if "ran longer than" in failures[lesson] else "failed"
            results.append(LessonResult(lesson, status if notebook.is_file() else "not run", seconds, failures[lesson]))
        elif notebook.is_file() and not metadata.get("exception"):
            results.append(LessonResult(lesson, "passed", seconds))
        else:
            results.append(LessonResult(lesson, "not run", seconds, "the runner stopped before it"))
    return results


def junit_results(path: Path) -> TestResults:
    """Passed, failed (with the first line of each message) and skipped tests of a pytest JUnit XML file."""
    results = TestResults()
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        problem = case.find("failure")
        problem = case.find("error") if problem is None else problem
        if problem is not None:
            message = (problem.get("message") or problem.text or "").strip().splitlines()
            results.failed.append((name, message[0][:300] if message else ""))
        elif case.find("skipped") is not None:
            results.skipped += 1
        else:
            results.passed += 1
    return results


def tested_before(package: str) -> list[str]:
    """The versions of TensorFlow or Keras in ``course.environment.TESTED_RUNTIMES``."""
    return sorted({getattr(runtime, package) for runtime in TESTED_RUNTIMES})


def title(steps: list[Step], lessons: list[LessonResult], tests: TestResults | None, versions: dict) -> str:
    """The report's first line: what broke on which runtime, or that nothing did."""
    runtime = ", ".join(f"{name} {versions[name]}" for name in PACKAGES if name in versions) or "the newest runtime"
    broken = [step.name for step in steps if not step.passed and step.name not in ("lessons", "tests")]
    broken += [f"{run.lesson} {run.status}" for run in lessons if run.status != "passed"]
    if tests is not None and tests.failed:
        broken.append(f"{len(tests.failed)} lesson test(s) failed")
    if any(step.name == "tests" and not step.passed for step in steps) and (tests is None or not tests.failed):
        broken.append("the lesson tests did not run")
    if not broken:
        return f"Next runtime: every lesson and lesson test passed on {runtime}"
    return f"Next runtime broke on {runtime}: {'; '.join(broken)}"


def machine() -> str:
    """Cores, CPU model, GPU or not, and the load, for the measured times to be read against."""
    gpu = "an NVIDIA GPU" if shutil.which("nvidia-smi") else "no GPU"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    python = platform.python_version()
    return f"{os.cpu_count()} cores ({cpu_model()}), {gpu}, load average {load} at the end, Python {python}"


def format_report(
    report_title: str,
    versions: dict[str, str],
    installed: dict[str, str],
    steps: list[Step],
    lessons: list[LessonResult],
    tests: TestResults | None,
    wall: float,
    machine_line: str,
) -> str:
    """The Markdown report: title, versions, each step, the lessons, failing tests, time and machine."""
    lines = [f"# {report_title}", "", f"Written by `make next-runtime` (course_tools.next_runtime) on {_now()}.", ""]
    lines += [
        "| package | newest on PyPI | installed | tested before (course.environment) |",
        "| --- | --- | --- | --- |",
    ]
    for name in REPORTED:
        tested = ", ".join(tested_before(name)) if name in ("tensorflow", "keras") else ""
        lines.append(f"| {name} | {versions.get(name, '')} | {installed.get(name, '-')} | {tested} |")
    lines += ["", "| step | result | seconds |", "| --- | --- | ---: |"]
    lines += [f"| {step.name} | {'passed' if step.passed else 'FAILED'} | {step.seconds:.0f} |" for step in steps]
    if lessons:
        lines += ["", "Lessons (solutions, smoke profile):", "", "| lesson | status | seconds | failure |"]
        lines += ["| --- | --- | ---: | --- |"]
        lines += [f"| {run.lesson} | {run.status} | {run.seconds:.0f} | {run.failure} |" for run in lessons]
    if tests is not None:
        lines += ["", f"Tests ({', '.join(TESTS)}): {tests.passed} passed, "]
        lines[-1] += f"{len(tests.failed)} failed, {tests.skipped} skipped."
        lines += [f"- `{name}`: {message}" for name, message in tests.failed]
    for step in steps:
        if not step.passed and step.detail:
            lines += ["", f"{step.name} output (end):", "", "```", step.detail[-TAIL:].strip(), "```"]
    runtime = (installed.get("tensorflow"), installed.get("keras"))
    if all(step.passed for step in steps) and runtime not in {(run.tensorflow, run.keras) for run in TESTED_RUNTIMES}:
        lines += [
            "",
            "Everything passed on a TensorFlow and Keras pair not yet listed: add "
            f'`KnownRuntime("{runtime[0]}", "{runtime[1]}", ...)` to `course.environment.TESTED_RUNTIMES`.',
        ]
    lines += ["", "Beside this report: install.log, lessons.log, tests.log and the executed lessons (executed/)."]
    lines += ["", f"Wall time {wall:.0f} s ({wall / 60:.1f} min) on {machine_line}.", ""]
    return "\n".join(lines)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _environment() -> dict[str, str]:
    """This environment without what would make the new virtualenv import another one or pick a profile."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "VIRTUAL_ENV", "COURSE_PROFILE", "NBGRADER_EXECUTION"}
    }
    return {**environment, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}


def _run(command: list[str], log: Path, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` from the repository root, its output appended to ``log`` and returned."""
    with log.open("a") as stream:
        stream.write(f"$ {' '.join(command)}\n")
    try:
        result = subprocess.run(
            command, cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        result = subprocess.CompletedProcess(command, 124, str(error.stdout or ""), f"timed out after {timeout} s")
    with log.open("a") as stream:
        stream.write(result.stdout + result.stderr + "\n")
    return result


def _step(name: str, started: float, result: subprocess.CompletedProcess) -> Step:
    return Step(name, result.returncode == 0, time.perf_counter() - started, result.stdout + result.stderr)


def resolve(python: Path, out: Path) -> tuple[Step, dict[str, str]]:
    """Step 1: the newest version of each of PACKAGES that installs on ``python``."""
    started, report = time.perf_counter(), out / "newest.json"
    command = [str(python), "-m", "pip", "install", "--quiet", "--dry-run", "--pre", "--no-deps", "--ignore-installed"]
    result = _run([*command, "--report", str(report), *PACKAGES], out / "install.log", timeout=600)
    versions = newest_versions(json.loads(report.read_text())) if result.returncode == 0 else {}
    return _step("resolve", started, result), versions


def install(venv: Path, uv: str, versions: dict[str, str], out: Path) -> Step:
    """Step 2: the runtime as Colab preinstalls it, then the course as a setup cell installs it."""
    started, log, python = time.perf_counter(), out / "install.log", venv / "bin" / "python"
    install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
    result = _run([*install, *pins(versions, PREINSTALLED)], log, timeout=1800)
    if result.returncode == 0:
        kept = pins(installed_versions(_run([str(python), "-m", "pip", "freeze"], log).stdout), KEPT)
        constraints = out / "constraints.txt"
        constraints.write_text("\n".join([*kept, *pins(versions, ("keras-cv",))]) + "\n")
        result = _run([*install, "-e", ".[dev,colab]", "-c", str(constraints)], log, timeout=1800)
        if result.returncode == 0:  # the setup cell's own pip command, resolved against this runtime
            setup_cell = ["-m", "pip", "install", "--quiet", "--dry-run", ".[colab]", "-c", str(constraints)]
            result = _run([str(python), *setup_cell], log, timeout=600)
    return _step("install", started, result)


def run_lessons(python: Path, out: Path) -> tuple[Step, list[LessonResult]]:
    """Step 3: every lesson's solution in the smoke profile, two at a time."""
    started, executed = time.perf_counter(), out / "executed"
    lessons = sorted(path.name for path in (ROOT / "solutions").iterdir() if (path / f"{path.name}.ipynb").is_file())
    command = [str(python), "-m", "course_tools.notebooks", "--profile", "smoke", "--out", str(executed), "--jobs", "2"]
    result = _run(command, out / "lessons.log")
    results = lesson_results(executed, lessons, result.stderr)
    step = _step("lessons", started, result)
    if any(run.failure for run in results):
        step.detail = ""  # the lesson table says what failed; lessons.log keeps TensorFlow's own output
    return step, results


def run_tests(python: Path, out: Path) -> tuple[Step, TestResults | None]:
    """Step 4: the lesson tests and the KerasCV counterparts."""
    started, junit = time.perf_counter(), out / "tests.xml"
    junit.unlink(missing_ok=True)
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]
    result = _run([*command, f"--junitxml={junit}"], out / "tests.log")
    step, results = _step("tests", started, result), junit_results(junit) if junit.is_file() else None
    if results is not None and results.failed:
        step.detail = ""  # the failing tests are listed; tests.log keeps their tracebacks
    return step, results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_tools.next_runtime", description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, required=True, help="virtualenv to build (removed first)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the report, logs and executed lessons")
    parser.add_argument("--uv", default="uv", help="the uv executable that installs the packages (default: uv)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    out, venv = args.out.resolve(), args.venv.resolve()
    uv = str(Path(args.uv).resolve()) if os.sep in args.uv else args.uv
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(venv, ignore_errors=True)
    out.mkdir(parents=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    step, versions = resolve(python, out)
    steps, lessons, tests = [step], [], None
    print(f"newest: {versions or 'not resolved'}", flush=True)
    if step.passed:
        steps.append(install(venv, uv, versions, out))
    if steps[-1].passed:
        print("installed; running every lesson in the smoke profile", flush=True)
        step, lessons = run_lessons(python, out)
        steps.append(step)
        print("running the lesson tests", flush=True)
        step, tests = run_tests(python, out)
        steps.append(step)
    freeze = _run([str(python), "-m", "pip", "freeze"], out / "install.log").stdout if python.is_file() else ""
    installed = installed_versions(freeze)
    report_title = title(steps, lessons, tests, versions)
    wall = time.perf_counter() - started
    report = format_report(report_title, versions, installed, steps, lessons, tests, wall, machine())
    (out / "report.md").write_text(report)
    print(report)
    return 0 if all(step.passed for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
