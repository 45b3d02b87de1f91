"""The kernel's side of checks that run outside it: answers turned into data, and library stand-ins disabled.

A test cell's hidden checks (``autograder.grading.checks``) run in the grader, on values the kernel sends
as JSON: ``dumps`` writes a value as tagged data (numbers, strings, lists, tuples, sets, dicts, arrays
and tensors as dtype, shape and numbers; anything else as its class name), never as code. While a
test's kernel part runs, ``Tripwires`` replaces the course library's functions that do the
exercise's job, wherever the kernel's modules and namespace hold them, with a stand-in that raises
``WriteItYourself``: an answer that calls them fails that test. This module runs inside the
student's kernel and imports only the standard library.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import types
from typing import Any

MAX_ITEMS = 2_000_000  # numbers in one shipped value, in all
MAX_DEPTH = 20
ARRAY_MODULES = ("numpy", "tensorflow", "keras", "jax", "torch")


class WriteItYourself(Exception):
    """An answer called a course library function that does the exercise's job."""


def dumps(value: Any) -> str:
    """``value`` as tagged JSON data (see the module docstring)."""
    budget = [MAX_ITEMS]
    return json.dumps(tagged(value, budget, 0))


def tagged(value: Any, budget: list[int], depth: int) -> Any:
    kind = type(value)
    if depth > MAX_DEPTH or budget[0] <= 0:
        return unsent("too large to send")
    budget[0] -= 1
    if value is None or kind in (bool, int, str):
        return {"type": kind.__name__, "value": value}
    if kind is float:
        return {"type": "float", "value": number(value)}
    if kind in (list, tuple, set, frozenset):
        items = sorted(value, key=repr) if kind in (set, frozenset) else value
        return {"type": kind.__name__, "items": [tagged(item, budget, depth + 1) for item in items]}
    if kind is dict:
        return {
            "type": "dict",
            "items": [[tagged(key, budget, depth + 1), tagged(item, budget, depth + 1)] for key, item in value.items()],
        }
    module = kind.__module__.split(".")[0]
    if module in ARRAY_MODULES and hasattr(value, "shape") and hasattr(value, "dtype"):
        return array(value, kind, budget)
    return unsent(f"{kind.__module__}.{kind.__qualname__}")


def array(value: Any, kind: type, budget: list[int]) -> dict:
    """An array, tensor or array scalar as its class, dtype, shape and numbers."""
    try:
        numbers = value.numpy() if hasattr(value, "numpy") else value
        shape = [int(side) for side in numbers.shape]
        size = math.prod(shape)
        if size > budget[0]:
            return unsent("too large to send")
        budget[0] -= size
        flat = numbers.reshape(-1).tolist() if shape else [numbers.item()]
        dtype = str(numbers.dtype)
    except Exception:  # noqa: BLE001 - an array that cannot be read is sent as an object
        return unsent(f"{kind.__module__}.{kind.__qualname__}")
    return {
        "type": "array",
        "class": f"{kind.__module__}.{kind.__qualname__}",
        "dtype": dtype,
        "shape": shape,
        "data": [number(item) if isinstance(item, float) else item for item in flat],
    }


def unsent(kind: str) -> dict:
    """A value sent by its class name only (the grader rebuilds it as an object equal to nothing)."""
    return {"type": "object", "class": kind}


def number(value: float) -> float | str:
    """A float JSON can carry: NaN and the infinities as text."""
    return value if math.isfinite(value) else repr(value)


class Tripwires:
    """Library functions disabled while a test's kernel part runs (see the module docstring)."""

    def __init__(self, user_ns: dict[str, Any]) -> None:
        self.user_ns = user_ns
        self.replaced: list[tuple[dict[str, Any], str, Any]] = []

    def forbid(self, dotted_names: list[str]) -> None:
        """Replace each named function (``package.module.function``) wherever a module or the
        user's namespace holds it."""
        originals = {}
        for dotted in dotted_names:
            module_name, _, name = dotted.rpartition(".")
            try:
                originals[id(getattr(importlib.import_module(module_name), name))] = dotted
            except (ImportError, AttributeError):
                continue
        namespaces = [vars(module) for module in list(sys.modules.values()) if isinstance(module, types.ModuleType)]
        for namespace in [*namespaces, self.user_ns]:
            for key, value in list(namespace.items()):
                if id(value) in originals:
                    self.replaced.append((namespace, key, value))
                    namespace[key] = stand_in(originals[id(value)])

    def allow(self) -> None:
        """Put every replaced function back."""
        for namespace, key, value in reversed(self.replaced):
            namespace[key] = value
        self.replaced = []


def written_by_the_library(verb: str, names: str) -> str:
    """What a student is told whose answer ``verb``s (calls, uses) the library's ``names``."""
    return (
        f"this answer {verb} {names} from the course library, which does this exercise's job: "
        "write it yourself (the exercise is graded on your own code)"
    )


def stand_in(dotted: str) -> Any:
    def write_it_yourself(*args: Any, **kwargs: Any) -> Any:
        raise WriteItYourself(written_by_the_library("calls", dotted))

    return write_it_yourself
