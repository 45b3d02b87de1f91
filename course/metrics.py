"""Numbers a lesson reports, stored in the executed notebook where CI can read them back.

In a lesson cell::

    from course.metrics import record
    record("frozen_val_accuracy", history.history["val_accuracy"][-1])

shows ``metric frozen_val_accuracy = 0.7612`` and stores the value under the mimetype
:data:`METRIC_MIMETYPE`. :func:`read_metrics` collects the values from an executed notebook;
``python -m course_tools.gates`` compares them with the accuracy thresholds.
"""

from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

from course.errors import CourseError

METRIC_MIMETYPE = "application/vnd.course.metric+json"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MetricError(CourseError, ValueError):
    """A metric with an unusable name or value."""


def _plain_value(name: str, value) -> bool | int | float:
    """``value`` as a JSON number or boolean (NumPy and TensorFlow scalars included)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise MetricError(
                f"Metric {name!r} is {value}: the run that produced it diverged or never ran. Record a finite number."
            )
        return value
    raise MetricError(
        f"Metric {name!r} must be a number or a boolean, got {type(value).__name__} {value!r}. "
        "Pass a single value, for example history.history['val_accuracy'][-1]."
    )


def record(name: str, value) -> None:
    """Show ``metric <name> = <value>`` and store the value in the notebook's outputs."""
    from IPython.display import display

    if not isinstance(name, str) or not _NAME.match(name):
        raise MetricError(
            f"Metric name {name!r} is not usable: use letters, digits and underscores, "
            "for example 'frozen_val_accuracy'."
        )
    value = _plain_value(name, value)
    shown = f"{value:.4f}" if isinstance(value, float) else str(value)
    display(
        {"text/plain": f"metric {name} = {shown}", METRIC_MIMETYPE: {"name": name, "value": value}},
        raw=True,
    )


def read_metrics(notebook_path: str | Path) -> dict[str, bool | int | float]:
    """The metrics an executed notebook recorded, by name; a name recorded twice keeps its last value."""
    import nbformat

    notebook = nbformat.read(str(notebook_path), as_version=4)
    metrics = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            metric = output.get("data", {}).get(METRIC_MIMETYPE)
            if metric is not None:
                metrics[metric["name"]] = metric["value"]
    return metrics
