"""What machine a measurement ran on; no heavy imports, so tools run by the system's Python can use it."""

from __future__ import annotations

import platform


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's name, as ``cpuinfo`` gives it (Linux), else as Python's platform module does."""
    try:
        with open(cpuinfo) as lines:
            return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"
