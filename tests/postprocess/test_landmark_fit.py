"""The model's motion fitted to the driver's landmarks: the residual field and the compositor."""

import numpy as np
import pytest
import torch

from reenact.geometry import coordinate_grid
from reenact.postprocess.full_res import FullResCompositor
from reenact.postprocess.landmark_fit import JAW, LIPS, LandmarkFit, LandmarkFitConfig
from reenact.preprocess.anchors import TEMPLATE
from reenact.preprocess.crop import CropBox, crop_image

SIZE, CELLS = 64, 16
BOX = CropBox(200.0, 200.0, 400.0)  # centre x, centre y, side


def face_landmarks():
    """(68, 2) a plausible face of about 200 px in a 400-px photo."""
    return TEMPLATE * 200.0 + np.array([200.0, 190.0])


def still(points):
    """The model's displacement when it does not move: 0 everywhere."""
    return np.zeros_like(points)


def field_at(field, points):
    """(N, 2) the (2, H, W) field read at the pixels under (N, 2) points."""
    return np.stack([field[:, int(y), int(x)] for x, y in points])


def pixel_centres(count):
    return np.arange(count) + 0.5


def test_field_takes_the_photo_landmarks_to_their_targets_and_pins_the_lips():
    photo = face_landmarks()
    fit = LandmarkFit(photo)
    targets = photo.copy()
    targets[list(JAW), 1] += 6.0  # the driver's jaw dropped 6 px
    residuals = fit.residuals(targets, still)
    field = fit.field(targets, residuals, pixel_centres(400), pixel_centres(400)).numpy()
    # the output at the jaw's target shows the photo's jaw: 6 px back up
    jaw = field_at(field, targets[list(JAW)])
    assert np.allclose(jaw[:, 1], -6.0, atol=1.0) and np.abs(jaw[:, 0]).max() < 1.0
    assert np.abs(field_at(field, targets[list(LIPS)])).max() < 1.0  # the mouth is the model's
    assert np.abs(field[:, :20, :20]).max() < 1e-3  # far from the face nothing moves


def test_motion_already_on_target_needs_no_correction():
    photo = face_landmarks()
    fit = LandmarkFit(photo)
    targets = photo + np.array([5.0, -3.0])  # the model moved the whole face there itself
    residuals = fit.residuals(targets, lambda points: np.tile([-5.0, 3.0], (len(points), 1)))
    assert np.abs(residuals).max() < 1e-9


def test_a_bad_landmark_frame_is_followed_only_so_far():
    photo = face_landmarks()
    fit = LandmarkFit(photo, LandmarkFitConfig(max_shift=0.02))
    targets = photo.copy()
    targets[8] += (0.0, 80.0)  # the chin detected far below the face
    residuals = fit.residuals(targets, still)
    assert np.linalg.norm(residuals, axis=1).max() == pytest.approx(0.02 * fit.face_size)


@pytest.mark.parametrize("config", [{"sigma": 0}, {"max_shift": -0.1}, {"ridge": "a"},
                                    {"sigma": True}, {"mouth": "open"}])
def test_config_is_checked(config):
    with pytest.raises(ValueError, match="LandmarkFitConfig"):
        LandmarkFitConfig(**config)


def test_targets_are_checked():
    fit = LandmarkFit(face_landmarks())
    with pytest.raises(ValueError, match="targets"):
        fit.residuals(np.zeros((5, 2)), still)


def textured_photo(size=400, seed=0):
    rng = np.random.default_rng(seed)
    from PIL import Image

    coarse = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))


def test_compositor_moves_the_jaw_to_its_target_at_zero_model_motion():
    """The model does not move; the targets lower the jaw by 5 px: the photo's chin shows 5 px
    lower, the forehead and the lips stay where they are."""
    photo, points = textured_photo(), face_landmarks()
    compositor = FullResCompositor(photo, BOX, crop_image(photo, BOX, SIZE), align_corners=True,
                                   landmarks=points)
    frame = crop_image(photo, BOX, SIZE)
    grid = coordinate_grid(CELLS, CELLS).numpy()
    weight = np.ones((SIZE, SIZE), dtype=np.float32)
    targets = points.copy()
    targets[list(JAW), 1] += 5.0
    plain = compositor.composite(frame, grid, weight)
    fitted = compositor.composite(frame, grid, weight, landmark_targets=targets)
    assert np.abs(plain.astype(int) - photo).max() <= 1  # no targets: zero motion is the photo
    x, y = (int(v) for v in points[8])  # the chin
    patch = lambda image, dy: image[y + dy - 6:y + dy + 6, x - 6:x + 6].astype(int)  # noqa: E731
    assert np.abs(patch(fitted, 5) - patch(photo, 0)).mean() < 0.25 * np.abs(
        patch(photo, 5) - patch(photo, 0)).mean()
    lx, ly = (int(v) for v in points[51])  # the upper lip stays
    assert np.abs(fitted[ly - 3:ly + 3, lx - 3:lx + 3].astype(int)
                  - photo[ly - 3:ly + 3, lx - 3:lx + 3]).mean() < 3
    assert np.array_equal(fitted[:15], photo[:15])  # the top of the photo keeps its bytes


def test_a_rising_brow_moves_the_eye_whole_and_does_not_open_it():
    photo = face_landmarks()
    fit = LandmarkFit(photo)
    targets = photo.copy()
    targets[17:27, 1] -= 6.0  # the brows rise 6 px
    targets[[36, 39, 42, 45], 1] -= 1.0  # the eye corners 1 px
    residuals = fit.residuals(targets, still)
    field = fit.field(targets, residuals, pixel_centres(400), pixel_centres(400)).numpy()
    upper, lower = field_at(field, targets[[37, 38, 43, 44]]), field_at(field, targets[[41, 40, 47, 46]])
    assert np.abs(upper[:, 1] - lower[:, 1]).max() < 0.5  # the gap between the lids is kept
    assert np.allclose(upper[:, 1], 1.0, atol=0.5)  # and they move with the corners


def test_the_generators_frame_is_read_along_the_correction():
    """With no correction the reader is the compositor's own (interpolation matrices); a
    correction of d output pixels reads the model's frame d pixels further (what the generator
    painted moves with the photo's pixels)."""
    photo = textured_photo()
    compositor = FullResCompositor(photo, BOX, crop_image(photo, BOX, SIZE), align_corners=True,
                                   landmarks=face_landmarks())
    readers = compositor._lattice(CELLS, CELLS)
    maps = torch.from_numpy(crop_image(photo, BOX, SIZE).transpose(2, 0, 1).copy()).float()
    span = (100, 300, 100, 300)
    still = compositor._corrected_reader(readers, torch.zeros(2, 200, 200), span)
    direct = readers.model_y[100:300] @ maps @ readers.model_x[100:300].T
    assert torch.allclose(still(maps, False), direct, atol=1e-3)
    shift = torch.zeros(2, 200, 200)
    shift[1] = 12.0  # 12 output pixels down (about two pixels of the 64-px model frame)
    moved = compositor._corrected_reader(readers, shift, span)(maps, False)
    below = readers.model_y[112:312] @ maps @ readers.model_x[100:300].T
    assert (moved - below).abs().mean() < 0.1 * (direct - below).abs().mean()
