"""Models and figures as plain data: numbers, strings, lists and dicts.

The autograder's hidden checks run outside the student's kernel, on data the kernel sends; a test
cell turns the student's model or figure into data here, and the checks read it. The data says what
the object is (Keras classes by their public names, trainable flags, parameter counts, compile
settings; a figure's axes, labels and lines), never how to rebuild it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CURVES = ("accuracy", "val_accuracy", "loss", "val_loss")


def keras_kinds(value: Any) -> list[str]:
    """The names of the Keras classes ``value`` is an instance of, most specific first ([] for none)."""
    return [kind.__name__ for kind in type(value).__mro__ if kind.__module__.split(".")[0] == "keras"]


def parameter_count(weights: Any) -> int:
    return sum(math.prod(int(side) for side in weight.shape) for weight in weights)


def layer_facts(layer: Any) -> dict[str, Any]:
    """A layer's class, name, trainable flag, parameters and the settings the lessons ask for."""
    facts = {
        "kinds": keras_kinds(layer),
        "name": str(layer.name),
        "trainable": bool(layer.trainable),
        "parameters": parameter_count(layer.weights),
        "trainable_parameters": parameter_count(layer.trainable_weights),
    }
    for setting in ("rate", "units"):
        if isinstance(getattr(layer, setting, None), int | float):
            facts[setting] = getattr(layer, setting)
    activation = getattr(layer, "activation", None)
    if callable(activation):
        facts["activation"] = function_name(activation)
    if "BatchNormalization" in facts["kinds"]:
        for statistic in ("moving_mean", "moving_variance"):
            values = np.asarray(getattr(layer, statistic), dtype=float)
            facts[statistic] = [float(values.min()), float(values.max())]
    return facts


def function_name(function: Any) -> str:
    """``keras.<name>`` for a Keras function, the plain name for any other."""
    name = str(getattr(function, "__name__", type(function).__name__))
    return f"keras.{name}" if str(getattr(function, "__module__", "")).split(".")[0] == "keras" else name


def inner_layers(layers: list) -> list:
    """The layers, with every nested model replaced by its own layers."""
    flat = []
    for layer in layers:
        flat += inner_layers(layer.layers) if "Model" in keras_kinds(layer) else [layer]
    return flat


def model_facts(model: Any) -> dict[str, Any]:
    """A model's shapes, parameter counts, layers (as listed and with nested models opened) and compile settings."""
    if "Model" not in keras_kinds(model):
        return {"kinds": keras_kinds(model), "class": type(model).__name__}
    return {
        "kinds": keras_kinds(model),
        "input_shape": shape_list(model.input_shape),
        "output_shape": shape_list(model.output_shape),
        "trainable_parameters": parameter_count(model.trainable_weights),
        "non_trainable_parameters": parameter_count(model.non_trainable_weights),
        "layers": [layer_facts(layer) for layer in model.layers],
        "inner_layers": [layer_facts(layer) for layer in inner_layers(model.layers)],
        "compiled": compile_facts(model),
    }


def shape_list(shape: Any) -> list | None:
    return None if shape is None else [None if side is None else int(side) for side in shape]


def compile_facts(model: Any) -> dict[str, Any] | None:
    """The optimizer (mixed precision's wrapper opened), its learning rate, the loss and the metrics; None
    when the model was not compiled."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    config = model.get_compile_config() or {}
    return {
        "optimizer": keras_kinds(optimizer),
        "learning_rate": float(optimizer.learning_rate),
        "loss": loss_facts(model.loss),
        "metrics": [
            metric if isinstance(metric, str) else metric_name(metric) for metric in config.get("metrics") or []
        ],
    }


def loss_facts(loss: Any) -> dict[str, Any]:
    """A loss given as a name, a Keras function or a Keras loss object."""
    if isinstance(loss, str):
        return {"name": loss}
    if keras_kinds(loss):
        return {"kinds": keras_kinds(loss), "from_logits": bool(loss.get_config().get("from_logits", False))}
    return {"function": function_name(loss)}


def metric_name(metric: Any) -> str:
    """A serialized metric's name (a dict of Keras's compile config), else its class."""
    if isinstance(metric, dict):
        return str(metric.get("config", {}).get("name", ""))
    return str(getattr(metric, "name", type(metric).__name__))


def figure_facts(figure: Any) -> dict[str, Any]:
    """A figure's axes from left to right: titles, axis labels, lines (label, x, y) and legend texts."""
    if not any(kind.__name__ == "Figure" and kind.__module__.startswith("matplotlib") for kind in type(figure).__mro__):
        return {"class": type(figure).__name__}
    axes = sorted(figure.axes, key=lambda ax: ax.get_position().x0)
    return {"class": "Figure", "axes": [axes_facts(ax) for ax in axes]}


def random_curves(seed: int, epochs: int, highest: float = 1.0) -> dict[str, list[float]]:
    """A training history of ``epochs`` random values per curve, the same for the same seed: what a test
    plots, drawn again by the checks that read the figure."""
    rng = np.random.default_rng(seed)
    return {key: [float(value) for value in rng.uniform(0, highest, epochs)] for key in CURVES}


def axes_facts(ax: Any) -> dict[str, Any]:
    legend = ax.get_legend()
    return {
        "title": str(ax.get_title()),
        "xlabel": str(ax.get_xlabel()),
        "ylabel": str(ax.get_ylabel()),
        "lines": [
            {
                "label": str(line.get_label()),
                "x": np.asarray(line.get_xdata(), dtype=float),
                "y": np.asarray(line.get_ydata(), dtype=float),
            }
            for line in ax.get_lines()
        ],
        "legend": None if legend is None else [str(text.get_text()) for text in legend.get_texts()],
    }
