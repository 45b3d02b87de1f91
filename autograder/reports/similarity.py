"""``similarity``: answers alike between students, and answers like the course library's own source.

Every student's code answer (an nbgrader solution cell of the graded notebook) is compared with the
other students' answers to the same exercise, and with each module of the course library students
install. copydetect fingerprints the code the way MOSS does: names become ``V``, strings ``S``,
comments and layout are dropped, and every run of ``k`` filtered characters is hashed (winnowing).
Renamed variables, reordered functions, changed comments and new layout therefore leave the
fingerprints as they were.

Code that every student is given or led to is no evidence of copying, so its fingerprints are
removed first (copydetect's boilerplate): the released notebook (the starter code) and the model
answers. An answer whose own code is shorter than ``min_shared`` filtered characters cannot be
told apart from an independent one and is never flagged. A pair is flagged when the code they
share is at least ``threshold`` of either answer's own code. Flags are for the instructor to look
at; no score changes.
"""

from __future__ import annotations

import bisect
import importlib.util
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import copydetect
import nbformat
import numpy as np
from traitlets import Float, Int, Unicode
from traitlets.config import Configurable

from autograder.cells import grade_id, is_answer
from autograder.courseroot import RESERVED_NAMES, SIMILARITY_FILE, Course
from autograder.flags import Flag
from autograder.grading.records import read_record
from autograder.grading.student_work import student_answer

LANGUAGE = "python"
LIBRARY_PREFIX = "library: "  # how a match with the course library names its source
MAX_ANSWER_CHARACTERS = 50_000  # a longer answer is compared by its beginning
WRONG_NOTEBOOK = "wrong-notebook"  # the flag of a submission that is another lesson's notebook


class Similarity(Configurable):
    """How alike two answers must be to be flagged (``c.Similarity`` in ``nbgrader_config.py``)."""

    threshold = Float(0.5, help="share of an answer's own code found in the other one that flags the pair").tag(
        config=True
    )
    min_shared = Int(
        50, help="fewest filtered characters (names as V, no layout or comments) two answers must share"
    ).tag(config=True)
    noise = Int(25, help="copydetect's k: the shortest run of filtered characters that counts as shared").tag(
        config=True
    )
    library = Unicode("course", help="the package whose modules answers are compared with").tag(config=True)


@dataclass(frozen=True)
class Answer:
    """One student's code answer to one exercise of a lesson."""

    student: str
    lesson: str
    exercise: str  # the answer cell's grade id
    code: str


@dataclass(frozen=True)
class Match:
    """Two answers alike, or an answer like a module of the course library."""

    lesson: str
    exercise: str
    student: str
    other: str  # the other student, or LIBRARY_PREFIX + the module's file
    similarity: float  # the larger share of either side's own code found in the other
    shared: int  # filtered characters in common
    code: str
    other_code: str
    lines: list[int]  # the lines of ``code`` that hold shared code (from 1)
    other_lines: list[int]

    @property
    def library(self) -> bool:
        return self.other.startswith(LIBRARY_PREFIX)


@dataclass
class SimilarityReport:
    """The matches found, and which answers had code of their own to compare."""

    threshold: float
    matches: list[Match] = field(default_factory=list)
    # lesson -> exercise -> students whose answer kept fingerprints once the boilerplate was removed
    comparable: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    answers: int = 0

    @property
    def pairs_compared(self) -> int:
        return sum(len(s) * (len(s) - 1) // 2 for exercises in self.comparable.values() for s in exercises.values())


def fingerprint(name: str, code: str, settings: Similarity, boilerplate: np.ndarray | None = None, window: int = 1):
    """copydetect's fingerprint of ``code`` (Python), without the ``boilerplate`` hashes."""
    return copydetect.CodeFingerprint(
        name, settings.noise, window, boilerplate=boilerplate, fp=io.StringIO(code), language=LANGUAGE
    )


def boilerplate_hashes(course: Course, lesson: str, settings: Similarity) -> np.ndarray:
    """Fingerprints of what students are given or led to: the released notebooks' code and the model
    answers of the solution notebooks."""
    texts = []
    for release_path in course.release_notebooks(lesson):
        texts += [cell.source for cell in nbformat.read(release_path, as_version=4).cells if cell.cell_type == "code"]
        solution = course.folder("source") / lesson / release_path.name
        if solution.is_file():
            cells = nbformat.read(solution, as_version=4).cells
            texts += [student_answer(cell) for cell in cells if cell.cell_type == "code" and is_answer(cell)]
    hashes = [np.array(sorted(fingerprint("boilerplate", text, settings).hashes)) for text in texts]
    return np.unique(np.concatenate(hashes)) if hashes else np.array([], dtype=np.int64)


def lesson_answers(course: Course, lesson: str) -> list[Answer]:
    """Every graded student's code answers of ``lesson``, read from the graded notebooks (repaired, so
    answer cells are found even where a student's notebook lost its metadata); none from a notebook of
    another lesson."""
    autograded = course.folder("autograded")
    if not autograded.is_dir():
        return []
    students = sorted(p.name for p in autograded.iterdir() if p.is_dir() and p.name not in RESERVED_NAMES)
    answers = []
    for student in students:
        record = read_record(course, student, lesson) or {}
        if any(flag.get("code") == WRONG_NOTEBOOK for flag in record.get("flags", [])):
            continue
        seen = set()
        for release_path in course.release_notebooks(lesson):
            path = autograded / student / lesson / release_path.name
            try:
                cells = nbformat.read(path, as_version=4).cells
            except (OSError, ValueError):
                continue
            for cell in cells:
                exercise = grade_id(cell)
                if cell.cell_type == "code" and is_answer(cell) and exercise and exercise not in seen:
                    seen.add(exercise)
                    answers.append(Answer(student, lesson, exercise, cell.source[:MAX_ANSWER_CHARACTERS]))
    return answers


def library_sources(package: str) -> dict[str, str]:
    """{"<package>/<module>.py": source} for each module of the installed package (not imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return {}
    folder = Path(next(iter(spec.submodule_search_locations)))
    return {f"{package}/{path.name}": path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.py"))}


def shared_lines(code: str, slices: np.ndarray) -> list[int]:
    """The lines (from 1) of ``code`` that copydetect's character slices touch."""
    starts = [0] + [index + 1 for index, char in enumerate(code) if char == "\n"]
    lines = set()
    for start, end in zip(slices[0], slices[1], strict=True):
        first = bisect.bisect_right(starts, int(start))
        last = bisect.bisect_right(starts, max(int(start), int(end) - 1))
        lines.update(range(first, last + 1))
    return sorted(lines)


def compare(answer, printed, other: str, other_code: str, other_printed, settings: Similarity, library: bool):
    """A Match when the two fingerprints share enough, else None. Against the library only the
    answer's side counts (a module is much longer than any answer)."""
    overlap, (similarity, other_similarity), (slices, other_slices) = copydetect.compare_files(printed, other_printed)
    alike = similarity if library else max(similarity, other_similarity)
    if overlap < settings.min_shared or alike < settings.threshold:
        return None
    return Match(
        answer.lesson,
        answer.exercise,
        answer.student,
        other,
        round(float(alike), 3),
        int(overlap),
        answer.code,
        other_code,
        shared_lines(answer.code, slices),
        shared_lines(other_code, other_slices),
    )


def find_similar(course: Course, lessons: list[str] | tuple[str, ...] = (), threshold: float | None = None):
    """The SimilarityReport of every released lesson (or those named) over the graded notebooks."""
    settings = Similarity(config=course.config)
    if threshold is not None:
        settings.threshold = threshold
    report = SimilarityReport(settings.threshold)
    library = {
        LIBRARY_PREFIX + name: (source, fingerprint(name, source, settings))
        for name, source in library_sources(settings.library).items()
    }
    released = sorted({path.parent.name for path in course.folder("release").glob("*/*.ipynb")})
    for lesson in [name for name in released if not lessons or name in lessons]:
        boilerplate = boilerplate_hashes(course, lesson, settings)
        by_exercise: dict[str, list[Answer]] = {}
        for answer in lesson_answers(course, lesson):
            by_exercise.setdefault(answer.exercise, []).append(answer)
            report.answers += 1
        for exercise, answers in sorted(by_exercise.items()):
            printed = [fingerprint(answer.student, answer.code, settings, boilerplate) for answer in answers]
            kept = [index for index, prints in enumerate(printed) if prints.hashes]
            report.comparable.setdefault(lesson, {})[exercise] = [answers[index].student for index in kept]
            holders: dict[int, list[int]] = {}
            for index in kept:
                for value in printed[index].hashes:
                    holders.setdefault(value, []).append(index)
            candidates = {(a, b) for indexes in holders.values() for a in indexes for b in indexes if a < b}
            for first, second in sorted(candidates):
                other = answers[second]
                found = compare(
                    answers[first], printed[first], other.student, other.code, printed[second], settings, False
                )
                report.matches += [found] if found else []
            for index in kept:
                for name, (source, module) in library.items():
                    if printed[index].hashes & module.hashes:
                        found = compare(answers[index], printed[index], name, source, module, settings, True)
                        report.matches += [found] if found else []
    return report


def write_similarity(course: Course, report: SimilarityReport) -> Path:
    """Write the report as ``autograded/similarity.json``; return its path."""
    path = course.folder("autograded") / SIMILARITY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "threshold": report.threshold,
        "answers": report.answers,
        "comparable": report.comparable,
        "matches": [asdict(match) for match in report.matches],
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def read_similarity(course: Course) -> SimilarityReport | None:
    """The report ``similarity`` (or ``report``) last wrote, or None."""
    try:
        data = json.loads((course.folder("autograded") / SIMILARITY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    matches = [Match(**match) for match in data["matches"]]
    return SimilarityReport(data["threshold"], matches, data["comparable"], data["answers"])


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def similarity_flags(report: SimilarityReport | None, lesson: str) -> dict[str, list[Flag]]:
    """{student: flags} of one lesson: ``similar`` for each classmate alike, ``like-library`` for each
    library module alike. Not serious: a flag asks for a look, it changes no score."""
    flags: dict[str, list[Flag]] = {}
    for match in report.matches if report else []:
        if match.lesson != lesson:
            continue
        if match.library:
            module = match.other.removeprefix(LIBRARY_PREFIX)
            flags.setdefault(match.student, []).append(
                Flag("like-library", f"{match.exercise}: {percent(match.similarity)} like {module}")
            )
            continue
        for student, other in ((match.student, match.other), (match.other, match.student)):
            flags.setdefault(student, []).append(
                Flag("similar", f"{match.exercise}: {percent(match.similarity)} alike with {other}")
            )
    return flags


def line_ranges(lines: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    ranges: list[list[int]] = []
    for line in lines:
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1][1] = line
        else:
            ranges.append([line, line])
    return ", ".join(f"{start}" if start == end else f"{start}-{end}" for start, end in ranges)


def as_text(report: SimilarityReport) -> str:
    """The matches, one line each, and what was compared."""
    lines = []
    for match in report.matches:
        where = f"{match.lesson} {match.exercise}: {match.student}"
        alike = "like" if match.library else "alike with"
        lines.append(
            f"{where} {percent(match.similarity)} {alike} {match.other.removeprefix(LIBRARY_PREFIX)} "
            f"(lines {line_ranges(match.lines)} and {line_ranges(match.other_lines)})"
        )
    comparable = sum(len(students) for exercises in report.comparable.values() for students in exercises.values())
    pairs = sum(not match.library for match in report.matches)
    lines.append(
        f"{report.answers} code answers, {comparable} with code of their own beyond the starter code and the "
        f"model answer; {report.pairs_compared} pairs compared, {pairs} of them at {percent(report.threshold)} or "
        f"more alike; answers like the course library: {len(report.matches) - pairs}"
    )
    return "\n".join(lines)
