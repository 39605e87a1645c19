"""What the driver's eyes are measured against in relative motion: the driving frame motion starts
from, unless that frame caught an eye closing.

Relative motion reads every change from one driving frame (the first, or `--find-best-frame`'s) and
gives the photo that change. A driving video that starts in a blink or a squint reads every later
open eye as an eye opened wide: the README's own driving sample is at 0.80 / 0.67 of its median
opening on frame 0 (0.62 / 0.59 on frames 1-2), so the portrait's eyes were drawn over 1.2x open on
72 of its 85 frames (median 1.46x; the cap is 1.5x), a startled stare, and its irises turned from
readings taken through half-shut lids. A portrait's eyes are at rest, and a blink lasts a few frames
(both eyes together): where the reference frame's eyes are less open than `RESTING_SHARE` of their
median opening over the video (the two eyes' shares averaged), each eye is measured against its
median instead, and its iris against its median position over the frames where it is open. Eyes as
open as that or wider keep the reference frame's opening (a video that starts wide-eyed and then
narrows them, as dev lp_d3 does at 2.1x its median, is an expression).

Of the 17 non-held-out driving and talking videos (10 LivePortrait, 5 TPSMM / VR, 2 MuseTalk;
medians over their first 150 frames), the lowest starts are lp_d12 (0.90 / 0.78 of its median
opening; 0.84 averaged), vr_3 (0.89 / 0.84) and vr_1 (0.89 / 0.90): squints that stay, not
blinks; the sample starts at 0.74 averaged.
"""

from __future__ import annotations

import numpy as np

from reenact.pipelines.animate_options import DRAWN_EYES, AnimateOptions
from reenact.pipelines.driving_track import DrivingTrack, PreparedSource, track_landmarks
from reenact.postprocess.eye_motion import GAZE_OPEN, eye_ratios, gaze_shifts, mesh_eye_ratios
from reenact.preprocess.expressions import eye_aspect_ratios
from reenact.preprocess.gaze import iris_positions

RESTING_SHARE = 0.8  # reference eyes under this share of their median opening are caught closing
MESH_CLOSING = 0.5  # FaceMesh's drawn opening under which it overrides dlib's (`with_closings`)


def resting_openings(landmarks: list[np.ndarray | None],
                     reference: np.ndarray) -> tuple[np.ndarray, bool]:
    """(2,) per eye the aspect ratio to measure the driver's opening against, and whether the eyes
    were caught closing at the `reference` frame ((68, 2)) and take their median openings over
    `landmarks` (per frame (68, 2) or None) instead."""
    found = [points for points in landmarks if points is not None]
    readings = eye_aspect_ratios(np.stack(found)) if found else np.zeros((0, 2))
    return resting_values(readings, eye_aspect_ratios(reference))


def resting_values(readings: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, bool]:
    """(2,) per eye the opening to measure against, and whether `own` ((2,), the reference
    frame's) caught the eyes closing: under `RESTING_SHARE` of their median over `readings`
    ((T, 2), rows with NaN skipped), which it then is."""
    readings = readings[np.isfinite(readings).all(axis=1)]
    if not len(readings):
        return own, False
    typical = np.median(readings, axis=0)
    caught = bool(np.mean(own / np.maximum(typical, 1e-9)) < RESTING_SHARE)
    return (typical if caught else own), caught


def resting_irises(irises: list[np.ndarray | None], start: int, openings: np.ndarray,
                   caught: bool) -> np.ndarray:
    """(2,) the iris positions the driver's gaze is measured from: the `start` frame's, or where
    the eyes were `caught` closing there, each eye's median position over the frames where it is
    at least `GAZE_OPEN` open (`openings`: (T, 2) relative to its resting opening); NaN where
    nothing reads."""
    if not caught:
        if 0 <= start < len(irises) and irises[start] is not None:
            return np.asarray(irises[start], dtype=np.float64)
        return np.full(2, np.nan)
    base = np.full(2, np.nan)
    for eye in range(2):
        readings = [float(position[eye]) for position, opening in zip(irises, openings)
                    if position is not None and opening[eye] >= GAZE_OPEN
                    and np.isfinite(position[eye])]
        if readings:
            base[eye] = float(np.median(readings))
    return base


def eye_reference(track: DrivingTrack, source: PreparedSource, options: AnimateOptions,
                  from_best: bool) -> np.ndarray | None:
    """(68, 2) the landmarks the driver's eyes are measured against: the driving frame relative
    motion starts from (`from_best`: the best-matching pose's, else the first), or (absolute
    motion) the photo's. None where the lids are left to the model: eyes="model", or no landmarks
    on either side."""
    if options.eyes not in DRAWN_EYES or track.landmarks is None or source.landmarks is None:
        return None
    if not options.relative:
        return source.landmarks
    return track_landmarks(track, track.best_index if from_best else 0)


def with_closings(ratios: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """(T, 2) `ratios` (dlib's, `eye_ratios`) closed further where FaceMesh's (`mesh`,
    `mesh_eye_ratios`) draw an eye under `MESH_CLOSING` of its opening: a blink or squint that
    dlib's points miss. Elsewhere dlib's stay, which follow small changes of an open eye better
    than the FaceMesh port read on a small face (dev GRID clips: FaceMesh eye r 0.91 -> 0.64 with
    FaceMesh's ratios throughout)."""
    return np.where(mesh < MESH_CLOSING, np.minimum(ratios, mesh), ratios)


def driver_eyes(track: DrivingTrack, source: PreparedSource, options: AnimateOptions,
                from_best: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """What animate draws on the photo's eyes: the reference landmarks (`eye_reference`), per
    frame (T, 2) how open each eye is drawn relative to the photo's (`eye_motion.eye_ratios`, from
    dlib's lids, closed further where pass 1b's FaceMesh reads an eye closing, `with_closings`;
    from the eyes' rest where the reference frame caught them closing) and (T,) how far the irises move
    (`eye_motion.gaze_shifts`; None where irises are not read); None where the lids are the model's."""
    reference = eye_reference(track, source, options, from_best)
    if reference is None:
        return None
    opening, caught = None, False
    if options.relative:
        opening, caught = resting_openings(track.landmarks, reference)
    ratios = eye_ratios(track.landmarks, reference, opening)
    start = (track.best_index if from_best else 0) or 0
    mesh = track.eye_openings
    if options.relative and mesh is not None and start < len(mesh) \
            and np.isfinite(mesh[start]).all():  # FaceMesh's lids, read in pass 1b
        ratios = with_closings(ratios, mesh_eye_ratios(mesh, resting_values(mesh, mesh[start])[0]))
    if track.irises is None:
        return reference, ratios, None
    if options.relative:
        base = resting_irises(track.irises, start, ratios, caught)
    else:  # absolute motion: the driver's gaze against the photo's
        base = iris_positions(source.image, source.landmarks)
    return reference, ratios, gaze_shifts(track.irises, base, ratios)
