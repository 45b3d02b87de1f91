"""Repair of mangled submissions, unreadable files, stderr scoring and feedback scrubbing,
without running a kernel (the end-to-end grading is in test_autograder_grading.py)."""

import difflib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output

from autograder.grading.execution import SaveAutoGradesIgnoringStderr
from autograder.grading.repair import EXACT_RATIOS, SubmissionRepair
from autograder.grading.submission import UnreadableNotebook, read_notebook
from autograder.reports.feedback import HideHiddenTests, leaked_lines
from autograder.samples.kinds import KINDS
from tests.autograder_fixtures import students

ROOT = Path(__file__).resolve().parents[2]
RELEASE = students.released()
EXERCISES = [(cell.cell_type, students.grade_id(cell)) for cell in RELEASE.cells if students.grade_id(cell)]
RELEASED_BY_ID = {students.grade_id(cell): cell for cell in RELEASE.cells if students.grade_id(cell)}
# What repairing a notebook reports (the other flags come from grading, collecting or the LMS).
REPAIR_FLAGS = {"reinserted", "restored-cells", "reordered", "restored-metadata", "normalised"}


def repaired(nb):
    flags = SubmissionRepair(RELEASE).repair(nb)
    return nb, {flag.code: flag for flag in flags}


def mangled(case):
    """A fresh copy of a mangled-but-readable submission."""
    return {**students.full_score_cases(), **students.half_score_cases()}[case]


@pytest.mark.parametrize("case", sorted({**students.full_score_cases(), **students.half_score_cases()}))
def test_repair_puts_every_exercise_cell_back_in_order_with_its_metadata(case):
    nb, _ = repaired(mangled(case))
    exercises = [cell for cell in nb.cells if students.grade_id(cell)]
    assert [(cell.cell_type, students.grade_id(cell)) for cell in exercises] == EXERCISES
    for cell in exercises:
        released = RELEASED_BY_ID[students.grade_id(cell)]
        assert cell.metadata.nbgrader == released.metadata.nbgrader
        if not released.metadata.nbgrader.get("solution"):
            assert cell.source == released.source, "read-only cells carry the released source"
    nbformat.validate(nb)


@pytest.mark.parametrize("case", sorted({**students.full_score_cases(), **students.half_score_cases()}))
def test_repair_says_what_it_did_as_the_catalogue_expects(case):
    _, flags = repaired(mangled(case))
    assert set(flags) == set(KINDS[case].flags) & REPAIR_FLAGS
    assert not any(found.serious for found in flags.values())


def test_answers_are_the_students_after_repair():
    nb, _ = repaired(students.full_score_cases()["metadata-and-ids-stripped"])
    answers = {
        students.grade_id(cell): cell.source for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("solution")
    }
    assert answers == {key: students.CORRECT_ANSWERS[key] for key in ("add-answer", "normalise-answer", "explain")}


def test_colab_notebook_becomes_clean_nbformat_4_5():
    nb, _ = repaired(students.full_score_cases()["colab-saved"])
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec == RELEASE.metadata.kernelspec
    assert not {"colab", "widgets", "accelerator"} & set(nb.metadata)
    for cell in nb.cells:
        assert not {"id", "colab", "outputId"} & set(cell.metadata)
        assert cell.cell_type != "code" or cell.outputs == []
    assert len({cell.id for cell in nb.cells}) == len(nb.cells)


def test_extra_cells_are_kept_where_the_student_put_them():
    nb, _ = repaired(students.full_score_cases()["extra-cells"])
    sources = [cell.source for cell in nb.cells]
    assert sources[0] == "My notes on this lesson."
    assert sources[-1] == "print('the end')"
    scratch = sources.index("print('trying things out')")
    assert sources[scratch - 1] == students.CORRECT_ANSWERS["add-answer"]
    assert len(nb.cells) == len(RELEASE.cells) + 4


def test_hundreds_of_junk_cells_cost_the_repair_a_bounded_number_of_exact_comparisons(monkeypatch):
    """Deleted tests and 400 junk cells shaped like them: difflib's quadratic ratio runs a few times
    per test cell, not once per junk cell (it took 290 s in the grader when it did)."""
    nb = students.delete(students.delete(students.answered(), "add-tests"), "normalise-tests")
    tests = [RELEASED_BY_ID[name].source for name in ("add-tests", "normalise-tests")]
    nb.cells += [new_code_cell("".join(reversed(tests[n % 2])) + f"  # {n}") for n in range(400)]
    calls = []
    original = difflib.SequenceMatcher.ratio
    monkeypatch.setattr(difflib.SequenceMatcher, "ratio", lambda self: calls.append(1) or original(self))
    repaired(nb)
    assert len(calls) <= len(tests) * EXACT_RATIOS


def test_another_lessons_notebook_is_flagged_and_gets_empty_stubs():
    nb, flags = repaired(students.answered("vectors"))
    assert flags["wrong-notebook"].serious
    assert "dot-answer" in flags["foreign-cells"].message
    stubs = [cell.source for cell in nb.cells if students.grade_id(cell) == "add-answer"]
    assert stubs == [RELEASED_BY_ID["add-answer"].source]


def test_another_lesson_sharing_the_grade_ids_is_still_the_wrong_notebook():
    """Lessons of one course reuse grade ids (setup, ex1-answer, ex1-tests): matching ids do not
    make another lesson's notebook this one."""
    other = students.answered("vectors")
    for cell, shared_id in zip(
        [cell for cell in other.cells if students.grade_id(cell)], ["add-answer", "add-tests"], strict=False
    ):
        cell.metadata.nbgrader["grade_id"] = shared_id
    _, flags = repaired(other)
    assert flags["wrong-notebook"].serious and "0% of the lesson's own" in flags["wrong-notebook"].message


REAL_LESSONS = {path.parent.name: path for path in sorted(ROOT.glob("lessons/*/*.ipynb"))}


@pytest.mark.parametrize("lesson", sorted(REAL_LESSONS))
def test_each_real_lesson_tells_its_own_notebooks_from_the_others(lesson):
    release = nbformat.read(REAL_LESSONS[lesson], as_version=4)
    own = students.colab_saved(
        students.new_cell_ids(students.strip_nbgrader_metadata(nbformat.read(REAL_LESSONS[lesson], as_version=4)))
    )
    flags = {flag.code for flag in SubmissionRepair(release).repair(own)}
    assert "wrong-notebook" not in flags
    for other, path in REAL_LESSONS.items():
        if other != lesson:
            flags = {flag.code for flag in SubmissionRepair(release).repair(nbformat.read(path, as_version=4))}
            assert "wrong-notebook" in flags, other


def test_an_answer_that_cannot_be_found_is_a_serious_flag():
    nb = students.delete(students.answered(), "add-answer")
    _, flags = repaired(nb)
    assert flags["unmatched-answers"].serious
    assert "add-answer" in flags["unmatched-answers"].message


UNREADABLE = {case: content for case, content in students.zero_score_cases().items() if isinstance(content, bytes)}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_unreadable_files_raise_an_error_that_says_what_to_do(case, tmp_path):
    content = UNREADABLE[case]
    path = tmp_path / "basics.ipynb"
    path.write_bytes(content)
    with pytest.raises(UnreadableNotebook) as error:
        read_notebook(path)
    message = str(error.value)
    assert any(word in message for word in ("empty", "JSON", "not text", "no cells"))
    assert any(word in message for word in ("download", "ask", "not a Jupyter notebook"))


def scored_cell(*outputs):
    cell = new_code_cell(
        "assert add(1, 2) == 3",
        metadata={"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": "add-tests", "points": 2}},
    )
    cell.outputs = list(outputs)
    return cell


@pytest.mark.parametrize(
    "text, kept",
    [
        ("W0000 00:00 cuda_dnn.cc:1] Unable to register cuDNN factory\n", False),
        ("/lib/keras/layer.py:12: UserWarning: Do not pass an input_shape\n", False),
        ("F\n====\nFAIL: test_add\nTraceback (most recent call last):\nAssertionError\n", True),
        ("FAILED (failures=1)\n", True),
    ],
)
def test_stderr_fails_a_test_only_when_it_reports_a_failure(text, kept):
    cell = scored_cell(new_output("stream", name="stderr", text=text), new_output("stream", name="stdout", text="ok\n"))
    scored = SaveAutoGradesIgnoringStderr().without_harmless_stderr(cell)
    assert len(scored.outputs) == (2 if kept else 1)
    assert len(cell.outputs) == 2, "the notebook itself keeps what was printed"


def test_feedback_preprocessor_removes_hidden_tests_and_their_tracebacks():
    source = next(
        cell.source
        for cell in nbformat.read(students.SOURCE / "basics" / "basics.ipynb", as_version=4).cells
        if students.grade_id(cell) == "add-tests"
    )
    failing = new_output(
        "error",
        ename="AssertionError",
        evalue="add must return an int",
        traceback=["----> 4 assert type(hidden_sum) is int", "AssertionError"],
    )
    cell = scored_cell(failing)
    cell.source = source
    HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "hidden" not in cell.source and cell.source.startswith("assert add(1, 2) == 3")
    assert cell.outputs[0].traceback == ["AssertionError: add must return an int"]


def test_leak_check_finds_hidden_lines_through_html_markup(tmp_path):
    page = tmp_path / "feedback.html"
    page.write_text(
        '<span class="k">assert</span> <span class="n">hidden_sum</span> '
        '<span class="o">==</span> <span class="mi">42</span>&nbsp;'
    )
    assert leaked_lines(page, {"assert hidden_sum == 42", "assert dot([1], [2]) == 2"}) == ["assert hidden_sum == 42"]


def test_leak_check_ignores_lines_the_lesson_shows_or_the_student_wrote(tmp_path):
    shown = {
        "lesson.ipynb": "import tensorflow as tf\nprint(tf.__version__)",
        "student.ipynb": 'for ax, metric in zip(axes, ("accuracy", "loss")):\n    pass',
    }
    seen = [tmp_path / "broken.ipynb"]
    seen[0].write_bytes(b"")
    for name, source in shown.items():
        seen.append(tmp_path / name)
        nbformat.write(nbformat.v4.new_notebook(cells=[new_code_cell(source)]), seen[-1])
    secrets = {
        "import tensorflow as tf",
        'for ax, metric in zip(axes, ("accuracy", "loss")):',
        "assert hidden_sum == 42",
    }
    page = tmp_path / "feedback.html"
    page.write_text("<pre>" + "\n".join(sorted(secrets)).replace('"', "&quot;") + "</pre>")
    assert leaked_lines(page, secrets, seen) == ["assert hidden_sum == 42"]
    assert leaked_lines(page, secrets) == sorted(secrets)


def test_kernel_launcher_caps_memory():
    command = [
        sys.executable,
        "-m",
        "autograder.sandbox.kernel_launcher",
        "--memory-mb",
        "300",
        "--",
        sys.executable,
        "-c",
        "bytearray(600 * 1024 * 1024)",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "MemoryError" in result.stderr
    command[4] = "0"
    assert subprocess.run(command, capture_output=True, timeout=60, check=False).returncode == 0
