"""Rewrite .ci/colab/constraints.txt from a published pip freeze of Colab's GPU runtime.

    python .ci/colab/refresh.py FREEZE [--source TEXT] [--out .ci/colab/constraints.txt]

FREEZE is a local copy of googlecolab/backend-info's pip-freeze.gpu.txt. The packages the course
touches on Colab (RUNTIME_PACKAGES) are resolved by pip with every pin of the freeze as a
constraint; the constraints file lists the whole resolved set, so a virtualenv installed from it
has Colab's version of every package the course imports, and nothing that Colab lacks. Standard
library only: it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# What a lesson imports from Colab's runtime (the course itself and what the setup cell installs
# are not here: they are what the stand-in must not have before the setup cell runs).
RUNTIME_PACKAGES = (
    "tensorflow",
    "keras",
    "tensorflow-datasets",
    "numpy",
    "scipy",
    "matplotlib",
    "pillow",
    "requests",
    "ipykernel",
)
# Required by Colab's IPython 7.34 but not listed in the freeze; the stand-in's kernel needs it too.
NOT_IN_FREEZE = {"jedi"}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$")


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def freeze_pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a pip freeze, by normalized name; URL and editable lines are skipped."""
    return {normalize(match[1]): match[2] for line in text.splitlines() if (match := PIN.match(line.strip()))}


def resolve(pins: dict[str, str]) -> dict[str, str]:
    """The versions pip installs for RUNTIME_PACKAGES under the freeze's pins (a dry run, nothing installed)."""
    with tempfile.TemporaryDirectory() as folder:
        constraints, report = Path(folder, "freeze.txt"), Path(folder, "report.json")
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report),
                "--constraint",
                str(constraints),
                *RUNTIME_PACKAGES,
            ],
            check=True,
        )
        installs = json.loads(report.read_text())["install"]
    return {normalize(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("freeze", type=Path, help="Colab's published pip-freeze.gpu.txt")
    parser.add_argument(
        "--source",
        default="googlecolab/backend-info, pip-freeze.gpu.txt",
        help="where the freeze comes from (written into the header)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("constraints.txt"))
    args = parser.parse_args(argv)
    pins = freeze_pins(args.freeze.read_text())
    resolved = resolve(pins)
    not_on_colab = sorted(name for name in resolved if name not in pins and name not in NOT_IN_FREEZE)
    if not_on_colab:
        print(
            f"error: resolving {', '.join(RUNTIME_PACKAGES)} needs packages Colab does not have: "
            f"{', '.join(not_on_colab)}; the stand-in would not be Colab.",
            file=sys.stderr,
        )
        return 1
    header = [
        "# Colab's GPU runtime, the part the course touches: every package a lesson imports from the runtime,",
        "# with its dependencies, at the versions Colab has. Made by .ci/colab/refresh.py; do not edit by hand.",
        f"# source: {args.source}",
        f"# written: {datetime.date.today().isoformat()}",
        "# Colab runs Python 3.13; the stand-in virtualenv built from this file runs this machine's Python.",
    ]
    lines = [f"{name}=={resolved[name]}" for name in sorted(resolved)]
    args.out.write_text("\n".join(header + lines) + "\n")
    print(f"{args.out}: {len(lines)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
