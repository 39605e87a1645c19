"""Speech's mouth opening as the anchored keypoints of an opened mouth, drawn on the portrait's
own landmarks (talk with a face-anchored model).

An audio model's "mouth open" output is a coefficient (the mouth-opening measure: inner-lip gap
over interocular distance, `reenact.preprocess.expressions.mouth_opening`) times a direction in
keypoint space fitted by least squares over many faces. For a face-anchored motion model that fit
is poor (it explains a few percent of the keypoint motion) and mixes lip swelling into the opening:
scaled up, lips pout instead of parting. Here the coefficient is kept and the direction is rebuilt
from geometry: the portrait's 68 landmarks with the mouth opened by a given inner-lip gap (the jaw
drops: lower lip and chin move down, the upper lip a little up), turned into anchors as in
`animate` (`reenact.preprocess.anchors`). Anchors are linear in the landmarks, so the motion per
unit of opening is one vector per portrait.
"""

from __future__ import annotations

import numpy as np
import torch

from reenact.audio.phones import decoder_available
from reenact.checkpoint.audio_format import AudioCheckpoint
from reenact.containers import Keypoints
from reenact.motion import motion_between
from reenact.point_geometry import apply_affine, similarity_fit
from reenact.postprocess.mouth_mask import MOUTH_LANDMARKS
from reenact.preprocess.anchors import anchor_keypoints, pixels_to_normalized, replace_anchors
from reenact.preprocess.expressions import (
    INNER_LIP_PAIRS,
    RIGID_LANDMARKS,
    check_face_landmarks,
    face_down,
    interocular_distance,
    mouth_opening,
)

# share of an inner-lip gap increase that moves each landmark down (+) or up (-): the jaw carries
# the lower lip and chin, the upper lip rises a little, the corners move half-way
OPENING_SHARES: dict[int, float] = {
    **{i: 0.8 for i in (55, 56, 57, 58, 59, 65, 66, 67)},  # lower lip, outer and inner
    **{i: -0.2 for i in (61, 62, 63)},  # upper inner lip
    **{i: -0.1 for i in (49, 50, 51, 52, 53)},  # upper outer lip
    48: 0.3, 54: 0.3, 60: 0.3, 64: 0.3,  # mouth corners
    **{i: 0.8 for i in (6, 7, 8, 9, 10)},  # chin
    5: 0.5, 11: 0.5, 4: 0.25, 12: 0.25,  # jaw sides
}
# landmarks that speech moves: the lower jaw line, the chin and the lips
SPEECH_LANDMARKS = (*range(3, 14), *range(48, 68))
# drawn openings are the audio model's x this: its output varies less than real mouths (a
# regression's shrinkage); on the 10 non-eval talking clips it trained on (7 GRID, 3 presenters), the
# std of FaceMesh's inner-lip gap over the std of `drawn_opening` x 1 is 1.42 pooled (1.1-3.8 per
# clip), measured 2026-12-03. dlib's and FaceMesh's gaps agree in scale there (slope 0.86, r 0.91).
DRAWN_OPENING_GAIN = 1.4
# the same where the speech's phones shape the motion (`audio_motion.phone_factor`: shut on p/b/m,
# wider on open vowels), which makes it vary more: on 504 non-dev training clips (18,956 speech
# frames) the gap's std over the commanded opening's is 1.26 pooled without the phones and 0.86
# with them (per-clip medians 1.46 and 0.81), so the gain above x 0.86 / 1.26 (2026-12-05). With
# 1.4, dub's mouths opened 1.3x the real ones on dev clips (GRID and presenters) and 1.5x held out.
DRAWN_OPENING_GAIN_PHONES = 0.95
# the opening the direction is measured at (mouth-opening units); anchors are linear in it
_PROBE = 0.1


def open_mouth(landmarks: np.ndarray, opening: float) -> np.ndarray:
    """(68, 2) landmarks (pixels, y down) with the inner-lip gap grown by `opening` interocular
    distances (negative closes), along the face's own down (square to its eye line: a tilted head's
    jaw drops along its tilt)."""
    points = check_face_landmarks(landmarks).copy()
    step = opening * float(interocular_distance(points)) * face_down(points)  # (2,)
    for index, share in OPENING_SHARES.items():
        points[index] += share * step
    return points


def close_lips(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks with the inner lips meeting: each upper/lower inner-lip pair moved to its
    midpoint (dlib leaves a gap between pressed lips; a drawn closure must have none)."""
    points = check_face_landmarks(landmarks).copy()
    for upper, lower in INNER_LIP_PAIRS:
        points[[upper, lower]] = (points[upper] + points[lower]) / 2
    return points


def uncrossed(landmarks: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
    """(68, 2) landmarks whose inner lips cross no further than the photo's own at `rest` ((68,
    2), whose gap is scaled by the two faces' interocular distances; without it, not at all):
    each upper/lower inner-lip pair whose lower point is above that floor (along the face's down,
    `face_down`) is moved apart to it, the two points equally, the others kept. A driver's change
    carried onto a photo's closed lips crosses them where the driver's mouth was parted at its
    reference frame and then shut (dev statue x lp_d3: the upper inner lip 3 px below the lower),
    and the photo's lips warped onto crossed lines fold their mesh into a jagged black seam; dlib's
    own reading of pressed lips may cross a little, which is the photo itself."""
    points = check_face_landmarks(landmarks).copy()
    down = face_down(points)
    if rest is not None:
        rest = check_face_landmarks(rest, "rest")
        rest_down = face_down(rest)
        scale = float(interocular_distance(points)) / max(float(interocular_distance(rest)), 1e-9)
    for upper, lower in INNER_LIP_PAIRS:
        floor = 0.0 if rest is None else min(
            0.0, scale * float((rest[lower] - rest[upper]) @ rest_down))
        gap = float((points[lower] - points[upper]) @ down)
        if gap < floor:
            step = (floor - gap) / 2 * down
            points[upper] -= step
            points[lower] += step
    return points


def shut_mouth(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks with the mouth shut as `open_mouth` would have opened it: moved back by
    their inner-lip gap (the lower lip and chin rise with it), then the lips made to meet
    (`close_lips`). `open_mouth(shut_mouth(x), mouth_opening(x))` is x's mouth again, where
    closing only the lips would leave an open mouth's lower lip and chin down and a drawn
    opening would drop them twice."""
    points = check_face_landmarks(landmarks)
    return close_lips(open_mouth(points, -float(mouth_opening(points))))


def speech_target(frame_landmarks: np.ndarray, rest_landmarks: np.ndarray,
                  opening: float) -> np.ndarray:
    """(68, 2) where a frame's landmarks go when its mouth says the new speech.

    The lips are the rest face's (a closed-mouth frame's landmarks), carried onto the frame's
    pose by the similarity that best maps its `RIGID_LANDMARKS` onto the frame's and closed
    (`close_lips`), so nothing of the frame's own lips (the old speech's shapes) is left. The jaw
    line and chin are the frame's own with its old opening taken back (`shut_mouth`): a similarity
    cannot turn a frontal jaw line with a head that looks aside, and a carried one stood off the
    turned face by up to a fifth of its width (the drawing took the background and the glasses
    into the lower face). The whole is then opened by `opening` (inner-lip gap over interocular
    distance, `open_mouth`), and those positions replace the frame's `SPEECH_LANDMARKS`. Both
    inputs are (68, 2) in the same pixels.
    """
    frame = check_face_landmarks(frame_landmarks, "frame_landmarks").copy()
    rest = check_face_landmarks(rest_landmarks, "rest_landmarks")
    pose = list(RIGID_LANDMARKS)
    shaped = shut_mouth(frame)
    lips = list(MOUTH_LANDMARKS)
    shaped[lips] = close_lips(apply_affine(similarity_fit(rest[pose], frame[pose]), rest))[lips]
    spoken = open_mouth(shaped, max(float(opening), 0.0))
    frame[list(SPEECH_LANDMARKS)] = spoken[list(SPEECH_LANDMARKS)]
    return frame


def opening_motion(kp_source: Keypoints, landmarks: np.ndarray, groups: tuple[str, ...],
                   size: int) -> torch.Tensor:
    """(K * 6,) keypoint motion per unit of mouth opening for the source whose keypoints are
    `kp_source` (batch 1, anchored first) and whose landmarks are `landmarks` ((68, 2) crop pixels
    of a `size` crop). Only the anchored keypoints move."""
    opened = open_mouth(landmarks, _PROBE)
    normalized = torch.from_numpy(pixels_to_normalized(np.stack([landmarks, opened]), size))
    anchors = anchor_keypoints(normalized.to(kp_source.value.dtype), groups)
    closed_kp = replace_anchors(kp_source, anchors[0])
    open_kp = replace_anchors(kp_source, anchors[1])
    return motion_between(open_kp, closed_kp).flat()[0] / _PROBE


def opening_coefficients(motion: np.ndarray, fitted: torch.Tensor) -> np.ndarray:
    """(T,) float64 the coefficients of (T, K * 6) motion along a (K * 6,) direction:
    c_t = <m_t, fitted> / |fitted|^2 (all 0 for a zero direction)."""
    fitted = fitted.double().numpy()
    norm = float(fitted @ fitted)
    if norm <= 0:
        return np.zeros(len(motion))
    return motion.astype(np.float64) @ fitted / norm


def speech_opening(motion: np.ndarray, checkpoint: AudioCheckpoint) -> np.ndarray:
    """(T,) the mouth opening (inner-lip gap over interocular distance, added to a closed mouth)
    that (T, K * 6) speech motion from `checkpoint` commands: its coefficient along the audio
    model's fitted "mouth_open" direction; 0 without one."""
    if "mouth_open" not in checkpoint.directions.names:
        return np.zeros(len(motion), np.float32)
    fitted = checkpoint.directions.vector("mouth_open")
    return opening_coefficients(motion, fitted).astype(np.float32)


def silence_opening(checkpoint: AudioCheckpoint, seconds: float = 2.0, *,
                    features_of=None) -> float:
    """The opening (as `speech_opening` reads it) that `checkpoint` commands when nobody speaks: its
    mean over the last second of `seconds` of digital silence. The bundled audio model says 0.06
    there, an offset that keeps a mouth drawn from its opening from ever closing. features_of:
    the log-mel function (`reenact.pipelines.audio_motion.FeatureFunction`; default
    `clip_features`)."""
    from reenact.audio.features import clip_features
    from reenact.io.audio import AudioClip
    from reenact.pipelines.audio_motion import model_motion

    rate = checkpoint.features.sample_rate
    silence = AudioClip(np.zeros(round(seconds * rate), np.float32), rate)
    motion = model_motion(silence, checkpoint, device=torch.device("cpu"),
                          features_of=features_of or clip_features)
    return float(speech_opening(motion, checkpoint)[-int(checkpoint.fps):].mean())


def drawn_opening(motion: np.ndarray, gate: np.ndarray, checkpoint: AudioCheckpoint, *,
                  features_of=None, phones: bool = False) -> np.ndarray:
    """(T,) the inner-lip gap (over interocular distance) to draw from (T, K * 6) gated speech
    motion and its (T,) voice gate: the commanded opening less the model's silence offset
    (`silence_opening`, as much of it as the gate lets through), x `DRAWN_OPENING_GAIN`, never
    below 0 (lips shut). phones: the motion was made with `speech_motion(phones=True)`; where the
    phone decoder is there to shape it, the gain is `DRAWN_OPENING_GAIN_PHONES` instead.
    features_of: as `silence_opening`'s."""
    offset = silence_opening(checkpoint, features_of=features_of) * np.asarray(gate, np.float32)
    gain = DRAWN_OPENING_GAIN_PHONES if phones and decoder_available() else DRAWN_OPENING_GAIN
    opening = (speech_opening(motion, checkpoint) - offset) * gain
    return np.maximum(opening, 0).astype(np.float32)


def reexpress_opening(motion: np.ndarray, fitted: torch.Tensor,
                      geometric: torch.Tensor) -> np.ndarray:
    """(T, K * 6) speech motion along the fitted mouth-open direction -> the same coefficients
    along the geometric one: c_t = <m_t, fitted> / |fitted|^2, out_t = c_t * geometric."""
    coefficients = opening_coefficients(motion, fitted)  # (T,)
    return (coefficients[:, None] * geometric.double().numpy()[None, :]).astype(motion.dtype)
