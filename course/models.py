"""EfficientNetB0 three ways, as in the keras-io example "Image classification via fine-tuning with
EfficientNet": trained from scratch, a frozen backbone with a new head, and its top layers fine-tuned.

Models take float32 images in 0..255: EfficientNet in Keras rescales and normalizes inside the model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import numpy as np

from course.acceleration import applied, distribution_strategy, float32_output
from course.config import NUM_CLASSES
from course.downloads import EFFICIENTNETB0_NOTOP
from course.errors import CourseError
from course.source_task import resolve_weights

HIGHEST_FINETUNE_LEARNING_RATE = 1e-3
# keras/src/applications/efficientnet.py: the ImageNet standard deviations, which Keras's ImageNet
# weights store where the Normalization layer expects the variance.
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


class WeightsUnavailableError(CourseError, RuntimeError):
    """ImageNet weights were asked for but cannot be downloaded."""


@keras.saving.register_keras_serializable(package="course")
class TrainingOnly(keras.layers.Layer):
    """Applies ``layer`` while training and passes images through unchanged otherwise.

    KerasCV layers augment even when called with ``training=False``; inside a model they would
    also distort the validation and test images.
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)

    def call(self, inputs, training=None):
        return self.layer(inputs) if training else inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "layer": keras.saving.deserialize_keras_object(config["layer"])})


def build_scratch_model(
    num_classes: int = NUM_CLASSES,
    image_size: int = 224,
    augmentation: keras.layers.Layer | Sequence[keras.layers.Layer] | None = None,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """EfficientNetB0 with random weights and a ``num_classes``-way softmax top, every layer trainable."""
    _check_learning_rate(learning_rate)
    with distribution_strategy().scope():
        inputs, x = _inputs(image_size, augmentation)
        network = keras.applications.EfficientNetB0(include_top=True, weights=None, classes=num_classes, input_tensor=x)
        model = keras.Model(inputs, network.output, name=network.name)  # takes one tensor, not a list
        float32_output(model)  # the "predictions" layer, under a mixed_float16 policy
        _compile(model, learning_rate)
    return model


def build_transfer_model(
    num_classes: int = NUM_CLASSES,
    image_size: int = 224,
    weights: str | os.PathLike | None = "imagenet",
    augmentation: keras.layers.Layer | Sequence[keras.layers.Layer] | None = None,
    learning_rate: float = 1e-2,
    dropout: float = 0.2,
) -> keras.Model:
    """A frozen EfficientNetB0 backbone with a new head: pooling, batch norm, dropout, softmax.

    ``weights`` is ``"imagenet"`` (downloaded once into Keras's cache), ``"synthetic-source"`` (pretrained
    offline on synthetic source images: :mod:`course.source_task`), the path to a weights file (for example a
    copy of that cache's ``efficientnetb0_notop.h5``), or ``None`` for random weights.
    The model is flat, so ``model.layers[-20:]`` are the backbone's top layers and the head.
    """
    _check_learning_rate(learning_rate)
    with distribution_strategy().scope():
        inputs, x = _inputs(image_size, augmentation)
        backbone = _backbone(x, weights)
        backbone.trainable = False  # frozen BatchNormalization layers also run in inference mode
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(backbone.output)
        x = keras.layers.BatchNormalization(name="head_batch_normalization")(x)
        x = keras.layers.Dropout(dropout, name="top_dropout")(x)
        # float32 keeps the softmax exact under a mixed_float16 policy (course.acceleration).
        outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="pred")(x)
        model = keras.Model(inputs, outputs, name="EfficientNet")
        _compile(model, learning_rate)
    return model


def unfreeze_top(model: keras.Model, n: int = 20, learning_rate: float = 1e-5) -> list[keras.layers.Layer]:
    """Make the last ``n`` layers trainable, except BatchNormalization layers, and recompile with
    Adam(``learning_rate``). Returns the layers that are now trainable among those ``n``."""
    if not 1 <= n <= len(model.layers):
        raise ValueError(f"n must be between 1 and the model's {len(model.layers)} layers; got n={n}.")
    _check_learning_rate(learning_rate)
    if learning_rate > HIGHEST_FINETUNE_LEARNING_RATE:
        raise ValueError(
            f"learning_rate={learning_rate:g} is too high for fine-tuning: large updates wreck the "
            f"pretrained features in the first steps. Use at most {HIGHEST_FINETUNE_LEARNING_RATE:g}; "
            "the reference uses 1e-5."
        )
    unfrozen = [layer for layer in model.layers[-n:] if not isinstance(layer, keras.layers.BatchNormalization)]
    for layer in unfrozen:
        layer.trainable = True
    with distribution_strategy().scope():
        _compile(model, learning_rate)
    return unfrozen


def param_summary(model: keras.Model) -> dict[str, int]:
    """Trainable, non-trainable and total parameter counts, as ``model.summary()`` reports them."""
    trainable = sum(int(np.prod(variable.shape)) for variable in model.trainable_weights)
    non_trainable = sum(int(np.prod(variable.shape)) for variable in model.non_trainable_weights)
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def head_pooling_index(model: keras.Model) -> int:
    """Index in ``model.layers`` of the GlobalAveragePooling2D that starts the head of a transfer model (the
    last one): the layers before it are the backbone."""
    for index in range(len(model.layers) - 1, -1, -1):
        if isinstance(model.layers[index], keras.layers.GlobalAveragePooling2D):
            return index
    raise ValueError(
        f"Model {model.name!r} has no GlobalAveragePooling2D layer: the head of a transfer model starts with "
        "one on the backbone's output, so give a transfer model whose head starts with GlobalAveragePooling2D."
    )


def trainable_backbone_parameters(model: keras.Model) -> int:
    """Parameters of a transfer model's backbone (the layers before its head, :func:`head_pooling_index`)
    that training updates: 0 while the backbone is frozen."""
    backbone = model.layers[: head_pooling_index(model)]
    return sum(int(np.prod(weight.shape)) for layer in backbone for weight in layer.trainable_weights)


def trainable_backbone_normalizations(model: keras.Model) -> int:
    """BatchNormalization layers of a transfer model's backbone that are trainable: in training they would
    normalise with the statistics of each small batch and overwrite the pretrained moving statistics.
    Fine-tuning keeps them frozen (0), as :func:`unfreeze_top` does."""
    return sum(
        isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
        for layer in _flattened(model.layers[: head_pooling_index(model)])
    )


def _flattened(layers: Sequence[keras.layers.Layer]) -> list[keras.layers.Layer]:
    """``layers`` with every nested model replaced by its own layers, recursively."""
    flat = []
    for layer in layers:
        flat.extend(_flattened(layer.layers) if isinstance(layer, keras.Model) else [layer])
    return flat


def _check_learning_rate(learning_rate: float) -> None:
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be a positive number; got {learning_rate!r}.")


def _compile(model: keras.Model, learning_rate: float) -> None:
    """Adam, categorical cross-entropy and accuracy, with XLA as ``course.acceleration.apply_acceleration`` decided."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=applied().jit_compile,
    )


def _inputs(image_size: int, augmentation) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model's image input and the tensor after the augmentation layers, which run only in training."""
    inputs = keras.layers.Input(shape=(image_size, image_size, 3), name="image")
    if augmentation is None:
        return inputs, inputs
    layers = [augmentation] if isinstance(augmentation, keras.layers.Layer) else list(augmentation)
    x = inputs
    for layer in layers:
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                f"augmentation must be a Keras layer or a list of Keras layers; got {type(layer).__name__}. "
                "Wrap a plain function in keras.layers.Lambda."
            )
        x = TrainingOnly(layer, name=f"{layer.name}_in_training")(x)
    return inputs, x


def _backbone(x: keras.KerasTensor, weights) -> keras.Model:
    """EfficientNetB0 without its top, built on ``x``, with ``weights``."""
    if weights == "imagenet":
        _download_imagenet_weights()
        return keras.applications.EfficientNetB0(include_top=False, weights="imagenet", input_tensor=x)
    if weights is None:
        return keras.applications.EfficientNetB0(include_top=False, weights=None, input_tensor=x)
    path = os.fspath(resolve_weights(weights))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"weights={path!r}: no such file. Pass 'imagenet' to download the ImageNet weights, the path "
            "to an existing weights file (such as efficientnetb0_notop.h5), or None for random weights."
        )
    backbone = keras.applications.EfficientNetB0(include_top=False, weights=path, input_tensor=x)
    _square_imagenet_variance(backbone)
    return backbone


def _download_imagenet_weights() -> None:
    """Put the ImageNet no-top weights into Keras's cache, where EfficientNetB0 looks for them."""
    try:
        keras.utils.get_file(
            EFFICIENTNETB0_NOTOP.name,
            EFFICIENTNETB0_NOTOP.url,
            cache_subdir="models",
            file_hash=EFFICIENTNETB0_NOTOP.file_hash,
        )
    except Exception as error:
        raise WeightsUnavailableError(
            f"Cannot download the EfficientNetB0 ImageNet weights from {EFFICIENTNETB0_NOTOP.url}: {error}. "
            "Either pass weights=<path> to a local copy of efficientnetb0_notop.h5 (Keras keeps it in "
            "~/.keras/models/ on a machine that downloaded it; `python -m course_tools.caches prepare` fetches "
            "it), or pass weights=None for RANDOM weights: the model then trains, but its backbone is not "
            "pretrained and its results say nothing about transfer learning."
        ) from error


def _square_imagenet_variance(backbone: keras.Model) -> None:
    """Make weights loaded from a file normalize images as ``weights="imagenet"`` does.

    Keras's ImageNet weights store the ImageNet standard deviation as the Normalization variance;
    ``weights="imagenet"`` compensates with an extra Rescaling layer, which a model loaded from a
    file lacks. Squaring the stored value gives the same normalization. Weights from any other
    source (random ones have variance 1) are left as they are.
    """
    normalization = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.Normalization))
    mean, variance, count = normalization.get_weights()
    if np.allclose(variance, IMAGENET_STDDEV_RGB):
        normalization.set_weights([mean, np.square(variance), count])
        normalization.finalize_state()
