"""train-audio: extraction, two training steps, resume, directions, the command on a generated video."""

import json
import logging

import numpy as np
import pytest
import torch
from speech_fixtures import (
    MEDIA,
    TINY_AUDIO,
    FakeAnalyzer,
    require,
    syllable_envelope,
    synthetic_frames,
    write_speech,
)

from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.checkpoint.audio_format import load_audio_checkpoint
from reenact.cli import main
from reenact.evaluation.facemesh import mediapipe_available
from reenact.io import VideoWriter, read_image
from reenact.models.audio_to_motion import AudioToMotionConfig
from reenact.training.audio import AudioTrainConfig, audio_motion_loss
from reenact.training.audio_run import train_audio
from reenact.training.audio_data import AudioBatch, TalkingClip, fit_directions

TINY_RUN = dict(steps=2, batch_size=2, sequence_frames=8, log_every=1, save_every=1)


def fake_talking_video(path, seconds=1.2, seed=0):
    """Synthetic frames whose red level in a strip drives the fake analyzer's mouth opening."""
    wav = write_speech(path.with_suffix(".wav"), seconds, seed=seed)
    envelope = syllable_envelope(seconds, 25, seed=seed)
    frames = synthetic_frames(len(envelope), seed=seed)
    with VideoWriter(path, 25, 128, 96, audio_from=wav) as writer:
        for frame, value in zip(frames, envelope, strict=True):
            frame[:8, 16:] = int(255 * value)
            writer.write(frame)
    return path


def config(**kwargs):
    return AudioTrainConfig(model=AudioToMotionConfig(num_kp=4, **TINY_AUDIO), **{**TINY_RUN, **kwargs})


def test_two_steps_resume_and_checkpoint(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for seed in range(2):
        fake_talking_video(data / f"clip{seed}.mp4", seed=seed)
    (data / "clip0.wav").unlink()
    (data / "clip1.wav").unlink()
    motion = create_model("tiny-64", seed=0)
    run = tmp_path / "run"
    kwargs = dict(analyzer=FakeAnalyzer((40.0, 20.0, 88.0, 76.0)), device=torch.device("cpu"),
                  progress=False)
    path = train_audio(data, motion, run, config=config(), **kwargs)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(np.isfinite(r["total"]) for r in log)
    checkpoint = load_audio_checkpoint(path)
    assert checkpoint.fps == 25 and checkpoint.model.config.num_kp == 4
    assert checkpoint.directions.vector("mouth_open").abs().sum() > 0
    assert len(list((run / "cache").glob("*.npz"))) == 2
    with pytest.raises(ValueError, match="exists and holds a run"):
        train_audio(data, motion, run, config=config(), **kwargs)
    train_audio(data, motion, run, config=config(steps=3), resume=True, **kwargs)
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 3


def test_loss_is_zero_for_a_perfect_prediction_and_masks_frames():
    motion = torch.randn(2, 5, 24)
    mask = torch.ones(2, 5, dtype=torch.bool)
    batch = AudioBatch(torch.zeros(2, 5, 17, 80), motion, mask)
    losses = audio_motion_loss(motion.clone(), batch, torch.ones(24), AudioTrainConfig())
    assert float(losses["total"]) == 0
    wrong = motion.clone()
    wrong[1, 2] += 5
    partial = mask.clone()
    partial[1, 2] = False
    masked = AudioBatch(batch.windows, motion, partial)
    assert float(audio_motion_loss(wrong, masked, torch.ones(24), AudioTrainConfig())["keypoints"]) == 0
    assert float(audio_motion_loss(wrong, batch, torch.ones(24), AudioTrainConfig())["velocity"]) > 0


def test_directions_recover_a_planted_linear_relation():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 0.01, (3, 24))
    clips = []
    for _ in range(3):
        measures = np.stack([rng.uniform(0, 0.4, 100), rng.uniform(0.8, 1.0, 100),
                             (rng.uniform(0, 1, 100) > 0.9).astype(float)], 1)
        motion = measures @ truth + rng.normal(0, 1e-4, (100, 24)) + rng.normal(0, 0.01, 24)
        clips.append(TalkingClip("c", np.zeros((10, 80), np.float32), motion.astype(np.float32),
                                 measures.astype(np.float32), np.ones(100, bool)))
    directions, stats = fit_directions(clips, np.full(24, 0.01, np.float32))
    assert np.allclose(directions.vectors.numpy(), truth, atol=2e-3)
    assert stats["explained_variance"] > 0.95 and stats["zeroed"] == []


def train_on_a_generated_talking_portrait(tmp_path, *options):
    """`reenact train-audio` for two steps on a generated talking video of a shared portrait, with
    a tiny motion model and audio model; returns the command's exit code."""
    from speech_fixtures import talking_portrait_video

    portrait = read_image(require(MEDIA / "portraits" / "woman_smiling.png"))
    data = tmp_path / "data"
    data.mkdir()
    talking_portrait_video(data / "talk.mp4", portrait, 1.2)
    (data / "talk.wav").unlink()
    save_checkpoint(create_model("tiny-64", seed=0), tmp_path / "motion")
    args = ["train-audio", "-q", "--data", data, "--checkpoint", tmp_path / "motion", "-o",
            tmp_path / "run", "--steps", 2, "--batch-size", 2, "--sequence-frames", 8,
            "--hidden-size", 8, "--channels", 8, "--layers", 1, *options]
    return main([str(a) for a in args])


def test_command_on_a_generated_talking_portrait(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    assert train_on_a_generated_talking_portrait(tmp_path) == 0
    checkpoint = load_audio_checkpoint(tmp_path / "run" / "audio-checkpoint")
    assert checkpoint.metadata["videos"] == ["talk.mp4"]
    assert checkpoint.motion_model["name"] == str(tmp_path / "motion")


@pytest.mark.skipif(not mediapipe_available(), reason="mediapipe's FaceMesh is not installed")
def test_command_measures_the_opening_with_facemesh_and_hears_a_wider_window(tmp_path):
    assert train_on_a_generated_talking_portrait(tmp_path, "--opening-measure", "facemesh",
                                                 "--context", 4) == 0
    checkpoint = load_audio_checkpoint(tmp_path / "run" / "audio-checkpoint")
    assert checkpoint.features.context == 4 and checkpoint.model.config.window == 9
    assert checkpoint.metadata["train_config"]["opening_measure"] == "facemesh"
    (cache,) = (tmp_path / "run" / "cache").glob("talk-*.npz")
    with np.load(cache) as extracted:
        opening = extracted["measures"][:, 0]
    # the fixture stretches the lower face but never parts the lips: FaceMesh reads them shut
    # in every frame (dlib's gap between pressed lips is ~0.05 interocular distances)
    assert np.isfinite(opening).all() and np.nanmax(opening) < 0.01


def test_opening_measure_must_be_known():
    with pytest.raises(Exception, match="opening_measure"):
        AudioTrainConfig(opening_measure="eyeballed")


def test_mouth_targets_keep_only_what_the_mouth_explains_from_its_rest_level():
    from reenact.training.audio_data import motion_scale, mouth_targets

    rng = np.random.default_rng(1)
    truth = rng.normal(0, 0.01, (3, 24))
    opening = np.r_[np.full(30, 0.05), rng.uniform(0.1, 0.4, 70)]
    width = np.r_[np.full(30, 0.9), rng.uniform(0.8, 1.0, 70)]
    measures = np.stack([opening, width, np.zeros(100)], 1)
    measures[40, 1] = np.nan  # an unknown measure makes its frame invalid
    head = rng.normal(0, 0.05, (100, 24))  # motion audio cannot predict
    motion = np.nan_to_num(measures) @ truth + head
    clip = TalkingClip("c", np.zeros((10, 80), np.float32), motion.astype(np.float32),
                       measures.astype(np.float32), np.ones(100, bool))
    directions, _ = fit_directions([clip], np.full(24, 0.01, np.float32))
    target = mouth_targets(clip, directions, rest_quantile=0.2)
    assert not target.valid[40] and target.valid.sum() == 99
    vectors = directions.vectors[:2].double().numpy()
    coefficients = np.linalg.lstsq(vectors.T, target.motion[target.valid].T, rcond=None)[0].T
    # in the span of the two mouth directions, and zero on the closed-mouth (rest) frames
    assert np.allclose(coefficients @ vectors, target.motion[target.valid], atol=1e-6)
    assert np.abs(target.motion[:30]).max() < 1e-6
    # the opening above rest, as the coefficient of mouth_open
    assert np.allclose(coefficients[30:, 0], opening[30:][target.valid[30:]] - 0.05, atol=1e-5)
    assert np.allclose(coefficients[30:, 1], width[30:][target.valid[30:]] - 0.9, atol=1e-5)
    scale = motion_scale([target], uniform=True)
    assert np.all(scale == scale[0]) and scale[0] > 0


def test_target_must_be_known():
    with pytest.raises(Exception, match="target"):
        AudioTrainConfig(target="lips")


def planted_mouth_clips(count: int = 2, frames: int = 100):
    """Clips whose motion is a planted mouth opening along known directions (mel: silence)."""
    rng = np.random.default_rng(2)
    truth = rng.normal(0, 0.01, (3, 24))
    clips = []
    for index in range(count):
        measures = np.stack([rng.uniform(0, 0.4, frames), rng.uniform(0.8, 1.0, frames),
                             np.zeros(frames)], 1)
        clips.append(TalkingClip(f"c{index}", np.full((4 * frames, 80), -60, np.float32),
                                 (measures @ truth).astype(np.float32),
                                 measures.astype(np.float32), np.ones(frames, bool)))
    return clips


@pytest.mark.parametrize(("shrink", "max_gain", "expected"), [(0.5, 4.0, 2.0), (0.1, 4.0, 4.0),
                                                                (0.5, 1.0, 1.0), (2.0, 4.0, 1.0)])
def test_released_model_opens_the_mouth_as_widely_as_the_data(tmp_path, monkeypatch, shrink,
                                                               max_gain, expected):
    """A prediction with `shrink` times the data's mouth-opening spread is scaled back up by
    1 / shrink, within [1, max_amplitude_gain], in the released checkpoint only."""
    from reenact.training.audio import AudioTrainer

    clips = planted_mouth_clips()
    trainer = AudioTrainer(config(max_amplitude_gain=max_gain), clips, tmp_path,
                           motion_model={"name": "planted", "num_kp": 4},
                           device=torch.device("cpu"))
    motions = iter([torch.from_numpy(clip.motion)[None] for clip in clips])
    monkeypatch.setattr(trainer.model, "forward_flat",
                        lambda windows, state=None: (next(motions) * shrink, None))
    gain, amplitude = trainer.amplitude_gain()
    assert gain == pytest.approx(expected, rel=1e-6)
    assert amplitude["unclipped"] == pytest.approx(1 / shrink, rel=1e-3)
    monkeypatch.undo()
    scale = trainer.model.motion_scale.clone()
    monkeypatch.setattr(trainer, "amplitude_gain", lambda: (gain, amplitude))
    checkpoint = load_audio_checkpoint(trainer.write_checkpoint())
    assert torch.allclose(checkpoint.model.motion_scale, scale * gain)
    assert torch.equal(trainer.model.motion_scale, scale)  # training goes on unscaled
    assert checkpoint.metadata["amplitude_gain"] == pytest.approx(expected)


def test_amplitude_gain_must_not_shrink():
    with pytest.raises(Exception, match="max_amplitude_gain"):
        AudioTrainConfig(max_amplitude_gain=0.5)


@pytest.mark.parametrize("render_gain", [1.0, 3.0])
def test_open_only_release_drives_just_the_mouth_opening(tmp_path, monkeypatch, render_gain):
    """mouth_output="open": the released model outputs the trained one's mouth-opening
    coefficient along the mouth_open direction, times amplitude gain * render_gain."""
    from reenact.training.audio import AudioTrainer

    clips = planted_mouth_clips()
    trainer = AudioTrainer(config(mouth_output="open", render_gain=render_gain), clips, tmp_path,
                           motion_model={"name": "planted", "num_kp": 4},
                           device=torch.device("cpu"))
    with torch.no_grad():
        # a trained head's output has every component; seeded: the draw must not depend on the
        # global RNG state that earlier tests leave behind
        trainer.model.head.bias.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(trainer, "amplitude_gain", lambda: (2.0, {"target_std": 0.1, "predicted_std": 0.05}))
    checkpoint = load_audio_checkpoint(trainer.write_checkpoint())
    assert checkpoint.metadata["mouth_output"] == "open"
    assert checkpoint.metadata["render_gain"] == render_gain
    windows = torch.from_numpy(np.random.default_rng(0).normal(-40, 10, (1, 5, 17, 80))).float()
    with torch.no_grad():
        trained, _ = trainer.model.eval().forward_flat(windows)
        released, _ = checkpoint.model.forward_flat(windows)
    names = list(trainer.directions.names)
    basis = trainer.directions.vectors.double()
    opening = basis[names.index("mouth_open")]
    # the blink direction is stored as zero (no blinks in the data): a rank-deficient basis, so
    # the minimum-norm solution by SVD (torch's default CPU driver does not promise one)
    coefficients = torch.from_numpy(np.linalg.lstsq(basis.T.numpy(), trained[0].double().T.numpy(),
                                                    rcond=None)[0])  # (3, T)
    expected = coefficients[names.index("mouth_open")][:, None] * opening * 2.0 * render_gain
    # float32 end to end: the release folds the projection into the head's weights
    assert torch.allclose(released[0].double(), expected, atol=1e-4 * float(expected.abs().max()))
    assert torch.linalg.matrix_rank(released[0].double(), rtol=1e-4) == 1  # one direction
    assert torch.allclose(checkpoint.model.motion_scale, torch.ones(1))


def test_render_gain_scales_an_all_release(tmp_path, monkeypatch):
    from reenact.training.audio import AudioTrainer

    trainer = AudioTrainer(config(render_gain=3.0), planted_mouth_clips(), tmp_path,
                           motion_model={"name": "planted", "num_kp": 4},
                           device=torch.device("cpu"))
    monkeypatch.setattr(trainer, "amplitude_gain", lambda: (2.0, {"target_std": 0.1, "predicted_std": 0.05}))
    scale = trainer.model.motion_scale.clone()
    checkpoint = load_audio_checkpoint(trainer.write_checkpoint())
    assert torch.allclose(checkpoint.model.motion_scale, scale * 6.0)


@pytest.mark.parametrize(("key", "value"), [("mouth_output", "lips"), ("render_gain", 0),
                                            ("render_gain", True)])
def test_mouth_output_options_are_checked(key, value):
    with pytest.raises(Exception, match=key):
        AudioTrainConfig(**{key: value})


def test_fold_output_map_gives_the_mapped_output_at_no_cost():
    from reenact.models.audio_to_motion import AudioToMotion
    from reenact.training.audio import fold_output_map

    model = AudioToMotion(AudioToMotionConfig(num_kp=4, **TINY_AUDIO)).eval()
    with torch.no_grad():
        model.head.bias.normal_(0, 1)
        model.motion_scale.uniform_(0.5, 2.0)
        windows = torch.randn(1, 3, 17, 80) * 10 - 40
        before, _ = model.forward_flat(windows)
        matrix = torch.randn(24, 24, dtype=torch.float64)
        fold_output_map(model, matrix)
        after, _ = model.forward_flat(windows)
    assert torch.allclose(after.double(), before.double() @ matrix, atol=1e-4)
    assert torch.equal(model.motion_scale, torch.ones(24))
    with pytest.raises(ValueError, match=r"matrix: expected \(24, 24\)"):
        fold_output_map(model, torch.eye(3))


def test_opening_target_keeps_only_the_opening_above_rest():
    from reenact.training.audio_data import mouth_targets

    clip = planted_mouth_clips(count=1)[0]
    directions, _ = fit_directions([clip], np.full(24, 0.01, np.float32))
    target = mouth_targets(clip, directions, rest_quantile=0.2, width=False)
    opening = directions.vector("mouth_open").double().numpy()
    # every frame's motion is a multiple of the mouth_open direction: its opening above rest
    coefficient = target.motion.astype(np.float64) @ opening / (opening @ opening)
    assert np.allclose(np.outer(coefficient, opening), target.motion, atol=1e-6)
    measures = clip.measures[:, 0].astype(np.float64)
    rest = np.median(measures[measures <= np.quantile(measures, 0.2)])
    assert np.allclose(coefficient, measures - rest, atol=1e-5)


def test_lookahead_windows_run_past_the_targets_and_predictions_drop_the_first_steps(tmp_path,
                                                                                   monkeypatch):
    """With lookahead L a batch holds L more windows than targets, the windows of frames
    start .. start + T + L - 1, and frame t is scored against the model's step t + L."""
    from reenact.training.audio import AudioTrainer
    from reenact.training.audio_data import clip_windows, sample_batch, whole_clip_batch

    clips = planted_mouth_clips()
    for clip in clips:  # a mel that differs from frame to frame, to tell the windows apart
        clip.mel[:] = np.arange(len(clip.mel))[:, None] % 50 - 70
    features, fps = AudioTrainConfig().features, AudioTrainConfig().frame_rate
    rng = np.random.default_rng(0)
    batch = sample_batch(clips, features, fps, 3, 8, rng, lookahead=2)
    assert batch.windows.shape == (3, 10, 17, 80) and batch.motion.shape == (3, 8, 24)
    whole = whole_clip_batch(clips[0], features, fps, lookahead=2)
    expected = clip_windows(clips[0], features, fps).windows(0, 102)
    assert whole.windows.shape[1] == 102 and np.array_equal(whole.windows[0].numpy(), expected)
    trainer = AudioTrainer(AudioTrainConfig(model=AudioToMotionConfig(num_kp=4, lookahead=2,
                                                                      **TINY_AUDIO), **TINY_RUN),
                           clips, tmp_path, motion_model={"name": "planted", "num_kp": 4},
                           device=torch.device("cpu"))
    steps = torch.arange(10, dtype=torch.float32)[None, :, None].expand(3, 10, 24)
    monkeypatch.setattr(trainer.model, "forward_flat", lambda windows, state=None: (steps, None))
    assert torch.equal(trainer._predict(batch), steps[:, 2:])


def test_augment_must_be_a_switch():
    with pytest.raises(Exception, match="augment"):
        AudioTrainConfig(augment="yes")
