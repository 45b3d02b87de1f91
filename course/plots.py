"""Figures for the lessons: training curves, batches of images and augmentations.

Every function returns a figure and never calls ``plt.show``. In a notebook, make the figure the
last expression of a cell (``plot_hist(history)``) or pass it to ``display(...)``; either shows it
exactly once. The figures are built without pyplot, so they never enter pyplot's list of open
figures: nothing needs closing, nothing leaks, and the inline backend does not show them a second
time at the end of the cell. They are :class:`NotebookFigure` objects, which render themselves as
PNG, because a plain ``matplotlib.figure.Figure`` made without pyplot shows only as text
(``<Figure size ...>``) in a kernel where pyplot has not drawn anything yet.

Training curves come from a ``keras.callbacks.History`` (what ``model.fit`` returns) or a plain
dict of lists with the keys ``accuracy``, ``val_accuracy``, ``loss`` and ``val_loss``.
"""

from __future__ import annotations

import inspect
import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import rcParams
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from course.config import NUM_CLASSES

CURVE_KEYS = ("accuracy", "val_accuracy", "loss", "val_loss")
METRIC_TITLES = {"accuracy": "model accuracy", "loss": "model loss"}
FINETUNE_LABEL = "start fine-tuning"
# A class whose share of a mixed label rounds to 0.00 is left out of the panel's title.
SMALLEST_SHOWN_LABEL_WEIGHT = 0.005


class NotebookFigure(Figure):
    """A matplotlib figure that Jupyter shows once, as a PNG, when it is displayed."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


# --- training curves -------------------------------------------------------------------------


def history_curves(hist, where: str = "the history") -> dict[str, np.ndarray]:
    """The accuracy and loss curves of ``hist`` (a History or a dict of lists) as float arrays.

    Raises a ``TypeError`` or ``ValueError`` that names what is wrong with ``hist``; ``where``
    says which argument it was.
    """
    if isinstance(hist, Mapping):
        history = hist
    elif isinstance(getattr(hist, "history", None), Mapping):
        history = hist.history
    elif hasattr(hist, "fit") and hasattr(hist, "predict"):
        raise TypeError(
            f"{where} is a Keras model, not its training history. Pass what model.fit returns: "
            "history = model.fit(...), then plot history."
        )
    else:
        raise TypeError(
            f"{where} must be a keras.callbacks.History (what model.fit returns) or a dict of lists "
            f"such as {{'accuracy': [...], 'val_accuracy': [...], 'loss': [...], 'val_loss': [...]}}; "
            f"got {type(hist).__name__}."
        )
    missing = [key for key in CURVE_KEYS if key not in history]
    if missing:
        hints = []
        if "accuracy" in missing:
            hints.append("compile the model with metrics=['accuracy']")
        if any(key.startswith("val_") for key in missing):
            hints.append("pass validation_data=... to model.fit to get the val_ curves")
        raise ValueError(
            f"{where} lacks the key(s) {missing}. Expected {list(CURVE_KEYS)}; found {sorted(history)}. "
            f"To fix it, {' and '.join(hints) or 'record those metrics while training'}."
        )
    curves = {key: _curve(history[key], key, where) for key in CURVE_KEYS}
    lengths = {key: len(values) for key, values in curves.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"{where} has curves of different lengths {lengths}: one value per epoch is needed for "
            "each (train with validation_freq=1)."
        )
    if lengths["loss"] == 0:
        raise ValueError(f"{where} has no epochs: train for at least one epoch before plotting.")
    return curves


def _curve(values, key: str, where: str) -> np.ndarray:
    try:
        curve = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        curve = None
    if curve is None or curve.ndim != 1:
        raise ValueError(f"{where}[{key!r}] must be a list of numbers, one per epoch; got {values!r:.80}.")
    return curve


def _metric_figure(title: str | None) -> tuple[NotebookFigure, dict[str, object]]:
    """A 1x2 figure, accuracy on the left and loss on the right, with titles and axis labels."""
    figure = NotebookFigure(figsize=(12, 4.5), layout="constrained")
    axes = dict(zip(METRIC_TITLES, figure.subplots(1, 2), strict=True))
    for metric, ax in axes.items():
        ax.set_title(METRIC_TITLES[metric])
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        figure.suptitle(title)
    return figure, axes


def _epochs(count: int) -> np.ndarray:
    return np.arange(1, count + 1)


def plot_hist(hist, title: str | None = None) -> NotebookFigure:
    """Accuracy (left) and loss (right) per epoch, train against validation, epochs from 1."""
    curves = history_curves(hist)
    figure, axes = _metric_figure(title)
    epochs = _epochs(len(curves["loss"]))
    for metric, ax in axes.items():
        ax.plot(epochs, curves[metric], marker="o", label="train")
        ax.plot(epochs, curves[f"val_{metric}"], marker="o", label="validation")
        ax.legend()
    return figure


def plot_runs(hists: Mapping[str, object], title: str | None = None) -> NotebookFigure:
    """Several runs on shared accuracy/loss axes: one colour per run, validation solid, train dashed.

    ``hists`` maps a run's name (e.g. ``"scratch"``, ``"frozen"``) to its History or dict.
    """
    if not isinstance(hists, Mapping) or not hists:
        raise TypeError(
            "plot_runs needs a non-empty dict from run name to history, e.g. "
            f"plot_runs({{'scratch': history_scratch, 'frozen': history_frozen}}); got {type(hists).__name__}."
        )
    runs = {str(name): history_curves(hist, f"run {name!r}") for name, hist in hists.items()}
    figure, axes = _metric_figure(title)
    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, curves) in enumerate(runs.items()):
        color = colors[index % len(colors)]
        epochs = _epochs(len(curves["loss"]))
        for metric, ax in axes.items():
            ax.plot(epochs, curves[f"val_{metric}"], color=color, marker="o", label=f"{name} validation")
            ax.plot(epochs, curves[metric], color=color, marker="o", linestyle="--", label=f"{name} train")
    for ax in axes.values():
        ax.legend()
    return figure


def plot_finetune(frozen, finetuned, title: str | None = None) -> NotebookFigure:
    """The frozen-backbone epochs followed by the fine-tuning epochs on one epoch axis.

    A vertical line labelled "start fine-tuning" sits halfway between the last frozen epoch and
    the first fine-tuned one.
    """
    first = history_curves(frozen, "frozen")
    second = history_curves(finetuned, "finetuned")
    curves = {key: np.concatenate([first[key], second[key]]) for key in CURVE_KEYS}
    boundary = len(first["loss"]) + 0.5
    figure = plot_hist(curves, title)
    for ax in figure.axes:
        ax.axvline(boundary, color="gray", linestyle=":", label=FINETUNE_LABEL)
        ax.legend()
    return figure


def plot_accuracies(accuracies: Mapping[str, float], title: str | None = None) -> NotebookFigure:
    """One bar per approach (``{"from scratch": 0.01, ...}``), labelled with its test accuracy,
    on a 0..1 axis with chance level marked."""
    if not accuracies:
        raise ValueError("plot_accuracies needs a non-empty dict from approach to test accuracy.")
    figure = NotebookFigure(figsize=(7, 4), layout="constrained")
    ax = figure.add_subplot()
    names, values = list(accuracies), [float(value) for value in accuracies.values()]
    bars = ax.bar(names, values, color=[f"C{index}" for index in range(len(names))])
    ax.bar_label(bars, labels=[f"{value:.3f}" for value in values], padding=3)
    ax.axhline(1 / NUM_CLASSES, color="gray", linestyle=":", label=f"chance (1/{NUM_CLASSES})")
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy")
    ax.legend()
    if title:
        ax.set_title(title)
    return figure


# --- images ----------------------------------------------------------------------------------


def to_uint8(images, value_range: tuple[float, float] = (0, 255)) -> np.ndarray:
    """Images as uint8 0..255 for display: ``value_range`` maps to 0..255, rounded and clipped."""
    array = np.asarray(images)
    low, high = value_range
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low; got {value_range!r}.")
    if array.dtype == np.uint8 and (low, high) == (0, 255):
        return array
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"Images must hold numbers (uint8 or float); got dtype {array.dtype}.")
    scaled = (array.astype(np.float64) - low) * (255.0 / (high - low))
    if not np.isfinite(scaled).all():
        raise ValueError("Images contain NaN or infinite values; check the preprocessing that made them.")
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _image_grid(panels: Sequence[tuple[np.ndarray, str]]) -> NotebookFigure:
    """One image per panel, titled, in a near-square grid with exactly ``len(panels)`` axes."""
    columns = math.ceil(math.sqrt(len(panels)))
    rows = math.ceil(len(panels) / columns)
    figure = NotebookFigure(figsize=(3 * columns, 3 * rows + 0.3), layout="constrained")
    for index, (image, panel_title) in enumerate(panels):
        ax = figure.add_subplot(rows, columns, index + 1)
        ax.imshow(image)
        ax.set_title(panel_title, fontsize=10)
        ax.axis("off")
    return figure


def _check_count(n, smallest: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < smallest:
        raise ValueError(f"n is the number of panels and must be an integer >= {smallest}; got {n!r}.")
    return int(n)


def _check_rgb(array: np.ndarray, what: str, shape: str) -> None:
    if array.dtype == object or array.ndim != len(shape.split(",")) or array.shape[-1] != 3:
        raise ValueError(
            f"{what} must be RGB images shaped [{shape}]; got shape {array.shape} ({array.dtype}). "
            "From a tf.data dataset, take a batch first: images, labels = next(iter(dataset))."
        )


def label_titles(labels, class_names: Sequence[str]) -> list[str]:
    """Panel titles for integer labels [B] or one-hot / mixed labels [B, classes].

    A mixed label (MixUp, CutMix, label smoothing) shows its two largest classes with their weights.
    """
    names = [str(name) for name in class_names]
    array = np.asarray(labels)
    if array.ndim == 1:
        if not np.issubdtype(array.dtype, np.number) or np.any(array != np.round(array)):
            raise ValueError(f"Integer labels must be whole numbers; got {array[:5]!r}...")
        if array.size and (array.min() < 0 or array.max() >= len(names)):
            raise ValueError(
                f"Labels must lie in 0..{len(names) - 1} (one per class name); "
                f"got values from {array.min()} to {array.max()}."
            )
        return [names[int(label)] for label in array]
    if array.ndim == 2:
        if array.shape[1] != len(names):
            raise ValueError(
                f"One-hot labels have {array.shape[1]} columns but there are {len(names)} class names; they must match."
            )
        return [_mixed_label_title(row.astype(float), names) for row in array]
    raise ValueError(f"Labels must be integers [batch] or one-hot [batch, classes]; got shape {array.shape}.")


def _mixed_label_title(row: np.ndarray, names: list[str]) -> str:
    top = np.argsort(row)[::-1][:2]
    if row[top[0]] == 1.0:
        return names[top[0]]
    shown = [index for index in top if row[index] >= SMALLEST_SHOWN_LABEL_WEIGHT] or top[:1]
    return "\n".join(f"{names[index]} {row[index]:.2f}" for index in shown)


def show_batch(
    images, labels, class_names: Sequence[str], n: int = 9, value_range: tuple[float, float] = (0, 255)
) -> NotebookFigure:
    """The first ``n`` images of a batch (all of them if fewer) in a grid, titled by class name.

    ``images`` is [B, H, W, 3], uint8 or float on ``value_range`` (0..255 as EfficientNet takes
    them), numpy or a TensorFlow tensor; ``labels`` are integers [B] or one-hot [B, classes].
    """
    count = _check_count(n, 1)
    array = np.asarray(images)
    _check_rgb(array, "images", "batch, height, width, 3")
    titles = label_titles(labels, class_names)
    if len(titles) != len(array):
        raise ValueError(f"There are {len(array)} images but {len(titles)} labels; give one label per image.")
    shown = to_uint8(array[:count], value_range)
    return _image_grid(list(zip(shown, titles, strict=False)))


def _accepts_training(pipeline: Callable) -> bool:
    try:
        parameters = inspect.signature(pipeline).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "training" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def show_augmented(
    image, pipeline: Callable, n: int = 9, value_range: tuple[float, float] = (0, 255)
) -> NotebookFigure:
    """One image and ``n - 1`` augmentations of it in a grid; the first panel is the original.

    ``image`` is [H, W, 3] (or a batch of one) on ``value_range``. ``pipeline`` is any callable
    taking a float batch [B, H, W, 3], such as a Keras or KerasCV layer; it is called once per
    panel on a batch of one, with ``training=True`` when it accepts that argument.
    """
    count = _check_count(n, 2)
    if not callable(pipeline):
        raise TypeError(
            f"pipeline must be callable on a batch of images, such as a Keras layer; got {type(pipeline).__name__}."
        )
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    _check_rgb(array, "image", "height, width, 3")
    batch = array.astype(np.float32)[np.newaxis]
    arguments = {"training": True} if _accepts_training(pipeline) else {}
    panels = [(to_uint8(array, value_range), "original")]
    for number in range(1, count):
        augmented = np.asarray(pipeline(batch, **arguments))
        if augmented.ndim != 4 or augmented.shape[0] != 1 or augmented.shape[-1] != 3:
            raise ValueError(
                f"pipeline returned shape {augmented.shape} for an input of shape {batch.shape}; "
                "it must return a batch of RGB images [batch, height, width, 3]."
            )
        panels.append((to_uint8(augmented[0], value_range), f"augmented {number}"))
    return _image_grid(panels)


# --- files -----------------------------------------------------------------------------------


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (creating its folders) and return the path."""
    if not isinstance(fig, Figure):
        raise TypeError(f"save needs a matplotlib Figure, such as plot_hist returns; got {type(fig).__name__}.")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save writes PNG files: give a path ending in .png; got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    return path
