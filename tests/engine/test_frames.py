"""uint8 crops <-> model tensors: torch and numpy conversions agree to the byte."""

import numpy as np
import pytest
import torch

from reenact.engine.frames import array_to_frames, frames_to_array, frames_to_tensor, tensor_to_frames


def test_torch_and_numpy_conversions_agree():
    frames = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    tensor = frames_to_tensor(frames, torch.device("cpu"))
    array = frames_to_array(frames)
    assert tensor.is_contiguous() and array.flags.c_contiguous and array.dtype == np.float32
    assert np.array_equal(tensor.numpy(), array)
    assert frames_to_tensor(frames, torch.device("cpu"), torch.channels_last).is_contiguous(
        memory_format=torch.channels_last)
    # values on rounding boundaries and outside [0, 1]
    outputs = np.linspace(-0.1, 1.1, 2 * 3 * 16 * 16, dtype=np.float32).reshape(2, 3, 16, 16)
    outputs[0, 0, 0, :4] = [0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255]
    assert np.array_equal(array_to_frames(outputs), tensor_to_frames(torch.from_numpy(outputs)))
    assert np.array_equal(array_to_frames(frames_to_array(frames)), frames)


@pytest.mark.parametrize("bad", [np.zeros((16, 16, 3), np.uint8), np.zeros((1, 16, 16, 4), np.uint8),
                                 [[0]]])
def test_bad_frames(bad):
    with pytest.raises(ValueError, match="frames: expected \\(B, H, W, 3\\) uint8, got"):
        frames_to_array(bad)
