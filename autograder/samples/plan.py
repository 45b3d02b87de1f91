"""The plan of a sample class: its students, which kind of work each hands in for each lesson,
and when.

The first student hands in correct work in every lesson. Every other kind in SAMPLE_KINDS lands
on one lesson of another student ("partial" on one in every lesson, the students who write their own
answers and the classmates who copy them on one in every lesson that has such answers), and the rest
get a random mix of FILLERS.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from autograder.courseroot import Course, CourseError
from autograder.grading.lesson_model import LessonModel
from autograder.lms.formats import canvas_login_name
from autograder.samples.kinds import KINDS
from autograder.samples.work import DUE, Work, WorkMaker

# The kinds of work (autograder.samples.kinds) a sample class holds.
SAMPLE_KINDS = (
    "correct",
    "partial",
    "late",
    "uploaded-twice",
    "test-deleted",
    "metadata-and-ids-stripped",
    "colab-saved",
    "copy-of",
    "browser-copy",
    "extra-cells",
    "test-moved",
    "answer-moved",
    "keep-alive-loop",
    "sys-exit",
    "always-equal",
    "test-pass",
    "custom-exception-handler",
    "hidden-traceback",
    "truncated",
    "empty",
    "other-lesson",
    "unmatched",
    "own-answers",
    "own-answers-2",
    "own-answers-3",
    "copied-exact",
    "copied-renamed",
    "copied-reformatted",
    "delegates",
)
EVERY_LESSON = ("partial",)
# In every lesson that has answers students wrote themselves (autograder.samples.answers): the similarity
# report must flag the copies and their source, and none of the independent answers.
COPY_GROUP = ("own-answers", "own-answers-2", "own-answers-3", "copied-exact", "copied-renamed", "copied-reformatted")
FILLERS = (
    "correct",
    "correct",
    "partial",
    "sys-exit",
    "colab-saved",
    "metadata-and-ids-stripped",
    "late",
)
FIRST_NAMES = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Katherine",
    "Claude",
    "Radia",
    "Tim",
    "Shafi",
    "Leslie",
    "Margaret",
    "Dennis",
    "Sophie",
    "Ken",
    "Hedy",
    "Niklaus",
    "Annie",
    "Tony",
    "Joan",
    "Robin",
]
LAST_NAMES = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Backus",
    "Johnson",
    "Shannon",
    "Perlman",
    "Berners-Lee",
    "Goldwasser",
    "Lamport",
    "Hamilton",
    "Ritchie",
    "Wilson",
    "Thompson",
    "Lamarr",
    "Wirth",
    "Easley",
    "Hoare",
    "Clarke",
    "Milner",
]


@dataclass
class Student:
    user_id: str
    first_name: str
    last_name: str
    section: str
    work: dict[str, Work] = field(default_factory=dict)  # lesson name -> Work

    @property
    def login_name(self) -> str:
        """The name the LMS puts in the student's file names."""
        return canvas_login_name(self.first_name, self.last_name)

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@example.edu".lower()


@dataclass
class SampleClass:
    students: list[Student]
    lessons: list[LessonModel]
    skipped: list[str]  # kinds no lesson could make


def make_students(count: int, rng: random.Random) -> list[Student]:
    names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    if count > len(names):
        raise CourseError(f"--students {count}: at most {len(names)} distinct names")
    chosen = rng.sample(names, count)
    user_ids = rng.sample(range(10000, 100000), count)
    return [
        Student(str(user_id), first, last, f"Section {'AB'[index % 2]}")
        for index, ((first, last), user_id) in enumerate(zip(chosen, user_ids, strict=True))
    ]


def plan_kinds(
    students: list[Student], lessons: list[LessonModel], maker: WorkMaker, rng: random.Random
) -> tuple[dict[tuple[int, str], str], list[str]]:
    """{(student index, lesson name): kind} (see the module docstring), and the kinds that no
    lesson can make. Kinds that cost a per-cell timeout go to the first lesson (lessons are named
    in teaching order, and the first is the lightest to grade)."""
    plan = {(0, lesson.name): "correct" for lesson in lessons}
    free = [(index, lesson) for index in range(1, len(students)) for lesson in lessons]
    rng.shuffle(free)
    wanted = [(kind, lesson.name) for kind in EVERY_LESSON for lesson in lessons]
    wanted += [(kind, lesson.name) for kind in COPY_GROUP for lesson in lessons if maker.applies(kind, lesson)]
    wanted += [(kind, None) for kind in SAMPLE_KINDS if kind not in ("correct", *EVERY_LESSON, *COPY_GROUP)]
    skipped = [kind for kind in COPY_GROUP if not any(maker.applies(kind, lesson) for lesson in lessons)]
    for kind, only in wanted:
        if KINDS[kind].costs_timeout:
            only = lessons[0].name
        fits = [slot for slot in free if only in (None, slot[1].name) and maker.applies(kind, slot[1])]
        if not fits and not any(only in (None, lesson.name) and maker.applies(kind, lesson) for lesson in lessons):
            skipped.append(kind)
            continue
        if not fits:
            needed = 1 + -(-len(wanted) // len(lessons))
            raise CourseError(
                f"{len(students)} students x {len(lessons)} lessons cannot hold every "
                f"kind of work: use --students {needed} or more"
            )
        free.remove(fits[0])
        plan[(fits[0][0], fits[0][1].name)] = kind
    for index, lesson in free:
        plan[(index, lesson.name)] = rng.choice([kind for kind in FILLERS if maker.applies(kind, lesson)])
    return plan, skipped


def set_upload_times(students: list[Student], lessons: list[LessonModel], rng: random.Random) -> None:
    """On-time uploads in the four days before the due date, late ones in the two days after,
    a re-upload an hour after the one it replaces."""
    for student in students:
        for lesson in lessons:
            uploads = student.work[lesson.name].uploads
            hours = rng.uniform(1, 48) if uploads[-1].late else -rng.uniform(1, 96)
            for back, upload in enumerate(reversed(uploads)):
                upload.time = DUE + timedelta(hours=hours - back)


def make_class(
    course: Course, students: int = 12, seed: int = 0, lessons: tuple[str, ...] | list[str] = ()
) -> SampleClass:
    """A SampleClass of ``students`` over ``lessons`` (default: every released lesson)."""
    release = course.folder("release")
    released = sorted(path.name for path in release.glob("*") if any(path.glob("*.ipynb")))
    if not released:
        raise CourseError(f"no released lessons in {release}: run `python -m autograder release` first")
    unknown = sorted(set(lessons) - set(released))
    if unknown:
        raise CourseError(f"--lessons: {', '.join(unknown)} not released; released: {', '.join(released)}")
    if students < 2:
        raise CourseError("--students must be at least 2 (the first hands in correct work only)")
    by_name = {name: LessonModel.load(course, name) for name in released}
    chosen = [by_name[name] for name in (lessons or released)]
    rng = random.Random(seed)
    maker = WorkMaker(by_name, rng)
    people = make_students(students, rng)
    plan, skipped = plan_kinds(people, chosen, maker, rng)
    for (index, lesson_name), kind in sorted(plan.items()):
        people[index].work[lesson_name] = maker.make(kind, by_name[lesson_name])
    set_upload_times(people, chosen, rng)
    return SampleClass(people, chosen, skipped)
