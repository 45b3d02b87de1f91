"""The core-Keras layer that replaces each KerasCV layer the course uses, named in this one place.

KerasCV is frozen at 0.9.0 (2024-04; its maintainers moved to KerasHub) and pulls ``keras-core`` onto
Colab. The lessons keep it while it works. The day it stops working, :func:`core_layer` turns each layer
:mod:`course.augment` builds into its core counterpart, configured alike, and :data:`COUNTERPARTS` says
what then changes for the students. ``tests/course/test_keras_counterparts.py`` runs the lessons'
augmentation both ways on the same sampled parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras


@dataclass(frozen=True)
class Counterpart:
    """The core layer for one KerasCV layer: its class in ``keras.layers`` (None: there is none), the Keras
    version that added it, KerasCV arguments it names differently (None: it has no such argument), the value
    it behaves as for an argument it lacks, factors it must be given as a ``(lower, upper)`` pair to draw
    from the same range, and what it does differently."""

    core: str | None
    since: str
    renamed: dict[str, str | None] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)
    as_pair: tuple[str, ...] = ()
    differences: str = "none: the same transformation for the same sampled parameters"


COUNTERPARTS: dict[str, Counterpart] = {
    "RandomRotation": Counterpart("RandomRotation", "3.0"),
    "RandomTranslation": Counterpart("RandomTranslation", "3.0"),
    "RandomZoom": Counterpart("RandomZoom", "3.0"),
    "RandomContrast": Counterpart(
        "RandomContrast",
        "3.0",
        as_pair=("factor",),
        differences="none, given factor f as (f, f): a single f draws from [1, 1 + f] (Keras 3.15, against its "
        "docstring's [1 - f, 1 + f]), so contrast would never be lowered",
    ),
    "RandomBrightness": Counterpart("RandomBrightness", "3.0"),
    "RandomFlip": Counterpart(
        "RandomFlip",
        "3.0",
        renamed={"rate": None},
        fixed={"rate": 0.5},
        differences="no rate (always 0.5); 'horizontal_and_vertical' flips both axes on one draw, where KerasCV "
        "draws each axis on its own",
    ),
    "RandomShear": Counterpart(
        "RandomShear",
        "3.8",
        differences="one random sign for both axes and one warp for both shears, where KerasCV shears along x, "
        "then along y, each with its own sign",
    ),
    "MixUp": Counterpart("MixUp", "3.8"),
    "CutMix": Counterpart(
        "CutMix",
        "3.9",
        renamed={"alpha": "factor"},
        differences="the box always lies inside the image, so the label weights are the pixel shares "
        "(course.augment.mix_batch measures them for KerasCV's boxes, which may cross the border)",
    ),
    "RandAugment": Counterpart(
        "RandAugment",
        "3.8",
        renamed={"augmentations_per_image": "num_ops", "magnitude": "factor", "magnitude_stddev": None, "rate": None},
        fixed={"geometric": True},
        differences="another set of operations (adds rotation, sharpness and posterisation) drawn with another "
        "magnitude rule; the same kind of augmentation, not the same images",
    ),
    "RandomChannelShift": Counterpart(
        None, "", differences="core Keras has no per-channel shift: course.augment would need its own layer"
    ),
    "RandomCropAndResize": Counterpart(
        None, "", differences="core Keras has no random resized crop: course.augment would need its own layer"
    ),
}


def core_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The core-Keras counterpart of the KerasCV ``layer``, with its settings and seed."""
    from course.augment import describe

    (settings,) = describe(layer)
    name = settings.pop("layer")
    counterpart = COUNTERPARTS.get(name)
    if counterpart is None or counterpart.core is None:
        raise ValueError(f"{name} has no core-Keras counterpart: {counterpart.differences if counterpart else ''}")
    for argument, value in counterpart.fixed.items():
        if settings.pop(argument) != value:
            raise ValueError(f"keras.layers.{counterpart.core} has no {argument}; it behaves as {argument}={value}.")
    arguments = {
        counterpart.renamed.get(key, key): (value, value) if key in counterpart.as_pair else value
        for key, value in settings.items()
        if counterpart.renamed.get(key, key) is not None
    }
    return getattr(keras.layers, counterpart.core)(**arguments, seed=layer.get_config().get("seed"))
