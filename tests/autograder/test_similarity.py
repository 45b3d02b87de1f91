"""The similarity report (autograder/reports/similarity.py): copies caught however disguised, independent
answers, the starter code and the model answers left alone, library source recognised, the flags in
``report`` with no score changed, the class page escaped and seen in a browser, the sample class.

The fixture lesson ``basics`` gets answers written straight into ``autograded/`` (the report reads
the graded notebooks); only the test of ``report`` uses the graded fixture class.
"""

import ast
import csv
import html
import itertools
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.courseroot import Course
from autograder.reports.class_page import similarity_page
from autograder.reports.similarity import (
    LIBRARY_PREFIX,
    Match,
    SimilarityReport,
    find_similar,
    library_sources,
    similarity_flags,
    write_similarity,
)
from autograder.samples.answers import own_answer, reformatted, renamed
from autograder.samples.check import disagreements, similarity_summary
from autograder.samples.files import EXPECTED_CSV, write_class, write_csv
from autograder.samples.kinds import KINDS
from autograder.samples.plan import make_class
from tests.autograder.test_sample_class import report_rows
from tests.autograder_fixtures import students
from tests.graded_course import ROOT, run_cli

pytestmark = pytest.mark.slow

DOCS = ROOT / "docs"
NORMALISE_STUB = students.NORMALISE + "    # YOUR CODE HERE\n    raise NotImplementedError()"
# A student's own normalise: a helper above the function, comments, names of the student's choosing.
OWN_HELPER = '''def spread(values, centre):
    """The population standard deviation of values around centre."""
    squared = [(value - centre) ** 2 for value in values.ravel()]
    return (sum(squared) / len(squared)) ** 0.5'''
OWN_BODY = """# centre first, then divide by the spread
values = np.asarray(x, dtype=float)
centre = values.sum() / values.size
scale = spread(values, centre)
if scale == 0:
    return values - centre  # a constant input has nothing to scale
return (values - centre) / scale"""
# Two more right answers, written independently.
INDEPENDENT = {
    "independent-stats": """mean = np.mean(x)
std = np.std(x)
result = np.empty_like(x, dtype=np.float64)
for index, value in np.ndenumerate(x):
    result[index] = (value - mean) / std
return result""",
    "independent-zscore": """import statistics

flat = [float(v) for v in np.ravel(x)]
mu, sigma = statistics.fmean(flat), statistics.pstdev(flat)
scaled = np.array([(v - mu) / sigma for v in flat])
return scaled.reshape(np.shape(x))""",
}
COPIES = ("own", "copied-exact", "copied-renamed", "copied-reformatted")
HOSTILE_STUDENT = "<img src=x onerror=window.ranScript=1>"


def own_normalise():
    return own_answer(NORMALISE_STUB, OWN_HELPER, OWN_BODY)


def library_function(module: str, name: str) -> str:
    """The source of one function of the course library, read without importing the library."""
    source = library_sources("course")[f"course/{module}"]
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(source, node)


def hand_in(folder: Path, student: str, **answers: str) -> None:
    """A graded notebook of basics for ``student`` with the answers given (the others correct)."""
    path = folder / "autograded" / student / "basics" / "basics.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(students.answered(**answers), path)


def basics_course(folder: Path) -> Course:
    """The fixture lessons as a course (released, with solutions), nothing graded yet."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(students.SOURCE, folder / "solutions")
    shutil.copytree(students.RELEASE, folder / "lessons")
    return Course.load(folder)


@pytest.fixture(scope="module")
def fixture_class(tmp_path_factory):
    """basics handed in by a student with answers of their own, three classmates who copied them (as
    they are, renamed and reordered with comments reworded, reformatted), two students who wrote their
    own, two with the model answers, one with the stub and one who pasted a library function."""
    course = basics_course(tmp_path_factory.mktemp("similar") / "course")
    code = own_normalise()
    copies = {
        "own": code,
        "copied-exact": code,
        "copied-renamed": renamed(code, {"normalise"}),
        "copied-reformatted": reformatted(code),
    }
    for student, answer in copies.items():
        hand_in(course.root, student, normalise_answer=answer)
    for student, body in INDEPENDENT.items():
        hand_in(course.root, student, normalise_answer=own_answer(NORMALISE_STUB, "", body))
    hand_in(course.root, "model-1")
    hand_in(course.root, "model-2")
    hand_in(course.root, "stub", normalise_answer=NORMALISE_STUB)
    pasted = library_function("augment.py", "cutmix")
    hand_in(course.root, "library", normalise_answer=pasted + "\n\n\n" + students.CORRECT_ANSWERS["normalise-answer"])
    return course, copies, pasted


def pairs(report, exercise="normalise-answer"):
    return {tuple(sorted((m.student, m.other))) for m in report.matches if not m.library and m.exercise == exercise}


def test_copies_are_caught_however_disguised_and_independent_answers_are_not(fixture_class):
    course, copies, _ = fixture_class
    renamed_code = copies["copied-renamed"]
    assert "def spread" not in renamed_code and "my_spread" in renamed_code and "my_centre" in renamed_code
    assert renamed_code.index("def normalise") < renamed_code.index("def my_spread"), "functions reordered"
    assert "centre first" not in renamed_code and "#" not in copies["copied-reformatted"]
    report = find_similar(course)
    assert pairs(report) == set(itertools.combinations(sorted(COPIES), 2))
    assert min(m.similarity for m in report.matches if not m.library) >= report.threshold
    comparable = report.comparable["basics"]["normalise-answer"]
    assert set(INDEPENDENT) <= set(comparable), "the independent answers were compared, and not flagged"
    assert report.pairs_compared >= len(list(itertools.combinations(comparable, 2)))
    exact = next(m for m in report.matches if {m.student, m.other} == {"copied-exact", "own"})
    assert exact.similarity == 1.0 and exact.lines == exact.other_lines
    assert exact.lines == list(range(1, len(copies["own"].splitlines()) + 1))
    assert pairs(report, "add-answer") == set()


def test_starter_code_and_model_answers_are_left_out(fixture_class):
    course, _, _ = fixture_class
    report = find_similar(course)
    comparable = report.comparable["basics"]
    # the model answers and the stub are nothing but the release and the solution: no code of their own
    for student in ("model-1", "model-2", "stub"):
        assert all(student not in names for names in comparable.values()), student
    assert not [m for m in report.matches if {"model-1", "model-2", "stub"} & {m.student, m.other}]


def test_an_answer_holding_library_source_is_named_with_its_module(fixture_class):
    course, _, pasted = fixture_class
    report = find_similar(course)
    library = [m for m in report.matches if m.library]
    assert [(m.student, m.other) for m in library] == [("library", LIBRARY_PREFIX + "course/augment.py")]
    match = library[0]
    source = library_sources("course")["course/augment.py"]
    first = source[: source.index(pasted)].count("\n") + 1
    pasted_lines = set(range(first, first + len(pasted.splitlines())))
    assert len(pasted_lines & set(match.other_lines)) > len(pasted_lines) / 2
    assert len(set(match.lines) & set(range(1, len(pasted.splitlines()) + 1))) > len(pasted.splitlines()) / 2
    flags = similarity_flags(report, "basics")
    assert [flag.code for flag in flags["library"]] == ["like-library"]
    assert "course/augment.py" in flags["library"][0].message and not flags["library"][0].serious
    assert {flag.code for flag in flags["copied-renamed"]} == {"similar"}
    assert "model-1" not in flags


def test_similarity_command_prints_writes_and_takes_a_threshold(fixture_class):
    course, _, _ = fixture_class
    code, text = run_cli("--course-dir", course.root, "similarity")
    assert code == 0, text
    assert "basics normalise-answer: copied-exact 100% alike with own" in text
    assert "basics normalise-answer: library" in text and "like course/augment.py" in text
    assert "21 pairs compared, 6 of them at 50% or more alike; answers like the course library: 1" in text
    saved = json.loads((course.root / "autograded" / "similarity.json").read_text())
    assert len(saved["matches"]) == 7 and saved["threshold"] == 0.5
    assert (course.root / "autograded" / "class" / "similarity.html").is_file()
    code, text = run_cli("--course-dir", course.root, "similarity", "--threshold", "1.01")
    assert code == 0 and "0 of them at 101% or more alike" in text, text


def test_report_adds_the_flags_and_changes_no_score(graded, tmp_path):
    folder = tmp_path / "course"
    shutil.copytree(graded[0], folder, ignore=shutil.ignore_patterns("gradebook.db.backup-*", "feedback"))
    code, before = run_cli("--course-dir", folder, "report", "--csv", tmp_path / "before.csv")
    assert code == 0, before
    own = own_normalise()
    for student, answer in (("correct", own), ("colab-saved", renamed(own, {"normalise"}))):
        hand_in(folder, student, normalise_answer=answer)
    code, text = run_cli("--course-dir", folder, "report", "--csv", tmp_path / "after.csv")
    assert code == 0, text
    rows = {name: list(csv.DictReader(open(tmp_path / name, encoding="utf-8"))) for name in ("before.csv", "after.csv")}
    for old, new in zip(rows["before.csv"], rows["after.csv"], strict=True):
        assert (old["student"], old["score"], old["serious"]) == (new["student"], new["score"], new["serious"])
        copied = new["lesson"] == "basics" and new["student"] in ("correct", "colab-saved")
        assert ("similar" in new["flags"].split()) == copied, new
    flagged = next(row for row in rows["after.csv"] if row["student"] == "correct")
    assert "normalise-answer: 100% alike with colab-saved" in flagged["reasons"]
    index = (tmp_path / "class" / "index.html").read_text()
    assert 'href="similarity.html"' in index


def hostile_report() -> SimilarityReport:
    code = 'def f(x):\n    """</pre><script>window.ranScript = true</script>"""\n    return x  # <b>bold</b>'
    match = Match("basics", "normalise-answer", HOSTILE_STUDENT, "<i>other</i>", 1.0, 60, code, code, [1, 2], [2, 3])
    return SimilarityReport(0.5, [match], {"basics": {"normalise-answer": [HOSTILE_STUDENT]}}, 1)


def test_the_page_shows_every_student_text_escaped():
    page = similarity_page(hostile_report())
    assert "<script>" not in page and "<img" not in page and "<b>bold" not in page and "<i>other" not in page
    assert "&lt;/pre&gt;&lt;script&gt;window.ranScript = true&lt;/script&gt;" in page
    assert html.escape(HOSTILE_STUDENT) in page and "&lt;b&gt;bold&lt;/b&gt;" in page


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A sample class of the course's lessons 2 and 3, each upload put in ``autograded/`` as if graded
    (the report reads the graded notebooks; grading adds nothing it compares), and its report."""
    folder = tmp_path_factory.mktemp("sample") / "course"
    folder.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    for step in ("solutions", "lessons"):
        shutil.copytree(ROOT / step, folder / step)
    course = Course.load(folder)
    lessons = ["lesson2_augmentation", "lesson3_scratch"]
    sample = make_class(course, students=19, seed=3, lessons=lessons)
    out = folder.parent / "out"
    write_class(sample, out)
    for student in sample.students:
        for lesson, work in student.work.items():
            try:
                notebook = nbformat.reads(work.uploads[-1].content.decode(), as_version=4)
            except (UnicodeDecodeError, ValueError, AttributeError, KeyError):
                continue
            if KINDS[work.kind].outcome != "zero":
                path = folder / "autograded" / student.user_id / lesson / f"{lesson}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, path)
    report = find_similar(course)
    write_similarity(course, report)
    return course, out, report


def test_the_sample_class_copies_are_flagged_and_nothing_else(sample):
    course, out, report = sample
    expected = list(csv.DictReader(open(out / EXPECTED_CSV, encoding="utf-8")))
    copied = {"own-answers", "copied-exact", "copied-renamed", "copied-reformatted"}
    assert {row["kind"] for row in expected} >= copied | {"own-answers-2", "own-answers-3"}
    for lesson in ("lesson2_augmentation", "lesson3_scratch"):
        flags = similarity_flags(report, lesson)
        rows = [row for row in expected if row["lesson"] == lesson]
        assert {row["student"] for row in rows if "similar" in row["flags"].split()} == set(flags), lesson
        assert {row["kind"] for row in rows if row["student"] in flags} == copied, lesson
    summary = similarity_summary(out / EXPECTED_CSV, course.root / "autograded" / "similarity.json")
    # lesson 2 has two exercises answered in the students' own words, lesson 3 one: 3 x 6 copied pairs
    assert summary.startswith("similarity: 18 of 18 pairs of copied answers flagged; 0 of ")
    assert summary.endswith("(false positives: 0.0%)")


def test_check_counts_an_unexpected_similarity_flag_as_a_disagreement(sample, tmp_path):
    _, out, _ = sample
    expected = list(csv.DictReader(open(out / EXPECTED_CSV, encoding="utf-8")))
    rows = report_rows(expected)
    copier = next(row for row in rows if row["flags"] == "similar")
    independent = next(row for row in rows if row["flags"] == "" and row["score"] not in ("", "0"))
    copier["flags"], independent["flags"] = "", "similar"
    report = tmp_path / "report.csv"
    write_csv(report, list(rows[0]), [list(row.values()) for row in rows])
    found = disagreements(out / EXPECTED_CSV, report)
    assert len(found) == 2, found
    assert "flags similar not expected" in found[0] + found[1] and "lack similar" in found[0] + found[1]


@pytest.mark.browser
def test_the_similarity_page_in_a_browser(sample):
    from playwright.sync_api import expect, sync_playwright

    from autograder.reports.class_page import write_similarity_page
    from tests.autograder.test_browser_grading import ACTIVE_ELEMENTS, chromium_path

    course, _, report = sample
    shown = SimilarityReport(
        report.threshold,
        [m for m in report.matches if m.exercise == "ex3-answer" and m.lesson == "lesson2_augmentation"]
        + hostile_report().matches,
        report.comparable,
        report.answers,
    )
    page_path = write_similarity_page(course.root / "autograded" / "class", shown)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(page_path.as_uri())
            expect(page.locator("h1")).to_have_text("Similar answers")
            first = page.locator(".pair").first
            expect(first.locator("pre").first.locator("span.shared").first).to_be_visible()
            shared_colour = first.locator("span.shared").first.evaluate("e => getComputedStyle(e).backgroundColor")
            assert shared_colour == "rgb(255, 229, 158)"
            expect(page.get_by_text("window.ranScript = true").first).to_be_visible()
            assert page.evaluate("window.ranScript === undefined") and page.evaluate(ACTIVE_ELEMENTS) == 0
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "similarity-page.png"))
        finally:
            browser.close()
