"""Start a Jupyter kernel under a memory limit.

``python -m autograder.kernel_launcher --memory-mb 4096 -- python -m ipykernel_launcher -f conn.json``
caps the address space of the process (``RLIMIT_AS``), then replaces itself with the kernel
command, so a memory bomb in student code raises ``MemoryError`` inside the kernel instead of
exhausting the grading machine. In the sandbox (``autograder.sandbox``), ``--copy-from`` first
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, default=0, help="address-space limit (0: none)")
    parser.add_argument("--copy-from", default="", help="a folder whose files are copied into the working folder")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="kernel command after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the kernel command after --")
    if args.copy_from:
        shutil.copytree(args.copy_from, ".", dirs_exist_ok=True)
    limit_memory(args.memory_mb)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
