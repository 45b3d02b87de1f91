"""course.keras_private against the installed Keras: each private use still does what the course relies on.

A failure here means a Keras release changed one of them; fix course/keras_private.py (or drop the use if
public Keras now offers it), not the callers.
"""

import h5py
import keras
import numpy as np
import pytest

from course.keras_private import (
    APPLICATIONS_FILE_UTILS,
    direct_sublayers,
    efficientnet_published_weights,
    forget_restored_epoch,
    save_attributes_to_hdf5_group,
)


class _StopAfterEpoch(keras.callbacks.Callback):
    """Interrupts training once epoch ``epoch`` has ended, as a lost runtime would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_resumed_fit_leaves_its_epoch_on_the_model_until_forgotten(tmp_path):
    x, y = np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")
    state = str(tmp_path / "state")
    with pytest.raises(KeyboardInterrupt):
        _tiny_model().fit(
            x, y, epochs=3, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(state), _StopAfterEpoch(1)]
        )
    model = _tiny_model()
    resumed = model.fit(x, y, epochs=3, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(state)])
    assert resumed.epoch == [2]
    assert model.fit(x, y, epochs=1, verbose=0).epoch == []  # Keras still starts a later fit at epoch 2
    forget_restored_epoch(model)
    assert model.fit(x, y, epochs=1, verbose=0).epoch == [0]


def test_direct_sublayers_of_models_and_of_layers_holding_layers():
    inner = keras.Sequential([keras.layers.RandomRotation(0.1)])
    flip = keras.layers.RandomFlip()
    assert direct_sublayers(keras.Sequential([flip, inner])) == [flip, inner]

    class Holder(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.first, self.second = keras.layers.Dense(2), keras.layers.RandomContrast(0.1)

        def call(self, inputs):
            return self.second(self.first(inputs))

    holder = Holder()
    assert direct_sublayers(holder) == [holder.first, holder.second]
    assert direct_sublayers(flip) == []


def test_list_attributes_over_the_header_limit_are_split_where_keras_reads_them(tmp_path):
    from keras.src.legacy.saving.legacy_h5_format import load_attributes_from_hdf5_group

    names = [f"layer_with_a_long_name_{index:05d}".encode() for index in range(3000)]  # about 100 KB
    with h5py.File(tmp_path / "weights.h5", "w") as stream:
        save_attributes_to_hdf5_group(stream, "layer_names", names)
        assert "layer_names" not in stream.attrs and "layer_names0" in stream.attrs  # split
    with h5py.File(tmp_path / "weights.h5", "r") as stream:
        assert load_attributes_from_hdf5_group(stream, "layer_names") == [name.decode() for name in names]


def test_keras_applications_fetch_the_published_efficientnet_file(monkeypatch):
    fetched = []

    def get_file(name, origin, file_hash=None, **kwargs):
        fetched.append((name, origin, file_hash))
        raise OSError("not downloaded in this test")

    monkeypatch.setattr(APPLICATIONS_FILE_UTILS, "get_file", get_file)
    with pytest.raises(OSError, match="not downloaded"):
        keras.applications.EfficientNetB0(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    url, md5 = efficientnet_published_weights()
    assert fetched == [("efficientnetb0_notop.h5", url, md5)]
    assert url.startswith("https://") and len(md5) == 32
