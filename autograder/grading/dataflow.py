"""Which test cells of a lesson fail when some of its answers are wrong, read from the code.

A wrong answer "taints" the names its cell defines. Running down the solution notebook
statement by statement, the first statement of a cell that reads a tainted name fails and
the rest of its cell does not run: the names they would have defined first are tainted (a
name bound earlier keeps its value). A statement that runs cleanly un-taints the names it
defines; a function whose body reads a tainted name is tainted itself (calling it will
fail). A test cell that fails loses its points. This is an estimate made without running
anything (a statement that only mentions a name without using it counts as failing);
the sample class (``autograder.samples.work``) uses it to say what a partly wrong notebook should
score, and grading that notebook checks it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode

from autograder.cells import grade_id, is_test

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
NEW_SCOPES = DEFINITIONS + (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class Statement:
    """What one top-level statement of a cell defines and reads when it runs."""

    defines: set = field(default_factory=set)
    reads: set = field(default_factory=set)
    deferred_reads: set = field(default_factory=set)  # read by a function's body when called


@dataclass
class Cell:
    grade_id: str | None
    test: bool
    statements: list[Statement]

    @property
    def defines(self) -> set[str]:
        return set().union(*(statement.defines for statement in self.statements))

    @property
    def reads(self) -> set[str]:
        return set().union(*(s.reads | s.deferred_reads for s in self.statements))


def bound_in(node: ast.AST) -> set[str]:
    """Names local to a function, lambda or comprehension: parameters and assigned names."""
    names = {child.id for child in ast.walk(node) if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)}
    arguments = getattr(node, "args", None)
    if isinstance(arguments, ast.arguments):
        for argument in arguments.posonlyargs + arguments.args + arguments.kwonlyargs:
            names.add(argument.arg)
        names |= {argument.arg for argument in (arguments.vararg, arguments.kwarg) if argument}
    return names


def free_reads(node: ast.AST, bound: frozenset[str] = frozenset()) -> set[str]:
    """Global names a piece of code reads (names local to its functions left out)."""
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) and node.id not in bound else set()
    if isinstance(node, NEW_SCOPES) and not isinstance(node, ast.ClassDef):
        bound = bound | bound_in(node)
    found = set()
    for child in ast.iter_child_nodes(node):
        found |= free_reads(child, bound)
    return found


def run_time_nodes(statement: ast.AST) -> Iterator[ast.AST]:
    """The nodes a statement evaluates when it runs: function and class bodies and
    comprehensions are not entered (the definitions themselves are included)."""
    pending = [statement]
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, NEW_SCOPES):
            pending.extend(ast.iter_child_nodes(node))


def analyse_statement(node: ast.stmt) -> Statement:
    statement = Statement()
    if isinstance(node, DEFINITIONS):
        statement.defines.add(node.name)
        run_now = node.decorator_list + getattr(node, "bases", [])
        if isinstance(node, ast.ClassDef):
            run_now += node.body  # a class body runs when the class is defined
        else:
            run_now += node.args.defaults + [default for default in node.args.kw_defaults if default]
        statement.reads = set().union(*(free_reads(part) for part in run_now))
        statement.deferred_reads = free_reads(node) - statement.reads
        return statement
    statement.reads = free_reads(node)
    for child in run_time_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            statement.defines |= {(alias.asname or alias.name).split(".")[0] for alias in child.names}
        elif isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            statement.defines.add(child.id)
        elif isinstance(child, DEFINITIONS):
            statement.defines.add(child.name)
    if not isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)):
        statement.reads -= statement.defines  # a loop or block reading what it assigned itself
    return statement


def analyse_cell(cell: NotebookNode) -> Cell:
    """A code cell's statements; a cell that is not valid Python has none."""
    try:
        tree = ast.parse(TransformerManager().transform_cell(cell.source))
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    return Cell(grade_id(cell), is_test(cell), [analyse_statement(node) for node in tree.body])


class DataFlow:
    """The statements of every code cell of a solution notebook, to follow wrong answers."""

    def __init__(self, solution: NotebookNode) -> None:
        self.cells = [analyse_cell(cell) for cell in solution.cells if cell.cell_type == "code"]
        self.by_grade_id = {cell.grade_id: cell for cell in self.cells if cell.grade_id}

    def failing_tests(self, wrong_answers: set[str]) -> list[str]:
        """Grade ids of the test cells that fail when the answers ``wrong_answers`` are wrong,
        in notebook order."""
        unknown = set(wrong_answers) - set(self.by_grade_id)
        if unknown:
            raise KeyError(f"no code cells with grade ids {sorted(unknown)}")
        tainted, bound, failing = set(), set(), []
        for cell in self.cells:
            failed = cell.grade_id in wrong_answers
            for statement in cell.statements:
                if cell.grade_id in wrong_answers:
                    tainted |= statement.defines
                elif failed:
                    tainted |= statement.defines - bound
                elif statement.reads & tainted:
                    failed = True
                    tainted |= statement.defines - bound
                elif statement.deferred_reads & tainted:
                    tainted |= statement.defines
                else:
                    tainted -= statement.defines
                bound |= statement.defines - tainted
            if failed and cell.test:
                failing.append(cell.grade_id)
        return failing

    def direct_readers(self, answer: str) -> int:
        """How many other cells read a name the answer cell defines."""
        defined = self.by_grade_id[answer].defines
        return sum(bool(cell.reads & defined) for cell in self.cells if cell.grade_id != answer)
