"""course_tools.next_runtime, the parts that run offline: versions, lesson and test results, the report."""

import json
import re

import nbformat
import pytest

from autograder.release.colab import SETUP_TEMPLATE
from course.environment import TESTED_RUNTIMES
from course_tools import next_runtime as nr

PIP_REPORT = {
    "version": "1",
    "install": [
        {"metadata": {"name": "tensorflow", "version": "2.23.0rc1"}},
        {"metadata": {"name": "keras", "version": "3.16.0"}},
        {"metadata": {"name": "keras_cv", "version": "0.9.0"}},
        {"metadata": {"name": "tensorflow-datasets", "version": "4.9.11"}},
    ],
}
VERSIONS = {"tensorflow": "2.23.0rc1", "keras": "3.16.0", "keras-cv": "0.9.0", "tensorflow-datasets": "4.9.11"}


def test_the_newest_versions_are_read_from_pips_report_by_normalized_name():
    assert nr.newest_versions(PIP_REPORT) == VERSIONS
    assert nr.pins(VERSIONS, nr.PREINSTALLED) == [
        "tensorflow==2.23.0rc1",
        "keras==3.16.0",
        "tensorflow-datasets==4.9.11",
    ]
    with pytest.raises(KeyError, match="no version for numpy"):
        nr.pins(VERSIONS, ("numpy",))


def test_the_constraints_are_the_setup_cells():
    """The runtime's own versions of what a lesson's setup cell keeps on Colab."""
    kept = re.search(r"kept = \(([^)]*)\)", SETUP_TEMPLATE).group(1)
    assert tuple(name.strip().strip('"') for name in kept.split(",")) == nr.KEPT


def test_installed_versions_skip_editable_and_url_lines():
    freeze = "Keras==3.16.0\n-e git+https://example.org/course@abc#egg=course\nml_dtypes==0.5.4\ncourse @ file:///x\n"
    assert nr.installed_versions(freeze) == {"keras": "3.16.0", "ml-dtypes": "0.5.4"}


def _executed(folder, lesson, duration, exception=False):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {"duration": duration, "exception": exception}
    nbformat.write(notebook, folder / f"{lesson}.ipynb")


def test_each_lessons_result_comes_from_the_runners_failures_and_the_executed_notebooks(tmp_path):
    _executed(tmp_path, "lesson1_data", 19.4)
    _executed(tmp_path, "lesson2_augmentation", 63.0, exception=True)
    _executed(tmp_path, "lesson3_scratch", 900.0, exception=True)
    stderr = (
        "some log line\n"
        "FAILED lesson2_augmentation (solutions/lesson2_augmentation/lesson2_augmentation.ipynb): cell 7 of 40 "
        "(`x = 1`) raised ValueError: shapes do not match\n"
        "FAILED lesson3_scratch (solutions/lesson3_scratch/lesson3_scratch.ipynb): cell 9 of 30 (`fit(...)`) ran "
        "longer than 900 s, the per-cell limit for profile 'smoke'; raise it\n"
        "FAILED lesson5_finetune (solutions/lesson5_finetune/lesson5_finetune.ipynb): its cell tagged 'parameters' "
        "does not define profile\n"
    )
    lessons = ["lesson1_data", "lesson2_augmentation", "lesson3_scratch", "lesson4_frozen", "lesson5_finetune"]
    results = nr.lesson_results(tmp_path, lessons, stderr)
    assert [(run.lesson, run.status, run.seconds) for run in results] == [
        ("lesson1_data", "passed", 19.4),
        ("lesson2_augmentation", "failed", 63.0),
        ("lesson3_scratch", "timed out", 900.0),
        ("lesson4_frozen", "not run", 0.0),
        ("lesson5_finetune", "not run", 0.0),
    ]
    assert results[1].failure == "cell 7 of 40 (`x = 1`) raised ValueError: shapes do not match"
    assert results[3].failure == "the runner stopped before it"
    assert results[4].failure.startswith("its cell tagged 'parameters'")


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.lessons.test_lessons" name="test_a[lesson1_data]" time="1.0"/>
<testcase classname="tests.lessons.test_lessons" name="test_b[lesson2_augmentation]" time="2.0">
<failure message="AssertionError: scores differ&#10;second line">traceback</failure></testcase>
<testcase classname="tests.course.test_keras_counterparts" name="test_c" time="0.1">
<error message="fixture failed">traceback</error></testcase>
<testcase classname="tests.lessons.test_lessons" name="test_d" time="0.0"><skipped message="no lessons"/></testcase>
</testsuite></testsuites>
"""


def test_test_results_come_from_pytests_junit_file(tmp_path):
    (tmp_path / "tests.xml").write_text(JUNIT)
    results = nr.junit_results(tmp_path / "tests.xml")
    assert (results.passed, results.skipped) == (1, 1)
    assert results.failed == [
        ("tests.lessons.test_lessons::test_b[lesson2_augmentation]", "AssertionError: scores differ"),
        ("tests.course.test_keras_counterparts::test_c", "fixture failed"),
    ]


def _steps(failed=()):
    return [nr.Step(name, name not in failed, 10.0, "log of " + name) for name in ("resolve", "install", "lessons")]


def test_the_title_names_the_runtime_and_what_broke():
    passed = [nr.LessonResult("lesson1_data", "passed", 19.0)]
    broken = [*passed, nr.LessonResult("lesson3_scratch", "timed out", 900.0, "cell 9")]
    tests = nr.TestResults(passed=3, failed=[("tests.lessons.test_lessons::test_b", "AssertionError")])
    runtime = "tensorflow 2.23.0rc1, keras 3.16.0, keras-cv 0.9.0, tensorflow-datasets 4.9.11"
    assert nr.title(_steps(), passed, nr.TestResults(passed=3), VERSIONS) == (
        f"Next runtime: every lesson and lesson test passed on {runtime}"
    )
    assert nr.title(_steps(["lessons"]), broken, tests, VERSIONS) == (
        f"Next runtime broke on {runtime}: lesson3_scratch timed out; 1 lesson test(s) failed"
    )
    assert nr.title(_steps(["install"]), [], None, VERSIONS) == f"Next runtime broke on {runtime}: install"


def test_the_report_gives_versions_steps_lessons_failing_tests_the_install_log_and_the_machine():
    installed = {**VERSIONS, "numpy": "2.4.6", "protobuf": "7.36.2"}
    lessons = [nr.LessonResult("lesson1_data", "failed", 19.0, "cell 3 raised ImportError: keras_cv")]
    tests = nr.TestResults(passed=40, failed=[("tests.lessons.test_lessons::test_b", "AssertionError")], skipped=1)
    steps = [*_steps(["lessons"]), nr.Step("tests", False, 600.0, "")]
    report = nr.format_report("Next runtime broke", VERSIONS, installed, steps, lessons, tests, 1500.0, "2 cores")
    lines = report.splitlines()
    assert lines[0] == "# Next runtime broke"
    tested = ", ".join(sorted({runtime.tensorflow for runtime in TESTED_RUNTIMES}))
    assert f"| tensorflow | 2.23.0rc1 | 2.23.0rc1 | {tested} |" in lines
    assert "| keras-core |  | - |  |" in lines
    assert "| lessons | FAILED | 10 |" in lines
    assert "| lesson1_data | failed | 19 | cell 3 raised ImportError: keras_cv |" in lines
    assert "40 passed, 1 failed, 1 skipped." in report
    assert "- `tests.lessons.test_lessons::test_b`: AssertionError" in lines
    assert "log of lessons" in report and "log of resolve" not in report
    assert lines[-1] == "Wall time 1500 s (25.0 min) on 2 cores."
    assert "TESTED_RUNTIMES`." not in report, "only a run that passed adds a tested runtime"


def test_a_passing_run_on_an_unlisted_pair_says_what_to_add_to_the_tested_runtimes():
    steps = [*_steps(), nr.Step("tests", True, 600.0)]
    report = nr.format_report("t", VERSIONS, VERSIONS, steps, [], nr.TestResults(passed=1), 1.0, "2 cores")
    assert 'add `KnownRuntime("2.23.0rc1", "3.16.0", ...)` to `course.environment.TESTED_RUNTIMES`' in report


def test_machine_names_cores_gpu_and_load():
    assert re.fullmatch(
        r"\d+ cores \(.+\), (no GPU|an NVIDIA GPU), load average [\d.]+, [\d.]+, [\d.]+ at the end, Python 3\.\d+\.\d+",
        nr.machine(),
    )


def test_the_pip_report_pip_writes_is_what_newest_versions_reads(tmp_path):
    """pip's --report format as this pip writes it, offline: a local wheel-less project resolved with --no-index."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "Some_Package"\nversion = "1.2rc1"\n')
    report = tmp_path / "report.json"
    command = ["-m", "pip", "install", "--quiet", "--dry-run", "--no-deps", "--no-index", "--no-build-isolation"]
    nr._run([nr.sys.executable, *command, "--report", str(report), str(project)], tmp_path / "log")
    assert nr.newest_versions(json.loads(report.read_text())) == {"some-package": "1.2rc1"}
