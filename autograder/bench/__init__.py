"""Benchmarks of grading: the lessons one student at a time, and a whole class (never on the grading path)."""
