"""python -m course_tools.gates: thresholds checked against metrics recorded by executed notebooks."""

import re
import shutil

import pytest

from course_tools.gates import (
    DEFAULT_CONFIG,
    ExecutedLessons,
    GateConfigError,
    check_gate,
    load_gates,
    main,
)
from tests import lesson_testing as lt
from tests.tiny_notebooks import execute, write_notebook

pytestmark = pytest.mark.slow

RECORDS_VALUES = "from course.metrics import record\nfor name, value in values.items():\n    record(name, value)"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Executed notebooks by name, each recording the values papermill passed to it."""
    folder = tmp_path_factory.mktemp("executed")
    source = write_notebook(folder / "records.ipynb", RECORDS_VALUES, parameters="profile = None\nvalues = {}")
    runs = {
        "scratch": ("full", {"scratch_completed": True, "scratch_val_accuracy": 0.24, "scratch_test_accuracy": 0.23}),
        "transfer": (
            "full",
            {
                "frozen_val_accuracy": 0.75,
                "frozen_test_accuracy": 0.76,
                "finetune_start_val_accuracy": 0.75,
                "finetuned_val_accuracy": 0.77,
                "frozen_trainable_backbone_parameters": 0,
                "finetuned_trainable_backbone_normalizations": 0,
            },
        ),
        "transfer_weak": (
            "full",
            {
                "frozen_val_accuracy": 0.66,
                "frozen_test_accuracy": 0.65,
                "finetune_start_val_accuracy": 0.66,
                "finetuned_val_accuracy": 0.63,
                "scratch_completed": False,
                "frozen_trainable_backbone_parameters": 4_007_548,
                "finetuned_trainable_backbone_normalizations": 3,
            },
        ),
        "transfer_smoke": ("smoke", {"frozen_val_accuracy": 0.76, "frozen_test_accuracy": 0.76}),
    }
    return {
        name: execute(source, folder / f"{name}.ipynb", profile=profile, values=values)
        for name, (profile, values) in runs.items()
    }


def _lessons(folder, executed, **notebooks):
    """``folder`` holding executed runs under lesson names (``lesson="<run>"``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for lesson, run in notebooks.items():
        shutil.copy(executed[run], folder / f"{lesson}.ipynb")
    return folder


REFERENCE_NUMBERS_PASS = (
    {"from_scratch": "scratch", "transfer": "transfer"},
    0,
    [
        "PASS  frozen backbone reaches the reference: frozen_test_accuracy 0.7600 >= 0.7000 (transfer.ipynb)",
        (
            "PASS  fine-tuning keeps the accuracy of the frozen model it starts from: finetuned_val_accuracy 0.7700 >= "
            "finetune_start_val_accuracy 0.7500 - 0.01 = 0.7400 (transfer.ipynb)"
        ),
        "PASS  training from scratch ran to completion: scratch_completed True == True (from_scratch.ipynb)",
        (
            "PASS  the frozen model trains only its new head: no backbone weight is trainable (lesson 4): "
            "frozen_trainable_backbone_parameters 0 == 0 (transfer.ipynb)"
        ),
        (
            "PASS  fine-tuning keeps the backbone's BatchNormalization layers frozen (lesson 5): "
            "finetuned_trainable_backbone_normalizations 0 == 0 (transfer.ipynb)"
        ),
        "5 of 5 gate(s) passed",
    ],
)
BELOW_THE_THRESHOLDS_FAIL = (
    {"transfer": "transfer_weak"},
    1,
    [
        "FAIL  frozen backbone reaches the reference: frozen_test_accuracy 0.6500 < 0.7000 (transfer.ipynb)",
        (
            "FAIL  fine-tuning keeps the accuracy of the frozen model it starts from: finetuned_val_accuracy 0.6300 < "
            "finetune_start_val_accuracy 0.6600 - 0.01 = 0.6500 (transfer.ipynb)"
        ),
        "FAIL  training from scratch ran to completion: scratch_completed False != True (transfer.ipynb)",
        (
            "FAIL  the frozen model trains only its new head: no backbone weight is trainable (lesson 4): "
            "frozen_trainable_backbone_parameters 4007548 != 0 (transfer.ipynb)"
        ),
        (
            "FAIL  fine-tuning keeps the backbone's BatchNormalization layers frozen (lesson 5): "
            "finetuned_trainable_backbone_normalizations 3 != 0 (transfer.ipynb)"
        ),
        "0 of 5 gate(s) passed",
    ],
)


@pytest.mark.parametrize(
    ("runs", "exit_code", "printed"),
    [REFERENCE_NUMBERS_PASS, BELOW_THE_THRESHOLDS_FAIL],
    ids=["reference-numbers-pass", "below-the-thresholds-fail"],
)
def test_gates_print_one_verdict_per_gate_and_exit_by_the_result(tmp_path, executed, capsys, runs, exit_code, printed):
    folder = _lessons(tmp_path, executed, **runs)

    assert main([str(folder)]) == exit_code

    assert capsys.readouterr().out.splitlines() == printed


def test_a_missing_metric_fails_naming_the_lesson_that_should_record_it(tmp_path, executed, capsys):
    folder = _lessons(tmp_path, executed, transfer="transfer")

    assert main([str(folder)]) == 1

    scratch_line = capsys.readouterr().out.splitlines()[2]
    assert scratch_line.startswith("FAIL  training from scratch ran to completion: scratch_completed not recorded")
    assert "(searched transfer.ipynb)" in scratch_line
    assert "the lesson that trains EfficientNetB0 from scratch" in scratch_line
    assert "course.metrics.record('scratch_completed', value)" in scratch_line


def test_a_metric_from_another_profile_fails_its_gate(tmp_path, executed):
    folder = _lessons(tmp_path, executed, transfer="transfer_smoke")
    config = load_gates()
    result = check_gate(config.gates[0], ExecutedLessons(folder), config)
    assert not result.passed
    assert "run with profile 'smoke'; the thresholds hold for profile 'full' runs" in result.detail


def test_a_metric_recorded_by_two_notebooks_must_be_pinned_to_a_lesson(tmp_path, executed):
    folder = _lessons(tmp_path, executed, transfer="transfer", transfer_again="transfer")
    config = load_gates()
    result = check_gate(config.gates[0], ExecutedLessons(folder), config)
    assert not result.passed
    assert "recorded by several notebooks (transfer, transfer_again)" in result.detail


def _config_pinning(tmp_path, lesson):
    path = tmp_path / "gates.toml"
    path.write_text(
        'profile = "full"\n[[gates]]\nname = "frozen"\nmetric = "frozen_val_accuracy"\nat_least = 0.7\n'
        f'[metrics.frozen_val_accuracy]\nrecorded_by = "the transfer lesson"\nlesson = "{lesson}"\n'
    )
    return path


def test_a_pinned_metric_is_read_from_its_lesson_only(tmp_path, executed, capsys):
    folder = _lessons(tmp_path / "executed", executed, transfer="transfer", transfer_copy="transfer")
    assert main([str(folder), "--config", str(_config_pinning(tmp_path, "transfer"))]) == 0
    assert main([str(folder), "--config", str(_config_pinning(tmp_path, "fine_tuning"))]) == 1
    assert "fine_tuning.ipynb does not exist (lesson 'fine_tuning' was not executed)" in capsys.readouterr().out


def test_no_executed_notebooks_is_an_error_saying_how_to_make_them(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert f"python -m course_tools.notebooks --profile full --out {tmp_path}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('profile = "full"', "defines no"),
        ('[[gates]]\nname = "g"\nmetric = "m"\n[metrics.m]\nrecorded_by = "x"', "exactly one of"),
        (
            '[[gates]]\nname = "g"\nmetric = "m"\nat_least = 1\nequals = 1\n[metrics.m]\nrecorded_by = "x"',
            "exactly one of",
        ),
        (
            '[[gates]]\nname = "g"\nmetric = "m"\nat_least = 1\ntolerance = 0.1\n[metrics.m]\nrecorded_by = "x"',
            "tolerance only",
        ),
        (
            '[[gates]]\nname = "g"\nmetric = "m"\nat_least = 1\nfactor = 3.0\n[metrics.m]\nrecorded_by = "x"',
            "factor only",
        ),
        ('[[gates]]\nname = "g"\nmetric = "m"\nat_least = 1', r"add \[metrics.m\]"),
        (
            '[[gates]]\nname = "g"\nmetric = "m"\nat_least_metric = "n"\n[metrics.m]\nrecorded_by = "x"',
            r"add \[metrics.n\]",
        ),
        (
            '[[gates]]\nname = "g"\nmetric = "m"\nat_lest = 1\n[metrics.m]\nrecorded_by = "x"',
            r"unknown key\(s\) \['at_lest'\]",
        ),
        ('[[gates]]\nname = "g"\nmetric = "m"\nat_least = 1\n[metrics.m]\nlesson = "x"', "recorded_by"),
        ("[[gates]\n", "not valid TOML"),
    ],
)
def test_a_broken_gates_configuration_is_reported(tmp_path, text, message):
    path = tmp_path / "gates.toml"
    path.write_text(text)
    with pytest.raises(GateConfigError, match=message):
        load_gates(path)


def test_the_shipped_gates_hold_the_course_thresholds():
    config = load_gates(DEFAULT_CONFIG)
    assert config.profile == "full"
    assert config.profiles == ["full", "demo"]
    gates = {gate.metric: gate for gate in config.gates_for("full")}
    assert gates["frozen_test_accuracy"].at_least == 0.70  # the reference's numbers are on the test split
    assert (gates["finetuned_val_accuracy"].at_least_metric, gates["finetuned_val_accuracy"].tolerance) == (
        "finetune_start_val_accuracy",
        0.01,
    )
    assert gates["scratch_completed"].equals is True


@pytest.mark.parametrize("profile", ["full", "demo"])
def test_the_shipped_gates_check_what_trained_in_both_profiles(profile):
    """A backbone left trainable or BatchNormalization layers unfrozen fail a gate whatever the accuracies."""
    gates = {gate.metric: gate for gate in load_gates(DEFAULT_CONFIG).gates_for(profile)}
    assert gates["frozen_trainable_backbone_parameters"].equals == 0
    assert gates["finetuned_trainable_backbone_normalizations"].equals == 0


def test_the_shipped_demo_gates_hold_the_margins_of_transfer_learning():
    """Frozen at least 3 times and 10 points above scratch; fine-tuned at most 1 point below frozen."""
    bounds = [
        (gate.metric, gate.at_least_metric, round(gate.bound(0.01), 6), round(gate.bound(0.30), 6))
        for gate in load_gates(DEFAULT_CONFIG).gates_for("demo")
        if gate.at_least_metric
    ]
    assert bounds == [
        ("frozen_test_accuracy", "scratch_test_accuracy", 0.03, 0.9),
        ("frozen_test_accuracy", "scratch_test_accuracy", 0.11, 0.4),
        ("finetuned_test_accuracy", "frozen_test_accuracy", 0.0, 0.29),
        ("finetuned_val_accuracy", "finetune_start_val_accuracy", 0.0, 0.29),
    ]


def test_a_relative_gate_prints_its_formula_and_checks_its_profile_only(tmp_path, executed, capsys):
    folder = _lessons(tmp_path / "executed", executed, scratch="scratch", transfer="transfer")
    config = tmp_path / "gates.toml"
    config.write_text(
        '[[gates]]\nname = "far above scratch"\nmetric = "frozen_test_accuracy"\n'
        'at_least_metric = "scratch_test_accuracy"\nfactor = 3.0\nmargin = 0.1\n'
        '[[gates]]\nprofile = "smoke"\nname = "smoke only"\nmetric = "frozen_test_accuracy"\nat_least = 0.99\n'
        '[metrics.frozen_test_accuracy]\nrecorded_by = "the transfer lesson"\n'
        '[metrics.scratch_test_accuracy]\nrecorded_by = "the scratch lesson"\n'
    )
    assert main([str(folder), "--config", str(config)]) == 1  # 0.76 < 3 x 0.23 + 0.1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL  far above scratch: frozen_test_accuracy 0.7600 < 3 x scratch_test_accuracy 0.2300 + 0.1 = 0.7900 "
        "(transfer.ipynb)",
        "0 of 1 gate(s) passed",
    ]
    assert main([str(folder), "--config", str(config), "--profile", "demo"]) == 2
    assert "No gates for profile 'demo'; the configuration has gates for full, smoke." in capsys.readouterr().err


def test_every_gated_metric_is_recorded_by_exactly_one_solution_notebook():
    """A metric renamed in gates.toml or in a lesson fails here, not on the weekly GPU run."""
    recorders = {}
    for lesson in lt.lesson_names():
        cells = lt.read(lt.source_notebook(lesson)).cells
        code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
        for name in re.findall(r"\brecord\(\s*[\"'](\w+)[\"']", code):
            recorders.setdefault(name, set()).add(lesson)
    config = load_gates(DEFAULT_CONFIG)
    gated = {name for gate in config.gates for name in gate.metrics}
    assert {name: recorders.get(name, set()) for name in gated} == {
        "frozen_test_accuracy": {"lesson4_frozen"},
        "scratch_test_accuracy": {"lesson3_scratch"},
        "finetune_start_val_accuracy": {"lesson5_finetune"},
        "finetuned_val_accuracy": {"lesson5_finetune"},
        "finetuned_test_accuracy": {"lesson5_finetune"},
        "scratch_completed": {"lesson3_scratch"},
        "frozen_trainable_backbone_parameters": {"lesson4_frozen"},
        "finetuned_trainable_backbone_normalizations": {"lesson5_finetune"},
    }
