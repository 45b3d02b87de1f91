"""Shared test settings: quiet TensorFlow, a headless plot backend, no profile leaking in."""

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
