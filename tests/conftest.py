"""Shared test settings: quiet TensorFlow, a headless plot backend, no profile leaking in."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest


@pytest.fixture(autouse=True)
def _clean_profile_environment(monkeypatch):
    for variable in ("COURSE_PROFILE", "NBGRADER_EXECUTION", "COURSE_SOURCE", "COURSE_DATA_DIR",
                     "COURSE_WORK_DIR", "COURSE_ALLOW_CPU"):
        monkeypatch.delenv(variable, raising=False)
