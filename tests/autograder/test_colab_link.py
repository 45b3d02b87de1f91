"""Every lesson's Colab badge and setup cell come from c.ColabLink in nbgrader_config.py."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from traitlets import TraitError

from autograder.courseroot import Course
from autograder.release.colab import ColabLink, colab_differences, write_colab_cells
from course_tools.estimates import describe
from tests import lesson_testing as lt


def course_link(root=lt.REPO_ROOT) -> ColabLink:
    return ColabLink(config=Course.load(root).config)


@pytest.mark.parametrize("path", lt.committed_notebooks(), ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_every_notebook_agrees_with_the_configured_link(path):
    lesson = path.parent.name
    assert colab_differences(lt.read(path), lesson, course_link()) == []


def test_the_badge_opens_the_released_notebook_of_the_pinned_ref():
    link = course_link()
    assert link.ref != "main" and re.fullmatch(r"v\d+\.\d+\.\d+", link.ref)
    for lesson in lt.lesson_names():
        url = re.search(r"\]\((https://colab[^)]+)\)$", link.badge(lesson)).group(1)
        path = url.split(f"/blob/{link.ref}/", 1)[1]
        assert path == f"lessons/{lesson}/{lesson}.ipynb" and (lt.REPO_ROOT / path).is_file()
    assert f'COURSE = "git+https://github.com/{link.repository}@{link.ref}"' in link.setup_source()


@pytest.mark.parametrize("ref", ["main", "master", "develop", "v1", "latest"])
def test_a_branch_is_refused_as_ref(ref):
    with pytest.raises(TraitError, match="not a branch"):
        ColabLink(ref=ref)


@pytest.mark.parametrize("repository", ["transfer-learning", "https://github.com/a/b", "a/b/c", ""])
def test_a_repository_must_be_owner_and_name(repository):
    with pytest.raises(TraitError, match="owner/name"):
        ColabLink(repository=repository)


def test_a_commit_and_prerelease_tags_are_accepted():
    assert ColabLink(ref="v1.2.0-rc.1").ref == "v1.2.0-rc.1"
    assert ColabLink(ref="0123456789abcdef0123456789abcdef01234567").ref.startswith("0123")


def test_release_writes_a_forks_settings_into_source_and_student_notebooks(tmp_path):
    course_root = lt.make_course_root(tmp_path / "course")
    with open(course_root / lt.CONFIG_FILE, "a") as config:
        config.write('\nc.ColabLink.repository = "my-university/dogs-course"\nc.ColabLink.ref = "v3.1.4"\n')
    lesson = lt.lesson_names()[0]
    fork = course_link(course_root)
    assert colab_differences(lt.read(lt.source_notebook(lesson, course_root)), lesson, fork)
    lt.release(course_root, (lesson,))
    for path in (lt.source_notebook(lesson, course_root), lt.released_notebook(lesson, course_root)):
        notebook = lt.read(path)
        assert colab_differences(notebook, lesson, fork) == []
        assert "github.com/my-university/dogs-course@v3.1.4" in notebook.cells[1].source
        assert "/github/my-university/dogs-course/blob/v3.1.4/lessons/" in notebook.cells[0].source


def run_setup_cell_on_colab(source: str, namespace_patches: str) -> str:
    """Run the setup cell in a fresh Python that pretends to be Colab, after ``namespace_patches``."""
    program = (
        "import sys, types\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        f"{namespace_patches}\n"
        f"exec(compile({source!r}, 'setup', 'exec'), {{}})\n"
    )
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert completed.returncode != 0, completed.stdout
    return completed.stderr


def test_on_a_runtime_without_tensorflow_the_setup_cell_names_the_runtime_to_choose():
    patches = (
        "import importlib.metadata\n"
        "real_version = importlib.metadata.version\n"
        "def version(name):\n"
        "    if name == 'tensorflow':\n"
        "        raise importlib.metadata.PackageNotFoundError(name)\n"
        "    return real_version(name)\n"
        "importlib.metadata.version = version\n"
    )
    stderr = run_setup_cell_on_colab(course_link().setup_source(), patches)
    assert "RuntimeError: This runtime has no TensorFlow (Colab's TPU runtimes have none)" in stderr
    assert "Runtime > Change runtime type > T4 GPU" in stderr


def test_a_failed_install_stops_the_setup_cell_with_pips_error():
    patches = (
        "import subprocess\n"
        "def run(command, **options):\n"
        "    assert command[3:5] == ['install', '--quiet'] and 'course[colab] @ git+https://' in command[5]\n"
        "    return subprocess.CompletedProcess(command, 1, '', 'ERROR: Could not find a version that satisfies')\n"
        "subprocess.run = run\n"
    )
    stderr = run_setup_cell_on_colab(course_link().setup_source(), patches)
    assert "RuntimeError: Installing the course failed:\nERROR: Could not find a version that satisfies" in stderr


def test_assignments_without_the_badge_are_left_alone():
    """Other courses graded with the autograder have no Colab badge: their setup cells stay theirs."""
    path = lt.REPO_ROOT / "tests" / "autograder_fixtures" / "solutions" / "basics" / "basics.ipynb"
    notebook = lt.read(path)
    sources = [cell.source for cell in notebook.cells]
    assert not write_colab_cells(notebook, "basics", course_link())
    assert [cell.source for cell in notebook.cells] == sources


def test_the_time_line_states_the_estimate_and_its_source():
    for lesson in lt.lesson_names():
        title = lt.read(lt.source_notebook(lesson)).cells[0].source
        assert f"{course_link().badge(lesson)}\n\n**Time.** {describe(lesson)}" in title
        assert 'profile = "smoke"' in title and "T4 GPU" in title
    assert "about 27 minutes" in describe("lesson3_scratch")
    assert "less than a minute" in describe("lesson2_augmentation")
