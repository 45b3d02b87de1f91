"""A sample class to grade: students' work of every kind, written as an LMS download, with the grades it should get
(never on the grading path)."""
