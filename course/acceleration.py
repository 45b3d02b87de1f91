"""Training speed settings of a profile: mixed precision and XLA.

On a GPU, ``mixed_float16`` computes in float16 (Tensor Cores) while keeping the weights in
float32, and XLA (``jit_compile``) fuses the training step into fewer kernels. Both are on by
default in the ``full`` profile when a GPU is present and off on a CPU
(:func:`course.config.accelerated`). Under mixed precision the model's last layer must compute in
float32, so that softmax and the loss do not overflow: give the final ``Dense`` ``dtype="float32"``.
Keras then also wraps the optimizer in a ``LossScaleOptimizer`` by itself when it compiles.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from course.config import Profile, accelerated, get_profile

MIXED_POLICY = "mixed_float16"
FULL_PRECISION_POLICY = "float32"


def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


def apply_precision(profile: Profile | str | None = None) -> str:
    """Set Keras' global dtype policy for ``profile`` and return its name (``"mixed_float16"`` or
    ``"float32"``). Call it before building the model: layers take the policy when created."""
    profile = get_profile(profile)
    policy = MIXED_POLICY if accelerated(profile, "mixed_precision", gpu_available()) else FULL_PRECISION_POLICY
    keras.config.set_dtype_policy(policy)
    return policy


def compile_kwargs(profile: Profile | str | None = None) -> dict:
    """The ``model.compile`` arguments the profile decides: ``{"jit_compile": bool}``.

    Keras turns XLA off by itself (with a warning) when a layer says it cannot be compiled.
    """
    profile = get_profile(profile)
    return {"jit_compile": accelerated(profile, "jit_compile", gpu_available())}


def apply_jit_compile(model: keras.Model, profile: Profile | str | None = None) -> bool:
    """Set ``model.jit_compile`` on an already compiled model as ``profile`` says (never while it
    runs eagerly), rebuilding its train, test and predict functions if that changes it. Returns
    the setting in effect: Keras keeps it off, with a warning, for models it cannot compile."""
    wanted = compile_kwargs(profile)["jit_compile"] and not model.run_eagerly
    if model.jit_compile != wanted:
        model.jit_compile = wanted
        model.make_train_function(force=True)
        model.make_test_function(force=True)
        model.make_predict_function(force=True)
    return model.jit_compile
