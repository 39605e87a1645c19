"""The body's hold: whole on the head, none half an eyes-to-chin height away, below the chin and
beside the jaw alike."""

import numpy as np
import pytest
from face_images import jaw_face as face

from reenact.postprocess.body_hold import BodyHold

SHAPE = (400, 400)  # the photo: height, width


def hold_at(hold, x, y):
    return float(hold.at(np.array([y]), np.array([x]))[0, 0])


def test_the_head_keeps_all_of_its_motion():
    hold = BodyHold(face(), 0.1, 0.5)
    values = hold.at(np.arange(0, 230, 7) + 0.5, np.arange(115, 186, 7) + 0.5)  # in the jaw
    assert values.min() == 1.0
    above = hold.at(np.arange(0, 145, 9) + 0.5, np.arange(0, 300, 9) + 0.5)  # hair, background
    assert above.min() == 1.0


def test_below_the_chin_it_fades_out_over_the_neck():
    """Eyes to chin is 100 px: whole down to 10 px under the chin, none from 50 px on, falling
    in between as the smoothstep of the distance."""
    hold = BodyHold(face(), 0.1, 0.5)
    rows = np.arange(250, 320) + 0.5
    column = hold.at(rows, np.array([150.5]))[:, 0]
    assert (column[rows < 259] == 1).all() and (column[rows > 301] == 0).all()
    assert (np.diff(column) <= 1e-12).all()
    t = (275.5 - 250 - 10) / 40
    assert column[25] == pytest.approx(1 - t * t * (3 - 2 * t), abs=0.02)


def test_beside_the_jaw_the_body_is_held_too():
    """A collar or a suit's neck ring beside the jaw at the chin's row, more than half an
    eyes-to-chin height from the jaw's outline, keeps none of the motion; a fade by rows under
    the chin moved it whole there."""
    hold = BodyHold(face(), 0.1, 0.5)
    assert hold_at(hold, 150 + 70 + 55, 245.5) == 0.0
    assert hold_at(hold, 150 - 70 - 55, 245.5) == 0.0
    assert hold_at(hold, 150 + 70 + 5, 160.5) == 1.0  # an ear beside the top of the jaw
    assert 0 < hold_at(hold, 150 + 70 + 25, 200.5) < 1


def test_a_rolled_head_is_held_along_its_own_jaw():
    rolled = BodyHold(face(roll=0.3), 0.1, 0.5)
    chin = face(roll=0.3)[8]
    assert hold_at(rolled, chin[0], chin[1] - 20) == 1.0
    below = chin + 60 * np.array([-np.sin(0.3), np.cos(0.3)])  # along the face's own down
    assert hold_at(rolled, below[0], below[1]) == 0.0


def test_a_moving_head_keeps_its_motion_where_it_went():
    """A head moved 60 px right: beside the photo's jaw, where the moved jaw now is, the output
    reads the head and keeps all of the motion (held by where it is alone, the jaw would lag
    and squash); the body beyond both stays; where the head was, the neck stretches."""
    hold = BodyHold(face(), 0.1, 0.5)
    rows, columns = np.array([200.5, 330.5]), np.array([150.5, 245.5, 340.5])
    shift = np.zeros((2, 3, 2))
    shift[..., 0] = -60.0  # each output pixel shows the photo 60 px to its left
    assert hold.at(rows, columns)[0, 1] < 0.5  # beside the jaw, by where it is
    moving = hold.moving(rows, columns, shift)
    np.testing.assert_array_equal(moving[0], [1.0, 1.0, 0.0])  # the face, the moved jaw, body
    np.testing.assert_array_equal(moving[1], [0.0, 0.0, 0.0])  # far below the chin


def test_a_dense_motion_read_between_sampled_pixels():
    """Taken on every 4th pixel and read between, the hold of a rolled and zoomed head's motion
    is within 0.05 of every pixel's own, whole on the head and none on the body (but where two
    distances' minimum bends between samples)."""
    hold = BodyHold(face(roll=0.2), 0.1, 0.5)
    rows, columns = np.arange(60, 390) + 0.5, np.arange(20, 380) + 0.5
    x, y = np.meshgrid(columns, rows)
    shift = np.stack([0.1 * (x - 150) + 12, 0.1 * (y - 150) - 8], axis=-1)  # (R, C, 2)
    exact, sampled = hold.moving(rows, columns, shift), hold.moving(rows, columns, shift, every=4)
    assert np.abs(sampled - exact).max() < 0.05
    assert (sampled[exact == 1] > 0.99).all() and (sampled[exact == 1] == 1).mean() > 0.999
    assert (sampled[exact == 0] < 0.01).all() and (sampled[exact == 0] == 0).mean() > 0.999
    with pytest.raises(ValueError, match="every: expected"):
        hold.moving(rows, columns, shift, every=0)


def test_the_lattice_reads_the_exact_distance():
    """Read bilinearly from its lattice, the hold is within 0.05 of the hold of the exact
    distance anywhere on the photo."""
    hold = BodyHold(face(roll=0.2), 0.1, 0.5)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, SHAPE[1], 400), rng.uniform(0, SHAPE[0], 400)
    t = np.clip((hold.distance(x, y) - hold.start) / (hold.end - hold.start), 0, 1)
    exact = 1 - t * t * (3 - 2 * t)
    read = np.array([hold_at(hold, a, b) for a, b in zip(x, y)])
    assert np.abs(read - exact).max() < 0.05


def test_far_from_the_face_on_a_large_photo():
    """Thousands of pixels from a small face (its lattice covers only the face's surroundings):
    above the jaw's ends whole, beside them by the row's own distance under the ends, below none."""
    small = face(centre_x=2000.0, eyes=1500.0, chin=1550.0, half_width=35.0)
    hold = BodyHold(small, 0.1, 0.5)  # eyes to chin 50 px: fades from 5 to 25 px
    ends = (small[0, 1] + small[16, 1]) / 2
    t = (ends + 15 - ends - 5) / 20
    np.testing.assert_allclose(hold.at_points(np.array([10.0, 3990.0, 10.0, 3990.0, 2000.0]),
                                              np.array([10.0, ends - 1, ends + 15, 2900.0,
                                                        2900.0])),
                               [1.0, 1.0, 1 - t * t * (3 - 2 * t), 0.0, 0.0], atol=1e-9)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="landmarks: expected a finite"):
        BodyHold(face()[:60], 0.1, 0.5)
    bad = face()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="landmarks: expected a finite"):
        BodyHold(bad, 0.1, 0.5)
    with pytest.raises(ValueError, match="start, end: expected"):
        BodyHold(face(), 0.5, 0.5)
