"""The tools' settings files (``notebooks.toml``, ``gates.toml``), read with errors that say what to do."""

from __future__ import annotations

import tomllib
from pathlib import Path


def read_settings(path: Path, error: type[Exception]) -> dict:
    """The TOML document in ``path``; a missing or invalid file raises ``error`` with the fix."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise error(f"No settings file at {path}. Run from a checkout (pip install -e .) or pass --config.") from None
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{path} is not valid TOML: {problem}") from None
