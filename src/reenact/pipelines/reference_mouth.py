"""dub's own-mouth drawing (mouth="reference"): which two frames of the video it draws from, and
the drawing of every output frame.

- the rest frame: a closed mouth in the video's usual pose (`rest_frame_index`);
- the reference frame: the most open mouth in the rest frame's pose (`reference_frame_index`);
  one opened less than `OWN_OPENING` is opened further and its inside painted
  (`reenact.pipelines.portrait_mouth.open_reference`);
- each output frame: the rest face carried to the frame's pose, opened by the speech
  (`reenact.pipelines.articulation.speech_target`), the reference's lower face warped onto it
  (`reenact.postprocess.mouth_warp`); a nearly shut mouth is drawn from the rest frame's closed
  one instead, blended into the reference's up to `SHUT_BLEND_OPENING`.

Why the rest frame for closures: the reference's lips squeezed shut keep the dark edge of its
open mouth between them, which FaceMesh (and a viewer) reads as parted lips: on the dev GRID clips
dub's inner-lip gap never fell under 17% of its maximum, where the real videos' closures reach 1%.

Landmarks are (T, 68, 2) image pixels, NaN where there is no face.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from reenact.motion import closed_mouth_frames
from reenact.pipelines.articulation import speech_target
from reenact.pipelines.portrait_mouth import OWN_OPENING, open_reference, parted_mix
from reenact.point_geometry import apply_affine, similarity_fit
from reenact.postprocess.mouth_warp import MouthWarp
from reenact.preprocess.expressions import POSE_LANDMARKS, interocular_distance
from reenact.preprocess.face_track import FaceTrack
from reenact.smoothing import gaussian_smooth

logger = logging.getLogger(__name__)

REFERENCE_QUANTILE = 0.9  # the reference frame's mouth is among the video's most open ones...
REFERENCE_POSE_TOLERANCE = 0.05  # ...in the rest frame's pose (interocular distances)
LANDMARK_SMOOTHING = 1.0  # frames: Gaussian sigma of the landmark tracks the mouth is drawn on
# openings (inner-lip gap over interocular distance) under this are drawn partly from the rest
# frame's closed mouth: all of it at 0, none at this (a real mouth in speech is under 0.03 a
# quarter of the time, FaceMesh on dev clips)
SHUT_BLEND_OPENING = 0.04
# what is drawn: the hull of the jaw from below the cheeks (4-12), the nose's base and the lips,
# not the cheeks up to the eyes (2, 3, 13, 14): a reference frame in another pose than the frame
# (a head turned aside) drew its own cheek there, glasses' rims and all
DRAWN_REGION = (*range(4, 13), *range(31, 36), *range(48, 68))


def _aligned(landmarks: np.ndarray, onto: np.ndarray) -> np.ndarray:
    """(68, 2) `landmarks` moved by the similarity that best maps their pose landmarks onto
    `onto`'s."""
    pose = list(POSE_LANDMARKS)
    return apply_affine(similarity_fit(landmarks[pose], onto[pose]), landmarks)


def rest_frame_index(landmarks: np.ndarray, opening: np.ndarray, quantile: float) -> int:
    """The closed-mouth frame most like the video's rest face: of the frames whose mouth opening is
    at or below its `quantile` (`reenact.motion.closed_mouth_frames`), the one whose landmarks,
    aligned by their pose landmarks, lie nearest the median of them all.

    landmarks: (T, 68, 2) image pixels (NaN where no face); opening: (T,) (NaN: no face).
    """
    closed = np.flatnonzero(closed_mouth_frames(opening, quantile))
    if len(closed) == 0:
        raise ValueError("opening: no frame has a face")
    first = landmarks[closed[0]]
    shapes = np.stack([_aligned(landmarks[c], first) for c in closed])  # (C, 68, 2)
    median = np.median(shapes, axis=0)
    return int(closed[int(np.linalg.norm(shapes - median, axis=2).mean(axis=1).argmin())])


def reference_frame_index(landmarks: np.ndarray, opening: np.ndarray, rest_index: int,
                          quantile: float = REFERENCE_QUANTILE) -> int:
    """The frame whose mouth dub draws: of the frames whose mouth opening (NaN: no face) is at or
    above its `quantile` over the video, the most open one whose face has the rest frame's pose:
    pose landmarks, once the similarity that best maps them onto the rest frame's is applied,
    within `REFERENCE_POSE_TOLERANCE` interocular distances of them on average (if none is, the
    nearest). A wide reference keeps drawn openings from stretching its inside.

    landmarks: (T, 68, 2) image pixels (NaN where no face); opening: (T,).
    """
    found = np.flatnonzero(np.isfinite(opening))
    if len(found) == 0:
        raise ValueError("opening: no frame has a face")
    threshold = np.quantile(opening[found], quantile)
    candidates = found[opening[found] >= threshold]
    pose = list(POSE_LANDMARKS)
    rest = landmarks[rest_index]
    residuals = np.array([np.linalg.norm(_aligned(landmarks[c], rest)[pose] - rest[pose],
                                         axis=1).mean() for c in candidates])
    residuals /= max(float(interocular_distance(rest)), 1e-9)
    posed = residuals <= REFERENCE_POSE_TOLERANCE
    if not posed.any():
        return int(candidates[int(np.argmin(residuals))])
    return int(candidates[posed][int(np.argmax(opening[candidates[posed]]))])


def smoothed_landmarks(track: FaceTrack, sigma: float = LANDMARK_SMOOTHING) -> np.ndarray:
    """(T, 68, 2) the track's landmarks low-passed over time (Gaussian, `sigma` frames), each run of
    frames with a face on its own; NaN where there is none."""
    landmarks = track.landmark_array().copy()
    found = np.concatenate([[False], track.found, [False]])
    starts = np.flatnonzero(found[1:] & ~found[:-1])
    ends = np.flatnonzero(~found[1:] & found[:-1])
    for start, end in zip(starts, ends, strict=True):
        landmarks[start:end] = gaussian_smooth(landmarks[start:end], sigma)
    return landmarks


def drawn_frames(landmarks: np.ndarray, opening: np.ndarray, rest_quantile: float,
                 name: str) -> tuple[int, int]:
    """(rest frame, reference frame) of a video (`rest_frame_index`, `reference_frame_index`),
    logging (naming `name`) when even the reference's mouth opens too little to show its inside."""
    rest_index = rest_frame_index(landmarks, opening, rest_quantile)
    reference_index = reference_frame_index(landmarks, opening, rest_index)
    if opening[reference_index] < OWN_OPENING:
        logger.info("%s: the mouth opens at most %.2f interocular distances in this video: its "
                    "inside (teeth, tongue) is painted where the speech opens it wider",
                    name, opening[reference_index])
    return rest_index, reference_index


def draw_mouths(frames: Iterator[np.ndarray], indices: np.ndarray, track: FaceTrack,
                opening: np.ndarray, *, rest_index: int, reference_index: int,
                reference_frame: np.ndarray, grow: float, feather: float,
                rest_frame: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Output frames in order: `frames` yields video frame indices[i] as output frame i, drawn
    with the mouth opened by opening[i] (inner-lip gap over interocular distance). grow, feather:
    the mask's margin and softness, fractions of the frame's crop side. rest_frame: the video's
    frame rest_index, (H, W, 3) uint8, whose closed mouth draws openings under
    `SHUT_BLEND_OPENING` (None: the reference draws them all)."""
    landmarks = smoothed_landmarks(track)
    rest = landmarks[rest_index]
    # a reference that barely opens has no inside to show: its mouth is opened and the inside
    # painted, as talk does with a portrait (`open_reference`; one open enough is kept as it is)
    reference_frame, reference_landmarks = open_reference(
        reference_frame, landmarks[reference_index], track.boxes[reference_index].side)
    warp = MouthWarp(reference_frame, reference_landmarks)
    # the rest frame's pixels with its own (unsmoothed) landmarks
    shut_warp = (None if rest_frame is None
                 else MouthWarp(rest_frame, track.landmark_array()[rest_index]))
    for i, (j, frame) in enumerate(zip(indices.tolist(), frames, strict=True)):
        if not track.found[j]:
            yield frame
            continue
        side = track.boxes[j].side
        amount = max(float(opening[i]), 0.0)
        target = speech_target(landmarks[j], rest, amount)
        kwargs = dict(frame_landmarks=landmarks[j], grow=grow * side, feather=feather * side,
                      region=DRAWN_REGION)
        if shut_warp is None or amount >= SHUT_BLEND_OPENING:
            yield warp.render(frame, target, **kwargs)
            continue
        shut = shut_warp.render(frame, target, **kwargs)
        weight = amount / SHUT_BLEND_OPENING
        yield shut if weight == 0 else parted_mix(shut, warp.render(frame, target, **kwargs), weight,
                                                  target)
