"""Hidden checks that run in the grader, on data from the student's kernel.

A test cell of a lesson's source may end its hidden region with checks::

    assert add(1, 2) == 3                  # visible: runs in the student's kernel
    ### BEGIN HIDDEN TESTS
    # write it yourself: course.ops.add    # library functions that may not stand in for the answer
    visible_sum, hidden_sum = add(1, 2), add(20, 22)   # the probe: runs in the kernel, makes data
    ### CHECKS
    assert type(hidden_sum) is int and hidden_sum == 42  # runs in the grader
    ### END HIDDEN TESTS

The kernel runs the visible tests and the probe only; the grader then asks it for every name the
checks read (``free_names``) as data (``autograder.sandbox.kernel_probe.dumps``), rebuilds the values
(``loads``: numbers, strings, containers, numpy arrays, ``Tensor`` for a tensor, ``Foreign`` for any
other object) and runs the checks in its own process, which never ran student code: no expected
value or check reaches the kernel, and nothing the kernel does can change the verdict, only the data
it sends. The checks see ``np``, ``math``, ``Tensor`` and ``Foreign`` besides those values, and may
import what they need: models and figures arrive as ``course.facts`` makes them, and checks several
lessons share are in ``autograder.grading.lesson_checks``.
"""

from __future__ import annotations

import ast
import builtins
import json
import math
import re
from dataclasses import dataclass

import numpy as np

from autograder.cells import HIDDEN_TESTS_BEGIN, HIDDEN_TESTS_END
from autograder.courseroot import AutograderError

CHECKS_MARKER = "### CHECKS"
FORBIDDEN_LINE = re.compile(r"^# write it yourself:(.*)$", re.MULTILINE)
CONTAINERS = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}
MAX_DATA_CHARS = 50_000_000  # what one test's data may take, as text
DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"}
)


class Tensor:
    """A tensor the kernel sent: ``kind`` is its class there, ``numpy()`` (or ``np.asarray``) its values;
    like a tensor, it has a shape and a dtype and is no NumPy array."""

    def __init__(self, kind: str, values: np.ndarray) -> None:
        self.kind = kind
        self.values = values

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    def numpy(self) -> np.ndarray:
        return self.values

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"<{self.kind} shape={self.shape} dtype={self.dtype}>"


class Foreign:
    """A value of a class the grader does not rebuild; equal to nothing but itself."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind} object>"


class BadData(AutograderError, ValueError):
    """The kernel sent something that is not data of the agreed form."""


@dataclass(frozen=True)
class HiddenChecks:
    """A test cell's source split: what its kernel runs, what the grader checks."""

    kernel_source: str
    checks: str


def split_checks(source: str) -> HiddenChecks | None:
    """The test cell's parts, or None when its hidden region has no checks (it runs in the kernel)."""
    if CHECKS_MARKER not in source or f"### {HIDDEN_TESTS_BEGIN}" not in source:
        return None
    before, _, rest = source.partition(CHECKS_MARKER)
    checks, _, after = rest.partition(f"### {HIDDEN_TESTS_END}")
    return HiddenChecks(before + after, checks.strip("\n"))


def forbidden_functions(source: str) -> tuple[str, ...]:
    """The library functions a test cell's ``# write it yourself:`` lines name (any test cell, checks or not)."""
    return tuple(name.strip() for line in FORBIDDEN_LINE.findall(source) for name in line.split(",") if name.strip())


def given_names() -> dict[str, object]:
    """What the checks see besides the kernel's values."""
    return {"np": np, "math": math, "Tensor": Tensor, "Foreign": Foreign}


def free_names(checks: str) -> list[str]:
    """The names the checks read without assigning or importing them (builtins and ``given_names`` aside)."""
    tree = ast.parse(checks)
    stored = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)}
    stored |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    stored |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    stored |= {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    loaded = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return sorted(loaded - stored - set(dir(builtins)) - set(given_names()))


def loads(text: str) -> object:
    """A value from the kernel's tagged JSON (``kernel_probe.dumps``); BadData for anything else."""
    if len(text) > MAX_DATA_CHARS:
        raise BadData(f"more than {MAX_DATA_CHARS} characters")
    try:
        return rebuilt(json.loads(text))
    except (ValueError, TypeError, KeyError, RecursionError) as error:
        raise BadData(str(error)) from None


def rebuilt(data: dict) -> object:
    kind = data["type"]
    if kind in ("NoneType", "bool", "int", "str"):
        value = data["value"]
        if type(value).__name__ != kind:
            raise BadData(f"a {kind} that is not one")
        return value
    if kind == "float":
        return float(data["value"])
    if kind in CONTAINERS:
        return CONTAINERS[kind](rebuilt(item) for item in data["items"])
    if kind == "dict":
        return {rebuilt(key): rebuilt(value) for key, value in data["items"]}
    if kind == "array":
        return rebuilt_array(data)
    if kind == "object":
        return Foreign(str(data["class"]))
    raise BadData(f"unknown type {kind!r}")


def rebuilt_array(data: dict) -> object:
    dtype, shape, kind = str(data["dtype"]), [int(side) for side in data["shape"]], str(data["class"])
    if dtype not in DTYPES:
        raise BadData(f"dtype {dtype!r}")
    values = np.array([float(item) if isinstance(item, str) else item for item in data["data"]], dtype=dtype)
    if values.size != math.prod(shape):
        raise BadData("an array whose shape does not fit its numbers")
    values = values.reshape(shape)
    if kind.split(".")[0] == "numpy":
        return values if kind.endswith("ndarray") else values[()]  # an array, or a numpy scalar
    return Tensor(kind, values)


def run_checks(checks: str, values: dict[str, object]) -> str:
    """Run the checks on ``values``; "" when they pass, else what failed (the assertion's message, never
    the check's source: feedback shows it)."""
    namespace = {**given_names(), **values}
    try:
        exec(compile(checks, "<hidden checks>", "exec"), namespace)  # noqa: S102 - the course's own checks
    except AssertionError as error:
        return str(error) or "a hidden check failed"
    except Exception as error:  # noqa: BLE001 - a wrong answer's data can break a check: it fails
        return f"a hidden check could not use this answer's result ({type(error).__name__}: {error})"
    return ""


def delegations(sources: list[str], forbidden: tuple[str, ...]) -> list[str]:
    """The ``forbidden`` functions (``package.module.function``) that ``sources`` import or name, through
    any import or alias of theirs."""
    found = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        aliases = imported_names(tree)
        for dotted in [*aliases.values(), *(dotted_name(node, aliases) for node in ast.walk(tree))]:
            if dotted in forbidden and dotted not in found:
                found.append(dotted)
    return found


def imported_names(tree: ast.AST) -> dict[str, str]:
    """{local name: the dotted name it was imported as}."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def dotted_name(node: ast.AST, aliases: dict[str, str]) -> str:
    """The dotted name a Name or Attribute chain stands for, resolved through ``aliases`` ("" if none)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return ""
    return ".".join([aliases[node.id], *reversed(parts)])
