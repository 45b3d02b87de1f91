"""The students' distribution: what the public repository that ``c.ColabLink`` names may hold.

The instructors' course (solutions, hidden tests, mark schemes, time limits, the autograder, its
settings and tests) stays in a private repository. ``write_students_tree`` writes, into a folder or
git worktree of the public one, only what students need: the released lessons, the course library
they install, a ``pyproject.toml`` that installs that library alone (made from the course's own, so
versions never drift apart) and a students' README. ``python -m autograder release --students DIR``
writes it after releasing; the instructor commits, tags ``c.ColabLink.ref`` and pushes.
"""

from __future__ import annotations

import importlib
import json
import shutil
import tomllib
from pathlib import Path

from autograder.courseroot import Course, CourseError
from autograder.release.colab import ColabLink

LIBRARY = "course"
MARKER = ".course-students-tree"  # says the folder is a students' tree this command may rewrite
KEPT = frozenset({".git", MARKER})
TITLE = "Transfer learning and data augmentation with EfficientNetB0 on Stanford Dogs"
DESCRIPTION = f"{TITLE}: the lessons and the library they use."
README = """# {title}

Lessons on transfer learning and data augmentation: EfficientNetB0 on Stanford Dogs, trained from
scratch, as a frozen ImageNet backbone with a new head, and fine-tuned, with KerasCV augmentation.

## The lessons
Open a lesson in Google Colab (Runtime > Change runtime type > T4 GPU), run its cells from the
top, answer its exercises, then download the notebook (File > Download > Download .ipynb) and hand it
in as your course asks. The first cell installs the course library of this release.

{lessons}

## Working on your own machine
`pip install .` in this folder installs the library (`course`); then open `lessons/` in JupyterLab.
"""


def students_pyproject(course_pyproject: dict) -> str:
    """A pyproject.toml that installs the course library alone, with the course's own metadata and versions."""
    project = course_pyproject["project"]
    scripts = {name: target for name, target in project.get("scripts", {}).items() if target.startswith(f"{LIBRARY}.")}
    lines = [
        "[build-system]",
        'requires = ["setuptools>=68"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        *(f"{key} = {json.dumps(project[key])}" for key in ("name", "version", "requires-python")),
        f"description = {json.dumps(DESCRIPTION)}",
        'readme = "README.md"',
        f"dependencies = {json.dumps(project['dependencies'])}",
        "",
        "[project.optional-dependencies]",
        *(
            f"{extra} = {json.dumps(needs)}"
            for extra, needs in project.get("optional-dependencies", {}).items()
            if extra != "dev"
        ),
        "",
        "[project.scripts]",
        *(f"{name} = {json.dumps(target)}" for name, target in scripts.items()),
        "",
        "[tool.setuptools.packages.find]",
        f"include = {json.dumps([LIBRARY])}",
    ]
    return "\n".join(lines) + "\n"


def students_readme(lessons: list[str], link: ColabLink) -> str:
    listed = "\n".join(f"- {lesson}: {link.badge(lesson)}" for lesson in lessons)
    return README.format(title=TITLE, lessons=listed)


def clear_tree(folder: Path) -> None:
    """Empty ``folder`` for a new tree (its git data and marker kept); refuse a folder that is not one."""
    entries = {path.name for path in folder.iterdir()}
    if entries - KEPT and MARKER not in entries:
        raise CourseError(
            f"{folder} holds files and is not a students' tree written by `release --students`: "
            "give an empty folder or a clone of the students' public repository"
        )
    for path in folder.iterdir():
        if path.name not in KEPT:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def write_students_tree(course: Course, folder: Path | str) -> list[Path]:
    """Write the students' tree into ``folder`` (see the module docstring); return its top-level entries."""
    folder = Path(folder).resolve()
    if folder == course.root.resolve() or course.root.resolve() in folder.parents:
        raise CourseError(f"{folder} is inside the course folder: the students' tree belongs in another repository")
    folder.mkdir(parents=True, exist_ok=True)
    clear_tree(folder)
    library = Path(importlib.import_module(LIBRARY).__file__).parent
    checkout_metadata = library.parent / "pyproject.toml"
    if not checkout_metadata.is_file():
        raise CourseError(
            f"no pyproject.toml beside {library}: install the course from its checkout (pip install -e .)"
        )
    shutil.copytree(library, folder / LIBRARY, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    release = course.folder("release")
    shutil.copytree(release, folder / release.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    metadata = tomllib.loads(checkout_metadata.read_text())
    (folder / "pyproject.toml").write_text(students_pyproject(metadata))
    lessons = sorted(path.name for path in release.iterdir() if path.is_dir())
    link = ColabLink(config=course.config)
    (folder / "README.md").write_text(students_readme(lessons, link))
    (folder / MARKER).write_text("Written by `python -m autograder release --students`; rewritten on every release.\n")
    return sorted(folder.iterdir())
