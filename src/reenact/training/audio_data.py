"""Training data of the audio model: talking videos -> (log-mel, keypoint motion, expressions).

For each video with speech:
1. follow the face (dlib: crop box + 68 landmarks per frame), crop as `animate` does;
2. the motion model's keypoints of every crop;
3. the rest face = median keypoints over the frames whose mouth is the most closed (lowest
   `rest_quantile` of the landmark mouth opening); the target of frame t is its keypoints' motion
   from the rest face (`reenact.motion.motion_between`): zero motion means "mouth closed", which is
   what silence must map to. (A median over all frames would make silence a half-open mouth; the
   first frame may be mid-word.)
4. expressions per frame from the landmarks: mouth opening, mouth width, eye closure (0 open,
   1 closed, relative to the video's 90th-percentile eye aspect ratio); with
   `opening_measure="facemesh"` the mouth opening is FaceMesh's inner-lip gap instead of dlib's
   (`reenact.evaluation.facemesh.inner_lip_gap`, the same units: gap over interocular distance).
   dlib reads pressed lips as a few pixels apart and jitters by as much, so the closures that
   p, b and m make barely show in its opening; FaceMesh draws the lips down to contact;
5. everything resampled to the audio model's fps; frames without a face are masked out;
6. the audio track's level-normalized log-mel.

`fit_directions` then regresses motion on the expressions over all videos: the mouth and blink
directions stored with the audio checkpoint.
"""

from __future__ import annotations

import dataclasses

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from reenact.audio.features import AudioFeatureConfig, FrameWindows, clip_features, num_video_frames
from reenact.checkpoint.audio_format import DIRECTION_NAMES
from reenact.checkpoint.format import file_sha256
from reenact.config import config_to_dict
from reenact.containers import Keypoints
from reenact.io import VideoReader, batched, probe_video
from reenact.io.audio import load_audio
from reenact.motion import MotionDirections, motion_between, rest_keypoints
from reenact.pipelines.audio_motion import resample_frames
from reenact.pipelines.keypoints import detect_keypoints
from reenact.preprocess.crop import crop_image
from reenact.preprocess.expressions import (
    eye_aspect_ratio,
    eye_closure,
    mouth_opening,
    mouth_width,
)
from reenact.preprocess.face import FaceAnalyzer
from reenact.preprocess.face_track import FaceTrack, track_face
from reenact.training.audio_augment import augment_windows
from reenact.training.audio_config import OPENING_MEASURES

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".mov", ".avi", ".mkv", ".webm", ".m4v")
# below these spreads over the data a measurement cannot define a direction
MIN_MEASURE_STD = {"mouth_open": 0.01, "mouth_width": 0.01, "blink": 0.05}
EXTRACTION_VERSION = 1


@dataclass(frozen=True, eq=False)
class TalkingClip:
    """One video's training data at the audio model's fps.

    mel: (M, n_mels) float32 log-mel of its audio. motion: (T, K * 6) float32 keypoint motion from
    its rest face. measures: (T, 3) float32 mouth_open, mouth_width, blink (eye closure); NaN where
    unknown. valid: (T,) bool, frames with a face.
    """

    name: str
    mel: np.ndarray
    motion: np.ndarray
    measures: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return self.motion.shape[0]


def find_videos(directory: str | Path) -> list[Path]:
    """The video files directly in `directory`, sorted by name."""
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"data: {root} is not a directory")
    videos = sorted(p for p in root.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise ValueError(f"data: no video files ({', '.join(VIDEO_SUFFIXES)}) in {root}")
    return videos


def _keypoints(reader: VideoReader, track: FaceTrack, backend, batch_size: int) -> Keypoints:
    size = backend.image_size
    batches, index = [], 0
    for batch in batched(iter(reader), batch_size):
        boxes = track.boxes[index:index + len(batch)]
        crops = np.stack([crop_image(frame, box, size) for frame, box in zip(batch, boxes)])
        batches.append(detect_keypoints(backend, crops, track.landmarks[index:index + len(batch)],
                                        boxes))
        index += len(batch)
    return Keypoints.cat(batches)


def expression_measures(track: FaceTrack) -> np.ndarray:
    """(T, 3) mouth_open, mouth_width, eye closure per frame; NaN where no face."""
    measures = np.full((len(track), 3), np.nan)
    if not track.found.any():
        return measures
    landmarks = track.landmark_array()[track.found]
    ratio = eye_aspect_ratio(landmarks)
    measures[track.found, 0] = mouth_opening(landmarks)
    measures[track.found, 1] = mouth_width(landmarks)
    measures[track.found, 2] = eye_closure(ratio, float(np.percentile(ratio, 90)))
    return measures


def mesh_openings(reader: VideoReader, mesh=None) -> np.ndarray:
    """(T,) FaceMesh's inner-lip gap over interocular distance per frame; NaN where it finds no
    face. Needs mediapipe (`reenact.evaluation.facemesh`). mesh: a `FaceMeshTracker` to use (reset
    first: many short clips would spend most of their time making trackers), or None: a new one."""
    from reenact.evaluation.facemesh import FaceMeshTracker, inner_lip_gap

    own = mesh is None
    mesh = FaceMeshTracker() if own else mesh
    mesh.reset()
    gaps = []
    try:
        for frame in reader:
            points = mesh.landmarks(frame)
            gaps.append(np.nan if points is None else inner_lip_gap(points))
    finally:
        if own:
            mesh.close()
    return np.asarray(gaps, dtype=np.float64)


def _to_model_rate(values: np.ndarray, fps_video: Fraction, fps: Fraction, count: int) -> np.ndarray:
    """Resample per-frame rows; a NaN in any frame used makes the result NaN."""
    return resample_frames(values.astype(np.float64), fps_video, fps, count)


def extract_clip(path: Path, backend, analyzer: FaceAnalyzer, features: AudioFeatureConfig,
                 fps: Fraction, *, crop_margin: float = 0.4, rest_quantile: float = 0.2,
                 opening_measure: str = "dlib", batch_size: int = 16,
                 mesh=None) -> TalkingClip | None:
    """A video's training data, or None (logged) when it has no audio track or no face.
    opening_measure: "dlib" or "facemesh" (see the module's docstring); mesh: the
    `FaceMeshTracker` that "facemesh" uses (see `mesh_openings`)."""
    if opening_measure not in OPENING_MEASURES:
        raise ValueError(f"opening_measure: expected one of {', '.join(OPENING_MEASURES)}, got "
                         f"{opening_measure!r}")
    info = probe_video(path)
    if not info.has_audio:
        logger.warning("%s: no audio track; skipped", path)
        return None
    with VideoReader(path) as reader:
        track = track_face(iter(reader), float(info.fps), analyzer, margin=crop_margin,
                           name=str(path), require_face=False)
        if not track.found.any():
            logger.warning("%s: no face found; skipped", path)
            return None
        kp = _keypoints(reader, track, backend, batch_size)
        measures = expression_measures(track)
        if opening_measure == "facemesh":
            gaps = mesh_openings(reader, mesh)[:len(track)]
            measures[:, 0] = np.nan
            measures[:len(gaps), 0] = np.where(track.found[:len(gaps)], gaps, np.nan)
    rest = rest_keypoints(kp, measures[:, 0], rest_quantile)
    motion = motion_between(kp, rest).flat().numpy()  # (T_video, D)
    clip = load_audio(path, features.sample_rate)
    count = min(len(track) * fps.numerator * info.fps.denominator
                // (fps.denominator * info.fps.numerator),
                num_video_frames(clip.num_samples, clip.sample_rate, fps))
    valid = _to_model_rate(np.where(track.found, 1.0, np.nan)[:, None], info.fps, fps, count)[:, 0]
    return TalkingClip(name=path.name, mel=clip_features(clip, features),
                       motion=_to_model_rate(motion, info.fps, fps, count).astype(np.float32),
                       measures=_to_model_rate(measures, info.fps, fps, count).astype(np.float32),
                       valid=np.isfinite(valid))


def _cache_key(path: Path, keypoint_space: str, features: AudioFeatureConfig, fps: Fraction,
               crop_margin: float, rest_quantile: float, opening_measure: str) -> str:
    recipe = {"video": file_sha256(path), "keypoint_space": keypoint_space,
              "features": config_to_dict(features), "fps": str(fps), "crop_margin": crop_margin,
              "rest_quantile": rest_quantile, "version": EXTRACTION_VERSION}
    if opening_measure != "dlib":  # dlib's runs keep their earlier keys
        recipe["opening_measure"] = opening_measure
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def load_or_extract(path: Path, cache_dir: Path | None, keypoint_space: str, **kwargs) -> TalkingClip | None:
    """`extract_clip`, cached as CACHE_DIR/NAME-KEY.npz (the key covers the video's bytes, the
    keypoint space and every extraction setting)."""
    cache = None
    if cache_dir is not None:
        key = _cache_key(path, keypoint_space, kwargs["features"], kwargs["fps"],
                         kwargs.get("crop_margin", 0.4), kwargs.get("rest_quantile", 0.2),
                         kwargs.get("opening_measure", "dlib"))
        cache = cache_dir / f"{path.stem}-{key}.npz"
        if cache.is_file():
            with np.load(cache) as data:
                return TalkingClip(name=path.name, mel=data["mel"], motion=data["motion"],
                                   measures=data["measures"], valid=data["valid"])
    clip = extract_clip(path, **kwargs)
    if clip is not None and cache is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temp = cache.with_suffix(".partial.npz")
        np.savez(temp, mel=clip.mel, motion=clip.motion, measures=clip.measures, valid=clip.valid)
        temp.replace(cache)
    return clip


# -- statistics and directions ------------------------------------------------------------------


def motion_scale(clips: Sequence[TalkingClip], *, uniform: bool = False) -> np.ndarray:
    """(D,) float32 standard deviation of each motion feature over the valid frames (floored);
    `uniform`: their root mean square for every feature (for targets of low rank, where most
    features hardly vary and a per-feature scale would blow up their errors)."""
    stacked = np.concatenate([c.motion[c.valid] for c in clips], axis=0)
    std = stacked.std(axis=0)
    if uniform:
        std = np.full_like(std, float(np.sqrt((std ** 2).mean())))
    return np.maximum(std, max(float(std.max()) * 1e-3, 1e-6)).astype(np.float32)


def mouth_targets(clip: TalkingClip, directions: MotionDirections,
                  rest_quantile: float = 0.2, *, width: bool = True) -> TalkingClip:
    """The clip with its motion replaced by the part the mouth explains: (mouth_open, mouth_width)
    from their rest level (the median over the frames whose opening is at or below
    `rest_quantile`, as the rest face is chosen) times their directions; `width=False`: the
    opening's part alone (the "opening" target).

    Speech sets how far the mouth opens and spreads; the rest of the keypoint motion (head pose,
    brows, the detector's noise) is not predictable from audio, and with minutes of data a model
    asked for it fits noise. Frames where a measure is unknown become invalid.
    """
    names = [directions.names.index(name) for name in ("mouth_open", "mouth_width")]
    measures = clip.measures[:, :2].astype(np.float64)
    known = clip.valid & np.isfinite(measures).all(axis=1)
    if known.sum() < 2:
        return dataclasses.replace(clip, motion=np.zeros_like(clip.motion), valid=known)
    opening = measures[known, 0]
    rest = measures[known][opening <= np.quantile(opening, rest_quantile)]
    relative = np.where(known[:, None], measures - np.median(rest, axis=0), 0.0)
    vectors = directions.vectors[names].double().numpy()  # (2, D)
    if not width:
        relative[:, 1] = 0.0
    return dataclasses.replace(clip, motion=(relative @ vectors).astype(np.float32), valid=known)


def feature_statistics(clips: Sequence[TalkingClip]) -> tuple[np.ndarray, np.ndarray]:
    """(n_mels,) mean and standard deviation of the log-mel over all clips."""
    stacked = np.concatenate([c.mel for c in clips], axis=0)
    return stacked.mean(axis=0).astype(np.float32), np.maximum(stacked.std(axis=0), 1e-3).astype(np.float32)


def fit_directions(clips: Sequence[TalkingClip], scale: np.ndarray) -> tuple[MotionDirections, dict]:
    """Least squares of motion on (mouth_open, mouth_width, blink), each centred per clip (so that
    who speaks does not count, only how the face changes). Returns the directions and fit stats;
    a measurement that hardly varies in the data gets a zero direction, with a warning."""
    motions, measures = [], []
    for clip in clips:
        keep = clip.valid & np.isfinite(clip.measures).all(axis=1)
        if keep.sum() < 2:
            continue
        motions.append(clip.motion[keep] - clip.motion[keep].mean(axis=0))
        measures.append(clip.measures[keep] - clip.measures[keep].mean(axis=0))
    if not motions:
        raise ValueError("data: no frames with both a face and landmarks; cannot fit directions")
    y, x = np.concatenate(motions).astype(np.float64), np.concatenate(measures).astype(np.float64)
    spread = x.std(axis=0)
    usable = np.array([spread[i] >= MIN_MEASURE_STD[name] for i, name in enumerate(DIRECTION_NAMES)])
    vectors = np.zeros((len(DIRECTION_NAMES), y.shape[1]))
    if usable.any():
        vectors[usable] = np.linalg.lstsq(x[:, usable], y, rcond=None)[0]
    for name, ok, value in zip(DIRECTION_NAMES, usable, spread, strict=True):
        if not ok:
            logger.warning("direction %s: the data hardly varies in it (std %.4f < %.4f); stored as "
                           "zero", name, value, MIN_MEASURE_STD[name])
    residual = (y - x @ vectors) / scale
    r2 = 1 - float((residual ** 2).sum() / max(((y / scale) ** 2).sum(), 1e-12))
    stats = {"frames": int(y.shape[0]), "explained_variance": r2,
             "measure_std": {n: float(s) for n, s in zip(DIRECTION_NAMES, spread, strict=True)},
             "zeroed": [n for n, ok in zip(DIRECTION_NAMES, usable, strict=True) if not ok]}
    directions = MotionDirections(DIRECTION_NAMES, torch.from_numpy(vectors).float(),
                                  torch.from_numpy(scale).float())
    return directions, stats


# -- batches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioBatch:
    """windows (B, T + L, W, n_mels) float32; motion (B, T, D) float32; mask (B, T) bool. L: the
    model's lookahead (its output at step t + L is frame t's; `reenact.models.audio_to_motion`)."""

    windows: torch.Tensor
    motion: torch.Tensor
    mask: torch.Tensor


def clip_windows(clip: TalkingClip, features: AudioFeatureConfig, fps: Fraction) -> FrameWindows:
    return FrameWindows(clip.mel, fps, features, len(clip))


def sample_batch(clips: Sequence[TalkingClip], features: AudioFeatureConfig, fps: Fraction,
                 batch_size: int, frames: int, rng: np.random.Generator,
                 gain_db: float = 0.0, *, lookahead: int = 0, augment: bool = False) -> AudioBatch:
    """`batch_size` random stretches of `frames` frames (clips picked in proportion to length;
    a shorter clip is padded and masked). gain_db: random level jitter of +- this many dB;
    lookahead: the windows run this many frames past the targets (`AudioBatch`); augment: each
    stretch heard as another speaker in another room (`reenact.training.audio_augment`)."""
    lengths = np.array([len(c) for c in clips], dtype=np.float64)
    windows, motion, mask = [], [], []
    for pick in rng.choice(len(clips), size=batch_size, p=lengths / lengths.sum()):
        clip = clips[int(pick)]
        start = int(rng.integers(0, max(len(clip) - frames, 0) + 1))
        stop = min(start + frames, len(clip))
        window = clip_windows(clip, features, fps).windows(start, start + frames + lookahead)
        window = augment_windows(window, rng) if augment else window
        window = window + np.float32(rng.uniform(-gain_db, gain_db)) if gain_db else window
        target = np.zeros((frames, clip.motion.shape[1]), np.float32)
        target[: stop - start] = clip.motion[start:stop]
        valid = np.zeros(frames, bool)
        valid[: stop - start] = clip.valid[start:stop]
        windows.append(window)
        motion.append(target)
        mask.append(valid)
    return AudioBatch(torch.from_numpy(np.stack(windows)), torch.from_numpy(np.stack(motion)),
                      torch.from_numpy(np.stack(mask)))


def whole_clip_batch(clip: TalkingClip, features: AudioFeatureConfig, fps: Fraction, *,
                     lookahead: int = 0) -> AudioBatch:
    """One clip, every frame (and `lookahead` frames of windows past its end): for validation."""
    windows = clip_windows(clip, features, fps).windows(0, len(clip) + lookahead)
    return AudioBatch(torch.from_numpy(windows[None]), torch.from_numpy(clip.motion[None]),
                      torch.from_numpy(clip.valid[None]))
