import pytest
import torch

from reenact.api import create_model
from reenact.checkpoint import load_checkpoint, save_checkpoint
from reenact.geometry import normalize_keypoints
from reenact.presets import PRESETS


def test_cached_source_equals_recomputing(tiny_model, images):
    source_image, frames = images[:1], images[1:]
    with torch.no_grad():
        kp_source = tiny_model.detect(source_image)
        cached = tiny_model.encode_source(source_image)
        for index in range(frames.shape[0]):
            kp_driving = tiny_model.detect(frames[index:index + 1])
            reused = tiny_model.render(cached, kp_source, kp_driving).prediction
            recomputed = tiny_model(source_image, kp_source, kp_driving).prediction
            assert torch.equal(reused, recomputed)


def test_batched_frames_match_single_frames(tiny_model, images):
    with torch.no_grad():
        source = tiny_model.encode_source(images[:1])
        kp_source = tiny_model.detect(images[:1])
        kp_driving = tiny_model.detect(images)
        batched = tiny_model.render(source, kp_source, kp_driving).prediction
        single = torch.cat([tiny_model.render(source, kp_source, kp_driving[i]).prediction
                            for i in range(3)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_save_load_round_trip(tiny_model, images, tmp_path):
    save_checkpoint(tiny_model, tmp_path / "ckpt", metadata={"note": "test"})
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.config == tiny_model.config
    with torch.no_grad():
        kp_s, kp_d = tiny_model.detect(images[:1]), tiny_model.detect(images[1:])
        expected = tiny_model(images[:1], kp_s, kp_d).prediction
        actual = loaded(images[:1], loaded.detect(images[:1]), loaded.detect(images[1:])).prediction
    assert torch.equal(expected, actual)


def test_gradient_reaches_every_parameter(tiny_model, images):
    model = tiny_model.train()
    with torch.no_grad():
        model.keypoint_detector.jacobian_head.weight.normal_(0, 0.01)
    kp_source, kp_driving = model.detect(images[:2]), model.detect(images[1:])
    model(images[:2], kp_source, kp_driving).prediction.mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_two_training_steps_reduce_reconstruction_loss(images):
    model = create_model("tiny-64", seed=0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        kp_source, kp_driving = model.detect(images[:1].expand(2, -1, -1, -1)), model.detect(images[1:])
        loss = (model(images[:1].expand(2, -1, -1, -1), kp_source, kp_driving).prediction
                - images[1:]).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_build_and_run(name):
    model = create_model(name, seed=0)
    size = model.config.image_size
    image = torch.rand(1, 3, size, size)
    with torch.no_grad():
        kp = model.detect(image)
        relative = normalize_keypoints(kp, kp, kp)
        out = model(image, kp, relative)
    assert out.prediction.shape == (1, 3, size, size)
