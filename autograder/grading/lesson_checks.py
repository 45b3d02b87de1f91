"""Checks that several lessons' hidden tests share. They run in the grader (``autograder.grading.checks``), on
the data ``course.facts`` makes of a student's model or figure in the kernel."""

from __future__ import annotations

import numpy as np

# Keras's EfficientNetB0 without its top (Keras 3.3 to 3.15): what a built backbone must add up to.
EFFICIENTNETB0_NOTOP_PARAMETERS = 4_049_571
EFFICIENTNETB0_NOTOP_NON_TRAINABLE = 42_023
EFFICIENTNETB0_NORMALIZATIONS = 49
EFFICIENTNETB0_FEATURES = 1280


def check_compiled(compiled: dict | None, learning_rate: float) -> None:
    """Compiled with Adam(learning_rate), categorical cross-entropy on probabilities, and accuracy."""
    assert compiled is not None, "expected a compiled model; found no optimizer: call model.compile"
    assert "Adam" in compiled["optimizer"], f"use keras.optimizers.Adam, not {compiled['optimizer'][:1]}"
    assert abs(compiled["learning_rate"] - learning_rate) <= 1e-4 * learning_rate, (
        f"use the learning_rate argument: found {compiled['learning_rate']:g}, expected {learning_rate:g}"
    )
    loss = compiled["loss"]
    assert (
        loss.get("name") == "categorical_crossentropy"
        or loss.get("function") == "keras.categorical_crossentropy"
        or ("CategoricalCrossentropy" in loss.get("kinds", []) and not loss["from_logits"])
    ), f"the loss must be categorical cross-entropy on probabilities, got {loss}"
    assert "accuracy" in compiled["metrics"], f"compile with metrics=['accuracy'], got {compiled['metrics']}"


def check_probabilities(outputs: object, examples: int, classes: int) -> None:
    """One softmax row per example."""
    probabilities = np.asarray(outputs, dtype=float)
    assert probabilities.shape == (examples, classes), f"predictions shaped {probabilities.shape}"
    assert np.all(probabilities >= 0.0), "the outputs must be softmax probabilities"
    np.testing.assert_allclose(
        probabilities.sum(axis=1), 1.0, rtol=1e-3, err_msg="the outputs must be softmax probabilities"
    )


def labelled_lines(axes: dict) -> dict[str, dict]:
    return {line["label"].strip().lower(): line for line in axes["lines"]}


def check_curves(figure: dict, curves: dict, legend: tuple[str, ...] = ("train", "validation")) -> list[dict]:
    """Accuracy (left) and loss (right) axes titled "model <metric>", each with a "train" and a
    "validation" line over the epochs counted from 1 and a legend naming ``legend``; returns the axes."""
    assert figure.get("class") == "Figure", f"return a matplotlib Figure, got {figure.get('class')}"
    axes = figure["axes"]
    assert len(axes) == 2, f"expected 2 axes, found {len(axes)}"
    epochs = np.arange(1, len(curves["loss"]) + 1, dtype=float)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        assert ax["title"].strip().lower() == f"model {metric}", f"title {ax['title']!r}"
        lines = labelled_lines(ax)
        for label, key in (("train", metric), ("validation", f"val_{metric}")):
            assert label in lines, f"no line labelled {label!r} on the {metric} axes"
            x, y = lines[label]["x"], lines[label]["y"]
            assert x.shape == epochs.shape, f"the {label} {metric} line has {x.size} points for {epochs.size} epochs"
            np.testing.assert_allclose(x, epochs, err_msg="x: the epochs, counted from 1")
            np.testing.assert_allclose(y, np.asarray(curves[key], dtype=float), err_msg=f"y: history[{key!r}]")
        assert ax["legend"] is not None, f"the {metric} axes need a legend"
        named = {text.strip().lower() for text in ax["legend"]}
        assert named >= set(legend), f"the legend must name {', '.join(legend)}"
    return axes
