"""Verdicts the student's code cannot reach: hidden checks run in the grader on data the kernel sends.

Each attack below beat the in-kernel test guard when the hidden tests ran beside the student's
code; now the fixture lesson's hidden checks run in the grader (``autograder.grading.checks``). Every
attacker hands in ``basics`` with ``add`` wrong or a stub plus the attack, and ``normalise``
correct: ``add-tests`` must score 0, beside a correct control that scores full. An
answer that lets the library do the exercise's job (here ``operator.add``, named in the test's
``# write it yourself:`` line) scores 0 with a message that says so, however it reaches it.
"""

import base64
import json
import re
import zlib

import pytest

from autograder.sandbox.bwrap import sandbox_problem
from tests.autograder.test_grading import auto_scores, make_course, run_cli
from tests.autograder_fixtures import students

ADD = 'def add(a, b):\n    """Return a + b."""\n'
GUARD = "guard = next(value for key, value in vars(builtins).items() if key.startswith('_autograder_guard_'))\n"
# Each: the whole add answer. Stubs raise NotImplementedError; "wrong" answers return a - b.
ATTACKS = {
    "guard-run-test-replaced": (
        f"{ADD}    raise NotImplementedError()\n\nimport builtins\n{GUARD}"
        "type(guard).run_test = lambda self, source, nonce: self.verdicts.__setitem__(nonce, 'passed')\n"
    ),
    "guard-key-forged": (
        f"{ADD}    raise NotImplementedError()\n\nimport builtins, hashlib, hmac\n{GUARD}"
        "key = guard.key\n"
        "type(guard).run_test = lambda self, source, nonce: None\n"
        "type(guard).verdict = lambda self, nonce: "
        "hmac.new(key, f'{nonce}:passed'.encode(), hashlib.sha256).hexdigest() + ' passed'\n"
    ),
    "data-forged": (
        f"{ADD}    return a - b\n\nimport builtins, json\n{GUARD}"
        "type(guard).shipped = lambda self, value: json.dumps({'type': 'int', 'value': 3})\n"
    ),
    "expected-rewritten": (
        f"{ADD}    import inspect\n"
        "    for frame in inspect.stack():\n"
        "        for name in ('expected', 'hidden_sum', 'visible_sum'):\n"
        "            frame.frame.f_globals.pop(name, None)\n"
        "    return a - b\n"
    ),
    "errors-swallowed": (
        f"{ADD}    return a - b\n\n"
        "get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)\n"
    ),
    "leaks-hidden-tests": (
        f"{ADD}    import base64, inspect, zlib\n"
        "    seen = [repr(get_ipython().user_ns.get('In'))]\n"
        "    for frame in inspect.stack():\n"
        "        seen += [repr(frame.frame.f_code.co_consts), repr(frame.code_context)]\n"
        "    print('LEAK', base64.b64encode(zlib.compress(' '.join(seen).encode())).decode())\n"
        "    return a + b\n"
    ),
    "delegates-by-import": f"{ADD}    from operator import add as plus\n\n    return plus(a, b)\n",
    "delegates-dynamically": (
        f"{ADD}    import importlib\n\n    return getattr(importlib.import_module('oper' + 'ator'), 'a' + 'dd')(a, b)\n"
    ),
}
DELEGATING = ("delegates-by-import", "delegates-dynamically")
RIGGING = ("guard-run-test-replaced", "guard-key-forged", "data-forged")
CORRECT_ADD = {"add-tests": 2.0, "normalise-tests": 2.0}

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(bool(sandbox_problem(512)), reason=f"no sandbox here: {sandbox_problem(512)}"),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    cases = {"control": students.answered()}
    cases |= {name: students.answered(add_answer=answer) for name, answer in ATTACKS.items()}
    folder = make_course(tmp_path_factory.mktemp("verdicts") / "course", cases)
    code, text = run_cli("--course-dir", str(folder), "grade", "--jobs", "2")
    assert code == 0, text
    return folder


def outputs(folder, student):
    nb = json.loads((folder / "autograded" / student / "basics" / "basics.ipynb").read_text())
    return {
        cell["metadata"].get("nbgrader", {}).get("grade_id"): json.dumps(cell.get("outputs", []))
        for cell in nb["cells"]
    }


def test_the_control_scores_full(graded):
    assert auto_scores(graded, "control") == CORRECT_ADD


@pytest.mark.parametrize("attacker", sorted(set(ATTACKS) - {"leaks-hidden-tests"}))
def test_no_attack_wins_the_exercise_it_attacks(graded, attacker):
    scores = auto_scores(graded, attacker)
    assert scores["add-tests"] == 0.0
    # Rigging the kernel's test machinery costs every test; anything else only the exercise it breaks.
    assert scores["normalise-tests"] == (0.0 if attacker in RIGGING else 2.0)


@pytest.mark.parametrize("attacker", DELEGATING)
def test_a_delegating_answer_is_told_to_write_it_yourself(graded, attacker):
    assert "operator.add from the course library" in outputs(graded, attacker)["add-tests"]
    assert "write it yourself" in outputs(graded, attacker)["add-tests"]


def test_the_kernel_never_holds_the_hidden_checks(graded):
    assert auto_scores(graded, "leaks-hidden-tests") == CORRECT_ADD  # its add is right
    printed = outputs(graded, "leaks-hidden-tests")["add-tests"]
    leaked = zlib.decompress(base64.b64decode(re.search(r"LEAK ([A-Za-z0-9+/=]+)", printed).group(1))).decode()
    assert "add(20, 22)" in leaked  # the probe's inputs reach the kernel (they are not secret)...
    assert "hidden-test-add" not in leaked and "CHECKS" not in leaked  # ...the checks and expected values never do
