"""``python -m autograder.bench`` on the fixture lessons: its table, and its refusal to time
grading that fails. (The real lessons take minutes: run the benchmark itself for them.)"""

import contextlib
import io
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder import bench
from tests.autograder_fixtures import students

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
        code = bench.main([str(arg) for arg in args])
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


def test_sandbox_cost_compares_grading_with_and_without_the_sandbox(repository):
    code, text = run_bench("--repository", repository, "--students", 1, "--lessons", "basics", "--sandbox-cost")
    assert code == 0, text
    row = re.search(r"^basics\s+(?P<on>[\d.]+)\s+(?P<off>[\d.]+)\s+(?P<cost>[+-][\d.]+)$", text, re.MULTILINE)
    assert row, text
    assert float(row["cost"]) == pytest.approx(float(row["on"]) - float(row["off"]), abs=0.11)
    assert "basics, sandboxed: " in text and "basics, unsandboxed: " in text
    assert re.search(r"sandbox cost: [+-][\d.]+ s per notebook on average \(1 per lesson\)", text)
