"""Transfer learning and data augmentation with EfficientNetB0 on Stanford Dogs.

The library behind the lessons, flat because its module names are the lessons' API. Submodules import
TensorFlow; ``import course`` alone does not.

- Runs: ``config`` (run profiles), ``runtime`` (work folder, accelerator), ``environment`` (is this
  runtime ready), ``acceleration`` (mixed precision, XLA), ``metrics`` (numbers a lesson records).
- Data: ``data`` (Stanford Dogs as ``tf.data``), ``breeds``, ``downloads``, ``pipeline`` (cached,
  batched input), ``synthetic`` (offline pictures), ``source_task`` (the demo's pretraining).
- Augmentation: ``augment`` (KerasCV), ``fast_augment`` (one warp per image), ``keras_counterparts``
  (core Keras layers for KerasCV's), ``augment_checks`` (what a pipeline does).
- Models and training: ``models`` (EfficientNetB0 three ways), ``train``, ``features`` (frozen
  features, then a head), ``approaches`` (the three side by side; ``python -m course``).
- Results: ``plots`` (curves and batches), ``facts`` (models and figures as plain data for checks).
- Underneath: ``errors`` (the library's error base and the commands' exit statuses), ``keras_private``
  (the few private Keras APIs the library needs, in one place).
"""

from course.config import NUM_CLASSES, PROFILES, Profile, get_profile

__all__ = ["NUM_CLASSES", "PROFILES", "Profile", "get_profile"]
