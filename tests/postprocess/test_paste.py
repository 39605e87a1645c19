import numpy as np
import pytest

from reenact.postprocess.paste import feather_window, paste_back
from reenact.preprocess.crop import CropBox, crop_image


def smooth_background(height=200, width=300, seed=0):
    from PIL import Image

    coarse = np.random.default_rng(seed).integers(30, 220, (height // 25, width // 25, 3),
                                                  dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def centres_strictly_inside(box, height, width):
    ys = np.arange(height)[:, None] + 0.5
    xs = np.arange(width)[None, :] + 0.5
    return (xs > box.x0) & (xs < box.x1) & (ys > box.y0) & (ys < box.y1)


@pytest.mark.parametrize("box", [CropBox(150.3, 100.6, 90.7), CropBox(20.2, 190.0, 120.0),
                                 CropBox(150.0, 100.0, 500.0)])
@pytest.mark.parametrize("color_match", [False, True])
def test_pixels_outside_the_box_are_bit_identical(box, color_match):
    rng = np.random.default_rng(1)
    background = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    kept = background.copy()
    result = paste_back(background, crop, box, feather=0.1, color_match=color_match)
    assert np.array_equal(background, kept)  # the input is not modified
    outside = ~centres_strictly_inside(box, 200, 300)
    assert np.array_equal(result[outside], background[outside])
    assert not np.array_equal(result, background)


def test_box_missing_the_image_returns_a_copy():
    background = smooth_background()
    result = paste_back(background, np.zeros((32, 32, 3), np.uint8), CropBox(-100, -100, 50))
    assert np.array_equal(result, background) and result is not background


def test_pasting_the_original_region_back_shows_no_seam():
    background = smooth_background()
    box = CropBox(140.4, 95.8, 110.3)
    crop = crop_image(background, box, 256)
    inside = centres_strictly_inside(box, 200, 300)
    for feather in (0.0, 0.1, 0.3):
        result = paste_back(background, crop, box, feather=feather, color_match=False)
        error = np.abs(result.astype(int) - background.astype(int)).max(axis=2)
        assert error[inside].mean() < 0.5 and error.max() <= 3


def test_aligned_box_at_crop_resolution_is_an_exact_round_trip():
    background = smooth_background()
    box = CropBox(150.0, 100.0, 64.0)  # integer edges, one crop pixel per image pixel
    result = paste_back(background, crop_image(background, box, 64), box, feather=0.2,
                        color_match=True)
    assert np.abs(result.astype(int) - background.astype(int)).max() <= 1


def test_color_matching_moves_a_shifted_crop_toward_the_source():
    background = smooth_background()
    box = CropBox(150.0, 100.0, 120.0)
    crop = crop_image(background, box, 128).astype(int)
    shifted = np.clip(crop + np.array([40, 0, -30]), 0, 255).astype(np.uint8)
    inner = (slice(70, 130), slice(120, 180))
    source_mean = background[inner].reshape(-1, 3).mean(axis=0)
    plain = paste_back(background, shifted, box, feather=0.1, color_match=False)
    matched = paste_back(background, shifted, box, feather=0.1, color_match=True)
    plain_error = np.abs(plain[inner].reshape(-1, 3).mean(axis=0) - source_mean)
    matched_error = np.abs(matched[inner].reshape(-1, 3).mean(axis=0) - source_mean)
    assert plain_error[0] > 30 and plain_error[2] > 20
    assert (matched_error < 3).all()


def test_mask_limits_the_blend():
    background = smooth_background()
    box = CropBox(150.0, 100.0, 120.0)
    crop = np.full((64, 64, 3), 255, dtype=np.uint8)
    nothing = paste_back(background, crop, box, mask=np.zeros((64, 64), np.float32))
    assert np.array_equal(nothing, background)
    full = paste_back(background, crop, box, feather=0.1, mask=np.ones((64, 64), bool))
    assert np.array_equal(full, paste_back(background, crop, box, feather=0.1))
    left_half = np.zeros((64, 64), np.float32)
    left_half[:, :32] = 1.0
    half = paste_back(background, crop, box, feather=0.0, mask=left_half)
    assert (half[100, 100] == 255).all() and np.array_equal(half[100, 200], background[100, 200])


def test_feather_window_is_zero_outside_and_one_deep_inside():
    weights = feather_window(20, 2.5, 17.5, 4.0)
    assert weights[:2].tolist() == [0, 0] and weights[18:].tolist() == [0, 0]
    assert weights[8:12].tolist() == [1, 1, 1, 1]
    assert np.all(np.diff(weights[:10]) >= 0)
    assert feather_window(6, 1.0, 5.0, 0.0).tolist() == [0, 1, 1, 1, 1, 0]


def test_paste_back_validates_arguments():
    background = smooth_background()
    box = CropBox(150.0, 100.0, 120.0)
    square = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=r"crop: expected a square \(S, S, 3\) image, got shape "
                                         r"\(32, 16, 3\)"):
        paste_back(background, np.zeros((32, 16, 3), np.uint8), box)
    with pytest.raises(ValueError, match="feather: expected a number in \\[0, 0.5\\], got 0.7"):
        paste_back(background, square, box, feather=0.7)
    with pytest.raises(ValueError, match=r"mask: expected a \(32, 32\) array matching the crop"):
        paste_back(background, square, box, mask=np.ones((16, 16), np.float32))
    with pytest.raises(ValueError, match="mask: expected float values in \\[0, 1\\] or bool, got "
                                         "dtype uint8"):
        paste_back(background, square, box, mask=np.ones((32, 32), np.uint8))
    with pytest.raises(ValueError, match="background: expected an"):
        paste_back(background.astype(np.float32), square, box)
    with pytest.raises(ValueError, match="box: expected a CropBox, got tuple"):
        paste_back(background, square, (150.0, 100.0, 120.0))

