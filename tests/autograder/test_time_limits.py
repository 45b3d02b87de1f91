"""Grading's time limits: derived from the solutions' measured cells, overridden in the config,
and a solution that fails when run as grading runs it refused at release."""

import json
import shutil

import nbformat
import pytest

from autograder.courseroot import Course, CourseError
from autograder.grading import execution
from autograder.grading.time_limits import LIMITS_FILE, TimeLimits, derive_limits, lesson_limits, measure_notebook
from tests import graded_course
from tests.autograder_fixtures import students

pytestmark = pytest.mark.slow


def course_with(tmp_path, config="", measured=None):
    (tmp_path / "nbgrader_config.py").write_text((graded_course.ROOT / "nbgrader_config.py").read_text() + config)
    if measured is not None:
        (tmp_path / LIMITS_FILE).write_text(json.dumps(measured))
    return Course.load(tmp_path)


def test_limits_are_a_margin_over_the_slowest_cell_and_the_total_with_floors():
    settings = TimeLimits(margin=3.0, cell_floor_seconds=10, notebook_floor_seconds=20)
    measured = {"a.ipynb": {"setup": 2.0, "fit": 12.5, "tests": 0.1}, "b.ipynb": {"x": 1.0}}
    assert derive_limits(measured, settings) == (38, 44)  # 3 x 12.5 -> 38; 3 x 14.6 -> 44
    assert derive_limits({"a.ipynb": {"setup": 0.01}}, settings) == (10, 20)
    assert derive_limits({"a.ipynb": {"fit": 30.0}}, settings) == (90, 90), "a notebook gets its slowest cell"


def test_overrides_in_the_config_win_over_the_measured_limits(tmp_path):
    measured = {"basics": {"cell_limit": 12, "notebook_limit": 40}, "vectors": {"cell_limit": 10, "notebook_limit": 20}}
    course = course_with(
        tmp_path, '\nc.TimeLimits.overrides = {"basics": {"cell": 5}, "extra": {"notebook": 99}}\n', measured
    )
    basics = lesson_limits(course, "basics")
    assert (basics.cell, basics.notebook, basics.origin) == (5, 40, "measured, override")
    assert basics.nbgrader_arguments() == ["--Execute.timeout=5", "--SafeExecute.notebook_time_limit=40"]
    vectors = lesson_limits(course, "vectors")
    assert (vectors.cell, vectors.notebook, vectors.origin) == (10, 20, "measured")
    extra = lesson_limits(course, "extra")
    assert (extra.cell, extra.notebook, extra.origin) == (600, 99, "override"), "the config's Execute.timeout"
    assert lesson_limits(course, "never-measured") is None


def test_a_wrong_override_or_a_damaged_file_is_a_clear_error(tmp_path):
    course = course_with(tmp_path, '\nc.TimeLimits.overrides = {"basics": {"cells": 5}}\n', {})
    with pytest.raises(CourseError, match=r"unknown key\(s\) \['cells'\]: give 'cell' and/or 'notebook'"):
        lesson_limits(course, "basics")
    (tmp_path / LIMITS_FILE).write_text("{not json")
    with pytest.raises(CourseError, match="damaged .* run `python -m autograder release` to measure again"):
        lesson_limits(course, "vectors")


def test_a_solution_that_fails_as_graded_is_refused(tmp_path):
    course = course_with(tmp_path)
    shutil.copytree(students.SOURCE / "basics", tmp_path / "basics")
    path = tmp_path / "basics" / "basics.ipynb"
    path.write_text(path.read_text().replace("return a + b  #", "return a + undefined_name  #"))
    with pytest.raises(CourseError, match=r"basics.ipynb: the solution fails in add-tests .*NameError"):
        measure_notebook(course, path)


def test_code_after_the_last_test_is_not_run_by_grading_nor_timed(tmp_path):
    course = course_with(tmp_path)
    shutil.copytree(students.SOURCE / "basics", tmp_path / "basics")
    path = tmp_path / "basics" / "basics.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('a training run no test reads')", id="demo"))
    nbformat.write(nb, path)
    measured = measure_notebook(course, path)
    assert "add-tests" in measured and "normalise-tests" in measured
    assert "demo" not in measured, "a cell after the last test that is no answer is left unrun"


def test_limits_stretch_with_the_load_and_say_so(monkeypatch):
    """Limits measured on an idle machine stretch by the load per core (1 to 4), for the cell and the notebook."""
    cores = 2
    monkeypatch.setattr(execution.os, "cpu_count", lambda: cores)
    executor = execution.SafeExecute(timeout=10, notebook_time_limit=20)
    cell = nbformat.v4.new_code_cell("pass")
    monkeypatch.setattr(execution.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert executor._get_timeout(cell) == 10
    assert executor.timeout_message(cell) == "the cell ran past its time limit (10 s) and was interrupted"
    monkeypatch.setattr(execution.os, "getloadavg", lambda: (3 * cores, 1.0, 1.0))
    assert executor._get_timeout(cell) == 30
    assert executor.timeout_message(cell) == (
        "the cell ran past its time limit (30 s, x3.0 for the machine's load) and was interrupted"
    )
    executor._started = execution.monotonic() - 49.5  # 49.5 s into a notebook of 20 s x 3
    assert executor._get_timeout(cell) == 10 and not executor._past_deadline()
    assert "the notebook's time limit (60 s, x3.0 for the machine's load)" in executor.timeout_message(cell)
    monkeypatch.setattr(execution.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert executor._get_timeout(cell) == 10, "the highest load seen in the notebook holds"
    monkeypatch.setattr(execution.os, "getloadavg", lambda: (100.0, 1.0, 1.0))
    assert executor._get_timeout(nbformat.v4.new_code_cell("pass")) == 30, "at most 4 times: 80 s, 30 s left"
    steady = execution.SafeExecute(timeout=10, notebook_time_limit=20, stretch_with_load=False)
    assert steady._get_timeout(cell) == 10
