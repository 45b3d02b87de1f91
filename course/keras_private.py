"""Every use of Keras's private API, in one place: what the course needs and public Keras does not offer.

``tests/course/test_keras_private.py`` checks each against the installed Keras, so that a Keras release
that changes one fails there, by name, rather than somewhere inside a lesson.

- :func:`forget_restored_epoch`: ``keras.callbacks.BackupAndRestore`` resumes a fit by setting the
  model's ``_initial_epoch``, and Keras never clears it (its trainer starts every later ``fit`` there).
- :func:`direct_sublayers`: the layers a layer tracks (``Layer._flatten_layers``), for any layer,
  not only ``Sequential`` and functional models (whose public ``layers`` lists them).
- :func:`save_attributes_to_hdf5_group`: how Keras 2's HDF5 weights format writes a list attribute
  (split over several attributes when it exceeds HDF5's header limit), the format of the ImageNet file.
- :data:`APPLICATIONS_FILE_UTILS`, :func:`efficientnet_published_weights`: where ``keras.applications``
  fetches its weights from, and their published URL and hash, for the tests to check against.
"""

from __future__ import annotations

import keras
from keras.src.applications import efficientnet as _efficientnet
from keras.src.legacy.saving.legacy_h5_format import save_attributes_to_hdf5_group
from keras.src.utils import file_utils as APPLICATIONS_FILE_UTILS  # noqa: N812 (a module, named as a constant)

__all__ = [
    "APPLICATIONS_FILE_UTILS",
    "direct_sublayers",
    "efficientnet_published_weights",
    "forget_restored_epoch",
    "save_attributes_to_hdf5_group",
]


def forget_restored_epoch(model: keras.Model) -> None:
    """Undo what ``BackupAndRestore`` leaves on ``model`` when it resumes a fit (the epoch to resume from),
    so that a later ``fit`` of the same model starts at its own ``initial_epoch``."""
    model._initial_epoch = None


def direct_sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers ``layer`` holds directly (not their own sublayers, not ``layer`` itself), in Keras's order."""
    return list(layer._flatten_layers(include_self=False, recursive=False))


def efficientnet_published_weights() -> tuple[str, str]:
    """The URL and md5 hash ``keras.applications.EfficientNetB0(include_top=False)`` downloads its ImageNet
    weights with."""
    return _efficientnet.BASE_WEIGHTS_PATH + "efficientnetb0_notop.h5", _efficientnet.WEIGHTS_HASHES["b0"][1]
