"""The GitHub workflows: valid against GitHub's workflow schema, and running the commands the tests exercise."""

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from course_tools import caches, gates, next_runtime, notebooks

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CPU, GPU, COLAB = WORKFLOWS / "cpu.yml", WORKFLOWS / "gpu.yml", WORKFLOWS / "colab-constraints.yml"
NEXT = WORKFLOWS / "next-runtime.yml"
MODULES = {"course_tools.caches": caches, "course_tools.notebooks": notebooks, "course_tools.gates": gates}


def _check_workflow_schema(*paths):
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _load(path):
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def _job(path):
    (job,) = _load(path)["jobs"].values()
    return job


def _commands(steps):
    """Every shell command of the steps, split into words."""
    return [
        shlex.split(line)
        for step in steps
        if "run" in step
        for line in step["run"].splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _course_calls(steps, module):
    """The arguments of every `python -m <module>` command, parsed by that module's own parser."""
    calls = [words[3:] for words in _commands(steps) if words[:3] == ["python", "-m", module]]
    return [MODULES[module].build_parser().parse_args(arguments) for arguments in calls]


def _upload_paths(steps):
    return [step["with"]["path"] for step in steps if step.get("uses", "").startswith("actions/upload-artifact@")]


def test_the_workflows_are_valid_github_workflows():
    result = _check_workflow_schema(CPU, GPU, COLAB, NEXT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = _load(GPU)
    (job,) = broken["jobs"].values()
    del job["runs-on"]
    job["steps"][0]["uses"] = 42
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    assert _check_workflow_schema(path).returncode != 0


def test_cpu_workflow_installs_lints_and_runs_the_tests_which_execute_every_lesson_once():
    """ruff comes with the dev extra, so the lint step runs the pinned version without a second install; the
    tests execute the lessons (tests/lessons), so no step executes them again, and their notebooks are kept."""
    workflow = _load(CPU)
    assert {"push", "pull_request"} <= set(workflow["on"])
    steps = _job(CPU)["steps"]
    setup = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "3.11"
    commands = _commands(steps)
    assert ["python", "-m", "pip", "install", "-e", ".[dev]"] in commands
    dev_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(re.fullmatch(r"ruff==[\d.]+", requirement) for requirement in dev_extra), dev_extra
    assert any(words[:2] == ["ruff", "check"] for words in commands)
    (test,) = [words for words in commands if words[:3] == ["python", "-m", "pytest"]]
    assert commands.index(["make", "colab-standin"]) < commands.index(test)
    assert "-m" not in test[3:], "the CPU workflow runs every tier"
    assert _course_calls(steps, "course_tools.notebooks") == []
    basetemp = next(word.split("=", 1)[1] for word in test if word.startswith("--basetemp="))
    assert _upload_paths(steps) == [f"{basetemp}/**/*.ipynb"]


def test_gpu_workflow_prepares_caches_runs_the_full_profile_and_the_gates():
    workflow = _load(GPU)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    job = _job(GPU)
    steps = job["steps"]
    assert job["runs-on"] == ["self-hosted", "linux", "gpu"]
    assert ["python", "-m", "pip", "install", "-e", ".[dev]"] in _commands(steps)

    assert [call.command for call in _course_calls(steps, "course_tools.caches")] == ["prepare", "verify"]
    prepare, verify = _course_calls(steps, "course_tools.caches")
    assert prepare.profile == "full" and prepare.manifest == verify.manifest
    (run,) = _course_calls(steps, "course_tools.notebooks")
    assert run.profile == "full" and run.lessons == []
    (gate,) = _course_calls(steps, "course_tools.gates")
    assert gate.directory == run.out

    (upload,) = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == str(run.out)


def test_the_colab_constraints_are_refreshed_weekly_by_the_script_that_wrote_them():
    workflow = _load(COLAB)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    steps = _job(COLAB)["steps"]
    (refresh,) = [words for words in _commands(steps) if words[:2] == ["python", ".ci/colab/refresh.py"]]
    assert refresh[2] == "colab-backend-info/pip-freeze.gpu.txt"
    (pull_request,) = [step for step in steps if step.get("uses", "").startswith("peter-evans/create-pull-request@")]
    assert pull_request["with"]["add-paths"] == ".ci/colab/constraints.txt"
    header = (ROOT / ".ci" / "colab" / "constraints.txt").read_text().splitlines()[:5]
    assert header[0].startswith("# Colab's GPU runtime") and "refresh.py" in header[1]
    assert header[2].startswith("# source: googlecolab/backend-info") and header[3].startswith("# written: ")


def _make_recipe(target):
    """The commands of a Makefile target, split into words, with the Makefile's variables substituted."""
    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) [:?]?= (.*)$", makefile, re.MULTILINE))
    recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    for _ in range(3):  # variables defined through others
        recipe = re.sub(r"\$\(([A-Z_]+)\)", lambda match: variables.get(match[1], match[0]), recipe)
    return [shlex.split(line) for line in recipe.splitlines()]


def test_the_next_runtime_runs_weekly_as_make_next_runtime_and_files_what_broke():
    workflow = _load(NEXT)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}
    steps = _job(NEXT)["steps"]
    (run,) = [step for step in steps if step.get("id") == "run"]
    assert run["continue-on-error"] is True and shlex.split(run["run"])[:2] == ["make", "next-runtime"]
    (recipe,) = _make_recipe("next-runtime")
    assert recipe[1:3] == ["-m", "course_tools.next_runtime"]
    arguments = next_runtime.build_parser().parse_args(recipe[3:])
    assert _upload_paths(steps)[0].rstrip("/") == str(arguments.out)
    (issue,) = [step for step in steps if step.get("if") == "steps.run.outcome == 'failure'"]
    assert f"{arguments.out}/report.md" in issue["run"] and "gh issue create" in issue["run"]
    assert issue["run"].rstrip().endswith("exit 1"), "the run stays red while something is broken"
