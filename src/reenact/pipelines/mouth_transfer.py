"""The driver's change of mouth, relative to its initial frame, carried onto a portrait's face
(animate with mouth="drawn", which draws it with talk's open-mouth reference,
`reenact.pipelines.portrait_mouth`).

Two parts, so that a portrait opens its own mouth by the driver's *change* and keeps its lips:
- the opening: the driver's inner-lip gap over interocular distance (`mouth_opening`) less its
  value in the initial frame, added to the portrait's own opening (a portrait whose mouth is
  closed, not `portrait_mouth.parted`, counts as shut: dlib leaves a gap between pressed lips). A closed
  initial frame is measured from the driver's closed reading instead, the low end of its
  readings over the video (`CLOSED_PERCENTILE`): dlib reads the same pressed lips anywhere from 0
  to ~0.09 apart, so a closed initial frame read high took that much off every opening (dev
  grid_brbk7n: 0.086 at the start, 0.02 when the lips meet later; its widest opening was drawn a
  slit);
- the shape: every other change of the lips and jaw (a smile widens the corners, a pout pulls
  them in), measured in the initial frame's pose (a similarity on landmarks that speech does not
  move), less the part the opening explains (`open_mouth`'s shares), and carried onto the
  portrait by the similarity between the two faces' pose landmarks (rotation and size only); the
  jaw line's change as the one affine map that fits it best (`JAW_LINE`).
- the bite: lips parted with the jaw shut, drawn with the teeth together rather than an open
  mouth's dark inside. A grin: the mouth widens (corners out by 0.08-0.2 interocular distances,
  `portrait_mouth.GRIN_WIDENING`) while the chin drops less than 0.3-0.6 of the lips' gap change
  (`BITE_RATIO`). Dev drivers: lp_d0's grin widens 0.32 and its chin drops 0.25 of the gap;
  lp_d18 and lp_d10 opening wide drop it 0.8-1.1; speech (vr_1) widens 0.02, and there dlib's
  chin alone, which hardly moves, would have shut the teeth. A grin that parts the lips without
  widening the mouth (dev lp_d14) is told by its pixels instead: where the driving frames are
  read, a mouth whose inside stays mostly teeth (`preprocess.teeth.teeth_share`, smoothed over
  about a third of a second, over 0.55-0.68) bites too. Smoothed so, the grins of dev drivers
  lp_d14, lp_d0 and lp_d19 read 0.66-0.76; 35 dev speech clips (GRID, presenters, PC-AVS,
  V-Express, Arabic anchors) at most 0.52, though single frames of speech reach 0.67: a grin is
  held, the teeth of speech flash.
All are lightly smoothed over time: dlib's lips jitter by a pixel or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reenact.pipelines.articulation import SPEECH_LANDMARKS, open_mouth
from reenact.pipelines.portrait_mouth import grin, parted_by
from reenact.point_geometry import affine_part, apply_affine, similarity_fit
from reenact.preprocess.expressions import (
    RIGID_LANDMARKS,
    check_face_landmarks,
    face_down,
    interocular_distance,
    mouth_opening,
    mouth_width,
)
from reenact.smoothing import gaussian_smooth

SMOOTHING = 0.7  # gaussian sigma, frames, over the openings and shapes
# the chin's drop over the lips' gap change (both since the initial frame, interocular distances)
# below which the teeth are together (bite 1) and above which the jaw is open (bite 0)
BITE_RATIO = (0.3, 0.6)
BITE_SMOOTHING = 1.5  # gaussian sigma, frames, over the bite (dlib's chin is noisier)
BITE_TEETH = (0.55, 0.68)  # the share of the driver's parted mouth that is teeth: none to a grin's
TEETH_SMOOTHING = 4.0  # gaussian sigma, frames, over that share
_BITE_FLOOR = 0.08  # gap changes under this count as this much (a ratio of small numbers is noise)
INNER_LIPS = tuple(range(60, 68))  # dlib's inner lips: their gap is what `opening_scale` scales
CLOSED_PERCENTILE = 10  # of the driver's gaps: its reading of closed lips (speech closes them often)
# the lower jaw line, whose change is carried as one affine map (the jaw is one bone): point by
# point, a turning driver's jaw outline (dlib's points slide along it) bent the portrait's chin
# into a point with every syllable (the README video)
JAW_LINE = tuple(range(3, 14))


@dataclass(frozen=True)
class MouthChanges:
    """Per output frame, what the portrait's mouth does.

    shapes: (T, 68, 2) the portrait's landmarks (its image pixels, its own pose) with the driver's
    change of lip and jaw shape, the opening's part removed; openings: (T,) the inner-lip gap to
    draw (interocular distances, >= 0); bites: (T,) in [0, 1], how much the inside is the teeth
    together rather than an open jaw."""

    shapes: np.ndarray
    openings: np.ndarray
    bites: np.ndarray

    def __len__(self) -> int:
        return len(self.openings)


def closed_start(landmarks: Sequence[np.ndarray | None], reference: np.ndarray,
                 pale: float = np.nan) -> float:
    """The driver's inner-lip gap to measure openings from: the `reference` frame's, or where that
    is a closed mouth (not `parted_by` its gap and its inside's `pale` share; NaN: not read), the
    lower of it and the driver's closed reading (the `CLOSED_PERCENTILE` of its gaps over
    `landmarks`; None entries skipped)."""
    start = float(mouth_opening(reference))
    found = [float(mouth_opening(points)) for points in landmarks if points is not None]
    if parted_by(start, pale) or not found:
        return start
    return min(start, float(np.percentile(found, CLOSED_PERCENTILE)))


def mouth_changes(landmarks: Sequence[np.ndarray | None], reference: np.ndarray,
                  portrait: np.ndarray, teeth: Sequence[float | None] | None = None, *,
                  opening_scale: float = 1.0, parted: bool | None = None,
                  reference_pale: float = np.nan) -> MouthChanges:
    """The driver's mouth changes (per frame (68, 2) `landmarks` in its frame pixels, None where no
    face was found: no change there) relative to its `reference` frame's landmarks, carried onto
    the `portrait`'s (68, 2) landmarks (see the module's docstring). teeth: per frame the share of
    the driver's parted mouth that is teeth (`preprocess.teeth.teeth_share`; None or NaN: not
    read), or None to tell grins by their shape alone. opening_scale: the driver's changes of
    opening toward shut are drawn times this (a portrait whose inner lips were read at their edges,
    `preprocess.inner_lips`, against dlib's reading of the driver: the first over dlib's reading
    of the portrait); the scale is the inner lips' alone: the shapes take back the part of it
    that `open_mouth` would add to the lower lip, chin and jaw, which move as the driver's.
    parted: whether the portrait's lips part (`reenact.pipelines.portrait_mouth.parted`, which
    also reads its pixels), default `parted_by` its gap alone; reference_pale: the `pale_share` of
    the driver's `reference` frame (`closed_start`)."""
    reference = check_face_landmarks(reference, "reference")
    portrait = check_face_landmarks(portrait, "portrait")
    pose = list(RIGID_LANDMARKS)
    speech = list(SPEECH_LANDMARKS)
    inner = list(INNER_LIPS)
    to_portrait = similarity_fit(reference[pose], portrait[pose])[:, :2]  # displacements only
    own = float(mouth_opening(portrait))
    own = own if (parted_by(own, np.nan) if parted is None else parted) else 0.0
    start = closed_start(landmarks, reference, reference_pale)
    count = len(landmarks)
    distance = max(float(interocular_distance(reference)), 1e-9)
    down = face_down(reference)
    changes = np.zeros((count, len(speech), 2))
    taken_back = np.zeros_like(changes)
    openings = np.full(count, own)
    drops = np.zeros(count)  # the chin's drop over the gap's change
    widening = np.zeros(count)  # the mouth corners' distance's change
    start_width = float(mouth_width(reference))
    for index, points in enumerate(landmarks):
        if points is None:
            continue
        points = check_face_landmarks(points)
        aligned = apply_affine(similarity_fit(points[pose], reference[pose]), points)
        change = float(mouth_opening(points)) - start
        # the opening's part of the motion, as `open_mouth` draws it on the reference: scaled as
        # the drawn opening is (`opening_scale`) but for the inner lips, so that the lower lip,
        # chin and jaw move as the driver's did (unscaled, the wide-open portrait of dev vr_3's
        # self-reenactment drew a closing lower lip and chin 6-11 px high at a 256-px face) and
        # the inner lips by the scaled gap
        # scaled only toward shut: the scale's gap is dlib's points' offset from the lips' edges,
        # which a wider opening does not grow (scaled both ways, dev mouths parted on their teeth
        # opened 1.57x the drivers' interior amplitude; 1.08x so)
        scaled = opening_scale * change if change < 0 else change
        own_part = open_mouth(reference, change) - reference
        explained = open_mouth(reference, scaled) - reference
        explained[inner] = own_part[inner]
        # the rest of the driver's change, and the scale's part taken back (kept apart: the jaw
        # line's rest is made affine below, the part taken back must stay as `open_mouth` has it)
        changes[index] = (aligned - reference - own_part)[speech] @ to_portrait.T
        taken_back[index] = (own_part - explained)[speech] @ to_portrait.T
        openings[index] = own + scaled
        drop = float((aligned[8] - reference[8]) @ down) / distance
        drops[index] = drop / max(change, _BITE_FLOOR)
        widening[index] = float(mouth_width(points)) - start_width
    changes = gaussian_smooth(changes, SMOOTHING)
    jaw = [speech.index(index) for index in JAW_LINE]
    changes[:, jaw] = affine_part(portrait[list(JAW_LINE)], changes[:, jaw])
    changes += gaussian_smooth(taken_back, SMOOTHING)
    shapes = np.repeat(portrait[None].astype(np.float64), count, axis=0)
    shapes[:, speech] += changes
    low, high = BITE_RATIO
    shut_jaw = 1 - np.clip((gaussian_smooth(drops, BITE_SMOOTHING) - low) / (high - low), 0, 1)
    bites = shut_jaw * grin(gaussian_smooth(widening, BITE_SMOOTHING))
    if teeth is not None:
        shares = np.array([np.nan if t is None else float(t) for t in teeth], dtype=np.float64)
        if len(shares) != count:
            raise ValueError(f"teeth: expected {count} values, one per frame, got {len(shares)}")
        low, high = BITE_TEETH
        shown = gaussian_smooth(np.nan_to_num(shares, nan=0.0), TEETH_SMOOTHING)
        bites = np.maximum(bites, np.clip((shown - low) / (high - low), 0, 1))
    return MouthChanges(shapes, np.maximum(gaussian_smooth(openings, SMOOTHING), 0.0), bites)

