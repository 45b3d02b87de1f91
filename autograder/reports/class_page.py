"""The class at a glance: one HTML page per lesson and one for the course, written by ``report``.

A lesson's page shows the spread of scores (a histogram), each autograded check's pass rate across
the class in the order of the notebook (which check caught most students), the written answers
still to grade, the flags with their reasons and the late submissions. The course page sums the
lessons up and links to them and to the similarity page: the answers alike side by side, the shared
lines marked (``autograder.reports.similarity``). Plots are matplotlib PNGs embedded in the page, so a page opens from
disk in any browser, with no server.
"""

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from matplotlib.figure import Figure
from nbgrader.api import Gradebook

from autograder.courseroot import Course
from autograder.flags import Flag
from autograder.reports.report import lesson_rows
from autograder.reports.similarity import LIBRARY_PREFIX, Match, SimilarityReport, line_ranges, percent, read_similarity

COURSE_PAGE = "index.html"
SIMILARITY_PAGE = "similarity.html"
LIBRARY_CONTEXT_LINES = 3  # lines shown around the shared ones of a library module
# Flags the page shows in sections of their own rather than among the flags.
OWN_SECTION_FLAGS = ("late", "missing")
HARDEST_CHECKS_SHOWN = 10


@dataclass(frozen=True)
class CheckRate:
    """How many graded submissions earned a test cell's full points."""

    notebook: str
    cell: str
    points: float
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass
class LessonSummary:
    """What a lesson's page shows, read from the gradebook and the autograder's records."""

    lesson: str
    max_score: float
    scores: dict[str, float] = field(default_factory=dict)  # student -> score, submitted only
    missing: list[str] = field(default_factory=list)  # students who submitted nothing
    checks: list[CheckRate] = field(default_factory=list)  # notebook order
    to_grade: list[tuple[str, str, str]] = field(default_factory=list)  # (student, notebook, cell)
    flags: list[tuple[str, Flag]] = field(default_factory=list)  # (student, flag), serious first
    late: list[tuple[str, Flag]] = field(default_factory=list)

    @property
    def flagged_students(self) -> set[str]:
        return {student for student, flag in self.flags if flag.serious}


def notebook_order(course: Course, lesson: str, notebook: str) -> list[str]:
    """Grade ids of a released notebook in the order of its cells (empty if it is not released)."""
    path = course.folder("release") / lesson / f"{notebook}.ipynb"
    if not path.is_file():
        return []
    cells = nbformat.read(path, as_version=4).cells
    return [
        cell.metadata["nbgrader"]["grade_id"] for cell in cells if cell.metadata.get("nbgrader", {}).get("grade_id")
    ]


def summarise_lesson(course: Course, gradebook: Gradebook, lesson: str) -> LessonSummary:
    """Scores, check pass rates, answers to grade, flags and late work of one lesson."""
    assignment = gradebook.find_assignment(lesson)
    summary = LessonSummary(lesson, assignment.max_score)
    for student, score, _, _, flags in lesson_rows(course, gradebook, lesson):
        if score is None:
            summary.missing.append(student)
        else:
            summary.scores[student] = score
        for flag in flags:
            if flag.code == "late":
                summary.late.append((student, flag))
            elif flag.code not in OWN_SECTION_FLAGS:
                summary.flags.append((student, flag))
    summary.flags.sort(key=lambda pair: (not pair[1].serious, pair[0]))
    for notebook in sorted(assignment.notebooks, key=lambda nb: nb.name):
        answers = {cell.name for cell in notebook.solution_cells}
        checks = {cell.name: cell for cell in notebook.grade_cells if cell.name not in answers}
        order = notebook_order(course, lesson, notebook.name)
        names = sorted(
            (cell.name for cell in notebook.grade_cells),
            key=lambda name: (order.index(name) if name in order else len(order), name),
        )
        rank = {name: position for position, name in enumerate(names)}
        passed = dict.fromkeys(checks, 0)
        graded = dict.fromkeys(checks, 0)
        for submitted in sorted(gradebook.notebook_submissions(notebook.name, lesson), key=lambda nb: nb.student.id):
            for grade in sorted(submitted.grades, key=lambda grade: rank.get(grade.name, len(rank))):
                if grade.name in checks:
                    graded[grade.name] += 1
                    passed[grade.name] += grade.score >= grade.max_score
                elif grade.needs_manual_grade:
                    summary.to_grade.append((submitted.student.id, notebook.name, grade.name))
        summary.checks += [
            CheckRate(notebook.name, name, checks[name].max_score, passed[name], graded[name])
            for name in names
            if name in checks
        ]
    return summary


def figure_png(figure: Figure) -> str:
    """A figure as an ``<img>`` whose PNG is embedded in the page."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def histogram(values: list[float], maximum: float, xlabel: str, title: str) -> str:
    """A histogram of scores from 0 to ``maximum``, one bar per point when there are few points."""
    figure = Figure(figsize=(6.4, 3.2))
    axes = figure.subplots()
    top = max(maximum, max(values, default=0.0), 1.0)
    bins = np.arange(-0.5, np.floor(top) + 1.5) if top <= 30 else np.linspace(0, top, 21)
    axes.hist(values, bins=bins, color="#3b6ea5", edgecolor="white")
    axes.set_xlim(bins[0], bins[-1])
    axes.set_xlabel(xlabel)
    axes.set_ylabel("students")
    axes.set_title(title)
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure_png(figure)


def pass_rate_chart(checks: list[CheckRate]) -> str:
    """Horizontal bars of each check's pass rate, the notebook's first check on top."""
    figure = Figure(figsize=(6.4, 0.45 * len(checks) + 1.2))
    axes = figure.subplots()
    labels = [f"{check.cell} ({check.points:g} pt)" for check in checks]
    rates = [100 * check.rate for check in checks]
    positions = np.arange(len(checks))[::-1]
    axes.barh(positions, rates, color=["#b5443b" if rate < 50 else "#3b6ea5" for rate in rates])
    axes.set_yticks(positions, labels)
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of submissions with full points")
    for position, check in zip(positions, checks, strict=True):
        axes.text(min(100 * check.rate + 1, 88), position, f"{check.passed}/{check.graded}", va="center")
    return figure_png(figure)


def table(headers: list[str], rows: list[list[object]], serious: list[bool] | None = None) -> str:
    """An HTML table, every cell escaped; rows marked in ``serious`` are highlighted."""
    head = "".join(f"<th>{html.escape(str(header))}</th>" for header in headers)
    marks = serious or [False] * len(rows)
    body = "".join(
        ('<tr class="serious">' if mark else "<tr>")
        + "".join(f"<td>{html.escape(str(value))}</td>" for value in row)
        + "</tr>"
        for row, mark in zip(rows, marks, strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, wide: bool = False) -> str:
    style = (
        f"body{{font-family:sans-serif;max-width:{'96em;padding:0 1.5em' if wide else '60em'};margin:2em auto;"
        "color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:left}th{background:#f0f0f0}tr.serious td{background:#fbe3e1}.none{color:#777}"
        "img{max-width:100%}.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em;"
        "margin-bottom:2em}"
        ".pair pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em 0;overflow-x:auto;font-size:.85em;"
        "margin:0}.pair pre span{display:block;padding:0 .5em;white-space:pre}.pair pre span.shared"
        "{background:#ffe59e}.pair pre span.gap{color:#777}.pair h4{margin:.2em 0}"
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def section(title: str, content: str, empty: bool, nothing: str) -> str:
    shown = f'<p class="none">{html.escape(nothing)}</p>' if empty else content
    return f"<h2>{html.escape(title)}</h2>{shown}"


def lesson_page(summary: LessonSummary) -> str:
    """The HTML page of one lesson."""
    scores = list(summary.scores.values())
    facts = (
        f"<p>{len(scores)} submitted, {len(summary.missing)} missing"
        + (f" ({html.escape(', '.join(summary.missing))})" if summary.missing else "")
        + (
            f"; mean {np.mean(scores):.2f}, median {np.median(scores):g} of {summary.max_score:g} points"
            if scores
            else ""
        )
        + '. <a href="index.html">The course</a></p>'
    )
    plots = histogram(scores, summary.max_score, "score (points)", f"{summary.lesson}: scores") if scores else ""
    checks = [
        [check.notebook, check.cell, f"{check.points:g}", check.passed, check.graded, f"{100 * check.rate:.0f} %"]
        for check in summary.checks
    ]
    flags = [[student, flag.code, flag.message, "yes" if flag.serious else ""] for student, flag in summary.flags]
    serious = [flag.serious for _, flag in summary.flags]
    body = "".join(
        [
            facts,
            plots,
            section(
                "Checks in notebook order",
                (pass_rate_chart(summary.checks) if summary.checks else "")
                + table(["notebook", "test cell", "points", "full points", "graded", "pass rate"], checks),
                not summary.checks,
                "This lesson has no autograded checks.",
            ),
            section(
                "Written answers to grade",
                table(["student", "notebook", "answer"], summary.to_grade),
                not summary.to_grade,
                "Every written answer is graded.",
            ),
            section("Flags", table(["student", "flag", "reason", "serious"], flags, serious), not flags, "No flags."),
            section(
                "Late submissions",
                table(["student", "why"], [[s, f.message] for s, f in summary.late]),
                not summary.late,
                "No late submissions.",
            ),
        ]
    )
    return page(f"{summary.lesson}: the class at a glance", body)


def code_lines(code: str, shared: list[int], only_near_shared: bool = False) -> str:
    """``code`` as a ``<pre>`` of escaped, numbered lines, the ``shared`` ones marked; with
    ``only_near_shared``, just the lines near the shared ones (a library module is long)."""
    marked = set(shared)
    lines = code.splitlines()
    shown = range(1, len(lines) + 1)
    if only_near_shared:
        near = {n for line in marked for n in range(line - LIBRARY_CONTEXT_LINES, line + LIBRARY_CONTEXT_LINES + 1)}
        shown = [n for n in shown if n in near]
    out, previous = [], 0
    for number in shown:
        if number > previous + 1:
            out.append('<span class="gap">...</span>')
        kind = ' class="shared"' if number in marked else ""
        out.append(f"<span{kind}>{number:4d}  {html.escape(lines[number - 1])}</span>")
        previous = number
    return f"<pre>{''.join(out)}</pre>"


def match_block(anchor: str, match: Match) -> str:
    """One match: the two answers (or the answer and the library module) side by side."""
    other = match.other.removeprefix(LIBRARY_PREFIX)
    alike = "like the course library's" if match.library else "alike with"
    title = f"{match.lesson} {match.exercise}: {match.student} {percent(match.similarity)} {alike} {other}"
    return (
        f'<h3 id="{anchor}">{html.escape(title)}</h3><div class="pair">'
        f"<div><h4>{html.escape(match.student)}</h4>{code_lines(match.code, match.lines)}</div>"
        f"<div><h4>{html.escape(other)}</h4>{code_lines(match.other_code, match.other_lines, match.library)}</div>"
        "</div>"
    )


def similarity_page(report: SimilarityReport) -> str:
    """The HTML page of the similarity report: a table of the matches, then each one side by side."""
    pairs = sum(not match.library for match in report.matches)
    facts = (
        f"<p>Code answers compared with each other, exercise by exercise, and with the course library's "
        f"modules; the released starter code and the model answers are left out. Listed: answers sharing "
        f"{percent(report.threshold)} or more of their own code. {report.pairs_compared} pairs compared, "
        f"{pairs} listed; {len(report.matches) - pairs} answers like the library. Shared lines are marked. "
        'A flag asks for a look: no score was changed. <a href="index.html">The course</a></p>'
    )
    rows = [
        [
            match.lesson,
            match.exercise,
            match.student,
            match.other.removeprefix(LIBRARY_PREFIX),
            percent(match.similarity),
            line_ranges(match.lines),
        ]
        for match in report.matches
    ]
    listing = table(["lesson", "exercise", "student", "alike with", "share", "shared lines"], rows)
    blocks = "".join(match_block(f"match-{index}", match) for index, match in enumerate(report.matches, 1))
    body = facts + section("Matches", listing + blocks, not report.matches, "No answers alike.")
    return page("Similar answers", body, wide=True)


def write_similarity_page(folder: Path, report: SimilarityReport) -> Path:
    """Write ``similarity.html`` into ``folder``; return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SIMILARITY_PAGE
    path.write_text(similarity_page(report), encoding="utf-8")
    return path


def course_page(summaries: list[LessonSummary], similar: SimilarityReport | None = None) -> str:
    """The HTML page of the course: one row per lesson, the spread of totals, the hardest checks."""
    students = sorted(set().union(*(set(s.scores) | set(s.missing) for s in summaries)))
    totals = [sum(s.scores.get(student, 0.0) for s in summaries) for student in students]
    maximum = sum(s.max_score for s in summaries)
    rows = [
        [
            s.lesson,
            len(s.scores),
            len(s.missing),
            f"{np.mean(list(s.scores.values())):.2f}" if s.scores else "-",
            f"{s.max_score:g}",
            len(s.to_grade),
            len(s.flagged_students),
            len({student for student, _ in s.late}),
        ]
        for s in summaries
    ]
    links = "".join(f'<li><a href="{html.escape(s.lesson)}.html">{html.escape(s.lesson)}</a></li>' for s in summaries)
    if similar is not None:
        links += f'<li><a href="{SIMILARITY_PAGE}">similar answers</a> ({len(similar.matches)} listed)</li>'
    hardest = sorted(
        ((s.lesson, check) for s in summaries for check in s.checks if check.graded), key=lambda pair: pair[1].rate
    )[:HARDEST_CHECKS_SHOWN]
    hardest_rows = [
        [lesson, check.cell, check.passed, check.graded, f"{100 * check.rate:.0f} %"] for lesson, check in hardest
    ]
    body = "".join(
        [
            f"<p>{len(students)} students, {len(summaries)} lessons, {maximum:g} points.</p><ul>{links}</ul>",
            table(
                [
                    "lesson",
                    "submitted",
                    "missing",
                    "mean",
                    "max",
                    "answers to grade",
                    "flagged students",
                    "late students",
                ],
                rows,
            ),
            histogram(totals, maximum, "points earned so far (a missing lesson adds none)", "course totals")
            if students
            else "",
            section(
                "Checks that caught most students",
                table(["lesson", "test cell", "full points", "graded", "pass rate"], hardest_rows),
                not hardest_rows,
                "No autograded checks yet.",
            ),
        ]
    )
    return page("The class at a glance", body)


def write_class_pages(course: Course, folder: Path, lessons: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Write ``<lesson>.html`` for each lesson in the gradebook (or those named), the course page
    ``index.html`` and, once the similarity report is written, ``similarity.html`` into ``folder``;
    return their paths, the course page first."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with Gradebook(course.db_url, course.coursedir().course_id) as gradebook:
        summaries = [
            summarise_lesson(course, gradebook, assignment.name)
            for assignment in sorted(gradebook.assignments, key=lambda a: a.name)
            if not lessons or assignment.name in lessons
        ]
    similar = read_similarity(course)
    paths = [folder / COURSE_PAGE]
    paths[0].write_text(course_page(summaries, similar), encoding="utf-8")
    for summary in summaries:
        paths.append(folder / f"{summary.lesson}.html")
        paths[-1].write_text(lesson_page(summary), encoding="utf-8")
    if similar is not None:
        paths.append(write_similarity_page(folder, similar))
    return paths
