"""The course's site (docs/, built by Sphinx with MyST and myst-nb): it builds with no warning, every relative
link and image of the result resolves, the lessons are the students' versions, and Chromium shows it.

The site is built once per test session, as ``make docs`` builds it. External links are not checked: the
machines that build the course have no internet access.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LESSONS = sorted(path.name for path in (ROOT / "lessons").iterdir() if path.is_dir())
SPHINX_FLAGS = ("-W", "--keep-going", "-n", "-q", "-b", "html")  # as `make docs` builds (tests/test_tiers.py)


def build_site(source: Path, out: Path, *settings: str) -> subprocess.CompletedProcess:
    """``sphinx-build`` as ``make docs`` runs it: warnings are errors (``-W``), every one reported
    (``--keep-going``), every reference must resolve (``-n``); ``settings`` override docs/conf.py."""
    return subprocess.run(
        [sys.executable, "-m", "sphinx", *SPHINX_FLAGS, *settings, str(source), str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "html"
    started = time.monotonic()
    result = build_site(DOCS, out)
    print(f"site built in {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, f"the site's build failed:\n{result.stderr}"
    assert "WARNING" not in result.stderr, result.stderr
    return out


class _Targets(HTMLParser):
    """The ids of a page and the relative targets of its href and src attributes."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src") and value and not urlsplit(value).scheme and not value.startswith("//"):
                self.links.append(value)


def broken_links(site_dir: Path) -> list[str]:
    """Every relative href or src of the site's HTML pages that names a missing file, or a missing id on a
    page of the site, as ``page: link``. The theme's templates copied into _static/ are no pages."""
    pages = {}
    for page in sorted(site_dir.rglob("*.html")):
        if "_static" in page.relative_to(site_dir).parts:
            continue
        parser = _Targets()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page.resolve()] = parser
    broken = []
    for page, parser in pages.items():
        for link in parser.links:
            parts = urlsplit(link)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            anchor = unquote(parts.fragment)
            missing_file = not target.is_file()
            missing_anchor = anchor and target in pages and anchor not in pages[target].ids
            if missing_file or missing_anchor:
                broken.append(f"{page.relative_to(site_dir.resolve())}: {link}")
    return broken


def test_the_site_builds_and_every_relative_link_resolves(site):
    assert broken_links(site) == []
    for page in ["index", "students/lessons", "students/colab", "instructors/index", "architecture", "ci"]:
        assert (site / f"{page}.html").is_file(), page
    assert (site / "benchmarks.html").is_file() and (site / "measurements.html").is_file()


def test_the_link_checker_finds_a_missing_page_image_and_anchor(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<p id="top"><a href="sub/page.html#here">ok</a> <a href="#top">ok</a> <a href="https://example.org/x">'
        'external</a> <a href="gone.html">gone</a> <img src="missing.png"> <a href="sub/page.html#nowhere">x</a></p>'
    )
    (tmp_path / "sub" / "page.html").write_text('<h1 id="here">Page</h1><a href="../index.html#top">back</a>')
    assert broken_links(tmp_path) == [
        "index.html: gone.html",
        "index.html: missing.png",
        "index.html: sub/page.html#nowhere",
    ]


def test_a_broken_reference_fails_the_build(tmp_path):
    """The build's settings (docs/conf.py, -W -n) turn a link to a missing page or heading into an error."""
    source = tmp_path / "docs"
    source.mkdir()
    (source / "conf.py").write_text((DOCS / "conf.py").read_text())
    (source / "index.md").write_text(
        "# Home\n\n## A heading\n\n[fine](#a-heading), [missing page](nothere.md), [missing heading](#nowhere)\n"
    )
    result = build_site(source, tmp_path / "html", "-D", "html_theme=basic")  # the theme plays no part here
    assert result.returncode != 0
    assert "nothere" in result.stderr and "nowhere" in result.stderr, result.stderr


def test_the_lessons_are_the_students_versions_without_outputs(site):
    for lesson in LESSONS:
        page = (site / "lessons" / lesson / f"{lesson}.html").read_text(encoding="utf-8")
        assert "YOUR CODE HERE" in page, f"{lesson}: expected the released answer stubs"
        assert "BEGIN SOLUTION" not in page and "BEGIN HIDDEN TESTS" not in page, lesson
        assert "cell_output" not in page, f"{lesson}: the lessons are committed, and shown, without outputs"


@pytest.mark.browser
def test_chromium_opens_the_site_and_a_lesson_from_its_navigation(site):
    """The home page links the lessons; a click reaches lesson 1, whose title the page shows; the site's own
    files load and no script fails. Writes the screenshot the README shows (docs/site.png)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.autograder.test_browser_grading import chromium_path

    errors = []

    def failed_request(request):
        if request.url.startswith("file:"):
            errors.append(f"not loaded: {request.url}")

    def console_error(message):
        # A resource that failed is counted by failed_request: the site's own files must load, and external ones
        # (the Colab badge's image) are refused at once, as on the offline machines that build the course.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(f"console: {message.text}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda error: errors.append(f"script error: {error}"))
            page.on("requestfailed", failed_request)
            page.on("console", console_error)
            page.route(re.compile(r"^https?://"), lambda route: route.abort())
            page.goto((site / "index.html").as_uri())
            expect(page.get_by_role("heading", level=1)).to_contain_text("Stanford Dogs")
            page.get_by_role("navigation").get_by_role("link", name="Lessons", exact=True).first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Lessons#")
            page.get_by_role("main").get_by_role("link", name="Lesson 1").first.click()
            expect(page).to_have_url(f"{(site / 'lessons' / LESSONS[0] / LESSONS[0]).as_uri()}.html")
            expect(page.get_by_role("heading", level=1)).to_contain_text("Lesson 1")
            expect(page.get_by_role("main")).to_contain_text("YOUR CODE HERE")
            page.screenshot(path=str(DOCS / "site.png"))
        finally:
            browser.close()
    assert errors == []
