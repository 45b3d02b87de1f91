"""The base of the maintainers' tools' errors; exit statuses as in :mod:`course.errors`."""

from course.errors import FAILED


class CourseToolsError(Exception):
    """Base of ``course_tools``'s errors: a failed run or check unless the class says otherwise."""

    exit_status = FAILED
