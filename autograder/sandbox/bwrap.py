"""The sandbox every submission's kernel runs in (Linux, bubblewrap).

A kernel started through ``Sandbox.wrap`` sees, read-only, the Python environment (the
interpreter's prefixes, the system libraries, the course's own packages and nothing else of the
folder they live in), the lesson data named in ``c.Sandbox.read_only_paths`` and the private folder
holding its connection file and a copy of its submission's files; read-write, only size-capped
tmpfs mounts, together ``c.Sandbox.disk_mb``: ``/tmp`` (its working folder, ``HOME`` and the
kernel's IPC sockets) and ``/dev/shm``. Everything else, the sandbox's own root and ``/dev``
included, is read-only, so nothing the kernel writes reaches the host's disk or grows beyond the
cap. It has no network (its own empty network namespace): the grader reaches the kernel's Unix
sockets through the sandbox's root (``sandbox_root``), without sharing a writable folder. It has
its own PID namespace with a fresh ``/proc`` (no ancestor's working folder or command line to find),
and no process outlives it: when the kernel or the grader goes, the namespace goes.
The environment is cleared but for the variables a kernel needs. The memory limit is set inside
the sandbox by ``autograder.sandbox.kernel_launcher``.

When no sandbox can be set up, ``Sandbox.ensure_available`` stops grading with the reason and
how to allow it; ``c.Sandbox.enabled = False`` grades without one (every record then says so).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from functools import cache
from pathlib import Path

from traitlets import Bool, Integer, List, Unicode
from traitlets.config import Configurable

from autograder.courseroot import CourseError

BWRAP = "bwrap"
INSIDE_ROOT = "/tmp"  # the size-capped tmpfs: working folder, HOME, temporary files
INSIDE_WORK = f"{INSIDE_ROOT}/work"
INSIDE_HOME = f"{INSIDE_ROOT}/home"
INSIDE_SOCKETS = f"{INSIDE_ROOT}/kernel"  # the kernel's IPC sockets, reached by the grader through sandbox_root
SHM = "/dev/shm"
SHM_SHARE = 8  # /dev/shm gets this fraction of c.Sandbox.disk_mb, /tmp the rest
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "ssl",
    "ca-certificates",
    "fonts",
    "mime.types",
)
KEPT_VARIABLES = ("PATH", "LANG", "TZ", "MPLBACKEND", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONWARNINGS")
KEPT_PREFIXES = (
    "LC_",
    "NBGRADER_",
    "COURSE_",
    "TF_CPP_",
    "TF_ENABLE_",
    "TF_FORCE_",
    "KERAS_",
    "JPY_",
    "CUDA_",
    "NVIDIA_",
    "OMP_",
    "MKL_",
    "XLA_",
)
UNSANDBOXED_FLAG = "unsandboxed"
COURSE_ROOT_VARIABLE = "AUTOGRADER_COURSE_ROOT"  # tells the grading process the course's real folder
SETPRIV = "/usr/bin/setpriv"
ROOT_NAMESPACES = ("ipc", "pid", "net", "uts", "cgroup-try")  # --unshare-all less the user namespace
OPT_OUT_HINT = (
    "To grade without a sandbox (student code then runs with your rights and can read your course "
    "folder), set c.Sandbox.enabled = False in nbgrader_config.py."
)


class SandboxUnavailable(CourseError):
    """No sandbox can be set up on this machine; the message says why and how to allow it."""


class Sandbox(Configurable):
    """Where and how student kernels are confined (see the module docstring)."""

    enabled = Bool(
        True,
        help="Run every student kernel in a bubblewrap sandbox (Linux). False grades without one: "
        "student code can then read and write everything you can.",
    ).tag(config=True)
    disk_mb = Integer(
        512,
        min=SHM_SHARE,
        help="What the kernel may write, in MiB: its tmpfs /tmp (working folder, HOME) and, an eighth of it, /dev/shm.",
    ).tag(config=True)
    read_only_paths = List(
        Unicode(), [], help="Lesson data folders the kernel may read (e.g. a data set or weights cache)."
    ).tag(config=True)
    kernel_uid_base = Integer(
        2_000_000,
        min=1000,
        help="When grading runs as root, each kernel runs as this user id plus a number of its grading "
        "process (below 65536): ids that own no file and name no user on this machine.",
    ).tag(config=True)
    max_processes = Integer(
        1024,
        min=16,
        help="Processes and threads one sandbox may run at once (TensorFlow starts dozens of threads).",
    ).tag(config=True)
    packages = List(
        Unicode(),
        ["course", "course_tools", "autograder"],
        help="The course's own packages the kernel imports, made readable wherever they are installed "
        "(an editable install leaves them in the course folder, which the kernel must not see).",
    ).tag(config=True)

    def ensure_available(self) -> None:
        """Raise SandboxUnavailable unless a sandboxed process can start here (or the sandbox is off)."""
        if not self.enabled:
            return
        problem = sandbox_problem(int(self.disk_mb))
        if problem:
            raise SandboxUnavailable(f"student code cannot be sandboxed: {problem}. {OPT_OUT_HINT}")

    def kernel_uid(self) -> int | None:
        """The user id kernels run as when grading runs as root (None: they run as the grader's user)."""
        return self.kernel_uid_base + os.getpid() % 65536 if os.geteuid() == 0 else None

    def wrap(self, command: list[str], private: Path, env: dict[str, str]) -> list[str]:
        """``command`` run inside the sandbox, unprivileged, with ``private`` (connection file, the copy
        of the submission's files) shared read-only at the same path; ``private`` must be readable
        by ``kernel_uid()``."""
        shm_mb = max(1, self.disk_mb // SHM_SHARE)
        uid = self.kernel_uid()
        # As root, no user namespace: the kernel's user id is then a real one of the machine's, mapped to nothing.
        namespaces = ["--unshare-all"] if uid is None else [f"--unshare-{name}" for name in ROOT_NAMESPACES]
        options = [
            BWRAP,
            *namespaces,
            "--die-with-parent",
            "--new-session",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str((self.disk_mb - shm_mb) * 1024 * 1024),
            "--perms",
            "1777",
            "--tmpfs",
            INSIDE_ROOT,
            "--size",
            str(shm_mb * 1024 * 1024),
            "--perms",
            "1777",
            "--tmpfs",
            SHM,
        ]
        for folder in (INSIDE_WORK, INSIDE_HOME, INSIDE_SOCKETS):
            options += ["--perms", "0777", "--dir", folder]
        options.append("--clearenv")
        readable = readable_paths(tuple(self.packages), tuple(self.read_only_paths))
        for folder in ancestors([*readable, str(private)]):  # traversable by the kernel's user, like the host's
            options += ["--perms", "0755", "--dir", folder]
        for path in readable:
            options += ["--ro-bind", path, path]
        for device in sorted(Path("/dev").glob("nvidia*")):
            options += ["--dev-bind", str(device), str(device)]
        options += ["--ro-bind", str(private), str(private), "--remount-ro", "/dev", "--remount-ro", "/"]
        for name, value in sorted(kernel_environment(env).items()):
            options += ["--setenv", name, value]
        options += ["--chdir", INSIDE_WORK]
        if uid is None:
            return [*options, "--cap-drop", "ALL", "--", *command]
        drop = [
            SETPRIV,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]
        return [*options, "--", *drop, *command]


def kernel_environment(env: dict[str, str]) -> dict[str, str]:
    """The variables a sandboxed kernel keeps (no tokens or paths of the grader's), plus its own
    HOME and TMPDIR inside the sandbox."""
    kept = {name: value for name, value in env.items() if name in KEPT_VARIABLES or name.startswith(KEPT_PREFIXES)}
    # No bytecode written beside read-only sources (the attempt would look like a write outside the sandbox).
    return {**kept, "HOME": INSIDE_HOME, "TMPDIR": INSIDE_ROOT, "PYTHONDONTWRITEBYTECODE": "1"}


def ancestors(paths: list[str]) -> list[str]:
    """The folders above ``paths`` (not "/", not a path itself or inside one), parents first."""
    found = set()
    for path in paths:
        found.update(str(parent) for parent in Path(path).parents if str(parent) != "/")
    inside = [f"{path.rstrip('/')}/" for path in paths]
    return sorted(f for f in found if f not in paths and not any(f"{f}/".startswith(p) for p in inside))


@cache
def readable_paths(packages: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    """Existing folders and files the kernel may read: the system's libraries, the interpreter's
    prefixes and standard library, the course's own packages and ``extra``, without duplicates."""
    paths = [*SYSTEM_FOLDERS, *(f"/etc/{name}" for name in ETC_FILES)]
    paths += [sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"]]
    paths.append(str(Path(sys.executable).resolve().parent.parent))
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths += list(spec.submodule_search_locations)
    paths += extra
    chosen = []
    for path in paths:
        if os.path.lexists(path) and not any(path == kept or path.startswith(kept + "/") for kept in chosen):
            chosen.append(path)
    return chosen


@cache
def sandbox_problem(disk_mb: int) -> str:
    """Why a sandboxed process cannot start here ("" when it can)."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform})"
    if shutil.which(BWRAP) is None:
        return "bubblewrap is not installed (Debian/Ubuntu: sudo apt-get install bubblewrap)"
    usage = subprocess.run([BWRAP, "--help"], capture_output=True, text=True).stdout
    if "--size" not in usage or "--perms" not in usage:
        return (
            "this bubblewrap is too old to cap the kernel's disk (it needs --size and --perms, bubblewrap 0.7 or newer)"
        )
    if os.geteuid() == 0 and not os.access(SETPRIV, os.X_OK):
        return f"{SETPRIV} (util-linux) is missing: as root, kernels are made unprivileged with it"
    with tempfile.TemporaryDirectory(prefix="autograder-probe-") as private:
        sandbox = Sandbox(disk_mb=disk_mb)
        give_to_kernel(Path(private), sandbox.kernel_uid())
        command = sandbox.wrap(["true"], Path(private), dict(os.environ))
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return (
            f"bubblewrap failed ({result.stderr.strip() or f'exit code {result.returncode}'}); unprivileged user "
            "namespaces may be disabled: allow them (sudo sysctl -w kernel.unprivileged_userns_clone=1, and on "
            "Ubuntu 24.04 sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0) or run the grader as root"
        )
    return ""


def give_to_kernel(private: Path, uid: int | None) -> None:
    """Make ``private`` and what is in it the kernel user's (``uid``; None: the grader's own user)."""
    if uid is None:
        return
    for folder, _, files in os.walk(private):
        for name in [folder, *(os.path.join(folder, entry) for entry in files)]:
            os.chown(name, uid, uid, follow_symlinks=False)


def sandbox_root(launcher_pid: int) -> int | None:
    """An ``O_PATH`` descriptor of the root of the sandbox ``bwrap`` (``launcher_pid``) started, once its
    mounts are in place (None before). The grader reaches the kernel's sockets through
    ``/proc/self/fd/<descriptor>``: it needs the same rights as reading the process's ``/proc`` entry
    (root, or the user whose unprivileged user namespace the sandbox is), and no process id that
    could be reused."""
    host_root = os.stat("/")
    for child in child_processes(launcher_pid):
        try:
            root = os.open(f"/proc/{child}/root", os.O_PATH | os.O_DIRECTORY)
        except OSError:
            continue
        state = os.fstat(root)
        # bwrap pivots twice: into an empty tmpfs, then into the sandbox's root, where the sockets' folder is.
        moved = (state.st_dev, state.st_ino) != (host_root.st_dev, host_root.st_ino)
        if moved and os.path.isdir(f"/proc/self/fd/{root}{INSIDE_SOCKETS}"):
            return root
        os.close(root)
    return None


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    children = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = stat.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if parent == str(pid):
            children.append(int(entry))
    return children
