"""Right answers that sample students wrote themselves, unlike the model answers and unlike each other,
and the ways a classmate disguises a copy of them (renamed, reordered, reformatted).

``OWN_ANSWERS[lesson][version][grade id]`` is ``(helpers, body)``: functions written above the
exercise's function, and the body written in place of the released stub's placeholder lines. The
similarity report must flag the copies of version 0 and none of the independent versions.
"""

from __future__ import annotations

import ast
import io
import tokenize

from autograder.grading.student_work import with_stub_body

MIXUP_HELPER = '''def blend(first, second, weight):
    """weight * first + (1 - weight) * second, as float32."""
    first = np.array(first, dtype=np.float32)
    second = np.array(second, dtype=np.float32)
    return weight * first + (1.0 - weight) * second'''
MIXUP_BODY = """# mix the pixels and the labels with the same weight
mixed_image = blend(x1, x2, lam)
mixed_label = blend(y1, y2, lam)
return mixed_image, mixed_label"""
MIXUP_STACKED = """images = np.stack([np.asarray(x1, np.float32), np.asarray(x2, np.float32)])
labels = np.stack([np.asarray(y1, np.float32), np.asarray(y2, np.float32)])
weights = np.array([lam, 1 - lam], dtype=np.float32)
return np.tensordot(weights, images, axes=1), weights @ labels"""
MIXUP_TOWARDS = """a = np.asarray(x1, dtype="float32")
b = np.asarray(x2, dtype="float32")
label_a = np.asarray(y1, dtype="float32")
label_b = np.asarray(y2, dtype="float32")
# start from the second example and move lam of the way towards the first
return b + lam * (a - b), label_b + lam * (label_a - label_b)"""

CUTMIX_HELPER = '''def box_fraction(box, height, width):
    """The share of a height x width image that the box (top, left, bottom, right) covers."""
    top, left, bottom, right = box
    return (bottom - top) * (right - left) / (height * width)'''
CUTMIX_BODY = """image = np.array(x1, dtype=np.float32)  # np.array copies, so x1 stays as it was
patch_source = np.asarray(x2, dtype=np.float32)
top, left, bottom, right = box
image[top:bottom, left:right, :] = patch_source[top:bottom, left:right, :]
kept = 1.0 - box_fraction(box, image.shape[0], image.shape[1])
label = kept * np.asarray(y1, dtype=np.float32) + (1.0 - kept) * np.asarray(y2, dtype=np.float32)
return image, label, float(kept)"""
CUTMIX_MASK = """first = np.asarray(x1, dtype="float32")
second = np.asarray(x2, dtype="float32")
rows = np.arange(first.shape[0])[:, None]
cols = np.arange(first.shape[1])[None, :]
inside = (rows >= box[0]) & (rows < box[2]) & (cols >= box[1]) & (cols < box[3])
mixed = np.where(inside[..., None], second, first)
lam = 1 - inside.mean()
return mixed, lam * np.asarray(y1, "float32") + (1 - lam) * np.asarray(y2, "float32"), float(lam)"""
CUTMIX_ROWS = """height, width = len(x1), len(x1[0])
top, left, bottom, right = (int(side) for side in box)
result = np.copy(x1).astype(np.float32)
for row in range(top, bottom):
    result[row, left:right] = x2[row][left:right]
pasted = (bottom - top) * (right - left)
lam = (height * width - pasted) / (height * width)
y = np.add(np.multiply(lam, y1), np.multiply(1 - lam, y2)).astype(np.float32)
return result, y, lam"""

DIAGNOSE_HELPER = '''def last_accuracies(history):
    """The last epoch's training and validation accuracy of a History or a dict of lists."""
    logs = getattr(history, "history", history)
    return float(logs["accuracy"][-1]), float(logs["val_accuracy"][-1])'''
DIAGNOSE_BODY = """train_accuracy, validation_accuracy = last_accuracies(history)
# a wide gap: it learned the training images rather than the breeds
if train_accuracy - validation_accuracy > OVERFITTING_GAP:
    return "overfitting"
elif train_accuracy < UNDERFITTING_ACCURACY:
    return "underfitting"
else:
    return "good fit\""""
DIAGNOSE_VERDICT = """if isinstance(history, dict):
    logs = history
else:
    logs = history.history
verdict = "good fit"
if logs["accuracy"][-1] < UNDERFITTING_ACCURACY:
    verdict = "underfitting"
if logs["accuracy"][-1] - logs["val_accuracy"][-1] > OVERFITTING_GAP:
    verdict = "overfitting"
return verdict"""
DIAGNOSE_CHAINED = """source = history.history if hasattr(history, "history") else history
acc, val = list(source["accuracy"]), list(source["val_accuracy"])
return (
    "overfitting"
    if acc[-1] - val[-1] > OVERFITTING_GAP
    else ("underfitting" if acc[-1] < UNDERFITTING_ACCURACY else "good fit")
)"""

OWN_ANSWERS = {
    "lesson2_augmentation": [
        {"ex2-answer": (MIXUP_HELPER, MIXUP_BODY), "ex3-answer": (CUTMIX_HELPER, CUTMIX_BODY)},
        {"ex2-answer": ("", MIXUP_STACKED), "ex3-answer": ("", CUTMIX_MASK)},
        {"ex2-answer": ("", MIXUP_TOWARDS), "ex3-answer": ("", CUTMIX_ROWS)},
    ],
    "lesson3_scratch": [
        {"ex3-answer": (DIAGNOSE_HELPER, DIAGNOSE_BODY)},
        {"ex3-answer": ("", DIAGNOSE_VERDICT)},
        {"ex3-answer": ("", DIAGNOSE_CHAINED)},
    ],
}
COPIED_VERSION = 0  # the version classmates copy

# Answer cells that let the course library do the exercise's job, by lesson and grade id: each test
# that names the function in its ``# write it yourself:`` line must give them nothing.
LIBRARY_ANSWERS = {
    "lesson1_data": {
        "ex2-answer": (
            "from course import data as library\n\n\n"
            "def preprocess(image, label):\n"
            "    return library.preprocess(image, label, IMG_SIZE)"
        ),
    },
    "lesson2_augmentation": {
        "ex1-answer": (
            "def build_augmentation(seed=None):\n"
            "    from course.augment import reference_augmentation\n\n"
            "    return reference_augmentation(seed)"
        ),
        "ex2-answer": (
            "from course.augment import mixup as library_mixup\n\n\n"
            "def mixup(x1, y1, x2, y2, lam):\n"
            "    return library_mixup(x1, y1, x2, y2, lam)"
        ),
        "ex3-answer": (
            "import course.augment\n\n\n"
            "def cutmix(x1, y1, x2, y2, box):\n"
            "    return course.augment.cutmix(x1, y1, x2, y2, box)"
        ),
    },
    "lesson3_scratch": {
        "ex1-answer": (
            "from course.models import build_scratch_model\n\n\n"
            "def build_model(num_classes, image_size, learning_rate=1e-3):\n"
            "    return build_scratch_model(num_classes, image_size, learning_rate=learning_rate)"
        ),
        "ex2-answer": "import course.plots as library\n\n\ndef plot_hist(hist):\n    return library.plot_hist(hist)",
    },
    "lesson4_frozen": {
        "ex1-answer": (
            "def build_frozen_model(num_classes, image_size, weights, learning_rate=1e-2):\n"
            "    from course.models import build_transfer_model\n\n"
            "    return build_transfer_model(num_classes, image_size, weights, learning_rate=learning_rate)"
        ),
    },
    "lesson5_finetune": {
        "ex1-answer": (
            "from course.models import unfreeze_top\n\n\n"
            "def unfreeze(model, n=20, learning_rate=1e-5):\n"
            "    unfreeze_top(model, n, learning_rate)\n"
            "    return model"
        ),
        "ex2-answer": "from course.plots import plot_finetune as plot_comparison",
    },
}


def own_answer(stub: str, helpers: str, body: str) -> str:
    """An answer cell: the helper functions, then the released stub with ``body`` in place."""
    answer = with_stub_body(stub, body)
    return f"{helpers}\n\n\n{answer}" if helpers else answer


def renamed(code: str, kept: set[str]) -> str:
    """``code`` with every variable, parameter and helper function it defines renamed (the functions
    named in ``kept``, which the tests call, keep their names and parameters), its top-level functions
    in reverse order and its comments reworded."""
    tree = ast.parse(code)
    defined = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    defined |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    defined |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    called = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in kept]
    parameters = {node.arg for function in called for node in ast.walk(function.args) if isinstance(node, ast.arg)}
    new_names = {name: f"my_{name}" for name in sorted(defined - kept - parameters)}
    edits = [
        (node.lineno, node.col_offset, len(node.id), new_names[node.id])
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in new_names
    ]
    edits += [
        (node.lineno, node.col_offset, len(node.arg), new_names[node.arg])
        for node in ast.walk(tree)
        if isinstance(node, ast.arg) and node.arg in new_names
    ]
    edits += [
        (node.lineno, node.col_offset + len("def "), len(node.name), new_names[node.name])
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in new_names
    ]
    edits += [
        (start[0], start[1], len(text), "# worked out on paper first")
        for kind, text, start, _, _ in tokenize.generate_tokens(io.StringIO(code).readline)
        if kind == tokenize.COMMENT
    ]
    lines = code.splitlines()
    for line, column, length, new in sorted(edits, reverse=True):
        text = lines[line - 1]
        lines[line - 1] = text[:column] + new + text[column + length :]
    if not all(isinstance(node, ast.FunctionDef) for node in tree.body):
        return "\n".join(lines)
    starts = [node.lineno - 1 for node in tree.body]
    ends = starts[1:] + [len(lines)]
    blocks = ["\n".join(lines[start:end]).strip("\n") for start, end in zip(starts, ends, strict=True)]
    return "\n\n\n".join(reversed(blocks))


def reformatted(code: str) -> str:
    """``code`` laid out anew: Python's own formatting, without comments, a blank line after each statement."""
    return "\n\n".join(ast.unparse(statement) for statement in ast.parse(code).body)
