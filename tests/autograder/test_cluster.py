"""Grading with time limits measured from the solutions, and on a Dask cluster of worker processes
on this machine: the same gradebook as ``--jobs 1``, with a worker killed midway, and a scheduler
that goes away midway (a clear error, nothing merged lost, the rerun grades only the rest)."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import nbformat  # noqa: E402

from autograder.bench import classes as class_bench  # noqa: E402
from autograder.courseroot import Course  # noqa: E402
from autograder.grading.cluster import forget_course, grade_on_worker, lesson_bundle, submission_files, worker_grader  # noqa: E402
from autograder.grading.gradebook import make_lesson_template  # noqa: E402
from autograder.grading.submission import find_submissions  # noqa: E402
from tests import graded_course  # noqa: E402
from tests.autograder_fixtures import students  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CASES = {
    "correct": students.answered(),
    "metadata-and-ids-stripped": students.full_score_cases()["metadata-and-ids-stripped"],
    "not-json": students.zero_score_cases()["not-json"],
}
HANGS = "hangs-in-every-cell"  # graded with --jobs 1 only
# A notebook that hangs in every cell stops after 10 s (the fixture solutions take milliseconds).
QUICK_NOTEBOOKS = "\nc.TimeLimits.cell_floor_seconds = 4\nc.TimeLimits.notebook_floor_seconds = 10\n"
DASK = Path(sys.executable).with_name("dask")


def serial_rows(serial):
    """The --jobs 1 gradebook of the submissions graded on the cluster too."""
    return [row for row in graded_course.gradebook_rows(serial) if row[1] != HANGS]


def serial_flags(serial):
    return {student: value for student, value in flags_and_failures(serial).items() if student != HANGS}


def records(folder):
    return {
        path.parent.parent.name: json.loads(path.read_text())
        for path in sorted(folder.glob("autograded/*/basics/autograder.json"))
    }


def flags_and_failures(folder):
    return {
        student: (record["failure"], sorted(flag["code"] for flag in record["flags"]))
        for student, record in records(folder).items()
    }


def start_grading(folder, address):
    """``python -m autograder grade --cluster ADDRESS`` in a child process."""
    command = [sys.executable, "-m", "autograder", "--course-dir", str(folder), "grade", "--cluster", address]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_first_record(folder, grading):
    deadline = time.monotonic() + 240
    while not records(folder) and grading.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert records(folder), "no submission was merged"


def busy_worker(client, grading):
    """The address of a worker that has been grading one submission for 2 seconds."""
    deadline = time.monotonic() + 240
    while grading.poll() is None and time.monotonic() < deadline:
        busy = {address: set(keys) for address, keys in client.processing().items() if keys}
        time.sleep(2)
        still = {address: set(keys) for address, keys in client.processing().items() if keys}
        for address, keys in busy.items():
            if keys & still.get(address, set()):
                return address
    raise AssertionError("no worker was seen grading")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A released course with the CASES filed, not graded yet (copy it before grading)."""
    return graded_course.make_course(
        tmp_path_factory.mktemp("released") / "course", CASES, release_options=["basics"], extra_config=QUICK_NOTEBOOKS
    )


@pytest.fixture(scope="module")
def serial(released, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serial") / "course"
    shutil.copytree(released, folder)
    students.write_submission(folder, HANGS, "basics", graded_course.hangs_in_every_cell())
    code, text = graded_course.run_cli("--course-dir", folder, "grade", "--jobs", "1")
    assert code == 0, text
    return folder


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two single-threaded worker processes on 127.0.0.1, and a client."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def test_release_times_the_solutions_and_grading_stops_a_kernel_that_hangs_in_every_cell(serial):
    measured = json.loads((serial / "nbgrader_time_limits.json").read_text())
    assert set(measured) == {"basics"}
    basics = measured["basics"]
    assert {"add-answer", "add-tests", "normalise-tests"} <= set(basics["measured"]["basics.ipynb"])
    assert (basics["cell_limit"], basics["notebook_limit"]) == (4, 10), "the floors of TEST_LIMITS"
    record = records(serial)[HANGS]
    timeouts = [flag for flag in record["flags"] if flag["code"] in ("timeout", "time-limit")]
    assert timeouts and all(flag["serious"] for flag in timeouts), record
    assert timeouts[0]["code"] == "timeout" and timeouts[0]["message"].startswith("add-tests:"), timeouts
    assert any("time limit (10 s)" in flag["message"] for flag in timeouts), timeouts
    scores = {row[3]: row[4] for row in graded_course.gradebook_rows(serial) if row[1] == HANGS}
    assert scores["add-tests"] == 0 and scores["normalise-tests"] == 0


def test_breakdown_splits_a_graded_notebook_into_its_cells_and_the_rest(serial):
    course = Course.load(serial)
    kinds = {("correct", "basics"): "correct", ("metadata-and-ids-stripped", "basics"): "metadata-and-ids-stripped"}
    seconds = class_bench.grading_seconds(course, kinds)
    [row] = class_bench.breakdowns(course, kinds, seconds)
    graded = nbformat.read(serial / "autograded" / "correct" / "basics" / "basics.ipynb", as_version=4)
    labels = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in graded.cells}
    assert (row.lesson, row.graded) == ("basics", seconds["correct", "basics"])  # the correct student's
    assert 0 < row.cells < row.graded and row.outside_cells == row.graded - row.cells
    assert len(row.slowest) == 2 and {name for name, _ in row.slowest} <= labels
    assert row.slowest[1][1] <= row.slowest[0][1] <= row.cells
    table = class_bench.format_breakdowns([row])
    assert re.search(rf"basics\s+{row.graded:.1f}\s+{row.cells:.1f}\s+{row.setup:.1f}\s+{row.outside_cells:.1f}", table)


def test_cluster_grades_like_jobs_1_even_when_a_worker_is_killed_midway(released, serial, cluster, tmp_path):
    local, client = cluster
    folder = tmp_path / "course"
    shutil.copytree(released, folder)
    grading = start_grading(folder, local.scheduler_address)
    victim = busy_worker(client, grading)
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    text, _ = grading.communicate(timeout=400)
    assert grading.returncode == 0, text
    assert text.count(" basics: ") == len(CASES), text
    assert graded_course.gradebook_rows(folder) == serial_rows(serial)
    assert flags_and_failures(folder) == serial_flags(serial)


def test_a_worker_grades_submission_after_submission_with_one_autograde_process(released, serial, tmp_path):
    course = Course.load(released)
    template = make_lesson_template(course.db_url, course.coursedir().course_id, "basics", tmp_path / "template.db")
    bundle = lesson_bundle(course, "basics", template)
    grader = worker_grader(bundle, "basics")
    pids = []
    try:
        for submission in find_submissions(course):
            result = grade_on_worker(bundle, submission.student, "basics", submission_files(submission), "fingerprint")
            flags = sorted(flag["code"] for flag in result["flags"])
            assert (result["failure"], flags) == serial_flags(serial)[submission.student]
            assert worker_grader(bundle, "basics") is grader
            pids.append(grader.job.process.process.pid)
        # A new release of the lesson replaces its files in the worker's course; the Grader stays.
        release = next(name for name in bundle if name.endswith("/basics.ipynb") and name.startswith("lessons/"))
        dropped = next(name for name in bundle if name.startswith("solutions/basics/"))
        released_again = {name: content for name, content in bundle.items() if name != dropped}
        released_again[release] = bundle[release].replace(b'"cells": [', b'"cells": [ ')
        released_again["lessons/basics/data.csv"] = b"x\n1\n"
        assert worker_grader(released_again, "basics") is grader
        assert (grader.course.root / release).read_bytes() == released_again[release]
        kept = {
            path.relative_to(grader.course.root).as_posix() for path in grader.course.root.rglob("*") if path.is_file()
        }
        assert kept == set(released_again) and dropped not in kept
    finally:
        forget_course(grader)
    assert len(pids) == len(CASES) and len(set(pids)) == 1, pids  # one autograde process graded them all
    assert not grader.course.root.exists()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port, process, seconds=300):
    """Wait for a started scheduler to accept connections (a loaded machine takes a while to import Dask)."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"the Dask scheduler on port {port} did not start")


def test_scheduler_gone_midway_is_a_clear_error_and_the_rerun_grades_only_the_rest(released, serial, cluster, tmp_path):
    folder = tmp_path / "course"
    shutil.copytree(released, folder)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [
            DASK,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            ":0",
            "--no-show",
        ],
        **quiet,
    )
    worker = subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)
    try:
        wait_until_listening(port, scheduler)
        grading = start_grading(folder, address)
        wait_for_first_record(folder, grading)
        scheduler.kill()
        text, _ = grading.communicate(timeout=120)
    finally:
        for process in (scheduler, worker):
            process.kill()
            process.wait()
    assert grading.returncode == 2, text
    assert f"lost the Dask scheduler at {address}" in text and "rerun the command to grade the rest" in text, text
    merged = records(folder)
    assert 0 < len(merged) < len(CASES), text
    for student in merged:
        assert flags_and_failures(folder)[student] == flags_and_failures(serial)[student]

    code, text = graded_course.run_cli("--course-dir", folder, "grade", "--cluster", cluster[0].scheduler_address)
    assert code == 0, text
    assert f"{len(merged)} submissions are graded already and unchanged" in text
    assert text.count(" basics: ") == len(CASES) - len(merged), text
    assert graded_course.gradebook_rows(folder) == serial_rows(serial)
