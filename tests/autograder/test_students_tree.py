"""The students' distribution (``release --students``): the released lessons and the library, nothing of the key.

The tree is written from this checkout, as an instructor writes it into a clone of the public
repository; the Colab stand-in installs the course from such a tree (tests/lessons/test_colab_standin.py).
"""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from autograder.cells import SECRET_MARKERS
from autograder.courseroot import Course, CourseError
from autograder.release.students_tree import MARKER, write_students_tree
from tests import lesson_testing as lt

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    folder = tmp_path_factory.mktemp("public") / "students"
    write_students_tree(Course.load(ROOT), folder)
    return folder


def test_it_holds_the_lessons_the_library_and_a_readme_only(tree):
    assert sorted(path.name for path in tree.iterdir()) == sorted(
        [MARKER, "README.md", "course", "lessons", "pyproject.toml"]
    )
    assert sorted(path.name for path in (tree / "lessons").iterdir()) == lt.lesson_names()
    assert not [
        path
        for path in tree.rglob("*")
        if path.name in {"solutions", "nbgrader_config.py", "nbgrader_time_limits.json", "autograder"}
    ]


def test_no_solution_hidden_test_or_mark_scheme_is_in_it(tree):
    everything = "\n".join(path.read_text(errors="replace") for path in tree.rglob("*") if path.is_file())
    assert [marker for marker in SECRET_MARKERS if marker in everything] == []
    for lesson in lt.lesson_names():
        released = tree / "lessons" / lesson / f"{lesson}.ipynb"
        assert lt.leaks(lt.source_notebook(lesson), released) == [], lesson
    # The library is public by design: the delegation checks keep it from answering an exercise.


def test_its_pyproject_installs_the_library_alone_with_the_courses_versions(tree, tmp_path):
    students = tomllib.loads((tree / "pyproject.toml").read_text())
    course = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert students["project"]["dependencies"] == course["project"]["dependencies"]
    assert students["tool"]["setuptools"]["packages"]["find"]["include"] == ["course"]
    wheel = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(tree),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wheel.returncode == 0, wheel.stderr
    built = next(tmp_path.glob("course-*.whl"))
    packages = {name.split("/")[0] for name in zipfile.ZipFile(built).namelist() if not name.startswith("course-")}
    assert packages == {"course"}


def test_it_refuses_a_folder_that_is_not_a_students_tree(tmp_path):
    course = Course.load(ROOT)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CourseError, match="not a students' tree"):
        write_students_tree(course, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(CourseError, match="inside the course folder"):
        write_students_tree(course, ROOT / "public")


def test_writing_it_again_replaces_the_old_tree(tree):
    (tree / "lessons" / "stale.ipynb").write_text("{}")
    write_students_tree(Course.load(ROOT), tree)
    assert not (tree / "lessons" / "stale.ipynb").exists()
