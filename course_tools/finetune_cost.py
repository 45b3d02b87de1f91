"""What a fine-tuning epoch costs next to a frozen epoch, measured on this machine.

    python -m course_tools.finetune_cost [--image-size 224] [--batch 16] [--steps 8] [--epochs 3]

Builds the course's frozen transfer model (:func:`course.models.build_transfer_model`, random
weights: the cost does not depend on their values), trains it with :func:`course.train.fit` on the
offline synthetic data for ``--epochs`` epochs of ``--steps`` batches, unfreezes the top 20 layers
(:func:`course.models.unfreeze_top`) and trains as many epochs again. The first epoch of each phase
builds the training graph, so it is left out; the others give the median seconds per epoch of each
phase (training and a one-batch validation), in wall-clock time and in CPU time of this process, and
their ratios, which lesson 5 quotes. Other processes on the machine slow the wall clock; the CPU time
is much less sensitive to them (the load average is printed before and after).

Unfreezing the top 20 layers sends gradients through block 7a and the top convolution only, on
7 x 7 feature maps at 224 px: the forward pass through the whole backbone, which both phases pay,
dominates, so the ratio stays close to 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass

import keras

from course.approaches import load_augmented_data
from course.config import NUM_CLASSES, get_profile
from course.models import build_transfer_model, param_summary, unfreeze_top
from course.train import fit
from course_tools.machine import cpu_model


@dataclass(frozen=True)
class PhaseCosts:
    """Median seconds per epoch (wall clock and CPU time) of the frozen and the fine-tuning phase,
    graph building left out."""

    frozen_seconds: float
    finetune_seconds: float
    frozen_cpu_seconds: float
    finetune_cpu_seconds: float
    frozen_trainable: int
    finetune_trainable: int

    @property
    def ratio(self) -> float:
        return self.finetune_seconds / self.frozen_seconds

    @property
    def cpu_ratio(self) -> float:
        return self.finetune_cpu_seconds / self.frozen_cpu_seconds

    def __str__(self) -> str:
        return (
            f"frozen epoch:    {self.frozen_seconds:6.2f} s wall, {self.frozen_cpu_seconds:6.2f} s CPU "
            f"({self.frozen_trainable:,} trainable parameters)\n"
            f"fine-tune epoch: {self.finetune_seconds:6.2f} s wall, {self.finetune_cpu_seconds:6.2f} s CPU "
            f"({self.finetune_trainable:,} trainable parameters)\n"
            f"fine-tune / frozen: {self.ratio:.2f} (wall clock), {self.cpu_ratio:.2f} (CPU time)"
        )


class EpochCpuTimer(keras.callbacks.Callback):
    """Adds each epoch's CPU time of this process, in seconds, to the logs as ``epoch_cpu_time``."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        logs["epoch_cpu_time"] = time.process_time() - self._started


def measure_phase_costs(image_size: int = 224, batch_size: int = 16, steps: int = 8, epochs: int = 3) -> PhaseCosts:
    """Train the frozen model, then its top 20 layers unfrozen, ``epochs`` epochs of ``steps`` batches
    each, and return the median epoch times of both phases without each phase's first epoch."""
    if epochs < 2:
        raise ValueError(f"epochs must be at least 2: the first epoch of each phase builds the graph; got {epochs}.")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive; got steps={steps}, batch_size={batch_size}.")
    profile = get_profile(
        "smoke",
        image_size=image_size,
        batch_size=batch_size,
        steps_per_epoch=steps,
        validation_steps=1,
        run_eagerly=False,
        verbose=0,
    )
    data = load_augmented_data(profile)
    model = build_transfer_model(NUM_CLASSES, image_size, weights=None, learning_rate=profile.learning_rate_head)
    frozen_trainable = param_summary(model)["trainable"]
    frozen = fit(model, data, epochs, profile, callbacks=[EpochCpuTimer()])
    unfreeze_top(model, profile.finetune_layers, learning_rate=profile.learning_rate_finetune)
    finetune_trainable = param_summary(model)["trainable"]
    finetuned = fit(model, data, 2 * epochs, profile, initial_epoch=epochs, callbacks=[EpochCpuTimer()])

    def median(history, key):
        return statistics.median(history.history[key][1:])

    return PhaseCosts(
        frozen_seconds=median(frozen, "epoch_time"),
        finetune_seconds=median(finetuned, "epoch_time"),
        frozen_cpu_seconds=median(frozen, "epoch_cpu_time"),
        finetune_cpu_seconds=median(finetuned, "epoch_cpu_time"),
        frozen_trainable=frozen_trainable,
        finetune_trainable=finetune_trainable,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="training batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per phase; the first is left out")
    args = parser.parse_args(argv)
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    print(
        f"{args.steps} batches of {args.batch} images of {args.image_size} px per epoch, "
        f"median of epochs 2-{args.epochs} of each phase"
    )
    print(measure_phase_costs(args.image_size, args.batch, args.steps, args.epochs))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
