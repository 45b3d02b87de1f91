"""Manual grading in JupyterLab's formgrader, on submissions the autograder has graded.

A copy of the graded fixture class (tests/graded_course.py: repaired, restored and Colab-saved
notebooks, graded in scratch gradebooks and merged) is served by a real JupyterLab on 127.0.0.1
with a token. Through the formgrader's API every autograded submission must open with its written
answer gradable and its mark scheme beside it; then Debian's chromium, driven by Playwright, grades
one written answer on the formgrader's page, and the gradebook, ``report``, ``feedback``, the class
page and the Canvas export must show the grade. The screenshots the README shows are written to docs/.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.reports.feedback import visible_text
from tests.autograder_fixtures import students
from tests.graded_course import ZERO, run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Repaired before grading: its cells lost their nbgrader metadata and ids, which the autograder restored.
STUDENT = "metadata-and-ids-stripped"
API_STUDENT = "colab-stripped"
COMMENT = "Right: scaled inputs keep the optimisation well conditioned."
# A student whose written answer and outputs carry script: the formgrader must show them as text.
HOSTILE = "script-in-answers"
HOSTILE_ANSWER = (
    "Scaling keeps the optimisation well conditioned (hostile-answer-text).\n\n"
    '<img src="x" onerror="document.title = \'ran-onerror\'; window.ranScript = true">\n'
    "<script>window.ranScript = true; document.title = 'ran-script'</script>\n"
    '<a href="javascript:window.ranScript = true">hostile-link</a>'
)
# Elements of a page that would run a student's script (event handlers, their <script>, javascript: links, SVG).
ACTIVE_ELEMENTS = """[...document.querySelectorAll('*')].filter(element =>
    [...element.attributes].some(attribute => attribute.name.startsWith('on') && attribute.value.includes('ranScript'))
    || (element.tagName === 'SCRIPT' && element.text.includes('ranScript'))
    || (element.tagName === 'A' && element.href.startsWith('javascript:'))
    || element.tagName.toLowerCase() === 'svg' && element.innerHTML.includes('ranScript')).length"""
HOSTILE_OUTPUTS = (
    "\n\nfrom IPython.display import HTML, SVG, Javascript, display\n"
    "display(HTML('<img src=x onerror=\"window.ranScript = true\"><b>bold output</b>'))\n"
    "display(Javascript(\"window.ranScript = true; document.title = 'ran-js-output'\"))\n"
    "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"><script>window.ranScript = true</script></svg>'))\n"
)
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chromium_path() -> str:
    """Debian's chromium (``$CHROMIUM`` if set); skipped outside CI when it or Playwright is missing."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if not path:
        message = (
            "needs Debian's chromium and the playwright package: apt-get install chromium; pip install -e '.[dev]'"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class Lab:
    """A JupyterLab server on 127.0.0.1 and its token."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def call(self, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, str]:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def json(self, path: str) -> object:
        status, text = self.call(path)
        assert status == 200, (path, status, text[-2000:])
        return json.loads(text)


@pytest.fixture(scope="module")
def course(graded, tmp_path_factory):
    """A copy of the graded class (grading here must not change the shared one)."""
    folder = tmp_path_factory.mktemp("lab") / "course"
    shutil.copytree(graded[0], folder, ignore=shutil.ignore_patterns("gradebook.db.backup-*", "feedback"))
    hostile = students.answered(
        explain=HOSTILE_ANSWER, add_answer=students.CORRECT_ANSWERS["add-answer"] + HOSTILE_OUTPUTS
    )
    students.write_submission(folder, HOSTILE, "basics", hostile)
    code, text = run_cli("--course-dir", str(folder), "grade", "--students", HOSTILE)
    assert code == 0, text
    return folder


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    """JupyterLab started as ``make lab`` starts it: in the course root, which is its root folder."""
    home = tmp_path_factory.mktemp("jupyter")
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    log_path = home / "lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--port-retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={course}",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            cwd=course,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Lab(f"http://127.0.0.1:{port}", token)
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            try:
                if server.call("/formgrader/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def submitted_notebooks(lab: Lab) -> dict[str, dict]:
    return {entry["student"]: entry for entry in lab.json("/formgrader/api/submitted_notebooks/basics/basics")}


def explain_grade(lab: Lab, submission_id: str) -> dict:
    return next(
        grade
        for grade in lab.json(f"/formgrader/api/grades?submission_id={submission_id}")
        if grade["name"] == "explain"
    )


def test_formgrader_opens_every_autograded_submission_with_its_mark_scheme(lab, course):
    listed = submitted_notebooks(lab)
    graded_notebooks = {path.parent.parent.name for path in (course / "autograded").glob("*/basics/basics.ipynb")}
    assert set(listed) == graded_notebooks
    # Files that could not be read have no graded notebook: the formgrader cannot list them (the
    # report and the class page flag them, scored 0).
    unreadable = set(ZERO) - {"other-lesson"}
    assert unreadable and not unreadable & set(listed)
    for student, entry in sorted(listed.items()):
        status, page = lab.call(f"/formgrader/submissions/{entry['id']}/")
        assert status == 200, (student, page[-2000:])
        assert 'id="explain"' in page and 'id="explain-comment"' in page, student
        answer_ends, scheme = page.find('id="explain-comment"'), page.find("mark-scheme-explain")
        assert answer_ends < scheme, f"{student}: the mark scheme is not right after the written answer"
        grade = explain_grade(lab, entry["id"])
        # other-lesson handed in lesson vectors: its written answer is the restored, unanswered stub,
        # which nbgrader scores 0 without a grader
        unanswered = student == "other-lesson"
        assert (grade["max_score"], grade["auto_score"], grade["manual_score"]) == (
            1.0,
            0.0 if unanswered else None,
            None,
        ), student
        assert grade["needs_manual_grade"] != unanswered, student


def test_a_grade_entered_through_the_formgrader_api_reaches_the_gradebook(lab, course):
    entry = submitted_notebooks(lab)[API_STUDENT]
    grade = explain_grade(lab, entry["id"])
    status, text = lab.call(f"/formgrader/api/grade/{grade['id']}", "PUT", {"manual_score": 0.5})
    assert status == 200, text
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "transfer-learning") as gradebook:
        stored = gradebook.find_grade("explain", "basics", "basics", API_STUDENT)
        assert (stored.manual_score, stored.needs_manual_grade) == (0.5, False)


def test_grade_a_written_answer_in_the_browser(lab, course, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    entry = submitted_notebooks(lab)[STUDENT]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{lab.url}/lab?token={lab.token}")
            page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
            page.get_by_role("menuitem", name="Formgrader", exact=True).click()
            panel = page.frame_locator("iframe")
            expect(panel.get_by_text("Manage Assignments").first).to_be_visible(timeout=30_000)
            expect(panel.get_by_role("link", name="basics").first).to_be_visible()

            page.goto(f"{lab.url}/formgrader/submissions/{entry['id']}/")
            page.wait_for_load_state("networkidle")  # its scripts bound their handlers (slow under load)
            score = page.locator("#explain")
            expect(score).to_be_visible()
            with page.expect_response(
                lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT"
            ) as saved_score:
                score.fill("1")
                score.press("Tab")
            assert saved_score.value.ok
            comment = page.locator("#explain-comment")
            with page.expect_response(
                lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT"
            ) as saved_comment:
                comment.fill(COMMENT)
                comment.press("Tab")
            assert saved_comment.value.ok
            # The same picture on every run: the student's id rather than "Submission #n" (n follows the
            # gradebook's random ids), no focus ring, the "saved" ticks faded out.
            page.locator(".glyphicon.name-hidden").click()
            page.mouse.move(5, 500)
            expect(page.locator(".tooltip")).to_have_count(0)
            page.evaluate("document.activeElement.blur()")
            page.wait_for_function(
                "[...document.querySelectorAll('.save-icon')].every(icon => getComputedStyle(icon).display === 'none')"
            )
            page.evaluate("document.getElementById('explain').scrollIntoView({block: 'center'})")
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "formgrader.png"))

            with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "transfer-learning") as gradebook:
                grade = gradebook.find_grade("explain", "basics", "basics", STUDENT)
                assert (grade.manual_score, grade.needs_manual_grade) == (1.0, False)
                assert gradebook.find_comment("explain", "basics", "basics", STUDENT).manual_comment == COMMENT
                assert gradebook.find_submission("basics", STUDENT).score == 5.0

            code, text = run_cli("--course-dir", str(course), "report", "--csv", str(tmp_path / "report.csv"))
            assert code == 0, text
            line = next(row for row in text.splitlines() if row.startswith(f"{STUDENT} "))
            assert line.split()[1:3] == ["5", "5"] and "to-grade" not in line, line
            code, text = run_cli(
                "--course-dir",
                str(course),
                "export",
                "--canvas",
                str(tmp_path / "canvas.csv"),
                "--to",
                str(tmp_path / "grades.csv"),
            )
            assert code == 0, text
            assert f"{STUDENT},{STUDENT},,,5," in (tmp_path / "canvas.csv").read_text().splitlines()
            code, text = run_cli("--course-dir", str(course), "feedback", "--students", STUDENT)
            assert code == 0 and "WITHHELD" not in text, text
            feedback = visible_text((course / "feedback" / STUDENT / "basics" / "basics.html").read_text())
            assert COMMENT in feedback and "Score: 5.0 / 5.0" in feedback
            assert "mark-scheme-explain" not in feedback

            page.goto((tmp_path / "class" / "basics.html").as_uri())
            to_grade = page.locator("h2:has-text('Written answers to grade') + table")
            expect(to_grade).to_contain_text("os-exit")
            expect(to_grade).not_to_contain_text(STUDENT)
            assert page.evaluate("[...document.images].every(image => image.complete && image.naturalWidth > 0)")
            page.screenshot(path=str(DOCS / "class-page.png"))
        finally:
            browser.close()


def test_student_script_never_runs_in_the_formgrader_or_feedback(lab, course):
    from playwright.sync_api import sync_playwright

    entry = submitted_notebooks(lab)[HOSTILE]
    status, page_html = lab.call(f"/formgrader/submissions/{entry['id']}/")
    assert status == 200 and "hostile-answer-text" in page_html and "bold output" in page_html
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        try:
            page = browser.new_page()
            page.goto(f"{lab.url}/formgrader/submissions/{entry['id']}/?token={lab.token}")
            page.wait_for_load_state("networkidle")
            page.locator("text=hostile-answer-text").first.wait_for()
            assert page.evaluate("window.ranScript === undefined && !document.title.startsWith('ran-')")
            # Shown as text or removed: no element that runs it when loaded, hovered or clicked.
            assert page.evaluate(ACTIVE_ELEMENTS) == 0
            page.click("text=hostile-link")
            assert page.evaluate("window.ranScript === undefined")
        finally:
            browser.close()
    code, text = run_cli("--course-dir", str(course), "feedback", "--students", HOSTILE)
    assert code == 0, text
    feedback = course / "feedback" / HOSTILE / "basics" / "basics.html"
    assert "hostile-answer-text" in feedback.read_text()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        try:
            page = browser.new_page()
            page.goto(feedback.as_uri())
            page.wait_for_load_state("load")
            assert page.evaluate("window.ranScript === undefined") and page.evaluate(ACTIVE_ELEMENTS) == 0
        finally:
            browser.close()
