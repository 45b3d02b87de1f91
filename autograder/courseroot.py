"""The nbgrader course root: its configuration, folders, lessons and gradebook."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config, PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"
REPORT_FILE = "report.csv"  # written beside the students' folders in autograded/
CLASS_PAGES = "class"  # the class pages' folder, beside the report
SIMILARITY_FILE = "similarity.json"  # the similarity report's matches, beside the report
RESERVED_NAMES = frozenset({REPORT_FILE, CLASS_PAGES, SIMILARITY_FILE})  # no student id may take these names


class AutograderError(Exception):
    """Every error the autograder raises on the grader's side (the kernel side's ``WriteItYourself`` lives in
    the student's kernel, on the standard library only)."""


class CourseError(AutograderError):
    """A problem with the course folder or its configuration that the instructor must fix: the commands exit
    with 2 for it, as for a usage error, and with 1 when a check they run fails."""


@dataclass
class Course:
    """A course root folder with its nbgrader configuration loaded."""

    root: Path
    config: Config

    @classmethod
    def load(cls, course_dir: Path | str) -> Course:
        """Load ``nbgrader_config.py`` from ``course_dir`` (the repository root by default)."""
        root = Path(course_dir).resolve()
        config_path = root / CONFIG_FILE
        if not config_path.is_file():
            raise CourseError(
                f"{config_path} not found: --course-dir must point at the course root "
                f"(the folder holding {CONFIG_FILE}, solutions/ and lessons/)."
            )
        config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
        config.CourseDirectory.root = str(root)
        return cls(root=root, config=config)

    def coursedir(self, lesson: str = "", student: str = "*") -> CourseDirectory:
        """An nbgrader CourseDirectory for this course, set to one lesson and student pattern."""
        coursedir = CourseDirectory(config=self.config)
        coursedir.assignment_id = lesson
        coursedir.student_id = student
        return coursedir

    @property
    def db_url(self) -> str:
        return self.coursedir().db_url

    def folder(self, step: str) -> Path:
        """Absolute path of an nbgrader step folder: source, release, submitted, autograded, feedback."""
        coursedir = self.coursedir()
        name = getattr(coursedir, f"{step}_directory")
        return self.root / name

    def source_lessons(self) -> list[str]:
        """Lessons (assignments) found in the source folder, sorted by name."""
        source = self.folder("source")
        if not source.is_dir():
            return []
        return sorted(
            p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.ipynb"))
        )

    def release_notebooks(self, lesson: str) -> list[Path]:
        """Paths of the released student notebooks of a lesson."""
        return sorted((self.folder("release") / lesson).glob("*.ipynb"))

    def submission_dir(self, student: str, lesson: str, step: str = "submitted") -> Path:
        return self.folder(step) / student / lesson


def default_course_dir() -> str:
    """The course root: $AUTOGRADER_COURSE_DIR, else the repository holding this package."""
    return os.environ.get("AUTOGRADER_COURSE_DIR", str(Path(__file__).resolve().parent.parent))


def put_python_tools_on_path() -> None:
    """nbgrader calls the ``alembic`` command when it creates a gradebook: make the commands
    installed beside this Python findable even when its environment is not activated."""
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([tools, os.environ.get("PATH", "")])
