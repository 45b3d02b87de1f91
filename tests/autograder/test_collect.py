"""Collecting LMS downloads (Canvas zip, Moodle folder, plain folders) into submitted/."""

import contextlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.cli import main
from autograder.lms.formats import BUILTIN_PATTERNS, canvas_file_name, canvas_login_name, match_fields
from tests.autograder_fixtures import students

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([*args])
    return code, out.getvalue()


@pytest.fixture
def course(tmp_path):
    """A course with the fixture lessons released (copied, so no gradebook run is needed)."""
    folder = tmp_path / "course"
    folder.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(students.RELEASE, folder / "lessons")
    return folder


def notebook_bytes(nb, marker):
    """A notebook whose first cell says which upload it is."""
    nb.cells[0].source = marker
    return nbformat.writes(nb).encode()


def submitted(course, student, lesson):
    folder = course / "submitted" / student / lesson
    return (
        nbformat.reads((folder / f"{lesson}.ipynb").read_text(), as_version=4).cells[0].source,
        json.loads((folder / "lms_submission.json").read_text()),
        (folder / "timestamp.txt").read_text(),
    )


def test_canvas_zip_with_late_reuploads_renamed_and_unmatched_files(course, tmp_path):
    download = tmp_path / "submissions.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("lovelaceada_12345_1001_basics.ipynb", notebook_bytes(students.answered(), "first upload"))
        archive.writestr("lovelaceada_12345_1002_basics-1.ipynb", notebook_bytes(students.answered(), "re-upload"))
        archive.writestr(
            "turingalan_LATE_67890_2001_Copy of basics (1).ipynb",
            notebook_bytes(students.answered(), "renamed and late"),
        )
        archive.writestr(
            "hopperg_22222_3001_Untitled.ipynb", notebook_bytes(students.answered("vectors"), "found by content")
        )
        archive.writestr("noetheremmy_33333_4001_notes.pdf", b"%PDF-1.4")
        archive.writestr("curiemarie_44444_5001_homework.ipynb", b'{"not": "a lesson"}')
        archive.writestr("loose.ipynb", notebook_bytes(students.answered(), "whose?"))
        archive.writestr("__MACOSX/._lovelaceada_12345_1001_basics.ipynb", b"junk")
        archive.writestr("../basics.ipynb", notebook_bytes(students.answered(), "zip slip"))
    code, text = run_cli("--course-dir", str(course), "collect", str(download))
    assert code == 0, text

    source, lms, _ = submitted(course, "12345", "basics")
    assert source == "re-upload" and lms["submission_id"] == "1002" and not lms["late"]
    source, lms, _ = submitted(course, "67890", "basics")
    assert source == "renamed and late" and lms["late"] and lms["name"] == "turingalan"
    assert submitted(course, "22222", "vectors")[0] == "found by content"
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["12345", "22222", "67890"]

    assert "filed 3 notebooks" in text
    assert "lovelaceada_12345_1001_basics.ipynb (a newer upload is" in text
    assert "curiemarie_44444_5001_homework.ipynb: cannot tell which lesson" in text
    assert "loose.ipynb: no file-name pattern gives the student" in text
    assert "'..' cannot be a student id" in text and not (course / "basics").exists()
    assert "noetheremmy_33333_4001_notes.pdf" in text and "__MACOSX" not in text
    assert "LATE" in text


def test_lesson_option_files_every_notebook_under_that_lesson(course, tmp_path):
    download = tmp_path / "lesson.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("hopperg_22222_3001_Untitled.ipynb", b"not even json")
    code, text = run_cli("--course-dir", str(course), "collect", str(download), "--lesson", "basics")
    assert code == 0, text
    assert (course / "submitted" / "22222" / "basics" / "basics.ipynb").read_bytes() == b"not even json"
    code, text = run_cli("--course-dir", str(course), "collect", str(download), "--lesson", "nope")
    assert code == 2 and "no such released lesson" in text


def test_moodle_folder(course, tmp_path):
    download = tmp_path / "moodle"
    for folder, name, marker in [
        ("Ada Lovelace_12345_assignsubmission_file_", "basics.ipynb", "ada"),
        ("Alan Turing_67890_assignsubmission_file_", "my work (2).ipynb", "alan"),
    ]:
        (download / folder).mkdir(parents=True)
        (download / folder / name).write_bytes(notebook_bytes(students.answered(), marker))
    code, text = run_cli("--course-dir", str(course), "collect", str(download))
    assert code == 0, text
    source, lms, _ = submitted(course, "12345", "basics")
    assert source == "ada" and lms["name"] == "Ada Lovelace"
    assert submitted(course, "67890", "basics")[0] == "alan"


def test_plain_folders_newest_copy_wins_and_roster_names_students(course, tmp_path):
    download = tmp_path / "plain"
    for student, name, marker, age in [
        ("alice", "basics.ipynb", "old", 200),
        ("alice", "basics (1).ipynb", "new", 100),
        ("bob", "vectors.ipynb", "bob", 50),
        ("carol", "basics.ipynb", "carol", 50),
    ]:
        path = download / student / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(notebook_bytes(students.answered(), marker))
        os.utime(path, (path.stat().st_mtime - age,) * 2)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email\nalice,Alice,Liddell,alice@example.org\nbob,Bob,Builder,bob@example.org\n"
    )
    code, text = run_cli("--course-dir", str(course), "collect", str(download), "--roster", str(roster))
    assert code == 0, text
    assert submitted(course, "alice", "basics")[0] == "new"
    assert submitted(course, "bob", "vectors")[0] == "bob"
    assert "carol submitted but is not on the roster" in text
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "transfer-learning") as gradebook:
        alice = gradebook.find_student("alice")
        assert (alice.first_name, alice.last_name, alice.email) == ("Alice", "Liddell", "alice@example.org")


def test_configured_pattern_with_timestamps(course, tmp_path):
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(
            "\nc.SubmissionCollector.filename_patterns = "
            '[r"(?P<student_id>[a-z]+)-(?P<timestamp>\\d{8}T\\d{6})-(?P<file>.+)"]\n'
        )
    download = tmp_path / "export"
    download.mkdir()
    for stamp, marker in [("20250103T090000", "later"), ("20250102T103000", "earlier")]:
        (download / f"zoe-{stamp}-basics.ipynb").write_bytes(notebook_bytes(students.answered(), marker))
    code, text = run_cli("--course-dir", str(course), "collect", str(download))
    assert code == 0, text
    source, _, timestamp = submitted(course, "zoe", "basics")
    assert source == "later"
    assert timestamp.endswith(" UTC") and timestamp[:10] in ("2025-01-03", "2025-01-02")


def test_bad_roster_and_bad_source_say_what_to_fix(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name\n1,Ada\n")
    (tmp_path / "empty").mkdir()
    code, text = run_cli("--course-dir", str(course), "collect", str(tmp_path / "empty"), "--roster", str(roster))
    assert code == 2 and "missing column(s) id, first_name, last_name, email" in text
    code, text = run_cli("--course-dir", str(course), "collect", str(tmp_path / "missing.zip"))
    assert code == 2 and "neither a zip file nor a folder" in text
    code, text = run_cli("--course-dir", str(tmp_path), "collect", str(tmp_path / "empty"))
    assert code == 2 and "nbgrader_config.py not found" in text


@pytest.mark.parametrize("late", [False, True])
@pytest.mark.parametrize("filename", ["basics.ipynb", "Copy of basics (1).ipynb", "basics-1.ipynb"])
def test_canvas_file_names_read_back_as_written(filename, late):
    login = canvas_login_name("Tim", "Berners-Lee")
    entry = canvas_file_name(login, "40213", 700012, filename, late=late)
    fields = match_fields(f"submissions/{entry}", BUILTIN_PATTERNS)
    assert login == "bernersleetim"
    assert fields == {
        "name": login,
        "student_id": "40213",
        "submission_id": "700012",
        "file": filename,
        **({"late": "LATE"} if late else {}),
    }


def test_links_reserved_ids_and_terminal_escapes_in_a_download_are_refused(course, tmp_path):
    download = tmp_path / "hostile"
    (download / "mallory").mkdir(parents=True)
    (download / "mallory" / "basics.ipynb").symlink_to(students.SOURCE / "basics" / "basics.ipynb")
    (download / "linked-folder").symlink_to(students.SOURCE / "basics")
    for student in ("report.csv", "class", "eve\x1b]52;c;cHduZWQ=\x07\x1b[2K"):
        path = download / student / "basics.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(notebook_bytes(students.answered(), student))
    (download / "carol").mkdir()
    (download / "carol" / "basics.ipynb").write_bytes(notebook_bytes(students.answered(), "carol"))
    code, text = run_cli("--course-dir", str(course), "collect", str(download))
    assert code == 0, text
    assert sorted(path.name for path in (course / "submitted").iterdir()) == ["carol"]
    assert "mallory/basics.ipynb: a symbolic link" in text and "linked-folder: a symbolic link" in text, text
    assert "'report.csv' cannot be a student id" in text and "'class' cannot be a student id" in text
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]52;c;" in text, text
