"""Test clips: generated textures, and re-encoding as another tool would (PyAV's libx264, the
encoder ffmpeg uses; no metadata kept)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image


def downscale(frames: Sequence[np.ndarray], scale: float) -> list[np.ndarray]:
    """Bicubic resize (antialiased) to `scale` of the size, sides rounded down to even."""
    height, width = frames[0].shape[:2]
    size = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
    return [np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BICUBIC))
            for frame in frames]


def encode(frames: Sequence[np.ndarray], crf: int, fps: int = 25) -> bytes:
    """H.264 (libx264, yuv420p, preset medium) MP4 of RGB frames, as bytes."""
    height, width = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"crf": str(crf), "preset": "medium"}
        for index, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = index
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def decode(data: bytes | Path) -> list[np.ndarray]:
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with av.open(source) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def reencode(frames: Sequence[np.ndarray], crf: int, scale: float = 1.0) -> list[np.ndarray]:
    """Frames after an optional downscale and an H.264 round trip at `crf`."""
    if scale != 1.0:
        frames = downscale(frames, scale)
    return decode(encode(frames, crf))


def textured(count: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """(H, W, 3) uint8 frames: smooth random colour texture with fine grain, drifting sideways."""
    rng = np.random.default_rng(seed)
    coarse = (rng.random((height // 16 + 2, width // 16 + 2 + count, 3)) * 200 + 25)
    big = np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize(
        ((width // 16 + 2 + count) * 16, (height // 16 + 2) * 16), Image.Resampling.BICUBIC))
    frames = []
    for index in range(count):
        frame = big[:height, index * 2:index * 2 + width].astype(np.float64)
        frame += rng.normal(0, 3, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames
