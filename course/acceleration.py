"""Where and how fast training runs: mixed precision, XLA and the placement of the augmentation.

Three profile settings (:class:`course.config.Profile`), each ``"auto"``, True or False; ``"auto"``
turns them on in the ``full`` profile when TensorFlow sees a GPU, and off otherwise
(:func:`course.config.accelerated`):

- ``mixed_precision``: the ``mixed_float16`` dtype policy computes in float16 (Tensor Cores) and
  keeps the weights in float32. It applies to the layers created after it is set, so
  :func:`apply_acceleration` runs right after the profile is chosen, before any model is built.
  The output layer must compute in float32, so that the softmax and the loss keep their precision:
  :func:`course.train.fit` makes it so (:func:`float32_output`), whoever built the model. Keras
  wraps the optimizer in a ``LossScaleOptimizer`` by itself when it compiles.
- ``jit_compile``: XLA fuses the training step into fewer kernels (:func:`apply_jit_compile`;
  never while the model runs eagerly).
- ``augment_in_model``: :class:`course.fast_augment.FastAugment` runs inside the compiled training
  step, on the accelerator, and the ``tf.data`` pipeline only feeds the cached uint8 batches
  (:func:`course.data.load_dogs`, :func:`set_train_augmentation`). Two CPU cores augment a few
  hundred images/s (``python -m course_tools.bench``), which would hold a GPU back; on a CPU the
  pipeline augments the next batches in parallel with the training step, which is faster.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from course.config import Profile, accelerated, get_profile

MIXED_POLICY = "mixed_float16"
FULL_PRECISION_POLICY = "float32"


@functools.cache
def distribution_strategy() -> tf.distribute.Strategy:
    """A TPU strategy when a TPU is found, MirroredStrategy with several GPUs, else the default
    strategy. Chosen once per process; build models inside ``distribution_strategy().scope()``."""
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    except ValueError:  # raised when no TPU is configured
        resolver = None
    if resolver is not None:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
        description = f"TPU ({strategy.num_replicas_in_sync} cores)"
    elif len(tf.config.list_logical_devices("GPU")) > 1:
        strategy = tf.distribute.MirroredStrategy()
        description = f"MirroredStrategy over {strategy.num_replicas_in_sync} GPUs"
    else:
        strategy = tf.distribute.get_strategy()
        device = "one GPU" if tf.config.list_logical_devices("GPU") else "the CPU"
        description = f"the default strategy on {device}"
    print(f"Training with {description}.")
    return strategy


def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


@dataclass(frozen=True)
class Acceleration:
    """A profile's acceleration settings resolved on this machine."""

    gpu: bool  # whether TensorFlow saw a GPU when the decision was made
    mixed_precision: bool
    jit_compile: bool
    augment_in_model: bool

    @property
    def dtype_policy(self) -> str:
        return MIXED_POLICY if self.mixed_precision else FULL_PRECISION_POLICY

    def __str__(self) -> str:
        device = "a GPU" if self.gpu else "the CPU"
        augmentation = (
            f"inside the training step on {device} (the tf.data pipeline feeds cached uint8 batches)"
            if self.augment_in_model
            else "in the tf.data pipeline on the CPU"
        )
        return (
            f"Acceleration ({'GPU found' if self.gpu else 'no GPU found'}): "
            f"mixed precision {'on' if self.mixed_precision else 'off'} ({self.dtype_policy}), "
            f"XLA {'on' if self.jit_compile else 'off'}, augmentation {augmentation}"
        )


NO_ACCELERATION = Acceleration(gpu=False, mixed_precision=False, jit_compile=False, augment_in_model=False)
_applied = NO_ACCELERATION


def decide(profile: Profile | str | None = None, gpu: bool | None = None) -> Acceleration:
    """What ``profile``'s settings mean on this machine (or, with ``gpu`` given, on a machine that
    has a GPU or not)."""
    profile = get_profile(profile)
    gpu = gpu_available() if gpu is None else gpu
    settings = {
        name: accelerated(profile, name, gpu) for name in ("mixed_precision", "jit_compile", "augment_in_model")
    }
    return Acceleration(gpu=gpu, **settings)


def apply_acceleration(profile: Profile | str | None = None) -> Acceleration:
    """Apply ``profile``'s decision and print it: set Keras's global dtype policy (``mixed_float16``
    or back to ``float32``) and the ``jit_compile`` that :mod:`course.models` compiles with. Call it
    right after choosing the profile, before building any model: layers take the policy when they
    are created."""
    global _applied
    _applied = decide(profile)
    keras.config.set_dtype_policy(_applied.dtype_policy)
    print(_applied)
    return _applied


def applied() -> Acceleration:
    """The decision :func:`apply_acceleration` applied last (none: everything off)."""
    return _applied


def prepare_for_training(model: keras.Model, profile: Profile | str | None = None) -> None:
    """Make a compiled ``model`` train as ``profile`` decides: a float32 output under mixed
    precision, and XLA on or off (off while it runs eagerly)."""
    float32_output(model)
    apply_jit_compile(model, profile)


def float32_output(model: keras.Model) -> list[str]:
    """Make the layers that compute ``model``'s outputs compute in float32 (their weights are float32
    already), so that softmax and the loss stay exact under ``mixed_float16``. Returns the names of
    the layers changed; under a float32 policy there are none."""
    outputs = getattr(model, "outputs", None)  # subclassed models and unbuilt Sequentials have none
    if outputs is None:
        if model.compute_dtype != "float32":
            raise ValueError(
                f"Model {model.name!r} computes in {model.compute_dtype} and its output layer is unknown, so it "
                "cannot be made float32. Give its last layer dtype='float32', or build it from keras.Input."
            )
        return []
    changed = []
    for output in outputs:
        layer = output._keras_history.operation
        if isinstance(layer, keras.Model):
            changed += float32_output(layer)
        elif layer.compute_dtype != "float32":
            layer.dtype_policy = FULL_PRECISION_POLICY
            changed.append(layer.name)
    if changed and model.compiled:
        _remake_functions(model)
    return changed


def apply_jit_compile(model: keras.Model, profile: Profile | str | None = None) -> bool:
    """Set ``model.jit_compile`` on an already compiled model as ``profile`` says (never while it
    runs eagerly), rebuilding its train, test and predict functions if that changes it. Returns
    the setting in effect: Keras keeps it off, with a warning, for models it cannot compile."""
    wanted = decide(profile).jit_compile and not model.run_eagerly
    if model.jit_compile != wanted:
        model.jit_compile = wanted
        _remake_functions(model)
    return model.jit_compile


def set_train_augmentation(model: keras.Model, augment: Callable | None) -> None:
    """Make ``model``'s training step call ``augment(images, training=True)`` on each batch before
    its forward pass, inside the compiled step (on the accelerator; XLA compiles
    :class:`course.fast_augment.FastAugment` with the model), or, with ``augment=None``, take that
    away again. Evaluation and prediction never augment, and the model's layers are left as they are
    (lesson 5 unfreezes ``model.layers[-20:]``)."""
    current = vars(model).get("train_step")
    if getattr(current, "augmentation", None) is augment:
        return
    if hasattr(current, "augmentation"):
        del model.train_step  # back to the step it wrapped
    if augment is not None:
        plain_step = model.train_step

        def train_step(data):
            images, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            return plain_step(keras.utils.pack_x_y_sample_weight(augment(images, training=True), labels, sample_weight))

        train_step.augmentation = augment
        model.train_step = train_step
    model.make_train_function(force=True)


def _remake_functions(model: keras.Model) -> None:
    """Rebuild the train, test and predict functions, which Keras makes with the settings of the moment."""
    model.make_train_function(force=True)
    model.make_test_function(force=True)
    model.make_predict_function(force=True)
