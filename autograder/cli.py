"""``python -m autograder``: the instructors' commands."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
import warnings
from types import FrameType

from autograder.courseroot import CLASS_PAGES, Course, CourseError, default_course_dir, put_python_tools_on_path

EPILOG = """\
a grading session:
  python -m autograder release                         # solutions/ -> lessons/ + gradebook
  python -m autograder collect ~/Downloads/submissions.zip --lesson lesson1 --roster roster.csv
  python -m autograder grade --jobs 2                  # repair + autograde, parallel
  python -m autograder report                          # scores, flags, similar answers; class pages (HTML)
  python -m autograder similarity                      # answers alike, and like the course library
  python -m autograder feedback                        # feedback/<student>/<lesson>/*.html
  python -m autograder export                          # grades.csv + canvas_grades.csv
and around it:
  python -m autograder sample-class /tmp/sample --students 12   # a class to rehearse on
  python -m autograder bench --students 2                       # how long grading takes here
"""


def say(text: str) -> None:
    """Print ``text`` with every control character but newlines and tabs shown escaped: names and
    messages from submissions never drive the terminal (colours, erasing lines, the clipboard)."""
    print("".join(char if char.isprintable() or char in "\n\t" else repr(char)[1:-1] for char in text))


def command_release(course: Course, args: argparse.Namespace) -> None:
    from autograder.release.release import release

    for lesson, paths in release(course, args.lessons, duedate=args.duedate, timing=not args.skip_timing).items():
        print(f"released {lesson}: {', '.join(str(p.relative_to(course.root)) for p in paths)}")
    if args.students:
        from autograder.release.students_tree import write_students_tree

        entries = write_students_tree(course, args.students)
        print(f"wrote the students' tree in {args.students}: {', '.join(path.name for path in entries)}")


def command_collect(course: Course, args: argparse.Namespace) -> None:
    from autograder.lms.collect import collect

    report = collect(course, args.source, lesson=args.lesson, roster=args.roster)
    say(report.as_text())


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def command_grade(course: Course, args: argparse.Namespace) -> None:
    from autograder.grading.cluster import ClusterGrading, grade_on_cluster
    from autograder.grading.grader import grade

    started = time.monotonic()
    address = args.cluster or ClusterGrading(config=course.config).address
    previous = signal.signal(signal.SIGTERM, interrupt)  # `kill` stops grading like Ctrl-C
    try:
        if address:
            outcomes = grade_on_cluster(course, address, args.students, args.lessons, force=args.force, echo=say)
        else:
            outcomes = grade(
                course, students=args.students, lessons=args.lessons, jobs=args.jobs, force=args.force, echo=say
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
    flagged = sum(outcome.serious for outcome in outcomes)
    print(
        f"graded {len(outcomes)} submissions in {time.monotonic() - started:.0f} s; "
        f"{flagged} flagged (python -m autograder report shows why)"
    )


def command_feedback(course: Course, args: argparse.Namespace) -> None:
    from autograder.reports.feedback import generate_feedback

    for line in generate_feedback(course, students=args.students, lessons=args.lessons):
        say(line)


def command_export(course: Course, args: argparse.Namespace) -> None:
    from autograder.lms.export import export

    paths = export(
        course,
        grades_csv=args.to,
        canvas_csv=args.canvas,
        roster=args.roster,
        missing_as_zero=args.missing_as_zero or None,
    )
    for path in paths:
        print(f"wrote {path}")


def command_report(course: Course, args: argparse.Namespace) -> None:
    from autograder.reports.class_page import write_class_pages
    from autograder.reports.report import report
    from autograder.reports.similarity import find_similar, write_similarity

    found = find_similar(course, lessons=args.lessons)
    write_similarity(course, found)
    text, path = report(course, lessons=args.lessons, csv_path=args.csv)
    say(text)
    print(f"wrote {path}")
    pages = write_class_pages(course, path.parent / CLASS_PAGES, lessons=args.lessons)
    print(f"wrote {pages[0]} (the class at a glance; one page per lesson beside it)")


def command_similarity(course: Course, args: argparse.Namespace) -> None:
    from autograder.reports.class_page import write_similarity_page
    from autograder.reports.similarity import as_text, find_similar, write_similarity

    found = find_similar(course, lessons=args.lessons, threshold=args.threshold)
    say(as_text(found))
    print(f"wrote {write_similarity(course, found)}")
    page = write_similarity_page(course.folder("autograded") / CLASS_PAGES, found)
    print(f"wrote {page} (the answers side by side, shared lines marked; `report` adds the flags to its table)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="The instructors' autograder: nbgrader configured and made robust for this course.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--course-dir",
        default=default_course_dir(),
        help="the course root holding nbgrader_config.py (default: %(default)s)",
    )
    parser.add_argument("--verbose", action="store_true", help="show nbgrader's log")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub = commands.add_parser(
        "release",
        help="regenerate lessons/ from solutions/ (nbgrader "
        "generate_assignment) and record the lessons in the gradebook",
    )
    sub.add_argument("lessons", nargs="*", metavar="LESSON", help="default: every lesson")
    sub.add_argument("--duedate", help='due date for late flags, e.g. "2025-03-01 23:59:00 UTC"')
    sub.add_argument(
        "--skip-timing",
        action="store_true",
        help="do not run the solutions to time them; grading keeps the limits measured before",
    )
    sub.add_argument(
        "--students",
        metavar="DIR",
        help="also write the students' tree (released lessons, the course library, a students' README and "
        "pyproject.toml; no solution, hidden test or mark scheme) into DIR, a clone of the public repository "
        "that c.ColabLink.repository names",
    )
    sub.set_defaults(run=command_release)

    sub = commands.add_parser(
        "collect", help="file an LMS download (zip or folder) as submitted/<student>/<lesson>/<lesson>.ipynb"
    )
    sub.add_argument("source", help="the zip or folder the LMS gave you")
    sub.add_argument(
        "--lesson",
        help="the lesson every notebook in SOURCE belongs to (default: worked out from each file's name or content)",
    )
    sub.add_argument("--roster", help="CSV with columns id, first_name, last_name, email")
    sub.set_defaults(run=command_collect)

    sub = commands.add_parser("grade", help="repair and autograde submissions")
    sub.add_argument("--students", nargs="+", default=[], metavar="STUDENT")
    sub.add_argument("--lessons", nargs="+", default=[], metavar="LESSON")
    sub.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    sub.add_argument(
        "--cluster",
        default="",
        metavar="ADDRESS",
        help="grade on the Dask scheduler at ADDRESS, e.g. tcp://10.0.0.5:8786 (default: c.ClusterGrading.address)",
    )
    sub.add_argument("--force", action="store_true", help="regrade submissions already graded")
    sub.set_defaults(run=command_grade)

    sub = commands.add_parser("feedback", help="HTML feedback per student, without hidden tests")
    sub.add_argument("--students", nargs="+", default=[], metavar="STUDENT")
    sub.add_argument("--lessons", nargs="+", default=[], metavar="LESSON")
    sub.set_defaults(run=command_feedback)

    sub = commands.add_parser("export", help="grades CSV (nbgrader's columns) and a Canvas CSV")
    sub.add_argument("--to", help="grades CSV (default: autograded/grades.csv)")
    sub.add_argument("--canvas", help="Canvas CSV (default: autograded/canvas_grades.csv)")
    sub.add_argument("--roster", help="CSV with id and optional sis_user_id, section columns")
    sub.add_argument(
        "--missing-as-zero",
        action="store_true",
        help="0 points for a lesson never submitted (default: empty, which Canvas imports as "
        "missing; or set c.GradeExport.missing_as_zero = True in nbgrader_config.py)",
    )
    sub.set_defaults(run=command_export)

    sub = commands.add_parser(
        "report",
        help="per-lesson table of scores and flags, and the class at a "
        "glance: autograded/class/index.html and one HTML page per lesson",
    )
    sub.add_argument("--lessons", nargs="+", default=[], metavar="LESSON")
    sub.add_argument("--csv", help="where to write the table (default: autograded/report.csv)")
    sub.set_defaults(run=command_report)

    sub = commands.add_parser(
        "similarity",
        help="compare every pair of students' code answers per exercise, and each answer with the course "
        "library's source (the starter code and model answers left out); flags only, no score changes",
    )
    sub.add_argument("--lessons", nargs="+", default=[], metavar="LESSON")
    sub.add_argument(
        "--threshold",
        type=float,
        help="share of an answer's own code found in the other that flags a pair (default: c.Similarity.threshold)",
    )
    sub.set_defaults(run=command_similarity)

    for name, tool, text in (
        ("bench", bench, "time grading: the lessons with 1 and 2 jobs, --class N, --sandbox-cost (--help for more)"),
        ("sample-class", sample_class, "make a sample class of submissions and check its grades (--help for more)"),
    ):
        commands.add_parser(name, help=text, add_help=False).set_defaults(tool=tool)
    return parser


def bench(argv: list[str]) -> int:
    from autograder.bench.__main__ import main

    return main(argv)


def sample_class(argv: list[str]) -> int:
    from autograder.samples.make_class import main

    return main(argv)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, tool_arguments = parser.parse_known_args(argv)
    if hasattr(args, "tool"):  # a tool with arguments of its own
        return args.tool(tool_arguments)
    if tool_arguments:
        parser.error(f"unrecognized arguments: {' '.join(tool_arguments)}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(message)s")
    put_python_tools_on_path()
    # nbgrader's add_submission trips this harmless SQLAlchemy 2 warning on every new submission.
    warnings.filterwarnings("ignore", message=".*not in session, add operation along")
    try:
        course = Course.load(args.course_dir)
        args.run(course, args)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every submission reported above is saved; run the command again to finish", file=sys.stderr)
        return 130
    return 0
