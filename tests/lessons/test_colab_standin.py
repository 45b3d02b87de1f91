"""Every lesson, set up by its own setup cell, runs on a stand-in for Colab's runtime (see colab_standin).

Slow: each lesson starts from a fresh stand-in, installs the course the way Colab does and runs in
the smoke profile.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_tools.next_runtime import installed_versions
from tests import colab_standin as colab
from tests import lesson_testing as lt

pytestmark = [pytest.mark.colab, pytest.mark.slow]

# Every lesson's setup cell as the first release shipped it: `%pip` does not stop the notebook when
# an install fails, and `--no-deps` leaves out what TensorFlow Datasets needs on Colab.
FIRST_RELEASE_SETUP = '''import sys

if "google.colab" in sys.modules:
    %pip install --quiet keras-cv==0.9.0
    %pip install --quiet --no-deps "git+https://github.com/stanford-dogs-course/transfer-learning@main"'''
KEPT = ("tensorflow", "keras", "numpy", "protobuf")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """The stand-in, reset, with its kernel on JUPYTER_PATH and the students' tree of this checkout to install."""
    try:
        colab.require_standin()
    except colab.StandinMissing as error:
        pytest.fail(str(error))
    folder = tmp_path_factory.mktemp("colab")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(colab.install_kernel(folder / "jupyter")))
        yield colab.students_checkout(folder / "checkout")


def test_the_standin_has_colabs_versions_and_lacks_what_colab_lacks(standin):
    colab.reset()
    versions = colab.installed()
    expected = installed_versions(colab.CONSTRAINTS.read_text())
    assert {name: versions.get(name) for name in expected} == expected
    assert [name for name in colab.COLAB_LACKS if name in versions] == []


def test_the_first_releases_setup_cell_leaves_the_runtime_unable_to_load_stanford_dogs(standin, tmp_path):
    """The cell runs without a complaint (and a smoke-profile lesson after it would too: it never touches
    TFDS), yet the full profile's data path is broken."""
    colab.reset()
    notebook = lt.read(lt.source_notebook("lesson1_data"))
    notebook.cells = [cell for cell in notebook.cells if cell.get("id") in ("setup", "parameters")]
    notebook.cells[0].source = FIRST_RELEASE_SETUP
    run = colab.run_on_colab(colab.with_checkout(notebook, standin), "lesson1_data", tmp_path)
    assert run.passed, run.failure
    check = colab.check_environment(tmp_path)
    assert check.returncode != 0
    assert "TensorFlow Datasets cannot prepare Stanford Dogs" in check.stderr
    assert "importlib_resources failed (it is not installed)" in check.stderr


@pytest.mark.parametrize("lesson", lt.lesson_names())
def test_the_lesson_runs_on_colab_after_its_setup_cell(standin, tmp_path, lesson):
    colab.reset()
    before = colab.installed()
    notebook = colab.with_checkout(colab.as_students_run_it(lt.read(lt.source_notebook(lesson))), standin)
    run = colab.run_on_colab(notebook, lesson, tmp_path)
    assert run.passed, run.failure
    after = colab.installed()
    assert {name: after[name] for name in KEPT} == {name: before[name] for name in KEPT}
    assert {"course", "keras-cv", "importlib-resources"} <= set(after) - set(before)
    check = colab.check_environment(tmp_path)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("Runtime ready: TensorFlow 2.20.0, Keras 3.13.2, KerasCV 0.9.0")


def test_the_constraints_are_what_the_refresh_script_makes_of_colabs_published_freeze(tmp_path):
    freeze = lt.REPO_ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"
    out = tmp_path / "constraints.txt"
    command = [sys.executable, str(lt.REPO_ROOT / ".ci" / "colab" / "refresh.py"), str(freeze), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True)
    assert installed_versions(out.read_text()) == installed_versions(colab.CONSTRAINTS.read_text())
