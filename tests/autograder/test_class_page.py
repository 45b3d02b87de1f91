"""The class at a glance (autograder/reports/class_page.py) on the graded fixture class: the numbers on the
pages are the gradebook's, the plots are embedded PNGs, and the pages need no server."""

import base64
import re
from html.parser import HTMLParser

import pytest
from nbgrader.api import Gradebook, MissingEntry

from autograder.courseroot import Course
from autograder.reports.class_page import summarise_lesson
from tests.autograder_fixtures import students
from tests.graded_course import FULL, HALF, ZERO, run_cli

pytestmark = pytest.mark.slow

CHECKS = list(students.AUTO_POINTS)  # basics' test cells, in notebook order


class Tables(HTMLParser):
    """The rows of every table of a page, as lists of cell texts, and every src/href."""

    def __init__(self):
        super().__init__()
        self.rows, self.links, self.cell = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[key] for key in ("src", "href") if key in attrs]
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self.cell)
            self.cell = None


def parse(path):
    tables = Tables()
    tables.feed(path.read_text(encoding="utf-8"))
    return tables


@pytest.fixture(scope="module")
def pages(graded, tmp_path_factory):
    folder, _ = graded
    out = tmp_path_factory.mktemp("report")
    code, text = run_cli("--course-dir", str(folder), "report", "--csv", str(out / "report.csv"))
    assert code == 0, text
    assert f"wrote {out / 'class' / 'index.html'}" in text
    return folder, out / "class"


def test_lesson_numbers_are_the_gradebooks(graded):
    folder, _ = graded
    course = Course.load(folder)
    with Gradebook(course.db_url, "transfer-learning") as gradebook:
        summary = summarise_lesson(course, gradebook, "basics")
        everyone = sorted(student.id for student in gradebook.students)
        scores = {student: gradebook.find_submission("basics", student).score for student in everyone}
        grades = {
            (student, cell): gradebook.find_grade(cell, "basics", "basics", student)
            for student in everyone
            for cell in CHECKS + ["explain"]
        }
        grades = {key: (grade.score, grade.max_score, grade.needs_manual_grade) for key, grade in grades.items()}
        with pytest.raises(MissingEntry):
            gradebook.find_submission("vectors", everyone[0])
        vectors = summarise_lesson(course, gradebook, "vectors")
    assert summary.scores == scores and summary.missing == []
    assert sorted(everyone) == sorted({**FULL, **HALF, **ZERO})
    assert [check.cell for check in summary.checks] == CHECKS, "notebook order"
    for check in summary.checks:
        assert check.graded == len(everyone)
        assert check.passed == sum(grades[(s, check.cell)][0] >= grades[(s, check.cell)][1] for s in everyone)
    passed = {check.cell: check.passed for check in summary.checks}
    # what the fixture's cases are made to earn: each half case loses one exercise, normalise for those
    # that cheat on it (students.WRONG_ANSWER), add for the others
    cheat_on_normalise = len(set(HALF) & set(students.WRONG_ANSWER))
    assert passed == {
        "add-tests": len(FULL) + cheat_on_normalise,
        "normalise-tests": len(FULL) + len(HALF) - cheat_on_normalise,
    }
    assert summary.to_grade == [(s, "basics", "explain") for s in everyone if grades[(s, "explain")][2]]
    assert {s for s, _, _ in summary.to_grade} >= set(FULL)
    assert [student for student, flag in summary.late] == ["correct", "correct"]
    serious = {student for student, flag in summary.flags if flag.serious}
    assert serious >= set(ZERO) and not serious & set(FULL)
    assert [flag.serious for _, flag in summary.flags] == sorted((f.serious for _, f in summary.flags), reverse=True)
    assert vectors.scores == {} and vectors.missing == everyone


def test_pages_show_the_numbers_and_open_from_disk(pages):
    folder, class_dir = pages
    course = Course.load(folder)
    with Gradebook(course.db_url, "transfer-learning") as gradebook:
        summary = summarise_lesson(course, gradebook, "basics")
    lesson = parse(class_dir / "basics.html")
    check_rows = [row for row in lesson.rows if len(row) == 6 and row[1] in CHECKS]
    assert [(row[1], int(row[3]), int(row[4])) for row in check_rows] == [
        (check.cell, check.passed, check.graded) for check in summary.checks
    ]
    to_grade = [row[0] for row in lesson.rows if row[1:] == ["basics", "explain"]]
    assert to_grade == [student for student, _, _ in summary.to_grade]
    assert ["correct", "12.0 h after the due date"] in lesson.rows
    reasons = {(row[0], row[1]): row[2] for row in lesson.rows if len(row) == 4}
    assert reasons[("not-json", "unreadable")].startswith("basics.ipynb: the file is not valid JSON")
    assert reasons[("os-exit", "kernel-died")].startswith("add-tests:")
    index = parse(class_dir / "index.html")
    basics_row = next(row for row in index.rows if row[0] == "basics")
    assert basics_row[1:3] == [str(len(summary.scores)), "0"]
    assert basics_row[5:] == [str(len(summary.to_grade)), str(len(summary.flagged_students)), "1"]
    vectors_row = next(row for row in index.rows if row[0] == "vectors")
    assert vectors_row[1:3] == ["0", str(len(summary.scores))]
    assert {"basics.html", "vectors.html"} <= set(index.links)
    for page in (class_dir / "index.html", class_dir / "basics.html"):
        links = parse(page).links
        images = [link for link in links if link.startswith("data:image/png;base64,")]
        assert images, page
        for image in images:
            assert base64.b64decode(image.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
        assert not [link for link in links if re.match(r"(https?:)?//", link)], "nothing to fetch"
