"""Pretrain EfficientNetB0 on the synthetic source task, once, for the offline ``demo`` profile.

    python -m course_tools.pretrain [--force]

Builds the weights ``weights="synthetic-source"`` means (:mod:`course.source_task`): EfficientNetB0
trained from random weights on synthetic source images, on the CPU, deterministically, with a progress
bar on a terminal and one line per epoch elsewhere. They are cached in Keras's cache with a manifest of
their sha256; a cached file that matches its manifest is kept unless ``--force``. The lessons and
``python -m course`` build them on first use as well; this command does it ahead of time and prints how
long it took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from course.errors import report_error
from course.source_task import (
    SOURCE_TASK,
    SOURCE_WEIGHTS_DESCRIPTION,
    SourceWeightsError,
    cache_problem,
    manifest_path,
    source_weights,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_tools.pretrain", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="pretrain again even if the cached weights are intact")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cached = not args.force and cache_problem(SOURCE_TASK) is None
    started = time.perf_counter()
    try:
        path = source_weights(SOURCE_TASK, rebuild=args.force)
    except SourceWeightsError as error:
        return report_error(error)
    manifest = json.loads(manifest_path(path).read_text())
    if cached:
        print(
            f"Cached and intact (sha256 {manifest['sha256'][:16]}...): {path}. It was pretrained in "
            f"{manifest['seconds']:.0f} s; --force pretrains it again."
        )
    else:
        print(f"{time.perf_counter() - started:.0f} s in all, data generation included.")
    print(f"EfficientNetB0 {SOURCE_WEIGHTS_DESCRIPTION}: {path}\nmanifest: {manifest_path(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
