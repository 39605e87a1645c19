"""animate's drawn mouth: the driver's change of opening and lip shape carried onto a portrait."""

from __future__ import annotations

import numpy as np
import pytest
from speech_fixtures import face_landmarks

from reenact.pipelines.articulation import SPEECH_LANDMARKS, open_mouth
from reenact.pipelines.mouth_transfer import closed_start, mouth_changes
from reenact.pipelines.portrait_mouth import OWN_OPENING, shut
from reenact.point_geometry import apply_affine
from reenact.preprocess.expressions import interocular_distance, mouth_opening

OTHERS = [i for i in range(68) if i not in SPEECH_LANDMARKS]


def driver(mouth_open: float = 0.02) -> np.ndarray:
    return face_landmarks(300.0, 260.0, 240.0, mouth_open=mouth_open)


def portrait(mouth_open: float = 0.02) -> np.ndarray:
    return face_landmarks(100.0, 120.0, 120.0, mouth_open=mouth_open)


def similarity(angle: float, scale: float, shift: tuple[float, float], centre) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[c, -s], [s, c]])
    return np.hstack([linear, (np.asarray(shift) + centre - linear @ centre)[:, None]])


def test_a_still_driver_leaves_a_closed_portrait_shut_and_as_it_is():
    rest = driver()
    changes = mouth_changes([rest] * 5, rest, portrait())
    assert len(changes) == 5
    np.testing.assert_allclose(changes.shapes, np.repeat(portrait()[None], 5, axis=0), atol=1e-9)
    np.testing.assert_array_equal(changes.openings, 0.0)


def test_head_motion_alone_is_no_mouth_change():
    rest = driver()
    moved = [apply_affine(similarity(a, s, (d, -d), rest.mean(axis=0)), rest)
             for a, s, d in ((0.2, 1.0, 0.0), (-0.1, 1.3, 20.0), (0.05, 0.7, -35.0))]
    changes = mouth_changes(moved, rest, portrait())
    np.testing.assert_allclose(changes.shapes, np.repeat(portrait()[None], 3, axis=0), atol=1e-6)
    np.testing.assert_allclose(changes.openings, 0.0, atol=1e-9)


def test_a_nod_that_moves_the_jaws_top_is_no_mouth_change():
    """The jaw line's top moving toward the eyes and nose (a nod; dlib's loose reading of the
    face's edge) is no change of the mouth: the pose is read on the eye corners and nose alone."""
    rest = driver()
    nodded = rest.copy()
    centre = rest[27:36].mean(axis=0)
    nodded[[0, 1, 15, 16]] += 0.3 * (centre - rest[[0, 1, 15, 16]])
    changes = mouth_changes([rest, nodded, nodded], rest, portrait())
    np.testing.assert_allclose(changes.shapes, np.repeat(portrait()[None], 3, axis=0), atol=1e-6)
    np.testing.assert_allclose(changes.openings, 0.0, atol=1e-9)


def test_the_drivers_opening_change_is_the_portraits_and_not_its_shape():
    """A driver twice the portrait's size opening by 0.3 interocular distances (turned and
    moved): the portrait is told to open by 0.3; the opening's motion is not also in the shape."""
    rest = driver()
    steps = 12
    frames = [open_mouth(rest, 0.3 if i >= steps // 2 else 0.0) for i in range(steps)]
    frames = [apply_affine(similarity(0.15, 1.1, (10.0, 5.0), rest.mean(axis=0)), f) for f in frames]
    changes = mouth_changes(frames, frames[0], portrait())
    assert changes.openings[0] == pytest.approx(0.0, abs=1e-6)
    assert changes.openings[-1] == pytest.approx(0.3, abs=1e-6)
    assert np.all(np.diff(changes.openings) >= -1e-9)  # smoothed, not overshooting
    np.testing.assert_allclose(changes.shapes[-1], portrait(), atol=1e-6)


def test_a_wider_mouth_widens_the_portraits_by_the_faces_size_ratio():
    rest = driver()
    smiling = rest.copy()
    smiling[[48, 60], 0] -= 12.0  # the corners 12 px out on a face twice the portrait's size
    smiling[[54, 64], 0] += 12.0
    changes = mouth_changes([rest] * 6 + [smiling] * 6, rest, portrait())
    ratio = interocular_distance(portrait()) / interocular_distance(rest)
    width = changes.shapes[:, 54, 0] - changes.shapes[:, 48, 0]
    rest_width = portrait()[54, 0] - portrait()[48, 0]
    assert width[0] == pytest.approx(rest_width, abs=1e-6)
    assert width[-1] - rest_width == pytest.approx(24.0 * ratio, rel=0.02)
    np.testing.assert_allclose(changes.shapes[:, OTHERS], np.repeat(portrait()[None, OTHERS], 12, 0),
                               atol=1e-9)  # only the lips and jaw change
    np.testing.assert_allclose(changes.openings, 0.0, atol=1e-6)


def test_a_driver_that_starts_open_closes_the_portrait_no_further_than_shut():
    start = driver(0.3)
    changes = mouth_changes([start, driver(0.02), driver(0.5)], start, portrait())
    assert changes.openings.min() == 0.0
    assert changes.openings[-1] > 0.05


def test_a_closed_start_read_apart_is_measured_from_the_drivers_closed_reading():
    """dlib reads the closed lips of the first frame 0.09 apart and the same lips 0.02 apart
    later: an opening to 0.14 is drawn 0.12 (from the closed reading), not 0.05 (from the first
    frame's); the closed frames draw (next to) nothing."""
    gaps = [0.09] + [0.02] * 10 + [0.14] * 9
    frames = [driver(gap) for gap in gaps]
    assert closed_start(frames, frames[0]) == pytest.approx(0.02, abs=1e-6)
    changes = mouth_changes(frames, frames[0], portrait())
    assert changes.openings[-1] == pytest.approx(0.12, abs=1e-6)
    assert changes.openings[5] == pytest.approx(0.0, abs=1e-6)
    # a first frame already open (at OWN_OPENING or more) stays the reference: its own inside
    # is the one the driver's changes are measured from
    opened = [driver(0.3)] + frames[1:]
    assert closed_start(opened, opened[0]) == pytest.approx(0.3, abs=1e-6)
    # and one read lower than the video's low end keeps its own reading
    low = [driver(0.01)] + frames[1:]
    assert closed_start(low, low[0]) == pytest.approx(0.01, abs=1e-6)
    assert closed_start([None, None], low[0]) == pytest.approx(0.01, abs=1e-6)


def test_lips_parted_on_teeth_under_own_opening_are_open_on_either_side():
    """A first frame and a portrait parted 0.1 on their teeth (`portrait_mouth.parted`, which
    reads the pixels): the driver's changes are measured from that frame's own gap, not its
    closed reading, and the portrait keeps its own opening at rest (a smile's teeth drawn as
    themselves, not opened 0.08 further into a painted inside)."""
    gaps = [0.1] * 6 + [0.02] * 10 + [0.25] * 9
    frames = [driver(gap) for gap in gaps]
    assert closed_start(frames, frames[0]) == pytest.approx(0.02, abs=1e-6)  # read as closed
    assert closed_start(frames, frames[0], pale=0.05) == pytest.approx(0.02, abs=1e-6)
    assert closed_start(frames, frames[0], pale=0.5) == pytest.approx(0.1, abs=1e-6)
    smile = portrait(0.1)
    own = mouth_opening(smile)
    changes = mouth_changes(frames, frames[0], smile, parted=True, reference_pale=0.5)
    assert changes.openings[0] == pytest.approx(own, abs=1e-6)
    assert changes.openings[-1] == pytest.approx(own + 0.15, abs=0.01)
    closed = mouth_changes(frames, frames[0], smile)
    assert closed.openings[0] == pytest.approx(0.08, abs=1e-6)  # shut + (0.1 - 0.02)


def test_the_opening_scale_converts_the_drivers_change_to_the_portraits_reading():
    """A portrait whose lips were read at their edges (0.45) where dlib read 0.3: the driver's
    change, in dlib's reading, is drawn 1.5x, so the driver closing to its closed level closes
    the portrait too, and at rest the portrait keeps its own opening."""
    open_portrait = portrait(0.45)
    start = driver(0.3)
    frames = [start] * 4 + [driver(0.0)] * 6
    changes = mouth_changes(frames, start, open_portrait, opening_scale=1.5)
    own = mouth_opening(open_portrait)
    assert changes.openings[0] == pytest.approx(own, abs=1e-6)
    assert changes.openings[-1] == pytest.approx(max(own - 1.5 * 0.3, 0.0), abs=0.02)
    unscaled = mouth_changes(frames, start, open_portrait)
    assert unscaled.openings[-1] > changes.openings[-1] + 0.1


def test_an_opening_beyond_the_start_is_drawn_as_the_drivers_own_change():
    """Read at their edges, the inner lips are a few pixels further apart than dlib's points on
    the teeth: an offset, not a factor. Scaled 1.4x, a driver opening from a smile on its teeth
    drew 1.4x its change (dev: mouth interior 1.57x the drivers' amplitude, AKD 2.66 against
    2.60); the scale only takes the portrait down to shut as the driver closes."""
    open_portrait = portrait(0.3)
    start = driver(0.2)
    frames = [start] * 6 + [driver(0.3)] * 10
    changes = mouth_changes(frames, start, open_portrait, opening_scale=1.5)
    own = mouth_opening(open_portrait)
    assert changes.openings[-1] == pytest.approx(own + 0.1, abs=1e-3)


def test_the_opening_scale_moves_the_inner_lips_alone_and_the_chin_as_the_drivers():
    """The driver closes 0.2 with its lower lip and chin rising as `open_mouth` moves them. Drawn
    on a portrait read at its edges (scale 1.5), the inner lips close by 1.5x that, but the chin
    and the outer lower lip rise by the driver's own rise, scaled to the portrait's size: taken
    1.5x too, a wide-open portrait's closing lower lip and chin were drawn high."""
    open_portrait = portrait(0.45)
    start = open_mouth(driver(0.02), 0.3)
    frames = [start] * 6 + [open_mouth(driver(0.02), 0.1)] * 6
    changes = mouth_changes(frames, start, open_portrait, opening_scale=1.5)
    drawn = open_mouth(shut(changes.shapes[-1]), changes.openings[-1])
    rest = open_mouth(shut(changes.shapes[0]), changes.openings[0])
    size = interocular_distance(open_portrait) / interocular_distance(start)
    driver_rise = (start - frames[-1])[[8, 57], 1] * size
    np.testing.assert_allclose((rest - drawn)[[8, 57], 1], driver_rise, rtol=0.03)
    assert mouth_opening(rest) - mouth_opening(drawn) == pytest.approx(1.5 * 0.2, abs=0.01)


def test_an_open_portrait_keeps_its_opening_at_rest_and_none_frames_change_nothing():
    open_portrait = portrait(0.3)
    assert mouth_opening(open_portrait) >= OWN_OPENING
    rest = driver()
    changes = mouth_changes([rest, None, rest], rest, open_portrait)
    np.testing.assert_allclose(changes.openings, mouth_opening(open_portrait), atol=1e-9)
    np.testing.assert_allclose(changes.shapes[1], open_portrait, atol=1e-9)


def test_a_grin_is_a_bite_and_a_dropped_jaw_or_speech_is_not():
    """A grin (lips part, corners out, the chin still) has the teeth together; a jaw dropped with
    the lips, and lips parting without the corners going out (speech), do not."""
    rest = driver()
    iod = interocular_distance(rest)
    speech = rest.copy()
    speech[[55, 56, 57, 58, 59, 65, 66, 67], 1] += 0.25 * iod  # the lower lip only
    grin = speech.copy()
    grin[[48, 60], 0] -= 0.15 * iod  # and the corners out
    grin[[54, 64], 0] += 0.15 * iod
    dropped = open_mouth(grin, 0.0)
    dropped[5:12, 1] += 0.2 * iod  # the chin down with the lips
    changes = {name: mouth_changes([rest] * 4 + [frame] * 12, rest, portrait())
               for name, frame in (("grin", grin), ("speech", speech), ("dropped", dropped))}
    for change in changes.values():
        assert change.openings[-1] == pytest.approx(0.25, abs=0.01)
        assert change.bites[0] == 0.0
    assert changes["grin"].bites[-1] == pytest.approx(1.0)
    assert changes["speech"].bites[-1] == 0.0 and changes["dropped"].bites[-1] == 0.0


def test_teeth_filling_the_drivers_mouth_make_a_bite_without_the_corners_going_out():
    """A grin that parts the lips without widening the mouth looks like speech to the shape
    alone; the driver's pixels (the inside mostly teeth) tell it apart."""
    rest = driver()
    speech = rest.copy()
    speech[[55, 56, 57, 58, 59, 65, 66, 67], 1] += 0.25 * interocular_distance(rest)
    frames = [rest] * 4 + [speech] * 12
    shown = [np.nan] * 4 + [0.8] * 12  # teeth from edge to edge
    upper_teeth = [np.nan] * 4 + [0.4] * 12  # speech: the upper teeth over a dark inside
    assert mouth_changes(frames, rest, portrait()).bites[-1] == 0.0
    assert mouth_changes(frames, rest, portrait(), shown).bites[-1] == pytest.approx(1.0)
    assert mouth_changes(frames, rest, portrait(), upper_teeth).bites[-1] == 0.0
    assert mouth_changes(frames, rest, portrait(), [None] * 16).bites.max() == 0.0
    with pytest.raises(ValueError, match="teeth: expected 16 values"):
        mouth_changes(frames, rest, portrait(), shown[:-1])


def test_bad_landmarks_are_refused():
    with pytest.raises(ValueError, match="reference"):
        mouth_changes([driver()], np.zeros((5, 2)), portrait())


def test_the_jaw_line_changes_as_one_bone():
    """A driver whose dlib chin point alone drops 4 px (its outline bent at the chin, as dlib's
    points slide along a turning jaw): the portrait's chin is not drawn to a point. Its jaw line's
    change is the affine map nearest the driver's, so the chin moves with its neighbours (within
    a tenth of the 2 px the drop is at the portrait's half size; point by point it was all 2)."""
    rest = driver()
    bent = rest.copy()
    bent[8, 1] += 4.0
    changes = mouth_changes([rest] * 4 + [bent] * 8, rest, portrait())
    moved = changes.shapes[-1] - portrait()
    assert np.abs(moved[8] - (moved[7] + moved[9]) / 2).max() < 0.2
    assert np.abs(moved[list(range(3, 14))]).max() < 4.0 * 0.5  # spread, not one point's
    assert moved[8, 1] > 0.1  # the chin still goes where the jaw went, a little
