"""Safe execution of student notebooks, as nbgrader preprocessors.

``SafeExecute`` is nbgrader's ``Execute`` with the limits a class of 200 needs: a memory cap
per kernel, a time limit per notebook on top of nbgrader's per-cell timeout, a cap on output
size, a kernel restarted (not the whole notebook lost) when student code kills it, with the
cells that had run cleanly replayed so only the broken cell loses its points, and numpy,
math and builtins restored before every test cell so monkeypatching them cannot fake a pass.
Test cells run under the test guard (``autograder.sandbox.kernel_guard``): a test keeps its points only
if the guard, signing with a key student code never saw, reports that it ran to its end from a
clean kernel and that nothing changed how the kernel runs or reports it meanwhile.
What it had to do is written to the notebook's metadata (``autograder.events``).

``SaveAutoGradesIgnoringStderr`` scores test cells from their errors, not from library
warnings written to stderr.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import hmac
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from time import monotonic
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, SaveAutoGrades
from traitlets import Bool, Dict, Integer, List, Unicode

from autograder.cells import grade_id, is_answer, is_test, nbgrader_metadata
from autograder.grading.checks import (
    BadData,
    HiddenChecks,
    delegations,
    forbidden_functions,
    free_names,
    loads,
    run_checks,
    split_checks,
)
from autograder.sandbox.bwrap import (
    COURSE_ROOT_VARIABLE,
    INSIDE_SOCKETS,
    Sandbox,
    give_to_kernel,
    readable_paths,
    sandbox_root,
)
from autograder.sandbox.cgroups import GroupLimits, SandboxGroup
from autograder.sandbox.kernel_guard import PASSED, signature
from autograder.sandbox.kernel_probe import written_by_the_library

EVENTS_KEY = "autograder"
INSIDE_IPC = f"{INSIDE_SOCKETS}/ipc"  # the kernel's sockets are <this>-<port> in its sandbox
SANDBOX_START_SECONDS = 60  # for bwrap to set up the sandbox's mounts
CAPPED_OUTPUTS = ("stream", "display_data", "update_display_data", "execute_result", "error")

# Runs in the kernel once it starts, before any student code: installs the test guard.
GUARD_INSTALL = """
import autograder.sandbox.kernel_guard as _autograder_kernel_guard
_autograder_kernel_guard.install(get_ipython(), {key!r}, {protected!r}, {name!r}, {forbidden!r}, {allowed!r})
del _autograder_kernel_guard
"""


def cell_label(cell: NotebookNode, index: int) -> str:
    return grade_id(cell) or f"cell {index + 1}"


def error_output(ename: str, message: str) -> NotebookNode:
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def guard_verdict(reply: dict, key: bytes, nonce: str) -> str:
    """The test guard's verdict in a ``user_expressions`` reply, or why it is not the guard's."""
    result = reply["content"].get("user_expressions", {}).get("verdict", {})
    try:
        text = ast.literal_eval(result["data"]["text/plain"])
        mac, verdict = text.split(" ", 1)
    except (KeyError, ValueError, SyntaxError, AttributeError, TypeError):
        return "the test guard did not answer"
    if not hmac.compare_digest(mac, signature(key, nonce, verdict)):
        return "the test guard's answer was forged"
    return verdict


def output_size(content: dict[str, Any]) -> tuple[int, int]:
    """Characters in an output message's content: (text: stream text, display data, an error's
    traceback; images: base64 image data)."""
    if "text" in content:
        return len(content["text"]), 0
    if "traceback" in content:
        return len(str(content.get("evalue", ""))) + sum(len(str(line)) for line in content["traceback"]), 0
    data = content.get("data", {})
    images = sum(len(str(value)) for kind, value in data.items() if kind.startswith("image/"))
    return sum(len(str(value)) for value in data.values()) - images, images


def shortened_error(content: dict[str, Any], limit: int) -> dict[str, Any]:
    """An error message's content cut to about ``limit`` characters: still an error, so a failing test still fails."""
    note = f" [cut by the autograder: more than {limit} characters]"
    evalue = str(content.get("evalue", ""))
    traceback = [str(line)[:limit] for line in content.get("traceback", [])[-3:]]
    return {**content, "evalue": evalue[:limit] + (note if len(evalue) > limit else ""), "traceback": traceback}


class LimitedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start under an address-space limit and, once ``confine``d,
    in the sandbox (``autograder.sandbox.bwrap``), in a control group of their own where the machine
    allows one (``autograder.sandbox.cgroups``). There the kernel reads its connection file from a
    read-only private folder and binds its IPC sockets in its own size-capped ``/tmp``; the grader
    connects to them through the sandbox's root (``sandbox_root``)."""

    memory_limit_mb = Integer(0, help="Address-space limit of the kernel in MiB (0: none)")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sandbox: Sandbox | None = None
        self.private: Path | None = None
        self.root: int | None = None  # descriptor of the running sandbox's root
        self.group: SandboxGroup | None = None

    def confine(self, sandbox: Sandbox, folder: str) -> None:
        """Start the next kernel in ``sandbox`` with a copy of ``folder``'s files other than notebooks
        (graded notebooks of the lesson, written there by nbgrader, hold hidden tests)."""
        self.sandbox = sandbox
        self.private = Path(tempfile.mkdtemp(prefix="autograder-kernel-"))
        shutil.copytree(folder, self.private / "submission", symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
        self.transport = "ipc"
        self.connection_file = str(self.private / "kernel.json")
        self.ip = INSIDE_IPC

    async def _async_pre_start_kernel(self, **kwargs: Any) -> tuple[list[str], dict[str, Any]]:
        if self.sandbox is not None:
            self._release_root()
            self._remove_group()
            self.ip = INSIDE_IPC  # what the connection file tells the kernel
            memory = (self.memory_limit_mb + self.sandbox.disk_mb) * 2**20 if self.memory_limit_mb else 0
            self.group = SandboxGroup.create(GroupLimits(self.sandbox.max_processes, memory))
        return await super()._async_pre_start_kernel(**kwargs)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kwargs: Any) -> None:
        if self.sandbox is not None:
            give_to_kernel(self.private, self.sandbox.kernel_uid())
            # The kernel gets no descriptor of the grader's: its output goes nowhere on the host.
            kwargs["stdout"] = kwargs["stderr"] = subprocess.DEVNULL
        await super()._async_launch_kernel(kernel_cmd, **kwargs)
        if self.sandbox is None:
            return
        process = self.provisioner.process
        deadline = monotonic() + SANDBOX_START_SECONDS
        while self.root is None:
            self.root = sandbox_root(process.pid)
            if self.root is None:
                if process.poll() is not None or monotonic() > deadline:
                    self._remove_group()
                    raise RuntimeError(f"the kernel's sandbox did not start (bwrap exit code {process.poll()})")
                await asyncio.sleep(0.02)
        self.ip = f"/proc/self/fd/{self.root}{INSIDE_IPC}"  # the same sockets, seen from the grader

    def _release_root(self) -> None:
        if self.root is not None:
            os.close(self.root)
            self.root = None

    def _remove_group(self) -> None:
        if self.group is not None:
            self.group.remove()
            self.group = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        launcher = [
            sys.executable,
            "-m",
            "autograder.sandbox.kernel_launcher",
            "--memory-mb",
            str(self.memory_limit_mb),
        ]
        if self.sandbox is None:
            return [*launcher, "--", *command] if self.memory_limit_mb else command
        # Signals cannot reach into the sandbox's session: the kernel interrupts itself on request.
        self.kernel_spec.interrupt_mode = "message"
        launcher += ["--copy-from", str(self.private / "submission")]
        if self.sandbox.kernel_uid() is not None and self.group is None:
            # no control group: a user id of the kernel's own, whose processes alone count
            launcher += ["--max-processes", str(self.sandbox.max_processes)]
        wrapped = self.sandbox.wrap([*launcher, "--", *command], self.private, self._launch_args.get("env", {}))
        return wrapped if self.group is None else self.group.join_command(wrapped)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        self._release_root()
        self._remove_group()
        if self.private is not None and not restart:
            shutil.rmtree(self.private, ignore_errors=True)


# The time limits stretch with the machine's load up to this factor (SafeExecute.stretch_with_load).
MAX_LOAD_STRETCH = 4.0


def load_stretch() -> float:
    """How much slower than an idle machine this one runs now: its 1-minute load average per core,
    between 1 and MAX_LOAD_STRETCH."""
    return min(MAX_LOAD_STRETCH, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))


class SafeExecute(Execute):
    """nbgrader's Execute with memory, time and output limits and kernel recovery."""

    memory_limit_mb = Integer(8192, help="Address-space limit of each kernel in MiB (0: none).").tag(config=True)
    notebook_time_limit = Integer(
        3600,
        help="Seconds for a whole notebook; cells after it get an error (0: none).",
    ).tag(config=True)
    max_output_chars = Integer(
        200_000,
        help="Characters of output kept per cell, every kind counted (0: no limit); past it outputs are dropped "
        "and an error is cut short.",
    ).tag(config=True)
    max_image_chars = Integer(
        5_000_000,
        help="Characters of image data (base64) kept per cell, figures included; past it outputs are dropped.",
    ).tag(config=True)
    kernel_env = Dict({}, help="Environment variables added to the kernel's environment.").tag(config=True)
    stretch_with_load = Bool(
        True,
        help="Multiply the per-cell and per-notebook time limits by the machine's load per core (1-minute "
        "load average, between 1 and 4): limits are measured on an idle machine, and correct work must not "
        "time out on a busy one.",
    ).tag(config=True)
    skip_after_last_test = Bool(
        True,
        help="Leave unrun the code cells after the last test cell that are not answers (training runs, plots, "
        "demos): no score can depend on them.",
    ).tag(config=True)
    protected_modules = List(
        Unicode(),
        ["builtins", "math", "numpy"],
        help="Modules whose attributes (and functions' code) are restored before every test cell and "
        "must be unchanged after it.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", LimitedKernelManager)
        super().__init__(**kwargs)
        self.events = []
        self._clean_cells = []
        self._started = None
        self._stretch = 1.0
        self._notebook_limit_binds = False  # whether the running cell's timeout is the notebook's remaining time
        self._output_chars = 0
        self._image_chars = 0
        self._output_truncated = False
        self._caps_reached: dict[str, int] = {}

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km: Any = None) -> tuple[NotebookNode, dict]:
        self.events = []
        self._clean_cells = []
        self._started = None  # set once the first kernel is up: starting it is not the notebook's time
        self._stretch = 1.0
        self._last_test = max((index for index, cell in enumerate(nb.cells) if is_test(cell)), default=-1)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            nb.metadata.setdefault(EVENTS_KEY, {})["events"] = self.events

    def record(self, cell: NotebookNode, index: int, code: str, message: str) -> None:
        """Note an event on a cell (shown in the autograder's report)."""
        self.log.warning("%s: %s", cell_label(cell, index), message)
        self.events.append({"cell": cell_label(cell, index), "code": code, "message": message})

    def create_kernel_manager(self) -> LimitedKernelManager:
        km = super().create_kernel_manager()
        km.memory_limit_mb = self.memory_limit_mb
        return km

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        kwargs.setdefault("env", {**os.environ, **self.kernel_env})
        sandbox = Sandbox(config=self.config)
        if sandbox.enabled:
            self.km.confine(sandbox, kwargs.get("cwd") or self.resources.get("metadata", {}).get("path") or ".")
        self._caps_reached = {}  # a new kernel, a new control group
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()
        self._guard_key = secrets.token_bytes(32)
        self._guard_name = f"_autograder_guard_{secrets.token_hex(8)}"
        install = GUARD_INSTALL.format(
            key=self._guard_key.hex(),
            protected=list(self.protected_modules),
            name=self._guard_name,
            forbidden=self.forbidden_folders(),
            allowed=self.readable_folders(),
        )
        reply = await self._run_silently(install)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the test guard could not be installed: {reply['content'].get('evalue')}")
        if self._started is None and self.notebook_time_limit:
            self._started = monotonic()
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def forbidden_folders(self) -> list[str] | None:
        """The course's folders on the grader's side, whose mention in a sandboxed kernel is an incident
        (None: not sandboxed, nothing is watched)."""
        if self.km.sandbox is None:
            return None
        root = Path(CourseDirectory(config=self.config).root).resolve()
        course = os.environ.get(COURSE_ROOT_VARIABLE, "")
        return [folder for folder in (course, str(root), str(root.parent), str(self.km.private)) if folder]

    def readable_folders(self) -> list[str]:
        """What the sandbox lets the kernel read (the course's packages, the Python environment, lesson data)."""
        sandbox = self.km.sandbox
        return [] if sandbox is None else readable_paths(tuple(sandbox.packages), tuple(sandbox.read_only_paths))

    async def _note_incidents(self, cell: NotebookNode, cell_index: int) -> None:
        """Record what the cell's code tried against the sandbox (the sandbox stopped it)."""
        if self.km.sandbox is None:
            return
        self._note_caps_reached(cell, cell_index)
        reply = await self._run_silently("", {"incidents": f"{self._guard_name}.incidents()"})
        try:
            incidents = ast.literal_eval(reply["content"]["user_expressions"]["incidents"]["data"]["text/plain"])
        except (KeyError, ValueError, SyntaxError):
            return
        for incident in incidents if isinstance(incidents, list) else []:
            self.record(cell, cell_index, "sandbox", f"the sandbox stopped it: it {incident}")

    def _note_caps_reached(self, cell: NotebookNode, cell_index: int) -> None:
        """Record the sandbox's process and memory caps the cell's code ran into (its control group's counts)."""
        group = self.km.group
        if group is None:
            return
        reached = group.caps_reached()
        before, self._caps_reached = self._caps_reached, reached
        refused = reached["processes"] - before.get("processes", 0)
        if refused > 0:
            limit = self.km.sandbox.max_processes
            message = f"the sandbox stopped it: it reached the cap of {limit} processes and threads ({refused} refused)"
            self.record(cell, cell_index, "sandbox", message)
        killed = reached["memory"] - before.get("memory", 0)
        if killed > 0:
            message = f"the sandbox's memory cap stopped {killed} of its processes (out of memory)"
            self.record(cell, cell_index, "memory", message)

    async def _run_silently(self, code: str, user_expressions: dict[str, str] | None = None) -> dict:
        msg_id = await ensure_async(
            self.kc.execute(code, silent=True, store_history=False, user_expressions=user_expressions or {})
        )
        reply = await self.async_wait_for_reply(msg_id)
        # No reply in time (a kernel still busy, e.g. sending an output flood): a reply that says so.
        return reply if reply is not None else {"content": {"status": "error", "evalue": "no reply in time"}}

    async def _execute_test(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None, store_history: bool
    ) -> NotebookNode:
        """Run a test cell: its hidden checks, when it has some, in this process on the data its kernel
        part produced (``autograder.grading.checks``); the rest under the guard, which must vouch for it. The
        library functions its ``# write it yourself:`` line names cannot answer for the student meanwhile."""
        hidden = split_checks(cell.source)
        forbidden = forbidden_functions(cell.source)
        source = cell.source
        if forbidden:
            await self._run_silently(f"{self._guard_name}.tripwires.forbid({list(forbidden)!r})")
        try:
            kernel_source = source if hidden is None else hidden.kernel_source
            await self._execute_guarded(cell, cell_index, execution_count, store_history, kernel_source)
        finally:
            cell.source = source
            if forbidden:
                await self._run_silently(f"{self._guard_name}.tripwires.allow()")
        delegation = self._delegation_failure(forbidden)
        if delegation:  # said even when the cell failed otherwise: it is why the answer cannot score
            cell.outputs.append(error_output("WriteItYourself", delegation))
        elif hidden is not None:
            failure = await self._hidden_check_failure(hidden)
            if failure and not any(output.output_type == "error" for output in cell.outputs):
                cell.outputs.append(error_output("AssertionError", failure))
        return cell

    def _delegation_failure(self, forbidden: tuple[str, ...]) -> str:
        """Why the student's own cells fail a test that forbids ``forbidden`` ("" when they do not name one)."""
        named = delegations(self._student_sources(), forbidden)
        if not named:
            return ""
        return written_by_the_library("uses", ", ".join(named))

    def _student_sources(self) -> list[str]:
        """The code the student wrote: answer cells and cells the lesson does not have."""
        return [
            cell.source
            for cell in self.nb.cells
            if cell.cell_type == "code" and (is_answer(cell) or not nbgrader_metadata(cell))
        ]

    async def _hidden_check_failure(self, hidden: HiddenChecks) -> str:
        """Why the hidden checks fail on what the kernel sent ("" when they pass)."""
        names = free_names(hidden.checks)
        reply = await self._run_silently("", {name: f"{self._guard_name}.shipped({name})" for name in names})
        sent = reply["content"].get("user_expressions", {})
        values = {}
        for name in names:
            result = sent.get(name, {})
            if result.get("status") != "ok":
                return f"the test's value {name!r} was not produced (an error earlier in the cell or the notebook)"
            try:
                values[name] = loads(ast.literal_eval(result["data"]["text/plain"]))
            except (BadData, KeyError, ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
                return f"the kernel sent {name!r} in a form the grader does not accept ({error})"
        return run_checks(hidden.checks, values)

    async def _execute_guarded(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None, store_history: bool, source: str
    ) -> NotebookNode:
        """Run ``source`` as the test cell under the guard; when the guard cannot vouch for it, fail the cell."""
        nonce = secrets.token_hex(16)
        original = cell.source
        cell.source = f"{self._guard_name}.run_test({source!r}, {nonce!r})"
        try:
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            cell.source = original
        reply = await self._run_silently("", {"verdict": f"{self._guard_name}.verdict({nonce!r})"})
        verdict = guard_verdict(reply, self._guard_key, nonce)
        if verdict != PASSED and not any(output.output_type == "error" for output in cell.outputs):
            message = f"this test's result cannot be trusted: {verdict}"
            cell.outputs.append(error_output("TestNotVerified", message))
            self.record(cell, cell_index, "tampering", message)
        return cell

    async def _restart_kernel(self) -> None:
        """Replace a dead or hung kernel with a fresh one and replay the cells that had run
        without error, so later cells find the state they expect."""
        await self._start_fresh_kernel()
        for source in self._clean_cells:
            try:
                await self._run_silently(source)
            except DeadKernelError:
                self.log.warning("the kernel died while replaying earlier cells")
                self._clean_cells = []
                await self._start_fresh_kernel()
                return

    async def _start_fresh_kernel(self) -> None:
        try:
            await ensure_async(self.km.shutdown_kernel(now=True))
        except Exception as failure:  # noqa: BLE001 - the kernel may already be gone
            self.log.debug("shutting down the old kernel: %s", failure)
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel()
        await self.async_start_new_kernel_client()

    def _cell_limit(self, cell: NotebookNode | None) -> int | None:
        """The cell's time limit, stretched by the load."""
        timeout = super()._get_timeout(cell)  # cell None: code the autograder runs (restore, replay)
        return None if timeout is None else math.ceil(timeout * self._stretch)

    def _notebook_limit(self) -> int:
        """The notebook's time limit, stretched by the load."""
        return math.ceil(self.notebook_time_limit * self._stretch)

    def _past_deadline(self) -> bool:
        return self._started is not None and monotonic() >= self._started + self._notebook_limit()

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        if self.stretch_with_load:  # the highest load seen in this notebook so far
            self._stretch = max(self._stretch, load_stretch())
        timeout = self._cell_limit(cell)
        self._notebook_limit_binds = False
        if self._started is None:
            return timeout
        remaining = max(1, int(self._started + self._notebook_limit() - monotonic()))
        self._notebook_limit_binds = timeout is None or remaining < timeout
        return remaining if timeout is None else min(timeout, remaining)

    def _limit_text(self, seconds: int | None) -> str:
        stretched = f", x{self._stretch:.1f} for the machine's load" if self._stretch > 1 else ""
        return f"{seconds} s{stretched}"

    def timeout_message(self, cell: NotebookNode) -> str:
        """Why the cell that just timed out was interrupted: the notebook's limit when its remaining
        time was shorter than the cell limit (``_get_timeout`` ran as the cell started), else the cell's."""
        if self._notebook_limit_binds:
            limit = self._limit_text(self._notebook_limit())
            return f"the cell ran past the notebook's time limit ({limit}) and was interrupted"
        return f"the cell ran past its time limit ({self._limit_text(self._cell_limit(cell))}) and was interrupted"

    async def async_execute_cell(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None = None, store_history: bool = True
    ) -> NotebookNode:
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self.skip_after_last_test and cell_index > self._last_test and not is_answer(cell):
            cell.outputs = []
            return cell
        if self._past_deadline():
            limit = self._limit_text(self._notebook_limit())
            message = f"not run: the notebook's time limit ({limit}) was used up by earlier cells"
            cell.outputs = [error_output("NotebookTimeLimit", message)]
            self.record(cell, cell_index, "time-limit", message)
            return cell
        self._output_chars = 0
        self._image_chars = 0
        self._output_truncated = False
        try:
            if is_test(cell):
                await self._execute_test(cell, cell_index, execution_count, store_history)
            else:
                await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            await self._note_incidents(cell, cell_index)
            return cell
        except DeadKernelError:
            message = (
                "the kernel died while running this cell (it exited, crashed or ran out "
                "of memory); later cells ran in a fresh kernel"
            )
            self.record(cell, cell_index, "kernel-died", message)
            cell.outputs.append(error_output("KernelDied", message))
        except CellTimeoutError:
            message = "the cell ran past its time limit and ignored the interrupt; later cells ran in a fresh kernel"
            self.record(cell, cell_index, "timeout", message)
            cell.outputs.append(error_output("CellTimeoutError", message))
        await self._restart_kernel()
        return cell

    execute_cell = run_sync(async_execute_cell)

    def on_cell_executed(self, **kwargs: Any) -> None:
        super().on_cell_executed(**kwargs)
        content = kwargs["execute_reply"]["content"]
        ename = content.get("ename")
        if content.get("status") == "ok":
            self._clean_cells.append(kwargs["cell"].source)
            return
        if ename == self.error_on_timeout.get("ename"):
            self.record(
                kwargs["cell"],
                kwargs["cell_index"],
                "timeout",
                self.timeout_message(kwargs["cell"]),
            )
        elif ename == "MemoryError":
            self.record(
                kwargs["cell"],
                kwargs["cell_index"],
                "memory",
                f"the cell ran out of memory (limit {self.memory_limit_mb} MiB)",
            )

    def output(
        self, outs: list[NotebookNode], msg: dict, display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        if self.max_output_chars and msg["msg_type"] in CAPPED_OUTPUTS:
            text, images = output_size(msg["content"])
            self._output_chars += text
            self._image_chars += images
            if self._output_chars > self.max_output_chars or self._image_chars > self.max_image_chars:
                self._note_truncated(outs, cell_index)
                if msg["msg_type"] != "error":
                    return None
                msg = {**msg, "content": shortened_error(msg["content"], self.max_output_chars)}
        return super().output(outs, msg, display_id, cell_index)

    def _note_truncated(self, outs: list[NotebookNode], cell_index: int) -> None:
        if self._output_truncated:
            return
        self._output_truncated = True
        note = f"\n[output truncated by the autograder: more than {self.max_output_chars} characters]\n"
        outs.append(new_output("stream", name="stdout", text=note))
        self.record(
            self.nb.cells[cell_index],
            cell_index,
            "output-truncated",
            f"output flood: more than {self.max_output_chars} characters (or {self.max_image_chars} of images)",
        )


class SaveAutoGradesIgnoringStderr(SaveAutoGrades):
    """SaveAutoGrades that does not fail a test cell for what libraries write to stderr.

    nbgrader scores a test cell 0 when anything appears on stderr, so a TensorFlow or
    Python warning costs a correct student the points. Here a test cell fails when it
    raised an error, or when its stderr carries a test-failure report (e.g. unittest's).
    """

    failure_pattern = Unicode(
        r"Traceback \(most recent call last\)|AssertionError|^FAILED",
        help="A regular expression: stderr text matching it still fails the cell.",
    ).tag(config=True)

    def _add_score(self, cell: NotebookNode, resources: dict) -> None:
        super()._add_score(self.without_harmless_stderr(cell), resources)

    def without_harmless_stderr(self, cell: NotebookNode) -> NotebookNode:
        """A copy of the cell without stderr outputs that do not report a test failure."""
        if cell.cell_type != "code":
            return cell
        failure = re.compile(self.failure_pattern, re.MULTILINE)
        scored = copy.deepcopy(cell)
        scored.outputs = [
            output
            for output in cell.outputs
            if not (output.output_type == "stream" and output.name == "stderr" and not failure.search(output.text))
        ]
        return scored
