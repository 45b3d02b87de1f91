"""Control groups that bound a whole sandbox: its process count, its memory and its CPU share (Linux).

A per-process limit (``RLIMIT_AS``) does not bound a process tree, and a sandbox that runs 24 busy
processes would take 24 shares of the CPU from the kernel graded beside it. A ``SandboxGroup`` puts
every process of one sandbox in a control group of its own (cgroup v2, or the v1 ``pids``,
``memory`` and ``cpu`` hierarchies), created below the grader's own group, with a cap on processes
and threads, a cap on memory (tmpfs pages included) and one equal CPU share. Creating groups needs
write access to the cgroup file system (root, or a delegated subtree); where there is none,
``SandboxGroup.create`` returns None and the sandbox keeps its per-process limits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("pids", "memory", "cpu")
V1_CPU_SHARES = 1024  # the default: every sandbox weighs as much as any other group
V2_CPU_WEIGHT = 100
REMOVE_ATTEMPTS = 50
# (file, line, what it counts): v1 and v2 name them alike; v1's memory.oom_control has oom_kill since Linux 4.13.
EVENT_COUNTERS = (
    ("pids.events", "max", "processes"),
    ("memory.events", "oom_kill", "memory"),
    ("memory.oom_control", "oom_kill", "memory"),
)


@dataclass(frozen=True)
class GroupLimits:
    """What one sandbox may use in all its processes together."""

    processes: int
    memory_bytes: int  # 0: no cap


def own_paths(proc_cgroup: str) -> dict[str, str]:
    """{controller (or "" for cgroup v2): path of this process's group} from /proc/self/cgroup's text."""
    paths = {}
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def limit_files(version: int, limits: GroupLimits) -> dict[str, dict[str, str]]:
    """{controller: {file: value}} that set ``limits`` (v2: one controller, "")."""
    if version == 2:
        return {
            "": {
                "pids.max": str(limits.processes),
                "memory.max": str(limits.memory_bytes or "max"),
                "memory.swap.max": "0",
                "cpu.weight": str(V2_CPU_WEIGHT),
            }
        }
    return {
        "pids": {"pids.max": str(limits.processes)},
        "memory": {"memory.limit_in_bytes": str(limits.memory_bytes or -1)},
        "cpu": {"cpu.shares": str(V1_CPU_SHARES)},
    }


class SandboxGroup:
    """One sandbox's control group (one folder per hierarchy)."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders

    @classmethod
    def create(cls, limits: GroupLimits, root: Path = CGROUP_ROOT) -> SandboxGroup | None:
        """A new group with ``limits`` below this process's own, or None where none can be made."""
        try:
            mine = own_paths(Path("/proc/self/cgroup").read_text())
        except OSError:
            return None
        name = f"autograder-{uuid.uuid4().hex[:12]}"
        if (root / "cgroup.controllers").exists():  # cgroup v2 mounted at the root
            parent = root / mine.get("", "/").lstrip("/")
            if not enable_controllers(parent):
                return None
            plan = {parent / name: limit_files(2, limits)[""]}
        elif all((root / controller).is_dir() for controller in CONTROLLERS):
            plan = {
                root / controller / mine.get(controller, "/").lstrip("/") / name: files
                for controller, files in limit_files(1, limits).items()
            }
        else:
            return None
        group = cls([])
        try:
            for folder, files in plan.items():
                folder.mkdir()
                group.folders.append(folder)
                for file, value in files.items():
                    if file != "memory.swap.max" or (folder / file).exists():
                        (folder / file).write_text(value)
        except OSError:
            group.remove()
            return None
        return group

    def join_command(self, command: list[str]) -> list[str]:
        """``command`` started from a shell that first moves itself into this group (its children follow)."""
        join = 'for procs in "$@"; do [ "$procs" = -- ] && break; echo $$ > "$procs" || exit 125; shift; done; shift'
        return [
            "/bin/sh",
            "-c",
            f'{join}; exec "$@"',
            "sh",
            *(str(f / "cgroup.procs") for f in self.folders),
            "--",
            *command,
        ]

    def caps_reached(self) -> dict[str, int]:
        """How often so far the group hit its caps: {"processes": forks refused at the process cap,
        "memory": processes the kernel's out-of-memory killer stopped at the memory cap}."""
        counts = {"processes": 0, "memory": 0}
        for folder in self.folders:
            for file, key, counted in EVENT_COUNTERS:
                with contextlib.suppress(OSError, ValueError):
                    for line in (folder / file).read_text().splitlines():
                        name, _, value = line.partition(" ")
                        if name == key:
                            counts[counted] += int(value)
        return counts

    def processes(self) -> list[int]:
        found = set()
        for folder in self.folders:
            with contextlib.suppress(OSError):
                found.update(int(pid) for pid in (folder / "cgroup.procs").read_text().split())
        return sorted(found)

    def remove(self) -> None:
        """Kill what is left in the group and remove its folders."""
        for _ in range(REMOVE_ATTEMPTS):
            for pid in self.processes():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            for folder in list(self.folders):
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass  # already gone
                except OSError:
                    continue  # processes still leaving: the next attempt
                self.folders.remove(folder)
            if not self.folders:
                return
            time.sleep(0.02)


def enable_controllers(parent: Path) -> bool:
    """Whether the cgroup v2 group ``parent`` hands pids, memory and cpu to its children (it tries)."""
    control = parent / "cgroup.subtree_control"
    try:
        enabled = control.read_text().split()
        missing = [name for name in CONTROLLERS if name not in enabled]
        if missing:
            control.write_text(" ".join(f"+{name}" for name in missing))
    except OSError:
        return False
    return True
