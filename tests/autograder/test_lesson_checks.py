"""Models and figures crossing from the kernel as data (``course.facts`` -> ``kernel_probe.dumps`` ->
``checks.loads``) and the lessons' shared checks on them (``autograder.grading.lesson_checks``)."""

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

from autograder.grading.checks import free_names, loads, run_checks
from autograder.grading.lesson_checks import check_compiled, check_curves
from autograder.sandbox.kernel_probe import dumps
from course.facts import figure_facts, model_facts, random_curves


def sent(value):
    """``value`` as the grader receives it from a kernel."""
    return loads(dumps(value))


def small_model(loss="categorical_crossentropy", learning_rate=1e-3):
    inputs = keras.Input((4,))
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(5, name="hidden")(inputs))
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(keras.layers.Dropout(0.2, name="drop")(x))
    model = keras.Model(inputs, outputs)
    model.layers[1].trainable = False
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    return model


def test_a_model_crosses_as_its_layers_counts_and_compile_settings():
    facts = sent(model_facts(small_model()))
    assert facts["input_shape"] == [None, 4] and facts["output_shape"] == [None, 3]
    assert facts["trainable_parameters"] == 5 * 3 + 3 + 2 * 5 and facts["non_trainable_parameters"] == 4 * 5 + 5 + 2 * 5
    hidden, bn, drop, out = facts["layers"][1:]
    assert "Dense" in hidden["kinds"] and not hidden["trainable"] and hidden["units"] == 5
    assert bn["moving_mean"] == [0.0, 0.0] and bn["moving_variance"] == [1.0, 1.0]
    assert drop["rate"] == 0.2 and out["activation"] == "keras.softmax"
    check_compiled(facts["compiled"], 1e-3)


@pytest.mark.parametrize(
    "loss", ["categorical_crossentropy", keras.losses.categorical_crossentropy, keras.losses.CategoricalCrossentropy()]
)
def test_every_way_to_name_the_loss_passes(loss):
    check_compiled(sent(model_facts(small_model(loss)))["compiled"], 1e-3)


@pytest.mark.parametrize(
    ("model", "complaint"),
    [
        (small_model(keras.losses.CategoricalCrossentropy(from_logits=True)), "probabilities"),
        (small_model(learning_rate=1e-2), "learning_rate"),
    ],
)
def test_a_wrong_compile_fails_with_what_to_change(model, complaint):
    with pytest.raises(AssertionError, match=complaint):
        check_compiled(sent(model_facts(model))["compiled"], 1e-3)


def test_a_nested_model_is_opened_in_inner_layers():
    outer = keras.Sequential([keras.Input((4,)), small_model(), keras.layers.Dense(2)])
    facts = sent(model_facts(outer))
    assert [layer["name"] for layer in facts["inner_layers"]][-5:] == [
        "hidden",
        "bn",
        "drop",
        "out",
        facts["layers"][-1]["name"],
    ]
    assert "Model" in facts["layers"][0]["kinds"]


def test_a_figure_crosses_as_its_axes_and_lines():
    curves = random_curves(1, 4)
    figure, axes = plt.subplots(1, 2)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(range(1, 5), curves[metric], label="train")
        ax.plot(range(1, 5), curves[f"val_{metric}"], label="validation")
        ax.set_title(f"model {metric}")
        ax.legend()
    check_curves(sent(figure_facts(figure)), curves)
    axes[1].lines[0].set_xdata(range(4))  # epochs counted from 0
    with pytest.raises(AssertionError, match="epochs, counted from 1"):
        check_curves(sent(figure_facts(figure)), curves)
    plt.close(figure)
    assert sent(figure_facts("not a figure")) == {"class": "str"}


def test_checks_may_import_what_they_use_and_read_only_the_kernels_values():
    checks = "from course.facts import random_curves\nimport numpy\nassert random_curves(2, 3) == drawn\n"
    assert free_names(checks) == ["drawn"]
    assert run_checks(checks, {"drawn": sent(random_curves(2, 3))}) == ""
    assert run_checks(checks, {"drawn": sent(random_curves(3, 3))}) == "a hidden check failed"
    np.testing.assert_array_equal(random_curves(2, 3)["loss"], random_curves(2, 3)["loss"])
