"""The three ways the course trains EfficientNetB0: from scratch, frozen backbone, fine-tuned."""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras

from course.config import NUM_CLASSES, Profile, get_profile
from course.data import DogsData, load_dogs
from course.downloads import standin_reasons
from course.fast_augment import FastAugment
from course.models import build_scratch_model, build_transfer_model, unfreeze_top
from course.runtime import saved_model_path
from course.source_task import SOURCE_WEIGHTS_DESCRIPTION, is_source_weights
from course.train import early_stopping, evaluate_on_test, fit, kept_history

FROZEN_MODEL = "frozen"  # the name lesson 4 saves its trained frozen model under, where lesson 5 looks


@dataclass
class RunResult:
    """One approach's outcome: its training history, its final model's test accuracy when measured, and a
    one-line summary."""

    name: str
    history: dict[str, list[float]]
    test_accuracy: float | None = None  # on the test split, measured once after training

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
        test = "" if self.test_accuracy is None else f"test_accuracy {self.test_accuracy:.3f}, "
        return (
            f"{self.name:<10} val_accuracy {self.final_val_accuracy:.3f} after {self.epochs} epoch(s), {test}"
            f"{self.seconds_per_epoch:.1f} s/epoch"
        )


def warn_if_not_meaningful(profile: Profile) -> None:
    """Say loudly when accuracies cannot be compared with the reference's: synthetic data, random
    weights, weights pretrained offline on synthetic source images (the ``demo`` profile), or the
    stand-ins of :mod:`course_tools.standins`."""
    standins = standin_reasons(profile)
    if profile.meaningful and not standins:
        return
    reasons = []
    if profile.source == "synthetic":
        reasons.append("the data are synthetic images, not Stanford Dogs")
    if profile.weights is None:
        reasons.append("the 'pretrained' backbone has RANDOM weights, not ImageNet weights")
    pretrained_offline = is_source_weights(profile.weights)
    if pretrained_offline:
        reasons.append(f"the backbone is {SOURCE_WEIGHTS_DESCRIPTION}, not on ImageNet")
    reasons += standins
    if pretrained_offline and not standins:
        print(
            f"NOTE: profile {profile.name!r} shows transfer learning at small scale: {' and '.join(reasons)}. "
            "Compare its three approaches with each other (from scratch near chance, the frozen and fine-tuned "
            "backbone far above it), not with the reference's numbers; run the 'full' profile for those.",
            file=sys.stderr,
        )
        return
    print(
        f"NOTE: profile {profile.name!r} is a plumbing check: {' and '.join(reasons)}. "
        "Its accuracies say nothing about transfer learning; run the 'full' profile for real numbers.",
        file=sys.stderr,
    )


def load_augmented_data(profile: Profile) -> DogsData:
    """Stanford Dogs for ``profile`` with the reference augmentation on the training batches.

    The augmentation is :class:`course.fast_augment.FastAugment`: the reference's rotation,
    translation, flip and contrast, drawn from the distributions of the KerasCV layers of
    :func:`course.augment.reference_augmentation` (not quite the reference's core Keras layers: lesson 3), but one
    warp per image on whole cached batches (``python -m course_tools.bench`` measures the difference). It
    runs in the input pipeline, or, when the profile puts it in the model (a GPU in ``full``), inside
    the training step: then ``data.train`` gives unaugmented uint8 batches and ``course.train.fit``
    augments them (:mod:`course.acceleration`)."""
    return load_dogs(profile, augment=FastAugment(seed=profile.seed))


def train_from_scratch(profile: Profile | str | None = None, data: DogsData | None = None) -> RunResult:
    """EfficientNetB0 with random weights, trained on the whole network."""
    profile = get_profile(profile)
    data = data or load_augmented_data(profile)
    model = build_scratch_model(NUM_CLASSES, profile.image_size, learning_rate=profile.learning_rate_scratch)
    history = fit(model, data, profile.epochs_scratch, profile, resume="scratch")
    return RunResult("scratch", history.history, evaluate_on_test(model, data, profile)["accuracy"])


def train_frozen_then_finetuned(
    profile: Profile | str | None = None, data: DogsData | None = None
) -> tuple[RunResult, RunResult]:
    """A frozen backbone with a new head (:func:`frozen_phase`), then the top layers unfrozen at a low
    learning rate; each phase's final model is measured once on the test split."""
    profile = get_profile(profile)
    data = data or load_augmented_data(profile)
    model, frozen = frozen_phase(profile, data)
    frozen_test_accuracy = evaluate_on_test(model, data, profile)["accuracy"]
    unfreeze_top(model, profile.finetune_layers, learning_rate=profile.learning_rate_finetune)
    frozen_epochs = len(frozen.epoch)  # fewer than profile.epochs_frozen when early stopping ended the phase
    finetuned = fit(
        model,
        data,
        frozen_epochs + profile.epochs_finetune,
        profile,
        initial_epoch=frozen_epochs,
        resume="finetune",
    )
    finetuned_test_accuracy = evaluate_on_test(model, data, profile)["accuracy"]
    return (
        RunResult("frozen", frozen.history, frozen_test_accuracy),
        RunResult("fine-tuned", finetuned.history, finetuned_test_accuracy),
    )


def frozen_phase(profile: Profile, data: DogsData) -> tuple[keras.Model, keras.callbacks.History]:
    """The trained frozen model (:func:`course.models.build_transfer_model`) and its history, for
    fine-tuning: the one saved in the work folder (by lesson 4, or by an earlier run of this phase) when
    there is one for these profile settings, otherwise trained here as lesson 4 does (resumable, with
    early stopping on the validation split) and then saved. The history ends at the epoch whose
    weights the model holds."""
    model = build_transfer_model(
        NUM_CLASSES, profile.image_size, weights=profile.weights, learning_rate=profile.learning_rate_head
    )
    history = load_frozen_model(model, profile)
    if history is None:
        print(f"Training the frozen phase here: up to {profile.epochs_frozen} epoch(s).")
        stopping = early_stopping(profile)
        history = kept_history(
            fit(model, data, profile.epochs_frozen, profile, callbacks=[stopping], resume="frozen"), stopping
        )
        save_frozen_model(model, history, profile)
    return model, history


class FrozenStart:
    """The frozen phase's trained weights, kept in memory so that fine-tuning can start again from them
    in seconds: :meth:`model` rebuilds the frozen model, as it was when the frozen phase ended."""

    def __init__(self, model: keras.Model, profile: Profile):
        self.weights = model.get_weights()  # every weight, BatchNormalization's moving statistics included
        self.profile = profile

    def model(self) -> keras.Model:
        """A new frozen model (backbone frozen, head trainable, compiled for the head's learning rate)
        holding the kept weights: whatever was unfrozen or trained since does not reach it."""
        profile = self.profile
        model = build_transfer_model(
            NUM_CLASSES, profile.image_size, weights=None, learning_rate=profile.learning_rate_head
        )
        model.set_weights(self.weights)
        return model


def save_frozen_model(model: keras.Model, history: keras.callbacks.History, profile: Profile) -> Path | None:
    """Keep the trained frozen ``model`` (its weights, including the BatchNormalization statistics) and
    its ``history`` in the work folder, where :func:`frozen_phase` (lesson 5) starts from them. Returns
    the weights file, or None without a work folder (and says so)."""
    path = saved_model_path(profile, FROZEN_MODEL)
    if path is None:
        print(
            "No work folder (drive = False): the trained frozen model is not kept, so lesson 5 trains the "
            "frozen phase again. With drive = True it would start from this one."
        )
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"partial-{path.name}")
    model.save_weights(partial)
    os.replace(partial, path)
    record = {
        "layers": _layer_signature(model),
        "epoch": list(history.epoch),
        "history": {key: [float(value) for value in values] for key, values in history.history.items()},
    }
    _manifest(path).write_text(json.dumps(record))  # written last: its presence marks a complete save
    print(f"Saved the trained frozen model to {path}: lesson 5 starts fine-tuning from it.")
    return path


def load_frozen_model(model: keras.Model, profile: Profile) -> keras.callbacks.History | None:
    """Load the frozen model saved for ``profile`` into ``model`` and return its training history; None,
    saying why, when there is no work folder, nothing saved for these settings, or the saved model's
    layers differ from ``model``'s."""
    path = saved_model_path(profile, FROZEN_MODEL)
    if path is None:
        print("No work folder (drive = False), so no frozen model saved by lesson 4 to start from.")
        return None
    manifest = _manifest(path)
    if not (manifest.is_file() and path.is_file()):
        print(
            f"No frozen model saved in {path.parent} for these profile settings (lesson 4 saves one when it "
            "runs with drive = True and the same profile)."
        )
        return None
    record = json.loads(manifest.read_text())
    if record["layers"] != _layer_signature(model):
        print(
            f"The frozen model saved in {path} has other layers than this model (was lesson 4's "
            "build_frozen_model changed?), so it cannot be used."
        )
        return None
    with warnings.catch_warnings():
        # the optimizer's state is not needed: fine-tuning compiles a new one
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)
    history = keras.callbacks.History()
    history.epoch, history.history = record["epoch"], record["history"]
    accuracy = history.history.get("val_accuracy", [float("nan")])[-1]
    print(
        f"Starting from the frozen model saved in {path}: {len(history.epoch)} epoch(s), "
        f"validation accuracy {accuracy:.3f}."
    )
    return history


def _manifest(weights_path: Path) -> Path:
    """The JSON file beside a saved model's weights: its layers and training history."""
    return weights_path.with_name(weights_path.name.removesuffix(".weights.h5") + ".json")


def _layer_signature(model: keras.Model) -> list:
    """Each layer's type and weight shapes, in order: equal for models whose weights load into each other."""
    return [[type(layer).__name__, [list(weight.shape) for weight in layer.weights]] for layer in model.layers]
