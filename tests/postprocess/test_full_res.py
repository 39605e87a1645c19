"""Full-resolution compositing: exact at zero motion, sharp under motion, pastes only what moved."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reenact.geometry import coordinate_grid, resize_grid, warp
from reenact.postprocess.full_res import (
    FullResCompositor,
    FullResConfig,
    _model_fractions,
)
from reenact.postprocess.paste import paste_back
from reenact.postprocess.resampling import interpolation_matrix
from reenact.preprocess.crop import CropBox, crop_image

SIZE, CELLS = 64, 16  # the model's frame and its deformation lattice (fast-128's ratio: 128, 32)
BOX = CropBox(250.3, 240.7, 300.0)


def detailed_photo(height=480, width=500, seed=0):
    """Fine texture (2-3 px features) over smooth colour: what a downscaled crop loses."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (height // 40, width // 40, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
    grain = rng.integers(0, 256, (height // 2, width // 2), dtype=np.uint8)
    grain = np.asarray(Image.fromarray(grain).resize((width, height), Image.Resampling.BICUBIC))
    return np.clip(base.astype(int) + (grain[..., None].astype(int) - 128) // 3, 0, 255).astype(np.uint8)


def ellipse_landmarks(box, scale=0.25):
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    radius = scale * box.side
    return np.stack([box.center_x + radius * np.cos(angles),
                     box.center_y + 1.2 * radius * np.sin(angles)], axis=1)


def compositor(photo, *, landmarks=None, align_corners=True, **config):
    return FullResCompositor(photo, BOX, crop_image(photo, BOX, SIZE), align_corners=align_corners,
                             landmarks=landmarks, config=FullResConfig(**config))


def lattice_shift(pixels_x, pixels_y=0.0, align_corners=True):
    """The model's zero motion plus a translation of (pixels_x, pixels_y) output pixels: the
    output at x shows the photo at x + shift."""
    per_unit = BOX.side * ((SIZE - 1) / (2 * SIZE) if align_corners else 0.5)
    grid = coordinate_grid(CELLS, CELLS).numpy().copy()
    grid[..., 0] += pixels_x / per_unit
    grid[..., 1] += pixels_y / per_unit
    return grid


def laplacian_variance(image):
    gray = image.astype(np.float64).mean(axis=2)
    lap = (gray[1:-1, :-2] + gray[1:-1, 2:] + gray[:-2, 1:-1] + gray[2:, 1:-1]
           - 4 * gray[1:-1, 1:-1])
    return float(lap.var())


def inner_box(box, fraction=0.25):
    """Slices of the pixels well inside the box (past the feathered edge)."""
    x0, y0 = int(box.x0 + fraction * box.side), int(box.y0 + fraction * box.side)
    x1, y1 = int(box.x1 - fraction * box.side), int(box.y1 - fraction * box.side)
    return slice(y0, y1), slice(x0, x1)


def model_frame(photo, deformation, align_corners=True):
    """What the model's warp of the crop shows (the old path's best case: no generator error)."""
    crop = torch.from_numpy(crop_image(photo, BOX, SIZE).copy()).permute(2, 0, 1)[None].float()
    grid = resize_grid(torch.from_numpy(deformation)[None], SIZE, SIZE)
    warped = warp(crop, grid, align_corners=align_corners)[0].permute(1, 2, 0)
    return warped.round().clamp(0, 255).to(torch.uint8).numpy()


@pytest.mark.parametrize("align_corners", [True, False])
def test_zero_motion_is_the_photo(align_corners):
    photo = detailed_photo()
    zero = coordinate_grid(CELLS, CELLS).numpy()
    low_weight = np.full((SIZE, SIZE), 0.1, np.float32)  # the generator would be used if anything moved
    frame = np.zeros((SIZE, SIZE, 3), np.uint8)
    plain = compositor(photo, align_corners=align_corners)
    assert np.array_equal(plain.composite(frame, zero, low_weight), photo)

    landmarks = ellipse_landmarks(BOX)
    with_face = compositor(photo, landmarks=landmarks, align_corners=align_corners)
    result = with_face.composite(frame, zero, low_weight)
    assert (result != photo).any(axis=2).mean() < 0.01
    assert np.abs(result.astype(int) - photo.astype(int)).max() <= 1  # the face hull: re-sampled


@pytest.mark.parametrize("shift", [3.0, -5.0])
def test_whole_pixel_translation_moves_the_photo_exactly(shift):
    photo = detailed_photo()
    ones = np.ones((SIZE, SIZE), np.float32)
    result = compositor(photo).composite(np.zeros((SIZE, SIZE, 3), np.uint8),
                                         lattice_shift(shift, 2 * shift), ones)
    rows, cols = inner_box(BOX)
    dx, dy = int(shift), int(2 * shift)
    expected = photo[rows.start + dy:rows.stop + dy, cols.start + dx:cols.stop + dx]
    assert np.abs(result[rows, cols].astype(int) - expected.astype(int)).max() <= 1


def test_carried_points_are_where_the_frame_shows_them():
    """The backward map inverted: under a translation a photo point shows shifted back; under a
    zoom about the box's centre (not a translation: the fixed-point iteration has work to do)
    it shows scaled away from the centre."""
    photo = detailed_photo()
    full = compositor(photo)
    points = np.array([[250.0, 240.0], [200.0, 300.0], [310.5, 180.25]])
    np.testing.assert_allclose(full.carried(coordinate_grid(CELLS, CELLS).numpy(), points),
                               points, atol=1e-4)
    np.testing.assert_allclose(full.carried(lattice_shift(3.0, -2.0), points),
                               points - (3.0, -2.0), atol=1e-3)
    zoom = coordinate_grid(CELLS, CELLS).numpy() / 1.05  # the output at x shows x / 1.05 (a zoom in)
    centre = np.array([BOX.center_x, BOX.center_y])
    expected = centre + 1.05 * (points - centre)
    np.testing.assert_allclose(full.carried(zoom, points, iterations=8), expected, atol=0.3)


def longest_run(values):
    """The most equal values in a row of `values` (a smeared edge row repeats one value)."""
    runs, run = [1], 1
    for a, b in zip(values[:-1], values[1:]):
        run = run + 1 if a == b else 1
        runs.append(run)
    return max(runs)


def test_nothing_is_read_past_the_photos_edge():
    """A head moving down from the top edge that a tight crop cuts through: the rows that would
    read above the photo stretch the top of it (the edge row staying put), not repeat its edge
    row as streaks."""
    rows = np.arange(256, dtype=np.uint8)
    photo = np.repeat(np.repeat(rows[:, None, None], 500, axis=1), 3, axis=2)  # value = row
    box = CropBox(250.0, 120.0, 300.0)  # 30 px of it above the photo
    assert box.side == BOX.side  # as `lattice_shift` reads it
    compositor = FullResCompositor(photo, box, crop_image(photo, box, SIZE), align_corners=True,
                                   config=FullResConfig())
    result = compositor.composite(np.zeros((SIZE, SIZE, 3), np.uint8), lattice_shift(0.0, -20.0),
                                  np.ones((SIZE, SIZE), np.float32))
    column = result[:, 250, 0].astype(int)
    assert column[0] == 0 and np.all(np.diff(column[:80]) >= 0)
    assert longest_run(column[:40]) <= 3  # "border" sampling repeated row 0 over 21 rows
    np.testing.assert_allclose(column[100:140], np.arange(80, 120), atol=1)  # moved down 20 px


def test_translation_keeps_the_photo_sharp():
    """A half-pixel move of fine texture: the full-resolution warp keeps most of its detail, the
    model-size frame pasted back (even a perfect one) loses most of it."""
    photo = detailed_photo()
    deformation = lattice_shift(2.5, -1.5)
    ones = np.ones((SIZE, SIZE), np.float32)
    full = compositor(photo).composite(np.zeros((SIZE, SIZE, 3), np.uint8), deformation, ones)
    old = paste_back(photo, model_frame(photo, deformation), BOX, feather=0.12)
    rows, cols = inner_box(BOX)
    reference = laplacian_variance(photo[rows, cols])
    full_ratio = laplacian_variance(full[rows, cols]) / reference
    old_ratio = laplacian_variance(old[rows, cols]) / reference
    assert full_ratio > 0.9 and old_ratio < 0.2, (full_ratio, old_ratio)


def test_motion_fades_out_at_the_box_edge_without_showing_an_edge_twice():
    """Toward the box's edge the motion fades out, not the picture: a horizontal edge in the
    box's bottom feather, moved up by 8 px, stays one step in every column, where a cross-fade
    of the moved photo with the unmoved one showed it twice, with a plateau between; and the
    photo's bytes are kept just outside the box."""
    photo = np.full((480, 500, 3), 40, np.uint8)
    feather = FullResConfig().box_feather * BOX.side
    edge = int(BOX.y1 - feather / 2)  # halfway through the bottom feather
    photo[edge:] = 220
    ones = np.ones((SIZE, SIZE), np.float32)
    result = compositor(photo).composite(np.zeros((SIZE, SIZE, 3), np.uint8),
                                         lattice_shift(0.0, 8.0), ones)
    column = result[int(BOX.y1 - feather) - 4:int(BOX.y1) + 4, int(BOX.center_x), 0].astype(int)
    between = (column > 40 + 0.1 * 180) & (column < 220 - 0.1 * 180)
    # one sharp step (bicubic, with its slight ringing); the cross-fade had 8 px between
    assert between.sum() <= 2, column
    outside = slice(int(np.ceil(BOX.y1)) + 1, None)
    assert np.array_equal(result[outside], photo[outside])


def test_paste_mask_covers_the_moved_region_only():
    photo = detailed_photo()
    deformation = coordinate_grid(CELLS, CELLS).numpy().copy()
    deformation[3:6, 9:12, 0] += 0.05  # a patch of the lattice moves (~7 px), the rest stands still
    ones = np.ones((SIZE, SIZE), np.float32)
    result = compositor(photo).composite(np.zeros((SIZE, SIZE, 3), np.uint8), deformation, ones)
    changed = (result != photo).any(axis=2)
    ys, xs = np.nonzero(changed)
    # lattice cells 3..5 / 9..11 cover box fractions [3/16, 6/16) / [9/16, 12/16); the motion
    # reaches half a cell further (bilinear), the mask grows by dilation + feather (0.07 of the side)
    reach = (0.5 / CELLS + 0.075) * BOX.side
    assert ys.min() >= BOX.y0 + 3 / CELLS * BOX.side - reach
    assert ys.max() <= BOX.y0 + 6 / CELLS * BOX.side + reach
    assert xs.min() >= BOX.x0 + 9 / CELLS * BOX.side - reach
    assert xs.max() <= BOX.x0 + 12 / CELLS * BOX.side + reach
    centre = (int(BOX.y0 + 4.5 / CELLS * BOX.side), int(BOX.x0 + 10.5 / CELLS * BOX.side))
    assert changed[centre[0] - 5:centre[0] + 5, centre[1] - 5:centre[1] + 5].all()
    assert changed.mean() < 0.1


def face_landmarks(box):
    """68 points of a face in the box's upper half: eyes (36-47) at 0.3 of the side, the jaw
    (0-16) a half ellipse from the eyes' row down to the chin (8) at 0.5, the rest on an ellipse
    between."""
    points = ellipse_landmarks(box, scale=0.15)
    points[:, 1] -= 0.1 * box.side
    points[36:48, 1] = box.y0 + 0.3 * box.side
    angles = np.linspace(np.pi, 0, 17)
    points[:17] = np.stack([box.center_x + 0.15 * box.side * np.cos(angles),
                            box.y0 + (0.3 + 0.2 * np.sin(angles)) * box.side], axis=1)
    return points


def test_body_keeps_the_photo_while_the_head_moves():
    """A translation of the whole lattice (a head that turns drags the model's whole field):
    with the photo's landmarks the face moves by it, and everything half an eyes-to-chin height
    from the head keeps the photo's bytes: below the chin and beside the jaw (a collar that rises
    beside it); with hold_body off the body moves too."""
    photo = detailed_photo()
    landmarks = face_landmarks(BOX)
    height = 0.2 * BOX.side  # eyes to chin
    ones = np.ones((SIZE, SIZE), np.float32)
    frame = np.zeros((SIZE, SIZE, 3), np.uint8)
    cols = slice(int(BOX.x0 + 0.4 * BOX.side), int(BOX.x1 - 0.4 * BOX.side))
    face = slice(int(BOX.y0 + 0.3 * BOX.side), int(BOX.y0 + 0.42 * BOX.side))
    cell = BOX.side / CELLS  # the field is read bilinearly between the lattice's cells
    below = slice(int(BOX.y0 + 0.5 * BOX.side + 0.5 * height + cell), int(BOX.y1 - 0.15 * BOX.side))
    # beside the jaw at the chin's row, further than 0.5 heights from the jaw's outline
    beside_rows = slice(int(BOX.y0 + 0.45 * BOX.side), int(BOX.y0 + 0.5 * BOX.side))
    beside_cols = slice(int(BOX.center_x + 0.15 * BOX.side + 0.5 * height) + 2,
                        int(BOX.x1 - 0.15 * BOX.side))
    assert below.stop - below.start > 20 and beside_cols.stop - beside_cols.start > 20
    for hold in (True, False):
        result = compositor(photo, landmarks=landmarks, hold_body=hold).composite(
            frame, lattice_shift(4.0, 0.0), ones)
        moved_face = photo[face, cols.start + 4:cols.stop + 4]
        assert np.abs(result[face, cols].astype(int) - moved_face.astype(int)).max() <= 1
        for rows, columns in ((below, cols), (beside_rows, beside_cols)):
            if hold:
                assert np.array_equal(result[rows, columns], photo[rows, columns])
            else:
                moved = photo[rows, columns.start + 4:columns.stop + 4]
                assert np.abs(result[rows, columns].astype(int) - moved.astype(int)).max() <= 1


def test_held_body_is_where_carried_points_stay():
    """`carried` (where photo points show, e.g. the drawn mouth's) holds the body as
    `composite` does."""
    photo = detailed_photo()
    landmarks = face_landmarks(BOX)
    full = compositor(photo, landmarks=landmarks)
    points = np.array([[BOX.center_x, BOX.y0 + 0.35 * BOX.side],
                       [BOX.center_x, BOX.y0 + 0.72 * BOX.side]])  # the face; 1.1 heights below
    carried = full.carried(lattice_shift(3.0, -2.0), points)
    np.testing.assert_allclose(carried[0], points[0] - (3.0, -2.0), atol=1e-3)
    np.testing.assert_allclose(carried[1], points[1], atol=1e-6)


def test_generator_pixels_only_where_the_model_invents_content():
    photo = detailed_photo()
    frame = np.zeros((SIZE, SIZE, 3), np.uint8)
    frame[...] = (250, 10, 10)
    weight = np.ones((SIZE, SIZE), np.float32)
    weight[24:40, 24:40] = 0.0  # the middle of the frame is invented
    result = compositor(photo, color_match=False).composite(frame, lattice_shift(4.0), weight)
    middle = int(BOX.center_y), int(BOX.center_x)
    assert (np.abs(result[middle].astype(int) - (250, 10, 10)) <= 2).all()
    rows, cols = inner_box(BOX, 0.15)
    ring = result[rows, cols].copy()
    ring[60:-60, 60:-60] = photo[rows, cols][60:-60, 60:-60]  # leave the invented middle out
    expected = photo[rows, cols.start + 4:cols.stop + 4]
    expected[60:-60, 60:-60] = photo[rows, cols][60:-60, 60:-60]
    assert np.abs(ring.astype(int) - expected.astype(int)).max() <= 1


def test_what_the_model_distrusts_at_zero_motion_is_not_invented():
    """A source weight as low at zero motion (the model's prior) keeps the warped photo; one that
    drops under motion takes the generator's pixels."""
    photo = detailed_photo()
    frame = np.full((SIZE, SIZE, 3), (250, 10, 10), np.uint8)
    weight = np.ones((SIZE, SIZE), np.float32)
    weight[24:40, 24:40] = 0.2
    middle = int(BOX.center_y), int(BOX.center_x)
    deformation = lattice_shift(4.0)
    for baseline, generated in ((weight, False), (np.ones_like(weight), True)):
        full = FullResCompositor(photo, BOX, crop_image(photo, BOX, SIZE), align_corners=True,
                                 baseline_weight=baseline, config=FullResConfig(color_match=False))
        result = full.composite(frame, deformation, weight)
        expected = (250, 10, 10) if generated else photo[middle[0], middle[1] + 4]
        assert (np.abs(result[middle].astype(int) - expected) <= 2).all()


def test_thin_invented_lines_keep_the_warped_photo():
    """Edges that a pixel-skip generator redraws (a low weight one model pixel wide) are no
    invented content."""
    photo = detailed_photo()
    frame = np.full((SIZE, SIZE, 3), (250, 10, 10), np.uint8)
    weight = np.ones((SIZE, SIZE), np.float32)
    weight[:, 31:33] = 0.0
    result = compositor(photo, color_match=False).composite(frame, lattice_shift(4.0), weight)
    rows, cols = inner_box(BOX)
    expected = photo[rows, cols.start + 4:cols.stop + 4]
    assert np.abs(result[rows, cols].astype(int) - expected).max() <= 1


def test_model_frame_lines_up_with_the_full_resolution_warp():
    """The model's zero motion zooms its frame out a little; reading the frame at
    `_model_fractions` undoes that."""
    photo = detailed_photo()
    zero = coordinate_grid(CELLS, CELLS).numpy()
    frame = model_frame(photo, zero).astype(np.float32)  # (S, S, 3)
    crop = crop_image(photo, BOX, SIZE).astype(np.float32)
    q = (np.arange(SIZE) + 0.5) / SIZE
    inner = slice(8, -8)
    for fractions, expected_small in ((_model_fractions(q, CELLS, SIZE, True), True), (q, False)):
        reader = interpolation_matrix(fractions * SIZE - 0.5, SIZE)
        realigned = torch.einsum("ys,stc,xt->yxc", reader, torch.from_numpy(frame), reader).numpy()
        error = np.abs(realigned - crop)[inner, inner].mean()
        assert (error < 5) == expected_small, error


@pytest.mark.parametrize("cubic", [False, True])
def test_interpolation_matrix_matches_grid_sample(cubic):
    maps = torch.rand(2, 9, 11)
    fx, fy = torch.linspace(-0.1, 1.1, 23), torch.linspace(0.03, 0.97, 7)
    columns = interpolation_matrix(fx.numpy() * 11 - 0.5, 11, cubic=cubic)
    rows = interpolation_matrix(fy.numpy() * 9 - 0.5, 9, cubic=cubic)
    grid = torch.stack(torch.meshgrid(2 * fx - 1, 2 * fy - 1, indexing="xy"), dim=-1)
    expected = F.grid_sample(maps[None], grid[None], mode="bicubic" if cubic else "bilinear",
                             padding_mode="border", align_corners=False)[0]
    inside = (fx > 0.5 / 11 + 1.5 / 11) & (fx < 1 - 2 / 11) if cubic else torch.ones(23, dtype=bool)
    # cubic taps beyond the edge: torch clamps each tap, as here, but only inside is compared
    assert torch.allclose((rows @ maps @ columns.T)[..., inside], expected[..., inside], atol=1e-5)


def test_inputs_are_checked():
    photo = detailed_photo()
    full = compositor(photo)
    zero = coordinate_grid(CELLS, CELLS).numpy()
    ones = np.ones((SIZE, SIZE), np.float32)
    with pytest.raises(ValueError, match=r"frame: expected \(64, 64, 3\) uint8"):
        full.composite(np.zeros((32, 32, 3), np.uint8), zero, ones)
    with pytest.raises(ValueError, match=r"deformation: expected \(h, w, 2\)"):
        full.composite(np.zeros((SIZE, SIZE, 3), np.uint8), zero[..., 0], ones)
    with pytest.raises(ValueError, match=r"weight: expected \(64, 64\)"):
        full.composite(np.zeros((SIZE, SIZE, 3), np.uint8), zero, ones[:3])
    with pytest.raises(ValueError, match=r"baseline_weight: expected \(64, 64\), got \(3, 64\)"):
        FullResCompositor(photo, BOX, crop_image(photo, BOX, SIZE), align_corners=True,
                          baseline_weight=ones[:3])
    with pytest.raises(ValueError, match="FullResConfig.trusted: expected more than invented"):
        FullResConfig(trusted=0.3, invented=0.4)
    with pytest.raises(ValueError, match=r"FullResConfig.feather: expected a number in \[0, 0.5\]"):
        FullResConfig(feather=0.8)
    with pytest.raises(ValueError, match="FullResConfig.hold_to: expected more than hold_from"):
        FullResConfig(hold_from=0.5, hold_to=0.5)
    with pytest.raises(ValueError, match="FullResConfig.hold_body: expected true or false"):
        FullResConfig(hold_body=1)


def test_carried_after_composite_reads_the_same_field():
    """`carried` after `composite` of the same deformation (the field is kept, not made again)
    equals a fresh compositor's; a deformation changed in place since is read anew."""
    photo = detailed_photo()
    landmarks = face_landmarks(BOX)
    points = np.array([[BOX.center_x, BOX.y0 + 0.35 * BOX.side], [BOX.x0 + 40.0, BOX.y0 + 60.0]])
    deformation = lattice_shift(3.0, -2.0)
    used = compositor(photo, landmarks=landmarks)
    used.composite(np.zeros((SIZE, SIZE, 3), np.uint8), deformation, np.ones((SIZE, SIZE), np.float32))
    fresh = compositor(photo, landmarks=landmarks).carried(deformation, points)
    np.testing.assert_array_equal(used.carried(deformation, points), fresh)
    deformation += lattice_shift(5.0, 0.0) - lattice_shift(0.0, 0.0)  # in place
    np.testing.assert_allclose(used.carried(deformation, points),
                               compositor(photo, landmarks=landmarks).carried(deformation, points))
    assert not np.allclose(used.carried(deformation, points), fresh)
