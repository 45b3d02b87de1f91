"""Start a Jupyter kernel under a memory limit.

``python -m autograder.sandbox.kernel_launcher --memory-mb 4096 -- python -m ipykernel_launcher -f conn.json``
caps the address space of the process (``RLIMIT_AS``) and, with ``--max-processes``, the processes of
its user id (``RLIMIT_NPROC``, for a user id of the kernel's own), then replaces itself with the kernel
command, so a memory bomb in student code raises ``MemoryError`` inside the kernel instead of
exhausting the grading machine. In the sandbox (``autograder.sandbox.bwrap``), ``--copy-from`` first
copies the submission's files into the working folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space at ``megabytes`` (0 leaves it unlimited)."""
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def limit_processes(count: int) -> None:
    """Cap the processes and threads of this process's user id at ``count`` (0 leaves it unlimited)."""
    if count > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (count, count))


def copy_into_working_folder(folder: str) -> None:
    """Copy what is in ``folder`` into the working folder (whose own owner and mode stay as they are)."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, entry.name, symlinks=True)
        else:
            shutil.copy2(entry.path, entry.name, follow_symlinks=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, default=0, help="address-space limit (0: none)")
    parser.add_argument("--max-processes", type=int, default=0, help="processes of the kernel's user id (0: none)")
    parser.add_argument("--copy-from", default="", help="a folder whose files are copied into the working folder")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="kernel command after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the kernel command after --")
    if args.copy_from:
        copy_into_working_folder(args.copy_from)
    limit_memory(args.memory_mb)
    limit_processes(args.max_processes)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
