"""The audio-to-motion network: shapes, gradients, streaming, determinism, checkpoint round trip."""

import json
import logging

import pytest
import torch
from speech_fixtures import TINY_AUDIO, tiny_audio_checkpoint

from reenact.checkpoint.audio_format import (
    CheckpointError,
    load_audio_checkpoint,
    resolve_audio_checkpoint,
    save_audio_checkpoint,
)
from reenact.config import ConfigError, config_from_dict
from reenact.models.audio_to_motion import AudioToMotion, AudioToMotionConfig

CONFIG = AudioToMotionConfig(num_kp=4, **TINY_AUDIO)


def windows(batch=2, frames=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return -60 + 30 * torch.randn(batch, frames, CONFIG.window, CONFIG.n_mels, generator=generator)


def model(seed=0):
    torch.manual_seed(seed)
    return AudioToMotion(CONFIG).eval()


def test_shapes_dtype_finite():
    motion, state = model()(windows())
    assert motion.displacement.shape == (2, 12, 4, 2)
    assert motion.jacobian_change.shape == (2, 12, 4, 2, 2)
    assert motion.displacement.dtype == torch.float32 and state.shape == (1, 2, CONFIG.hidden_size)
    assert torch.isfinite(motion.flat()).all()


def test_gradient_reaches_every_parameter():
    network = model().train()
    motion, _ = network(windows())
    motion.flat().square().mean().backward()
    for name, parameter in network.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_chunks_with_carried_state_equal_one_pass():
    network, inputs = model(), windows(frames=20)
    with torch.no_grad():
        whole, _ = network.forward_flat(inputs)
        first, state = network.forward_flat(inputs[:, :7])
        second, _ = network.forward_flat(inputs[:, 7:], state)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-6)


def test_deterministic_for_a_seed():
    with torch.no_grad():
        assert torch.equal(model(3).forward_flat(windows())[0], model(3).forward_flat(windows())[0])


def test_input_shape_error_names_the_argument():
    with pytest.raises(ValueError, match=r"windows: expected \(B, T, 17, 80\)"):
        model()(torch.zeros(2, 5, 16, 80))


def test_config_errors():
    with pytest.raises(ConfigError, match="AudioToMotionConfig.hidden_size: expected an integer >= 1"):
        AudioToMotionConfig(hidden_size=0)
    with pytest.raises(ConfigError, match="AudioToMotionConfig: unknown key.*hidden"):
        config_from_dict(AudioToMotionConfig, {"hidden": 3})
    with pytest.raises(ConfigError, match="AudioToMotionConfig.lookahead: expected an integer >= 0"):
        AudioToMotionConfig(lookahead=-1)
    with pytest.raises(ConfigError, match="AudioToMotionConfig.lookahead: expected at most 50"):
        AudioToMotionConfig(lookahead=51)
    # checkpoints written before lookahead existed load with none
    assert config_from_dict(AudioToMotionConfig, {"num_kp": 4}).lookahead == 0


def test_checkpoint_round_trip(tmp_path, tiny_model):
    checkpoint = tiny_audio_checkpoint(tiny_model)
    path = save_audio_checkpoint(checkpoint, tmp_path / "audio")
    loaded = load_audio_checkpoint(path)
    assert loaded.fps == 25 and loaded.features == checkpoint.features
    assert loaded.directions.names == ("mouth_open", "mouth_width", "blink")
    assert torch.equal(loaded.directions.vectors, checkpoint.directions.vectors)
    with torch.no_grad():
        assert torch.equal(loaded.model.forward_flat(windows())[0],
                           checkpoint.model.forward_flat(windows())[0])
    config = json.loads((path / "config.json").read_text())
    assert config["format"] == "reenact-audio-to-motion" and config["features"]["sample_rate"] == 16000
    assert config["motion_model"]["num_kp"] == 4
    with pytest.raises(CheckpointError, match="already exists"):
        save_audio_checkpoint(checkpoint, path)


def test_corrupt_or_mismatched_checkpoints(tmp_path, tiny_model, caplog):
    path = save_audio_checkpoint(tiny_audio_checkpoint(tiny_model), tmp_path / "audio")
    space = resolve_audio_checkpoint(path, num_kp=4, keypoint_space=None)
    assert space.trained
    with pytest.raises(CheckpointError, match="moves 4 keypoints but the motion model has 10"):
        resolve_audio_checkpoint(path, num_kp=10)
    caplog.set_level(logging.WARNING)
    resolve_audio_checkpoint(path, num_kp=4, keypoint_space="0" * 64)
    assert "trained against another motion model" in caplog.text
    weights = path / "audio_to_motion.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_audio_checkpoint(path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "format": "reenact-motion-model"}))
    with pytest.raises(CheckpointError, match="expected 'reenact-audio-to-motion'"):
        load_audio_checkpoint(path)


def test_default_without_a_bundled_checkpoint_is_an_untrained_stand_in(caplog):
    from reenact.checkpoint import audio_format

    if (audio_format.DEFAULT_AUDIO_CHECKPOINT / "config.json").is_file():
        pytest.skip("a trained audio checkpoint is bundled")
    caplog.set_level(logging.WARNING)
    stand_in = resolve_audio_checkpoint("default", num_kp=4)
    assert not stand_in.trained and "no trained audio checkpoint" in caplog.text
    with torch.no_grad():
        assert not stand_in.model.forward_flat(windows())[0].any()
