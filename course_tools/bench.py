"""Input pipeline and training step throughput, measured side by side on this machine.

    python -m course_tools.bench [--image-size 224] [--images 512] [--batch 64] [--epochs 2] [--train-steps 5] [--quick]

In one run, on the same synthetic JPEGs of Stanford Dogs' size (500 x 375, about 37 KB each,
generated here so no download is needed), it measures images per second of:

- the reference pipeline: decode, resize, then the reference's four KerasCV layers
  (:func:`course.augment.reference_augmentation`) per image in ``Dataset.map``;
- decode and resize alone, the ceiling of any pipeline that decodes every epoch;
- the course pipeline (:func:`course.pipeline.fast_pipeline` with
  :class:`course.fast_augment.FastAugment`, the same augmentation family): its first epoch
  (decode, resize, cache) and its cached epochs, with FastAugment in the pipeline on the CPU
  (placement "pipeline") and without it, feeding cached uint8 batches (placement "model");
- a training step of the frozen transfer model (full forward pass through EfficientNetB0), the
  same step with FastAugment inside it (:func:`course.acceleration.set_train_augmentation`, on the
  GPU when there is one), and the lightweight workflow's head on cached features
  (:mod:`course.features`).

The models are built after :func:`course.acceleration.apply_acceleration` for the ``full`` profile,
so they train as the course trains on this machine (mixed precision and XLA with a GPU), and the
output names the placement ``full`` chooses here.

and prints a table with the ratios, in wall-clock time and in CPU time of this process. Other
processes on the machine slow the wall clock (the load average is printed before and after);
CPU time per image is much less sensitive to them, and on an idle machine with all cores busy,
images per second approach (cores x 1000) / (CPU ms per image). One-off work stays off the clock:
tf.data traces its map functions when a pipeline is built, FastAugment is compiled by XLA on a
first batch, and the training steps start after one untimed step. Pipelines that do the same work
every epoch are timed over ``--epochs`` passes. ``--quick`` is a tiny run that
checks the plumbing (64 px, 32 images, eager training steps); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import functools
import operator
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from course.acceleration import apply_acceleration, set_train_augmentation
from course.augment import reference_augmentation
from course.config import NUM_CLASSES
from course.data import preprocess
from course.fast_augment import FastAugment
from course.features import build_head
from course.models import build_transfer_model
from course.pipeline import fast_pipeline
from course_tools.machine import cpu_model

JPEG_HEIGHT, JPEG_WIDTH = 375, 500  # the typical Stanford Dogs photo
JPEG_QUALITY = 90
REFERENCE = "reference pipeline"
FROZEN_STEP = "train step, frozen model"
IN_PIPELINE = "course pipeline, cached epoch"
UINT8_ONLY = "course pipeline, cached uint8 only"
STEP_WITH_AUGMENTATION = "train step, frozen model + FastAugment"
QUICK_SETTINGS = {"image_size": 64, "images": 32, "batch": 8, "epochs": 1, "train_steps": 1}


@dataclass(frozen=True)
class Timing:
    """How long some images took: wall-clock seconds, and CPU seconds of every thread of this process."""

    images: int
    seconds: float
    cpu_seconds: float

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.images + other.images, self.seconds + other.seconds, self.cpu_seconds + other.cpu_seconds)


@dataclass(frozen=True)
class PipelineMeasurement:
    """One row of the table, with its ratios to a baseline row: wall-clock speed (what a user waits
    for) and CPU time (what the work costs, which other processes on the machine hardly change)."""

    name: str
    description: str
    images_per_second: float
    cpu_ms_per_image: float
    baseline: str  # the name of the row the ratios compare with
    ratio: float  # images_per_second / the baseline's
    cpu_ratio: float  # the baseline's cpu_ms_per_image / cpu_ms_per_image


@dataclass(frozen=True)
class BenchSettings:
    image_size: int = 224
    images: int = 512
    batch: int = 64
    epochs: int = 2
    train_steps: int = 5
    eager_training: bool = False  # skips graph building: for quick plumbing checks only
    seed: int = 0


def realistic_jpegs(count: int, seed: int = 0, batch: int = 32) -> list[bytes]:
    """``count`` JPEGs of 500 x 375 with photo-like statistics (smooth colour regions, texture, a
    little noise) that compress to about 37 KB at quality 90, like Stanford Dogs' photos."""
    rng = np.random.default_rng(seed)
    jpegs = []
    for start in range(0, count, batch):
        size = min(batch, count - start)
        shape = (JPEG_HEIGHT, JPEG_WIDTH)
        coarse = tf.image.resize(rng.uniform(0, 255, (size, 6, 8, 3)).astype(np.float32), shape, method="bicubic")
        texture = tf.image.resize(rng.normal(0, 20, (size, 47, 63, 3)).astype(np.float32), shape, method="bicubic")
        noise = rng.normal(0, 2, (size, *shape, 3)).astype(np.float32)
        pixels = tf.cast(tf.clip_by_value(tf.round(coarse + texture + noise), 0, 255), tf.uint8)
        jpegs.extend(tf.io.encode_jpeg(image, quality=JPEG_QUALITY).numpy() for image in pixels)
    return jpegs


def decoded_examples(jpegs: list[bytes]) -> tf.data.Dataset:
    """(uint8 image, label) examples decoded lazily from ``jpegs``, as ``course.data.load_raw`` gives them."""
    labels = np.arange(len(jpegs), dtype=np.int64) % NUM_CLASSES

    def decode(encoded, label):
        return tf.io.decode_jpeg(encoded, channels=3), label

    files = tf.data.Dataset.from_tensor_slices((jpegs, labels))
    return files.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def reference_pipeline(examples: tf.data.Dataset, image_size: int, batch_size: int, augment) -> tf.data.Dataset:
    """The reference example's input pipeline: resize and ``augment`` each image in ``map``
    (``augment=None``: resize only), then batch. Nothing is cached: every epoch decodes again."""

    def per_image(image, label):
        image, one_hot = preprocess(image, label, image_size)
        return (image if augment is None else augment(image)), one_hot

    return examples.map(per_image, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def timed(work) -> Timing:
    """Run ``work()``, which returns how many images it handled, and time it."""
    wall, cpu = time.perf_counter(), time.process_time()
    images = work()
    return Timing(images, time.perf_counter() - wall, time.process_time() - cpu)


def full_pass(dataset: tf.data.Dataset) -> Timing:
    """One full pass over a dataset of (images, labels) batches."""
    return timed(lambda: sum(int(tf.shape(images)[0]) for images, _ in dataset))


def passes(dataset: tf.data.Dataset, epochs: int) -> Timing:
    """``epochs`` full passes over ``dataset``, timed together."""
    return functools.reduce(operator.add, (full_pass(dataset) for _ in range(epochs)))


def training_steps(model, batch, steps: int) -> Timing:
    """``steps`` training steps of ``model`` on one ``batch`` held in memory, after one untimed step
    (which builds the graph)."""
    images, labels = batch
    model.train_on_batch(images, labels)

    def train():
        for _ in range(steps):
            model.train_on_batch(images, labels)
        return steps * int(images.shape[0])

    return timed(train)


def run(settings: BenchSettings) -> tuple[list[PipelineMeasurement], dict]:
    """Every measurement of the table, and facts about the run (JPEG size, cores, load)."""
    load_before = os.getloadavg()
    acceleration = apply_acceleration("full")  # before the models are built
    jpegs = realistic_jpegs(settings.images, settings.seed)
    examples = decoded_examples(jpegs)
    size, batch = settings.image_size, settings.batch
    timings: dict[str, tuple[str, Timing]] = {}

    reference = reference_pipeline(examples, size, batch, reference_augmentation(seed=settings.seed))
    plain = reference_pipeline(examples, size, batch, None)
    timings[REFERENCE] = ("decode, resize, 4 KerasCV layers per image in map", passes(reference, settings.epochs))
    timings["decode + resize only"] = ("no augmentation, no cache", passes(plain, settings.epochs))
    augmentation = FastAugment(seed=settings.seed)
    augmentation(tf.zeros((batch, size, size, 3), tf.uint8), training=True)  # XLA compiles, off the clock
    course = fast_pipeline(examples, size, batch, augmentation, seed=settings.seed)
    timings["course pipeline, first epoch"] = ("decode, resize, cache uint8, FastAugment on batches", full_pass(course))
    timings[IN_PIPELINE] = ("placement pipeline: FastAugment on cached batches, CPU", passes(course, settings.epochs))
    uint8_only = fast_pipeline(examples, size, batch, seed=settings.seed, keep_uint8=True)
    full_pass(uint8_only)  # fills the cache
    timings[UINT8_ONLY] = (
        "placement model: cached uint8 batches, no augmentation",
        passes(uint8_only, settings.epochs),
    )

    model = build_transfer_model(NUM_CLASSES, size, weights=None)
    model.run_eagerly = settings.eager_training
    training_batch = next(iter(course))
    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    timings[FROZEN_STEP] = (
        f"full forward through EfficientNetB0, batch {batch}, {device}",
        training_steps(model, training_batch, settings.train_steps),
    )
    set_train_augmentation(model, augmentation)
    timings[STEP_WITH_AUGMENTATION] = (
        f"placement model: FastAugment inside the step, {device}",
        training_steps(model, next(iter(uint8_only)), settings.train_steps),
    )
    head = build_head(model)
    head.run_eagerly = settings.eager_training
    features = tf.random.normal((batch, int(head.inputs[0].shape[-1])))
    timings["train step, head on features"] = (
        "lightweight workflow: BN, Dropout, Dense on cached features",
        training_steps(head, (features, training_batch[1]), settings.train_steps),
    )

    measurements = []
    for name, (description, timing) in timings.items():
        baseline = REFERENCE if name.startswith(("reference", "course", "decode")) else FROZEN_STEP
        reference_timing = timings[baseline][1]
        measurements.append(
            PipelineMeasurement(
                name,
                description,
                timing.images / timing.seconds,
                1000 * timing.cpu_seconds / timing.images,
                baseline,
                ratio=(timing.images / timing.seconds) / (reference_timing.images / reference_timing.seconds),
                cpu_ratio=(reference_timing.cpu_seconds / reference_timing.images)
                / (timing.cpu_seconds / timing.images),
            )
        )
    facts = {
        "jpegs": len(jpegs),
        "jpeg_kb": float(np.mean([len(jpeg) for jpeg in jpegs]) / 1024),
        "cpu_cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "placement": "model (in the train step)" if acceleration.augment_in_model else "pipeline (tf.data, CPU)",
        "tensorflow": tf.__version__,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    return measurements, facts


def format_measurements(measurements: list[PipelineMeasurement], settings: BenchSettings, facts: dict) -> str:
    """The measurements as a Markdown table, with the run's settings and load above and below it."""
    header = (
        f"{facts['jpegs']} JPEGs {JPEG_WIDTH}x{JPEG_HEIGHT} (mean {facts['jpeg_kb']:.0f} KB) "
        f"-> {settings.image_size} px, "
        f"batch {settings.batch}, {settings.epochs} timed epoch(s), {settings.train_steps} timed train step(s), "
        f"{facts['cpu_cores']} CPU cores ({facts['cpu_model']}), TensorFlow {facts['tensorflow']}"
        + (", eager training steps" if settings.eager_training else "")
    )
    lines = [
        header,
        "load average (1, 5, 15 min) before: " + " ".join(f"{value:.2f}" for value in facts["load_before"]),
        (
            f"augmentation placement the full profile chooses here: {facts['placement']}; both are measured below "
            f"('{IN_PIPELINE}' for the pipeline, '{UINT8_ONLY}' and '{STEP_WITH_AUGMENTATION}' for the model)"
        ),
        "",
        "| measurement | what runs | images/s | ratio | CPU ms/image | CPU ratio | vs |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| {row.name} | {row.description} | {row.images_per_second:.1f} | {row.ratio:.2f}x "
        f"| {row.cpu_ms_per_image:.3f} | {row.cpu_ratio:.2f}x | {row.baseline} |"
        for row in measurements
    ]
    lines += ["", "load average (1, 5, 15 min) after: " + " ".join(f"{value:.2f}" for value in facts["load_after"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=BenchSettings.image_size)
    parser.add_argument("--images", type=int, default=BenchSettings.images, help="number of JPEGs")
    parser.add_argument("--batch", type=int, default=BenchSettings.batch)
    parser.add_argument(
        "--epochs",
        type=int,
        default=BenchSettings.epochs,
        help="passes timed for the pipelines that do the same work every epoch",
    )
    parser.add_argument("--train-steps", type=int, default=BenchSettings.train_steps)
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run that checks the plumbing; numbers mean nothing"
    )
    arguments = parser.parse_args(argv)
    if arguments.quick:
        settings = BenchSettings(**QUICK_SETTINGS, eager_training=True)
    else:
        settings = BenchSettings(
            image_size=arguments.image_size,
            images=arguments.images,
            batch=arguments.batch,
            epochs=arguments.epochs,
            train_steps=arguments.train_steps,
        )
    for name in ("image_size", "images", "batch", "epochs", "train_steps"):
        if getattr(settings, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; got {getattr(settings, name)}.")
    measurements, facts = run(settings)
    print(format_measurements(measurements, settings, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
