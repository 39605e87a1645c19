"""Generated fixtures of the audio branch: speech-like sound, a 68-point face template, a fake face
analyzer, tiny audio checkpoints and a synthetic talking video."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from reenact.audio.features import AudioFeatureConfig
from reenact.checkpoint.audio_format import DIRECTION_NAMES, AudioCheckpoint, keypoint_space_id
from reenact.io import VideoWriter
from reenact.io.audio import AudioClip, write_wav
from reenact.models.audio_to_motion import AudioToMotion, AudioToMotionConfig
from reenact.motion import MotionDirections
from reenact.preprocess.face import Face

# as in tests/conftest.py, which test folders with their own conftest cannot import by name
MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def require(path: Path) -> Path:
    import pytest

    if not path.exists():
        pytest.skip(f"{path} not available")
    return path

TINY_AUDIO = dict(channels=8, hidden_size=8, num_layers=1, dropout=0.0)


def syllable_envelope(seconds: float, rate: float, *, lead: float = 0.3, tail: float = 0.3,
                      seed: int = 0) -> np.ndarray:
    """(round(seconds * rate),) in [0, 1]: ~4 Hz syllable bumps, silent for `lead` / `tail` seconds."""
    rng = np.random.default_rng(seed)
    times = np.arange(round(seconds * rate)) / rate
    envelope = np.zeros_like(times)
    moment = lead + 0.08
    while moment < seconds - tail - 0.08:
        width = rng.uniform(0.05, 0.1)
        envelope = np.maximum(envelope, rng.uniform(0.5, 1) * np.exp(-0.5 * ((times - moment) / width) ** 2))
        moment += rng.uniform(0.18, 0.32)
    envelope[(times < lead) | (times > seconds - tail)] = 0
    return envelope


def speech_like(seconds: float, sample_rate: int = 16000, *, seed: int = 0, **kwargs) -> np.ndarray:
    """(N,) float32: a 120 Hz harmonic buzz with noise, amplitude-modulated by syllables."""
    rng = np.random.default_rng(seed)
    times = np.arange(round(seconds * sample_rate)) / sample_rate
    buzz = sum(np.sin(2 * math.pi * 120 * k * times) / k for k in range(1, 12))
    sound = 0.3 * buzz + 0.1 * rng.standard_normal(times.size)
    envelope = syllable_envelope(seconds, sample_rate, seed=seed, **kwargs)
    return (0.5 * sound * envelope / np.abs(sound).max()).astype(np.float32)


def write_speech(path: Path, seconds: float, sample_rate: int = 16000, **kwargs) -> Path:
    return write_wav(path, AudioClip(speech_like(seconds, sample_rate, **kwargs), sample_rate))


def write_silence(path: Path, seconds: float, sample_rate: int = 16000) -> Path:
    return write_wav(path, AudioClip(np.zeros(round(seconds * sample_rate), np.float32), sample_rate))


def face_landmarks(cx: float, cy: float, size: float, *, mouth_open: float = 0.0,
                   eye_open: float = 1.0) -> np.ndarray:
    """(68, 2) a plausible frontal iBUG face, `size` px from brow to chin, centred at (cx, cy).

    mouth_open: inner-lip gap as a fraction of the interocular distance; eye_open: 1 open, 0 shut.
    """
    s = size / 2
    points = np.zeros((68, 2))
    jaw = np.linspace(-0.9 * math.pi, -0.1 * math.pi, 17)
    points[0:17] = np.stack([0.8 * np.cos(jaw), -0.95 * np.sin(jaw) - 0.1], 1)
    points[17:27] = np.stack([np.linspace(-0.7, 0.7, 10), np.full(10, -0.7)], 1)
    points[27:31] = np.stack([np.zeros(4), np.linspace(-0.45, 0.0, 4)], 1)
    points[31:36] = np.stack([np.linspace(-0.15, 0.15, 5), np.full(5, 0.05)], 1)
    for start, centre in ((36, -0.35), (42, 0.35)):
        angles = np.linspace(0, 2 * math.pi, 7)[:-1]
        points[start:start + 6] = np.stack(
            [centre + 0.15 * np.cos(angles), -0.45 - 0.06 * eye_open * np.sin(angles)], 1)
    gap = mouth_open * 0.7  # interocular distance is 0.7 template units
    outer = np.linspace(0, 2 * math.pi, 13)[:-1]
    # iBUG order: left corner, the upper lip left to right, right corner, the lower lip back
    points[48:60] = np.stack([-0.3 * np.cos(outer), 0.4 - (0.1 + gap / 2) * np.sin(outer)], 1)
    points[60:65] = np.stack([np.linspace(-0.2, 0.2, 5), np.full(5, 0.4 - gap / 2)], 1)
    points[65:68] = np.stack([np.linspace(0.1, -0.1, 3), np.full(3, 0.4 + gap / 2)], 1)
    return points * s + (cx, cy)


class FakeAnalyzer:
    """A face at a fixed place in every frame whose top-left 16x16 block is dark; none where it is
    bright. The mouth opening follows the frame's mean red value in rows 0-7 past column 16."""

    def __init__(self, box: tuple[float, float, float, float]) -> None:
        self.box = box

    def detect(self, image: np.ndarray) -> list[Face]:
        if image[:16, :16].mean() > 128:
            return []
        x0, y0, x1, y1 = self.box
        opening = float(image[:8, 16:].mean()) / 255 * 0.4
        points = face_landmarks((x0 + x1) / 2, (y0 + y1) / 2, y1 - y0, mouth_open=opening)
        return [Face(self.box, 1.0, points)]


def tiny_audio_checkpoint(motion_model, *, seed: int = 0, scale: float = 0.02) -> AudioCheckpoint:
    """A random tiny audio model for `motion_model`, with random non-zero directions."""
    torch.manual_seed(seed)
    features = AudioFeatureConfig()
    num_kp = motion_model.config.num_kp
    model = AudioToMotion(AudioToMotionConfig(num_kp=num_kp, n_mels=features.n_mels,
                                              window=features.window_frames, **TINY_AUDIO))
    with torch.no_grad():
        model.motion_scale.fill_(scale)
    features_count = model.config.motion_features
    directions = MotionDirections(DIRECTION_NAMES, 0.05 * torch.randn(3, features_count),
                                  torch.full((features_count,), scale))
    identity = {"keypoint_space_id": keypoint_space_id(motion_model), "num_kp": num_kp,
                "image_size": motion_model.config.image_size, "name": "tiny-64"}
    return AudioCheckpoint(model=model.eval(), features=features, fps=Fraction(25),
                           directions=directions, motion_model=identity)


def synthetic_frames(count: int, size: tuple[int, int] = (96, 128), *, no_face: set[int] = frozenset(),
                     seed: int = 0) -> list[np.ndarray]:
    """Smooth random frames (H, W) = size; the frames in `no_face` have a bright top-left block."""
    rng = np.random.default_rng(seed)
    height, width = size
    coarse = rng.uniform(40, 200, (height // 16 + 1, width // 16 + 1, 3))
    base = np.kron(coarse, np.ones((16, 16, 1)))[:height, :width]
    frames = []
    for index in range(count):
        frame = np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
        frame[:16, :16] = 255 if index in no_face else 0
        frames.append(frame)
    return frames


def talking_portrait_video(path: Path, portrait: np.ndarray, seconds: float, *, fps: int = 25,
                           seed: int = 0) -> Path:
    """A video of `portrait` (H, W even) whose lower half stretches with a syllable envelope, with
    speech-like audio following the same envelope."""
    from PIL import Image

    wav = write_speech(path.with_suffix(".wav"), seconds, seed=seed)
    envelope = syllable_envelope(seconds, fps, seed=seed)
    height, width = portrait.shape[:2]
    split = int(height * 0.62)
    with VideoWriter(path, fps, width, height, audio_from=wav) as writer:
        for value in envelope:
            frame = portrait.copy()
            lower = Image.fromarray(portrait[split:]).resize(
                (width, int((height - split) * (1 + 0.12 * value))), Image.Resampling.BILINEAR)
            frame[split:] = np.asarray(lower)[: height - split]
            writer.write(frame)
    return path
