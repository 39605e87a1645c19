"""reenact.provenance.watermark: embed -> detect, picture cost, robustness, false positives.

Robustness is checked on short clips of small frames (a second of 320x320) so that the file runs
in seconds; benchmarks/provenance.py measures rates on all the shared media.
"""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest
from PIL import Image, ImageChops

from conftest import MEDIA, require
from provenance_clips import reencode, textured
from reenact.provenance.payload import Payload
from reenact.provenance.watermark import embed, sync
from reenact.provenance.watermark import (
    MarkingState,
    WatermarkConfig,
    WatermarkDetector,
    Watermarker,
    detect,
)

PAYLOAD = Payload((0, 1, 0), 0xBEEF)


def clip(name: str, count: int = 25, side: int = 320) -> list[np.ndarray]:
    """The first frames of a shared-media video, resized to side x side."""
    with av.open(str(require(MEDIA / name))) as container:
        frames = []
        for frame in container.decode(video=0):
            image = frame.to_image().resize((side, side), Image.Resampling.BICUBIC)
            frames.append(np.asarray(image))
            if len(frames) == count:
                break
    return frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255 ** 2 / mse)


def assert_each_frame_reads_back(marked: list[np.ndarray], originals: list[np.ndarray], *,
                                 min_strength: float) -> None:
    """Every marked frame alone decodes to PAYLOAD above `min_strength`, at PSNR >= 40."""
    for frame, original in zip(marked, originals, strict=True):
        result = detect([frame])
        assert result.present and result.payload == PAYLOAD and result.strength > min_strength
        assert psnr(frame, original) >= 40


@pytest.fixture(scope="module")
def marker() -> Watermarker:
    return Watermarker()


@pytest.mark.parametrize("size", [(240, 320), (72, 96), (720, 1280)])
def test_one_marked_frame_decodes(marker: Watermarker, size: tuple[int, int]) -> None:
    frame = textured(1, *size)[0]
    marked = marker.mark(frame, PAYLOAD)
    assert marked.shape == frame.shape and marked.dtype == np.uint8
    result = detect([marked])
    assert result.present and result.payload == PAYLOAD
    assert result.strength > 0.9 and result.repaired_bits == 0
    assert result.confidence > 1 - 1e-5
    assert psnr(marked, frame) >= 40


def test_picture_cost_on_real_frames(marker: Watermarker) -> None:
    for name in ("driving/lp_d12.mp4", "talking/grid_bbaf2n.mpg"):
        with av.open(str(require(MEDIA / name))) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        marked = marker.mark(frame, PAYLOAD)
        assert psnr(marked, frame) >= 40, name
        assert np.abs(marked.astype(int) - frame).max() <= 12, name


def test_marking_the_luma_plane_equals_marking_rgb(marker: Watermarker) -> None:
    def yuv_round_trip(frame: np.ndarray, mark: bool) -> np.ndarray:
        yuv = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
            format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG").to_ndarray()
        if mark:
            yuv[:256] = marker.mark_luma_plane(np.ascontiguousarray(yuv[:256]), PAYLOAD)
        return av.VideoFrame.from_ndarray(yuv, format="yuv420p").reformat(
            format="rgb24", src_colorspace="ITU709", src_color_range="MPEG").to_ndarray()

    frames = textured(5, 256, 320, seed=3)
    marked = [yuv_round_trip(frame, True) for frame in frames]
    plain = [yuv_round_trip(frame, False) for frame in frames]
    result = detect(marked)
    assert result.present and result.payload == PAYLOAD and result.strength > 0.9
    assert min(psnr(a, b) for a, b in zip(marked, plain)) >= 40
    # the same change as marking R, G and B alike: luma moves, chroma stays
    difference = np.stack(marked).astype(float) - np.stack(plain)
    assert np.abs(difference).mean() > 0.5
    assert np.abs(difference[..., 0] - difference[..., 1]).mean() < 0.5
    assert np.abs(difference[..., 2] - difference[..., 1]).mean() < 0.5


@pytest.mark.parametrize(("crf", "scale"), [(28, 1.0), (23, 0.5)])
def test_survives_reencoding_and_downscaling(marker: Watermarker, crf: int, scale: float) -> None:
    frames = clip("driving/lp_d12.mp4")
    marked = [marker.mark(frame, PAYLOAD) for frame in frames]
    result = detect(reencode(marked, crf, scale))
    assert result.present and result.payload == PAYLOAD, result


def test_a_video_keeps_its_lattice_points_from_frame_to_frame(
        marker: Watermarker, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = clip("talking/grid_bbaf2n.mpg", count=40, side=256)  # a steady camera
    state = MarkingState()
    marked = [marker.mark(frame, PAYLOAD, state=state) for frame in frames]
    # every frame still sits on the payload's lattice, and costs little
    assert_each_frame_reads_back(marked, frames, min_strength=0.85)
    # nearest-point targets (no hysteresis) jump far more often
    monkeypatch.setattr(sync, "HYSTERESIS", 0.5)
    nearest = MarkingState()
    for frame in frames:
        marker.mark(frame, PAYLOAD, state=nearest)
    assert state.frames == nearest.frames == len(frames)
    assert nearest.retargeted >= 10
    assert state.retargeted <= 0.6 * nearest.retargeted, (state.retargeted, nearest.retargeted)
    # a frame of another size starts afresh instead of reusing points of the wrong size
    marker.mark(frames[0][:128], PAYLOAD, state=state)
    assert state.key == (PAYLOAD, 128, 256)


def test_the_rounded_overlay_is_held_per_block_until_it_drifts_a_grey_level() -> None:
    state = MarkingState()
    rng = np.random.default_rng(0)
    exact = rng.uniform(-3, 3, (10, 12))
    np.testing.assert_array_equal(state.settle_overlay(exact, 4), np.rint(exact))
    drifted = exact + rng.uniform(-0.45, 0.45, exact.shape)  # within 1 of the rounded values
    drifted[5, 9] = np.rint(exact[5, 9]) + 1.2  # one pixel of the block (4-7, 8-11) leaves
    settled = state.settle_overlay(drifted, 4)
    refreshed = np.zeros(exact.shape, bool)
    refreshed[4:8, 8:12] = True
    np.testing.assert_array_equal(settled[refreshed], np.rint(drifted)[refreshed])
    np.testing.assert_array_equal(settled[~refreshed], np.rint(exact)[~refreshed])
    assert state.refreshed == 1
    # the ragged edge blocks (rows 8-9) work the same
    drifted[9, 0] = settled[9, 0] - 1.5
    settled = state.settle_overlay(drifted, 4)
    assert settled[9, 0] == np.rint(drifted[9, 0]) and state.refreshed == 2


def test_a_still_background_keeps_its_macroblocks_while_the_face_moves(
        marker: Watermarker, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bright blob drifting over a still frame moves every bit's host a little each frame; the
    mark's drift is absorbed per 16x16 block, so far fewer of the still area's macroblocks change
    from frame to frame than with fresh rounding (what lets x264 skip them), and each frame still
    reads back at full strength."""
    base = textured(1, 320, 320, seed=3)[0].astype(np.float64)
    rows, cols = np.mgrid[0:320, 0:320]
    blobs = [30 * np.exp(-((rows - 140) ** 2 + (cols - 100 - index / 2) ** 2) / (2 * 25 ** 2))
             for index in range(16)]
    frames = [np.clip(base + blob[..., None], 0, 255).astype(np.uint8) for blob in blobs]
    still = np.ones((320, 320), bool)
    for a, b in itertools.pairwise(frames):
        still &= (a == b).all(axis=2)

    def changed_macroblocks(hysteresis: float) -> int:
        monkeypatch.setattr(sync, "OVERLAY_HYSTERESIS", hysteresis)
        state = MarkingState()
        marked = [marker.mark(frame, PAYLOAD, state=state) for frame in frames]
        assert_each_frame_reads_back(marked, frames, min_strength=0.9)
        changed = [(a != b).any(axis=2) & still for a, b in itertools.pairwise(marked)]
        return sum(int(c.reshape(20, 16, 20, 16).any(axis=(1, 3)).sum()) for c in changed)

    held, fresh = changed_macroblocks(1.0), changed_macroblocks(0.0)
    assert fresh > 2000 and held <= 0.25 * fresh, (held, fresh)


def test_clipped_black_and_white_areas(marker: Watermarker) -> None:
    frame = textured(1, 240, 320, seed=5)[0]
    frame[:, :120] = 255  # a white studio background
    frame[200:] = 0  # a black border
    marked = marker.mark(frame, PAYLOAD)
    result = detect([marked])
    assert result.present and result.payload == PAYLOAD and result.strength > 0.8
    assert psnr(marked, frame) >= 40


@pytest.mark.parametrize("size", [(240, 320), (1280, 720)])
def test_what_clipping_takes_is_made_up_for(marker: Watermarker, size: tuple[int, int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    height, width = size
    frame = textured(1, height, width, seed=5)[0]
    frame[:, :width * 3 // 8] = 255  # a white studio background
    frame[height * 5 // 6:] = 0  # a black border
    made_up = detect([marker.mark(frame, PAYLOAD)])
    monkeypatch.setattr(embed, "_CLIPPED_SHARE", 2.0)  # never estimate the loss
    left = detect([marker.mark(frame, PAYLOAD)])
    assert made_up.payload == left.payload == PAYLOAD
    assert made_up.strength > 0.95 and left.strength < 0.93, (made_up.strength, left.strength)


@pytest.mark.parametrize("size", [(64, 64), (256, 256), (720, 1280), (1280, 720), (300, 770),
                                  (480, 854), (768, 1366), (1000, 390)])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_the_host_is_read_as_the_detector_reads_it(marker: Watermarker, size: tuple[int, int],
                                                   mode: str) -> None:
    """Marking reads the canonical image in PIL's two steps, to keep the first as its preview:
    the same values as `reduce`, and as PIL's resize with the reducing gap, which define it."""
    frame = textured(1, *size, seed=sum(size))[0]
    image = Image.fromarray(frame if mode == "RGB" else np.ascontiguousarray(frame[..., 1]))
    canonical, reduced = marker.canonical.read_host(image)
    np.testing.assert_array_equal(canonical, marker.canonical.reduce(image))
    reference = image.resize((64, 64), Image.Resampling.BICUBIC, reducing_gap=3.0)
    np.testing.assert_array_equal(canonical, np.asarray(reference, dtype=np.float64))
    assert (reduced is None) == (max(size) < 3 * 2 * 64)  # no box step below 384 px


@pytest.mark.parametrize("size", [(64, 64), (200, 120), (256, 256), (720, 1280), (300, 770),
                                  (768, 1366)])
@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize("range_", ["mid-grey", "full"])
def test_the_overlay_is_the_upsampled_residual_added_with_saturation(
        marker: Watermarker, size: tuple[int, int], mode: str, range_: str) -> None:
    """numpy's nearest stage and add make exactly PIL's `upsample` (rounded) + ImageChops.add,
    on frames that cannot saturate (one wrapping add) and on frames with black and white."""
    height, width = size
    rng = np.random.default_rng(height + width)
    residual = rng.normal(scale=8.0, size=(64, 64))  # luma units; extremes beyond +-20
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    low, high = (40, 216) if range_ == "mid-grey" else (0, 256)
    pixels = rng.integers(low, high, shape, dtype=np.uint8)
    if range_ == "full":
        pixels[: height // 4] = 255
        pixels[-height // 4:] = 0
    marked = pixels.copy()
    marker.embedder.add_overlay(marked, residual, 0.9)

    canonical = marker.canonical
    exact = canonical.upsample(Image.fromarray((residual * 0.9).astype(np.float32), "F"), width,
                               height, canonical.coarse_factor(height, width))
    shifted = np.clip(np.rint(np.asarray(exact)) + 128, 0, 255).astype(np.uint8)
    layer = Image.fromarray(shifted, "L")
    if mode == "RGB":
        layer = Image.merge("RGB", (layer, layer, layer))
    expected = ImageChops.add(Image.fromarray(pixels), layer, 1.0, -128)
    np.testing.assert_array_equal(marked, np.asarray(expected))


def test_bits_are_read_and_written_along_unit_directions(marker: Watermarker) -> None:
    """Projections and residuals go group by group through each coefficient's bit and weight:
    the same as the (K, n) matrix of the bits' unit-norm directions."""
    layout = marker.canonical.layout
    directions = np.zeros((56, len(layout.rows)))  # (K, n)
    directions[layout.bits, np.arange(len(layout.rows))] = layout.weights
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    assert np.array_equal(layout.starts, np.searchsorted(layout.bits, np.arange(56)))
    rng = np.random.default_rng(0)
    canonical = rng.uniform(0, 255, (3, 64, 64))
    band = layout.dct[:layout.band_end]
    coefficients = (band @ canonical @ band.T)[:, layout.rows, layout.cols]
    np.testing.assert_allclose(marker.canonical.projections(canonical), coefficients @ directions.T,
                               rtol=0, atol=1e-9)
    # a residual for given moves makes them, read back from the canonical image
    moves = rng.normal(scale=10.0, size=56)
    residual = marker.canonical.residual(moves, 64, 64)  # a frame of the canonical size: G = identity
    np.testing.assert_allclose(marker.canonical.projections(residual), moves, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["driving/lp_d0.mp4", "talking/grid_bbaf2n.mpg",
                                  "eval/driving/lp_d20.mp4"])
def test_unmarked_real_video_is_not_detected(name: str) -> None:
    frames = clip(name, count=50)
    result = detect(frames)
    assert not result.present and result.payload is None and result.confidence == 0
    for frame in frames[:10]:  # nor any single frame
        assert not detect([frame]).present


def test_frames_too_small_to_carry_a_mark_are_left_alone(marker: Watermarker) -> None:
    tiny = np.random.default_rng(0).integers(0, 255, (8, 12, 3), dtype=np.uint8)
    assert np.array_equal(marker.mark(tiny, PAYLOAD), tiny)
    small = textured(1, 32, 32)[0]  # holds it, at the usual cost
    marked = marker.mark(small, PAYLOAD)
    assert detect([marked]).payload == PAYLOAD and psnr(marked, small) >= 40


@pytest.mark.parametrize("value", [0, 128, 255])
def test_flat_frames_are_not_detected(value: int) -> None:
    assert not detect([np.full((64, 64, 3), value, np.uint8)] * 3).present


def test_another_key_reads_nothing(marker: Watermarker) -> None:
    marked = [marker.mark(frame, PAYLOAD) for frame in textured(3, 240, 320)]
    assert not detect(marked, WatermarkConfig(key="someone else")).present


def test_false_alarm_bound_counts_the_tests(marker: Watermarker) -> None:
    detector = WatermarkDetector(watermarker=marker)
    detector.add(marker.mark(textured(1, 128, 128)[0], PAYLOAD))
    one, many = detector.detection(), detector.detection(tests=100)
    assert marker.config.words_tried == 1 + 12 + 66 + 220 + 495
    assert one.false_alarm == pytest.approx(794 * 2.0 ** -28)
    assert many.false_alarm == pytest.approx(100 * one.false_alarm)


def test_damaged_words_are_repaired(marker: Watermarker) -> None:
    soft = marker.soft_bits(marker.mark(textured(1, 240, 320)[0], PAYLOAD))
    damaged = soft.copy()
    weak = [3, 17, 30, 41]
    damaged[weak] = -0.05 * np.sign(soft[weak])  # four bits wrong, and unsure of it
    result = marker.decode(damaged, 1)
    assert result.present and result.payload == PAYLOAD and result.repaired_bits == 4
    damaged[[5]] = -soft[[5]]  # a fifth, confidently wrong: beyond repair
    assert not marker.decode(damaged, 1).present


def test_bad_inputs_name_the_argument(marker: Watermarker) -> None:
    with pytest.raises(ValueError, match=r"frame: expected \(H, W, 3\) uint8 RGB, got shape \(4, 4\)"):
        marker.mark(np.zeros((4, 4), np.uint8), PAYLOAD)
    with pytest.raises(ValueError, match="frame: expected .* dtype float32"):
        marker.soft_bits(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"plane: expected \(H, W\) uint8 luma"):
        marker.mark_luma_plane(np.zeros((4, 4, 3), np.uint8), PAYLOAD)
    with pytest.raises(ValueError, match="detection: no frames were added"):
        detect([])
    with pytest.raises(ValueError, match=r"soft: expected shape \(56,\)"):
        marker.decode(np.zeros(3), 1)
    with pytest.raises(ValueError, match="step: expected a positive number, got 0"):
        WatermarkConfig(step=0)
    with pytest.raises(ValueError, match="band: expected 1 <= low < high"):
        WatermarkConfig(band=(10.0, 5.0))
