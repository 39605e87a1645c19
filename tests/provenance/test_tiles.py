"""reenact.provenance.watermark.tiles: the tiled layer, embed -> attack -> detect on synthetic
frames, no detection on unmarked ones, and the error messages. Frames are small (256 px) so that
the file runs in seconds; benchmarks/watermark_robustness.py measures rates on the shared media."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from provenance_clips import textured
from reenact.provenance.payload import Payload
from reenact.provenance.watermark.convolutional import encode
from reenact.provenance.watermark.tile_detect import (
    NOTHING_UNDONE,
    TileDetector,
    chip_grid,
    content_rect,
    normalised_working_image,
    whiten,
)
from reenact.provenance.watermark.tile_fold import fold, hypothesis_fold, hypothesis_name
from reenact.provenance.watermark.tiles import TileConfig, TileMarker

PAYLOAD = Payload((0, 1, 0), 0xBEEF)


def jpeg(frame: np.ndarray, quality: int = 92) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def read(frame: np.ndarray):
    detector = TileDetector()
    detector.add(frame)
    return detector.detection()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255 ** 2 / float(np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def host() -> np.ndarray:
    return textured(1, 256, 352, seed=3)[0]


@pytest.fixture(scope="module")
def marked(host: np.ndarray) -> np.ndarray:
    return TileMarker().mark(host, PAYLOAD)


def test_marking_is_invisible_and_reads_back(host: np.ndarray, marked: np.ndarray) -> None:
    assert psnr(marked, host) >= 44
    result = read(jpeg(marked))
    assert result.detection.present and result.detection.payload == PAYLOAD
    assert result.transform == NOTHING_UNDONE


def _crop(frame: np.ndarray) -> np.ndarray:  # 2% of each side (1% a side), kept at that size
    height, width = frame.shape[:2]
    return frame[round(height * 0.01):-round(height * 0.01), round(width * 0.01):]


def _rotate(frame: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).rotate(0.7, Image.Resampling.BILINEAR))


def _gain(frame: np.ndarray) -> np.ndarray:  # contrast 1.15 and gamma 1.3
    values = np.clip((frame / 255 - 0.5) * 1.15 + 0.5, 0, 1) ** 1.3
    return np.rint(values * 255).astype(np.uint8)


def _overlay(frame: np.ndarray) -> np.ndarray:  # a logo over a fifth, a subtitle bar below
    out = frame.copy()
    out[:110, -140:] = (220, 30, 30)
    out[-30:] = 0
    return out


def _letterbox(frame: np.ndarray) -> np.ndarray:
    return np.pad(frame, ((30, 30), (0, 0), (0, 0)))


@pytest.mark.parametrize(("attack", "undone"), [
    (_crop, "scaling"), (lambda f: f[:, ::-1], "un-flipping"), (_gain, None),
    (_overlay, None), (_rotate, "rotating"), (_letterbox, "cutting borders"),
    (lambda f: _gain(_crop(f)), "scaling")])
def test_the_mark_survives_reposting(marked: np.ndarray, attack, undone: str | None) -> None:
    result = read(jpeg(attack(marked)))
    assert result.detection.present and result.detection.payload == PAYLOAD
    assert result.detection.false_alarm < 1e-4
    if undone is not None:
        assert undone in result.transform


def test_the_luma_plane_path_marks_as_the_rgb_path(host: np.ndarray) -> None:
    plane = host[..., 1].copy()
    marker = TileMarker()
    change = marker.mark_luma_plane(plane, PAYLOAD).astype(int) - plane
    rgb_change = marker.mark(host, PAYLOAD).astype(int) - host
    assert np.abs(change).max() <= np.abs(rgb_change).max()
    assert np.corrcoef(change.ravel(), rgb_change[..., 1].ravel())[0, 1] > 0.95


def test_frames_accumulate_in_a_video() -> None:
    frames = textured(6, 256, 256, seed=5)
    marker = TileMarker(TileConfig(amplitude=1.0))  # weaker than the default
    detector = TileDetector()
    for frame in frames:
        detector.add(jpeg(marker.mark(frame, PAYLOAD), 80))
    assert detector.detection().detection.payload == PAYLOAD
    assert detector.frames == 6


@pytest.mark.parametrize("kind", ["noise", "texture", "flat", "letterboxed"])
def test_unmarked_frames_are_not_detected(kind: str) -> None:
    rng = np.random.default_rng(1)
    frame = {"noise": lambda: rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
             "texture": lambda: textured(1, 240, 320, seed=9)[0],
             "flat": lambda: np.full((240, 320, 3), 90, np.uint8),
             "letterboxed": lambda: _letterbox(textured(1, 240, 320, seed=7)[0])}[kind]()
    assert not read(frame).detection.present
    assert not read(jpeg(frame[:, ::-1])).detection.present


def test_another_key_reads_nothing(marked: np.ndarray) -> None:
    detector = TileDetector(TileConfig(key="another key"))
    detector.add(marked)
    assert not detector.detection().detection.present


def test_the_false_alarm_bound_counts_every_hypothesis(marked: np.ndarray) -> None:
    config = TileConfig()
    detector = TileDetector(config)
    detector.add(_letterbox(marked))  # two content rectangles searched: whole and inner
    expected = 2 * config.hypotheses * config.words_tried * 2.0 ** -28
    assert detector.detection().detection.false_alarm == pytest.approx(expected)
    assert detector.false_alarm(tests=3) == pytest.approx(3 * expected)


def test_a_flipped_hypothesis_is_the_mirror_images_unflipped_one() -> None:
    """fold() derives the flipped hypotheses from unflipped folds instead of resampling again."""
    config = TileConfig()
    image = np.random.default_rng(4).normal(size=(96, 141))
    folded, mirrored = fold(image, config), fold(image[:, ::-1], config)
    half = config.hypotheses // 2
    for index in range(half):
        assert hypothesis_name(index + half, config)[1:] == hypothesis_name(index, config)[1:]
        np.testing.assert_allclose(folded[index + half], mirrored[index], atol=1e-9)


def test_a_strong_mark_ends_the_search_early(marked: np.ndarray,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoded at a sharp sync peak, it climbs to the best neighbouring hypothesis and stops:
    about half of the 35 resamplings (the 2% crop is 5 scale steps from the first hypothesis),
    and the transformation named is still the right one."""
    from reenact.provenance.watermark import tile_fold

    calls = []
    resample = tile_fold._resampled_fold
    monkeypatch.setattr(tile_fold, "_resampled_fold",
                        lambda *args: calls.append(args[1:3]) or resample(*args))
    result = read(jpeg(_crop(marked)))
    assert result.detection.payload == PAYLOAD and "scaling 0.97" in result.transform
    assert len(calls) <= 20  # of 35
    assert result.detection.false_alarm == pytest.approx(TileConfig().hypotheses * 8 * 2.0 ** -28)


def test_asking_again_without_new_frames_reuses_the_search(marked: np.ndarray) -> None:
    detector = TileDetector()
    detector.add(marked)
    first = detector.detection()
    again = detector.detection(tests=2)
    assert again.detection.payload == first.detection.payload == PAYLOAD
    assert again.detection.false_alarm == pytest.approx(2 * first.detection.false_alarm)


def test_borders_are_found() -> None:
    frame = np.full((200, 300), 20.0)
    frame[30:170, 40:250] = textured(1, 140, 210)[0].mean(axis=2)
    assert content_rect(frame) == (30, 40, 140, 210)
    assert content_rect(textured(1, 140, 210)[0].mean(axis=2)) is None


def test_bad_inputs_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"frame: expected \(H, W, 3\) uint8 RGB"):
        TileMarker().mark(np.zeros((8, 8), np.uint8), PAYLOAD)
    with pytest.raises(ValueError, match=r"plane: expected \(H, W\) uint8 luma"):
        TileMarker().mark_luma_plane(np.zeros((8, 8, 3), np.uint8), PAYLOAD)
    with pytest.raises(ValueError, match="detection: no frames were added"):
        TileDetector().detection()
    with pytest.raises(ValueError, match="amplitude: expected a positive number, got 0"):
        TileConfig(amplitude=0)
    with pytest.raises(ValueError, match="alone_rms: expected a positive number, got -1"):
        TileConfig(alone_rms=-1)
    with pytest.raises(ValueError, match=r"alone_from, alone_below: expected working_side \(96\) "
                                          r"<= alone_from <= alone_below, got 64, 224"):
        TileConfig(alone_from=64)
    with pytest.raises(ValueError, match="tile: expected"):
        TileConfig(tile=8)


def test_the_working_image_weighs_samples_by_their_inverse_detail_variance() -> None:
    """An offset changes nothing and a gain only scales the image (by 1 / gain, which whitening
    undoes); a quiet area's samples weigh 1 / its detail's standard deviation more than a busy
    one's, the inverse-variance weight of a mark of the same amplitude everywhere."""
    config = TileConfig()
    luma = textured(1, 240, 320, seed=2)[0].mean(axis=2)
    base = normalised_working_image(luma, config)
    np.testing.assert_allclose(normalised_working_image(luma + 20, config), base, atol=1e-4)
    np.testing.assert_allclose(normalised_working_image(luma * 2, config), base / 2, atol=1e-4)
    np.testing.assert_allclose(whiten(normalised_working_image(luma * 2, config)), whiten(base),
                               atol=1e-4)
    rng = np.random.default_rng(8)
    noise = rng.normal(size=(240, 320))
    halves = np.where(np.arange(320) < 160, 40.0, 4.0) * noise + 128  # busy left, quiet right
    image = normalised_working_image(halves, config)
    width = image.shape[1]
    busy, quiet = image[8:-8, 8:width // 2 - 8], image[8:-8, width // 2 + 8:-8]
    assert 7 < quiet.std() / busy.std() < 13  # 40 / 4; dividing by the std would give ~1


def test_the_soft_bits_are_read_where_the_payload_chips_are_strongest() -> None:
    """A sync peak half a chip off (as where little of the mark is left) is corrected to the
    neighbouring shift whose payload chips carry the most energy."""
    detector = TileDetector()
    code = encode(PAYLOAD.to_bits() ^ detector.layout.whitening)
    rng = np.random.default_rng(6)
    folded = chip_grid(TileMarker().pattern(PAYLOAD))  # (D*T, D*T), aligned at (0, 0)
    folded = np.roll(folded + rng.normal(scale=2.0, size=folded.shape), (3, 5), axis=(0, 1))
    for peak in [(3, 5), (2, 5), (4, 6), (3, 4)]:
        shift, soft = detector._aligned_soft(folded, peak)
        assert shift == (3, 5)
        assert np.mean((soft < 0) == code.astype(bool)) > 0.85


def test_choosing_the_shift_by_energy_leaves_unmarked_bits_fair_coins() -> None:
    """The false-alarm bound needs the decoded bits of unmarked content to be fair coins whatever
    shift the energy picks: folded unmarked pictures agree with a codeword on half of the bits."""
    detector = TileDetector()
    code = encode(PAYLOAD.to_bits() ^ detector.layout.whitening).astype(bool)
    agreements = []
    for seed in range(40):
        luma = textured(1, 192, 256, seed=100 + seed)[0].mean(axis=2)
        folded = hypothesis_fold(whiten(normalised_working_image(luma, detector.config)), 0,
                                 detector.config)
        _, soft = detector._aligned_soft(folded, detector._sync(folded)[1])
        agreements.append(np.mean((soft < 0) == code))
    # 40 x 124 bits: the mean's standard deviation is 0.007
    assert abs(np.mean(agreements) - 0.5) < 0.03


def test_a_quiet_strip_a_few_chips_wide_keeps_its_weight_beside_busy_picture() -> None:
    """The local variance is taken over 1.5 chips: a quiet strip 5 chips wide (12 px at 2.5 px
    per chip) between busy areas is weighed by its own variance (~8x a busy sample) rather than
    by its neighbours' (a 4-chip window gave it a quarter of a busy sample's weight)."""
    config = TileConfig()
    rng = np.random.default_rng(8)
    sigma = np.full(320, 40.0)
    sigma[160:172] = 4.0
    image = normalised_working_image(sigma * rng.normal(size=(240, 320)) + 128, config)
    centre = round(166 * image.shape[1] / 320)
    strip, busy = image[8:-8, centre - 1:centre + 1], image[8:-8, 20:120]
    assert strip.std() / busy.std() > 5


def test_a_ringing_row_next_to_a_border_is_border() -> None:
    # an encoder rings next to a canvas's sharp edge: a row that varies a little, which the
    # thresholds alone take for content, one row too many (a 0.5% zoom for the DCT layer)
    frame = np.full((200, 300), 24.0)
    content = textured(1, 140, 210)[0].mean(axis=2)
    frame[30:170, 40:250] = content
    frame[170, 40:250] = 24 + 0.2 * (content[-1] - content[-1].mean())
    assert content_rect(frame) == (30, 40, 140, 210)


def test_another_readings_bits_rescue_a_weak_mark(host: np.ndarray) -> None:
    # a faint mark (chips of 0.55 grey levels) after JPEG q60: its sync peak is found, its code
    # alone does not decode; the payload's bits read elsewhere at 0.6 each make it decode, and
    # random ones do not
    weak = jpeg(TileMarker(TileConfig(amplitude=0.55)).mark(host, PAYLOAD), 60)
    detector = TileDetector()
    detector.add(weak)
    plain = detector.detection()
    assert not plain.detection.present and plain.sync >= TileConfig().min_sync
    joint = detector.joint_detection(0.6 * (1.0 - 2.0 * PAYLOAD.to_bits()), tests=2)
    assert joint.detection.payload == PAYLOAD
    assert joint.detection.false_alarm == pytest.approx(2 * detector.false_alarm())
    noise = np.random.default_rng(0).choice([-0.6, 0.6], PAYLOAD.to_bits().shape)
    assert not detector.joint_detection(noise).detection.present
