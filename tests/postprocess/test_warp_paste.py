from __future__ import annotations

import numpy as np
import pytest

from reenact.postprocess.warp_paste import warp_paste
from reenact.preprocess.crop import CropBox

SIZE = 16  # model crop pixels
CELLS = 8  # deformation lattice


def identity_lattice(shift_x: float = 0.0) -> np.ndarray:
    """A deformation that reads each output point at the same source-crop point (align_corners
    False), moved by shift_x normalized units."""
    centres = (np.arange(CELLS) + 0.5) / CELLS * 2 - 1
    x, y = np.meshgrid(centres, centres)
    return np.stack([x + shift_x, y], axis=-1).astype(np.float32)


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    smooth = 127 + 60 * np.sin(xx / 5.0)[..., None] + 40 * np.cos(yy / 7.0)[..., None]
    return np.clip(smooth + rng.normal(0, 3, (height, width, 3)), 0, 255).astype(np.uint8)


def run(frame, source, box, source_box, *, mask=None, weight=None, deformation=None, generated=None):
    return warp_paste(frame, box, np.ones((SIZE, SIZE), np.float32) if mask is None else mask,
                      source_image=source, source_box=source_box,
                      deformation=identity_lattice() if deformation is None else deformation,
                      generated=np.zeros((SIZE, SIZE, 3), np.uint8) if generated is None else generated,
                      source_weight=np.ones((SIZE, SIZE), np.float32) if weight is None else weight,
                      align_corners=False)


def test_zero_motion_from_the_frame_itself_gives_the_frame() -> None:
    frame = textured(80, 100)
    box = CropBox(50, 40, 64)
    out = run(frame, frame, box, box)
    # inside the lattice's outer cell centres (the box's outer 1/16: border-clamped, as in the model)
    inner = (slice(8 + 4, 72 - 4), slice(18 + 4, 82 - 4))
    assert np.abs(out[inner].astype(int) - frame[inner]).max() <= 1


def test_content_comes_from_the_source_image_through_both_boxes() -> None:
    source = textured(120, 160, seed=1)
    frame = textured(80, 100, seed=2)
    source_box, box = CropBox(80, 60, 96), CropBox(50, 40, 64)
    out = run(frame, source, box, source_box)
    # frame pixel (row 40, col 50) sits at box fraction 0.5 + 0.5/64 -> the same fraction of the
    # source box: source pixel centre 80 + (0.5/64) * 96 - 48 + 48 = 80.75 -> between columns 80, 81
    expected = source[60:62, 80:82].astype(float).mean(axis=(0, 1))
    assert np.abs(out[40, 50] - expected).max() < 12
    shifted = run(frame, source, box, source_box, deformation=identity_lattice(shift_x=0.25))
    # a shift of 0.25 normalized units reads 0.125 of the source box (12 px) further right
    assert np.abs(shifted[40, 50].astype(float) - source[60:62, 92:94].mean(axis=(0, 1))).max() < 12


def test_only_the_mask_changes_pixels_and_invented_content_is_the_generators() -> None:
    frame = textured(80, 100)
    source = textured(80, 100, seed=3)
    box = CropBox(50, 40, 64)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[6:10, 6:10] = 1
    out = run(frame, source, box, box, mask=mask)
    changed = np.any(out != frame, axis=-1)
    rows, cols = np.nonzero(changed)
    assert changed.any() and rows.min() >= 8 + 5 * 4 - 2 and rows.max() <= 8 + 10 * 4 + 2
    assert np.array_equal(run(frame, source, box, box, mask=np.zeros((SIZE, SIZE), np.float32)), frame)
    generated = np.full((SIZE, SIZE, 3), 200, np.uint8)
    invented = run(frame, source, box, box, weight=np.zeros((SIZE, SIZE), np.float32),
                   generated=generated)
    assert np.abs(invented[20:60, 30:70].astype(int) - 200).max() <= 1


def test_bad_inputs_name_the_argument() -> None:
    frame = textured(80, 100)
    box = CropBox(50, 40, 64)
    with pytest.raises(ValueError, match="mask"):
        run(frame, frame, box, box, mask=np.ones((SIZE, SIZE + 1), np.float32))
    with pytest.raises(ValueError, match="deformation"):
        run(frame, frame, box, box, deformation=np.zeros((CELLS, CELLS, 3), np.float32))
    with pytest.raises(ValueError, match="source_weight"):
        run(frame, frame, box, box, weight=np.ones((2, 2), np.float32))
