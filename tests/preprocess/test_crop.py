import math

import numpy as np
import pytest
from conftest import MEDIA, require

from reenact.config import ConfigError
from reenact.postprocess.paste import paste_back
from reenact.preprocess.crop import (
    BoxSmoother,
    BoxSmoothingConfig,
    CropBox,
    crop_box,
    crop_image,
    smooth_boxes,
    steady_sides,
)
from reenact.preprocess.face import Face


def smooth_image(height=240, width=320, seed=0):
    """A smooth random RGB image (bicubic upsampling of a coarse grid)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 20, width // 20, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def encloses(box, face):
    x0, y0, x1, y1 = face.box
    return box.x0 <= x0 and box.y0 <= y0 and box.x1 >= x1 and box.y1 >= y1


@pytest.mark.parametrize("keep_inside", [False, True])
@pytest.mark.parametrize("face_box", [(100, 80, 160, 150), (2, 3, 60, 70), (250, 170, 318, 238)])
def test_crop_box_encloses_the_face(face_box, keep_inside):
    face = Face(face_box, 1.0)
    box = crop_box(face, 320, 240, margin=0.4, shift_up=0.1, keep_inside=keep_inside)
    assert encloses(box, face)
    extent = max(face.width, face.height)
    assert box.side == pytest.approx(1.8 * extent)
    if not keep_inside:
        assert box.center_y == pytest.approx(face.center[1] - 0.1 * extent)


def test_crop_box_shifts_inside_the_image_when_it_fits():
    box = crop_box(Face((10, 10, 60, 60), 1.0), 320, 240, margin=0.4)
    assert (box.x0, box.y0) == (0, 0)
    too_tall = crop_box(Face((0, 20, 150, 170), 1.0), 320, 240, margin=0.4, shift_up=0.0)
    assert 240 < too_tall.side < 320
    assert too_tall.x0 == pytest.approx(0)  # shifted in x, where it fits
    assert too_tall.center_y == pytest.approx(95)  # left centred on the face in y, where it does not


def test_crop_box_covers_landmarks_below_the_box():
    landmarks = np.tile([130.0, 120.0], (68, 1))
    landmarks[8] = (130.0, 190.0)  # chin well below the detector box
    face = Face((100, 80, 160, 150), 1.0, landmarks)
    box = crop_box(face, 320, 240, margin=0.4, keep_inside=False)
    assert box.side == pytest.approx(1.8 * 110) and box.y1 > 190


def test_crop_box_validates_arguments():
    face = Face((100, 80, 160, 150), 1.0)
    with pytest.raises(ValueError, match="shift_up: expected a number in"):
        crop_box(face, 320, 240, margin=0.0)
    with pytest.raises(ValueError, match="margin: expected a number >= 0"):
        crop_box(face, 320, 240, margin=-0.1)
    with pytest.raises(ValueError, match="image_width: expected an integer >= 1, got 0"):
        crop_box(face, 0, 240, margin=0.4)
    with pytest.raises(ValueError, match="CropBox.side: expected a number > 0"):
        CropBox(1.0, 2.0, 0.0)


def test_box_point_mappings_are_inverse():
    box = CropBox(100.25, 80.5, 123.0)
    points = np.array([[0.5, 0.5], [255.5, 17.25]])
    assert np.allclose(box.crop_to_image(box.image_to_crop(points, 256), 256), points)
    assert np.allclose(box.image_to_crop([[box.x0, box.y1]], 64), [[0, 64]])


def noisy_step_trajectory(num_frames=100, step_at=50, step=60.0, side=200.0, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.full(num_frames, 300.0)
    truth[step_at:] += step
    boxes = [CropBox(x + rng.normal(0, 2), 200 + rng.normal(0, 2), side * math.exp(rng.normal(0, 0.01)))
             for x in truth]
    return boxes, truth


def test_smoothing_removes_jitter_and_follows_a_step():
    boxes, truth = noisy_step_trajectory()
    smoothed = smooth_boxes(boxes, fps=25)
    raw_x = np.array([box.center_x for box in boxes])
    out_x = np.array([box.center_x for box in smoothed])
    out_side = np.array([box.side for box in smoothed])
    still = slice(10, 50)
    assert np.var(np.diff(out_x[still])) < 0.1 * np.var(np.diff(raw_x[still]))
    assert np.var(np.diff(out_side[still])) < 0.1 * np.var(np.diff([b.side for b in boxes][10:50]))
    # a head jump of 30% of the box is followed to within 3% of the box in 3 frames
    assert np.all(np.abs(out_x[53:] - truth[53:]) < 0.03 * 200)


def test_stateful_smoother_matches_the_sequence_form_and_resets():
    boxes, _ = noisy_step_trajectory(num_frames=20)
    smoother = BoxSmoother(fps=30, config=BoxSmoothingConfig(min_cutoff=1.0, beta=5.0))
    stateful = [smoother.smooth(box) for box in boxes]
    assert stateful == smooth_boxes(boxes, 30, BoxSmoothingConfig(min_cutoff=1.0, beta=5.0))
    smoother.reset()
    assert smoother.smooth(boxes[5]) == boxes[5]  # the first box after a reset passes through


def test_smoothing_config_and_fps_are_validated():
    with pytest.raises(ConfigError, match="BoxSmoothingConfig.min_cutoff: expected a number > 0"):
        BoxSmoothingConfig(min_cutoff=0.0)
    with pytest.raises(ValueError, match="fps: expected a number > 0"):
        BoxSmoother(fps=0)


def test_crop_image_maps_sub_pixel_boxes_exactly():
    """On a ramp where pixel column j holds j, crop column c holds x0 + (c + 0.5) s / size - 0.5."""
    ramp = np.broadcast_to(np.arange(256, dtype=np.uint8)[None, :, None], (64, 256, 3)).copy()
    box = CropBox(120.3, 32.0, 40.0)
    crop = crop_image(ramp, box, 20)
    expected = box.x0 + (np.arange(20) + 0.5) * 2 - 0.5
    assert crop.shape == (20, 20, 3) and crop.dtype == np.uint8
    assert np.abs(crop[10, :, 0].astype(float) - expected).max() <= 0.6


def test_crop_partly_outside_the_image():
    image = smooth_image()
    box = CropBox(10.0, 230.0, 100.0)  # sticks out left and bottom
    edge = crop_image(image, box, 64)
    assert edge.shape == (64, 64, 3) and edge.dtype == np.uint8
    # the outside part is filled with replicated border pixels: its bottom-left corner is the
    # image's bottom-left pixel
    assert np.abs(edge[-1, 0].astype(int) - image[-1, 0].astype(int)).max() <= 2
    constant = crop_image(image, box, 64, fill="constant", fill_value=7)
    assert (constant[-1, 0] == 7).all() and (constant[0, -1] != 7).any()
    far = crop_image(image, CropBox(-500.0, -500.0, 50.0), 16)  # entirely outside: all replicated
    assert (far == image[0, 0]).all()


def test_crop_image_validates_arguments():
    image = smooth_image()
    with pytest.raises(ValueError, match="size: expected an integer >= 1, got 0"):
        crop_image(image, CropBox(50, 50, 20), 0)
    with pytest.raises(ValueError, match="fill: expected 'edge' or 'constant', got 'reflect'"):
        crop_image(image, CropBox(50, 50, 20), 8, fill="reflect")
    with pytest.raises(ValueError, match="image: expected an"):
        crop_image(image[..., 0], CropBox(50, 50, 20), 8)


def test_crop_then_paste_round_trips_inside_the_box():
    image = smooth_image()
    box = CropBox(150.3, 110.7, 120.4)
    crop = crop_image(image, box, 128)
    pasted = paste_back(image, crop, box, feather=0.1, color_match=False)
    inner = (slice(math.ceil(box.y0), math.floor(box.y1)), slice(math.ceil(box.x0), math.floor(box.x1)))
    error = np.abs(pasted[inner].astype(int) - image[inner].astype(int))
    assert error.mean() < 1.0 and error.max() <= 6


def test_crop_then_paste_round_trips_on_a_portrait():
    from PIL import Image

    with Image.open(require(MEDIA / "portraits" / "woman_smiling.png")) as file:
        image = np.asarray(file.convert("RGB"))
    box = CropBox(120.0, 140.6, 200.0)
    pasted = paste_back(image, crop_image(image, box, 256), box, feather=0.1, color_match=False)
    assert np.abs(pasted.astype(int) - image.astype(int)).mean() < 1.0


def test_steady_sides_ignore_a_turns_brief_shrink_and_follow_a_slow_approach():
    fps = 25
    # a head that turns for 7 frames: its followed box shrinks to 0.72x and comes back
    sides = [390.0] * 30 + [300.0, 290.0, 281.0, 282.0, 285.0, 300.0, 352.0] + [390.0] * 30
    boxes = [CropBox(100.0 + i, 80.0 - i, side) for i, side in enumerate(sides)]
    steady = steady_sides(boxes, fps)
    assert [box.side for box in steady] == [390.0] * len(boxes)
    assert [(box.center_x, box.center_y) for box in steady] == \
        [(box.center_x, box.center_y) for box in boxes]
    # a driver walking toward the camera over 12 s: the box grows 2x and the crop follows
    ramp = [CropBox(100.0, 100.0, 200.0 * 2 ** (i / 300)) for i in range(300)]
    followed = [box.side for box in steady_sides(ramp, fps)]
    assert followed[0] == pytest.approx(200 * 2 ** (25 / 300), rel=1e-9)  # the first 2 s' median
    assert followed[150] == pytest.approx(ramp[150].side, rel=1e-9)
    assert followed[-1] == pytest.approx(ramp[-26].side, rel=1e-9)
    with pytest.raises(ValueError, match="fps"):
        steady_sides(boxes, 0)
