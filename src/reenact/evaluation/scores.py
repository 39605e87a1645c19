"""Per-frame records of an evaluated clip, and the scores that compare output with driver.

One clip: a driver (the driving video's face, frame by frame) and methods ("model": the motion
model through the animate pipeline; "warp": the landmark-warp baseline), each with the same
per-frame face measures and, where they apply, per-frame comparisons with the driver. Scores per
clip, and pooled over clips: series statistics on the concatenated clips, each clip's series
centred on its own mean first (so offsets between clips do not count as motion); means over all
frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from reenact.evaluation.measures import amplitude_ratio, head_pose, mouth_interior, pearson
from reenact.preprocess.expressions import eye_aspect_ratio, mouth_opening

METHODS = ("model", "warp")


@dataclass(frozen=True)
class FaceSeries:
    """Face measures of one video, (T,) float64 each, NaN in frames without a face.

    mouth_interior: visible mouth interior (pixels, `measures.mouth_interior`); the primary mouth cue.
    mouth_opening: inner-lip landmark gap / interocular distance (`expressions.mouth_opening`).
    lips_mesh: FaceMesh's inner-lip gap (`facemesh.inner_lip_gap`: its lips meet when they close,
        and the mouth is drawn from dlib's, so it is the independent landmark reading); NaN
        everywhere without mediapipe.
    eye_ratio: eye aspect ratio (`expressions.eye_aspect_ratio`).
    eye_mesh: the same from FaceMesh's lids (`facemesh.eye_opening`: it sees a closing lid that
        dlib's points barely follow); NaN everywhere without mediapipe.
    gaze_mesh: FaceMesh's iris position along the eyes (`facemesh.iris_offset`); NaN everywhere
        without mediapipe.
    yaw, roll: head pose proxies (`measures.head_pose`).
    """

    mouth_interior: np.ndarray
    mouth_opening: np.ndarray
    lips_mesh: np.ndarray
    eye_ratio: np.ndarray
    eye_mesh: np.ndarray
    gaze_mesh: np.ndarray
    yaw: np.ndarray
    roll: np.ndarray

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def measure_face(image: np.ndarray, landmarks: np.ndarray | None) -> dict[str, float]:
    """The `FaceSeries` measures of one image with its (68, 2) landmarks; NaNs when None
    (lips_mesh, eye_mesh and gaze_mesh are NaN here: the caller adds FaceMesh's, see
    `pipelines.evaluate`)."""
    if landmarks is None:
        return {name: math.nan for name in FaceSeries.names()}
    yaw, roll = head_pose(landmarks)
    return {"mouth_interior": mouth_interior(image, landmarks),
            "mouth_opening": float(mouth_opening(landmarks)), "lips_mesh": math.nan,
            "eye_ratio": float(eye_aspect_ratio(landmarks)), "eye_mesh": math.nan,
            "gaze_mesh": math.nan, "yaw": yaw,
            "roll": roll}


class SeriesRecorder:
    """Collects per-frame values by name; `array(name)` is (T,) float64 with NaN where missing."""

    def __init__(self) -> None:
        self._values: dict[str, list[float]] = {}
        self.frames = 0

    def add(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            column = self._values.setdefault(name, [])
            column.extend([math.nan] * (self.frames - len(column)))
            column.append(float(value))
        self.frames += 1

    def array(self, name: str) -> np.ndarray:
        column = self._values.get(name, [])
        return np.array(column + [math.nan] * (self.frames - len(column)), dtype=np.float64)

    def face_series(self) -> FaceSeries:
        return FaceSeries(**{name: self.array(name) for name in FaceSeries.names()})


@dataclass(frozen=True)
class MethodFrames:
    """One method on one clip: its face series and per-frame comparisons (NaN where not measured).

    l1, psnr: whole frame against the driving frame (self-reenactment only); pixels in [0, 1].
    mouth_l1, mouth_ssim: the mouth's box against the driving frame's (`measures.compare_mouths`;
        self-reenactment only): how like the real mouth the drawn one looks, lips, teeth and
        inside, by L1 and by the luma's structural similarity.
    akd: landmark distance to the driver's, px at a 256-px face (self-reenactment only).
    akd_mesh: the same read by FaceMesh (`facemesh.mesh_distance`: 468 points, the units of akd);
        NaN without a mesh.
    sharpness: face-box Laplacian variance, output / reference (driver, or the portrait).
    sharpness_face: the same without the mouth (`measures.mouth_region` of both faces): the
        face's own detail, not a drawn mouth's teeth against its dark inside.
    identity: face descriptor distance to the source portrait (on every few frames).
    identity_frame: self-reenactment: descriptor distance to the driving frame of the same time
        (the same person with the same expression: a face that does not move the mouth or eyes
        as the driver does is further from it, where it is nearer a closed-mouth source).
    """

    face: FaceSeries
    l1: np.ndarray
    psnr: np.ndarray
    mouth_l1: np.ndarray
    mouth_ssim: np.ndarray
    akd: np.ndarray
    akd_mesh: np.ndarray
    sharpness: np.ndarray
    sharpness_face: np.ndarray
    identity: np.ndarray
    identity_frame: np.ndarray

    @property
    def noface(self) -> int:
        """Frames where no face was found in this method's output."""
        return int(np.isnan(self.face.eye_ratio).sum())


@dataclass(frozen=True)
class ClipRecord:
    """Everything measured on one clip.

    kind: "self" (frame 0 of the clip is the source) or "cross" (a portrait is the source).
    driver_identity: the driving frames' own descriptor distance to the source (self: how much
        the person's look changes over the clip, the floor for the methods' figure).
    """

    clip: str
    source: str
    kind: str
    frames: int
    driver: FaceSeries
    driver_identity: np.ndarray
    methods: dict[str, MethodFrames]


# (score name, FaceSeries field, statistic); the first mouth pair is the primary mouth measure
SERIES_SCORES = (
    ("mouth_r", "mouth_interior", pearson),
    ("mouth_amp", "mouth_interior", amplitude_ratio),
    ("lips_r", "mouth_opening", pearson),
    ("lips_amp", "mouth_opening", amplitude_ratio),
    ("lips_mesh_r", "lips_mesh", pearson),
    ("lips_mesh_amp", "lips_mesh", amplitude_ratio),
    ("eye_r", "eye_ratio", pearson),
    ("eye_amp", "eye_ratio", amplitude_ratio),
    ("eye_mesh_r", "eye_mesh", pearson),
    ("gaze_r", "gaze_mesh", pearson),
    ("gaze_amp", "gaze_mesh", amplitude_ratio),
    ("yaw_r", "yaw", pearson),
    ("roll_r", "roll", pearson),
)
MEAN_SCORES = ("l1", "psnr", "mouth_l1", "mouth_ssim", "akd", "akd_mesh", "sharpness",
               "sharpness_face", "identity", "identity_frame")


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _centred(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    return values - values[finite].mean() if finite.any() else values


def method_scores(records: list[ClipRecord], method: str) -> dict[str, float]:
    """Scores of `method` over `records` (one record: that clip's scores; several: pooled)."""
    scores: dict[str, float] = {}
    for name, field, statistic in SERIES_SCORES:
        output = np.concatenate([_centred(getattr(r.methods[method].face, field)) for r in records])
        driver = np.concatenate([_centred(getattr(r.driver, field)) for r in records])
        scores[name] = statistic(output, driver)
    for name in MEAN_SCORES:
        scores[name] = _nanmean(np.concatenate([getattr(r.methods[method], name) for r in records]))
    scores["noface"] = sum(r.methods[method].noface for r in records)
    return scores


def driver_scores(records: list[ClipRecord]) -> dict[str, float]:
    """The driver's own figures over `records`: how much its mouth moves (std of the clip-centred
    series; per-clip mouth r and amplitude are noise where this is tiny) and its descriptor
    distance to the source (self-reenactment: the real video's own identity drift)."""
    def spread(field: str) -> float:
        values = np.concatenate([_centred(getattr(r.driver, field)) for r in records])
        finite = values[np.isfinite(values)]
        return float(finite.std()) if finite.size else math.nan

    return {"mouth_sd": spread("mouth_interior"), "lips_sd": spread("mouth_opening"),
            "identity": _nanmean(np.concatenate([r.driver_identity for r in records]))}


def summarize_records(records: list[ClipRecord]) -> dict:
    """Per-clip and pooled scores of the driver and every method, JSON-ready (None where a score
    is undefined): {"clips": [...], "pooled": {...}} (one pooled entry per kind present, "self"
    and / or "cross")."""
    if not records:
        raise ValueError("no clip could be evaluated (no faces found)")
    clips = []
    for record in records:
        clips.append({"clip": record.clip, "source": record.source, "kind": record.kind,
                      "frames": record.frames, "driver": driver_scores([record]),
                      **{method: method_scores([record], method) for method in record.methods}})
    pooled = {}
    for kind in ("self", "cross"):
        group = [r for r in records if r.kind == kind]
        if group:
            pooled[kind] = {"clips": len(group), "frames": sum(r.frames for r in group),
                            "driver": driver_scores(group),
                            **{m: method_scores(group, m) for m in METHODS}}
    return _json_ready({"clips": clips, "pooled": pooled})


def _json_ready(value: Any) -> Any:
    """NaN and infinities become None (strict JSON has no NaN), recursively."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def series_record(record: ClipRecord) -> dict:
    """The per-frame series of a record (lists, NaN as None), for a JSON dump."""
    def listed(values: np.ndarray) -> list[float | None]:
        return [None if not math.isfinite(v) else round(float(v), 5) for v in values]

    def face(series: FaceSeries) -> dict:
        return {name: listed(getattr(series, name)) for name in FaceSeries.names()}

    return {"clip": record.clip, "source": record.source, "kind": record.kind,
            "driver": {**face(record.driver), "identity": listed(record.driver_identity)},
            **{method: {"face": face(frames.face), **{name: listed(getattr(frames, name))
                                                      for name in MEAN_SCORES}}
               for method, frames in record.methods.items()}}
