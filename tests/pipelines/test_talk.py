"""talk end to end with tiny random models, silence, and bad audio."""

import logging
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from conftest import MEDIA, require
from speech_fixtures import synthetic_frames, tiny_audio_checkpoint, write_silence, write_speech

from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.checkpoint.audio_format import save_audio_checkpoint
from reenact.cli import main
from reenact.engine import TorchBackend
from reenact.io import VideoWriter, probe_video, write_image
from reenact.io.audio import load_audio
from reenact.motion import motion_between
from reenact.pipelines.talk import TalkOptions, idle_keypoints, plan_talk, replace_mouth

PORTRAIT = MEDIA / "portraits" / "woman_smiling.png"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    motion = create_model("tiny-64", seed=0)
    save_checkpoint(motion, root / "motion")
    save_audio_checkpoint(tiny_audio_checkpoint(motion), root / "audio")
    return root / "motion", root / "audio"


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 96x96 image treated as a face crop (--crop none): no face detection needed."""
    return write_image(tmp_path_factory.mktemp("photo") / "photo.png", synthetic_frames(1, (96, 96))[0])


def run(args, caplog):
    caplog.set_level(logging.INFO)
    return main(["talk", "-q", *map(str, args)])


def test_length_follows_the_audio_with_speech_muxed(tmp_path, models, photo, caplog):
    speech = write_speech(tmp_path / "speech.wav", 1.02)
    out = tmp_path / "out.mp4"
    assert run(["--source", photo, "--audio", speech, "-o", out, "--checkpoint", models[0],
                "--audio-checkpoint", models[1], "--crop", "none", "--mouth", "model"], caplog) == 0
    info = probe_video(out)
    assert info.fps == 25 and info.num_frames == 26  # ceil(1.02 * 25)
    assert (info.width, info.height) == (96, 96) and info.has_audio
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(1.02, abs=0.05)


def test_fps_override_and_real_portrait_marked_with_manifest(tmp_path, models, caplog):
    from reenact.io.digest import file_sha256
    from reenact.provenance import read_manifest, verify_file

    speech = write_speech(tmp_path / "speech.wav", 0.5)
    out = tmp_path / "out.mp4"
    assert run(["--source", require(PORTRAIT), "--audio", speech, "-o", out, "--checkpoint",
                models[0], "--audio-checkpoint", models[1], "--fps", "30000/1001",
                "--label", "AI-generated"], caplog) == 0
    info = probe_video(out)
    assert info.fps == Fraction(30000, 1001) and info.num_frames == 15  # ceil(0.5 * 29.97)
    assert (info.width, info.height) == (256, 256)

    result = verify_file(out)
    assert result.marked and result.output_matches
    manifest = read_manifest(out)
    assert manifest["run_id"][:4] == result.detection.payload.short_run_id
    assert manifest["label"] == "AI-generated" and manifest["options"]["label"] == "AI-generated"
    assert manifest["options"]["mouth"] == "drawn"  # the default, recorded
    assert {item["role"]: item["sha256"] for item in manifest["inputs"]} == {
        "source": file_sha256(PORTRAIT), "audio": file_sha256(speech)}
    assert manifest["model"]["name"] == "motion" and manifest["model"]["audio_name"] == "audio"
    assert len(manifest["model"]["audio_sha256"]) == 64
    assert manifest["options"]["fps"] == "30000/1001"


def test_silent_audio_keeps_the_mouth_still(tmp_path, models, photo, caplog):
    from reenact.checkpoint.audio_format import load_audio_checkpoint

    checkpoint = load_audio_checkpoint(models[1])
    silence = write_silence(tmp_path / "silence.wav", 1.0)
    clip = load_audio(silence, 16000)
    plan = plan_talk(clip, checkpoint, Fraction(25), 25, TalkOptions(idle=False))
    assert not plan.motion.any() and not plan.gate.any()
    backend = TorchBackend(create_model("tiny-64", seed=0), "cpu")
    kp_source = backend.detect(synthetic_frames(1, (64, 64))[0][None])
    driving = idle_keypoints(kp_source, plan, 0, 25, checkpoint)
    assert torch.allclose(driving.value, kp_source.value.expand(25, -1, -1), atol=1e-6)
    out = tmp_path / "out.mp4"
    assert run(["--source", photo, "--audio", silence, "-o", out, "--checkpoint", models[0],
                "--audio-checkpoint", models[1], "--crop", "none"], caplog) == 0
    assert probe_video(out).num_frames == 25


def test_idle_motion_blinks_and_sways_deterministically(tmp_path, models):
    from reenact.checkpoint.audio_format import load_audio_checkpoint

    checkpoint = load_audio_checkpoint(models[1])
    clip = load_audio(write_silence(tmp_path / "s.wav", 8.0), 16000)
    plan = plan_talk(clip, checkpoint, Fraction(25), 200, TalkOptions(seed=3))
    again = plan_talk(clip, checkpoint, Fraction(25), 200, TalkOptions(seed=3))
    assert np.array_equal(plan.blink, again.blink) and np.array_equal(plan.angle, again.angle)
    assert plan.blink.max() == pytest.approx(1, abs=0.05) and np.abs(plan.angle).max() > 0
    assert np.array_equal(plan.gaze, again.gaze) and np.abs(plan.gaze).max() > 0.05  # a glance
    assert plan_talk(clip, checkpoint, Fraction(25), 200, TalkOptions(idle=False)).gaze is None


def test_replace_mouth_keeps_head_motion_outside_the_mouth_subspace():
    generator = torch.Generator().manual_seed(0)
    kp = TorchBackend(create_model("tiny-64", seed=0), "cpu").detect(
        np.stack(synthetic_frames(3, (64, 64))))
    source, head = kp[0], kp[1:]
    speech = 0.01 * torch.randn(2, 24, generator=generator)
    nothing = replace_mouth(source, head, speech, torch.zeros(24, 24))
    assert torch.allclose(nothing.value, head.value, atol=1e-5)
    everything = replace_mouth(source, head, speech, torch.eye(24))
    assert torch.allclose(motion_between(everything, source).flat(), speech, atol=1e-5)


def test_driving_video_gives_the_head_motion(tmp_path, models, photo, caplog):
    driving = tmp_path / "driving.mp4"
    with VideoWriter(driving, 25, 64, 64) as writer:
        for frame in synthetic_frames(10, (64, 64)):
            writer.write(frame)
    speech = write_speech(tmp_path / "speech.wav", 0.8)
    out = tmp_path / "out.mp4"
    assert run(["--source", photo, "--audio", speech, "--driving", driving, "-o", out,
                "--checkpoint", models[0], "--audio-checkpoint", models[1], "--crop", "none"],
               caplog) == 0
    assert probe_video(out).num_frames == 20  # the speech's length: the driving video pingpongs


@pytest.mark.parametrize("content, message", [
    (None, "the audio is empty (0 s)"),
    (b"\x00garbage" * 100, "not an audio or video file"),
])
def test_bad_audio_is_one_line_exit_2_no_output(tmp_path, models, photo, caplog, content, message):
    from reenact.io.audio import AudioClip, write_wav

    bad = tmp_path / "bad.wav"
    if content is None:
        write_wav(bad, AudioClip(np.zeros(0, np.float32), 16000))
    else:
        bad.write_bytes(content)
    before = set(tmp_path.iterdir())
    assert run(["--source", photo, "--audio", bad, "-o", tmp_path / "out.mp4", "--checkpoint",
                models[0], "--audio-checkpoint", models[1], "--crop", "none"], caplog) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and message in errors[0].getMessage() and "\n" not in errors[0].getMessage()
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("render", ["full", "crop"])
def test_talk_renders_into_the_photo_and_leaves_the_rest_alone(tmp_path, models, render):
    from reenact.checkpoint.audio_format import load_audio_checkpoint
    from reenact.io import read_image
    from reenact.pipelines.driving_track import prepare_source
    from reenact.pipelines.talk import talk_frames
    from reenact.preprocess.face import create_face_analyzer

    checkpoint = load_audio_checkpoint(models[1])
    clip = load_audio(write_speech(tmp_path / "speech.wav", 0.4), 16000)
    options = TalkOptions(render=render)
    plan = plan_talk(clip, checkpoint, Fraction(25), 10, options)
    backend = TorchBackend(create_model("tiny-64", seed=0), "cpu")
    image = np.asarray(read_image(require(PORTRAIT)))
    source = prepare_source(image, backend.image_size, options.animate_options(),
                            create_face_analyzer())
    x0, y0, x1, y1 = (int(v) for v in source.box.bounds)
    outside = np.ones(source.image.shape[:2], dtype=bool)
    outside[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = False
    frames = list(talk_frames(source, plan, backend, checkpoint, options))
    assert len(frames) == 10
    for frame in frames:
        assert frame.shape == source.image.shape
        assert np.array_equal(frame[outside], source.image[outside])
    assert any(not np.array_equal(frame, source.image) for frame in frames)


class DrawnFaceAnalyzer:
    """The drawn face's own landmarks, wherever it is asked."""

    def __init__(self, landmarks: np.ndarray) -> None:
        self.landmarks = landmarks

    def detect(self, image: np.ndarray) -> list:
        from reenact.preprocess.face import Face

        x0, y0 = self.landmarks.min(axis=0)
        x1, y1 = self.landmarks.max(axis=0)
        return [Face((float(x0), float(y0), float(x1), float(y1)), 1.0, self.landmarks)]


@pytest.fixture
def drawn_talk(tmp_path):
    """A face-anchored tiny model, an audio model that drives the mouth's opening (0.2
    interocular distances in frames 5-19 of 1.2 s of speech), a drawn face with a closed mouth,
    its landmarks, and the speech clip."""
    import dataclasses

    from face_images import drawn_face

    motion = create_model("tiny-face-64", seed=0)
    checkpoint = dataclasses.replace(tiny_audio_checkpoint(motion, scale=40.0),
                                     metadata={"mouth_output": "open"})
    image, landmarks = drawn_face(160, mouth_open=0.02, interior=False)
    clip = load_audio(write_speech(tmp_path / "speech.wav", 1.2), 16000)
    return TorchBackend(motion, "cpu"), checkpoint, image, landmarks, clip


def render_both_mouths(drawn_talk, count: int, render) -> dict[str, list[np.ndarray]]:
    """mouth -> the frames `render(source, plan, options)` gives with that mouth."""
    from reenact.pipelines.driving_track import prepare_source

    backend, checkpoint, image, landmarks, clip = drawn_talk
    frames = {}
    for mouth in ("drawn", "model"):
        options = TalkOptions(mouth=mouth, idle=False)
        plan = plan_talk(clip, checkpoint, Fraction(25), count, options)
        source = prepare_source(image, backend.image_size, options.animate_options(),
                                DrawnFaceAnalyzer(landmarks))
        frames[mouth] = list(render(source, plan, options))
    return frames


def assert_only_the_lower_face_differs(frames: dict, landmarks: np.ndarray) -> None:
    """The drawn mouth shows a dark inside while the speech opens it (frames 8-15 loud; the
    model's random-weight mouth shows none), the photo's own closed lips in silence, and nothing
    different above the mouth's reach."""
    from face_images import MOUTH

    above = int(landmarks[33, 1]) - 16  # the lower-face mask reaches no higher

    def dark(frame):
        return int((np.abs(frame.astype(int) - MOUTH).sum(axis=-1) < 90).sum())

    for index, (drawn, model) in enumerate(zip(frames["drawn"], frames["model"], strict=True)):
        assert np.array_equal(drawn[:above], model[:above])
        assert dark(model) == 0
        if 8 <= index <= 15:  # the speech at full voice (its onset and decay, and the gate's
            assert dark(drawn) > 20, index  # hold, are quieter: they open less, `loudness_factor`)
        elif index < 4 or index > 21:
            assert dark(drawn) == 0, index


def test_the_drawn_mouth_changes_only_the_lower_face(drawn_talk):
    from reenact.pipelines.talk import talk_frames

    backend, checkpoint, *_ = drawn_talk
    frames = render_both_mouths(drawn_talk, 25, lambda source, plan, options: talk_frames(
        source, plan, backend, checkpoint, options))
    assert_only_the_lower_face_differs(frames, drawn_talk[3])


def test_the_drawn_mouth_follows_a_driving_video_too(drawn_talk):
    from reenact.pipelines.talk import driven_talk_frames

    backend, checkpoint, image, landmarks, _ = drawn_talk
    frames = render_both_mouths(drawn_talk, 25, lambda source, plan, options: driven_talk_frames(
        source, plan, iter([image] * 25),  # the portrait itself, still: the head stays put
        [source.box] * 25, backend, checkpoint, options, [landmarks] * 25))
    assert_only_the_lower_face_differs(frames, landmarks)


def test_an_unknown_mouth_mode_is_named():
    with pytest.raises(ValueError, match="mouth: expected one of drawn, model"):
        TalkOptions(mouth="painted")


def test_idle_glances_reach_the_compositor_only_with_eyes_landmarks(drawn_talk, monkeypatch):
    import dataclasses

    from reenact.pipelines.driving_track import prepare_source
    from reenact.pipelines.talk import talk_frames
    from reenact.postprocess.full_res import FullResCompositor

    backend, checkpoint, image, landmarks, clip = drawn_talk
    asked = []
    composite = FullResCompositor.composite

    def recording(self, *args, **kwargs):
        asked.append(kwargs.get("gaze", args[5] if len(args) > 5 else 0.0))
        return composite(self, *args, **kwargs)

    monkeypatch.setattr(FullResCompositor, "composite", recording)
    glance = np.r_[np.zeros(4), np.full(4, 0.2)]
    for eyes, expected in (("landmarks", glance), ("lids", np.zeros(8))):
        asked.clear()
        options = TalkOptions(eyes=eyes, idle=False)
        plan = dataclasses.replace(plan_talk(clip, checkpoint, Fraction(25), 8, options), gaze=glance)
        source = prepare_source(image, backend.image_size, options.animate_options(),
                                DrawnFaceAnalyzer(landmarks))
        list(talk_frames(source, plan, backend, checkpoint, options))
        np.testing.assert_allclose(asked, expected)
