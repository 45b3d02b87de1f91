"""course.acceleration: the profile's mixed precision and XLA settings reach Keras."""

import keras
import numpy as np
import pytest

from course import acceleration
from course.acceleration import apply_jit_compile, apply_precision, compile_kwargs
from course.config import get_profile


@pytest.fixture(autouse=True)
def _float32_afterwards():
    yield
    keras.config.set_dtype_policy("float32")


def tiny_classifier():
    """A head like the course's: the last Dense in float32 so softmax and loss stay in float32."""
    inputs = keras.Input((8,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(16)(inputs))
    outputs = keras.layers.Dense(3, activation="softmax", dtype="float32")(hidden)
    return keras.Model(inputs, outputs)


def test_cpu_machine_keeps_float32_and_no_xla_even_in_full():
    assert not acceleration.gpu_available()  # this test runs on the project's CPU machines
    assert apply_precision("full") == "float32" == keras.config.dtype_policy().name
    assert compile_kwargs("full") == {"jit_compile": False}


def test_full_profile_on_a_gpu_turns_both_on(monkeypatch):
    monkeypatch.setattr(acceleration, "gpu_available", lambda: True)
    assert apply_precision("full") == "mixed_float16" == keras.config.dtype_policy().name
    assert compile_kwargs("full") == {"jit_compile": True}
    assert apply_precision("smoke") == "float32" and compile_kwargs("smoke") == {"jit_compile": False}


def test_explicit_settings_win_over_auto(monkeypatch):
    monkeypatch.setattr(acceleration, "gpu_available", lambda: True)
    assert apply_precision(get_profile("full", mixed_precision=False)) == "float32"
    assert compile_kwargs(get_profile("full", jit_compile=False)) == {"jit_compile": False}
    monkeypatch.setattr(acceleration, "gpu_available", lambda: False)
    assert apply_precision(get_profile("smoke", mixed_precision=True)) == "mixed_float16"


def test_mixed_precision_model_computes_in_float16_with_a_float32_output_and_loss_scaling():
    apply_precision(get_profile("smoke", mixed_precision=True))
    model = tiny_classifier()
    model.compile(optimizer="adam", loss="categorical_crossentropy", **compile_kwargs("smoke"))
    hidden, output = model.layers[1], model.layers[-1]
    assert (hidden.compute_dtype, hidden.variable_dtype) == ("float16", "float32")
    assert output.compute_dtype == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    predictions = model.predict(np.ones((2, 8), np.float32), verbose=0)
    assert predictions.dtype == np.float32
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_jit_compile_setting_reaches_the_compiled_model(jit_compile):
    model = tiny_classifier()
    model.compile(optimizer="adam", loss="categorical_crossentropy", **compile_kwargs(get_profile("full", jit_compile=jit_compile)))
    assert model.jit_compile is jit_compile


def test_jit_compile_applies_to_a_model_compiled_elsewhere():
    model = tiny_classifier()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    assert model.jit_compile is False  # Keras' "auto" on a CPU
    assert apply_jit_compile(model, get_profile("full", jit_compile=True)) is True and model.jit_compile is True
    history = model.fit(np.ones((4, 8), np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])  # trained through XLA
    assert apply_jit_compile(model, get_profile("full", jit_compile=False)) is False
    model.run_eagerly = True
    assert apply_jit_compile(model, get_profile("full", jit_compile=True)) is False

