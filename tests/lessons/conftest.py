"""The demo's run of the lessons that train, shared by the tests that check it."""

import pytest

from course.source_task import source_weights
from tests import lesson_testing as lt


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """``lt.DEMO_LESSONS`` executed once in the demo profile, in one folder, with their runs; with a work
    folder and two at a time, as `make demo` runs them, so that lesson 5 fine-tunes the frozen model of lesson 4."""
    source_weights()  # cached once per machine; pretrained here (minutes) only when missing
    out = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_WORK_DIR", str(out / "work"))
        return out, lt.execute_lessons(list(lt.DEMO_LESSONS), "demo", out, jobs=2)  # lesson 3 beside lesson 4
