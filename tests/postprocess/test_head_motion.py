"""The head box moved at full resolution: identity is exact, the content moves by the similarity,
the photo keeps its bytes outside the moved box."""

import numpy as np
import pytest

from reenact.postprocess.body_hold import BodyHold
from reenact.postprocess.head_motion import BoxMotion, HeadMover
from reenact.preprocess.crop import CropBox

BOX = CropBox(160.0, 120.0, 120.0)


def photo(height=240, width=320):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 0.7, y, (x + y) * 0.4], axis=-1).clip(0, 255).astype(np.uint8)


def with_square(image, x0, y0, side, value=250):
    out = image.copy()
    out[y0:y0 + side, x0:x0 + side] = value
    return out


def test_identity_returns_the_frame_itself():
    image = photo()
    frame = with_square(image, 150, 110, 20)
    assert HeadMover(image, BOX, 0.12).apply(frame, BoxMotion()) is frame


def test_a_shift_moves_the_content_and_fades_out_beyond_the_box():
    image = photo(400, 560)
    frame = with_square(image, 150, 110, 20)  # a bright square in the middle of the box
    motion = BoxMotion(1.0, 0.25, -0.125)  # 30 px right, 15 px up
    out = HeadMover(image, BOX, 0.12).apply(frame, motion)
    assert (out[97:113, 182:198] >= 245).all()  # the square, moved
    assert (out[112:128, 152:168] < 245).any()  # no longer where it was
    # where the box left, what was beside it moved in: the photo's own pixels, shifted
    np.testing.assert_allclose(out[150:160, 112:120].astype(int),
                               image[165:175, 82:90].astype(int), atol=2)
    # the move fades out over twice its size beyond the box and where it went (x 100-250,
    # y 45-180): farther out the frame keeps its bytes
    np.testing.assert_array_equal(out[:, 341:], frame[:, 341:])
    np.testing.assert_array_equal(out[271:], frame[271:])
    # and in between each pixel reads the frame a little less far away: a move, not a mix of
    # the moved picture with the unmoved one (the photo's red rises by 0.7 a pixel)
    red = out[120, 250:341, 0].astype(int)
    assert np.all(np.diff(red) >= -1) and red[0] < image[120, 250, 0] - 15


def test_a_zoom_grows_the_content_about_the_box_centre():
    image = photo()
    frame = with_square(image, 150, 110, 20)
    out = HeadMover(image, BOX, 0.12).apply(frame, BoxMotion(1.5, 0.0, 0.0))
    bright = np.argwhere(out.min(axis=2) >= 245)
    (y0, x0), (y1, x1) = bright.min(axis=0), bright.max(axis=0)
    assert 27 <= x1 - x0 + 1 <= 31 and 27 <= y1 - y0 + 1 <= 31  # 20 px -> 30 px
    assert abs((x0 + x1 + 1) / 2 - 160) <= 1 and abs((y0 + y1 + 1) / 2 - 120) <= 1


def held_below(row, image):
    """A body hold of a face whose jaw is a flat line at `row`, with its ends' row 40 px above
    it: the hold fades out from 5 to 25 px below the chin (and beside the jaw's corners)."""
    landmarks = np.zeros((68, 2))
    landmarks[:17, 0] = np.linspace(0, image.shape[1], 17)
    landmarks[:17, 1] = row
    landmarks[[0, 16], 1] = row - 40
    landmarks[36:48, 1] = row - 50
    return BodyHold(landmarks, 0.1, 0.5)


def test_a_hold_keeps_the_body_still():
    """With the body's hold the move fades out away from the head: above, the box moves as
    without; below, the frame keeps its pixels (a move of where each pixel reads, not a blend of
    two pictures)."""
    image = photo()
    frame = with_square(with_square(image, 150, 100, 16), 150, 150, 16, value=240)
    motion = BoxMotion(1.0, 0.25, 0.0)  # 30 px right
    whole = HeadMover(image, BOX, 0.12).apply(frame, motion)
    held = HeadMover(image, BOX, 0.12, hold=held_below(120.0, image)).apply(frame, motion)
    np.testing.assert_array_equal(held[:120], whole[:120])
    assert (held[102:114, 182:194] >= 245).all()  # the head's square moved
    np.testing.assert_array_equal(held[146:], frame[146:])  # the body's square stayed
    assert (held[150:166, 150:166] == 240).all()
    rows = held[125:145, 100:220].astype(int)  # between, each row a shifted copy of the frame's
    assert np.abs(np.diff(rows, axis=0)).max() < 40


def test_a_box_past_the_frame_edge_moves_without_streaks():
    """Moving down a box that the frame's top edge cuts through: the rows that would read above
    the frame stretch its top rows (the edge row staying put), not repeat the edge row."""
    image = photo()  # green = row
    box = CropBox(160.0, 40.0, 120.0)  # 20 px of it above the frame
    out = HeadMover(image, box, 0.12).apply(image, BoxMotion(1.0, 0.0, 0.125))  # 15 px down
    column = out[:, 160, 1].astype(int)
    assert column[0] == 0 and np.all(np.diff(column[:60]) >= 0)
    assert max(np.bincount(column[:30])) <= 3  # "border" sampling repeated row 0 over 15 rows
    np.testing.assert_allclose(column[40:80], np.arange(25, 65), atol=1)


def test_unmoved_inverts_the_motion():
    motion = BoxMotion(1.3, -0.2, 0.1)
    moved = motion.moved(BOX)
    points = np.array([[moved.center_x, moved.center_y], [moved.x0, moved.y0]])
    np.testing.assert_allclose(motion.unmoved(BOX, points),
                               [[BOX.center_x, BOX.center_y], [BOX.x0, BOX.y0]], atol=1e-9)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="hold: expected a BodyHold"):
        HeadMover(photo(), BOX, 0.12, hold=(10.0, 20.0))
    image = photo()
    with pytest.raises(ValueError, match="image: expected"):
        HeadMover(image[..., 0], BOX, 0.12)
    with pytest.raises(ValueError, match="feather: expected"):
        HeadMover(image, BOX, 0.9)
    mover = HeadMover(image, BOX, 0.12)
    with pytest.raises(ValueError, match="frame: expected"):
        mover.apply(image[:100], BoxMotion(1.1))
    with pytest.raises(ValueError, match="motion: expected"):
        mover.apply(image, BoxMotion(float("nan")))
