"""The demo profile: the three approaches give the course's result for real, and the demo's gates hold it.

The lessons that train run once per session in the ``demo`` profile, as ``make demo`` runs them (the
``demo_run`` fixture of conftest.py); their backbone, pretrained offline on synthetic source images, comes
from the cache (built first when it is missing). ``course_tools.gates`` checks their metrics against the
demo's thresholds in gates.toml, and each change that breaks transfer (a wrong learning rate, a backbone left
trainable, BatchNormalization layers unfrozen) fails a named gate.
"""

import shutil
from dataclasses import dataclass

import nbformat
import pytest

from course_tools.gates import DEFAULT_CONFIG, load_gates
from course_tools.gates import main as gates_main
from course_tools.notebooks import approach_accuracies, format_approaches
from tests import lesson_testing as lt

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Break:
    """A cell inserted into a lesson before the cell ``before``; the lesson runs up to ``last``, the cell that
    records the metric the gate ``fails`` checks."""

    lesson: str
    before: str
    source: str
    last: str
    fails: str


BREAKS = {
    # The new head compiled with the fine-tuning learning rate (1e-5, the two rates swapped): it barely moves
    # from its random start.
    "wrong learning rate": Break(
        "lesson4_frozen",
        "train",
        """model.compile(optimizer=keras.optimizers.Adam(PROFILE.learning_rate_finetune),
              loss="categorical_crossentropy", metrics=["accuracy"])  # the break under test""",
        "record-metrics",
        "the frozen pretrained backbone gets at least 10 points more than from scratch",
    ),
    # The backbone left trainable: the whole network trains at the head's learning rate.
    "backbone left trainable": Break(
        "lesson4_frozen",
        "train",
        """for layer in model.layers:
    layer.trainable = True  # the break under test
model.compile(optimizer=keras.optimizers.Adam(PROFILE.learning_rate_head),
              loss="categorical_crossentropy", metrics=["accuracy"])""",
        "record-metrics",
        "the frozen model trains only its new head: no backbone weight is trainable (lesson 4)",
    ),
    # Fine-tuning unfreezes the BatchNormalization layers among the top layers too.
    "BatchNorm unfrozen": Break(
        "lesson5_finetune",
        "finetune",
        """for layer in model.layers[-PROFILE.finetune_layers :]:
    layer.trainable = True  # the break under test
model.compile(optimizer=keras.optimizers.Adam(PROFILE.learning_rate_finetune),
              loss="categorical_crossentropy", metrics=["accuracy"])""",
        "finetune",
        "fine-tuning keeps the backbone's BatchNormalization layers frozen (lesson 5)",
    ),
}


def test_the_lessons_that_train_run_in_the_demo_profile(demo_run):
    out, runs = demo_run
    assert [run.lesson for run in runs] == list(lt.DEMO_LESSONS)
    for run in runs:
        assert run.passed, f"{run.lesson}: {run.status}: {run.failure}"
        assert lt.stderr_in_test_cells(out / f"{run.lesson}.ipynb") == {}, "test cells must not write to stderr"


def test_the_demo_gates_hold_on_the_executed_lessons(demo_run, capsys):
    out, runs = demo_run
    print(format_approaches(approach_accuracies(runs), "demo"))  # shown with -s, and on failure

    assert gates_main([str(out), "--profile", "demo"]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.count("PASS  ") == len(load_gates(DEFAULT_CONFIG).gates_for("demo"))


def test_lesson_5_fine_tunes_the_frozen_model_of_lesson_4(demo_run):
    out, runs = demo_run
    metrics = {name: value for run in runs for name, value in run.metrics.items()}
    assert metrics["finetune_start_val_accuracy"] == metrics["frozen_val_accuracy"]  # of the epoch lesson 4 kept
    cells = lt.read(out / "lesson5_finetune.ipynb").cells
    printed = "".join(output.get("text", "") for cell in cells for output in cell.get("outputs", []))
    assert "Starting from the frozen model saved in" in printed


@pytest.mark.parametrize("name", BREAKS)
def test_a_change_that_breaks_transfer_fails_a_demo_gate(name, demo_run, tmp_path, capsys, monkeypatch):
    """The broken lesson runs (its own tests pass: the break comes after them) up to the cell that records the
    gated metric, beside the demo run's other lessons; lesson 5 starts from the frozen model lesson 4 saved."""
    out, _ = demo_run
    broken = BREAKS[name]
    notebook = nbformat.read(lt.source_notebook(broken.lesson), as_version=4)
    ids = [cell.get("id") for cell in notebook.cells]
    before, last = ids.index(broken.before), ids.index(broken.last)  # nothing after the metric is needed
    broken_cell = nbformat.v4.new_code_cell(broken.source, id="break")
    notebook.cells = [*notebook.cells[:before], broken_cell, *notebook.cells[before : last + 1]]
    root = tmp_path / "course"
    (root / "solutions" / broken.lesson).mkdir(parents=True)
    nbformat.write(notebook, root / "solutions" / broken.lesson / f"{broken.lesson}.ipynb")
    broken_out = tmp_path / "executed"
    broken_out.mkdir()
    for lesson in set(lt.DEMO_LESSONS) - {broken.lesson}:
        shutil.copy(out / f"{lesson}.ipynb", broken_out)
    shutil.copytree(out / "work", tmp_path / "work")
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))

    run, _ = lt.execute_lesson(broken.lesson, "demo", broken_out, root=root)
    assert run.passed, run.failure

    assert gates_main([str(broken_out), "--profile", "demo"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert any(line.startswith(f"FAIL  {broken.fails}:") for line in failed), (failed, run.metrics)
