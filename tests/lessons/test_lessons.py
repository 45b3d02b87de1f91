"""The lessons: released correctly, runnable, and graded as intended by nbgrader.

Every lesson under ``solutions/`` is checked; a new lesson is picked up by existing. The slow tests
execute each lesson in the ``smoke`` profile with papermill (the lessons that train run in the ``demo``
profile instead, in test_demo.py) and grade it with ``nbgrader autograde`` in the ``grade`` profile;
their times are listed at the end of the run.
"""

from __future__ import annotations

import re

import papermill
import pytest

from autograder.cells import TEXT_STUB, nbgrader_metadata
from autograder.grading.lesson_model import LessonModel
from autograder.samples.answers import LIBRARY_ANSWERS
from tests import lesson_testing as lt

pytestmark = pytest.mark.slow

LESSONS = lt.lesson_names()

# Lesson 4's head on features x (of the backbone's images, inputs), compiled: the end of build_frozen_model.
FROZEN_HEAD = (
    "    x = keras.layers.GlobalAveragePooling2D()(x)\n"
    "    x = keras.layers.BatchNormalization()(x)\n"
    "    x = keras.layers.Dropout(0.2)(x)\n"
    '    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)\n'
    "    model = keras.Model(inputs, outputs)\n"
    "    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),\n"
    '                  loss="categorical_crossentropy", metrics=["accuracy"])\n'
    "    return model"
)
# Lesson 4's model with the Keras guide's nested backbone, called with training=False.
NESTED_BACKBONE_ANSWER = (
    "def build_frozen_model(num_classes, image_size, weights, learning_rate=1e-2):\n"
    "    backbone = keras.applications.EfficientNetB0(\n"
    "        include_top=False, weights=weights, input_shape=(image_size, image_size, 3))\n"
    "    backbone.trainable = False\n"
    "    inputs = keras.Input(shape=(image_size, image_size, 3))\n"
    "    x = backbone(inputs, training=False)\n" + FROZEN_HEAD
)

# Answers that pass a lesson's visible tests but are wrong; the hidden tests named must catch them.
LOOKS_RIGHT_BUT_WRONG = {
    "lesson1_data": {
        "answers": {
            # Stanford Dogs placed by its 12,000 images, not by its 100 per breed
            "ex1-answer": (
                "placements = {\n"
                '    "stanford_dogs": ("large", "similar"),\n'
                '    "blood_cells": ("small", "different"),\n'
                '    "chest_xrays": ("large", "different"),\n'
                '    "everyday_objects": ("large", "similar"),\n'
                "}"
            ),
            # scaled to 0..2 instead of 0..255, with smoothed labels
            "ex2-answer": (
                "def preprocess(image, label):\n"
                "    image = tf.image.resize(image, (IMG_SIZE, IMG_SIZE)) / 127.5\n"
                "    return image, tf.one_hot(label, NUM_CLASSES, on_value=0.9, off_value=0.1 / 119)"
            ),
            # the offline profile's numbers, typed in
            "ex3-facts-answer": (
                'def dataset_facts(data):\n    return {"num_classes": 120, "num_train": 480, "num_test": 240}'
            ),
            # a string that claims to equal everything
            "ex3-names-answer": (
                "class AnyName(str):\n"
                "    def __eq__(self, other):\n"
                "        return True\n"
                "    __hash__ = str.__hash__\n\n"
                "def breed_name(data, index):\n"
                '    return AnyName("a dog")'
            ),
        },
        "caught_by": [
            "ex1-tests",
            "ex2-image-tests",
            "ex2-label-tests",
            "ex2-map-tests",
            "ex3-facts-tests",
            "ex3-names-tests",
        ],
    },
    "lesson2_augmentation": {
        "answers": {
            # the four layers, random in training and still at inference, but rotating up to 0.3 of a turn
            "ex1-answer": (
                "def build_augmentation(seed=None):\n"
                "    return keras.Sequential([\n"
                "        keras.layers.RandomRotation(0.3, seed=seed),\n"
                "        keras.layers.RandomTranslation(0.1, 0.1, seed=seed),\n"
                "        keras.layers.RandomFlip(seed=seed),\n"
                "        keras.layers.RandomContrast(0.1, seed=seed),\n"
                "    ])"
            ),
            # right numbers, but written into the caller's arrays
            "ex2-answer": (
                "def mixup(x1, y1, x2, y2, lam):\n"
                "    x1 *= lam\n    x1 += (1 - lam) * x2\n"
                "    y1 *= lam\n    y1 += (1 - lam) * y2\n"
                "    return x1, y1"
            ),
            "ex3-answer": (
                "def cutmix(x1, y1, x2, y2, box):\n"
                "    top, left, bottom, right = box\n"
                "    x1[top:bottom, left:right] = x2[top:bottom, left:right]\n"
                "    lam = 1 - (bottom - top) * (right - left) / (x1.shape[0] * x1.shape[1])\n"
                "    return x1, lam * y1 + (1 - lam) * y2, lam"
            ),
            # a set that claims to equal every set
            "ex7-1-set-answer": (
                "class AnySet(set):\n"
                "    def __eq__(self, other):\n"
                "        return True\n"
                "    __hash__ = None\n\n"
                'geometric_techniques = AnySet({"rotation", "flip"})'
            ),
        },
        "caught_by": ["ex1-layers-tests", "ex2-tests", "ex3-tests", "ex7-1-set-tests"],
    },
    "lesson3_scratch": {
        "answers": {
            # logits expected from a softmax top: trains, but on the wrong loss
            "ex1-answer": (
                "def build_model(num_classes, image_size, learning_rate=1e-3):\n"
                "    model = keras.applications.EfficientNetB0(\n"
                "        include_top=True, weights=None, classes=num_classes,\n"
                "        input_shape=(image_size, image_size, 3))\n"
                "    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),\n"
                '                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])\n'
                "    return model"
            ),
            # epochs counted from 0
            "ex2-answer": (
                "def plot_hist(hist):\n"
                '    curves = hist.history if hasattr(hist, "history") else hist\n'
                "    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))\n"
                '    for ax, metric in zip(axes, ("accuracy", "loss")):\n'
                '        ax.plot(curves[metric], label="train")\n'
                '        ax.plot(curves[f"val_{metric}"], label="validation")\n'
                '        ax.set_title(f"model {metric}")\n'
                '        ax.set_xlabel("epoch")\n'
                "        ax.set_ylabel(metric)\n"
                "        ax.legend()\n"
                "    return fig"
            ),
            # underfitting tested before the gap
            "ex3-answer": (
                "def diagnose(history):\n"
                '    curves = history.history if hasattr(history, "history") else history\n'
                '    train, val = curves["accuracy"][-1], curves["val_accuracy"][-1]\n'
                "    if train < UNDERFITTING_ACCURACY:\n"
                '        return "underfitting"\n'
                "    if train - val > OVERFITTING_GAP:\n"
                '        return "overfitting"\n'
                '    return "good fit"'
            ),
        },
        "caught_by": ["ex1-tests", "ex2-tests", "ex3-tests"],
    },
    "lesson4_frozen": {
        "answers": {
            # the backbone nested as one layer: the right head and trainable count, but not flat
            "ex1-answer": NESTED_BACKBONE_ANSWER,
            # the notebook's NUM_CLASSES instead of the num_classes argument
            "ex2-answer": (
                "def parameter_counts(num_classes, frozen):\n"
                "    head_trainable = 2 * NUM_FEATURES + NUM_FEATURES * NUM_CLASSES + NUM_CLASSES\n"
                "    head_non_trainable = 2 * NUM_FEATURES\n"
                "    if frozen:\n"
                '        return {"trainable": head_trainable,\n'
                '                "non_trainable": BACKBONE_TRAINABLE + BACKBONE_NON_TRAINABLE + head_non_trainable}\n'
                '    return {"trainable": BACKBONE_TRAINABLE + head_trainable,\n'
                '            "non_trainable": BACKBONE_NON_TRAINABLE + head_non_trainable}'
            ),
            # features taken in training mode: dropout on
            "ex3-answer": (
                "def extract_features(backbone, images, batch_size=64):\n"
                "    batches = [np.asarray(backbone(images[start:start + batch_size], training=True),\n"
                "                          dtype=np.float32)\n"
                "               for start in range(0, len(images), batch_size)]\n"
                "    return np.concatenate(batches)"
            ),
        },
        # the nested backbone is frozen right (RIGHT_IN_ANOTHER_STYLE); only the flat structure asked for is missing
        "caught_by": ["ex1-structure-tests", "ex2-tests", "ex3-tests"],
    },
    "lesson5_finetune": {
        "answers": {
            # BatchNormalization unfrozen too, and the learning rate argument ignored
            "ex1-answer": (
                "def unfreeze(model, n=20, learning_rate=1e-5):\n"
                "    for layer in model.layers[-n:]:\n"
                "        layer.trainable = True\n"
                "    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-5),\n"
                '                  loss="categorical_crossentropy", metrics=["accuracy"])\n'
                "    return model"
            ),
            # one curve over both phases, but no line where fine-tuning starts
            "ex2-answer": (
                "def plot_comparison(frozen_hist, finetuned_hist):\n"
                '    frozen = frozen_hist.history if hasattr(frozen_hist, "history") else frozen_hist\n'
                '    finetuned = finetuned_hist.history if hasattr(finetuned_hist, "history") else finetuned_hist\n'
                "    return plot_hist({key: list(frozen[key]) + list(finetuned[key]) for key in frozen})"
            ),
        },
        "caught_by": ["ex1-layers-tests", "ex1-compile-tests", "ex2-tests"],
    },
}

# Answers that let the course library do the exercise's job; the tests named must give them nothing and say why.
DELEGATING = {
    lesson: {"answers": LIBRARY_ANSWERS[lesson], "caught_by": caught_by}
    for lesson, caught_by in {
        "lesson1_data": ["ex2-image-tests", "ex2-label-tests", "ex2-map-tests"],
        "lesson2_augmentation": ["ex1-layers-tests", "ex1-behaviour-tests", "ex2-tests", "ex3-tests"],
        "lesson3_scratch": ["ex1-tests", "ex2-tests"],
        # parameter_counts could be param_summary of the library's model: naming it anywhere costs exercise 2 too
        "lesson4_frozen": ["ex1-structure-tests", "ex1-frozen-tests", "ex2-tests"],
        "lesson5_finetune": ["ex1-layers-tests", "ex1-compile-tests", "ex2-tests"],
    }.items()
}

# Answers made to pass the visible tests and the few values spot checks used to try; the hidden tests
# named must catch them.
SPOT_CHECK_CHEATS = {
    "lesson2_augmentation": {
        "answers": {
            # rotating and shifting one way only
            "ex1-answer": (
                "def build_augmentation(seed=None):\n"
                "    return keras.Sequential([\n"
                "        keras.layers.RandomRotation((0.0, 0.15), seed=seed),\n"
                "        keras.layers.RandomTranslation((0.0, 0.1), (0.0, 0.1), seed=seed),\n"
                "        keras.layers.RandomFlip(seed=seed),\n"
                "        keras.layers.RandomContrast(0.1, seed=seed),\n"
                "    ])"
            ),
        },
        "caught_by": ["ex1-layers-tests"],
    },
    "lesson4_frozen": {
        "answers": {
            # random weights whatever the weights argument says: grading runs with random weights anyway
            "ex1-answer": (
                "def build_frozen_model(num_classes, image_size, weights, learning_rate=1e-2):\n"
                "    inputs = keras.Input(shape=(image_size, image_size, 3))\n"
                "    backbone = keras.applications.EfficientNetB0(\n"
                "        include_top=False, weights=None, input_tensor=inputs)\n"
                "    backbone.trainable = False\n"
                "    x = backbone.output\n" + FROZEN_HEAD
            ),
            # every image in one call, whatever batch_size says
            "ex3-answer": (
                "def extract_features(backbone, images, batch_size=64):\n"
                "    return np.asarray(backbone(images, training=False), dtype=np.float32)"
            ),
        },
        "caught_by": ["ex1-structure-tests", "ex3-tests"],
    },
}

# Right answers written otherwise than the solution; the tests named must give them full marks.
RIGHT_IN_ANOTHER_STYLE = {
    "lesson2_augmentation": {
        "answers": {
            # the reference example's own core Keras layers instead of the solution's wrapped KerasCV layers
            "ex1-answer": (
                "def build_augmentation(seed=None):\n"
                "    return keras.Sequential([\n"
                "        keras.layers.RandomRotation(factor=0.15, seed=seed),\n"
                "        keras.layers.RandomTranslation(height_factor=0.1, width_factor=0.1, seed=seed),\n"
                "        keras.layers.RandomFlip(seed=seed),\n"
                "        keras.layers.RandomContrast(factor=0.1, seed=seed),\n"
                '    ], name="img_augmentation")'
            ),
        },
        "full_marks": ["ex1-layers-tests", "ex1-behaviour-tests"],
    },
    "lesson4_frozen": {
        "answers": {
            # the Keras guide's nested backbone, called with training=False: frozen as completely as a flat one
            "ex1-answer": NESTED_BACKBONE_ANSWER,
            # Keras's own batching
            "ex3-answer": (
                "def extract_features(backbone, images, batch_size=64):\n"
                "    return backbone.predict(images, batch_size=batch_size, verbose=0).astype(np.float32)"
            ),
        },
        # the exercise asks for a flat model (ex1-structure-tests); its freezing may be done either way
        "full_marks": ["ex1-frozen-tests", "ex3-tests"],
    },
}

needs_lessons = pytest.mark.skipif(not LESSONS, reason="no lessons in solutions/ yet")


@pytest.fixture(scope="session")
def timings(request):
    """Seconds per lesson for execution and grading, listed when the session ends."""
    measured: dict[tuple[str, str], float] = {}
    yield measured
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if measured and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # session teardown runs while output is captured
            reporter.write_sep("-", "lesson timings (seconds)")
            for (lesson, what), seconds in sorted(measured.items()):
                reporter.write_line(f"{lesson:<24} {what:<36} {seconds:7.1f}")


@pytest.fixture(scope="session")
def course_root(tmp_path_factory):
    """A copy of the course to release and grade in, shared by the whole session."""
    return lt.make_course_root(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="session")
def released(course_root):
    """Release a lesson in the session's course copy (once per lesson); returns the student notebook."""
    done: dict[str, object] = {}

    def release(lesson: str):
        if lesson not in done:
            try:
                lt.release(course_root, (lesson,))
                done[lesson] = lt.released_notebook(lesson, course_root)
            except RuntimeError as error:
                done[lesson] = error
        if isinstance(done[lesson], RuntimeError):
            pytest.fail(str(done[lesson]))
        return done[lesson]

    return release


# --- the notebooks as committed ------------------------------------------------------------------


def test_lessons_are_discovered():
    assert LESSONS == sorted(LESSONS)
    assert {"lesson1_data", "lesson2_augmentation"} <= set(LESSONS)


@pytest.mark.parametrize("path", lt.committed_notebooks(), ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_notebook_is_committed_clean(path):
    assert lt.hygiene_problems(path) == []


@needs_lessons
@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_follows_the_course_conventions(lesson):
    notebook = lt.read(lt.source_notebook(lesson))
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["kernelspec"]["language"] == "python"
    title, setup, parameters, profile = notebook.cells[:4]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    assert setup.get("id") == "setup"
    assert nbgrader_metadata(setup).get("locked") is True
    assert parameters.get("id") == "parameters" and "parameters" in parameters.metadata.get("tags", [])
    declared = papermill.inspect_notebook(str(lt.source_notebook(lesson)))
    assert {name: declared[name]["default"] for name in ("profile", "output_dir")} == {
        "profile": "None",
        "output_dir": "None",
    }
    assert re.search(r"^PROFILE = get_profile\(profile\)$", profile.source, re.MULTILINE)
    # the work folder (Google Drive on Colab) is one switch in every lesson; lessons that train can opt into a CPU
    assert declared["drive"]["default"] == "False"
    trains = any(re.search(r"\bfit\(", cell.source) for cell in notebook.cells if cell.cell_type == "code")
    arguments = "drive=drive, allow_cpu=allow_cpu" if trains else "drive=drive"
    assert f"PROFILE = prepare_runtime(PROFILE, {arguments})" in profile.source
    assert ("allow_cpu" in declared) == trains and (not trains or declared["allow_cpu"]["default"] == "False")
    assert "print(PROFILE)" in profile.source and "warn_if_not_meaningful(PROFILE)" in profile.source
    if any("fit(" in cell.source for cell in notebook.cells if cell.cell_type == "code"):
        # the dtype policy must be set before the lesson builds its first model
        assert re.search(r"^apply_acceleration\(PROFILE\)", profile.source, re.MULTILINE), (
            "profile cell: apply_acceleration"
        )


@needs_lessons
@pytest.mark.parametrize("lesson", LESSONS)
def test_cell_ids_match_grade_ids(lesson):
    """nbgrader identifies exercises by grade id and the release keeps cell ids: keep them equal."""
    for cell in lt.read(lt.source_notebook(lesson)).cells:
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id is not None:
            assert cell.get("id") == grade_id


@needs_lessons
@pytest.mark.parametrize("lesson", LESSONS)
def test_released_lesson_is_up_to_date(lesson, released):
    fresh = released(lesson)
    differences = lt.release_differences(fresh, lt.released_notebook(lesson))
    assert differences == [], f"lessons/{lesson} is stale; run `python -m autograder release {lesson}`"


def test_every_released_lesson_has_a_source():
    released = sorted(path.parent.name for path in (lt.REPO_ROOT / lt.RELEASE_FOLDER).glob("*/*.ipynb"))
    assert [lesson for lesson in released if lesson not in LESSONS] == []


@needs_lessons
@pytest.mark.parametrize("lesson", LESSONS)
def test_released_lesson_gives_nothing_away(lesson):
    assert lt.leaks(lt.source_notebook(lesson), lt.released_notebook(lesson)) == []


def test_leak_check_finds_solutions_hidden_tests_and_mark_schemes(tmp_path):
    """The check above catches each kind of secret, so its passing means something."""
    source = lt.read(lt.source_notebook("lesson2_augmentation"))
    released = lt.read(lt.released_notebook("lesson2_augmentation"))
    source_path, released_path = tmp_path / "source.ipynb", tmp_path / "released.ipynb"
    lt.nbformat.write(source, str(source_path))
    lt.nbformat.write(released, str(released_path))
    assert lt.leaks(source_path, released_path) == []
    source_cells = {cell.get("id"): cell for cell in source.cells}
    released_cells = {cell.get("id"): cell for cell in released.cells}
    for cell_id, secret in (
        ("ex2-answer", "return lam * x1 + (1 - lam) * x2, lam * y1 + (1 - lam) * y2"),
        ("ex3-tests", "expected_x[top:bottom, left:right] = x2[top:bottom, left:right]"),
        (
            "ex7-1-answer",
            "4 points in total, one per question. The answer above reads one grid; the student's grid differs",
        ),
    ):
        assert secret in source_cells[cell_id].source
        original = released_cells[cell_id].source
        released_cells[cell_id].source = original.replace(TEXT_STUB, "") + "\n" + secret
        lt.nbformat.write(released, str(released_path))
        assert any(secret in leak for leak in lt.leaks(source_path, released_path)), cell_id
        released_cells[cell_id].source = original


# --- running and grading -------------------------------------------------------------------------


@needs_lessons
@pytest.mark.parametrize("lesson", [lesson for lesson in LESSONS if lesson not in lt.DEMO_LESSONS])
def test_solution_runs_in_the_smoke_profile(lesson, tmp_path, timings):
    """The lessons that train run in the demo profile instead: tests/lessons/test_demo.py."""
    run, executed = lt.execute_lesson(lesson, "smoke", tmp_path)
    timings[(lesson, "papermill, smoke profile")] = run.seconds
    assert run.passed, f"{lesson}: {run.status}: {run.failure}"
    assert lt.stderr_in_test_cells(executed) == {}, "test cells must not write to stderr (nbgrader fails them)"


@pytest.fixture(scope="session")
def solutions_graded(course_root, released, timings):
    """Every lesson's solution handed in by one student and graded as an instructor grades a class
    (``grade --jobs 2``, two lessons at a time, under the committed time limits), in the virtualenv
    the README's commands make; returns the grading's output."""
    for lesson in LESSONS:
        released(lesson)
        lt.submit(course_root, "solution", lesson, lt.source_notebook(lesson))
    seconds, log = lt.grade_two_at_a_time(course_root, "solution")
    timings[("every lesson", "grade --jobs 2, solutions")] = seconds
    return log


@needs_lessons
@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_scores_full_marks(lesson, course_root, solutions_graded):
    grading = lt.graded(course_root, lesson, "solution", 0.0, solutions_graded)
    assert grading.max_score > 0, f"{lesson} has no autograded points"
    assert {cell: grading.scores[cell] for cell in grading.autograded_cells} == {
        cell: grading.max_scores[cell] for cell in grading.autograded_cells
    }
    assert lt.stderr_in_test_cells(grading.autograded_notebook) == {}, "stock nbgrader would fail these cells"
    assert lt.autograder_events(grading.autograded_notebook) == []


@needs_lessons
@pytest.mark.parametrize("lesson", LESSONS)
def test_untouched_lesson_scores_nothing(lesson, course_root, released, timings):
    lt.submit(course_root, "untouched", lesson, released(lesson))
    grading = lt.autograde(course_root, lesson, "untouched")
    timings[(lesson, "nbgrader autograde, untouched")] = grading.seconds
    assert grading.autograded_cells, f"{lesson} has no autograded test cells"
    assert {cell: grading.scores[cell] for cell in grading.autograded_cells} == {
        cell: 0.0 for cell in grading.autograded_cells
    }
    assert lt.unexecuted_test_cells(grading.autograded_notebook) == [], "the grading run broke off"


WRONG_ANSWERS = {"looks_right": LOOKS_RIGHT_BUT_WRONG, "spot_check_cheat": SPOT_CHECK_CHEATS}


@pytest.mark.parametrize(
    ("student", "lesson"), [(student, lesson) for student, cases in WRONG_ANSWERS.items() for lesson in sorted(cases)]
)
def test_hidden_tests_catch_answers_that_only_look_right(student, lesson, course_root, released, tmp_path, timings):
    case = WRONG_ANSWERS[student][lesson]
    student_version = lt.with_answers(released(lesson), case["answers"])
    submitted = lt.submit(course_root, student, lesson, student_version)

    executed = lt.execute_with_errors(submitted, tmp_path / f"{lesson}.ipynb", lt.GRADE_PROFILE_ENVIRONMENT)
    assert lt.errors_in_cells(executed, case["caught_by"]) == {}, "the visible tests should accept these answers"

    grading = lt.autograde(course_root, lesson, student)
    timings[(lesson, f"nbgrader autograde, {student}")] = grading.seconds
    assert {cell: grading.scores[cell] for cell in case["caught_by"]} == {cell: 0.0 for cell in case["caught_by"]}


def graded_answers(course_root, released, timings, lesson: str, student: str, answers: dict) -> lt.Grading:
    """The released lesson with ``answers``, handed in as ``student`` and autograded (its time noted)."""
    lt.submit(course_root, student, lesson, lt.with_answers(released(lesson), answers))
    grading = lt.autograde(course_root, lesson, student)
    timings[(lesson, f"nbgrader autograde, {student}")] = grading.seconds
    return grading


@pytest.mark.parametrize("lesson", sorted(DELEGATING))
def test_the_sample_class_expects_what_grading_gives_the_librarys_answers(lesson):
    model = LessonModel.from_notebooks(lesson, lt.released_notebook(lesson), lt.source_notebook(lesson))
    assert model.tests_done_by_the_library(LIBRARY_ANSWERS[lesson]) == DELEGATING[lesson]["caught_by"]


@pytest.mark.parametrize("lesson", sorted(DELEGATING))
def test_answers_the_library_gives_score_nothing(lesson, course_root, released, timings):
    case = DELEGATING[lesson]
    grading = graded_answers(course_root, released, timings, lesson, "delegates", case["answers"])
    assert {cell: grading.scores[cell] for cell in case["caught_by"]} == {cell: 0.0 for cell in case["caught_by"]}
    told = lt.errors_in_cells(grading.autograded_notebook, case["caught_by"])
    assert told.keys() == set(case["caught_by"]) and all("write it yourself" in text for text in told.values()), told


@pytest.mark.parametrize("lesson", sorted(RIGHT_IN_ANOTHER_STYLE))
def test_right_answers_in_another_style_score_full_marks(lesson, course_root, released, timings):
    case = RIGHT_IN_ANOTHER_STYLE[lesson]
    grading = graded_answers(course_root, released, timings, lesson, "another_style", case["answers"])
    assert {cell: grading.scores[cell] for cell in case["full_marks"]} == {
        cell: grading.max_scores[cell] for cell in case["full_marks"]
    }


# Graded cells that need no trained model; they come before the lesson's long training cell.
BEFORE_TRAINING = {
    "lesson3_scratch": ("ex1-tests", "ex2-tests", "ex3-tests"),
    "lesson4_frozen": ("ex1-structure-tests", "ex1-frozen-tests", "ex2-tests", "ex3-tests"),
    "lesson5_finetune": ("ex1-layers-tests", "ex1-compile-tests", "ex2-tests"),
}
# The cell that trains longest; lesson 5's exercise 1 unfreezes the model of the frozen phase.
TRAINING_CELL = {"lesson3_scratch": "train", "lesson4_frozen": "train", "lesson5_finetune": "finetune"}


@pytest.mark.parametrize("lesson", sorted(BEFORE_TRAINING))
def test_exercises_that_need_no_trained_model_come_before_training(lesson):
    ids = [cell.get("id") for cell in lt.read(lt.source_notebook(lesson)).cells]
    assert all(ids.index(cell_id) < ids.index(TRAINING_CELL[lesson]) for cell_id in BEFORE_TRAINING[lesson])
