"""FaceMesh's network: shapes, its residual blocks' shortcut, input checks."""

from __future__ import annotations

import pytest
import torch

from reenact.models.face_mesh import INPUT_SIZE, NUM_POINTS, FaceMesh, SeparableBlock


def test_a_batch_of_crops_gives_points_and_a_presence_logit() -> None:
    torch.manual_seed(0)
    out = FaceMesh().eval()(torch.rand(2, 3, INPUT_SIZE, INPUT_SIZE) * 2 - 1)
    assert out.points.shape == (2, NUM_POINTS, 3) and out.presence.shape == (2,)
    assert torch.isfinite(out.points).all() and torch.isfinite(out.presence).all()


def test_gradient_reaches_every_parameter() -> None:
    model = FaceMesh()
    out = model(torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE))
    (out.points.sum() + out.presence.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("stride", [1, 2])
def test_a_silent_block_passes_its_shortcut_through_prelu(stride: int) -> None:
    """With zero convolutions a block is PReLU(shortcut): x itself (stride 1) or its 2 x 2 maxima
    (stride 2), with the new channels zero."""
    block = SeparableBlock(4, 6, stride=stride)
    with torch.no_grad():
        for conv in block.convs:
            conv.weight.zero_()
            conv.bias.zero_()
    x = torch.rand(1, 4, 8, 8)  # positive: PReLU passes it unchanged
    out = block(x)
    expected = x if stride == 1 else torch.nn.functional.max_pool2d(x, 2)
    assert out.shape == (1, 6, 8 // stride, 8 // stride)
    torch.testing.assert_close(out[:, :4], expected)
    assert (out[:, 4:] == 0).all()


def test_wrong_input_sizes_are_named() -> None:
    with pytest.raises(ValueError, match=r"crops: expected \(B, 3, 192, 192\), got \(1, 3, 128, 128\)"):
        FaceMesh()(torch.zeros(1, 3, 128, 128))
    with pytest.raises(ValueError, match="SeparableBlock: expected stride 1 or 2"):
        SeparableBlock(8, 4)
