"""Write the sample inputs that the README's main command animates.

- samples/astronaut.png: Eileen Collins, NASA portrait (public domain), as carried by scikit-image.
- samples/driving.mp4: a driving clip generated from the same portrait: a smooth synthetic head
  motion (turns, nods, a lean and a small zoom) applied as a warp around the face, 4 s at 25 fps.

Nothing is downloaded; both files are regenerated identically on every run, apart from the
provenance marks of the driving clip (its watermark and tags carry a fresh run id and time).
Usage: python samples/make_samples.py [OUTPUT_DIR]
"""

from __future__ import annotations

import logging
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from reenact.provenance.writers import MarkedVideoWriter

logger = logging.getLogger("make_samples")

FPS = 25
SECONDS = 4
SIDE = 384  # driving frame side in pixels
FACE_CENTER = (215.0, 125.0)  # the astronaut's face in the 512x512 image (x, y)


def load_astronaut() -> np.ndarray:
    try:
        from skimage import data
    except ImportError:
        sys.exit("make_samples: install scikit-image (pip install -e '.[demo]') for the sample portrait")
    return data.astronaut()


def head_motion(t: float) -> tuple[float, float, float, float]:
    """(rotation degrees, shift x, shift y, zoom) of the synthetic head at time t seconds."""
    rotation = 7 * math.sin(2 * math.pi * 0.5 * t)
    shift_x = 14 * math.sin(2 * math.pi * 0.25 * t + 0.5)
    shift_y = 8 * math.sin(2 * math.pi * 0.75 * t)
    zoom = 1 + 0.05 * math.sin(2 * math.pi * 0.2 * t)
    return rotation, shift_x, shift_y, zoom


def driving_frame(image: Image.Image, t: float) -> np.ndarray:
    rotation, shift_x, shift_y, zoom = head_motion(t)
    cx, cy = FACE_CENTER
    angle = math.radians(rotation)
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    # output pixel (u, v) of a SIDE x SIDE view centred on the face reads the image at A @ (u, v) + b
    u0 = v0 = SIDE / 2
    a, b, d, e = cos, -sin, sin, cos
    c = cx - shift_x - a * u0 - b * v0
    f = cy + 25 - shift_y - d * u0 - e * v0
    warped = image.transform((SIDE, SIDE), Image.Transform.AFFINE, (a, b, c, d, e, f),
                             resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
    return np.asarray(warped)


def main(output_dir: str = "samples") -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    astronaut = load_astronaut()
    image = Image.fromarray(astronaut)
    # saved as it is: a real photograph, so not through write_marked_image, which marks what it
    # writes as synthetic (the driving clip below is synthetic and is marked by its writer)
    image.save(out / "astronaut.png")
    with MarkedVideoWriter(out / "driving.mp4", Fraction(FPS), SIDE, SIDE) as writer:
        for index in range(FPS * SECONDS):
            writer.write(driving_frame(image, index / FPS))
    logger.info("wrote %s and %s", out / "astronaut.png", out / "driving.mp4")


if __name__ == "__main__":
    main(*sys.argv[1:])
