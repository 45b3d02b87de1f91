"""The main job: train the three approaches and save their learning curves.

python -m course --profile smoke --out outputs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from course.acceleration import apply_acceleration
from course.approaches import (
    RunResult,
    load_augmented_data,
    train_from_scratch,
    train_frozen_then_finetuned,
    warn_if_not_meaningful,
)
from course.config import PROFILES, Profile, get_profile
from course.errors import CourseError, report_error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        help="run profile (default: COURSE_PROFILE, else 'grade' under nbgrader, else 'full')",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="folder for the figures")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        run(get_profile(args.profile), args.out)
    except CourseError as error:
        return report_error(error)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


def run(profile: Profile, out: Path) -> list[RunResult]:
    """Train the three approaches as ``profile`` says, save their figures in ``out`` and return
    their results (scratch, frozen, fine-tuned)."""
    from course.plots import plot_finetune, plot_hist, plot_runs, save

    print(profile)
    apply_acceleration(profile)  # before any model is built
    warn_if_not_meaningful(profile)
    data = load_augmented_data(profile)
    scratch = train_from_scratch(profile, data)
    frozen, finetuned = train_frozen_then_finetuned(profile, data)

    figures = {
        "scratch.png": plot_hist(scratch.history, title="from scratch"),
        "frozen.png": plot_hist(frozen.history, title="frozen backbone"),
        "finetuned.png": plot_finetune(frozen.history, finetuned.history),
        "comparison.png": plot_runs({result.name: result.history for result in (scratch, frozen, finetuned)}),
    }
    for name, figure in figures.items():
        save(figure, out / name)
    runs = [scratch, frozen, finetuned]
    for result in runs:
        print(result.summary())
    print(f"figures in {out}/ ({', '.join(figures)})")
    return runs


if __name__ == "__main__":
    sys.exit(main())
