"""Transfer learning and data augmentation with EfficientNetB0 on Stanford Dogs.

The library behind the lessons: ``config`` (run profiles), ``data``, ``augment``, ``models``,
``train`` and ``plots``. Submodules import TensorFlow; ``import course`` alone does not.
"""

from course.config import NUM_CLASSES, PROFILES, Profile, get_profile

__all__ = ["NUM_CLASSES", "PROFILES", "Profile", "get_profile"]
