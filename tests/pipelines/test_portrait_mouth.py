"""talk's drawn mouth: the open-mouth reference, the head's pose from keypoints, the drawing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from face_images import LIPS, MOUTH, drawn_face
from PIL import Image, ImageDraw
from scipy.ndimage import binary_dilation

from reenact.pipelines.articulation import open_mouth, uncrossed
from reenact.pipelines.portrait_mouth import (
    BITE_OPENING,
    GRIN_WIDENING,
    LIPS_ALONE_UNTIL,
    OWN_LIPS_UNTIL,
    OWN_OPENING,
    OWN_REFERENCE_FROM,
    PARTED_FROM,
    REFERENCE_OPENING,
    alone,
    drawn_lips,
    grin_share,
    open_reference,
    parted,
    parted_mix,
    portrait_mouth,
    shut,
    turned,
)
from reenact.postprocess.mouth_mask import grown_hull, polygon_coverage
from reenact.postprocess.mouth_warp import inner_lip_outline
from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import mouth_opening

SIZE = 200
LUMA = np.array([0.299, 0.587, 0.114])


def closed_face():
    return drawn_face(SIZE, mouth_open=0.02, interior=False)


def dark(image: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(int) - MOUTH).sum(axis=-1) < 90


def test_a_closed_mouth_is_opened_and_given_an_inside():
    image, landmarks = closed_face()
    reference, opened = open_reference(image, landmarks, side=SIZE)
    assert mouth_opening(opened) > REFERENCE_OPENING - 0.01
    assert not dark(image).any() and dark(reference).sum() > 100
    x0, x1 = int(opened[60, 0]), int(opened[64, 0])
    teeth_row = int(opened[62, 1]) + 3
    assert (reference[teeth_row, x0 + 8:x1 - 8].astype(float) @ LUMA).mean() > 120  # pale teeth
    assert np.array_equal(reference[:int(landmarks[33, 1]) - 10], image[:int(landmarks[33, 1]) - 10])


def test_an_open_mouth_is_its_own_reference():
    image, landmarks = drawn_face(SIZE, mouth_open=0.4)
    assert mouth_opening(landmarks) >= OWN_OPENING
    reference, opened = open_reference(image, landmarks, side=SIZE)
    assert reference is image and np.array_equal(opened, landmarks)


def rotated(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return points @ np.array([[c, -s], [s, c]]).T + shift


def test_the_head_pose_is_where_the_frame_shows_the_eyes_and_nose():
    """The similarity to where the frame shows the photo's eye corners and nose moves the whole
    face; what the frame does to the mouth and chin does not move it, nor a nod that brings the
    jaw line's top up toward the eyes (fitted to it too, the drawn mouth shrank toward the eyes);
    a given shape is moved instead of the photo's."""
    image, landmarks = closed_face()
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))

    def carried(points):  # the head turned, grown and moved; a mouth dropped (not in the pose)
        return rotated(points, 0.1, 1.2, (6.0, -4.0))

    shown = carried(landmarks)
    shown[48:68, 1] += 9.0  # the frame's own mouth dropped: not part of the pose
    centre = shown[27:36].mean(axis=0)
    shown[[0, 1, 15, 16]] += 0.3 * (centre - shown[[0, 1, 15, 16]])  # a nod: the jaw's top inward
    np.testing.assert_allclose(mouth.posed(shown), carried(landmarks), atol=1e-9)
    shape = landmarks.copy()
    shape[48:68, 0] *= 1.1
    np.testing.assert_allclose(mouth.posed(shown, shape), carried(shape), atol=1e-9)


def test_at_rest_a_closed_portrait_is_its_own_photo():
    """Unopened, the drawn mouth is the photo's own, to the byte (not the open reference shut
    again); a little opened, its mouth shows part of the reference's inside."""
    image, landmarks = closed_face()
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))
    assert mouth.own is not None
    assert np.array_equal(mouth.draw(image, landmarks, 0.0), image)
    low, high = OWN_LIPS_UNTIL
    between = mouth.draw(image, landmarks, (low + high) / 2)
    beyond = mouth.draw(image, landmarks, high)
    assert not np.array_equal(between, beyond) and not np.array_equal(between, image)


def test_a_little_parted_mouth_shows_the_whole_inside_between_its_lips():
    """Between the photo's lips and the open reference's (`OWN_LIPS_UNTIL`) the lips are
    cross-faded, but between the drawn inner lips the inside is the reference's alone: a mouth
    parted a little shows its teeth and cavity as they are, not faded to the lips' colour."""
    image, landmarks = closed_face()
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))
    low, high = OWN_LIPS_UNTIL
    opening = (low + high) / 2
    between = mouth.draw(image, landmarks, opening)
    reference_only = dataclasses.replace(mouth, own=None).draw(image, landmarks, opening)
    target = open_mouth(shut(landmarks), opening)
    inside = polygon_coverage(inner_lip_outline(target), SIZE, SIZE) >= 1
    assert inside.sum() > 10
    np.testing.assert_array_equal(between[inside], reference_only[inside])
    lips = polygon_coverage(landmarks[48:60], SIZE, SIZE) >= 1
    lips &= ~binary_dilation(polygon_coverage(inner_lip_outline(target), SIZE, SIZE) > 0,
                             iterations=2)
    faded = np.abs(between[lips].astype(int) - reference_only[lips].astype(int)).sum(axis=-1)
    assert (faded > 0).mean() > 0.3  # the lips themselves still mostly the photo's


def test_parted_mix_is_the_drawn_inside_whole_and_a_cross_fade_elsewhere():
    """What talk, animate and dub draw a nearly shut mouth with: the cross-fade of the closed
    and the opened drawing, but between the target's inner lips the opened one alone."""
    _, landmarks = closed_face()
    target = open_mouth(shut(landmarks), 0.2)
    own = np.zeros((SIZE, SIZE, 3), np.uint8)
    drawn = np.full((SIZE, SIZE, 3), 200, np.uint8)
    mixed = parted_mix(own, drawn, 0.25, target)
    coverage = polygon_coverage(inner_lip_outline(target), SIZE, SIZE)
    assert (coverage >= 1).sum() > 50
    assert (mixed[coverage >= 1] == 200).all()
    assert (mixed[coverage == 0] == 50).all()
    partly = (coverage > 0.25) & (coverage < 1)
    np.testing.assert_allclose(mixed[partly][:, 0], 200 * coverage[partly], atol=1)
    assert np.array_equal(parted_mix(own, drawn, 1.0, target), drawn)


def test_the_drawn_mouth_opens_with_the_speech_and_leaves_the_upper_face():
    image, landmarks = closed_face()
    box = CropBox(SIZE / 2, SIZE / 2, SIZE)
    mouth = portrait_mouth(image, landmarks, box)
    closed = mouth.draw(image, landmarks, 0.0)
    half = mouth.draw(image, landmarks, 0.2)
    wide = mouth.draw(image, landmarks, 0.4)
    assert dark(closed).sum() <= 5
    assert 20 < dark(half).sum() < dark(wide).sum()
    above = int(landmarks[33, 1]) - 12  # above the nose's bottom: the mask's reach
    for drawn in (closed, half, wide):
        assert np.array_equal(drawn[:above], image[:above])


def test_an_open_mouths_middle_shows_both_rows_of_teeth_with_a_dark_line_between():
    """Down the middle of a mouth drawn open 0.3 (from a 0.45 reference): the upper teeth under
    the upper lip, a dark gap, and the lower teeth just above the lower lip (hung from the upper
    lip alone, the reference's lower teeth were cut off by the lower lip: a dark bottom half)."""
    size = 400
    image, landmarks = drawn_face(size, mouth_open=0.02, interior=False)
    drawn = portrait_mouth(image, landmarks, CropBox(size / 2, size / 2, size)).draw(
        image, landmarks, 0.3)
    target = open_mouth(landmarks, 0.3)
    x = int(round((target[62, 0] + target[66, 0]) / 2))
    top, bottom = int(target[62, 1]) + 1, int(target[66, 1]) - 1  # inside the lips
    column = drawn[top:bottom, x - 1:x + 2].astype(float) @ LUMA  # (rows, 3)
    luma = column.mean(axis=1)
    third = len(luma) // 3
    assert luma[:third].max() > 130  # the upper teeth
    assert luma[third:2 * third].min() < 60  # the cavity between the rows
    assert luma[-4:].max() > 100  # the lower teeth, risen with the lower lip


def test_a_bite_draws_the_teeth_together():
    """With a bitten reference, bite 1 fills the lower half of an opening with pale teeth where
    bite 0 shows the dark cavity; without one (talk) bite is ignored."""
    image, landmarks = closed_face()
    box = CropBox(SIZE / 2, SIZE / 2, SIZE)
    mouth = portrait_mouth(image, landmarks, box, bite=True)
    assert mouth.bitten is not None and portrait_mouth(image, landmarks, box).bitten is None
    apart, together = mouth.draw(image, landmarks, 0.35), mouth.draw(image, landmarks, 0.35, 1.0)
    half = mouth.draw(image, landmarks, 0.35, 0.5)
    assert dark(together).sum() < dark(half).sum() < dark(apart).sum()
    plain = portrait_mouth(image, landmarks, box)
    assert np.array_equal(plain.draw(image, landmarks, 0.35, 1.0), plain.draw(image, landmarks, 0.35))


def test_a_grins_teeth_fill_its_lips_gap():
    """A grin parts the lips BITE_OPENING or less: the teeth together fill the gap, with no dark
    cavity under them (painted at the wide reference's gap and squeezed, a fifth of it was); the
    seam between the teeth and the dark beside them at the corners (an opening reaches the
    corners, `mouth_interior.inner_curve_ends`) stay under a twelfth."""
    image, landmarks = closed_face()
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE), bite=True)
    for opening in (0.2, BITE_OPENING):
        inside = polygon_coverage(open_mouth(landmarks, opening)[60:68], SIZE, SIZE) > 0.99
        assert inside.sum() > 100
        assert dark(mouth.draw(image, landmarks, opening, 1.0))[inside].mean() < 0.08


def test_a_head_turned_away_gets_its_lips_drawn_and_keeps_the_frames_jaw():
    """frame_jaw: a frontal head's whole lower face is drawn; one turned far (the nose near one
    side of the jaw) has only its lips and a margin drawn, the jaw and cheeks left as the frame
    shows them."""
    image, landmarks = closed_face()
    box = CropBox(SIZE / 2, SIZE / 2, SIZE)
    mouth = portrait_mouth(image, landmarks, box, frame_jaw=True)
    turn = landmarks.copy()
    turn[27:36, 0] += 0.3 * np.ptp(landmarks[:17, 0])  # the nose near one side of the jaw
    assert turned(landmarks, landmarks) == 0.0 and turned(landmarks, turn) == 1.0
    frame = np.full_like(image, 90)  # a frame unlike the photo: what is drawn shows
    frontal = mouth.draw(frame, landmarks, 0.3, shown=landmarks)
    away = mouth.draw(frame, landmarks, 0.3, shown=turn)
    # a cheek pixel by the jaw's side (row, column); the outline itself stays the frame's
    jaw = tuple(np.round((0.7 * landmarks[2] + 0.3 * landmarks[31])[::-1]).astype(int))
    assert np.abs(frontal[jaw].astype(int) - 90).max() > 20  # the photo's lower face drawn
    assert np.abs(away[jaw].astype(int) - 90).max() < 10  # at most the lips' feathered edge
    lips = (int(landmarks[51, 1]), int(landmarks[51, 0]))
    assert (away[lips] != 90).any()
    # only the lips and a narrow margin: the lower face's margin drew the photo's cheek shading
    # over the frame's squeezed near-side jaw as a notch
    from scipy.ndimage import distance_transform_edt

    lips_points = np.concatenate([open_mouth(landmarks, 0.3)[48:68], turn[48:68]])
    hull = grown_hull(lips_points, SIZE, SIZE, 0.0, 0.0) > 0
    far_off = distance_transform_edt(~hull) > 0.06 * SIZE  # 12 px of a 200-px crop
    assert np.abs(away[far_off].astype(int) - 90).max() <= 4
    assert np.abs(frontal[far_off].astype(int) - 90).max() > 20  # the lower face reaches further


def test_a_mouth_opened_little_gets_its_lips_drawn_on_the_frames_jaw():
    """frame_jaw: a frontal head's mouth opened less than `LIPS_ALONE_UNTIL[0]` is drawn as its
    lips alone, the jaw, chin and cheeks the frame's; from `LIPS_ALONE_UNTIL[1]` the whole lower
    face (a wide opening's chin drops); a turned head is drawn as lips at any opening."""
    image, landmarks = closed_face()
    low, high = LIPS_ALONE_UNTIL
    turn = landmarks.copy()
    turn[27:36, 0] += 0.3 * np.ptp(landmarks[:17, 0])
    assert alone(landmarks, landmarks, 0.0) == 1.0 and alone(landmarks, landmarks, low) == 1.0
    assert alone(landmarks, landmarks, high) == 0.0 and alone(landmarks, turn, high) == 1.0
    assert 0.0 < alone(landmarks, landmarks, (low + high) / 2) < 1.0
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE), frame_jaw=True)
    frame = np.full_like(image, 90)
    jaw = tuple(np.round((0.7 * landmarks[2] + 0.3 * landmarks[31])[::-1]).astype(int))
    chin = (int(landmarks[8, 1]) - 2, int(landmarks[8, 0]))
    little = mouth.draw(frame, landmarks, (low + OWN_LIPS_UNTIL[1]) / 2, shown=landmarks)
    wide = mouth.draw(frame, landmarks, high, shown=landmarks)
    between = mouth.draw(frame, landmarks, (low + high) / 2, shown=landmarks)
    for pixel in (jaw, chin):
        assert np.abs(little[pixel].astype(int) - 90).max() < 10  # the frame's
        assert np.abs(wide[pixel].astype(int) - 90).max() > 20  # the photo's drawn
        assert 0 < np.abs(between[pixel].astype(int) - 90).max() < np.abs(
            wide[pixel].astype(int) - 90).max()
    lips = (int(landmarks[51, 1]), int(landmarks[51, 0]))
    assert (little[lips] != 90).any()  # the lips are drawn
    without = dataclasses.replace(mouth, frame_jaw=False)  # talk: the whole lower face always
    assert np.abs(without.draw(frame, landmarks, 0.09, shown=landmarks)[jaw].astype(int)
                  - 90).max() > 20


def test_crossed_inner_lips_are_drawn_as_lips_that_meet():
    """A driver's change can carry a photo's closed inner lips past each other; the photo's own
    lips are drawn as though they met, not folded over (a jagged black seam)."""
    image, landmarks = closed_face()
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))
    crossed = landmarks.copy()
    crossed[61:64] += (0.0, 3.0)  # the upper inner lip below the lower one
    crossed[65:68] -= (0.0, 3.0)
    for opening in (0.0, np.mean(OWN_LIPS_UNTIL)):  # the photo's lips alone, and mixed
        drawn = mouth.draw(image, crossed, opening)
        assert np.array_equal(drawn, mouth.draw(image, uncrossed(crossed, landmarks), opening))


def test_pressed_lips_on_a_bowed_lip_line_show_only_lips():
    """A bowed inner lip line turns the inside's triangles into slivers over the lips when they
    press together; drawn from a reference with teeth, those slivers showed a dotted line of
    them. The lips must win there."""
    image, landmarks = closed_face()
    bowed = landmarks.copy()
    bowed[[61, 63, 65, 67], 1] -= 2.0
    bowed[[62, 66], 1] -= 1.0
    mouth = portrait_mouth(image, bowed, CropBox(SIZE / 2, SIZE / 2, SIZE))
    out = dataclasses.replace(mouth, own=None).draw(image, bowed, 0.0)  # the reference, shut
    lips = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(lips).polygon([tuple(p) for p in bowed[48:60].tolist()], fill=255)
    luma = out.astype(float) @ LUMA
    off = np.abs(luma - float(np.array(LIPS) @ LUMA)) > 40
    assert off[np.asarray(lips) > 0].sum() == 0


def test_an_open_mouths_lips_are_drawn_from_their_edges_and_a_closed_ones_as_read():
    """An open photo mouth whose inner-lip points were read 4 px inside it is drawn from the
    lips' edges, its opening read 1.x times larger; a closed one keeps dlib's points."""
    image, truth = drawn_face(SIZE, mouth_open=0.4)
    misread = truth.copy()
    misread[[61, 62, 63], 1] += 4.0
    misread[[65, 66, 67], 1] -= 4.0
    lips, scale = drawn_lips(image, misread)
    np.testing.assert_allclose(lips[[61, 62, 63, 65, 66, 67]], truth[[61, 62, 63, 65, 66, 67]],
                               atol=1.5)
    assert scale == pytest.approx(mouth_opening(truth) / mouth_opening(misread), rel=0.1)
    closed, landmarks = closed_face()
    lips, scale = drawn_lips(closed, landmarks)
    np.testing.assert_array_equal(lips, landmarks)
    assert scale == 1.0


def test_only_the_inside_is_drawn_from_the_open_reference():
    """The open reference is the photo warped open once: drawn from it, a frame's lips, chin and
    cheeks were resampled twice (soft), and the neck its dropped chin had squeezed came back
    smeared. The photo's own pixels draw them; the reference gives the inside alone."""
    image, landmarks = closed_face()
    box = CropBox(SIZE / 2, SIZE / 2, SIZE)
    mouth = portrait_mouth(image, landmarks, box)
    reference, opened = open_reference(image, landmarks, box.side)
    spoiled = reference.copy()  # the reference wrong everywhere but between its inner lips
    inside = polygon_coverage(inner_lip_outline(opened), SIZE, SIZE) > 0
    spoiled[~binary_dilation(inside, iterations=2)] = (0, 255, 0)
    spoiled_mouth = dataclasses.replace(mouth, warp=type(mouth.warp)(spoiled, opened,
                                                                     risen_teeth=True))
    for opening in (0.15, 0.3, REFERENCE_OPENING):
        drawn = mouth.draw(image, landmarks, opening)
        again = spoiled_mouth.draw(image, landmarks, opening)
        target_inside = polygon_coverage(inner_lip_outline(open_mouth(landmarks, opening)),
                                         SIZE, SIZE) > 0
        outside = ~binary_dilation(target_inside, iterations=3)
        assert np.array_equal(drawn[outside], again[outside])
        # the inside is there, from the reference (teeth, the cavity), not the photo's lips
        assert np.abs(drawn.astype(int) - image)[target_inside].mean() > 20


def test_the_dark_line_between_closed_lips_goes_inside_not_onto_the_opened_lips():
    """A statue's or a painting's groove between the lips: dlib puts both inner lips on its
    middle, and warped open its dark pixels lined the lips and stretched into a wedge at the
    corners. Opened from the groove's edges, the lips around the drawn inside carry none."""
    image, landmarks = drawn_face(SIZE, mouth_open=0.0)
    line = [landmarks[60], *(landmarks[[61, 62, 63]] - (0, 2)), landmarks[64],
            *(landmarks[[65, 66, 67]] + (0, 2))]  # 4 px tall, tapering to the corners
    canvas = Image.fromarray(image)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in line], fill=(30, 20, 20))
    image = np.asarray(canvas)
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))
    for opening in (0.15, 0.3):
        drawn = mouth.draw(image, landmarks, opening)
        target = open_mouth(shut(landmarks), opening)
        inside = polygon_coverage(inner_lip_outline(target), SIZE, SIZE) > 0
        lips = polygon_coverage(target[48:60], SIZE, SIZE) > 0.5
        on_lips = lips & ~binary_dilation(inside, iterations=2)
        assert (drawn[on_lips].astype(float) @ LUMA < 60).sum() < 5, opening


def smile_on_its_teeth(opening: float = 0.2) -> tuple[np.ndarray, np.ndarray, int]:
    """A face whose lips part `opening` on its teeth together: the upper row white, a dark seam
    where they meet, the lower row greyer; and the seam's row."""
    image, landmarks = drawn_face(SIZE, mouth_open=opening, interior=False)
    inside = polygon_coverage(inner_lip_outline(landmarks), SIZE, SIZE) >= 0.5
    top, bottom = np.nonzero(inside.any(axis=1))[0][[0, -1]]
    seam = int(top + 0.6 * (bottom - top))
    rows = np.arange(SIZE)[:, None]
    image = image.copy()
    image[inside & (rows < seam)] = (240, 238, 228)
    image[inside & (rows >= seam) & (rows < seam + 2)] = (40, 30, 30)
    image[inside & (rows >= seam + 2)] = (205, 200, 190)
    return image, landmarks, seam


@pytest.mark.parametrize("opening", [0.2, 0.1])
def test_a_smile_parted_on_its_teeth_opens_onto_a_cavity_under_its_own_upper_teeth(opening):
    """A photo's lips parted a little on its teeth together: at rest the photo itself; opened
    wide, its own upper teeth hang from the upper lip over a dark cavity, not the whole inside
    stretched into a row of tall teeth (the README's astronaut). Parted less than `OWN_OPENING`
    the teeth tell it from lips that dlib reads apart: taken for closed, a bearded photo parted
    0.09 on its upper teeth kept them on its lips over the opened cavity, a second mouth; here
    no teeth are left outside the drawn inside."""
    image, landmarks, seam = smile_on_its_teeth(opening)
    own = mouth_opening(landmarks)
    assert PARTED_FROM <= own < OWN_REFERENCE_FROM and parted(image, landmarks)
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))
    assert mouth.own is not None and mouth.own_opening == pytest.approx(own)
    assert np.array_equal(mouth.draw(image, landmarks, own), image)
    wide = mouth.draw(image, landmarks, REFERENCE_OPENING)
    target = open_mouth(shut(landmarks), REFERENCE_OPENING)
    inside = polygon_coverage(inner_lip_outline(target), SIZE, SIZE) >= 1
    luma = wide.astype(float) @ LUMA
    teeth_rows = np.nonzero(((luma > 200) & inside).sum(axis=1) > 3)[0]
    photo_teeth = seam - np.nonzero(polygon_coverage(inner_lip_outline(landmarks), SIZE,
                                                     SIZE).any(axis=1))[0][0]
    # as tall as the photo's (give or take the rows a resampled edge spreads over, or loses:
    # the photo's teeth here are 2-3 rows)
    assert 0.6 * photo_teeth - 1 <= len(teeth_rows) <= 1.4 * photo_teeth + 2
    assert ((luma < 90) & inside).sum() > 0.3 * inside.sum()  # and a cavity under them
    mouth_area = binary_dilation(polygon_coverage(target[48:60], SIZE, SIZE) > 0, iterations=6)
    assert ((luma > 200) & mouth_area & ~binary_dilation(inside, iterations=2)).sum() == 0


def test_lips_read_apart_without_teeth_between_them_are_closed():
    """dlib reads pressed lips up to ~0.09 apart: lip colour between its inner points is no
    parting, and such a mouth is opened from closed lips."""
    image, landmarks = drawn_face(SIZE, mouth_open=0.1, interior=False)
    assert PARTED_FROM <= mouth_opening(landmarks) < OWN_OPENING
    assert not parted(image, landmarks)
    assert portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE)).own_opening == 0


def test_a_mouth_open_wide_is_its_own_reference_and_one_parted_a_little_is_not():
    image, landmarks = drawn_face(SIZE, mouth_open=0.4)
    assert mouth_opening(landmarks) >= OWN_REFERENCE_FROM
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))
    assert mouth.own is None and mouth.own_opening == 0 and mouth.skin is None
    image, landmarks, _ = smile_on_its_teeth(0.2)
    mouth = portrait_mouth(image, landmarks, CropBox(SIZE / 2, SIZE / 2, SIZE))
    assert mouth.skin is not None and mouth.bitten is None


def test_a_grin_is_the_mouths_widening_from_the_photos():
    _, landmarks = drawn_face(160, mouth_open=0.0, interior=False)
    low, high = GRIN_WIDENING
    eyes = np.linalg.norm(landmarks[42:48].mean(axis=0) - landmarks[36:42].mean(axis=0))
    for widening, share in ((0.0, 0.0), (low, 0.0), ((low + high) / 2, 0.5), (high, 1.0),
                            (2 * high, 1.0)):
        wider = landmarks.copy()
        wider[48, 0] -= widening * eyes / 2
        wider[54, 0] += widening * eyes / 2
        assert grin_share(wider, landmarks) == pytest.approx(share, abs=1e-6)
