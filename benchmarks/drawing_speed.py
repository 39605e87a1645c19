"""Per-frame cost of the drawn mouth (talk's and animate's `--mouth drawn`), in this process: the
portrait's mouth drawer built once, then drawn on a sweep of frames, milliseconds a frame.

The frames are the portrait itself with its head moved a little (a similarity: a few pixels and a
degree or two, as talk's sway) and its mouth opened by a sine from shut to 0.3 interocular
distances and back, so every branch runs: the photo's own lips (nearly shut), their cross-fade
into the open reference, and the reference's inside hung from the upper lip. The piecewise-affine
rasterization (`reenact.postprocess.piecewise.rasterize_triangles`) is timed alone too, on the
meshes those frames draw.

Usage: python benchmarks/drawing_speed.py [--source IMAGE] [--portrait-side 256] [--frames 100]
           [--threads 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def moved(landmarks: np.ndarray, step: int) -> np.ndarray:
    """(68, 2) `landmarks` turned by up to 1.5 degrees and shifted by up to 3 px about their centre."""
    angle = np.radians(1.5 * np.sin(step / 9))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = landmarks.mean(axis=0)
    shift = np.array([3 * np.sin(step / 7), 2 * np.cos(step / 11)])
    return (landmarks - centre) @ rotation.T + centre + shift


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO / "samples" / "astronaut.png")
    parser.add_argument("--portrait-side", type=int, default=256,
                        help="resize the portrait to this many pixels square first (0: as it is)")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"drawing_speed: {args.source} does not exist (python samples/make_samples.py "
              "writes the sample portrait)", file=sys.stderr)
        return 2
    if args.frames < 1 or args.threads < 1 or args.rounds < 1 or args.portrait_side < 0:
        print("drawing_speed: --frames, --threads and --rounds must be >= 1, --portrait-side >= 0",
              file=sys.stderr)
        return 2
    import torch
    from PIL import Image

    import reenact.postprocess.mouth_warp as mouth_warp
    from reenact.pipelines.portrait_mouth import drawn_lips, portrait_mouth
    from reenact.preprocess.crop import crop_box
    from reenact.preprocess.face import create_face_analyzer

    torch.set_num_threads(args.threads)
    picture = Image.open(args.source).convert("RGB")
    if args.portrait_side:
        picture = picture.resize((args.portrait_side, args.portrait_side), Image.LANCZOS)
    image = np.asarray(picture)
    faces = create_face_analyzer().detect(image)
    if not faces:
        print(f"drawing_speed: no face found in {args.source}", file=sys.stderr)
        return 2
    landmarks = np.asarray(faces[0].landmarks, np.float64)
    box = crop_box(faces[0], image.shape[1], image.shape[0])
    started = time.perf_counter()
    mouth = portrait_mouth(image, drawn_lips(image, landmarks)[0], box)
    built = time.perf_counter() - started
    openings = 0.15 * (1 - np.cos(np.linspace(0, 4 * np.pi, args.frames)))  # 0 .. 0.3
    frames = [(image, mouth.posed(moved(landmarks, step)), float(opening))
              for step, opening in enumerate(openings)]

    meshes = []  # every rasterization the drawing asks for, recorded on the first round
    rasterize = mouth_warp.rasterize_triangles

    def recording(*call):
        meshes.append(call)
        return rasterize(*call)

    mouth_warp.rasterize_triangles = recording
    best = np.inf
    for round_ in range(args.rounds):
        started = time.perf_counter()
        for frame in frames:
            mouth.draw(*frame)
        best = min(best, time.perf_counter() - started)
        mouth_warp.rasterize_triangles = rasterize
    raster = np.inf
    for _ in range(args.rounds):
        started = time.perf_counter()
        for call in meshes:
            rasterize(*call)
        raster = min(raster, time.perf_counter() - started)
    height, width = image.shape[:2]
    print(f"portrait {width}x{height}, {args.frames} frames, {args.threads} thread(s), "
          f"best of {args.rounds}")
    print(f"mouth drawer built once: {built:.2f} s")
    print(f"drawing: {1e3 * best / args.frames:.2f} ms a frame")
    print(f"of which rasterizing: {1e3 * raster / args.frames:.2f} ms a frame "
          f"({len(meshes) / args.frames:.1f} meshes a frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
