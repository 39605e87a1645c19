"""The audio model run over a clip: frame count, chunking and lookahead."""

import dataclasses

import numpy as np
import pytest
import torch
from speech_fixtures import speech_like, tiny_audio_checkpoint

from reenact.audio.features import FrameWindows, clip_features, num_video_frames
from reenact.io.audio import AudioClip
from reenact.models.audio_to_motion import AudioToMotion
from reenact.pipelines.audio_motion import model_motion


def with_lookahead(checkpoint, lookahead):
    """The same weights, read with `lookahead` frames of lag."""
    config = dataclasses.replace(checkpoint.model.config, lookahead=lookahead)
    model = AudioToMotion(config)
    model.load_state_dict(checkpoint.model.state_dict())
    return dataclasses.replace(checkpoint, model=model.eval())


@pytest.mark.parametrize("lookahead", [0, 3])
def test_lookahead_frame_t_is_the_models_step_t_plus_lookahead(tiny_model, lookahead):
    checkpoint = with_lookahead(tiny_audio_checkpoint(tiny_model), lookahead)
    clip = AudioClip(speech_like(1.0, seed=1), 16000)
    count = num_video_frames(clip.num_samples, clip.sample_rate, checkpoint.fps)
    motion = model_motion(clip, checkpoint, device=torch.device("cpu"))
    assert motion.shape == (count, checkpoint.model.config.motion_features)
    # one pass over the frames and `lookahead` more (silence past the end), its first steps dropped
    windows = FrameWindows(clip_features(clip, checkpoint.features), checkpoint.fps,
                           checkpoint.features, count + lookahead).windows(0, count + lookahead)
    with torch.no_grad():
        expected, _ = checkpoint.model.forward_flat(torch.from_numpy(windows)[None])
    assert np.allclose(motion, expected[0, lookahead:].numpy(), atol=1e-6)
    # chunked runs carry the state across chunks: the same frames
    chunked = model_motion(clip, checkpoint, device=torch.device("cpu"), chunk_frames=4)
    assert np.allclose(chunked, motion, atol=1e-5)
