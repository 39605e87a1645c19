"""The mouth of a video frame by frame, seen two ways: FaceMesh's inner-lip gap and the pixels.

Per frame (all (T,) float64, NaN where the signal's face model found no face):
- gap: FaceMesh's inner-lip gap over the interocular distance (`facemesh.inner_lip_gap`): about 0
  with the lips in contact;
- interior: the visible mouth interior (`measures.mouth_interior`: the area inside dlib's outer lips
  that is not lip-coloured, over the interocular distance squared). A second landmark model and the
  pixels: where it disagrees with the gap, one of them is wrong;
- teeth: visible teeth (`measures.teeth_area` inside FaceMesh's inner lips, over its interocular
  distance squared);
- dlib_opening: dlib's inner-lip gap (`reenact.preprocess.expressions.mouth_opening`), the signal of
  the older score in `reenact.audio.sync`, which reads pressed lips as slightly open.

When a frame shows interior or teeth: the teeth when `teeth` >= `TEETH_VISIBLE`; the interior when
it is `INTERIOR_VISIBLE` above the clip's own closed-lip level (its 5th percentile): how much of a
closed mouth reads as non-lip (the seam between the lips, lips in shade) varies from clip to clip,
from about 0 in GRID to 0.02 in sharper presenter videos (clips outside ../shared/media/eval).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from reenact.evaluation.facemesh import (
    INNER_LIP,
    OUTER_LIP,
    FaceMeshConfig,
    FaceMeshTracker,
    inner_lip_gap,
    mesh_interocular,
)
from reenact.evaluation.measures import mouth_interior, teeth_area

logger = logging.getLogger(__name__)

TEETH_VISIBLE = 0.002  # teeth pixels / interocular^2: ~6 pixels of a GRID face (interocular ~55 px)
INTERIOR_VISIBLE = 0.005  # above the clip's closed-lip level, / interocular^2
CLOSED_LEVEL_PERCENTILE = 5


@dataclass(frozen=True, eq=False)
class MouthTrack:
    """Per-frame mouth signals of one video (see the module docstring); frame i is shown during
    [i / fps, (i + 1) / fps)."""

    fps: Fraction
    gap: np.ndarray
    interior: np.ndarray
    teeth: np.ndarray
    dlib_opening: np.ndarray

    def __post_init__(self) -> None:
        shapes = {key: np.shape(getattr(self, key))
                  for key in ("gap", "interior", "teeth", "dlib_opening")}
        if len(set(shapes.values())) != 1 or len(shapes["gap"]) != 1:
            raise ValueError(f"MouthTrack: expected (T,) series of one length, got {shapes}")
        if not isinstance(self.fps, (int, Fraction)) or isinstance(self.fps, bool) or self.fps <= 0:
            raise ValueError(f"MouthTrack.fps: expected a positive Fraction, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.gap.shape[0])

    def teeth_shown(self) -> np.ndarray:
        """(T,) float: 1 where teeth show, 0 where not, NaN where no face."""
        return np.where(np.isfinite(self.teeth), self.teeth >= TEETH_VISIBLE, np.nan)

    def interior_closed_level(self) -> float:
        """The clip's closed-lip interior level: its `CLOSED_LEVEL_PERCENTILE`th percentile (NaN
        without a face)."""
        known = np.isfinite(self.interior)
        if not known.any():
            return math.nan
        return float(np.percentile(self.interior[known], CLOSED_LEVEL_PERCENTILE))

    def interior_shown(self, closed_level: float | None = None) -> np.ndarray:
        """(T,) float: 1 where the interior is `INTERIOR_VISIBLE` above `closed_level` (default:
        this clip's own, `interior_closed_level`), 0 where not, NaN where no face."""
        level = self.interior_closed_level() if closed_level is None else closed_level
        known = np.isfinite(self.interior)
        return np.where(known, self.interior >= level + INTERIOR_VISIBLE, np.nan)

    def at_frames_of(self, fps: Fraction, num_frames: int) -> MouthTrack:
        """This track read at the frames of another video (`fps`, `num_frames`, starting at the
        same time): each frame takes the values of the frame of this one shown at its centre time;
        NaN past this track's end."""
        index = np.floor((np.arange(num_frames) + 0.5) / float(fps) * float(self.fps)).astype(int)
        inside = index < self.num_frames
        index = np.minimum(index, max(self.num_frames - 1, 0))

        def read(series: np.ndarray) -> np.ndarray:
            return np.where(inside, series[index], np.nan) if self.num_frames else \
                np.full(num_frames, np.nan)

        return MouthTrack(Fraction(fps), read(self.gap), read(self.interior), read(self.teeth),
                          read(self.dlib_opening))


def _mesh_signals(frame: np.ndarray, points: np.ndarray | None) -> tuple[float, float]:
    """(gap, teeth) of one frame from its FaceMesh points (NaN, NaN without a face)."""
    if points is None:
        return math.nan, math.nan
    scale = mesh_interocular(points)
    teeth = teeth_area(frame, points[list(INNER_LIP)], points[list(OUTER_LIP)])
    return inner_lip_gap(points), teeth / max(scale * scale, 1e-9)


def track_mouth(path: str | os.PathLike[str], analyzer, *, max_frames: int | None = None,
                mesh_config: FaceMeshConfig | None = None) -> MouthTrack:
    """The mouth signals of every frame of the video at `path` (the first `max_frames`).

    analyzer: a dlib `FaceAnalyzer` for the interior (68 landmarks); wrap it in
    `reenact.preprocess.face_follow.follower_for` for speed (one per video).
    """
    from reenact.io import VideoReader
    from reenact.preprocess.expressions import mouth_opening

    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int)
                                   or max_frames < 1):
        raise ValueError(f"max_frames: expected an integer >= 1 or None, got {max_frames!r}")
    rows = []
    with VideoReader(path) as reader, FaceMeshTracker(mesh_config) as mesh:
        fps = reader.info.fps
        for frame in reader:
            if max_frames is not None and len(rows) >= max_frames:
                break
            gap, teeth = _mesh_signals(frame, mesh.landmarks(frame))
            faces = analyzer.detect(frame)
            landmarks = faces[0].landmarks if faces else None
            if landmarks is None:
                interior = opening = math.nan
            else:
                interior = mouth_interior(frame, landmarks)
                opening = float(mouth_opening(landmarks))
            rows.append((gap, interior, teeth, opening))
    series = np.asarray(rows, dtype=np.float64).reshape(-1, 4)  # (T, 4)
    logger.debug("%s: %d frames, FaceMesh face in %d, dlib face in %d", path, len(series),
                 np.isfinite(series[:, 0]).sum(), np.isfinite(series[:, 1]).sum())
    return MouthTrack(fps, *(series[:, k].copy() for k in range(4)))
