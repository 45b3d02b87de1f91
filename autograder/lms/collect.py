"""``collect``: file an LMS download as submitted/<student>/<lesson>/<notebook>.ipynb.

Each file's path inside the download is matched against file-name patterns (the instructor's
from ``c.SubmissionCollector.filename_patterns`` first, then Canvas, Moodle and plain
``<student>/<file>``). The lesson comes from ``--lesson``, else from the file name with the
usual renamings undone (``Copy of``, `` (1)``, Canvas's ``-1``), else from the notebook's
exercise cell ids. When a student uploaded several times, the newest upload wins (submission
id, then time in the name, then the upload number, then file time). Every file that is not
filed is reported with the reason. The original bytes are filed untouched, with nbgrader's
``timestamp.txt`` and an ``lms_submission.json`` holding what the LMS said (late flag, name).
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dateutil.parser
from nbgrader.api import Gradebook
from traitlets import List, Unicode
from traitlets.config import Configurable

from autograder.cells import grade_id
from autograder.courseroot import RESERVED_NAMES, Course, CourseError
from autograder.lms.formats import BUILTIN_PATTERNS, LMS_FILE, match_fields
from autograder.lms.roster import read_roster, update_gradebook_students

JUNK = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints)/|(^|/)\.DS_Store$|(^|/)\._")
RENAMINGS = [
    re.compile(r"^(copy of )+", re.IGNORECASE),  # Google Drive / Colab "Copy of"
    re.compile(r"\s*\(\d+\)$"),  # browser duplicate " (1)"
    re.compile(r"-\d+$"),  # Canvas re-upload "-1"
]
LINK_REFUSED = "a symbolic link, not a file of the download: refused (it could point at any file of this machine)"
UPLOAD_NUMBER = re.compile(r"(?:\((\d+)\)|-(\d+))$")
# A student id becomes a folder name: no path separators, no "." or "..".
SAFE_STUDENT_ID = re.compile(r"(?!\.+$)[\w@+.\- ]+")


class SubmissionCollector(Configurable):
    """Settings of ``python -m autograder collect``."""

    filename_patterns = List(
        Unicode(),
        [],
        help="Regular expressions with named groups, tried before the built-in ones on each "
        "file's path inside the download (with / separators). student_id is required; "
        "name, late, submission_id, timestamp and file are optional.",
    ).tag(config=True)


def normalised_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def name_variants(stem: str) -> list[str]:
    """The stem with the usual renamings undone, one more each time."""
    variants = [stem]
    for renaming in RENAMINGS:
        stem = renaming.sub("", stem).strip()
        variants.append(stem)
    return variants


@dataclass
class DownloadEntry:
    """One file in an LMS download."""

    path: str  # inside the download, with / separators
    mtime: datetime
    read: Callable[[], bytes]
    fields: dict[str, str] = field(default_factory=dict)
    target: tuple[str, ...] = ()  # (student, lesson, notebook)
    refused: str = ""  # why the file is not read at all

    @property
    def recency(self) -> tuple[int, float, int, float]:
        """Sort key: larger is newer."""
        submission = int(self.fields.get("submission_id") or -1)
        stated = self.fields.get("timestamp")
        stated = parse_time(stated).timestamp() if stated else 0.0
        stem = Path(self.fields.get("file") or self.path).stem
        number = UPLOAD_NUMBER.search(stem)
        number = int(next(g for g in number.groups() if g)) if number else 0
        return (submission, stated, number, self.mtime.timestamp())


def parse_time(text: str) -> datetime:
    moment = dateutil.parser.parse(text.replace("_", " "))
    return moment if moment.tzinfo else moment.astimezone()


def uploads_in(source: Path | str) -> Iterator[DownloadEntry]:
    """Files of a zip or folder download, junk left out."""
    source = Path(source)
    if zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        for entry in archive.infolist():
            if not entry.is_dir() and not JUNK.search(entry.filename):
                yield DownloadEntry(
                    entry.filename, datetime(*entry.date_time).astimezone(), lambda entry=entry: archive.read(entry)
                )
    elif source.is_dir():
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source).as_posix()
            if linked(path, source):
                yield DownloadEntry(relative, datetime.fromtimestamp(0).astimezone(), bytes, refused=LINK_REFUSED)
            elif path.is_file() and not JUNK.search(relative):
                yield DownloadEntry(
                    relative, datetime.fromtimestamp(path.stat().st_mtime).astimezone(), path.read_bytes
                )
    else:
        raise CourseError(
            f"{source} is neither a zip file nor a folder: give the file the LMS "
            "downloaded (or the folder it unzipped to)"
        )


def linked(path: Path, source: Path) -> bool:
    """Whether ``path`` or a folder between it and ``source`` is a symbolic link."""
    return any(part.is_symlink() for part in [path, *path.parents] if part != source and source in part.parents)


class Catalogue:
    """The released notebooks, to tell which lesson a file belongs to."""

    def __init__(self, course: Course) -> None:
        self.notebooks = {}  # (lesson, notebook) -> set of exercise and cell ids
        release = course.folder("release")
        for path in sorted(release.glob("*/*.ipynb")):
            cells = json.loads(path.read_text()).get("cells", [])
            ids = {grade_id(cell) for cell in cells}
            self.notebooks[(path.parent.name, path.stem)] = ids - {None}
        if not self.notebooks:
            raise CourseError(f"no released lessons in {release}: run `python -m autograder release`")

    def lessons(self) -> list[str]:
        return sorted({lesson for lesson, _ in self.notebooks})

    def by_name(self, filename: str, lesson: str | None = None) -> tuple[str, str] | None:
        """(lesson, notebook) whose notebook or lesson name the file name matches, or None."""
        candidates = [key for key in self.notebooks if lesson in (None, key[0])]
        for variant in name_variants(Path(filename).stem):
            wanted = normalised_name(variant)
            for key in candidates:
                if wanted in (normalised_name(key[1]), normalised_name(key[0])) and wanted:
                    return key
        if lesson is not None and len(candidates) == 1:
            return candidates[0]
        return None

    def by_content(self, data: bytes, lesson: str | None = None) -> tuple[str, str] | None:
        """(lesson, notebook) sharing most exercise ids with the file's notebook, or None."""
        try:
            cells = json.loads(data).get("cells", [])
            ids = {grade_id(cell) for cell in cells}
        except (ValueError, AttributeError, RecursionError):
            return None
        overlap = [(len(ids & known), key) for key, known in self.notebooks.items() if lesson in (None, key[0])]
        best = max(overlap, default=(0, None))
        return best[1] if best[0] else None


@dataclass
class CollectReport:
    """What happened to every file of a download."""

    filed: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    roster_notes: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        lines = [f"filed {len(self.filed)} notebooks:"] + [f"  {line}" for line in self.filed]
        for title, entries in [
            ("older uploads not used", self.superseded),
            ("NOT FILED, fix by hand", self.unmatched),
            ("skipped (not notebooks)", self.skipped),
            ("roster", self.roster_notes),
        ]:
            if entries:
                lines += [f"{title} ({len(entries)}):"] + [f"  {line}" for line in entries]
        return "\n".join(lines)


def collect(
    course: Course, source: Path | str, lesson: str | None = None, roster: Path | str | None = None
) -> CollectReport:
    """File every notebook of an LMS download (zip or folder); return a CollectReport."""
    catalogue = Catalogue(course)
    if lesson is not None and lesson not in catalogue.lessons():
        raise CourseError(f"--lesson {lesson}: no such released lesson; released: {', '.join(catalogue.lessons())}")
    roster_rows = read_roster(roster) if roster else None
    patterns = list(SubmissionCollector(config=course.config).filename_patterns) + BUILTIN_PATTERNS
    report = CollectReport()
    chosen = {}
    for upload in uploads_in(source):
        if upload.refused:
            report.unmatched.append(f"{upload.path}: {upload.refused}")
            continue
        if not upload.path.lower().endswith(".ipynb"):
            report.skipped.append(upload.path)
            continue
        upload.fields = match_fields(upload.path, patterns)
        if upload.fields is None:
            report.unmatched.append(
                f"{upload.path}: no file-name pattern gives the student; "
                "add one to c.SubmissionCollector.filename_patterns"
            )
            continue
        student = upload.fields["student_id"].strip()
        if not SAFE_STUDENT_ID.fullmatch(student):
            report.unmatched.append(
                f"{upload.path}: {student!r} cannot be a student id (letters, digits, spaces and _ @ + . - only)"
            )
            continue
        if student.lower() in RESERVED_NAMES:
            report.unmatched.append(
                f"{upload.path}: {student!r} cannot be a student id (the autograder writes a file or folder of that "
                "name beside the students' folders); file it by hand under another id"
            )
            continue
        filename = upload.fields.get("file") or Path(upload.path).name
        target = catalogue.by_name(filename, lesson) or catalogue.by_content(upload.read(), lesson)
        if target is None:
            report.unmatched.append(
                f"{upload.path}: cannot tell which lesson it is (name or content); rerun with --lesson"
            )
            continue
        upload.target = (student, *target)
        current = chosen.get(upload.target)
        if current is None or upload.recency > current.recency:
            if current is not None:
                report.superseded.append(f"{current.path} (a newer upload is {upload.path})")
            chosen[upload.target] = upload
        else:
            report.superseded.append(f"{upload.path} (a newer upload is {current.path})")
    for (student, lesson_name, notebook), upload in sorted(chosen.items()):
        file_upload(course, upload)
        late = " LATE" if upload.fields.get("late") else ""
        report.filed.append(f"{student}/{lesson_name}/{notebook}.ipynb <- {upload.path}{late}")
    if roster_rows is not None:
        add_roster(course, roster, roster_rows, {student for student, _, _ in chosen}, report)
    return report


def file_upload(course: Course, upload: DownloadEntry) -> None:
    """Write one chosen upload, its timestamp.txt and its lms_submission.json."""
    student, lesson, notebook = upload.target
    folder = course.submission_dir(student, lesson)
    folder.mkdir(parents=True, exist_ok=True)
    data = upload.read()
    (folder / f"{notebook}.ipynb").write_bytes(data)
    stated = upload.fields.get("timestamp")
    moment = parse_time(stated) if stated else upload.mtime
    (folder / "timestamp.txt").write_text(moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    (folder / LMS_FILE).write_text(
        json.dumps(
            {
                "source": upload.path,
                "name": upload.fields.get("name", ""),
                "late": bool(upload.fields.get("late")),
                "submission_id": upload.fields.get("submission_id", ""),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            indent=1,
        )
    )


def add_roster(
    course: Course,
    roster: Path | str,
    students: list[dict[str, str]],
    submitted_students: set[str],
    report: CollectReport,
) -> None:
    """Record the roster's students in the gradebook and note who is missing from it."""
    with Gradebook(course.db_url, course.coursedir().course_id) as gradebook:
        update_gradebook_students(gradebook, students)
    known = {row["id"] for row in students}
    report.roster_notes.append(f"{len(students)} students from {roster} recorded in the gradebook")
    for student in sorted(submitted_students - known):
        report.roster_notes.append(f"{student} submitted but is not on the roster")
