"""Training data: face clips stored as uint8 arrays, pairs of frames from one clip, augmentation.

A data directory holds `index.json` and one `clip-NNNNN.npy` per clip, (N, S, S, 3) uint8 RGB, read
memory-mapped so that a training step never decodes video, and beside it `clip-NNNNN.landmarks.npy`,
(N, 68, 2) float32 face landmarks in crop pixel coordinates (NaN where no face was detected),
computed once here so that training can anchor keypoints on the face without running a detector.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from reenact.preprocess.anchors import DLIB68_MIRROR
from reenact.preprocess.clip import face_clips, find_videos
from reenact.preprocess.face import FaceAnalyzer
from reenact.training.contrast_pairs import ContrastSampler

logger = logging.getLogger(__name__)

INDEX_FILE = "index.json"
SKIPPED_LOG = "skipped-videos.tsv"  # the videos prepare_data could not read: path, tab, error
DATA_FORMAT = "reenact-training-data"


def prepare_data(videos_dir: str | os.PathLike, output_dir: str | os.PathLike, *, size: int,
                 analyzer: FaceAnalyzer, run_seconds: float = 4.0, max_frames: int | None = None,
                 exclude: tuple[str, ...] = (), detect_every: int = 1, progress: bool = True) -> Path:
    """Face-crop every video under `videos_dir` into `output_dir` (written atomically).

    run_seconds: each video is cut into runs of this length, each with its own fixed crop.
    exclude: names of sub-directories to skip (e.g. ("eval",) for held-out data).
    detect_every: detect faces (boxes and landmarks) on every n-th frame only; the others get NaN
        landmarks. 2 halves the time for data whose faces hold still within a run.
    """
    from tqdm import tqdm

    output = Path(output_dir)
    if output.exists():
        raise ValueError(f"{output}: already exists; choose a new data directory")
    videos = [v for v in find_videos(videos_dir)
              if not set(v.relative_to(videos_dir).parts[:-1]) & set(exclude)]
    if not videos:
        raise ValueError(f"{videos_dir}: no video files left after excluding {list(exclude)}")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        clips, skipped = _write_clips(videos, staging, size, analyzer, run_seconds, max_frames,
                                      detect_every, progress and tqdm is not None)
        if len(skipped) == len(videos):
            raise ValueError(f"{videos_dir}: none of the {len(videos)} videos could be read "
                             f"({skipped[0]['error']}{', ...' if len(skipped) > 1 else ''})")
        if not clips:
            raise ValueError(f"{videos_dir}: no faces found in any video")
        index = {"format": DATA_FORMAT, "image_size": size, "source": str(videos_dir),
                 "clips": clips, "skipped": skipped}
        (staging / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
        if skipped:
            _report_skipped(skipped, len(videos), staging / SKIPPED_LOG, output / SKIPPED_LOG)
        os.chmod(staging, 0o755)
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    frames = sum(c["frames"] for c in clips)
    logger.info("wrote %d clips (%d frames) from %d videos to %s", len(clips), frames,
                len(videos) - len(skipped), output)
    return output


def _report_skipped(skipped: list[dict], total: int, log: Path, final_log: Path) -> None:
    """Warn about the videos that could not be read, and list them in `log` (one per line)."""
    log.write_text("".join(f"{item['video']}\t{item['error']}\n" for item in skipped))
    logger.warning("skipped %d of %d videos that could not be read (listed in %s), e.g. %s",
                   len(skipped), total, final_log, skipped[0]["error"])


def _write_clips(videos: list[Path], staging: Path, size: int, analyzer: FaceAnalyzer,
                 run_seconds: float, max_frames: int | None, detect_every: int,
                 progress: bool) -> tuple[list[dict], list[dict]]:
    """The clips of every readable video, and {"video", "error"} for each one that is not (a
    corrupt or truncated file in a folder of hundreds is skipped, not fatal)."""
    from tqdm import tqdm

    from reenact.io.errors import MediaError

    clips: list[dict] = []
    skipped: list[dict] = []
    for video in tqdm(videos, desc="preparing", unit="video", disable=not progress):
        first = len(clips)
        try:
            _write_video_clips(video, staging, clips, size, analyzer, run_seconds, max_frames,
                               detect_every)
        except MediaError as error:
            for clip in clips[first:]:  # no clips from a video that turned out unreadable
                for key in ("file", "landmarks"):
                    (staging / clip[key]).unlink(missing_ok=True)
            del clips[first:]
            skipped.append({"video": str(video), "error": str(error)})
            logger.debug("skipping %s: %s", video, error)
    return clips, skipped


def _write_video_clips(video: Path, staging: Path, clips: list[dict], size: int,
                       analyzer: FaceAnalyzer, run_seconds: float, max_frames: int | None,
                       detect_every: int) -> None:
    from reenact.io.video import probe_video

    run_length = max(2, round(run_seconds * float(probe_video(video).fps)))
    for clip in face_clips(video, size, analyzer, run_length=run_length, max_frames=max_frames,
                           detect_every=detect_every):
        name = f"clip-{len(clips):05d}.npy"
        np.save(staging / name, clip.frames)
        landmarks_name = f"clip-{len(clips):05d}.landmarks.npy"
        np.save(staging / landmarks_name, clip.landmarks)
        clips.append({"file": name, "landmarks": landmarks_name, "video": video.name,
                      "start": clip.start,
                      "frames": len(clip.frames),
                      "box": [clip.box.center_x, clip.box.center_y, clip.box.side]})


class FrameDataset:
    """The clips of a prepared data directory, memory-mapped."""

    def __init__(self, data_dir: str | os.PathLike) -> None:
        root = Path(data_dir)
        index_path = root / INDEX_FILE
        if not index_path.is_file():
            raise ValueError(f"{root}: not a prepared data directory (no {INDEX_FILE}); "
                             "run `reenact prepare-data` first")
        try:
            index = json.loads(index_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise ValueError(f"{index_path}: not valid JSON ({error}); prepare the data again "
                             "with `reenact prepare-data`") from None
        if not isinstance(index, dict):
            raise ValueError(f"{index_path}: expected a JSON object")
        if index.get("format") != DATA_FORMAT:
            raise ValueError(f"{index_path}: expected format {DATA_FORMAT!r}, got {index.get('format')!r}")
        self.image_size: int = index["image_size"]
        self.clips = [np.load(root / c["file"], mmap_mode="r") for c in index["clips"]]
        if not self.clips:
            raise ValueError(f"{root}: holds no clips")
        # data prepared before landmarks were stored has none: NaN, i.e. "no face found"
        self.landmarks = [np.load(root / c["landmarks"]) if "landmarks" in c
                          else np.full((len(clip), 68, 2), np.nan, dtype=np.float32)
                          for c, clip in zip(index["clips"], self.clips)]
        self.names = [f'{c["video"]}@{c["start"]}' for c in index["clips"]]
        self._contrast: ContrastSampler | None = None  # made on first use

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def num_frames(self) -> int:
        return sum(len(c) for c in self.clips)

    @property
    def has_landmarks(self) -> bool:
        return any(bool(np.isfinite(points).any()) for points in self.landmarks)

    def sample_pairs(self, batch_size: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`batch_size` (source, driving) frame pairs, each from one clip: two (B, S, S, 3) uint8.

        Clips are drawn with probability proportional to their length, then two distinct frames.
        """
        pairs = self.sample_pairs_with_landmarks(batch_size, generator)
        return pairs.source, pairs.driving

    def sample_pairs_with_landmarks(self, batch_size: int, generator: np.random.Generator, *,
                                    contrast: float = 0.0) -> FramePairs:
        """As `sample_pairs`, with each frame's landmarks. `contrast`: the fraction of the batch
        (rounded) drawn as expression-contrast pairs (`reenact.training.contrast_pairs`)."""
        if not 0 <= contrast <= 1:
            raise ValueError(f"contrast: expected a fraction in [0, 1], got {contrast}")
        contrasting = int(round(batch_size * contrast))
        picked: list[tuple[int, int, int]] = []
        if contrasting:
            if self._contrast is None:
                self._contrast = ContrastSampler(self.landmarks)
            picked += self._contrast.sample(contrasting, generator)
        lengths = np.array([len(c) for c in self.clips], dtype=np.float64)
        chosen = generator.choice(len(self.clips), size=batch_size - contrasting,
                                  p=lengths / lengths.sum())
        for index in chosen:
            first, second = generator.choice(len(self.clips[index]), size=2, replace=False)
            picked.append((index, first, second))
        return FramePairs(
            source=np.stack([self.clips[c][i] for c, i, _ in picked]),
            driving=np.stack([self.clips[c][j] for c, _, j in picked]),
            source_landmarks=np.stack([self.landmarks[c][i] for c, i, _ in picked]),
            driving_landmarks=np.stack([self.landmarks[c][j] for c, _, j in picked]))


@dataclass(frozen=True)
class FramePairs:
    """source, driving: (B, S, S, 3) uint8; *_landmarks: (B, 68, 2) float32 crop pixels, NaN rows
    where no face was found."""

    source: np.ndarray
    driving: np.ndarray
    source_landmarks: np.ndarray
    driving_landmarks: np.ndarray


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes applied identically to both frames of a pair (time flip swaps them)."""

    flip: bool = True
    time_flip: bool = True
    brightness: float = 0.1
    contrast: float = 0.1
    saturation: float = 0.1
    hue: float = 0.05

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "saturation", "hue"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"AugmentConfig.{name}: expected a number in [0, 1), got {value}")


def _rgb_to_gray(image: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W), ITU-R BT.601 luma weights."""
    weights = image.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def _rotate_hue(image: Tensor, angle: Tensor) -> Tensor:
    """Rotate colours about the grey axis by `angle` (B,) radians (a linear approximation of a hue
    shift that keeps luminance roughly and costs one 3x3 matrix per image)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    third, root = 1 / 3, (1 / 3) ** 0.5
    # Rodrigues' rotation about (1, 1, 1) / sqrt(3)
    a = cos + (1 - cos) * third
    b = third * (1 - cos) - root * sin
    c = third * (1 - cos) + root * sin
    matrix = torch.stack([torch.stack([a, b, c], -1), torch.stack([c, a, b], -1),
                          torch.stack([b, c, a], -1)], -2)  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", matrix, image)


def augment_pair(source: Tensor, driving: Tensor, config: AugmentConfig,
                 generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Augment (B, 3, H, W) float pairs in [0, 1]; each pair gets its own random draw."""
    source, driving, _, _ = augment_pair_with_landmarks(source, driving, None, None, config, generator)
    return source, driving


def augment_pair_with_landmarks(source: Tensor, driving: Tensor, source_landmarks: Tensor | None,
                                driving_landmarks: Tensor | None, config: AugmentConfig,
                                generator: torch.Generator
                                ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """As `augment_pair` (the same random draws), with (B, 68, 2) crop-pixel landmarks of each
    frame following the time flip and the mirror flip (None: no landmarks)."""
    batch, size = source.shape[0], source.shape[-1]
    has_landmarks = source_landmarks is not None and driving_landmarks is not None

    def uniform(spread: float) -> Tensor:
        return (torch.rand(batch, generator=generator) * 2 - 1) * spread

    if config.time_flip:
        swap = (torch.rand(batch, generator=generator) < 0.5).view(batch, 1, 1, 1)
        source, driving = torch.where(swap, driving, source), torch.where(swap, source, driving)
        if has_landmarks:
            swap_points = swap.view(batch, 1, 1)
            source_landmarks, driving_landmarks = (
                torch.where(swap_points, driving_landmarks, source_landmarks),
                torch.where(swap_points, source_landmarks, driving_landmarks))
    if config.flip:
        flip = (torch.rand(batch, generator=generator) < 0.5).view(batch, 1, 1, 1)
        source = torch.where(flip, source.flip(-1), source)
        driving = torch.where(flip, driving.flip(-1), driving)
        if has_landmarks:
            flip_points = flip.view(batch, 1, 1)
            mirror = torch.from_numpy(DLIB68_MIRROR)

            def mirrored(points: Tensor) -> Tensor:
                out = points[:, mirror].clone()  # (B, 68, 2)
                out[..., 0] = size - out[..., 0]
                return out

            source_landmarks = torch.where(flip_points, mirrored(source_landmarks), source_landmarks)
            driving_landmarks = torch.where(flip_points, mirrored(driving_landmarks),
                                            driving_landmarks)
    brightness = (1 + uniform(config.brightness)).view(batch, 1, 1, 1)
    contrast = (1 + uniform(config.contrast)).view(batch, 1, 1, 1)
    saturation = (1 + uniform(config.saturation)).view(batch, 1, 1, 1)
    hue = uniform(config.hue) * 2 * torch.pi

    def jitter(image: Tensor) -> Tensor:
        image = image * brightness
        mean = _rgb_to_gray(image).mean(dim=(2, 3), keepdim=True)
        image = (image - mean) * contrast + mean
        gray = _rgb_to_gray(image)
        image = (image - gray) * saturation + gray
        return _rotate_hue(image, hue).clamp(0, 1)

    return jitter(source), jitter(driving), source_landmarks, driving_landmarks
