"""A released lesson of one notebook, modelled for making student work from it: the released
notebook, the correct answers, the points of its tests and the data flow of its solution."""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.cells import CODE_STUB_LINES, STUB_PLACEHOLDERS, grade_id, is_answer, is_graded, is_test, points
from autograder.courseroot import Course, CourseError
from autograder.grading.checks import delegations, forbidden_functions
from autograder.grading.dataflow import DataFlow
from autograder.grading.student_work import answered, correct_answers


@dataclass
class LessonModel:
    """A released lesson of one notebook, with its correct answers and its solution's data flow."""

    name: str
    filename: str
    release: nbformat.NotebookNode
    answers: dict[str, str]  # grade id -> correct answer
    flow: DataFlow  # of the solution notebook
    forbidden: dict[str, tuple[str, ...]]  # test grade id -> the library functions it forbids (# write it yourself:)

    @classmethod
    def load(cls, course: Course, name: str) -> LessonModel:
        """The lesson ``name`` of a released course; the answers are its solution's."""
        notebooks = course.release_notebooks(name)
        if len(notebooks) != 1:
            raise CourseError(
                f"lesson {name} has {len(notebooks)} released notebooks; the sample "
                "class handles lessons of exactly one (run `python -m autograder "
                "release` if it has none)"
            )
        return cls.from_notebooks(name, notebooks[0], course.folder("source") / name / notebooks[0].name)

    @classmethod
    def from_notebooks(
        cls, name: str, release_path: Path, solution_path: Path, answers: dict[str, str] | None = None
    ) -> LessonModel:
        """A lesson from its released and solution notebooks; ``answers`` (by grade id) replace the
        solution's answers where given."""
        if not solution_path.is_file():
            raise CourseError(
                f"{solution_path} not found: the lesson's correct answers come from its solution notebook"
            )
        solution = nbformat.read(solution_path, as_version=4)
        release = nbformat.read(release_path, as_version=4)
        own = {grade_id(cell) for cell in release.cells}
        chosen = {**correct_answers(solution), **{key: value for key, value in (answers or {}).items() if key in own}}
        forbidden = {grade_id(cell): forbidden_functions(cell.source) for cell in solution.cells if is_test(cell)}
        return cls(name, release_path.name, release, chosen, DataFlow(solution), forbidden)

    def tests_done_by_the_library(self, answers: dict[str, str]) -> list[str]:
        """The tests that ``answers`` (answer cells by grade id) fail by naming a function they forbid."""
        return [test for test, names in self.forbidden.items() if delegations(list(answers.values()), names)]

    @property
    def stem(self) -> str:
        return Path(self.filename).stem

    @property
    def code_answers(self) -> list[str]:
        return [grade_id(cell) for cell in self.release.cells if is_answer(cell) and cell.cell_type == "code"]

    @property
    def function_answers(self) -> list[str]:
        """Code answers whose stub is the body of a function the student completes."""
        return [
            answer
            for answer in self.code_answers
            if any(line.strip() in CODE_STUB_LINES and line[:1].isspace() for line in self.stub(answer).splitlines())
        ]

    @property
    def test_points(self) -> dict[str, float]:
        return {grade_id(cell): points(cell) for cell in self.release.cells if is_test(cell)}

    @property
    def full_points(self) -> float:
        """The points the autograder gives: every test cell's."""
        return sum(self.test_points.values())

    @property
    def max_score(self) -> float:
        """Every graded cell's points, the ones graded by hand included."""
        return sum(points(cell) for cell in self.release.cells if is_graded(cell))

    @property
    def graded_by_hand(self) -> bool:
        return any(is_answer(cell) and is_graded(cell) for cell in self.release.cells)

    def stub(self, answer: str) -> str:
        """The released source of an answer cell."""
        return next(cell.source for cell in self.release.cells if grade_id(cell) == answer)

    def correct_body(self, answer: str) -> str:
        """The body of a function answer's correct version: the correct answer without the
        stub's signature and docstring, dedented."""
        prompts = [
            line.strip()
            for line in self.stub(answer).splitlines()
            if line.strip() and not any(marker in line for marker in STUB_PLACEHOLDERS)
        ]
        lines = self.answers[answer].splitlines()
        while lines and prompts and lines[0].strip() == prompts[0]:
            lines.pop(0)
            prompts.pop(0)
        return textwrap.dedent("\n".join(lines)).strip("\n")

    def defined_function(self, answer: str) -> ast.FunctionDef:
        """The function a function answer's stub defines."""
        stub = ast.parse(
            "\n".join(line for line in self.stub(answer).splitlines() if line.strip() not in CODE_STUB_LINES)
            + "\n    pass"
        )
        return next(node for node in ast.walk(stub) if isinstance(node, ast.FunctionDef))

    def first_parameter(self, answer: str) -> str:
        """The first parameter of the function a function answer defines."""
        return self.defined_function(answer).args.args[0].arg

    def function_name(self, answer: str) -> str:
        """The name of the function a function answer defines."""
        return self.defined_function(answer).name

    def correct(self, changed: dict[str, str] | None = None) -> nbformat.NotebookNode:
        """The released notebook with correct answers, or the answers ``changed`` gives by grade id."""
        return answered(self.release, {**self.answers, **(changed or {})})

    def with_stubs(self, stubbed: tuple[str, ...] | list[str]) -> nbformat.NotebookNode:
        """The released notebook with correct answers except ``stubbed``, left as the release's stubs."""
        return answered(self.release, {key: value for key, value in self.answers.items() if key not in stubbed})

    def first_test(self) -> str:
        return next(grade_id(cell) for cell in self.release.cells if is_test(cell))
