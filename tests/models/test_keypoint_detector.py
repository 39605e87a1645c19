import torch

from reenact.models import KeypointDetector
from reenact.presets import get_preset


def make_detector(**overrides) -> KeypointDetector:
    config = get_preset("tiny-64")
    torch.manual_seed(0)
    return KeypointDetector(config.keypoint_detector, num_kp=config.num_kp,
                            num_channels=config.num_channels,
                            estimate_jacobian=overrides.get("estimate_jacobian", True))


def test_shapes_dtype_range(images):
    detector = make_detector().eval()
    kp = detector(images, return_heatmaps=True)
    assert kp.value.shape == (3, 4, 2) and kp.value.dtype == torch.float32
    assert kp.jacobian.shape == (3, 4, 2, 2)
    # 64 * 0.5 = 32 px hourglass input, 7x7 head without padding -> 26 px heatmaps
    assert kp.heatmap_logits.shape == (3, 4, 26, 26)
    assert kp.value.abs().max() <= 1
    assert torch.isfinite(kp.value).all() and torch.isfinite(kp.jacobian).all()


def test_untrained_jacobians_are_identity(images):
    kp = make_detector().eval()(images)
    assert torch.allclose(kp.jacobian, torch.eye(2).expand_as(kp.jacobian), atol=1e-6)


def test_without_jacobian(images):
    detector = make_detector(estimate_jacobian=False).eval()
    assert detector.jacobian_head is None
    assert detector(images).jacobian is None


def test_gradient_reaches_every_parameter(images):
    detector = make_detector().train()
    with torch.no_grad():  # break the exact identity so the jacobian path carries gradient
        detector.jacobian_head.weight.normal_(0, 0.01)
    kp = detector(images)
    (kp.value.sum() + kp.jacobian.pow(2).sum()).backward()
    for name, parameter in detector.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_deterministic(images):
    detector = make_detector().eval()
    first, second = detector(images), detector(images)
    assert torch.equal(first.value, second.value) and torch.equal(first.jacobian, second.jacobian)


def test_batch_independence(images):
    detector = make_detector().eval()
    together = detector(images)
    alone = detector(images[1:2])
    assert torch.allclose(together.value[1:2], alone.value, atol=1e-6)
