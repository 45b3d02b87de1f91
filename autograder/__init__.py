"""The instructors' autograder: nbgrader configured and extended for this course.

Run ``python -m autograder --help`` for the commands (release, collect, grade, feedback,
export, report).
"""
