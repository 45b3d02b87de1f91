"""The three ways the course trains EfficientNetB0: from scratch, frozen backbone, fine-tuned."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from course.config import NUM_CLASSES, Profile, get_profile
from course.data import DogsData, load_dogs
from course.fast_augment import FastAugment
from course.models import build_scratch_model, build_transfer_model, unfreeze_top
from course.train import fit


@dataclass
class RunResult:
    """One approach's outcome: its training history and a one-line summary."""

    name: str
    history: dict[str, list[float]]

    @property
    def epochs(self) -> int:
        return len(self.history["loss"])

    @property
    def final_val_accuracy(self) -> float:
        return self.history["val_accuracy"][-1]

    @property
    def seconds_per_epoch(self) -> float:
        times = self.history["epoch_time"]
        return sum(times) / len(times)

    def summary(self) -> str:
        return (
            f"{self.name:<10} val_accuracy {self.final_val_accuracy:.3f} after {self.epochs} epoch(s), "
            f"{self.seconds_per_epoch:.1f} s/epoch"
        )


def warn_if_not_meaningful(profile: Profile) -> None:
    """Say loudly when accuracies cannot be compared with the reference's."""
    if profile.meaningful:
        return
    reasons = []
    if profile.source == "synthetic":
        reasons.append("the data are synthetic images, not Stanford Dogs")
    if profile.weights is None:
        reasons.append("the 'pretrained' backbone has RANDOM weights, not ImageNet weights")
    print(
        f"NOTE: profile {profile.name!r} is a plumbing check: {' and '.join(reasons)}. "
        "Its accuracies say nothing about transfer learning; run the 'full' profile for real numbers.",
        file=sys.stderr,
    )


def load_augmented_data(profile: Profile) -> DogsData:
    """Stanford Dogs for ``profile`` with the reference augmentation on the training batches.

    The augmentation is :class:`course.fast_augment.FastAugment`: the reference's rotation,
    translation, flip and contrast, drawn from the same distributions as its KerasCV layers, but one
    warp per image on whole cached batches (``python -m course.bench`` measures the difference). It
    runs in the input pipeline, or, when the profile puts it in the model (a GPU in ``full``), inside
    the training step: then ``data.train`` gives unaugmented uint8 batches and ``course.train.fit``
    augments them (:mod:`course.acceleration`)."""
    return load_dogs(profile, augment=FastAugment(seed=profile.seed))


def train_from_scratch(profile: Profile | str | None = None, data: DogsData | None = None) -> RunResult:
    """EfficientNetB0 with random weights, trained on the whole network."""
    profile = get_profile(profile)
    data = data or load_augmented_data(profile)
    model = build_scratch_model(NUM_CLASSES, profile.image_size, learning_rate=profile.learning_rate_scratch)
    history = fit(model, data, profile.epochs_scratch, profile)
    return RunResult("scratch", history.history)


def train_frozen_then_finetuned(
    profile: Profile | str | None = None, data: DogsData | None = None
) -> tuple[RunResult, RunResult]:
    """A frozen backbone with a new head, then the top layers unfrozen at a low learning rate."""
    profile = get_profile(profile)
    data = data or load_augmented_data(profile)
    model = build_transfer_model(
        NUM_CLASSES, profile.image_size, weights=profile.weights, learning_rate=profile.learning_rate_head
    )
    frozen = fit(model, data, profile.epochs_frozen, profile)
    unfreeze_top(model, profile.finetune_layers, learning_rate=profile.learning_rate_finetune)
    finetuned = fit(
        model, data, profile.epochs_frozen + profile.epochs_finetune, profile, initial_epoch=profile.epochs_frozen
    )
    return RunResult("frozen", frozen.history), RunResult("fine-tuned", finetuned.history)
