"""Shared fixtures: paths to ../shared and tiny models."""

from __future__ import annotations

from pathlib import Path

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
