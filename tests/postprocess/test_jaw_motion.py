"""The jaw made rigid: the model's motion below the lower lip and around the jaw line replaced by
the affine map fitted to it, the rest of the face's motion kept as it was."""

import numpy as np
import pytest
from face_images import jaw_face

from reenact.postprocess.jaw_motion import JawMotion
from reenact.preprocess.crop import CropBox

BOX = CropBox(150.0, 200.0, 256.0)  # x 22-278, y 72-328: the whole face and neck
CELLS = 32  # lattice cells per side, 8 px each


def face():
    """`jaw_face` (a half-ellipse jaw from the eyes' row 150 to the chin at 250) with the mouth's
    corners (48, 54) 50 px apart on row 210, the lower lip's inner edge (66) on row 213 and its
    outer edge (57) on row 222."""
    points = jaw_face()
    points[48:68] = (150.0, 210.0)
    points[48], points[54] = (125.0, 210.0), (175.0, 210.0)
    points[66], points[57] = (150.0, 213.0), (150.0, 222.0)
    return points


def cell_of(x, y):
    """The lattice cell (row, column) whose centre is nearest image point (x, y)."""
    step = BOX.side / CELLS
    return int((y - BOX.y0) / step), int((x - BOX.x0) / step)


def chin_pull(amount=6.0, width=1.0):
    """(CELLS, CELLS, 2): everything still but a pull straight down at the chin, a gaussian
    `width` cells wide: what the model's chin keypoint does."""
    step = BOX.side / CELLS
    row, column = (245.0 - BOX.y0) / step - 0.5, (150.0 - BOX.x0) / step - 0.5  # lattice units
    y, x = np.mgrid[0:CELLS, 0:CELLS]
    field = np.zeros((CELLS, CELLS, 2))
    field[..., 1] = -amount * np.exp(-((y - row) ** 2 + (x - column) ** 2) / (2 * width ** 2))
    return field


def test_an_affine_motion_is_left_as_it_is():
    y, x = np.mgrid[0:CELLS, 0:CELLS].astype(np.float64)
    field = np.stack([0.3 + 0.02 * x - 0.01 * y, -1.5 + 0.005 * x + 0.03 * y], axis=-1)
    assert np.allclose(JawMotion(face()).rigid(BOX, field), field, atol=1e-9)


def test_a_chin_pulled_alone_takes_the_jaw_line_beside_it():
    """The pull that drew the chin to a point now moves the chin's round, jaw points 6 to 10,
    together: each of them at least a third as far as the furthest (before: the chin alone)."""
    points = face()
    before = chin_pull()
    after = JawMotion(points).rigid(BOX, before)
    inside = points[6:11] + (np.array([150.0, 200.0]) - points[6:11]) * 0.1  # just in the jaw
    cells = [cell_of(*point) for point in inside]
    moved_before = np.array([-before[r, c, 1] for r, c in cells])
    moved_after = np.array([-after[r, c, 1] for r, c in cells])
    assert moved_before.min() < 0.05 * moved_before.max()
    assert moved_after.min() > moved_after.max() / 3
    assert moved_after.max() > 1.0  # the chin still drops


def test_above_the_lower_lip_and_far_from_the_jaw_the_motion_is_the_model_s():
    rng = np.random.default_rng(3)
    field = rng.normal(size=(CELLS, CELLS, 2))
    after = JawMotion(face()).rigid(BOX, field)
    top, _ = cell_of(150.0, 221.0)  # rows whose centres lie above the lower lip's outer edge
    middle = slice(cell_of(125.0, 0.0)[1], cell_of(175.0, 0.0)[1] + 1)  # between the corners
    assert np.array_equal(after[:top, middle], field[:top, middle])
    assert np.array_equal(after[:cell_of(0.0, 150.0)[0]], field[:cell_of(0.0, 150.0)[0]])  # eyes up
    below, _ = cell_of(150.0, 250.0 + 0.23 * 100 + 8)  # past margin + fade under the chin
    assert np.array_equal(after[below:], field[below:])
    assert not np.array_equal(after, field)


def test_a_jaw_off_the_lattice_is_not_fitted():
    field = chin_pull()
    away = CropBox(600.0, 600.0, 256.0)
    assert np.array_equal(JawMotion(face()).rigid(away, field), field)


@pytest.mark.parametrize("kwargs, message", [
    ({"landmarks": np.zeros((5, 2))}, "landmarks: expected finite (68, 2) points, got shape (5, 2)"),
    ({"margin": -1.0}, "margin: expected a number >= 0, got -1.0"),
    ({"fade": 0.0}, "fade: expected a number >= 0 (fade > 0), got 0.0"),
])
def test_bad_settings_are_named(kwargs, message):
    arguments = {"landmarks": face(), **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        JawMotion(**arguments)


def test_beside_the_jaw_s_sides_the_neck_keeps_the_model_s_motion_and_under_the_chin_it_does_not():
    """The chin's edge and the shadow under it move with the fitted jaw; a few pixels out from the
    jaw's side (point 4, 12 px left of it) the neck moves as the model has it."""
    rng = np.random.default_rng(5)
    field = rng.normal(size=(CELLS, CELLS, 2))
    after = JawMotion(face()).rigid(BOX, field)
    side = cell_of(100.5 - 12.0, 228.0)
    assert np.array_equal(after[side], field[side])
    under = cell_of(150.0, 255.0)
    assert not np.allclose(after[under], field[under])
