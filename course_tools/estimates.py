"""How long each lesson takes in the ``full`` profile on a Colab T4: an estimate, and where it comes from.

No GPU was reachable where the course is built, so the figures are derived, not measured:

- GPU throughput: NVIDIA DeepLearningExamples, ``TensorFlow2/Classification/ConvNets/efficientnet_v1``
  README (tensorflow:21.09-tf2-py3 container): EfficientNet-B0 at 224 px trains at 752 images/s (FP32)
  on one V100 and infers at 1,768 images/s (FP16, batch 32).
- V100 to T4: NVIDIA's data sheets give 900 GB/s (V100 SXM2) and 320 GB/s (T4) of memory bandwidth.
  EfficientNet's depthwise convolutions are bound by memory bandwidth, so T4 = V100 x 320/900.
- Mixed precision: x1.5 on a T4 (half the bytes per activation). The same README measured x2.85 on
  an A100, and no gain on a V100 whose input pipeline was CPU-bound; the course feeds cached batches.
- CPU side (Colab has 2 cores): decoding and resizing every image once, 370 images/s, the lower end
  of ``python -m course_tools.bench``'s "decode + resize only" on an idle 2-core AMD EPYC (369-406 images/s,
  README, "Fast input pipeline"); after that the batches come from the in-memory cache.
- Stanford Dogs through TFDS: a 757 MB download (at an assumed 10 MB/s) and its preparation (20,580
  JPEGs rewritten as TFRecords at the decode rate above), once when the data set is kept on Drive.

The reference's logs (keras-io example, revision of 2026-07-13) show 87-148 s per from-scratch epoch on its
GPU, without mixed precision and with an uncached input pipeline; :func:`lesson_minutes` gives 39 s for a
from-scratch epoch. The GPU workflow records the real epoch times.
"""

from __future__ import annotations

import argparse

TRAIN_IMAGES, TEST_IMAGES = 12_000, 8_580
V100_TRAIN_FP32, V100_INFER_FP16 = 752.0, 1_768.0  # images/s, NVIDIA DeepLearningExamples
T4_PER_V100 = 320 / 900  # memory bandwidth, NVIDIA data sheets
MIXED_PRECISION_GAIN = 1.5
DECODE_RESIZE = 370.0  # images/s on 2 idle CPU cores, python -m course_tools.bench
DOWNLOAD_MB, DOWNLOAD_MB_PER_S = 757, 10.0

TRAIN_ALL_LAYERS = V100_TRAIN_FP32 * T4_PER_V100 * MIXED_PRECISION_GAIN  # from scratch
FORWARD = V100_INFER_FP16 * T4_PER_V100 * MIXED_PRECISION_GAIN  # frozen backbone, validation
# Fine-tuning back-propagates through block 7a and the top convolution only: about a forward pass.
EPOCHS = {"lesson3_scratch": ("scratch", 40), "lesson4_frozen": ("frozen", 25), "lesson5_finetune": ("finetune", 4)}
SOURCE = (
    "course_tools/estimates.py: NVIDIA's published EfficientNet-B0 throughput scaled to a T4, CPU figures measured on "
    "2 cores"
)


def epoch_seconds(kind: str) -> float:
    """Seconds for one epoch (training plus validation) of ``kind``: "scratch", "frozen" or "finetune"."""
    rate = TRAIN_ALL_LAYERS if kind == "scratch" else FORWARD
    return TRAIN_IMAGES / rate + TEST_IMAGES / FORWARD


def data_minutes(kept_on_drive: bool) -> float:
    """Minutes to have Stanford Dogs ready and cached in memory: downloaded and prepared unless kept on Drive."""
    decode = (TRAIN_IMAGES + TEST_IMAGES) / DECODE_RESIZE
    prepare = 0.0 if kept_on_drive else DOWNLOAD_MB / DOWNLOAD_MB_PER_S + decode
    return (prepare + decode) / 60


def lesson_minutes(lesson: str, kept_on_drive: bool = True) -> float:
    """Estimated minutes for ``lesson`` in the full profile on a Colab T4 (data prepared in lesson 1)."""
    first_lesson = lesson == "lesson1_data"
    training = 0.0
    if lesson in EPOCHS:
        kind, epochs = EPOCHS[lesson]
        training = epochs * epoch_seconds(kind) / 60
    return data_minutes(kept_on_drive and not first_lesson) + training


def _rounded(minutes: float) -> str:
    return "under 1" if minutes < 1 else f"{minutes:.0f}"


def repeated_minutes(lesson: str) -> float:
    """Estimated minutes for ``lesson`` without the work folder (``drive = False``, the lessons' default): the
    data set downloaded and prepared again, and in lesson 5 lesson 4's frozen phase trained again."""
    minutes = lesson_minutes(lesson, kept_on_drive=False)
    if lesson == "lesson5_finetune":
        minutes += EPOCHS["lesson4_frozen"][1] * epoch_seconds("frozen") / 60
    return minutes


def _duration(minutes: float) -> str:
    return "less than a minute" if minutes < 1 else f"about {minutes:.0f} minutes"


def describe(lesson: str) -> str:
    """One sentence for a lesson's introduction: its estimated time on a T4 with the parameters cell's default
    ``drive = False`` and, where it differs, with ``drive = True``, and the estimate's source."""
    default, kept = repeated_minutes(lesson), lesson_minutes(lesson)
    if _rounded(default) == _rounded(kept):
        cases = f"{_duration(default)} with `drive = False` (the default) or `True`"
    else:
        after_lesson_4 = " after lesson 4 ran with it" if lesson == "lesson5_finetune" else ""
        cases = f"{_duration(default)} with `drive = False` (the default), {_duration(kept)} with `drive = True`"
        cases += after_lesson_4
    return f"In the `full` profile on a Colab T4 GPU this lesson takes {cases} (an estimate: {SOURCE})."


def format_estimates() -> str:
    """Per-lesson estimates, with and without the course's reuse of work, as a Markdown table."""
    lessons = ("lesson1_data", "lesson2_augmentation", "lesson3_scratch", "lesson4_frozen", "lesson5_finetune")
    rows = ["| lesson | minutes on a T4 | without Drive and lesson 4's saved model |", "| --- | ---: | ---: |"]
    total = total_repeated = 0.0
    for lesson in lessons:
        minutes, repeated = lesson_minutes(lesson), repeated_minutes(lesson)
        total, total_repeated = total + minutes, total_repeated + repeated
        rows.append(f"| `{lesson}` | {_rounded(minutes)} | {_rounded(repeated)} |")
    rows.append(f"| the course | {total:.0f} | {total_repeated:.0f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    """Print the estimates table (the README holds a copy)."""
    argparse.ArgumentParser(prog="python -m course_tools.estimates", description=__doc__.splitlines()[0]).parse_args(
        argv
    )
    print(format_estimates())


if __name__ == "__main__":
    main()
