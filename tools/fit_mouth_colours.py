"""Measure the colours of real open mouths' insides against the face's own lips and skin: what
`reenact.postprocess.mouth_interior` paints where a portrait has no inside.

    python tools/fit_mouth_colours.py VIDEO_OR_DIR [...] [--every 5] [--max-frames 150] \\
        [--min-opening 0.15] [--skip-prefix vx_gen_]

Frames whose inner lips (dlib) are at least `--min-opening` interocular distances apart are read;
the pixels between the inner lips, 1.5 px in from them, split into teeth (`pale`: brighter than the
lips' median luma by `PALER_BY` levels and less saturated than `LESS_SATURATED` of their median
saturation, the rule of `reenact.preprocess.teeth.pale_share`) and the rest, of which the pixels
darker than the lips are the cavity and the tongue (read only where teeth are under a quarter of
the inside).
Printed per clip and pooled (the median over clips), each against `mouth_interior.face_colours`
of the same frame:
- dark, rest, light: the cavity's darkest fifth (by luma), its median and its lighter half (the
  tongue's side), as a colour over the lips' channel by channel; *_luma: over the lips' luma;
  *_gamma: the power of the lips' colour with that hue and saturation (`deepening`);
- teeth_luma: the teeth's median luma over the skin's; teeth_tint: their colour over the skin's,
  each over its own luma; teeth_gamma: the power of the skin's colour with their hue;
- teeth_share: the share of the inside that is teeth.
Run on real clips and on `reenact animate` outputs of the same clips, it compares a painted inside
with real ones by the same rule.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import av
import numpy as np

from reenact.evaluation.measures import saturation
from reenact.postprocess.mouth_interior import face_colours, inner_outline
from reenact.postprocess.mouth_mask import polygon_coverage
from reenact.preprocess.clip import VIDEO_SUFFIXES
from reenact.preprocess.expressions import mouth_opening
from reenact.preprocess.face import REC601_LUMA, create_face_analyzer, find_face
from reenact.preprocess.teeth import LESS_SATURATED, PALER_BY

logger = logging.getLogger("fit_mouth_colours")

GAMMAS = np.linspace(0.0, 6.0, 121)
MAX_TEETH_FOR_CAVITY = 0.25  # a frame whose inside is more teeth than this tells no cavity


def deepening(lips: np.ndarray, colour: np.ndarray) -> float:
    """The power g for which the lips' colour raised to it, channel by channel, has the hue and
    saturation of `colour` most nearly (both scaled to a luma of 1; least squares over `GAMMAS`):
    light that crosses red tissue again and again loses its green and blue (Beer-Lambert)."""
    base = np.maximum(lips, 1.0) / 255.0
    target = colour / max(float(colour @ REC601_LUMA), 1e-6)
    powered = base[None] ** GAMMAS[:, None]
    powered = powered / (powered @ REC601_LUMA)[:, None]
    return float(GAMMAS[np.argmin(((powered - target) ** 2).sum(axis=1))])


def frame_colours(image: np.ndarray, landmarks: np.ndarray) -> dict[str, np.ndarray] | None:
    """The measures of one frame (see the module's docstring), or None where too little shows."""
    skin, lips = face_colours(image, landmarks)
    outline = inner_outline(landmarks)
    x0, y0 = np.floor(outline.min(axis=0)).astype(int)
    x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image.shape[1]), min(y1, image.shape[0])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    inside = polygon_coverage(outline - (x0, y0), x1 - x0, y1 - y0, erode=1.5) > 0.9
    pixels = image[y0:y1, x0:x1][inside].astype(np.float64)
    if len(pixels) < 40:
        return None
    lips_luma = float(lips @ REC601_LUMA)
    skin_luma = float(skin @ REC601_LUMA)
    luma = pixels @ REC601_LUMA
    pale = (luma > lips_luma + PALER_BY) & (saturation(pixels) < LESS_SATURATED * saturation(lips))
    # the cavity and the tongue: darker than the lips, in mouths that show few teeth (teeth in
    # shadow fail the pale test but are no cavity)
    rest = pixels[~pale & (luma < lips_luma)]
    result = {"teeth_share": np.array([pale.mean()])}
    if len(rest) >= 20 and pale.mean() < MAX_TEETH_FOR_CAVITY:
        rest_luma = rest @ REC601_LUMA
        dark = rest[rest_luma <= np.percentile(rest_luma, 20)].mean(axis=0)
        middle = np.median(rest, axis=0)
        light = rest[rest_luma >= np.median(rest_luma)].mean(axis=0)
        for name, colour in (("dark", dark), ("rest", middle), ("light", light)):
            result[name] = colour / np.maximum(lips, 1.0)
            result[name + "_luma"] = np.array([float(colour @ REC601_LUMA) / max(lips_luma, 1.0)])
            result[name + "_gamma"] = np.array([deepening(lips, colour)])
    if pale.sum() >= 10:
        teeth = pixels[pale]
        teeth_luma = float(np.median(teeth @ REC601_LUMA))
        result["teeth_luma"] = np.array([teeth_luma / max(skin_luma, 1.0)])
        result["teeth_tint"] = ((np.median(teeth, axis=0) / max(teeth_luma, 1.0))
                                / (skin / max(skin_luma, 1.0)))
        result["teeth_gamma"] = np.array([deepening(skin, np.median(teeth, axis=0))])
    return result


def clip_colours(path: Path, analyzer, every: int, max_frames: int,
                 min_opening: float) -> dict[str, np.ndarray]:
    """Per measure, the median over the clip's read frames (absent where none read it)."""
    found: dict[str, list[np.ndarray]] = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= max_frames:
                break
            if index % every:
                continue
            image = frame.to_ndarray(format="rgb24")
            try:
                face = find_face(analyzer, image)
            except ValueError:
                continue
            if face.landmarks is None or float(mouth_opening(face.landmarks)) < min_opening:
                continue
            measured = frame_colours(image, np.asarray(face.landmarks, np.float64))
            for key, value in (measured or {}).items():
                found.setdefault(key, []).append(value)
    return {key: np.median(np.stack(values), axis=0) for key, values in found.items()}


def _videos(paths: list[Path], skip: str | None) -> list[Path]:
    videos = []
    for path in paths:
        items = sorted(path.rglob("*")) if path.is_dir() else [path]
        videos += [p for p in items if p.suffix.lower() in VIDEO_SUFFIXES
                   and not (skip and p.name.startswith(skip))]
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="+")
    parser.add_argument("--every", type=int, default=5, help="read every N-th frame")
    parser.add_argument("--max-frames", type=int, default=150)
    parser.add_argument("--min-opening", type=float, default=0.15)
    parser.add_argument("--skip-prefix", default="vx_gen_", help="skip files named so ('' none)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    analyzer = create_face_analyzer("dlib")
    per_clip: dict[str, list[np.ndarray]] = {}
    for video in _videos(args.paths, args.skip_prefix or None):
        measured = clip_colours(video, analyzer, args.every, args.max_frames, args.min_opening)
        if not measured:
            continue
        for key, value in measured.items():
            per_clip.setdefault(key, []).append(value)
        logger.info("%-40s %s", video.name, "  ".join(
            f"{key} {np.array2string(value, precision=2)}" for key, value in measured.items()))
    for key, values in per_clip.items():
        stacked = np.stack(values)
        logger.info("pooled %-12s median %s  (25-75%%: %s - %s; %d clips)", key,
                    np.array2string(np.median(stacked, axis=0), precision=3),
                    np.array2string(np.percentile(stacked, 25, axis=0), precision=2),
                    np.array2string(np.percentile(stacked, 75, axis=0), precision=2), len(values))


if __name__ == "__main__":
    main()
