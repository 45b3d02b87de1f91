"""How learning management systems name the files of a download, written and parsed in one
place: Canvas (``<name>_[LATE_]<user id>_<submission id>_<file>``), Moodle
(``<Full Name>_<id>_assignsubmission_file_/<file>``) and a plain folder per student; and the
``lms_submission.json`` that ``collect`` files beside each notebook with what the LMS said."""

from __future__ import annotations

import re

LMS_FILE = "lms_submission.json"

CANVAS_PATTERN = (
    r"(?:.*/)?(?P<name>[^/_]+)_(?:(?P<late>LATE)_)?(?P<student_id>\d+)_(?P<submission_id>\d+)"
    r"_(?P<file>[^/]+)"
)
MOODLE_PATTERN = r"(?:.*/)?(?P<name>[^/]+?)_(?P<student_id>\d+)_assignsubmission_file_/(?:.*/)?(?P<file>[^/]+)"
FOLDER_PATTERN = r"(?:.*/)?(?P<student_id>[^/]+)/(?P<file>[^/]+)"
BUILTIN_PATTERNS = [CANVAS_PATTERN, MOODLE_PATTERN, FOLDER_PATTERN]


def canvas_login_name(first_name: str, last_name: str) -> str:
    """The name part of Canvas's file names: last and first name, lower case, letters only."""
    return re.sub(r"[^a-z]", "", (last_name + first_name).lower())


def canvas_file_name(login_name: str, user_id: str, submission_id: int, filename: str, late: bool = False) -> str:
    """The name Canvas gives an uploaded file in its submissions download."""
    return f"{login_name}_{'LATE_' if late else ''}{user_id}_{submission_id}_{filename}"


def match_fields(path: str, patterns: list[str]) -> dict[str, str] | None:
    """The named groups of the first pattern that matches the whole ``path`` and names the student
    (empty groups left out), or None."""
    for pattern in patterns:
        match = re.fullmatch(pattern, path)
        if match and match.groupdict().get("student_id"):
            return {key: value for key, value in match.groupdict().items() if value}
    return None
