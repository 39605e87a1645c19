"""Shared fixtures: paths to ../shared, tiny models, generated training data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import pytest
import torch

from reenact.api import create_model
from reenact.models import MotionModel

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FOMM = SHARED / "fomm"
MEDIA = SHARED / "media"


def require(path: Path) -> Path:
    """Skip the test when a file of ../shared is not present (e.g. a bare clone)."""
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture
def tiny_model() -> MotionModel:
    return create_model("tiny-64", seed=0)


@pytest.fixture
def images() -> torch.Tensor:
    """(3, 3, 64, 64) smooth random images in [0, 1]: source, driving, another driving."""
    generator = torch.Generator().manual_seed(1)
    coarse = torch.rand(3, 3, 8, 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(64, 64), mode="bilinear",
                                           align_corners=False)



def make_clip(size: int, frames: int, seed: int) -> np.ndarray:
    """(frames, size, size, 3) uint8: a textured ellipse that moves and turns over time."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    background = rng.uniform(0.2, 0.8, 3)
    colour = rng.uniform(0, 1, 3)
    clip = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        angle = 0.3 * np.sin(t / 3 + seed)
        cx, cy = 0.2 * np.sin(t / 4), 0.15 * np.cos(t / 5)
        u = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
        v = -(xs - cx) * np.sin(angle) + (ys - cy) * np.cos(angle)
        inside = (u / 0.5) ** 2 + (v / 0.65) ** 2 < 1
        stripes = 0.5 + 0.5 * np.sin(8 * u)[..., None]
        image = np.where(inside[..., None], colour * stripes, background)
        clip[t] = (image * 255).round().astype(np.uint8)
    return clip


def write_data_dir(root: Path, size: int = 64, clips: int = 2, frames: int = 6) -> Path:
    root.mkdir(parents=True)
    entries = []
    for index in range(clips):
        name = f"clip-{index:05d}.npy"
        np.save(root / name, make_clip(size, frames, seed=index))
        entries.append({"file": name, "video": f"generated{index}.mp4", "start": 0, "frames": frames,
                        "box": [0, 0, size]})
    index_data = {"format": "reenact-training-data", "image_size": size, "source": "generated",
                  "clips": entries}
    (root / "index.json").write_text(json.dumps(index_data))
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_data_dir(tmp_path / "data")
