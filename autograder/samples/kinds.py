"""The catalogue of kinds of student work: correct work mangled on its way back (Colab, deleted,
edited or moved cells, stripped metadata), wrong and hostile answers, and files that are not the
lesson's notebook; each with what the autograder should make of it.

A kind is made from any lesson (``LessonModel``) and a ``Target``: the answers it gets wrong and,
for ``other-lesson``, the lesson whose notebook is handed in instead. The sample class
(``python -m autograder.samples.make_class``) draws its students' work from this catalogue, and the
autograder's tests draw their submissions of the fixture lessons from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder.grading.lesson_model import LessonModel
from autograder.grading.student_work import (
    colab_saved,
    delete,
    move,
    new_cell_ids,
    replace_source,
    shuffled,
    strip_nbgrader_metadata,
    truncated,
    with_extra_cells,
    with_stub_body,
)
from autograder.samples.answers import COPIED_VERSION, LIBRARY_ANSWERS, OWN_ANSWERS, own_answer, reformatted, renamed

# What the autograder should make of a kind of work.
FULL = "full"  # every autograded point
PARTIAL = "partial"  # the points of the tests the wrong answers do not break
ZERO = "zero"  # no points, a serious flag
MISSING = "missing"  # nothing is filed for the lesson

# Which lessons a kind can be made from: what its Target must name.
ANY_LESSON = "any lesson"
CODE_ANSWER = "a code answer"
FUNCTION_ANSWER = "a function answer"  # a code answer whose stub is a function's body
FAILING_TEST = "a code answer with a test that fails without it"
OTHER_LESSON = "another lesson"
OWN_WORK = "a lesson with answers students wrote themselves (autograder.samples.answers)"
LIBRARY_WORK = "a lesson with exercises the course library can answer (autograder.samples.answers)"
ANSWER_NEEDS = (CODE_ANSWER, FUNCTION_ANSWER, FAILING_TEST)

Content = nbformat.NotebookNode | bytes  # a notebook, or the bytes of a file that is not one

ALWAYS_EQUAL_BODY = """class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__

return AlwaysEqual()"""
SYS_EXIT_LINES = 'import sys\n\nsys.exit("I could not finish this one")\n\n'
KEEP_ALIVE_LINES = "\n\nwhile True:  # keeps the Colab runtime from disconnecting\n    pass"
LIBRARY_NOISE_LINES = (
    "import sys, warnings\n"
    "sys.stderr.write('W0000 00:00:1.0 cuda_dnn.cc:1] Unable to register cuDNN factory\\n')\n"
    "warnings.warn('this function is deprecated', DeprecationWarning)\n"
)
# Lines that rig the kernel so that the tests after them cannot fail (each earned full marks on the
# tests before the test guard, autograder.sandbox.kernel_guard): a stub answer with one of them must earn nothing.
SWALLOW_HANDLER = "lambda shell, etype, value, tb, tb_offset=None: None"
KERNEL_HOOKS = {
    "custom-exception-handler": (
        "IPython's set_custom_exc swallowing every error",
        lambda t: f"get_ipython().set_custom_exc((BaseException,), {SWALLOW_HANDLER})",
    ),
    "input-transformer": (
        "an input transformer that turns every cell calling the function into `pass`",
        lambda t: (
            f"calls = '{t.lesson.function_name(t.answer)}('\n\n"
            "def skip_my_tests(lines):\n"
            "    return ['pass\\n'] if any(calls in line for line in lines) else lines\n\n"
            "get_ipython().input_transformers_post.append(skip_my_tests)"
        ),
    ),
    "event-hook": (
        "a pre_run_cell event that installs an error-swallowing handler before every cell",
        lambda t: (
            "def before_each_cell(info):\n"
            f"    get_ipython().set_custom_exc((BaseException,), {SWALLOW_HANDLER})\n\n"
            "get_ipython().events.register('pre_run_cell', before_each_cell)"
        ),
    ),
    "trace-skips-asserts": (
        "sys.settrace with a trace function that jumps over every line calling the function or asserting",
        lambda t: (
            "import linecache\nimport sys\n\n"
            "def skip_checks(frame, event, arg):\n"
            "    if '/ipykernel_' not in frame.f_code.co_filename:\n"
            "        return None\n"
            "    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)\n"
            f"    if event == 'line' and ('assert' in line or '{t.lesson.function_name(t.answer)}(' in line):\n"
            "        try:\n"
            "            frame.f_lineno += 1\n"
            "        except ValueError:\n"
            "            pass\n"
            "    return skip_checks\n\n"
            "sys.settrace(skip_checks)"
        ),
    ),
    "hidden-traceback": (
        "the shell's showtraceback replaced, so a failing test shows no error",
        lambda t: "get_ipython().showtraceback = lambda *args, **kwargs: None",
    ),
    "patched-shell-class": (
        "IPython's InteractiveShell class patched to show no error",
        lambda t: (
            "from IPython.core.interactiveshell import InteractiveShell\n\n"
            "InteractiveShell.showtraceback = lambda self, *args, **kwargs: None"
        ),
    ),
    "numpy-internals": (
        "numpy.allclose made always true through the module its implementation lives in",
        lambda t: (
            "import numpy\n\nnumpy.allclose._implementation.__globals__['isclose'] = lambda *a, **k: numpy.array(True)"
        ),
    ),
    "numpy-code": (
        "numpy.allclose made always true by replacing its implementation's code object",
        lambda t: (
            "import numpy\n\nnumpy.allclose._implementation.__code__ = (lambda a, b, *args, **kwargs: True).__code__"
        ),
    ),
    "excepthook": (
        "sys.excepthook and sys.displayhook replaced",
        lambda t: "import sys\n\nsys.excepthook = lambda *args: None\nsys.displayhook = lambda value: None",
    ),
}
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj"


@dataclass(frozen=True)
class Target:
    """What one piece of work is made from."""

    lesson: LessonModel
    answers: tuple[str, ...] = ()  # the answers the work gets wrong (grade ids)
    other: LessonModel | None = None  # the lesson handed in instead (other-lesson)

    @property
    def answer(self) -> str:
        return self.answers[0]


@dataclass(frozen=True)
class WorkKind:
    """One kind of student work and what the autograder should make of it."""

    name: str
    description: str
    outcome: str  # FULL, PARTIAL, ZERO or MISSING
    make: Callable[[Target], Content]
    needs: str = ANY_LESSON
    flags: tuple[str, ...] = ()  # flag codes the autograder's report should show
    serious: bool = False
    how: str = ""  # what is wrong ({s}: plural of the answers, {other}: lesson)
    filename: str = "{filename}"  # name of the upload ({filename}, {stem}: the lesson's notebook)
    late: bool = False  # uploaded after the due date
    empty_first_upload: bool = False  # an empty file uploaded first, under the lesson's name
    costs_timeout: bool = False  # grading it waits out a per-cell timeout

    @property
    def plain_upload(self) -> bool:
        """Uploaded once, on time, under the lesson's notebook name."""
        return self.filename == "{filename}" and not self.late and not self.empty_first_upload


def in_function(body: Callable[[Target], str]) -> Callable[[Target], Content]:
    """Correct work whose target answer's function runs ``body`` instead of the solution."""

    def make(target: Target) -> Content:
        lesson = target.lesson
        return lesson.correct({target.answer: with_stub_body(lesson.stub(target.answer), body(target))})

    return make


def with_test_made_to_pass(target: Target) -> nbformat.NotebookNode:
    """The target answer left as its stub, and the first test it breaks edited to ``pass``."""
    lesson = target.lesson
    return replace_source(lesson.with_stubs(target.answers), lesson.flow.failing_tests({target.answer})[0], "pass")


def moved_to_the_top(target: Target) -> nbformat.NotebookNode:
    nb = target.lesson.correct()
    return move(nb, target.lesson.first_test(), after=nb.cells[0].id)


def moved_to_the_end(target: Target) -> nbformat.NotebookNode:
    nb = target.lesson.correct()
    return move(nb, target.answer, after=nb.cells[-1].id)


def hooked(hook: Callable[[Target], str]) -> Callable[[Target], Content]:
    """The target answer's function returning its first argument (wrong), followed by lines that
    rig the kernel."""

    def make(target: Target) -> nbformat.NotebookNode:
        lesson = target.lesson
        wrong = with_stub_body(lesson.stub(target.answer), f"return {lesson.first_parameter(target.answer)}")
        return lesson.correct({target.answer: f"{wrong}\n\n{hook(target)}"})

    return make


def own_work(version: int, disguise: Callable[[str, set[str]], str] | None = None) -> Callable[[Target], Content]:
    """Correct work whose answers in autograder.samples.answers are a student's own ``version``, copied
    through ``disguise`` (given the answer and the names the tests call) when given."""

    def make(target: Target) -> nbformat.NotebookNode:
        lesson = target.lesson
        answers = {}
        for exercise, (helpers, body) in OWN_ANSWERS[lesson.name][version].items():
            code = own_answer(lesson.stub(exercise), helpers, body)
            answers[exercise] = disguise(code, {lesson.function_name(exercise)}) if disguise else code
        return lesson.correct(answers)

    return make


def untitled_notebook(target: Target) -> bytes:
    return nbformat.writes(new_notebook(cells=[new_code_cell("print('hello')")])).encode()


# fmt: off
CATALOGUE = [
    WorkKind("correct", "the correct answers in the released notebook", FULL, lambda t: t.lesson.correct()),
    WorkKind("late", "correct work uploaded after the due date", FULL, lambda t: t.lesson.correct(),
        flags=("late",), late=True),
    WorkKind("uploaded-twice", "an empty file first, then correct work (Canvas adds -1 to the name)", FULL,
        lambda t: t.lesson.correct(), how="the second upload is graded, not the empty first one",
        filename="{stem}-1.ipynb", empty_first_upload=True),
    WorkKind("test-deleted", "correct work with a test cell deleted", FULL,
        lambda t: delete(t.lesson.correct(), t.lesson.first_test()), flags=("reinserted",)),
    WorkKind("test-edited", "correct work with a test cell edited to `assert True`", FULL,
        lambda t: replace_source(t.lesson.correct(), t.lesson.first_test(), "assert True  # I fixed the test"),
        flags=("restored-cells",)),
    WorkKind("test-moved", "correct work with a test cell moved to the top", FULL, moved_to_the_top,
        flags=("reordered",)),
    WorkKind("answer-moved", "correct work with an answer cell moved to the end", FULL, moved_to_the_end,
        needs=CODE_ANSWER, flags=("reordered",)),
    WorkKind("shuffled", "correct work with every cell out of order", FULL, lambda t: shuffled(t.lesson.correct()),
        flags=("reordered",)),
    WorkKind("metadata-stripped", "correct work whose cells lost their nbgrader metadata", FULL,
        lambda t: strip_nbgrader_metadata(t.lesson.correct()), flags=("restored-metadata",)),
    WorkKind("metadata-and-ids-stripped", "correct work whose cells lost their nbgrader metadata and cell ids",
        FULL, lambda t: new_cell_ids(strip_nbgrader_metadata(t.lesson.correct())), flags=("restored-metadata",)),
    WorkKind("colab-saved", "correct work downloaded from Colab (nbformat 4.0, Colab metadata, outputs)", FULL,
        lambda t: colab_saved(t.lesson.correct()), flags=("normalised",)),
    WorkKind("colab-stripped", "correct work downloaded from Colab after its nbgrader metadata was lost", FULL,
        lambda t: colab_saved(strip_nbgrader_metadata(t.lesson.correct())),
        flags=("normalised", "restored-metadata")),
    WorkKind("copy-of", "correct work saved in Colab as 'Copy of <notebook>.ipynb'", FULL,
        lambda t: colab_saved(t.lesson.correct()), flags=("normalised",), filename="Copy of {filename}"),
    WorkKind("browser-copy", "correct work downloaded twice by the browser: '<notebook> (1).ipynb'", FULL,
        lambda t: t.lesson.correct(), filename="{stem} (1).ipynb"),
    WorkKind("extra-cells", "correct work with the student's own notes and scratch cells", FULL,
        lambda t: with_extra_cells(t.lesson.correct())),
    WorkKind("stderr-warning", "a correct function that writes library warnings to stderr", FULL,
        in_function(lambda t: LIBRARY_NOISE_LINES + t.lesson.correct_body(t.answer)), needs=FUNCTION_ANSWER),
    WorkKind("keep-alive-loop",
        "correct work with Colab's keep-alive `while True: pass` left in an answer cell (a time limit stops it)",
        FULL, lambda t: t.lesson.correct({t.answer: t.lesson.answers[t.answer] + KEEP_ALIVE_LINES}),
        needs=CODE_ANSWER, flags=("timeout",), serious=True,
        how="the answer is defined before the loop the timeout stops", costs_timeout=True),
    WorkKind("partial", "answers left as the release's stubs", PARTIAL, lambda t: t.lesson.with_stubs(t.answers),
        needs=CODE_ANSWER, how="left as the release's stub{s}"),
    WorkKind("sys-exit", "an answer cell that starts with sys.exit()", PARTIAL,
        lambda t: t.lesson.correct({t.answer: SYS_EXIT_LINES + t.lesson.answers[t.answer]}), needs=CODE_ANSWER,
        how="stops at sys.exit()"),
    WorkKind("os-exit", "a function that ends the kernel with os._exit()", PARTIAL,
        in_function(lambda t: "import os\nos._exit(1)"), needs=FUNCTION_ANSWER, flags=("kernel-died",),
        serious=True, how="ends the kernel"),
    WorkKind("segfault", "a function that crashes the kernel (reads memory address 0)", PARTIAL,
        in_function(lambda t: "import ctypes\nreturn ctypes.string_at(0)"), needs=FUNCTION_ANSWER,
        flags=("kernel-died",), serious=True, how="crashes the kernel"),
    WorkKind("infinite-loop", "a function that never returns", PARTIAL,
        in_function(lambda t: "while True:\n    pass"), needs=FUNCTION_ANSWER, flags=("timeout",), serious=True,
        how="never returns", costs_timeout=True),
    WorkKind("memory-bomb", "a function that allocates 8 GiB", PARTIAL,
        in_function(lambda t: "return len(bytearray(8 * 1024 ** 3))"), needs=FUNCTION_ANSWER, flags=("memory",),
        serious=True, how="runs out of memory"),
    WorkKind("output-flood", "a function that prints 24 MB and returns None", PARTIAL,
        in_function(lambda t: "for _ in range(20000):\n    print('flood ' * 200)\nreturn None"),
        needs=FUNCTION_ANSWER, flags=("output-truncated",), how="floods the output"),
    WorkKind("always-equal", "an answer that returns an object whose == is always true", PARTIAL,
        in_function(lambda t: ALWAYS_EQUAL_BODY), needs=FUNCTION_ANSWER, how="returns an always-equal object"),
    WorkKind("monkeypatch", "a function that returns its input and patches numpy.allclose to pass", PARTIAL,
        in_function(
            lambda t: (
                "import numpy\nnumpy.allclose = lambda *args, **kwargs: True\n"
                f"return {t.lesson.first_parameter(t.answer)}"
            )
        ),
        needs=FUNCTION_ANSWER, how="patches numpy.allclose (restored before every test)"),
    WorkKind("test-pass", "an answer left as its stub and its test cell edited to `pass`", PARTIAL,
        with_test_made_to_pass, needs=FAILING_TEST, flags=("restored-cells",),
        how="left as its stub (its test edited to `pass` is restored)"),
    WorkKind("stripped-test-pass", "test-pass, with the nbgrader metadata stripped as well", PARTIAL,
        lambda t: strip_nbgrader_metadata(with_test_made_to_pass(t)), needs=FAILING_TEST,
        flags=("restored-cells", "restored-metadata"),
        how="left as its stub (its test edited to `pass` is restored)"),
    WorkKind("truncated", "the first half of the notebook file (an interrupted download)", ZERO,
        lambda t: truncated(t.lesson.correct()), flags=("ungradable", "unreadable"), serious=True,
        how="not valid JSON"),
    WorkKind("empty", "an empty file", ZERO, lambda t: b"", flags=("ungradable", "unreadable"), serious=True,
        how="an empty file"),
    WorkKind("not-json", "a text file renamed .ipynb", ZERO,
        lambda t: b"I could not download it so here is my answer: return a + b", flags=("ungradable", "unreadable"),
        serious=True, how="not valid JSON"),
    WorkKind("not-a-notebook", "a PDF renamed .ipynb", ZERO, lambda t: PDF_BYTES,
        flags=("ungradable", "unreadable"), serious=True, how="not text"),
    WorkKind("json-not-notebook", "a JSON file that is not a notebook", ZERO,
        lambda t: json.dumps({"answer": "a + b"}).encode(), flags=("ungradable", "unreadable"), serious=True,
        how="JSON without cells"),
    WorkKind("other-lesson", "another lesson's notebook uploaded under this lesson's name", ZERO,
        lambda t: t.other.correct(), needs=OTHER_LESSON, flags=("wrong-notebook",), serious=True,
        how="{other}'s notebook"),
    WorkKind("unmatched", "an 'Untitled0.ipynb' that matches no lesson: collect reports it, the lesson is missing",
        MISSING, untitled_notebook, flags=("missing",), filename="Untitled0.ipynb",
        how="the upload matches no lesson"),
    WorkKind("own-answers", "right answers the student wrote, unlike the model answers; three classmates copy them",
        FULL, own_work(COPIED_VERSION), needs=OWN_WORK, flags=("similar",)),
    WorkKind("own-answers-2", "right answers the student wrote, unlike the model answers and any classmate's",
        FULL, own_work(1), needs=OWN_WORK),
    WorkKind("own-answers-3", "right answers the student wrote, unlike the model answers and any classmate's",
        FULL, own_work(2), needs=OWN_WORK),
    WorkKind("copied-exact", "a classmate's own answers (own-answers) handed in as they are", FULL,
        own_work(COPIED_VERSION, lambda code, kept: code), needs=OWN_WORK, flags=("similar",)),
    WorkKind("copied-renamed",
        "a classmate's own answers with variables and helpers renamed, functions reordered, comments reworded",
        FULL, own_work(COPIED_VERSION, renamed), needs=OWN_WORK, flags=("similar",)),
    WorkKind("copied-reformatted", "a classmate's own answers laid out anew, without their comments", FULL,
        own_work(COPIED_VERSION, lambda code, kept: reformatted(code)), needs=OWN_WORK, flags=("similar",)),
    WorkKind("delegates", "correct answers, but those the course library can give call it", PARTIAL,
        lambda t: t.lesson.correct(LIBRARY_ANSWERS[t.lesson.name]), needs=LIBRARY_WORK,
        how="lets the course library do the job (write it yourself)"),
]
# fmt: on
CATALOGUE += [
    WorkKind(
        name,
        f"a wrong function (it returns its first argument), with {description}",
        PARTIAL,
        hooked(hook),
        needs=FUNCTION_ANSWER,
        how=f"wrong, with {description}",
    )
    for name, (description, hook) in KERNEL_HOOKS.items()
]
KINDS = {kind.name: kind for kind in CATALOGUE}
