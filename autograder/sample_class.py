"""``python -m autograder.sample_class OUT_DIR``: a class of students made from the course's own
lessons, delivered as an LMS delivers it, to try the autograder on before real work comes in.

It writes
- ``OUT_DIR/submissions.zip``: Canvas file names, ``<name>_[LATE_]<user id>_<submission id>_<file>``;
- ``OUT_DIR/roster.csv``: the columns ``collect --roster`` and ``export --roster`` read;
- ``OUT_DIR/expected.csv``: for each student and lesson, the score the autograder should give
  and the flags its report should show.

Then, in the course folder::

    python -m autograder collect OUT_DIR/submissions.zip --roster OUT_DIR/roster.csv
    python -m autograder grade --jobs 2
    python -m autograder report
    python -m autograder.sample_class OUT_DIR --check autograded/report.csv

The first student hands in correct work in every lesson. Every other kind of work in KINDS
lands on one lesson of another student ("partial" on one in every lesson), and the rest get a
random mix of FILLERS. Correct answers are the solutions' answer cells put into the released
notebooks; what partly wrong work should score comes from ``autograder.dataflow``.
"""

import argparse
import csv
import random
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder.courseroot import Course, CourseError, default_course_dir
from autograder.dataflow import DataFlow
from autograder.student_work import (
    CODE_STUB_LINES,
    answered,
    colab_saved,
    correct_answers,
    delete,
    grade_id,
    is_answer,
    is_test,
    move,
    nbgrader_flags,
    new_cell_ids,
    notebook_bytes,
    replace_source,
    strip_nbgrader_metadata,
    truncated,
    with_extra_cells,
    with_stub_body,
)

KINDS = {
    "correct": "the solutions' answers in the released notebook",
    "partial": "the last answers left as the release's stubs",
    "late": "correct work uploaded after the due date",
    "uploaded-twice": "an empty file first, then correct work (Canvas adds -1 to the name)",
    "test-deleted": "correct work with a test cell deleted",
    "metadata-stripped": "correct work whose cells lost their nbgrader metadata and cell ids",
    "colab-saved": "correct work downloaded from Colab (nbformat 4.0, Colab metadata, outputs)",
    "copy-of": "correct work saved in Colab as 'Copy of <notebook>.ipynb'",
    "browser-copy": "correct work downloaded twice by the browser: '<notebook> (1).ipynb'",
    "extra-cells": "correct work with the student's own notes and scratch cells",
    "cells-moved": "correct work with a test cell moved to the top and an answer to the end",
    "keep-alive-loop": "correct work with Colab's keep-alive `while True: pass` left in an answer "
                       "cell (the per-cell timeout stops it)",
    "sys-exit": "an answer cell that starts with sys.exit()",
    "always-equal": "an answer that returns an object whose == is always true",
    "test-pass": "an answer left as its stub and its test cell edited to `pass`",
    "truncated": "the first half of the notebook file (an interrupted download)",
    "empty": "an empty file",
    "other-lesson": "another lesson's notebook uploaded under this lesson's name",
    "unmatched": "an 'Untitled0.ipynb' that matches no lesson: collect reports it, the lesson "
                 "is missing",
}
EVERY_LESSON = ("partial",)
FILLERS = ("correct", "correct", "partial", "sys-exit", "always-equal", "colab-saved",
           "metadata-stripped", "late")
# Kinds that cost a per-cell timeout go to the first lesson (lessons are named in teaching
# order, and the first is the lightest to grade).
FIRST_LESSON_ONLY = ("keep-alive-loop",)
ALWAYS_EQUAL_BODY = """class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__

return AlwaysEqual()"""
SYS_EXIT_LINES = 'import sys\n\nsys.exit("I could not finish this one")\n\n'
KEEP_ALIVE_LINES = "\n\nwhile True:  # keeps the Colab runtime from disconnecting\n    pass"
DUE = datetime(2025, 3, 1, 23, 59)
FIRST_NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine",
               "Claude", "Radia", "Tim", "Shafi", "Leslie", "Margaret", "Dennis", "Sophie", "Ken",
               "Hedy", "Niklaus", "Annie", "Tony", "Joan", "Robin"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus",
              "Johnson", "Shannon", "Perlman", "Berners-Lee", "Goldwasser", "Lamport", "Hamilton",
              "Ritchie", "Wilson", "Thompson", "Lamarr", "Wirth", "Easley", "Hoare", "Clarke", "Milner"]
EXPECTED_COLUMNS = ["lesson", "student", "name", "kind", "upload", "score", "max_score",
                    "autograded_max", "grade", "flags", "serious", "to_grade", "description"]


@dataclass
class Lesson:
    """A released lesson of one notebook, with its solution's answers and data flow."""

    name: str
    filename: str
    release: nbformat.NotebookNode
    answers: dict            # grade id -> correct answer
    flow: DataFlow           # of the solution notebook

    @classmethod
    def load(cls, course, name):
        notebooks = course.release_notebooks(name)
        if len(notebooks) != 1:
            raise CourseError(f"lesson {name} has {len(notebooks)} released notebooks; the sample "
                              "class handles lessons of exactly one (run `python -m autograder "
                              "release` if it has none)")
        solution_path = course.folder("source") / name / notebooks[0].name
        if not solution_path.is_file():
            raise CourseError(f"{solution_path} not found: the sample class takes the answers from "
                              "the lesson's solution notebook")
        solution = nbformat.read(solution_path, as_version=4)
        return cls(name, notebooks[0].name, nbformat.read(notebooks[0], as_version=4),
                   correct_answers(solution), DataFlow(solution))

    @property
    def stem(self):
        return Path(self.filename).stem

    @property
    def code_answers(self):
        return [grade_id(cell) for cell in self.release.cells
                if is_answer(cell) and cell.cell_type == "code"]

    @property
    def function_answers(self):
        """Code answers whose stub is the body of a function the student completes."""
        return [answer for answer in self.code_answers
                if any(line.strip() in CODE_STUB_LINES and line[:1].isspace()
                       for line in self.stub(answer).splitlines())]

    @property
    def test_points(self):
        return {grade_id(cell): float(nbgrader_flags(cell).get("points", 0))
                for cell in self.release.cells if is_test(cell)}

    @property
    def full_points(self):
        return sum(self.test_points.values())

    @property
    def max_score(self):
        """Every graded cell's points, the ones graded by hand included."""
        return sum(float(nbgrader_flags(cell).get("points", 0)) for cell in self.release.cells
                   if nbgrader_flags(cell).get("grade"))

    @property
    def graded_by_hand(self):
        return any(is_answer(cell) and nbgrader_flags(cell).get("grade") for cell in self.release.cells)

    def stub(self, answer):
        return next(cell.source for cell in self.release.cells if grade_id(cell) == answer)

    def correct(self, changed=None):
        """The released notebook with correct answers, or the answers ``changed`` gives by grade id."""
        return answered(self.release, {**self.answers, **(changed or {})})

    def with_stubs(self, stubbed):
        return answered(self.release, {key: value for key, value in self.answers.items()
                                       if key not in stubbed})

    def first_test(self):
        return next(grade_id(cell) for cell in self.release.cells if is_test(cell))


@dataclass
class Upload:
    """One file a student uploaded."""

    filename: str
    content: bytes
    late: bool = False
    time: datetime = DUE
    entry: str = ""          # its name in the zip, set when the zip is written


@dataclass
class Work:
    """One student's work for one lesson, and what the autograder should make of it."""

    kind: str
    uploads: list
    score: float | None      # None: nothing should be filed for this lesson
    grade: str
    flags: tuple = ()
    serious: bool = False
    to_grade: bool = False


class WorkMaker:
    """Builds each kind of work (see KINDS) for a lesson."""

    def __init__(self, lessons, rng):
        self.lessons = lessons       # every released lesson, by name
        self.rng = rng

    def applies(self, kind, lesson):
        """Whether ``kind`` can be made from ``lesson``."""
        if kind in ("partial", "sys-exit", "keep-alive-loop"):
            return bool(lesson.code_answers)
        if kind == "always-equal":
            return bool(lesson.function_answers)
        if kind == "test-pass":
            return any(lesson.flow.failing_tests({answer}) for answer in lesson.code_answers)
        if kind == "other-lesson":
            return self.mix_up(lesson) is not None
        return True

    def make(self, kind, lesson):
        return getattr(self, kind.replace("-", "_"))(lesson)

    def full(self, kind, lesson, content, filename=None, flags=(), serious=False, late=False):
        upload = Upload(filename or lesson.filename, notebook_bytes(content), late=late)
        return Work(kind, [upload], lesson.full_points, "full", flags, serious, lesson.graded_by_hand)

    def wrong(self, kind, lesson, content, wrong_answers, how, flags=()):
        failing = lesson.flow.failing_tests(set(wrong_answers))
        score = lesson.full_points - sum(lesson.test_points[test] for test in failing)
        grade = (f"partial: {', '.join(wrong_answers)} {how}, so {', '.join(failing) or 'no test'} "
                 f"fail{'s' if len(failing) == 1 else ''}")
        return Work(kind, [Upload(lesson.filename, notebook_bytes(content))], score, grade, flags,
                    False, lesson.graded_by_hand)

    def zero(self, kind, lesson, content, why, flags):
        upload = Upload(lesson.filename, notebook_bytes(content))
        return Work(kind, [upload], 0.0, f"zero: {why}", flags, serious=True)

    def correct(self, lesson):
        return self.full("correct", lesson, lesson.correct())

    def late(self, lesson):
        return self.full("late", lesson, lesson.correct(), flags=("late",), late=True)

    def uploaded_twice(self, lesson):
        work = self.full("uploaded-twice", lesson, lesson.correct(), filename=f"{lesson.stem}-1.ipynb")
        work.uploads.insert(0, Upload(lesson.filename, b""))
        work.grade = "full: the second upload is graded, not the empty first one"
        return work

    def test_deleted(self, lesson):
        return self.full("test-deleted", lesson, delete(lesson.correct(), lesson.first_test()),
                         flags=("reinserted",))

    def metadata_stripped(self, lesson):
        return self.full("metadata-stripped", lesson,
                         new_cell_ids(strip_nbgrader_metadata(lesson.correct())),
                         flags=("restored-metadata",))

    def colab_saved(self, lesson):
        return self.full("colab-saved", lesson, colab_saved(lesson.correct()), flags=("normalised",))

    def copy_of(self, lesson):
        return self.full("copy-of", lesson, colab_saved(lesson.correct()),
                         filename=f"Copy of {lesson.filename}", flags=("normalised",))

    def browser_copy(self, lesson):
        return self.full("browser-copy", lesson, lesson.correct(), filename=f"{lesson.stem} (1).ipynb")

    def extra_cells(self, lesson):
        return self.full("extra-cells", lesson, with_extra_cells(lesson.correct()))

    def cells_moved(self, lesson):
        nb = lesson.correct()
        move(nb, lesson.first_test(), after=nb.cells[0].id)
        move(nb, lesson.code_answers[-1], after=nb.cells[-1].id)
        return self.full("cells-moved", lesson, nb, flags=("reordered",))

    def keep_alive_loop(self, lesson):
        answer = lesson.code_answers[-1]
        nb = lesson.correct({answer: lesson.answers[answer] + KEEP_ALIVE_LINES})
        work = self.full("keep-alive-loop", lesson, nb, flags=("timeout",), serious=True)
        work.grade = f"full: {answer} defines its answer before the loop the timeout stops"
        return work

    def partial(self, lesson):
        answers = lesson.code_answers
        counts = list(range(1, len(answers)))
        self.rng.shuffle(counts)
        for count in counts + [len(answers)]:
            stubbed = answers[-count:]
            failing = lesson.flow.failing_tests(set(stubbed))
            if 0 < sum(lesson.test_points[test] for test in failing) < lesson.full_points:
                break
        how = "left as the release's stub" + ("s" if len(stubbed) > 1 else "")
        return self.wrong("partial", lesson, lesson.with_stubs(stubbed), stubbed, how)

    def sys_exit(self, lesson):
        answer = self.rng.choice(lesson.code_answers)
        nb = lesson.correct({answer: SYS_EXIT_LINES + lesson.answers[answer]})
        return self.wrong("sys-exit", lesson, nb, [answer], "stops at sys.exit()")

    def always_equal(self, lesson):
        answer = self.rng.choice(lesson.function_answers)
        nb = lesson.correct({answer: with_stub_body(lesson.stub(answer), ALWAYS_EQUAL_BODY)})
        return self.wrong("always-equal", lesson, nb, [answer], "returns an always-equal object")

    def test_pass(self, lesson):
        answer = self.rng.choice([answer for answer in lesson.code_answers
                                  if lesson.flow.failing_tests({answer})])
        nb = replace_source(lesson.with_stubs([answer]), lesson.flow.failing_tests({answer})[0], "pass")
        return self.wrong("test-pass", lesson, nb, [answer], "left as its stub (its test edited to "
                          "`pass` is restored)", flags=("restored-cells",))

    def truncated(self, lesson):
        return self.zero("truncated", lesson, truncated(lesson.correct()), "not valid JSON",
                         ("ungradable", "unreadable"))

    def empty(self, lesson):
        return self.zero("empty", lesson, b"", "an empty file", ("ungradable", "unreadable"))

    def mix_up(self, lesson):
        """Another lesson whose answers define none of the names this lesson's answers define
        (so its notebook earns nothing here), or None."""
        own = set().union(*(lesson.flow.by_grade_id[a].defines for a in lesson.code_answers))
        for name, other in sorted(self.lessons.items()):
            if name == lesson.name:
                continue
            if not own & set().union(*(other.flow.by_grade_id[a].defines for a in other.code_answers)):
                return other
        return None

    def other_lesson(self, lesson):
        other = self.mix_up(lesson)
        return self.zero("other-lesson", lesson, other.correct(), f"{other.name}'s notebook",
                         ("wrong-notebook",))

    def unmatched(self, lesson):
        blank = new_notebook(cells=[new_code_cell("print('hello')")])
        upload = Upload("Untitled0.ipynb", notebook_bytes(blank))
        return Work("unmatched", [upload], None, "missing: the upload matches no lesson",
                    ("missing",))



@dataclass
class Student:
    user_id: str
    first_name: str
    last_name: str
    section: str
    work: dict = field(default_factory=dict)      # lesson name -> Work

    @property
    def canvas_name(self):
        return re.sub(r"[^a-z]", "", (self.last_name + self.first_name).lower())

    @property
    def email(self):
        return f"{self.first_name}.{self.last_name}@example.edu".lower()


def make_students(count, rng):
    names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    if count > len(names):
        raise CourseError(f"--students {count}: at most {len(names)} distinct names")
    chosen = rng.sample(names, count)
    user_ids = rng.sample(range(10000, 100000), count)
    return [Student(str(user_id), first, last, f"Section {'AB'[index % 2]}")
            for index, ((first, last), user_id) in enumerate(zip(chosen, user_ids))]


def plan_kinds(students, lessons, maker, rng):
    """{(student index, lesson name): kind} (see the module docstring), and the kinds that no
    lesson can make."""
    plan = {(0, lesson.name): "correct" for lesson in lessons}
    free = [(index, lesson) for index in range(1, len(students)) for lesson in lessons]
    rng.shuffle(free)
    wanted = [(kind, None) for kind in KINDS if kind not in ("correct", *EVERY_LESSON)]
    wanted += [(kind, lesson.name) for kind in EVERY_LESSON for lesson in lessons]
    skipped = []
    for kind, only in wanted:
        if kind in FIRST_LESSON_ONLY:
            only = lessons[0].name
        fits = [slot for slot in free if only in (None, slot[1].name) and maker.applies(kind, slot[1])]
        if not fits and not any(only in (None, lesson.name) and maker.applies(kind, lesson)
                                for lesson in lessons):
            skipped.append(kind)
            continue
        if not fits:
            needed = 1 + -(-len(wanted) // len(lessons))
            raise CourseError(f"{len(students)} students x {len(lessons)} lessons cannot hold every "
                              f"kind of work: use --students {needed} or more")
        free.remove(fits[0])
        plan[(fits[0][0], fits[0][1].name)] = kind
    for index, lesson in free:
        plan[(index, lesson.name)] = rng.choice([kind for kind in FILLERS if maker.applies(kind, lesson)])
    return plan, skipped


def set_upload_times(students, lessons, rng):
    """On-time uploads in the four days before the due date, late ones in the two days after,
    a re-upload an hour after the one it replaces."""
    for student in students:
        for lesson in lessons:
            uploads = student.work[lesson.name].uploads
            hours = rng.uniform(1, 48) if uploads[-1].late else -rng.uniform(1, 96)
            for back, upload in enumerate(reversed(uploads)):
                upload.time = DUE + timedelta(hours=hours - back)


@dataclass
class SampleClass:
    students: list
    lessons: list
    skipped: list        # kinds no lesson could make

    def write(self, out_dir, first_submission_id=700000):
        """Write submissions.zip (submission ids in upload order), roster.csv and expected.csv."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        uploads = sorted(((upload, student) for student in self.students
                          for work in student.work.values() for upload in work.uploads),
                         key=lambda pair: pair[0].time)
        with zipfile.ZipFile(out_dir / "submissions.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for number, (upload, student) in enumerate(uploads):
                late = "LATE_" if upload.late else ""
                upload.entry = (f"{student.canvas_name}_{late}{student.user_id}_"
                                f"{first_submission_id + number}_{upload.filename}")
                archive.writestr(zipfile.ZipInfo(upload.entry, upload.time.timetuple()[:6]),
                                 upload.content)
        write_csv(out_dir / "roster.csv", ["id", "first_name", "last_name", "email", "sis_user_id",
                                           "section"],
                  [[s.user_id, s.first_name, s.last_name, s.email, f"SIS{s.user_id}", s.section]
                   for s in self.students])
        write_csv(out_dir / "expected.csv", EXPECTED_COLUMNS, self.expected_rows())
        return [out_dir / name for name in ("submissions.zip", "roster.csv", "expected.csv")]

    def expected_rows(self):
        rows = []
        for lesson in self.lessons:
            for student in sorted(self.students, key=lambda s: s.user_id):
                work = student.work[lesson.name]
                filed = work.score is not None
                rows.append([lesson.name, student.user_id, f"{student.first_name} {student.last_name}",
                             work.kind, work.uploads[-1].entry, f"{work.score:g}" if filed else "",
                             f"{lesson.max_score:g}" if filed else "", f"{lesson.full_points:g}",
                             work.grade, " ".join(work.flags), work.serious, work.to_grade,
                             KINDS[work.kind]])
        return rows


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_class(course, students=12, seed=0, lessons=()):
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
    by_name = {name: Lesson.load(course, name) for name in released}
    chosen = [by_name[name] for name in (lessons or released)]
    rng = random.Random(seed)
    maker = WorkMaker(by_name, rng)
    people = make_students(students, rng)
    plan, skipped = plan_kinds(people, chosen, maker, rng)
    for (index, lesson_name), kind in sorted(plan.items()):
        people[index].work[lesson_name] = maker.make(kind, by_name[lesson_name])
    set_upload_times(people, chosen, rng)
    return SampleClass(people, chosen, skipped)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def disagreements(expected_csv, report_csv):
    """How the autograder's report (``report --csv``) differs from expected.csv, one line each."""
    report = {(row["lesson"], row["student"]): row for row in read_csv(report_csv)}
    found = []
    for want in read_csv(expected_csv):
        key = (want["lesson"], want["student"])
        where = f"{want['lesson']} {want['student']} ({want['kind']})"
        got = report.pop(key, None)
        if got is None:
            found.append(f"{where}: not in the report")
            continue
        for column in ("score", "max_score"):
            if not same_number(want[column], got[column]):
                found.append(f"{where}: {column} {got[column] or '-'}, expected {want[column] or '-'} "
                             f"({want['grade']})")
        missing_flags = set(want["flags"].split()) - set(got["flags"].split())
        if missing_flags:
            found.append(f"{where}: flags {got['flags'] or '(none)'} lack {' '.join(sorted(missing_flags))}")
        if want["serious"] != got["serious"]:
            found.append(f"{where}: serious {got['serious']}, expected {want['serious']} "
                         f"(flags: {got['reasons']})")
        if want["to_grade"] != got["needs_manual_grade"]:
            found.append(f"{where}: needs manual grade {got['needs_manual_grade']}, expected "
                         f"{want['to_grade']}")
    lessons = {row["lesson"] for row in read_csv(expected_csv)}
    found += [f"{lesson} {student}: in the report, not in expected.csv"
              for lesson, student in sorted(report) if lesson in lessons]
    return found


def same_number(expected, got):
    if not expected or not got:
        return expected == got
    return abs(float(expected) - float(got)) < 1e-6


def summary(sample, paths):
    """What was made, kind by kind, and where it was written."""
    kinds = {}
    for student in sample.students:
        for work in student.work.values():
            kinds[work.kind] = kinds.get(work.kind, 0) + 1
    uploads = sum(len(work.uploads) for s in sample.students for work in s.work.values())
    names = ", ".join(lesson.name for lesson in sample.lessons)
    lines = [f"{len(sample.students)} students x {len(sample.lessons)} lessons ({names}), {uploads} uploads:"]
    lines += [f"  {count:3d} {kind}: {KINDS[kind]}" for kind, count in sorted(kinds.items())]
    if sample.skipped:
        lines.append(f"  not made (no lesson allows them): {', '.join(sample.skipped)}")
    return "\n".join(lines + [f"wrote {path}" for path in paths])


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m autograder.sample_class", description=__doc__.splitlines()[0].strip("`"),
        epilog="See the module docstring for the kinds of work and the steps that follow.")
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--course-dir", default=default_course_dir(),
                        help="the course root with solutions/ and lessons/ (default: %(default)s)")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lessons", nargs="+", default=[], metavar="LESSON",
                        help="default: every released lesson")
    parser.add_argument("--check", metavar="REPORT_CSV",
                        help="instead of writing a class, compare the report CSV of a graded class "
                             "with OUT_DIR/expected.csv")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.check:
            expected = Path(args.out_dir) / "expected.csv"
            for path in (expected, Path(args.check)):
                if not path.is_file():
                    raise CourseError(f"{path} not found: write the class first, then grade it and "
                                      "run `python -m autograder report`")
            found = disagreements(expected, args.check)
            for line in found:
                print(line)
            print(f"{len(found)} disagreements with {expected}")
            return 1 if found else 0
        sample = make_class(Course.load(args.course_dir), args.students, args.seed, args.lessons)
        print(summary(sample, sample.write(args.out_dir)))
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
