"""course.metrics: values recorded in a notebook cell survive a papermill run and read back."""

import math

import nbformat
import numpy as np
import pytest

from course.metrics import METRIC_MIMETYPE, MetricError, read_metrics, record
from tests.tiny_notebooks import execute, write_notebook

pytestmark = pytest.mark.slow

RECORDING_CELLS = (
    "import numpy as np\nfrom course.metrics import record",
    'record("frozen_val_accuracy", np.float32(accuracy))',
    'record("scratch_completed", True)\nrecord("epochs", np.int64(25))',
    'record("finetuned_val_accuracy", 0.5)\nrecord("finetuned_val_accuracy", 0.78)',
)


def test_recorded_metrics_read_back_from_an_executed_notebook(tmp_path):
    source = write_notebook(tmp_path / "lesson.ipynb", *RECORDING_CELLS, parameters="accuracy = 0.0")
    executed = execute(source, tmp_path / "executed.ipynb", accuracy=0.76)

    metrics = read_metrics(executed)

    assert set(metrics) == {"frozen_val_accuracy", "scratch_completed", "epochs", "finetuned_val_accuracy"}
    assert metrics["frozen_val_accuracy"] == pytest.approx(0.76, abs=1e-6)
    assert metrics["scratch_completed"] is True
    assert metrics["epochs"] == 25 and isinstance(metrics["epochs"], int)
    assert metrics["finetuned_val_accuracy"] == 0.78  # the last value recorded wins


def test_a_recorded_metric_is_also_a_visible_line(tmp_path):
    source = write_notebook(tmp_path / "lesson.ipynb", *RECORDING_CELLS[:2], parameters="accuracy = 0.0")
    executed = execute(source, tmp_path / "executed.ipynb", accuracy=0.7612)

    outputs = [output for cell in nbformat.read(executed, as_version=4).cells for output in cell.get("outputs", [])]
    metric_outputs = [output for output in outputs if METRIC_MIMETYPE in output.get("data", {})]
    assert [output["data"]["text/plain"] for output in metric_outputs] == ["metric frozen_val_accuracy = 0.7612"]


def test_a_notebook_without_metrics_reads_as_empty(tmp_path):
    source = write_notebook(tmp_path / "lesson.ipynb", "print('no metrics here')")
    assert read_metrics(execute(source, tmp_path / "executed.ipynb")) == {}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("frozen accuracy", 0.7, "letters, digits and underscores"),
        ("", 0.7, "letters, digits and underscores"),
        ("frozen_val_accuracy", math.nan, "diverged"),
        ("frozen_val_accuracy", np.float32("inf"), "diverged"),
        ("frozen_val_accuracy", [0.7, 0.8], "number or a boolean"),
        ("frozen_val_accuracy", "0.7", "number or a boolean"),
    ],
)
def test_record_rejects_what_cannot_be_stored(name, value, message):
    with pytest.raises(MetricError, match=message):
        record(name, value)
