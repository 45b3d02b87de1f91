"""Synthetic "dogs": one picture per call, coloured by class, for the offline profiles and the stand-ins.

Each of the 120 classes has its own background and coat colour; the shape, place, size and angle of the
"dog" and the lighting vary from picture to picture.
"""

from __future__ import annotations

import colorsys

import numpy as np

from course.config import NUM_CLASSES

SYNTHETIC_SIDE_RANGE = (120, 300)  # pixels per side, drawn per picture


def class_palettes() -> list[tuple[np.ndarray, np.ndarray]]:
    """(background, coat) colours per class: 12 pale backgrounds x 10 saturated coats, all distinct."""
    backgrounds = [colorsys.hsv_to_rgb(hue / 12, 0.35, 0.92) for hue in range(12)]
    coats = [colorsys.hsv_to_rgb((hue + 0.5) / 10, 0.9, 0.5) for hue in range(10)]
    return [
        (np.array(backgrounds[label % 12], np.float32) * 255, np.array(coats[label // 12], np.float32) * 255)
        for label in range(NUM_CLASSES)
    ]


def synthetic_image(
    rng: np.random.Generator, background: np.ndarray, coat: np.ndarray, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """A "dog": a body and a head in the class's coat colour, at a random place, size and angle,
    on a shaded background of the class's colour, with colour jitter and noise. ``shape`` is
    (height, width); by default both are drawn from ``SYNTHETIC_SIDE_RANGE``."""
    if shape is None:
        shape = rng.integers(SYNTHETIC_SIDE_RANGE[0], SYNTHETIC_SIDE_RANGE[1] + 1, size=2)
    height, width = (int(side) for side in shape)
    y = (np.arange(height, dtype=np.float32) / height)[:, None]
    x = (np.arange(width, dtype=np.float32) / width)[None, :]
    shade = rng.uniform(-25, 25, size=3)
    row = background + rng.uniform(-12, 12, size=3) + (x[..., None] - 0.5) * shade
    image = np.repeat(row.astype(np.float32), height, axis=0)
    body = rng.uniform(0.3, 0.7, size=2)
    radii = rng.uniform(0.15, 0.3, size=2)
    angle = rng.uniform(0, np.pi)
    head = body + rng.choice([-1, 1]) * rng.uniform(0.15, 0.25) * np.array([np.sin(angle), np.cos(angle)])
    coat = coat + rng.uniform(-12, 12, size=3)
    for centre, (radius_along, radius_across) in ((body, radii), (head, radii * 0.55)):
        dy, dx = y - centre[0], x - centre[1]
        along = (dx * np.cos(angle) + dy * np.sin(angle)) / radius_along
        across = (dy * np.cos(angle) - dx * np.sin(angle)) / radius_across
        image[along**2 + across**2 <= 1] = coat
    noise = np.frombuffer(rng.bytes(image.size), np.uint8).reshape(image.shape)  # uniform, fast
    image += noise.astype(np.float32) / 8 - 16
    return np.clip(np.round(image), 0, 255).astype(np.uint8)
