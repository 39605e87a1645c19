"""The driver's eyes per frame: how open to draw each eye, and how far the irises move.

What `reenact.postprocess.eyelids` draws on the photo's own eyes comes from the driving video's
landmarks as two series: per frame and eye, the opening relative to the frame motion is measured
from (`eye_ratios`, from dlib's eye aspect ratio, a shut eye as dlib reads it drawn shut; or
`mesh_eye_ratios`, from FaceMesh's lid gap, which follows a blink that dlib may not see), and per
frame the irises' shift along their eyes (`gaze_shifts`, from `reenact.preprocess.gaze`).
"""

from __future__ import annotations

import numpy as np

from reenact.postprocess.eyelids import MAX_GAIN
from reenact.preprocess.expressions import eye_aspect_ratios

SMOOTHING = 0.7  # gaussian sigma, frames, over the driver's eye ratios (dlib's lids jitter)
EYE_OPEN = 0.05  # a reference eye less open than this is shut: no opening to measure against
# dlib's 68 points keep much of an eye's opening when it shuts: at the bottom of a blink they read
# 0.3-0.65 of the open aspect ratio where FaceMesh reads 0.1-0.2 (10 dev clips with blinks). A
# ratio under STEEP_FROM is drawn on a line from (SHUT_READS, 0) to (STEEP_FROM, STEEP_FROM), so
# the lids meet where dlib reads a shut eye; above it the ratio is drawn as it is (dlib's jitter on
# an open eye is not amplified). Where the drawn opening dips more than KEPT_DIP under its
# smoothed value, the dip is kept: a blink lasts two or three frames, and smoothed whole its bottom
# was drawn a third open or more. On 15 dev driving and talking videos (150 frames each), at the
# frames where mediapipe's FaceMesh reads the eyes under 35% of their median opening, the opening
# drawn from dlib's was 0.39 with SHUT_READS 0.35 and every dip smoothed, 0.28 with these (dlib
# reads the bottom of a blink at 0.45-0.55 on vr_3 and lp_d12); r with FaceMesh's opening 0.874
# -> 0.882; frames FaceMesh reads over 80% open drawn under half open 0.1% -> 0.3%; on frames of a
# steady squint the drawn opening changes by 0.047 a frame instead of 0.037 (the steeper line
# passes on more of dlib's jitter; keeping every closing under 0.5 unsmoothed instead of the deep
# dips only: 0.063)
SHUT_READS = 0.45
STEEP_FROM = 0.8
# FaceMesh's lid gap (`preprocess.face_mesh.eye_openings`) reads the bottom of a blink at 0.1-0.35
# of the open eye (the lashes and a lid's shadow keep a little of it), a squint as it is
MESH_SHUT_READS = 0.2
MESH_STEEP_FROM = 0.7
KEPT_DIP = 0.15
# gaze (half lengths of the eye): the pixel reading of the iris moves ~1.25x as far as FaceMesh's
# iris points (dev lp_d0, lp_d14), hence the gain; an iris moved further than MAX_GAZE stops there
GAZE_GAIN = 0.8
MAX_GAZE = 0.55
GAZE_SMOOTHING = 1.5  # gaussian sigma, frames
GAZE_DEADZONE = 0.05  # the pixel reading wanders by a std of 0.03-0.08 where the eyes hold still
GAZE_OPEN = 0.75  # an eye less open than this (relative to the reference) is not read


def _smooth(series: np.ndarray, sigma: float) -> np.ndarray:
    """(T, 2) gaussian-smoothed along T (zero phase, edges replicated)."""
    radius = int(np.ceil(2 * sigma))
    if sigma <= 0 or radius < 1 or len(series) < 2:
        return series
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(series, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, e], taps, mode="valid") for e in range(series.shape[1])],
                    axis=1)


def lid_openings(ratios: np.ndarray, shut_reads: float = SHUT_READS,
                 steep_from: float = STEEP_FROM) -> np.ndarray:
    """How open to draw an eye whose opening is read at `ratios` x the reference's: the ratio
    itself from `steep_from` up, 0 at `shut_reads` and under, linear in between (defaults:
    dlib's aspect ratio)."""
    ratios = np.asarray(ratios, dtype=np.float64)
    closing = steep_from * (ratios - shut_reads) / (steep_from - shut_reads)
    return np.where(ratios >= steep_from, ratios, np.maximum(closing, 0.0))


def eye_ratios(landmarks: list[np.ndarray | None], reference: np.ndarray | None,
               opening: np.ndarray | None = None) -> np.ndarray:
    """(T, 2) per frame and eye: how open to draw the eye, from the driver's eye opening over its
    opening in `reference` (the driving frame motion is measured from; `lid_openings`: a shut
    eye's ratio, as dlib reads it, is drawn shut), lightly smoothed over time (a dip of more than
    `KEPT_DIP` under the smoothed opening is kept: a blink's bottom stays shut); 1 where a frame
    has no landmarks (the lids stay as the model renders them) and everywhere without a reference
    or with a reference whose eye is shut (nothing to measure an opening against). opening: (2,)
    the aspect ratios to measure against instead of the reference's own
    (`pipelines.eye_reference`)."""
    ratios = np.ones((len(landmarks), 2))
    if reference is None or not landmarks:
        return ratios
    base = eye_aspect_ratios(reference) if opening is None else np.asarray(opening, np.float64)
    found = [i for i, points in enumerate(landmarks) if points is not None]
    if found:
        measured = eye_aspect_ratios(np.stack([landmarks[i] for i in found])) / np.maximum(base, 1e-9)
        ratios[found] = lid_openings(measured)
    ratios[:, base < EYE_OPEN] = 1.0
    return _drawn(ratios)


def mesh_eye_ratios(openings: np.ndarray, base: np.ndarray) -> np.ndarray:
    """(T, 2) per frame and eye: how open to draw the eye, from the driver's eye `openings` as
    FaceMesh reads them ((T, 2) `preprocess.face_mesh.eye_openings`, NaN: no reading) over `base`
    ((2,), the same in the frame motion is measured from), mapped by `lid_openings` with
    FaceMesh's `MESH_SHUT_READS` and `MESH_STEEP_FROM` and smoothed as `eye_ratios` does; 1 where
    a frame has no reading and for an eye shut in `base`."""
    openings = np.asarray(openings, dtype=np.float64)
    base = np.asarray(base, dtype=np.float64)
    if openings.ndim != 2 or openings.shape[1:] != (2,) or base.shape != (2,):
        raise ValueError(f"openings, base: expected (T, 2) and (2,), got {openings.shape} and "
                         f"{base.shape}")
    ratios = np.ones(openings.shape)
    read = np.isfinite(openings).all(axis=1)
    if read.any() and np.isfinite(base).all():
        ratios[read] = lid_openings(openings[read] / np.maximum(base, 1e-9), MESH_SHUT_READS,
                                    MESH_STEEP_FROM)
        ratios[:, base < EYE_OPEN] = 1.0
    return _drawn(ratios)


def _drawn(ratios: np.ndarray) -> np.ndarray:
    """(T, 2) ratios lightly smoothed over time, a dip more than `KEPT_DIP` under the smoothed
    value kept (a blink's bottom stays shut), within [0, `MAX_GAIN`]."""
    smoothed = _smooth(ratios, SMOOTHING)
    smoothed = np.where(ratios < smoothed - KEPT_DIP, ratios, smoothed)
    return np.clip(smoothed, 0.0, MAX_GAIN)


def gaze_shifts(positions: list[np.ndarray | None] | None, reference: np.ndarray | None,
                openings: np.ndarray | None = None) -> np.ndarray:
    """(T,) per frame, how far the photo's irises move along their eyes, in half eye lengths (+
    toward each eye's second corner: the image's right on an upright face): the driver's change
    of iris position since `reference` ((2,) per eye, `preprocess.gaze.iris_positions`), both
    eyes averaged (they turn together), held through frames where neither can be read, smoothed
    over time, less `GAZE_DEADZONE` (soft), x `GAZE_GAIN`, within +-`MAX_GAZE`. positions: per
    frame (2,) or None (no face); openings: (T, 2) each eye's opening relative to the reference
    (`eye_ratios`), or None: an eye under `GAZE_OPEN` of it is not read (a closing lid covers the
    iris unevenly, and its dark centre moves: on dev grid_bbaf2n the reading's std over time is
    0.10 with such frames, 0.04 without). Zeros where nothing can be read."""
    if not positions:
        return np.zeros(0)
    shifts = np.zeros(len(positions))
    base = None if reference is None else np.asarray(reference, dtype=np.float64)
    if base is None or not np.isfinite(base).any():
        return shifts
    held = 0.0
    for index, position in enumerate(positions):
        if position is not None:
            change = np.asarray(position, dtype=np.float64) - base
            if openings is not None:
                change = np.where(np.asarray(openings[index]) >= GAZE_OPEN, change, np.nan)
            if np.isfinite(change).any():
                held = float(np.nanmean(change))
        shifts[index] = held
    # clipped before smoothing too, so that a misreading does not spill onto its neighbours
    limit = MAX_GAZE / GAZE_GAIN + GAZE_DEADZONE
    smoothed = _smooth(np.clip(shifts, -limit, limit)[:, None], GAZE_SMOOTHING)[:, 0]
    # the reading's wander on still eyes is not passed on: changes under GAZE_DEADZONE count as
    # none, larger ones from there (a soft threshold)
    steady = np.sign(smoothed) * np.maximum(np.abs(smoothed) - GAZE_DEADZONE, 0)
    return np.clip(steady * GAZE_GAIN, -MAX_GAZE, MAX_GAZE)
