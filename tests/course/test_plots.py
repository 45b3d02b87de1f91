"""course.plots: the curves and images drawn are exactly the data given; bad input is named."""

import io

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

from course import plots

HISTORY = {
    "accuracy": [0.10, 0.25, 0.40],
    "val_accuracy": [0.12, 0.30, 0.35],
    "loss": [4.5, 3.0, 2.2],
    "val_loss": [4.4, 3.1, 2.6],
}
FINETUNED = {"accuracy": [0.50, 0.55], "val_accuracy": [0.45, 0.47], "loss": [1.9, 1.7], "val_loss": [2.0, 1.95]}
CLASS_NAMES = ["chihuahua", "beagle", "pug", "whippet"]


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    """The figures never enter pyplot, so Jupyter cannot show them twice and nothing leaks."""
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def shown_images(figure):
    return [np.asarray(ax.images[0].get_array()) for ax in figure.axes]


def panel_titles(figure):
    return [ax.get_title() for ax in figure.axes]


# --- plot_hist ---------------------------------------------------------------------------------


def test_plot_hist_draws_the_history_values_with_titles_labels_and_legend():
    figure = plots.plot_hist(HISTORY)
    accuracy_ax, loss_ax = figure.axes
    for ax, metric in ((accuracy_ax, "accuracy"), (loss_ax, "loss")):
        assert ax.get_title() == f"model {metric}"
        assert ax.get_xlabel() == "epoch"
        assert ax.get_ylabel() == metric
        assert legend_texts(ax) == ["train", "validation"]
        lines = lines_by_label(ax)
        np.testing.assert_array_equal(lines["train"].get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(lines["train"].get_ydata(), HISTORY[metric])
        np.testing.assert_array_equal(lines["validation"].get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(lines["validation"].get_ydata(), HISTORY[f"val_{metric}"])
    assert figure.get_suptitle() == ""


def test_plot_hist_accepts_a_keras_history_and_a_title():
    keras = pytest.importorskip("keras")
    history = keras.callbacks.History()
    history.history = {**HISTORY, "learning_rate": [0.01, 0.01, 0.01]}
    figure = plots.plot_hist(history, title="frozen backbone")
    assert figure.get_suptitle() == "frozen backbone"
    np.testing.assert_array_equal(lines_by_label(figure.axes[1])["validation"].get_ydata(), HISTORY["val_loss"])


def test_plot_hist_rejects_a_model_and_says_to_pass_what_fit_returns():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(TypeError, match=r"is a Keras model.*history = model\.fit"):
        plots.plot_hist(model)


def test_plot_hist_rejects_other_objects_naming_their_type():
    with pytest.raises(TypeError, match="History.*dict of lists.*got list"):
        plots.plot_hist([0.1, 0.2])


def test_plot_hist_without_validation_names_found_and_expected_keys():
    history = {"accuracy": [0.1], "loss": [2.0]}
    with pytest.raises(ValueError) as error:
        plots.plot_hist(history)
    message = str(error.value)
    assert "['val_accuracy', 'val_loss']" in message
    assert "found ['accuracy', 'loss']" in message
    assert "validation_data" in message


def test_plot_hist_with_a_differently_named_metric_says_how_to_compile():
    history = {"acc": [0.1], "val_acc": [0.1], "loss": [2.0], "val_loss": [2.0]}
    with pytest.raises(ValueError, match=r"metrics=\['accuracy'\]"):
        plots.plot_hist(history)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"val_loss": [4.4]}, "different lengths"),
        ({key: [] for key in HISTORY}, "no epochs"),
        ({"loss": ["high", "low", "lower"]}, r"\['loss'\] must be a list of numbers"),
        ({"loss": [[1.0], [2.0], [3.0]]}, r"\['loss'\] must be a list of numbers"),
    ],
)
def test_plot_hist_rejects_malformed_curves(change, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_hist({**HISTORY, **change})


# --- plot_runs and plot_finetune ---------------------------------------------------------------


def test_plot_runs_overlays_runs_validation_solid_train_dashed_one_colour_each():
    figure = plots.plot_runs({"scratch": HISTORY, "fine-tuned": FINETUNED}, title="three approaches")
    assert figure.get_suptitle() == "three approaches"
    for ax, metric in zip(figure.axes, ("accuracy", "loss"), strict=True):
        assert ax.get_title() == f"model {metric}"
        assert legend_texts(ax) == ["scratch validation", "scratch train", "fine-tuned validation", "fine-tuned train"]
        lines = lines_by_label(ax)
        for name, history in (("scratch", HISTORY), ("fine-tuned", FINETUNED)):
            validation, train = lines[f"{name} validation"], lines[f"{name} train"]
            np.testing.assert_array_equal(validation.get_xdata(), np.arange(1, len(history["loss"]) + 1))
            np.testing.assert_array_equal(validation.get_ydata(), history[f"val_{metric}"])
            np.testing.assert_array_equal(train.get_ydata(), history[metric])
            assert validation.get_linestyle() == "-"
            assert train.get_linestyle() == "--"
            assert to_hex(validation.get_color()) == to_hex(train.get_color())
        assert to_hex(lines["scratch train"].get_color()) != to_hex(lines["fine-tuned train"].get_color())


def test_plot_runs_names_the_bad_run():
    with pytest.raises(ValueError, match="run 'frozen' lacks the key"):
        plots.plot_runs({"scratch": HISTORY, "frozen": {"loss": [1.0]}})


@pytest.mark.parametrize("runs", [{}, [HISTORY]])
def test_plot_runs_needs_a_non_empty_dict(runs):
    with pytest.raises(TypeError, match="non-empty dict from run name to history"):
        plots.plot_runs(runs)


def test_plot_finetune_joins_the_runs_with_a_line_at_the_boundary():
    figure = plots.plot_finetune(HISTORY, FINETUNED)
    for ax, metric in zip(figure.axes, ("accuracy", "loss"), strict=True):
        lines = lines_by_label(ax)
        np.testing.assert_array_equal(lines["train"].get_xdata(), [1, 2, 3, 4, 5])
        np.testing.assert_array_equal(lines["train"].get_ydata(), HISTORY[metric] + FINETUNED[metric])
        np.testing.assert_array_equal(
            lines["validation"].get_ydata(), HISTORY[f"val_{metric}"] + FINETUNED[f"val_{metric}"]
        )
        np.testing.assert_array_equal(lines["start fine-tuning"].get_xdata(), [3.5, 3.5])
        assert legend_texts(ax) == ["train", "validation", "start fine-tuning"]


def test_plot_finetune_says_which_history_is_wrong():
    with pytest.raises(ValueError, match="finetuned lacks the key"):
        plots.plot_finetune(HISTORY, {"loss": [1.0]})


# --- show_batch --------------------------------------------------------------------------------


def random_images(count, size=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)


def test_show_batch_shows_uint8_images_unchanged_with_integer_labels():
    images = random_images(5)
    figure = plots.show_batch(images, np.array([0, 1, 2, 3, 1]), CLASS_NAMES, n=4)
    assert len(figure.axes) == 4
    assert panel_titles(figure) == ["chihuahua", "beagle", "pug", "whippet"]
    for shown, image in zip(shown_images(figure), images[:4], strict=True):
        assert shown.dtype == np.uint8
        np.testing.assert_array_equal(shown, image)


def test_show_batch_rounds_float_tensors_and_reads_one_hot_labels():
    tf = pytest.importorskip("tensorflow")
    images = random_images(3).astype(np.float32) + np.float32(0.3)
    images[0, 0, 0] = [-12.0, 300.0, 254.6]
    labels = np.eye(len(CLASS_NAMES), dtype=np.float32)[[3, 0, 2]]
    figure = plots.show_batch(tf.constant(images), tf.constant(labels), CLASS_NAMES)
    assert len(figure.axes) == 3
    assert panel_titles(figure) == ["whippet", "chihuahua", "pug"]
    expected = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(np.stack(shown_images(figure)), expected)
    np.testing.assert_array_equal(shown_images(figure)[0][0, 0], [0, 255, 255])


def test_show_batch_titles_mixed_labels_with_their_weights():
    labels = np.array([[0.0, 0.7, 0.3, 0.0], [0.001, 0.997, 0.001, 0.001]])
    figure = plots.show_batch(random_images(2), labels, CLASS_NAMES)
    assert panel_titles(figure) == ["beagle 0.70\npug 0.30", "beagle 1.00"]


def test_show_batch_maps_a_value_range_to_0_255():
    images = np.array([[[[0.0, 0.5, 1.0]]]])
    figure = plots.show_batch(images, [2], CLASS_NAMES, value_range=(0, 1))
    np.testing.assert_array_equal(shown_images(figure)[0], [[[0, 128, 255]]])


@pytest.mark.parametrize(
    "images, labels, n, error, message",
    [
        (random_images(3), [0, 1], 9, ValueError, "3 images but 2 labels"),
        (random_images(2), [0, 4], 9, ValueError, r"Labels must lie in 0\.\.3"),
        (random_images(2), [0.5, 1.0], 9, ValueError, "whole numbers"),
        (random_images(2), np.eye(5)[:2], 9, ValueError, "5 columns but there are 4 class names"),
        (random_images(2)[0], [0, 1], 9, ValueError, r"shaped \[batch, height, width, 3\]; got shape \(8, 8, 3\)"),
        (object(), [0], 9, ValueError, "next\\(iter\\(dataset\\)\\)"),
        (random_images(2), [0, 1], 0, ValueError, "integer >= 1"),
        (random_images(2).astype(bool), [0, 1], 9, TypeError, "dtype bool"),
        (np.full((1, 2, 2, 3), np.nan), [0], 9, ValueError, "NaN"),
    ],
)
def test_show_batch_rejects_bad_input_clearly(images, labels, n, error, message):
    with pytest.raises(error, match=message):
        plots.show_batch(images, labels, CLASS_NAMES, n=n)


def test_to_uint8_rejects_an_empty_value_range():
    with pytest.raises(ValueError, match="high > low"):
        plots.to_uint8(random_images(1), value_range=(1, 1))


# --- show_augmented ----------------------------------------------------------------------------


def test_show_augmented_with_a_keras_cv_layer_shows_the_original_then_flips():
    keras_cv = pytest.importorskip("keras_cv")
    image = random_images(1, size=12)[0]
    figure = plots.show_augmented(image, keras_cv.layers.RandomFlip("horizontal", seed=7), n=9)
    assert len(figure.axes) == 9
    assert panel_titles(figure) == ["original"] + [f"augmented {i}" for i in range(1, 9)]
    shown = shown_images(figure)
    np.testing.assert_array_equal(shown[0], image)
    flipped = [np.array_equal(panel, image[:, ::-1]) for panel in shown[1:]]
    unchanged = [np.array_equal(panel, image) for panel in shown[1:]]
    assert all(f or u for f, u in zip(flipped, unchanged, strict=True))
    assert any(flipped) and any(unchanged)


def test_show_augmented_calls_a_plain_function_on_float_batches_of_one():
    batches = []

    def darken(batch):
        batches.append(batch)
        return batch * 0.5

    image = random_images(1)[0]
    figure = plots.show_augmented(image[np.newaxis], darken, n=4)
    assert len(figure.axes) == 4 and len(batches) == 3
    assert all(batch.shape == (1, 8, 8, 3) and batch.dtype == np.float32 for batch in batches)
    for panel in shown_images(figure)[1:]:
        np.testing.assert_array_equal(panel, np.rint(image * 0.5).astype(np.uint8))


def test_show_augmented_passes_training_true_when_the_pipeline_takes_it():
    modes = []

    def pipeline(batch, training=False):
        modes.append(training)
        return batch

    plots.show_augmented(random_images(1)[0], pipeline, n=3)
    assert modes == [True, True]


@pytest.mark.parametrize(
    "image, pipeline, n, error, message",
    [
        (random_images(1)[0], "flip", 9, TypeError, "pipeline must be callable"),
        (random_images(1)[0], lambda batch: batch[0], 9, ValueError, r"returned shape \(8, 8, 3\)"),
        (random_images(2), lambda batch: batch, 9, ValueError, r"shaped \[height, width, 3\]"),
        (random_images(1)[0], lambda batch: batch, 1, ValueError, "integer >= 2"),
    ],
)
def test_show_augmented_rejects_bad_input_clearly(image, pipeline, n, error, message):
    with pytest.raises(error, match=message):
        plots.show_augmented(image, pipeline, n=n)


# --- display and files -------------------------------------------------------------------------


def test_a_figure_displays_as_a_single_png_in_jupyter():
    formatter = pytest.importorskip("IPython.core.formatters").DisplayFormatter()
    data, _ = formatter.format(plots.plot_hist(HISTORY))
    assert data["image/png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(data) == ["image/png", "text/plain"]


def test_save_writes_a_readable_png_creating_folders(tmp_path):
    path = plots.save(plots.show_batch(random_images(4), [0, 1, 2, 3], CLASS_NAMES), tmp_path / "a" / "b" / "batch.png")
    assert path == tmp_path / "a" / "b" / "batch.png"
    pixels = matplotlib.image.imread(io.BytesIO(path.read_bytes()), format="png")
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_save_rejects_other_formats_and_non_figures(tmp_path):
    with pytest.raises(ValueError, match="ending in .png"):
        plots.save(plots.plot_hist(HISTORY), tmp_path / "curves.jpg")
    with pytest.raises(TypeError, match="needs a matplotlib Figure.*got dict"):
        plots.save(HISTORY, tmp_path / "curves.png")
    assert list(tmp_path.iterdir()) == []
