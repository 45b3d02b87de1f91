"""``python -m autograder.bench``: how long grading takes: the lessons one student at a time
(``autograder.bench.lessons``), a whole class with ``--class N`` (``autograder.bench.classes``), or
what the sandbox costs with ``--sandbox-cost``."""

from __future__ import annotations

import argparse
import sys

from autograder.bench.lessons import run
from autograder.courseroot import CourseError, default_course_dir, put_python_tools_on_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--students", type=int, default=2, help="correct submissions per lesson (default: %(default)s)")
    parser.add_argument(
        "--lessons", nargs="+", default=[], metavar="LESSON", help="default: every lesson in solutions/"
    )
    parser.add_argument(
        "--jobs",
        nargs="+",
        type=int,
        default=[1, 2],
        metavar="N",
        help="the --jobs values to time, in order (default: 1 2)",
    )
    parser.add_argument(
        "--repository", default=default_course_dir(), help="the course root to copy (default: %(default)s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary course")
    parser.add_argument(
        "--class",
        dest="class_size",
        type=int,
        default=0,
        metavar="N",
        help="class mode: N students' mixed work in every lesson, graded with --jobs 1, --jobs 2 and a "
        "2-worker Dask cluster, with projections for larger classes (see autograder.bench.classes)",
    )
    parser.add_argument("--sandbox-cost", action="store_true", help="time one job with and without the sandbox instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.students < 1 or min(args.jobs) < 1 or args.class_size < 0:
        print("error: --students and --jobs must be at least 1, --class at least 0", file=sys.stderr)
        return 2
    put_python_tools_on_path()
    try:
        if args.class_size:
            from autograder.bench.classes import run_class

            return run_class(args.repository, args.class_size, args.lessons, args.keep)
        return run(args.repository, args.students, args.lessons, args.jobs, args.keep, sandbox=args.sandbox_cost)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
