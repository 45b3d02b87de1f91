"""The demo profile: the three approaches give the course's result for real, and the demo's gates hold it.

The lessons that train run once per session in the ``demo`` profile, as ``make demo`` runs them (the
``demo_run`` fixture of conftest.py); their backbone, pretrained offline on synthetic source images, comes
from the cache (built first when it is missing). ``course_tools.gates`` checks their metrics against the
demo's thresholds in gates.toml, and a lesson 4 that trains its new head at the wrong learning rate fails them.
"""

import shutil

import nbformat

from course_tools.gates import main as gates_main
from course_tools.notebooks import approach_accuracies, format_approaches
from tests import lesson_testing as lt

BROKEN = "lesson4_frozen"
# Inserted before lesson 4 trains: the new head compiled with the fine-tuning learning rate (1e-5, the two
# rates swapped), so it barely moves from its random start.
WRONG_LEARNING_RATE = """model.compile(optimizer=keras.optimizers.Adam(PROFILE.learning_rate_finetune),
              loss="categorical_crossentropy", metrics=["accuracy"])  # the break under test"""


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
    assert capsys.readouterr().out.count("PASS  ") == 5


def test_lesson_5_fine_tunes_the_frozen_model_of_lesson_4(demo_run):
    out, runs = demo_run
    metrics = {name: value for run in runs for name, value in run.metrics.items()}
    assert metrics["finetune_start_val_accuracy"] == metrics["frozen_val_accuracy"]
    cells = lt.read(out / "lesson5_finetune.ipynb").cells
    printed = "".join(output.get("text", "") for cell in cells for output in cell.get("outputs", []))
    assert "Starting from the frozen model saved in" in printed


def test_a_head_trained_at_the_wrong_learning_rate_fails_the_demo_gates(demo_run, tmp_path, capsys):
    out, _ = demo_run
    notebook = nbformat.read(lt.source_notebook(BROKEN), as_version=4)
    ids = [cell.get("id") for cell in notebook.cells]
    train, last = ids.index("train"), ids.index("record-metrics")  # nothing after the metric is needed
    broken_cell = nbformat.v4.new_code_cell(WRONG_LEARNING_RATE, id="break-learning-rate")
    notebook.cells = [*notebook.cells[:train], broken_cell, *notebook.cells[train : last + 1]]
    root = tmp_path / "course"
    (root / "solutions" / BROKEN).mkdir(parents=True)
    nbformat.write(notebook, root / "solutions" / BROKEN / f"{BROKEN}.ipynb")
    broken_out = tmp_path / "executed"
    broken_out.mkdir()
    for lesson in ("lesson3_scratch", "lesson5_finetune"):
        shutil.copy(out / f"{lesson}.ipynb", broken_out)

    run, _ = lt.execute_lesson(BROKEN, "demo", broken_out, root=root)
    assert run.passed, run.failure

    assert gates_main([str(broken_out), "--profile", "demo"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert any("frozen pretrained backbone gets at least 10 points more" in line for line in failed), failed
