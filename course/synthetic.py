"""Synthetic pictures, one per call, for the offline profiles, the stand-ins and the demo's source task.

The target task's "dogs" (:func:`synthetic_image`): each of the 120 classes has its own background and
coat colour; the shape, place, size and angle of the "dog" and the lighting vary from picture to picture.

The source task's pictures (:func:`source_image`) come from the same family with other classes: each
source class is a figure (ellipse, box or ring), a texture on it (plain, stripes or checks) and its
own pair of colours, drawn at random once. They are to the synthetic dogs what ImageNet is to Stanford
Dogs: other classes, pictures of the same kind (see :mod:`course.source_task`).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from course.config import NUM_CLASSES

SYNTHETIC_SIDE_RANGE = (120, 300)  # pixels per side, drawn per picture
SOURCE_FIGURES = ("ellipse", "box", "ring")
SOURCE_TEXTURES = ("plain", "stripes", "checks")


@dataclass(frozen=True)
class SourceClass:
    """One class of the source task: its figure, the texture on the figure and its two colours."""

    figure: str  # one of SOURCE_FIGURES
    texture: str  # one of SOURCE_TEXTURES
    background: np.ndarray  # RGB in 0..255
    coat: np.ndarray  # the figure's colour, RGB in 0..255


def class_palettes() -> list[tuple[np.ndarray, np.ndarray]]:
    """(background, coat) colours per class: 12 pale backgrounds x 10 saturated coats, all distinct."""
    backgrounds = [colorsys.hsv_to_rgb(hue / 12, 0.35, 0.92) for hue in range(12)]
    coats = [colorsys.hsv_to_rgb((hue + 0.5) / 10, 0.9, 0.5) for hue in range(10)]
    return [
        (np.array(backgrounds[label % 12], np.float32) * 255, np.array(coats[label // 12], np.float32) * 255)
        for label in range(NUM_CLASSES)
    ]


def source_classes(count: int, seed: int) -> list[SourceClass]:
    """``count`` source classes: figures and textures in turn, colours drawn from ``seed`` (pale backgrounds,
    saturated figures of any hue, as in the target task, but not its 12 x 10 grid)."""
    rng = np.random.default_rng(seed)
    classes = []
    for label in range(count):
        background = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.15, 0.5), rng.uniform(0.8, 0.97))
        coat = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.6, 1.0), rng.uniform(0.3, 0.75))
        classes.append(
            SourceClass(
                SOURCE_FIGURES[label % len(SOURCE_FIGURES)],
                SOURCE_TEXTURES[(label // len(SOURCE_FIGURES)) % len(SOURCE_TEXTURES)],
                np.array(background, np.float32) * 255,
                np.array(coat, np.float32) * 255,
            )
        )
    return classes


def synthetic_image(
    rng: np.random.Generator, background: np.ndarray, coat: np.ndarray, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """A "dog": a body and a head in the class's coat colour, at a random place, size and angle,
    on a shaded background of the class's colour, with colour jitter and noise. ``shape`` is
    (height, width); by default both are drawn from ``SYNTHETIC_SIDE_RANGE``."""
    if shape is None:
        shape = rng.integers(SYNTHETIC_SIDE_RANGE[0], SYNTHETIC_SIDE_RANGE[1] + 1, size=2)
    image, y, x = _shaded_background(rng, background, shape)
    body = rng.uniform(0.3, 0.7, size=2)
    radii = rng.uniform(0.15, 0.3, size=2)
    angle = rng.uniform(0, np.pi)
    head = body + rng.choice([-1, 1]) * rng.uniform(0.15, 0.25) * np.array([np.sin(angle), np.cos(angle)])
    coat = coat + rng.uniform(-12, 12, size=3)
    for centre, (radius_along, radius_across) in ((body, radii), (head, radii * 0.55)):
        along, across = _rotated(y, x, centre, angle)
        image[(along / radius_along) ** 2 + (across / radius_across) ** 2 <= 1] = coat
    return _with_noise(rng, image)


def source_image(rng: np.random.Generator, source_class: SourceClass, side: int) -> np.ndarray:
    """A picture of ``source_class``, ``side`` pixels square: its figure, textured, at a random place,
    size and angle on a shaded background, with colour jitter and noise as in :func:`synthetic_image`."""
    image, y, x = _shaded_background(rng, source_class.background, (side, side))
    centre = rng.uniform(0.3, 0.7, size=2)
    radii = rng.uniform(0.18, 0.32, size=2)
    angle = rng.uniform(0, np.pi)
    coat = source_class.coat + rng.uniform(-12, 12, size=3)
    along, across = _rotated(y, x, centre, angle)
    if source_class.figure == "ellipse":
        inside = (along / radii[0]) ** 2 + (across / radii[1]) ** 2 <= 1
    elif source_class.figure == "box":
        inside = (np.abs(along) <= radii[0]) & (np.abs(across) <= radii[1] * 0.8)
    else:  # ring
        distance = np.hypot(along, across)
        inside = (distance <= radii[0]) & (distance >= radii[0] * 0.55)
    period = rng.uniform(0.06, 0.1)
    if source_class.texture == "stripes":
        pattern = np.floor(along / period) % 2 == 0
    elif source_class.texture == "checks":
        pattern = (np.floor(along / period) + np.floor(across / period)) % 2 == 0
    else:
        pattern = np.ones_like(inside)
    image[inside & pattern] = coat
    image[inside & ~pattern] = coat * 0.55
    return _with_noise(rng, image)


def _shaded_background(
    rng: np.random.Generator, background: np.ndarray, shape
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (height, width, 3) float32 background with a random left-to-right shade and colour jitter, and the
    y (column) and x (row) coordinates in 0..1 of its pixels."""
    height, width = (int(side) for side in shape)
    y = (np.arange(height, dtype=np.float32) / height)[:, None]
    x = (np.arange(width, dtype=np.float32) / width)[None, :]
    shade = rng.uniform(-25, 25, size=3)
    row = background + rng.uniform(-12, 12, size=3) + (x[..., None] - 0.5) * shade
    return np.repeat(row.astype(np.float32), height, axis=0), y, x


def _rotated(y: np.ndarray, x: np.ndarray, centre: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates relative to ``centre``, along and across the direction ``angle``."""
    dy, dx = y - centre[0], x - centre[1]
    return dx * np.cos(angle) + dy * np.sin(angle), dy * np.cos(angle) - dx * np.sin(angle)


def _with_noise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """``image`` with uniform noise in -16..16, rounded to uint8."""
    noise = np.frombuffer(rng.bytes(image.size), np.uint8).reshape(image.shape)  # uniform, fast
    image += noise.astype(np.float32) / 8 - 16
    return np.clip(np.round(image), 0, 255).astype(np.uint8)
