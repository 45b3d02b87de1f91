"""Releasing lessons: the student notebooks, their Colab links, the students' tree."""
