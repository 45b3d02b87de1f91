"""``python -m autograder.samples.make_class OUT_DIR``: a class of students made from the course's own
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
    python -m autograder.samples.make_class OUT_DIR --check autograded/report.csv

``report`` also writes the similarity report (autograded/similarity.json); ``--check`` then counts
the pairs of copied answers it flagged and the pairs of independent answers it flagged wrongly.

The kinds of work come from ``autograder.samples.kinds`` and are spread over the students by
``autograder.samples.plan``. Correct answers are the solutions' answer cells put into the released
notebooks; what partly wrong work should score comes from ``autograder.grading.dataflow``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.courseroot import SIMILARITY_FILE, Course, CourseError, default_course_dir
from autograder.samples.check import disagreements, similarity_summary
from autograder.samples.files import EXPECTED_CSV, write_class
from autograder.samples.kinds import KINDS
from autograder.samples.plan import SampleClass, make_class


def summary(sample: SampleClass, paths: list[Path]) -> str:
    """What was made, kind by kind, and where it was written."""
    kinds = {}
    for student in sample.students:
        for work in student.work.values():
            kinds[work.kind] = kinds.get(work.kind, 0) + 1
    uploads = sum(len(work.uploads) for s in sample.students for work in s.work.values())
    names = ", ".join(lesson.name for lesson in sample.lessons)
    lines = [f"{len(sample.students)} students x {len(sample.lessons)} lessons ({names}), {uploads} uploads:"]
    lines += [f"  {count:3d} {kind}: {KINDS[kind].description}" for kind, count in sorted(kinds.items())]
    if sample.skipped:
        lines.append(f"  not made (no lesson allows them): {', '.join(sample.skipped)}")
    return "\n".join(lines + [f"wrote {path}" for path in paths])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.samples.make_class",
        description=__doc__.splitlines()[0].strip("`"),
        epilog="See the module docstring for the kinds of work and the steps that follow.",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument(
        "--course-dir",
        default=default_course_dir(),
        help="the course root with solutions/ and lessons/ (default: %(default)s)",
    )
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lessons", nargs="+", default=[], metavar="LESSON", help="default: every released lesson")
    parser.add_argument(
        "--check",
        metavar="REPORT_CSV",
        help="instead of writing a class, compare the report CSV of a graded class with OUT_DIR/expected.csv",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.check:
            expected = Path(args.out_dir) / EXPECTED_CSV
            for path in (expected, Path(args.check)):
                if not path.is_file():
                    raise CourseError(
                        f"{path} not found: write the class first, then grade it and run `python -m autograder report`"
                    )
            found = disagreements(expected, args.check)
            for line in found:
                print(line)
            print(f"{len(found)} disagreements with {expected}")
            similarity = Path(args.check).parent / SIMILARITY_FILE
            if similarity.is_file():
                print(similarity_summary(expected, similarity))
            return 1 if found else 0
        sample = make_class(Course.load(args.course_dir), args.students, args.seed, args.lessons)
        print(summary(sample, write_class(sample, args.out_dir)))
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
