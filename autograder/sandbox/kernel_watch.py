"""What a student's kernel tried against the sandbox, noted from inside it so the report can say why.

The sandbox (``autograder.sandbox.bwrap``) stops these attempts whether or not they are noticed; the
watch names them. An audit hook (which Python code cannot remove) notes attempts to look at other
processes in ``/proc``, to reach the course's folders, to write outside the kernel's own tmpfs
and to use the network; ``incidents`` adds processes that detached from the kernel (they are
killed with the sandbox) and a full disk (``/tmp`` or ``/dev/shm``, the sandbox's writable tmpfs
mounts). The grader asks for ``incidents()`` after every cell.
"""

from __future__ import annotations

import os
from typing import Any

WRITABLE = ("/tmp", "/dev")
FILLABLE = ("/tmp", "/dev/shm")  # the sandbox's size-capped tmpfs mounts
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})
PATH_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.chdir", "os.mkdir", "os.remove", "os.rename"})
WRITE_EVENTS = frozenset({"os.mkdir", "os.remove", "os.rename"})
NETWORK_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.getaddrinfo"})
FULL_DISK = 0.9  # share of the tmpfs in use that counts as filling it
MAX_LISTED = 20  # attempts listed per cell; the rest are counted (25,000 probed paths must not bury the grader)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Watch:
    """Notes attempts against the sandbox; ``forbidden`` are the course's folders on the grader's side,
    ``allowed`` the folders in them the sandbox lets the kernel read (the course's own packages or
    Python environment when they live in the course folder)."""

    def __init__(self, forbidden: list[str], allowed: list[str]) -> None:
        self.forbidden = [folder.rstrip("/") + "/" for folder in forbidden if folder]
        self.allowed = [folder.rstrip("/") + "/" for folder in allowed if folder]
        self.noted: list[str] = []
        self.unlisted = 0  # attempts past the first MAX_LISTED of a cell
        self.checking = False  # the watch's own look at /proc is no incident
        self.lasting: set[str] = set()  # detached processes and a full disk, reported once

    def audit(self, event: str, args: tuple) -> None:
        if self.checking:
            return
        if event in PATH_EVENTS and args and isinstance(args[0], str | bytes):
            path = os.path.abspath(os.fsdecode(args[0]))
            writes = event in WRITE_EVENTS or (event == "open" and opens_for_writing(args))
            self.check_path(path, writes)
        elif event in NETWORK_EVENTS:
            self.check_address(event, args)

    def check_address(self, event: str, args: tuple) -> None:
        """Note a connection, datagram or name lookup for a host other than the sandbox's own."""
        if event == "socket.getaddrinfo":
            address = host = args[0]
        elif len(args) > 1 and isinstance(args[1], tuple) and args[1]:
            address, host = args[1], args[1][0]
        else:
            return  # a Unix socket
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        if isinstance(host, str) and host not in LOCAL_HOSTS:
            self.note(f"tried to use the network ({address!r})")

    def check_path(self, path: str, writes: bool) -> None:
        if other_process(path):
            self.note(f"looked at other processes ({path})")
        elif any(f"{path}/".startswith(folder) for folder in self.forbidden) and not any(
            f"{path}/".startswith(folder) for folder in self.allowed
        ):
            self.note(f"tried to reach the course's files ({path})")
        elif writes and (
            not any(path == root or path.startswith(f"{root}/") for root in WRITABLE)
            or any(f"{path}/".startswith(folder) for folder in self.allowed)  # read-only, wherever it is bound
        ):
            self.note(f"tried to write outside its folder ({path})")

    def note(self, incident: str) -> None:
        if incident in self.noted:
            return
        if len(self.noted) < MAX_LISTED:
            self.noted.append(incident)
        else:
            self.unlisted += 1

    def incidents(self) -> list[str]:
        """What was noted since the last call, plus detached processes and a full disk not reported yet."""
        found, self.noted = self.noted, []
        if self.unlisted:
            found.append(f"made {self.unlisted} more such attempts (not listed)")
            self.unlisted = 0
        self.checking = True
        try:
            lasting = detached_processes()
        finally:
            self.checking = False
        for mount in FILLABLE:
            usage = os.statvfs(mount) if os.path.isdir(mount) else None
            if usage and usage.f_blocks and 1 - usage.f_bavail / usage.f_blocks >= FULL_DISK:
                lasting.append(f"filled its disk ({mount}, {usage.f_blocks * usage.f_frsize // 2**20} MiB)")
        found += [incident for incident in lasting if incident not in self.lasting]
        self.lasting.update(lasting)
        return found


def other_process(path: str) -> bool:
    """Whether ``path`` is /proc itself or another process's entry in it."""
    parts = path.split("/")
    if parts[1:2] != ["proc"]:
        return False
    return len(parts) == 2 or parts[2] == "" or (parts[2].isdigit() and parts[2] != str(os.getpid()))


def opens_for_writing(args: tuple) -> bool:
    """Whether an ``open`` audit event's (path, mode, flags) opens for writing."""
    mode, flags = (args[1:3] + (None, None))[:2]
    if isinstance(mode, str) and any(letter in mode for letter in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


def detached_processes() -> list[str]:
    """Processes in the sandbox that left the kernel's tree (their parent is the sandbox's init)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, os.getpid()):
            continue
        try:
            status = read_status(entry)
        except OSError:
            continue
        if status.get("PPid") == "1":
            found.append(f"started a process that detached from the kernel ({status.get('Name', '?')}, pid {entry})")
    return found


def read_status(pid: str) -> dict[str, Any]:
    with open(f"/proc/{pid}/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
