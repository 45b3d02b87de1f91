"""The course's errors and the exit status a command gives for them.

Every error the library raises on purpose derives from :class:`CourseError` (``course_tools`` has its own
base, ``course_tools.errors.CourseToolsError``). The commands of ``course`` and ``course_tools`` follow one
rule: exit status 2 for a usage or configuration error (as ``argparse`` does for a bad argument), 1 for a
check or run that failed. Each error class says which it is in ``exit_status``.
"""

from __future__ import annotations

import sys

FAILED = 1  # a check or run that failed
USAGE_ERROR = 2  # a bad argument or configuration: the command cannot do what was asked


class CourseError(Exception):
    """Base of the course library's errors: a failed run or check unless the class says otherwise."""

    exit_status = FAILED


def report_error(error: Exception) -> int:
    """Print ``error`` for a command's user and return the exit status it calls for."""
    print(f"error: {error}", file=sys.stderr)
    return getattr(error, "exit_status", FAILED)
