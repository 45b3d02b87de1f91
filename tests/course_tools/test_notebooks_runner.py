"""python -m course_tools.notebooks: lessons executed with papermill, failures named by lesson and cell."""

import subprocess
import sys

import nbformat
import pytest

from course.config import PROFILES
from course.metrics import read_metrics
from course_tools.notebooks import (
    DEFAULT_CONFIG,
    LessonRun,
    NotebookRunError,
    approach_accuracies,
    discover_lessons,
    format_approaches,
    load_config,
    main,
    plan_lessons,
)
from tests.tiny_notebooks import write_lesson

pytestmark = pytest.mark.slow

RECORDS_AND_SAVES_A_FIGURE = (
    "from pathlib import Path\nfrom course.metrics import record",
    'record("frozen_val_accuracy", 0.75)',
    'Path(output_dir, "curve.txt").write_text(f"profile={profile}")',
)


def _run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "course_tools.notebooks", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_lesson_runs_and_the_failing_one_is_named_with_its_cell(tmp_path):
    write_lesson(tmp_path, "alpha", *RECORDS_AND_SAVES_A_FIGURE)
    write_lesson(tmp_path, "beta", "print('start')", "x = 1\nraise ValueError('shapes do not match')", "print('never')")

    result = _run_cli("--profile", "smoke", "--out", "executed", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    executed = tmp_path / "executed"
    assert read_metrics(executed / "alpha.ipynb") == {"frozen_val_accuracy": 0.75}
    assert (executed / "alpha" / "curve.txt").read_text() == "profile=smoke"
    assert (executed / "beta.ipynb").is_file()
    table = result.stdout.splitlines()
    assert any(line.split()[:2] == ["alpha", "passed"] and "frozen_val_accuracy=0.7500" in line for line in table)
    assert any(line.split()[:2] == ["beta", "failed"] for line in table)
    assert (
        "FAILED beta (solutions/beta/beta.ipynb): cell 3 of 4 (`x = 1`) raised ValueError: shapes do not match"
        in result.stderr
    )
    assert "FAILED alpha" not in result.stderr


def test_the_kernels_own_output_goes_to_its_log_and_shows_only_when_its_lesson_fails(tmp_path):
    write_lesson(tmp_path, "alpha", "import os\nos.write(2, b'native library notice\\n')", "print('in the notebook')")
    write_lesson(tmp_path, "beta", "import os\nos.write(2, b'native library error\\n')", "raise ValueError('bad')")

    result = _run_cli("--profile", "smoke", "--out", "executed", "--jobs", "2", cwd=tmp_path)

    assert result.returncode == 1
    executed = tmp_path / "executed"
    assert "native library notice" in (executed / "alpha.kernel.log").read_text()
    assert "native library notice" not in result.stdout + result.stderr
    assert "raised ValueError: bad" in result.stderr
    assert f"the kernel's own output is in {executed / 'beta.kernel.log'}; it ends:" in result.stderr
    assert "    native library error" in result.stderr
    assert "in the notebook" in nbformat.read(executed / "alpha.ipynb", as_version=4).cells[-1].outputs[0].text


def test_selected_lessons_get_their_configured_parameters(tmp_path):
    config = tmp_path / "runner.toml"
    config.write_text("[timeout]\ngrade = 120\n\n[lessons.alpha]\nparameters = { batches = 3 }\n")
    write_lesson(
        tmp_path,
        "alpha",
        "from course.metrics import record\nrecord('batches_seen', batches)",
        folder="lessons",
        parameters="profile = None\noutput_dir = 'figures'\nbatches = 1",
    )
    write_lesson(tmp_path, "beta", "raise RuntimeError('must not run')", folder="lessons")
    out = tmp_path / "executed"

    status = main(
        [
            "alpha",
            "--profile",
            "grade",
            "--out",
            str(out),
            "--source",
            "lessons",
            "--root",
            str(tmp_path),
            "--config",
            str(config),
        ]
    )

    assert status == 0
    assert read_metrics(out / "alpha.ipynb") == {"batches_seen": 3}
    assert not (out / "beta.ipynb").exists()
    injected = nbformat.read(out / "alpha.ipynb", as_version=4).metadata["papermill"]["parameters"]
    assert injected == {"profile": "grade", "output_dir": str((out / "alpha").resolve()), "batches": 3}


# Each lesson leaves a file in the run's folder; "waits" finishes only once "meanwhile" has started.
LEAVES_A_MARK = (
    'from pathlib import Path\nrun = Path(output_dir).parent\n(run / f"{Path(output_dir).name}.mark").touch()'
)
WAITS_FOR_MEANWHILE = (
    "import time\nfor _ in range(600):\n    if (run / 'meanwhile.mark').exists():\n        break\n"
    "    time.sleep(0.2)\nelse:\n    raise RuntimeError('meanwhile never ran beside me')"
)


def test_lessons_run_at_once_with_jobs_and_a_lesson_starts_after_those_it_needs(tmp_path, capsys):
    write_lesson(tmp_path, "alpha", LEAVES_A_MARK)
    write_lesson(tmp_path, "meanwhile", LEAVES_A_MARK)
    write_lesson(tmp_path, "needs", LEAVES_A_MARK, "assert (run / 'waits.mark').exists() and (run / 'done').exists()")
    write_lesson(tmp_path, "waits", LEAVES_A_MARK, WAITS_FOR_MEANWHILE, "(run / 'done').touch()")
    config = tmp_path / "runner.toml"
    config.write_text('[timeout]\nsmoke = 240\n\n[after]\nneeds = ["waits"]\n')
    out = tmp_path / "executed"

    status = main(
        ["--profile", "smoke", "--out", str(out), "--root", str(tmp_path), "--config", str(config), "--jobs", "2"]
    )

    printed = capsys.readouterr().out
    assert status == 0, printed
    started = [line.split()[1] for line in printed.splitlines() if line.startswith("== ") and "per cell" in line]
    assert started[:2] == ["waits", "meanwhile"], "a lesson others need first, then the last lessons first"
    assert started.index("needs") > started.index("waits")
    table = [line.split()[0] for line in printed.splitlines() if line.split()[1:2] == ["passed"]]
    assert table == ["alpha", "meanwhile", "needs", "waits"], "the table keeps the lessons' order"
    assert "up to 2 at once" in printed and "wall time" in printed


def test_jobs_must_be_at_least_one(tmp_path, capsys):
    write_lesson(tmp_path, "alpha", "print('never')")
    assert (
        main(["--profile", "smoke", "--out", str(tmp_path / "executed"), "--root", str(tmp_path), "--jobs", "0"]) == 2
    )
    assert "--jobs must be at least 1; got 0." in capsys.readouterr().err


def test_a_cell_over_the_time_limit_fails_its_lesson(tmp_path, capsys):
    write_lesson(tmp_path, "slow", "import time", "time.sleep(120)", "print('never')")

    status = main(
        ["--profile", "smoke", "--out", str(tmp_path / "executed"), "--timeout", "3", "--root", str(tmp_path)]
    )

    assert status == 1
    captured = capsys.readouterr()
    assert "slow    timed out" in captured.out
    assert "cell 3 of 4 (`time.sleep(120)`) ran longer than 3 s" in captured.err


def test_a_lesson_without_the_runner_parameters_is_not_run(tmp_path, capsys):
    write_lesson(tmp_path, "bare", "raise RuntimeError('must not run')", parameters="profile = None")

    status = main(["--profile", "smoke", "--out", str(tmp_path / "executed"), "--root", str(tmp_path)])

    assert status == 1
    captured = capsys.readouterr()
    assert "bare    not run" in captured.out
    assert "does not define output_dir" in captured.err
    assert not (tmp_path / "executed" / "bare.ipynb").exists()


def test_an_unknown_lesson_stops_the_run_listing_the_lessons(tmp_path, capsys):
    write_lesson(tmp_path, "alpha", "pass")
    status = main(["gamma", "--profile", "smoke", "--out", str(tmp_path / "executed"), "--root", str(tmp_path)])
    assert status == 2
    assert "Unknown lesson(s) ['gamma']. Lessons: alpha." in capsys.readouterr().err


def test_lessons_are_the_folders_holding_a_notebook_named_after_them(tmp_path):
    write_lesson(tmp_path, "b_second", "pass")
    write_lesson(tmp_path, "a_first", "pass")
    (tmp_path / "solutions" / ".ipynb_checkpoints").mkdir()
    assert list(discover_lessons(tmp_path / "solutions")) == ["a_first", "b_second"]

    (tmp_path / "solutions" / "c_third").mkdir()
    (tmp_path / "solutions" / "c_third" / "lesson.ipynb").write_text("{}")
    with pytest.raises(NotebookRunError, match="c_third has no c_third.ipynb"):
        discover_lessons(tmp_path / "solutions")


@pytest.mark.parametrize(
    ("folder", "message"),
    [("missing", "No lesson folder"), ("empty", "No lessons in")],
)
def test_no_lessons_is_an_error(tmp_path, folder, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotebookRunError, match=message):
        discover_lessons(tmp_path / folder)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timeout": {"smoke": 60}, "lessons": {"zeta": {}}}, r"configure lesson\(s\) \['zeta'\]"),
        (
            {"timeout": {"smoke": 60}, "lessons": {"alpha": {"parameters": {"profile": "full"}}}},
            "sets \\['profile'\\] itself",
        ),
        (
            {"timeout": {"smoke": 60}, "lessons": {"alpha": {"timout": {"smoke": 5}}}},
            r"unknown setting\(s\) \['timout'\]",
        ),
        ({"timeout": {"smoke": 60}, "lessons": {"alpha": {"timeout": 5}}}, "timeout must be a table by profile"),
        ({"timeout": {"full": 60}}, "No cell timeout for profile 'smoke'"),
        ({"timeout": {"smoke": 60}, "after": {"alpha": "beta"}}, r"\[after\] alpha must list other lessons"),
        ({"timeout": {"smoke": 60}, "after": {"alpha": ["alpha"]}}, r"\[after\] alpha must list other lessons"),
    ],
)
def test_runner_settings_are_checked(tmp_path, config, message):
    with pytest.raises(NotebookRunError, match=message):
        plan_lessons({"alpha": tmp_path / "alpha.ipynb"}, [], config, "smoke", None)


def test_a_lesson_timeout_overrides_the_profile_timeout_and_the_command_line_overrides_both(tmp_path):
    config = {"timeout": {"full": 600}, "lessons": {"alpha": {"timeout": {"full": 7200}}}}
    available = {"alpha": tmp_path / "alpha.ipynb", "beta": tmp_path / "beta.ipynb"}
    assert [lesson.timeout for lesson in plan_lessons(available, [], config, "full", None)] == [7200, 600]
    assert [lesson.timeout for lesson in plan_lessons(available, [], config, "full", 30)] == [30, 30]


def test_the_shipped_runner_settings_cover_every_profile(tmp_path):
    config = load_config(DEFAULT_CONFIG)
    for profile in PROFILES:
        (lesson,) = plan_lessons({"alpha": tmp_path / "alpha.ipynb"}, [], config, profile, None)
        assert lesson.timeout > 0


def test_the_three_approaches_are_printed_side_by_side_with_their_margins():
    runs = [
        LessonRun(
            "lesson3_scratch",
            "passed",
            1.0,
            {"scratch_val_accuracy": 0.5, "scratch_test_accuracy": 0.01, "scratch_completed": True},
        ),
        LessonRun("lesson4_frozen", "passed", 1.0, {"frozen_val_accuracy": 0.9, "frozen_test_accuracy": 0.3}),
        LessonRun("lesson5_finetune", "passed", 1.0, {"finetuned_test_accuracy": 0.31}),
    ]
    accuracies = approach_accuracies(runs)
    assert accuracies == {"from scratch": 0.01, "frozen backbone, new head": 0.3, "fine-tuned top layers": 0.31}
    assert format_approaches(accuracies, "demo").splitlines() == [
        "three approaches, test accuracy (profile demo, this run):",
        "  from scratch               0.0100",
        "  frozen backbone, new head  0.3000  30.0x from scratch, +29.0 points",
        "  fine-tuned top layers      0.3100  +1.0 points on the frozen backbone",
    ]
    assert approach_accuracies(runs[1:2]) == {"frozen backbone, new head": 0.3}
    assert format_approaches({"frozen backbone, new head": 0.3}, "full").splitlines()[1] == (
        "  frozen backbone, new head  0.3000"
    )
