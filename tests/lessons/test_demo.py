"""The demo profile: the three approaches give the course's result for real, and the demo's gates hold it.

Lessons 3 to 5 run once per session in the ``demo`` profile, as ``make demo`` runs them; their backbone,
pretrained offline on synthetic source images, comes from the cache (built first when it is missing).
``course_tools.gates`` checks their metrics against the demo's thresholds in gates.toml, and a lesson 4
that leaves the backbone trainable fails them.
"""

import shutil

import nbformat
import pytest

from course.source_task import source_weights
from course_tools.gates import main as gates_main
from course_tools.notebooks import approach_accuracies, format_approaches
from tests import lesson_testing as lt

TRAINING_LESSONS = ("lesson3_scratch", "lesson4_frozen", "lesson5_finetune")
BROKEN = "lesson4_frozen"
# Inserted before lesson 4 trains: the whole backbone trainable, BatchNormalization in training mode too.
BACKBONE_LEFT_TRAINABLE = """model.trainable = True  # the break under test
model.compile(optimizer=keras.optimizers.Adam(PROFILE.learning_rate_head), loss="categorical_crossentropy",
              metrics=["accuracy"])"""


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Lessons 3 to 5 executed in the demo profile, in one folder, with their runs."""
    source_weights()  # cached once per machine; pretrained here (minutes) only when missing
    out = tmp_path_factory.mktemp("demo")
    return out, [lt.execute_lesson(lesson, "demo", out)[0] for lesson in TRAINING_LESSONS]


def test_the_training_lessons_run_in_the_demo_profile(demo_run):
    out, runs = demo_run
    for run in runs:
        assert run.passed, f"{run.lesson}: {run.status}: {run.failure}"
        assert lt.stderr_in_test_cells(out / f"{run.lesson}.ipynb") == {}


def test_the_demo_gates_hold_on_the_executed_lessons(demo_run, capsys):
    out, runs = demo_run
    print(format_approaches(approach_accuracies(runs), "demo"))  # shown with -s, and on failure

    assert gates_main([str(out), "--profile", "demo"]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.count("PASS  ") == 5


def test_a_backbone_left_trainable_fails_the_demo_gates(demo_run, tmp_path, capsys):
    out, _ = demo_run
    notebook = nbformat.read(lt.source_notebook(BROKEN), as_version=4)
    ids = [cell.get("id") for cell in notebook.cells]
    train, last = ids.index("train"), ids.index("record-metrics")  # nothing after the metric is needed
    broken_cell = nbformat.v4.new_code_cell(BACKBONE_LEFT_TRAINABLE, id="break-backbone-trainable")
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
    assert any("frozen pretrained backbone gets at least 3 times" in line for line in failed), failed
