"""The test guard: runs inside a student's kernel and tells the grader whether a test cell really ran.

``SafeExecute`` installs it when the kernel starts, before any student code, with a secret key
and the name it is reached by. It records the kernel's baseline: every mechanism through which
code can change how the kernel runs or reports a cell (IPython's custom exception handler,
input and AST transformers, events, the methods of the shell, the kernel and their helpers, the
trace and profile functions, ``sys`` hooks, standard streams) and the protected modules (their
attributes and the code of their functions). Each test cell is then sent as
``<guard>.run_test(source, nonce)``, which

1. puts the baseline back (undoing whatever student code installed earlier),
2. compiles and runs the test's own source in the user namespace, outside IPython's (possibly
   rigged) cell pipeline, and notes whether it ran to its end,
3. compares the kernel with the baseline again: a hook installed, a module patched or a
   ``settrace``/``setprofile`` call (seen by an audit hook, which Python code cannot remove)
   while the test ran, or student code running in another thread, means the test did not
   provably run.

The grader then asks ``<guard>.verdict(nonce)`` through ``user_expressions`` and checks its
HMAC: only "passed", signed with the kernel's key, lets the test cell keep its points. The guard
lives in the student's interpreter, so code aimed at it (its key is an attribute) can beat it: a
test cell whose hidden checks run in the grader (``autograder.grading.checks``) does not depend on it.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import importlib
import sys
import threading
import types
from typing import Any

from autograder.sandbox.kernel_probe import Tripwires, dumps
from autograder.sandbox.kernel_watch import Watch

PASSED = "passed"
HOOK_EVENTS = frozenset({"sys.settrace", "sys.setprofile"})
SHELL_LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
TRANSFORMER_LISTS = ("cleanup_transforms", "line_transforms", "token_transformers")
SYS_HOOKS = ("excepthook", "displayhook", "breakpointhook", "unraisablehook", "stdout", "stderr", "meta_path")
# Module attributes ipykernel itself replaces on every request (builtins.input) or IPython's output cache.
VOLATILE = frozenset({"_", "__", "___", "input", "raw_input", "getpass"})
SHELL_HELPERS = ("compile", "displayhook", "display_pub", "events", "input_transformer_manager", "InteractiveTB")


def signature(key: bytes, nonce: str, verdict: str) -> str:
    """The HMAC the grader checks: ``verdict`` is the guard's, for the test sent with ``nonce``."""
    return hmac.new(key, f"{nonce}:{verdict}".encode(), hashlib.sha256).hexdigest()


class Guard:
    """See the module docstring."""

    def __init__(self, shell: Any, key: bytes, protected: list[str]) -> None:
        self.shell = shell
        self.key = key
        for name in protected:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a protected module the kernel lacks is not protected
                continue
        # A package's submodules too: numpy.allclose calls numpy._core.numeric.isclose.
        self.modules = [
            (name, module, dict(vars(module)), function_parts(vars(module)))
            for name, module in list(sys.modules.items())
            if isinstance(module, types.ModuleType) and any(name == p or name.startswith(f"{p}.") for p in protected)
        ]
        self.classes = [cls for helper in self.helpers() for cls in type(helper).__mro__ if cls is not object]
        self.baseline = self.state()
        self.hook_calls = 0
        self.verdicts: dict[str, str] = {}
        self.watch: Watch | None = None
        self.tripwires = Tripwires(shell.user_ns)
        sys.addaudithook(self.audit)

    def helpers(self) -> list[Any]:
        shell = self.shell
        return [shell, getattr(shell, "kernel", None), *(getattr(shell, name, None) for name in SHELL_HELPERS)]

    def audit(self, event: str, args: tuple) -> None:
        if event in HOOK_EVENTS:
            self.hook_calls += 1

    def state(self) -> dict[str, Any]:
        """Everything that decides how a cell runs and how its outcome is reported."""
        shell = self.shell
        found = {
            "custom exception handler": (shell.custom_exceptions, vars(shell).get("CustomTB")),
            "trace function": (sys.gettrace(), getattr(threading, "_trace_hook", None)),
            "profile function": (sys.getprofile(), getattr(threading, "_profile_hook", None)),
        }
        for name in SHELL_LISTS:
            found[name] = tuple(getattr(shell, name))
        for name in TRANSFORMER_LISTS:
            found[f"input_transformer_manager.{name}"] = tuple(getattr(shell.input_transformer_manager, name))
        for name in SYS_HOOKS:
            value = getattr(sys, name)
            found[f"sys.{name}"] = tuple(value) if isinstance(value, list) else value
        for helper in self.helpers():
            if helper is not None:
                found[f"{type(helper).__name__} object"] = {
                    key: value for key, value in vars(helper).items() if callable(value) and not isinstance(value, type)
                }
        for cls in self.classes:
            found[f"class {cls.__qualname__}"] = dict(vars(cls))
        for name, module, attributes, parts in self.modules:
            namespace = vars(module)
            found[f"module {name}"] = (
                sys.modules.get(name),
                {key: namespace.get(key) for key in attributes if key not in VOLATILE},
                {function: (function.__code__, function.__defaults__, function.__kwdefaults__) for function in parts},
            )
        return found

    def changes(self) -> list[str]:
        """What differs from the baseline (by identity)."""
        now = self.state()
        return [name for name, value in self.baseline.items() if not same(value, now.get(name))]

    def reset(self) -> None:
        """Put the baseline back."""
        shell = self.shell
        base = self.baseline
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        vars(shell).pop("CustomTB", None)
        shell.custom_exceptions = base["custom exception handler"][0]
        for name in SHELL_LISTS:
            getattr(shell, name)[:] = base[name]
        for name in TRANSFORMER_LISTS:
            getattr(shell.input_transformer_manager, name)[:] = base[f"input_transformer_manager.{name}"]
        for name in SYS_HOOKS:
            if name == "meta_path":
                sys.meta_path[:] = base["sys.meta_path"]
            else:
                setattr(sys, name, base[f"sys.{name}"])
        for helper in self.helpers():
            if helper is not None:
                restore_namespace(vars(helper), base[f"{type(helper).__name__} object"], added=callable)
        for cls in self.classes:
            original = base[f"class {cls.__qualname__}"]
            for key in [key for key in vars(cls) if key not in original]:
                delattr(cls, key)
            for key, value in original.items():
                if vars(cls).get(key) is not value:
                    setattr(cls, key, value)
        for name, module, attributes, parts in self.modules:
            sys.modules[name] = module
            restore_namespace(vars(module), attributes)
            for function, (code, defaults, kwdefaults) in parts.items():
                function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults

    def foreign_threads(self) -> list[str]:
        """Other threads running notebook code (a student thread could change things mid-test)."""
        cells = getattr(self.shell.compile, "_filename_map", {})
        names = []
        for ident, frame in sys._current_frames().items():
            if ident == threading.get_ident():
                continue
            while frame is not None:
                if frame.f_code.co_filename in cells:
                    names.append(f"thread {ident}")
                    break
                frame = frame.f_back
        return names

    def run_test(self, source: str, nonce: str) -> None:
        """Run a test cell's source from the baseline; record the verdict (see the module docstring)."""
        __tracebackhide__ = True  # noqa: F841 - IPython leaves this frame out of the test's traceback
        self.reset()
        self.verdicts[nonce] = "it did not run to its end"
        calls = self.hook_calls
        transformed = self.shell.input_transformer_manager.transform_cell(source)
        code = compile(transformed, self.shell.compile.cache(transformed, self.shell.execution_count, source), "exec")
        exec(code, self.shell.user_ns)  # noqa: S102 - the grader's own test code
        altered = self.changes() + self.foreign_threads()
        if self.hook_calls != calls:
            altered.append("sys.settrace/sys.setprofile called")
        verdict = f"student code altered the kernel while it ran: {', '.join(altered)}" if altered else PASSED
        self.verdicts[nonce] = verdict

    def incidents(self) -> list[str]:
        """What student code tried against the sandbox since the last call (nothing unsandboxed)."""
        return self.watch.incidents() if self.watch else []

    def shipped(self, value: Any) -> str:
        """``value`` as data for the grader's hidden checks (``autograder.sandbox.kernel_probe``)."""
        return dumps(value)

    def verdict(self, nonce: str) -> str:
        """``<hmac> <verdict>`` for the test sent with ``nonce``."""
        verdict = self.verdicts.pop(nonce, "it never started")
        return f"{signature(self.key, nonce, verdict)} {verdict}"


def function_parts(namespace: dict[str, Any]) -> dict[types.FunctionType, tuple]:
    """The code, defaults and keyword defaults of the Python functions in ``namespace``, and of
    those behind its wrappers (``functools.wraps``, numpy's ``array_function_dispatch``)."""
    functions = []
    for value in namespace.values():
        functions.append(value)
        if callable(value) and not isinstance(value, type):
            try:
                functions += [getattr(value, "__wrapped__", None), getattr(value, "_implementation", None)]
            except Exception:  # noqa: BLE001 - an attribute that fails to load wraps nothing
                continue
    return {
        function: (function.__code__, function.__defaults__, function.__kwdefaults__)
        for function in functions
        if isinstance(function, types.FunctionType)
    }


def restore_namespace(namespace: dict[str, Any], original: dict[str, Any], added: Any = None) -> None:
    """Put ``original``'s values back in ``namespace``; drop new keys whose value ``added`` accepts."""
    for key, value in original.items():
        if key not in VOLATILE and namespace.get(key) is not value:
            namespace[key] = value
    if added is not None:
        for key in [key for key, value in namespace.items() if key not in original and added(value)]:
            del namespace[key]


def same(old: Any, new: Any) -> bool:
    """Whether two recorded states hold the same objects."""
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(same(value, new[key]) for key, value in old.items())
    if isinstance(old, tuple) and isinstance(new, tuple):
        return len(old) == len(new) and all(same(a, b) for a, b in zip(old, new, strict=True))
    return old is new


def install(
    shell: Any, key_hex: str, protected: list[str], name: str, forbidden: list[str] | None, allowed: list[str]
) -> None:
    """Make a Guard for ``shell`` reachable as the builtin ``name`` (before any student code runs);
    in the sandbox (``forbidden``: the course's folders, ``allowed``: those of them it may read), with a
    Watch of what student code tries."""
    guard = Guard(shell, bytes.fromhex(key_hex), protected)
    if forbidden is not None:
        guard.watch = Watch(forbidden, allowed)
        sys.addaudithook(guard.watch.audit)
    setattr(builtins, name, guard)
