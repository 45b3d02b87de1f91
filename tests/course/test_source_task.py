"""The demo's source task and its pretrained backbone: other classes than the breeds, a cache checked against
its manifest and rebuilt when missing or corrupt, honest names. (Pretraining itself takes minutes: the demo's
lessons in tests/lessons/test_demo.py use the cached backbone, built there when missing.)"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import h5py
import keras
import numpy as np
import pytest

from course import source_task
from course.config import get_profile
from course.downloads import SOURCE_WEIGHTS_MARK
from course.source_task import (
    SOURCE_WEIGHTS,
    SourceTask,
    cache_problem,
    describe_weights,
    is_source_weights,
    manifest_path,
    source_dataset,
    source_weights,
    source_weights_path,
)
from course.synthetic import class_palettes

TINY = SourceTask(num_classes=3, images_per_class=4, epochs=1, batch_size=6)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def test_the_source_task_has_other_classes_than_the_breeds():
    images, labels = source_dataset(TINY)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2] * 4
    breed_colours = {tuple(np.round(colour).astype(int)) for pair in class_palettes() for colour in pair}
    source_colours = {
        tuple(np.round(colour).astype(int))
        for source_class in source_task.source_classes(60, 0)
        for colour in (source_class.background, source_class.coat)
    }
    assert not breed_colours & source_colours
    again, _ = source_dataset(TINY)
    np.testing.assert_array_equal(images, again)


def _tiny_pretraining(calls):
    def pretrain(task, progress=True):
        calls.append(task)
        inputs = keras.Input((task.image_size, task.image_size, 3))
        return keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(inputs)), 0.5

    return pretrain


def test_the_weights_are_cached_with_their_checksum_and_rebuilt_when_corrupt(keras_home, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(source_task, "pretrain_backbone", _tiny_pretraining(calls))
    path = source_weights(TINY)
    assert path == source_weights_path(TINY) and path.parent == keras_home / "models"
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["task"]["num_classes"] == 3 and len(manifest["sha256"]) == 64
    assert "pretrained offline on synthetic source images (not ImageNet)" in manifest["description"]
    assert is_source_weights(str(path))

    assert source_weights(TINY) == path and len(calls) == 1  # cached and intact: kept

    with open(path, "r+b") as stream:
        stream.seek(-8, 2)
        stream.write(b"corrupt!")
    assert "the file is corrupt or was changed" in cache_problem(TINY)
    source_weights(TINY)
    assert len(calls) == 2 and cache_problem(TINY) is None
    assert "file is corrupt" in capsys.readouterr().out  # says why it pretrains again

    path.unlink()
    assert cache_problem(TINY) == f"{path} does not exist"


def test_the_demo_profile_means_these_weights_and_never_calls_them_imagenet(tmp_path):
    assert get_profile("demo").weights == SOURCE_WEIGHTS
    marked = tmp_path / "marked.h5"
    with h5py.File(marked, "w") as stream:
        stream.attrs[SOURCE_WEIGHTS_MARK] = "EfficientNetB0 pretrained offline on synthetic source images"
    for weights in (SOURCE_WEIGHTS, str(marked)):
        assert is_source_weights(weights)
        description = describe_weights(weights)
        assert description.startswith("pretrained offline on synthetic source images")
        assert "not ImageNet" in description
    assert not is_source_weights(None) and not is_source_weights("imagenet")
    assert not is_source_weights(str(tmp_path / "missing.h5"))
    assert describe_weights(None).startswith("RANDOM")


def test_pretraining_progress_is_one_line_per_epoch_when_not_on_a_terminal(capsys):
    progress = source_task._ProgressBar(TINY)
    progress.on_train_begin()
    for step in range(TINY.steps):
        progress.on_train_batch_end(step, {"loss": 2.0, "accuracy": 0.25})
    progress.on_epoch_end(0, {"loss": 1.5, "accuracy": 0.5})
    assert capsys.readouterr().out.splitlines() == ["epoch 1/1: loss 1.500, accuracy 0.500 (0 s)"]


def test_a_second_process_asking_for_the_weights_waits_for_the_pretraining_under_way(keras_home, monkeypatch, capsys):
    calls, may_finish = [], threading.Event()
    tiny_pretraining = _tiny_pretraining(calls)

    def slow_pretraining(task, progress=True):
        result = tiny_pretraining(task, progress)
        may_finish.wait(timeout=60)
        return result

    monkeypatch.setattr(source_task, "pretrain_backbone", slow_pretraining)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(source_weights, TINY)
        while not calls:
            time.sleep(0.05)
        second = pool.submit(source_weights, TINY)  # the lock is per open file, so threads stand in for processes
        time.sleep(0.5)
        assert not second.done()
        may_finish.set()
        assert first.result() == second.result() == source_weights_path(TINY)
    assert len(calls) == 1
    assert "Another process is pretraining the source weights; waiting for it to finish." in capsys.readouterr().out
