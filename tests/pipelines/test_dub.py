"""dub: only the lower face changes, faceless frames pass through, length policies, real video."""

import logging

import av
import numpy as np
import pytest
import torch
from conftest import MEDIA, require
from speech_fixtures import (
    FakeAnalyzer,
    synthetic_frames,
    tiny_audio_checkpoint,
    write_speech,
)

from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.checkpoint.audio_format import save_audio_checkpoint
from reenact.cli import main
from reenact.engine import TorchBackend
from reenact.io import VideoWriter, probe_video
from reenact.motion import replace_subspace
from reenact.pipelines.dub import DubOptions, analyze_video, dub, dub_frames
from reenact.postprocess.mouth_mask import lower_face_mask

BOX = (40.0, 20.0, 88.0, 76.0)  # the fake analyzer's face in 96x128 frames


@pytest.fixture(scope="module")
def motion():
    return create_model("tiny-64", seed=0)


@pytest.fixture(scope="module")
def backend(motion):
    return TorchBackend(motion, device="cpu")


@pytest.fixture(scope="module")
def checkpoint(motion):
    return tiny_audio_checkpoint(motion, scale=0.05)


def test_only_the_lower_face_changes_and_faceless_frames_pass_through(backend, checkpoint):
    frames = synthetic_frames(6, no_face={2, 4})
    faces = analyze_video(lambda: iter(frames), 25, backend, FakeAnalyzer(BOX), DubOptions(), "test")
    assert faces.track.found.tolist() == [True, True, False, True, False, True]
    speech = np.random.default_rng(0).normal(0, 0.05, (6, 24)).astype(np.float32)
    indices = np.arange(6)
    out = list(dub_frames(iter(frames), indices, faces, speech, backend, checkpoint, DubOptions()))
    for index, (before, after) in enumerate(zip(frames, out, strict=True)):
        if index in (2, 4):
            assert after is before or np.array_equal(after, before)
            continue
        box = faces.track.boxes[index]
        mask = lower_face_mask(faces.track.landmarks[index], box, 64)
        support = np.zeros(before.shape[:2], bool)  # image pixels the mask can reach
        ys, xs = np.nonzero(mask > 0)
        corners = box.crop_to_image(np.stack([[xs.min(), ys.min()], [xs.max() + 1, ys.max() + 1]]), 64)
        x0, y0 = np.floor(corners[0]).astype(int) - 2
        x1, y1 = np.ceil(corners[1]).astype(int) + 2
        support[max(y0, 0):y1, max(x0, 0):x1] = True
        assert np.array_equal(after[~support], before[~support])
        assert not np.array_equal(after[support], before[support])
        brows = faces.track.landmarks[index][17:27, 1].mean()
        assert y0 > brows  # the upper face stays untouched


def test_zero_speech_motion_on_the_rest_face_is_identity_motion(backend, checkpoint):
    own = torch.randn(3, 24)
    projector = checkpoint.directions.projector(("mouth_open", "mouth_width"))
    replaced = replace_subspace(own, own, projector)
    assert torch.allclose(replaced, own)
    outside = own - own @ projector.T  # nothing in the mouth subspace: speech replaces nothing else
    assert torch.allclose(replace_subspace(outside, torch.zeros(3, 24), projector), outside, atol=1e-5)


@pytest.mark.parametrize("policy, seconds, expected", [
    ("pingpong", 0.4, 10), ("trim", 0.4, 6), ("pad", 0.12, 6), ("trim", 0.12, 3)])
def test_length_policies(tmp_path, backend, checkpoint, policy, seconds, expected):
    video = tmp_path / "video.mp4"
    with VideoWriter(video, 25, 128, 96) as writer:
        for frame in synthetic_frames(6, no_face={5}):
            writer.write(frame)
    speech = write_speech(tmp_path / "speech.wav", seconds, lead=0.05, tail=0.05)
    out = tmp_path / "out.mp4"
    result = dub(video, speech, out, backend=backend, checkpoint=checkpoint,
                 options=DubOptions(length_policy=policy), analyzer=FakeAnalyzer(BOX), progress=False)
    info = probe_video(out)
    assert result.num_frames == info.num_frames == expected and info.has_audio
    assert info.fps == 25 and (info.width, info.height) == (128, 96)


def test_video_without_any_face_is_kept_with_the_new_audio(tmp_path, backend, checkpoint, caplog):
    video = tmp_path / "video.mp4"
    with VideoWriter(video, 25, 128, 96) as writer:
        for frame in synthetic_frames(5, no_face=set(range(5))):
            writer.write(frame)
    caplog.set_level(logging.WARNING)
    result = dub(video, write_speech(tmp_path / "s.wav", 0.2), tmp_path / "out.mp4", backend=backend,
                 checkpoint=checkpoint, analyzer=FakeAnalyzer(BOX), progress=False)
    assert result.faces == 0 and "no face in any frame" in caplog.text


def test_real_talking_video_cli(tmp_path, motion, checkpoint, caplog):
    video = require(MEDIA / "talking" / "grid_lbax4n.mpg")
    save_checkpoint(motion, tmp_path / "motion")
    save_audio_checkpoint(checkpoint, tmp_path / "audio")
    speech = write_speech(tmp_path / "speech.wav", 0.6)
    out = tmp_path / "out.mp4"
    caplog.set_level(logging.INFO)
    assert main(["dub", "-q", *map(str, ["--video", video, "--audio", speech, "-o", out,
                 "--checkpoint", tmp_path / "motion", "--audio-checkpoint", tmp_path / "audio"])]) == 0
    info = probe_video(out)
    assert info.num_frames == 15 and (info.width, info.height) == (360, 288) and info.has_audio
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == 16000

    from reenact.io.digest import file_sha256
    from reenact.provenance import read_manifest, verify_file

    result = verify_file(out)  # every frame is marked, also the ones outside the mouth change
    assert result.marked and result.output_matches
    manifest = read_manifest(out)
    assert {item["role"]: item["sha256"] for item in manifest["inputs"]} == {
        "video": file_sha256(video), "audio": file_sha256(speech)}
    assert manifest["model"]["audio_name"] == "audio"
    assert manifest["options"]["length_policy"] == "pingpong"


def test_unreadable_audio_exits_2_without_output(tmp_path, caplog):
    video = tmp_path / "video.mp4"
    with VideoWriter(video, 25, 128, 96) as writer:
        writer.write(synthetic_frames(1)[0])
    bad = tmp_path / "speech.mp3"
    bad.write_text("not audio")
    caplog.set_level(logging.INFO)
    assert main(["dub", "-q", *map(str, ["--video", video, "--audio", bad, "-o",
                                         tmp_path / "out.mp4"])]) == 2
    assert "speech.mp3: not an audio or video file" in caplog.text
    assert not (tmp_path / "out.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.mp3", "video.mp4"]
