from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import MEDIA, require
from reenact.training.data import AugmentConfig, FrameDataset, augment_pair, prepare_data


def test_pairs_come_from_one_clip(data_dir: Path) -> None:
    data = FrameDataset(data_dir)
    assert len(data) == 2 and data.num_frames == 12 and data.image_size == 64
    sources, drivings = data.sample_pairs(16, np.random.default_rng(0))
    assert sources.shape == drivings.shape == (16, 64, 64, 3) and sources.dtype == np.uint8
    clips = [np.asarray(c) for c in data.clips]
    for source, driving in zip(sources, drivings):
        owners = [i for i, clip in enumerate(clips) if (clip == source).all(axis=(1, 2, 3)).any()]
        assert owners and (clips[owners[0]] == driving).all(axis=(1, 2, 3)).any()
        assert not np.array_equal(source, driving)


def test_not_a_data_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a prepared data directory.*prepare-data"):
        FrameDataset(tmp_path)


def test_augmentation_is_shared_by_the_pair_and_stays_in_range() -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(8, 3, 16, 16)
    source, driving = augment_pair(image, image.clone(), AugmentConfig(time_flip=False), generator)
    torch.testing.assert_close(source, driving)  # same draw for both frames of a pair
    assert source.min() >= 0 and source.max() <= 1
    assert not torch.allclose(source, image)
    off = AugmentConfig(flip=False, time_flip=False, brightness=0, contrast=0, saturation=0, hue=0)
    same, _ = augment_pair(image, image, off, generator)
    torch.testing.assert_close(same, image, atol=1e-5, rtol=0)


def test_time_flip_swaps_the_frames() -> None:
    generator = torch.Generator().manual_seed(0)
    a, b = torch.zeros(64, 3, 4, 4), torch.ones(64, 3, 4, 4)
    only_swap = AugmentConfig(flip=False, brightness=0, contrast=0, saturation=0, hue=0)
    source, driving = augment_pair(a, b, only_swap, generator)
    swapped = source.mean(dim=(1, 2, 3)) > 0.5
    assert 10 < int(swapped.sum()) < 54
    torch.testing.assert_close(driving.mean(dim=(1, 2, 3)), (~swapped).float(), atol=1e-5, rtol=0)


def test_augment_config_validation() -> None:
    with pytest.raises(ValueError, match="AugmentConfig.hue: expected a number in"):
        AugmentConfig(hue=1.5)


class FakeAnalyzer:
    """A face in the middle of every frame (prepare-data's plumbing without dlib)."""

    def detect(self, image: np.ndarray):
        from reenact.preprocess.face import Face

        height, width = image.shape[:2]
        return [Face((width * 0.35, height * 0.3, width * 0.65, height * 0.7), 1.0)]


def test_prepare_data_on_a_real_video(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    (videos / "eval").mkdir(parents=True)
    source = require(MEDIA / "driving" / "lp_d12.mp4")
    (videos / "clip.mp4").symlink_to(source)
    (videos / "eval" / "held_out.mp4").symlink_to(source)
    output = prepare_data(videos, tmp_path / "data", size=64, analyzer=FakeAnalyzer(),
                          run_seconds=0.4, max_frames=25, exclude=("eval",), progress=False)
    index = json.loads((output / "index.json").read_text())
    assert {c["video"] for c in index["clips"]} == {"clip.mp4"}
    assert [c["frames"] for c in index["clips"]] == [10, 10, 5]
    data = FrameDataset(output)
    assert data.clips[0].shape == (10, 64, 64, 3)
    with pytest.raises(ValueError, match="already exists"):
        prepare_data(videos, output, size=64, analyzer=FakeAnalyzer(), progress=False)


def test_prepare_data_without_videos(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no video files found"):
        prepare_data(tmp_path, tmp_path / "data", size=64, analyzer=FakeAnalyzer())
    assert not (tmp_path / "data").exists()


def test_flip_moves_landmarks_with_the_pixels() -> None:
    import torch

    from reenact.training.data import augment_pair_with_landmarks

    size = 32
    image = torch.zeros(1, 3, size, size)
    image[0, :, 10, 5] = 1  # a dot at pixel (row 10, column 5): centre (5.5, 10.5)
    landmarks = torch.full((1, 68, 2), 16.0)
    landmarks[0, 36] = torch.tensor([5.5, 10.5])  # the left eye's outer corner on the dot
    config = AugmentConfig(flip=True, time_flip=False, brightness=0, contrast=0, saturation=0, hue=0)
    for seed in range(8):
        source, _, points, _ = augment_pair_with_landmarks(
            image, image, landmarks, landmarks, config, torch.Generator().manual_seed(seed))
        row, column = np.unravel_index(int(source[0, 0].argmax()), (size, size))
        flipped = column != 5
        corner = points[0, 45 if flipped else 36]  # a flipped left corner is the right eye's
        assert (float(corner[0]), float(corner[1])) == (column + 0.5, row + 0.5)


def test_landmarks_are_read_and_sampled_with_their_frames(tmp_path) -> None:
    from conftest import write_data_dir, write_landmarks

    data = FrameDataset(write_landmarks(write_data_dir(tmp_path / "data")))
    assert data.has_landmarks
    pairs = data.sample_pairs_with_landmarks(4, np.random.default_rng(0))
    assert pairs.source_landmarks.shape == (4, 68, 2) and pairs.driving.shape == (4, 64, 64, 3)
    assert not FrameDataset(write_data_dir(tmp_path / "old")).has_landmarks


def test_contrast_share_of_a_batch(data_dir: Path) -> None:
    data = FrameDataset(data_dir)
    with pytest.raises(ValueError, match="contrast"):
        data.sample_pairs_with_landmarks(4, np.random.default_rng(0), contrast=1.5)
    pairs = data.sample_pairs_with_landmarks(4, np.random.default_rng(0), contrast=0.0)
    assert pairs.source.shape[0] == 4
    with pytest.raises(ValueError, match="landmarks"):  # this data has none
        data.sample_pairs_with_landmarks(4, np.random.default_rng(0), contrast=0.5)
