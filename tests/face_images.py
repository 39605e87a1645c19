"""Generated faces for tests: a flat-coloured face drawn around 68 template landmarks, and bare
landmark sets (`jaw_face`)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from speech_fixtures import face_landmarks

SKIN = (205, 160, 135)
LIPS = (170, 80, 85)
MOUTH = (35, 20, 25)


def drawn_face(size: int = 160, *, mouth_open: float = 0.3, interior: bool = True,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(image (size, size, 3) uint8, landmarks (68, 2)): a skin ellipse with textured noise, lips
    filled between the outer and inner lip landmarks, the inner polygon dark (`interior`, an open
    mouth) or lip-coloured (pressed lips that the landmarks still read as open)."""
    rng = np.random.default_rng(seed)
    landmarks = face_landmarks(size / 2, size / 2, size * 0.6, mouth_open=mouth_open)
    image = Image.new("RGB", (size, size), (90, 120, 150))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size * 0.15, size * 0.1, size * 0.85, size * 0.95), fill=SKIN)
    draw.polygon([tuple(p) for p in landmarks[48:60]], fill=LIPS)
    draw.polygon([tuple(p) for p in landmarks[60:68]], fill=MOUTH if interior else LIPS)
    for eye in (landmarks[36:42], landmarks[42:48]):
        draw.polygon([tuple(p) for p in eye], fill=(250, 250, 250))
    pixels = np.asarray(image).astype(np.float64) + rng.normal(0, 4, (size, size, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8), landmarks


def blurred(image: np.ndarray, radius: float = 2.0) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def jaw_face(centre_x: float = 150.0, eyes: float = 150.0, chin: float = 250.0,
             half_width: float = 70.0, roll: float = 0.0) -> np.ndarray:
    """68 points whose jaw (0-16) is a half ellipse from the eyes' row down to the chin (8),
    turned by `roll` radians about the eyes' centre; the eyes (36-47) on their row; the rest 0."""
    points = np.zeros((68, 2))
    angles = np.linspace(np.pi, 0, 17)
    points[:17] = np.stack([centre_x + half_width * np.cos(angles),
                            eyes + (chin - eyes) * np.sin(angles)], axis=1)
    points[36:48] = np.stack([np.linspace(centre_x - 40, centre_x + 40, 12),
                              np.full(12, eyes)], axis=1)
    c, s = np.cos(roll), np.sin(roll)
    centre = np.array([centre_x, eyes])
    return (points - centre) @ np.array([[c, s], [-s, c]]) + centre
