"""One sample student's work for one lesson, made from a kind in the catalogue
(``autograder.samples.kinds``), with the grade the autograder should give it: full points, the
points of the tests that still pass (from ``autograder.grading.dataflow``), or none."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from autograder.grading.lesson_model import LessonModel
from autograder.grading.student_work import notebook_bytes
from autograder.samples.answers import LIBRARY_ANSWERS, OWN_ANSWERS
from autograder.samples.kinds import (
    ANSWER_NEEDS,
    CODE_ANSWER,
    FAILING_TEST,
    FULL,
    FUNCTION_ANSWER,
    KINDS,
    LIBRARY_WORK,
    MISSING,
    OTHER_LESSON,
    OWN_WORK,
    PARTIAL,
    Target,
    WorkKind,
)

DUE = datetime(2025, 3, 1, 23, 59)


@dataclass
class StudentUpload:
    """One file a sample student uploaded."""

    filename: str
    content: bytes
    late: bool = False
    time: datetime = DUE
    entry: str = ""  # its name in the LMS zip, set when the zip is written


@dataclass
class Work:
    """One student's work for one lesson, and what the autograder should make of it."""

    kind: str
    uploads: list[StudentUpload]
    score: float | None  # None: nothing should be filed for this lesson
    grade: str
    flags: tuple[str, ...] = ()
    serious: bool = False
    to_grade: bool = False


class WorkMaker:
    """Makes each kind of work for a lesson, choosing the answers it gets wrong at random."""

    def __init__(self, lessons: dict[str, LessonModel], rng: random.Random) -> None:
        self.lessons = lessons  # every released lesson, by name
        self.rng = rng

    def candidates(self, kind: WorkKind, lesson: LessonModel) -> list[str]:
        """The answers of ``lesson`` the kind can get wrong (empty for kinds that need none)."""
        if kind.needs == CODE_ANSWER:
            return lesson.code_answers
        if kind.needs == FAILING_TEST:
            return [answer for answer in lesson.code_answers if lesson.flow.failing_tests({answer})]
        if kind.needs == FUNCTION_ANSWER:
            return lesson.function_answers
        return []

    def applies(self, kind_name: str, lesson: LessonModel) -> bool:
        """Whether the kind can be made from ``lesson``."""
        kind = KINDS[kind_name]
        if kind.needs == OTHER_LESSON:
            return self.mix_up(lesson) is not None
        if kind.needs == OWN_WORK:
            return lesson.name in OWN_ANSWERS
        if kind.needs == LIBRARY_WORK:
            return lesson.name in LIBRARY_ANSWERS
        return kind.needs not in ANSWER_NEEDS or bool(self.candidates(kind, lesson))

    def make(self, kind_name: str, lesson: LessonModel) -> Work:
        kind = KINDS[kind_name]
        if kind.name == "partial":
            answers = self.partly_wrong(lesson)
        elif kind.needs in ANSWER_NEEDS:
            answers = (self.rng.choice(self.candidates(kind, lesson)),)
        elif kind.needs == LIBRARY_WORK:
            answers = tuple(LIBRARY_ANSWERS[lesson.name])
        else:
            answers = ()
        other = self.mix_up(lesson) if kind.needs == OTHER_LESSON else None
        content = notebook_bytes(kind.make(Target(lesson, answers, other)))
        filename = kind.filename.format(filename=lesson.filename, stem=lesson.stem)
        uploads = [StudentUpload(filename, content, late=kind.late)]
        if kind.empty_first_upload:
            uploads.insert(0, StudentUpload(lesson.filename, b""))
        how = kind.how.format(s="s" if len(answers) > 1 else "", other=other.name if other else "")
        if kind.outcome == FULL:
            return Work(
                kind.name,
                uploads,
                lesson.full_points,
                f"full: {how}" if how else "full",
                kind.flags,
                kind.serious,
                lesson.graded_by_hand,
            )
        if kind.outcome == PARTIAL:
            if kind.needs == LIBRARY_WORK:
                failing = lesson.tests_done_by_the_library(LIBRARY_ANSWERS[lesson.name])
            else:
                failing = lesson.flow.failing_tests(set(answers))
            score = lesson.full_points - sum(lesson.test_points[test] for test in failing)
            grade = (
                f"partial: {', '.join(answers)} {how}, so {', '.join(failing) or 'no test'} "
                f"fail{'s' if len(failing) == 1 else ''}"
            )
            return Work(kind.name, uploads, score, grade, kind.flags, kind.serious, lesson.graded_by_hand)
        if kind.outcome == MISSING:
            return Work(kind.name, uploads, None, f"missing: {how}", kind.flags)
        return Work(kind.name, uploads, 0.0, f"zero: {how}", kind.flags, serious=True)

    def partly_wrong(self, lesson: LessonModel) -> tuple[str, ...]:
        """The last few code answers, as many as leave some but not all of the points."""
        answers = lesson.code_answers
        counts = list(range(1, len(answers)))
        self.rng.shuffle(counts)
        for count in counts + [len(answers)]:
            stubbed = answers[-count:]
            failing = lesson.flow.failing_tests(set(stubbed))
            if 0 < sum(lesson.test_points[test] for test in failing) < lesson.full_points:
                break
        return tuple(stubbed)

    def mix_up(self, lesson: LessonModel) -> LessonModel | None:
        """Another lesson whose answers define none of the names this lesson's answers define
        (so its notebook earns nothing here), or None."""
        own = set().union(*(lesson.flow.by_grade_id[a].defines for a in lesson.code_answers))
        for name, other in sorted(self.lessons.items()):
            if name == lesson.name:
                continue
            if not own & set().union(*(other.flow.by_grade_id[a].defines for a in other.code_answers)):
                return other
        return None
