"""Shared test settings: quiet TensorFlow, a headless plot backend, no profile leaking in."""

import functools
import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest


@pytest.fixture(autouse=True)
def _clean_profile_environment(monkeypatch):
    for variable in (
        "COURSE_PROFILE",
        "NBGRADER_EXECUTION",
        "COURSE_SOURCE",
        "COURSE_DATA_DIR",
        "COURSE_WORK_DIR",
        "COURSE_ALLOW_CPU",
    ):
        monkeypatch.delenv(variable, raising=False)


# The markers of the slow tier (pyproject.toml registers them; `make test-quick` deselects them all). A test
# without one that starts a Jupyter kernel, a browser or a Dask cluster (its fixtures too) fails, so the quick
# tier stays quick.
SLOW_TIER = ("slow", "browser", "sandbox", "cluster", "colab")
HEAVY_STARTS = (
    ("jupyter_client.manager", "KernelManager", "_async_launch_kernel", "a Jupyter kernel", "slow"),
    ("playwright.sync_api", "BrowserType", "launch", "a browser", "browser"),
    ("distributed.deploy.spec", "SpecCluster", "__init__", "a Dask cluster", "cluster"),
)
_running = {}  # "item": the test being set up, run or torn down


def guarded(start, what: str, marker: str):
    @functools.wraps(start)
    def start_if_marked(*args, **kwargs):
        item = _running.get("item")
        if item is not None and not any(item.get_closest_marker(name) for name in SLOW_TIER):
            pytest.fail(f"{item.nodeid} starts {what}: mark it @pytest.mark.{marker} (or another of {SLOW_TIER})")
        return start(*args, **kwargs)

    return start_if_marked


def pytest_configure(config):
    for module_name, owner, method, what, marker in HEAVY_STARTS:
        cls = getattr(importlib.import_module(module_name), owner)
        setattr(cls, method, guarded(getattr(cls, method), what, marker))


def pytest_runtest_protocol(item, nextitem):
    _running["item"] = item


@pytest.fixture
def with_gpu(monkeypatch):
    """Pretend TensorFlow sees a GPU: the decisions that depend on it (acceleration, the full profile's
    refusal to train on a CPU) take their GPU branch; everything still runs on this machine's devices."""
    from course import acceleration

    monkeypatch.setattr(acceleration, "gpu_available", lambda: True)


@pytest.fixture
def without_gpu(monkeypatch):
    """Pretend TensorFlow sees no GPU, so the tests mean the same on a machine that has one."""
    from course import acceleration

    monkeypatch.setattr(acceleration, "gpu_available", lambda: False)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """The fixture class graded once per session (tests/graded_course.py): (course folder, grade's
    output). Tests that change its gradebook work on a copy."""
    from tests.graded_course import graded_fixture_class

    return graded_fixture_class(tmp_path_factory.mktemp("course"))


# `make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadfile`): a test module is one unit of
# work, so its module and session fixtures are built once per worker that runs it and no two workers share a
# module's files (the Colab stand-in, the demo's work folder). Units start longest first, so the two workers
# finish together.
LONGEST_FIRST = (
    "tests/lessons/test_lessons.py",
    "tests/lessons/test_demo.py",
    "tests/autograder/test_grading.py",
    "tests/lessons/test_colab_standin.py",
    "tests/autograder/test_cluster.py",
    "tests/autograder/test_sandbox.py",
    "tests/autograder/test_bench.py",
    "tests/autograder/test_sample_class.py",
    "tests/course_tools/test_rehearsal.py",
    "tests/autograder/test_browser_grading.py",
    "tests/autograder/test_class_page.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {path: position for position, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
