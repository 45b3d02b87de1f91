"""``python -m autograder.bench`` on the fixture lessons: its table, and its refusal to time
grading that fails. (The real lessons take minutes: run the benchmark itself for them.)"""

import contextlib
import io
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder.bench import classes as class_bench
from autograder.bench.__main__ import main as bench_main
from autograder.samples.kinds import KINDS
from tests.autograder_fixtures import students

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"(?P<lesson>\S.*?)\s+(?P<notebooks>\d+)\s+(?P<one>[\d.]+)\s+(?P<two>[\d.]+)\s+(?P<ratio>[\d.]+)x")


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A course root holding the fixture lessons; temporary courses go under tmp_path."""
    folder = tmp_path / "repository"
    folder.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(students.SOURCE, folder / "solutions")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return folder


def run_bench(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = bench_main([str(arg) for arg in args])
    return code, out.getvalue()


def consistent_with_rounding(ratio, one, two):
    """Whether ``ratio`` (printed to 0.01) can be one / two for the values printed to 0.1."""
    return (one - 0.05) / (two + 0.05) - 0.005 <= ratio <= (one + 0.05) / (two - 0.05) + 0.005


def test_table_has_a_row_per_lesson_and_consistent_ratios(repository, tmp_path):
    code, text = run_bench("--repository", repository, "--students", 2)
    assert code == 0, text
    rows = {match["lesson"]: match for match in map(ROW.fullmatch, text.splitlines()) if match}
    assert set(rows) == {"basics", "vectors", "one student, 2 lessons"}, text
    for lesson in ("basics", "vectors"):
        row = rows[lesson]
        assert row["notebooks"] == "2"
        one, two = float(row["one"]), float(row["two"])
        assert one > 0 and two > 0
        assert consistent_with_rounding(float(row["ratio"]), one, two), row.group(0)
        assert f"{lesson}, --jobs 1: " in text and f"{lesson}, --jobs 2: " in text
    total = rows["one student, 2 lessons"]
    assert float(total["one"]) == pytest.approx(
        float(rows["basics"]["one"]) + float(rows["vectors"]["one"]), abs=0.16
    )  # three values, each rounded to 0.1
    assert "target: one student's lessons graded in under 300 s on 2 cores: met" in text
    assert re.search(r"load average \(1, 5, 15 min\) before: [\d.]+ [\d.]+ [\d.]+", text)
    assert re.search(r"load average \(1, 5, 15 min\) after: [\d.]+ [\d.]+ [\d.]+", text)
    assert not list(tmp_path.glob("autograder-bench-*")), "the temporary course is removed"


def test_grading_that_loses_points_stops_the_benchmark(repository, tmp_path):
    solution = repository / "solutions" / "basics" / "basics.ipynb"
    solution.write_text(solution.read_text().replace("return a + b  #", "return a - b  #"))
    (repository / "nbgrader_time_limits.json").write_text("{}")  # no limits measured: release runs no solution
    code, text = run_bench("--repository", repository, "--students", 1, "--lessons", "basics", "--jobs", 1)
    assert code == 1
    assert "BENCHMARK INVALID" in text and "basics bench01: lost points on add-tests 0/2" in text
    assert "s/nb" not in text, "no table of failing grading"
    kept = re.search(r"--course-dir (\S+) report", text)
    assert kept and (Path(kept[1]) / "autograded" / "bench01" / "basics").is_dir()


def test_a_folder_that_is_not_a_course_is_refused(repository, tmp_path):
    (repository / "nbgrader_config.py").unlink()
    code, text = run_bench("--repository", repository)
    assert code == 2 and "must be a course root holding nbgrader_config.py and solutions/" in text
    assert not list(tmp_path.glob("autograder-bench-*")), "the temporary course is removed"


def test_class_report_projects_from_the_two_job_run_and_judges_the_targets():
    runs = [
        class_bench.ClassRun("--jobs 1", 200.0, 20, 1, [0.05, 0.07]),
        class_bench.ClassRun("--jobs 2", 120.0, 20, 2, [0.06]),
        class_bench.ClassRun("Dask, 2 workers (+9 s start)", 126.0, 20, 2, [0.3, 0.1]),
    ]
    hostile = [("lesson1_data", "keep-alive-loop", 33.0, 12.0, 4.0), ("lesson2", "infinite-loop", 40.0, 10.0, 5.0)]
    text = class_bench.format_class_report(runs, hostile, students=4, lessons=5)
    assert re.search(r"--jobs 2\s+20\s+120\.0\s+10\.0\s+0\.060", text), text
    assert "projections from --jobs 2 (12.0 worker-seconds per notebook" in text
    assert re.search(r"1,000 notebooks on\s+16 workers:\s+12\.5 min", text), "1000 x 12 s / 16 workers"
    assert re.search(r"25,000 notebooks on\s+128 workers:\s+83\.3 min", text), "merging (0.2 s) bounds it"
    assert "lesson1_data           keep-alive-loop      33.0      12.0  2.75x" in text
    assert "200 students x 5 lessons on 2 cores: 100.0 min: NOT met (target < 45 min)" in text
    assert "slowest hostile notebook 4.00x the correct one: NOT met (target <= 3x)" in text
    assert "Dask cluster vs --jobs 2: +5%: met (target within 10%)" in text
    assert "merge 0.200 s per submission (mean, worst run): NOT met (target < 0.2 s)" in text


def test_class_mix_draws_from_the_catalogue_with_hostile_work_in_it():
    assert set(class_bench.CLASS_MIX) <= set(KINDS)
    hostile = [kind for kind in class_bench.CLASS_MIX if class_bench.is_hostile(kind)]
    assert hostile and len(hostile) < len(class_bench.CLASS_MIX) / 2
    assert not class_bench.is_hostile("correct") and not class_bench.is_hostile("not-json")


def test_sandbox_cost_compares_grading_with_and_without_the_sandbox(repository):
    code, text = run_bench("--repository", repository, "--students", 1, "--lessons", "basics", "--sandbox-cost")
    assert code == 0, text
    row = re.search(r"^basics\s+(?P<on>[\d.]+)\s+(?P<off>[\d.]+)\s+(?P<cost>[+-][\d.]+)$", text, re.MULTILINE)
    assert row, text
    assert float(row["cost"]) == pytest.approx(float(row["on"]) - float(row["off"]), abs=0.11)
    assert "basics, sandboxed: " in text and "basics, unsandboxed: " in text
    assert re.search(r"sandbox cost: [+-][\d.]+ s per notebook on average \(1 per lesson\)", text)
