"""Where a drawn mouth's inside is sampled: hung from the upper lip, the lower teeth on the lower lip."""

from __future__ import annotations

import numpy as np
import pytest
from speech_fixtures import face_landmarks

from reenact.pipelines.articulation import open_mouth, shut_mouth
from reenact.postprocess.mouth_hang import (
    LOWER_FROM,
    LIP_SHADOW,
    LOWER_INSET,
    SEAM_DARK,
    lip_hang,
    lower_teeth,
)
from reenact.preprocess.expressions import interocular_distance


def grid(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres (w,) and (h, 1) over the mouth's box."""
    x0, y0 = np.floor(points[48:68].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[48:68].max(axis=0)).astype(int)
    return np.arange(x0, x1) + 0.5, (np.arange(y0, y1) + 0.5)[:, None]


@pytest.fixture
def reference() -> np.ndarray:
    return open_mouth(face_landmarks(200, 200, 300), 0.45)


def test_the_inside_hangs_from_the_upper_lip(reference):
    """The upper inner lip raised by 6 px: the inside is sampled 6 px lower everywhere (the top of
    the reference's inside stays under the lip)."""
    target = reference.copy()
    target[60:65, 1] -= 6
    xs, ys = grid(target)
    lip_x, lip_y = lip_hang(target, reference, xs, ys)
    np.testing.assert_allclose(lip_x, np.broadcast_to(xs, lip_x.shape), atol=1e-6)
    np.testing.assert_allclose(lip_y, np.broadcast_to(ys + 6, lip_y.shape), atol=1e-6)


def test_the_lower_teeth_sit_on_the_lower_lip_behind_a_dark_seam(reference):
    """A mouth opened half as wide as the reference: above its lower lip, the band samples the
    reference as high above the reference's lower lip (plus the inset), in the middle where the
    wider opening curves the reference's lip further down; it is taken in full at the lip, not at
    all at the upper lip, the seam along its top darkens by `SEAM_DARK` and the lip's shadow along
    its bottom by `LIP_SHADOW`; toward the corners there is none of it."""
    shut = shut_mouth(reference)
    target = open_mouth(shut, 0.22)
    xs, ys = grid(target)
    teeth = lower_teeth(target, reference, xs, ys)
    column = int(np.argmin(np.abs(xs - target[66, 0])))
    distance = float(interocular_distance(target))
    for height in (1.0, 3.0):
        row = int(np.argmin(np.abs(ys[:, 0] - (target[66, 1] - height))))
        above = target[66, 1] - ys[row, 0]
        assert teeth.source_y[row, column] == pytest.approx(
            reference[66, 1] - above - LOWER_INSET * distance, abs=0.3)
        assert teeth.share[row, column] == pytest.approx(1.0)
    top = int(np.argmin(np.abs(ys[:, 0] - target[62, 1])))
    assert teeth.share[top, column] == 0.0 and teeth.keep[top, column] == pytest.approx(1.0)
    seam = teeth.keep[:, column][ys[:, 0] < target[66, 1] - 3]  # above the band's bottom
    assert seam.min() == pytest.approx(1 - SEAM_DARK, abs=0.1)
    lip_row = int(np.argmin(np.abs(ys[:, 0] - target[66, 1])))  # the lip's shadow at its edge
    assert teeth.keep[lip_row, column] == pytest.approx(1 - LIP_SHADOW, abs=0.1)
    # none of it toward the corners (where it outlined the lower lip)
    corners = (np.abs(xs - target[62, 0]) > 0.4 * (target[64, 0] - target[60, 0]))
    assert not teeth.share[:, corners].any() and (teeth.keep[:, corners] == 1).all()
    # a mouth opened less than `LOWER_FROM` shows neither band nor seam
    little = lower_teeth(open_mouth(shut, 0.9 * LOWER_FROM[0]), reference, xs, ys)
    assert not little.share.any() and (little.keep == 1).all()
