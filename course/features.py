"""The lightweight workflow: the frozen backbone's features computed once, a head trained on them.

With a frozen backbone, every epoch of standard training pushes every image through the whole of
EfficientNetB0 only to train the few layers of the head (GlobalAveragePooling -> BatchNormalization
-> Dropout -> Dense). The backbone's output for an image never changes, so it can be computed once:
:func:`cached_features` runs the backbone (up to its GlobalAveragePooling, what the head's
BatchNormalization sees) over the un-augmented training and validation images and keeps the result on
disk, and :func:`train_head` trains a copy of the head on those vectors, which takes seconds per
epoch instead of minutes. :func:`plug_head` puts the trained head back on the backbone, so the
model can be evaluated on images or fine-tuned.

**No augmentation.** Augmentation must change the images every epoch, and every new image needs
a new forward pass through the backbone. Features are computed once from fixed images, so each
image contributes exactly one feature vector however many epochs the head trains: the head sees
no rotated, shifted or flipped dogs, and overfits sooner than with the standard workflow. That is
the price of the speed; :func:`time_standard_and_lightweight` measures the speed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from course.config import Profile, get_profile
from course.data import load_examples
from course.models import head_pooling_index
from course.pipeline import fast_pipeline
from course.train import EpochTimer

DEFAULT_FEATURE_DIR = Path.home() / ".cache" / "course" / "features"


@dataclass(frozen=True)
class FeatureSet:
    """The backbone's feature vectors of one split, with the labels."""

    features: np.ndarray  # float32 [N, D]: the GlobalAveragePooling output of the frozen backbone
    labels: np.ndarray  # float32 one-hot [N, classes]

    def dataset(self, batch_size: int, shuffle: bool = False, seed: int | None = None) -> tf.data.Dataset:
        """Batches of (features, labels), reshuffled every epoch when ``shuffle``."""
        dataset = tf.data.Dataset.from_tensor_slices((self.features, self.labels))
        if shuffle:
            dataset = dataset.shuffle(len(self.features), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class TrainingTimes:
    """Wall-clock seconds of the two workflows, each epoch listed (the first includes graph building)."""

    standard_epochs: list[float]  # full forward pass through the frozen backbone every epoch
    extraction: float  # the lightweight workflow's one pass of the backbone over the training images
    head_epochs: list[float]

    @property
    def standard(self) -> float:
        return sum(self.standard_epochs)

    @property
    def lightweight(self) -> float:
        return self.extraction + sum(self.head_epochs)

    @property
    def speedup(self) -> float:
        """How many times faster the lightweight workflow trained for the same number of epochs."""
        return self.standard / self.lightweight


def _augmentation_ignoring_training(layers) -> list[str]:
    """Names of KerasCV augmentation layers among ``layers`` (recursively): they augment even
    at inference, so features computed through them would be of distorted images."""
    import keras_cv

    kinds = (keras_cv.layers.BaseImageAugmentationLayer, keras_cv.layers.VectorizedBaseImageAugmentationLayer)
    found = []
    for layer in layers:
        if isinstance(layer, kinds):
            found.append(layer.name)
        found.extend(_augmentation_ignoring_training(getattr(layer, "layers", [])))
    return found


def feature_extractor(model: keras.Model) -> keras.Model:
    """The frozen backbone of a transfer model, up to the GlobalAveragePooling2D that starts its
    head: a model from images to the vectors the head's BatchNormalization sees. It shares the
    transfer model's layers and weights."""
    pooling = model.layers[head_pooling_index(model)]
    extractor = keras.Model(model.input, pooling.output, name=f"{model.name}_features")
    if extractor.trainable_weights:
        raise ValueError(
            f"The backbone of {model.name!r} has {len(extractor.trainable_weights)} trainable weights: features "
            "stay fixed only while the backbone is frozen. Freeze it (backbone layers trainable=False) "
            "before computing features; fine-tuning needs the standard workflow."
        )
    augmenting = _augmentation_ignoring_training(extractor.layers)
    if augmenting:
        raise ValueError(
            f"{model.name!r} augments inside the model with KerasCV layers {augmenting}, which augment even "
            "at inference. Features are computed once from fixed images: build the model without "
            "augmentation for the lightweight workflow."
        )
    return extractor


def _head_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return model.layers[head_pooling_index(model) + 1 :]


def build_head(model: keras.Model) -> keras.Model:
    """A compiled model from feature vectors to class probabilities, made of fresh copies of the
    transfer model's head layers (BatchNormalization -> Dropout -> Dense, same settings and
    dtypes), with the transfer model's loss and a copy of its optimizer."""
    if model.optimizer is None:
        raise ValueError(f"Compile {model.name!r} first: the head trains with the transfer model's loss and optimizer.")
    pooling = model.layers[head_pooling_index(model)]
    inputs = keras.Input(pooling.output.shape[1:], name="features")
    outputs = inputs
    for layer in _head_layers(model):
        outputs = type(layer).from_config(layer.get_config())(outputs)
    head = keras.Model(inputs, outputs, name=f"{model.name}_head")
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    head.compile(optimizer=optimizer, loss=model.loss, metrics=["accuracy"])
    return head


def plug_head(head: keras.Model, model: keras.Model) -> keras.Model:
    """Copy ``head``'s trained weights into ``model``'s head layers; returns ``model``."""
    targets = [layer for layer in _head_layers(model) if layer.weights]
    sources = [layer for layer in head.layers if layer.weights]
    if [type(layer) for layer in sources] != [type(layer) for layer in targets]:
        raise ValueError(
            f"The head's layers {[type(layer).__name__ for layer in sources]} do not match the head of "
            f"{model.name!r} {[type(layer).__name__ for layer in targets]}; build the head with build_head(model)."
        )
    for source, target in zip(sources, targets, strict=True):
        target.set_weights(source.get_weights())
    return model


def extract_features(
    extractor: keras.Model, examples: tf.data.Dataset, image_size: int, batch_size: int, run_eagerly: bool = False
) -> FeatureSet:
    """Run ``extractor`` once over (image, label) ``examples``, resized like the training pipelines
    and never augmented or shuffled.

    Args:
        extractor: the backbone up to its pooled features (:func:`feature_extractor`).
        examples: unbatched (uint8 image of any size, integer label) pairs, as ``load_raw`` gives them.
        image_size: the side of the square the images are resized to.
        batch_size: images per forward pass.
        run_eagerly: run without compiling a graph (quicker for a few batches).
    """
    batches = fast_pipeline(examples, image_size, batch_size, shuffle=False, cache=None)

    def forward(images):
        return extractor(images, training=False)

    if not run_eagerly:
        forward = tf.function(forward)
    features, labels = [], []
    for images, one_hot in batches:
        features.append(tf.cast(forward(images), tf.float32).numpy())
        labels.append(one_hot.numpy())
    return FeatureSet(np.concatenate(features), np.concatenate(labels))


def weights_fingerprint(model: keras.Model) -> str:
    """A hash of every weight of ``model``: features cached under it belong to exactly these weights."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:16]


def split_examples(profile: Profile, split: str) -> tf.data.Dataset:
    """The (image, label) examples of ``split`` that the profile's standard pipelines use
    (:func:`course.data.load_dogs`): the training set without the validation examples, the validation
    set cut to ``validation_steps`` batches and the test set to ``test_steps`` when they are set."""
    examples, _ = load_examples(split, profile)
    steps = {"validation": profile.validation_steps, "test": profile.test_steps}.get(split)
    if steps:
        examples = examples.take(steps * profile.batch_size)
    return examples


def cached_features(
    extractor: keras.Model,
    profile: Profile | str | None = None,
    split: str = "train",
    cache_dir: str | Path | None = DEFAULT_FEATURE_DIR,
) -> FeatureSet:
    """The features of ``split`` for ``profile``'s data, computed once and then read from disk.

    The file is named after the split, image size, data source and a hash of everything the features
    depend on: the backbone's weights, the data (source, folder, seed and sizes of synthetic data,
    number of examples) and the image size.

    Args:
        extractor: the backbone up to its pooled features (:func:`feature_extractor`).
        profile: the run profile (a name, a :class:`course.config.Profile`, or ``None`` for the default).
        split: ``"train"``, ``"validation"`` or ``"test"`` (:func:`course.data.load_examples`).
        cache_dir: where the features are kept; ``None`` keeps nothing on disk.
    """
    profile = get_profile(profile)
    examples = split_examples(profile, split)
    identity = "|".join(
        str(part)
        for part in (
            weights_fingerprint(extractor),
            profile.image_size,
            profile.source,
            profile.data_dir,
            split,
            int(examples.cardinality()),
            profile.seed,
            profile.validation_fraction,
            profile.synthetic_train_size,
            profile.synthetic_test_size,
        )
    )
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    path = None if cache_dir is None else Path(cache_dir) / f"{split}-{profile.image_size}px-{profile.source}-{key}.npz"
    if path is not None and path.is_file():
        with np.load(path) as stored:
            return FeatureSet(stored["features"], stored["labels"])
    features = extract_features(extractor, examples, profile.image_size, profile.batch_size, profile.run_eagerly)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial.npz")
        np.savez(partial, features=features.features, labels=features.labels)
        partial.replace(path)
    return features


def train_head(
    head: keras.Model,
    train: FeatureSet,
    validation: FeatureSet | None = None,
    *,
    epochs: int,
    batch_size: int,
    seed: int | None = None,
    verbose: int | str = 0,
    callbacks: list | None = None,
) -> keras.callbacks.History:
    """Fit ``head`` on feature vectors, reshuffled every epoch.

    Args:
        head: the classifier head, from :func:`build_head`.
        train: the training features (:func:`cached_features`).
        validation: the validation features, or ``None`` for no validation.
        epochs: epochs to train.
        batch_size: feature vectors per step.
        seed: seed of the shuffle.
        verbose: Keras's ``verbose`` for ``fit``.
        callbacks: Keras callbacks for ``fit``.
    """
    return head.fit(
        train.dataset(batch_size, shuffle=True, seed=seed),
        validation_data=None if validation is None else validation.dataset(batch_size),
        epochs=epochs,
        shuffle=False,
        verbose=verbose,
        callbacks=callbacks,  # the dataset reshuffles itself
    )


def time_standard_and_lightweight(
    model: keras.Model,
    examples: tf.data.Dataset,
    image_size: int,
    batch_size: int,
    epochs: int,
    *,
    augment=None,
    seed: int | None = None,
) -> TrainingTimes:
    """Train for ``epochs`` both ways on the same (image, label) ``examples`` and time each epoch.

    Standard: ``model`` (a compiled transfer model with a frozen backbone) is fitted on the course
    pipeline (:func:`course.pipeline.fast_pipeline`, with ``augment`` if given), a full
    forward pass through the backbone for every image of every epoch. Lightweight: one pass of the
    backbone to compute the features, then a head (:func:`build_head`) trained on them. Both go over
    all the examples each epoch, and both run eagerly if ``model`` was compiled with
    ``run_eagerly``; ``model``'s head ends up trained by the standard run.
    """
    pipeline = fast_pipeline(examples, image_size, batch_size, augment, seed=seed, cache="memory")
    standard = model.fit(pipeline, epochs=epochs, shuffle=False, verbose=0, callbacks=[EpochTimer()])

    extractor = feature_extractor(model)
    start = time.perf_counter()
    features = extract_features(extractor, examples, image_size, batch_size, model.run_eagerly)
    extraction = time.perf_counter() - start
    head = train_head(
        build_head(model), features, epochs=epochs, batch_size=batch_size, seed=seed, callbacks=[EpochTimer()]
    )
    return TrainingTimes(standard.history["epoch_time"], extraction, head.history["epoch_time"])
