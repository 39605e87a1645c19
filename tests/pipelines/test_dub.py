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
from reenact.pipelines.reference_mouth import (
    DRAWN_REGION,
    SHUT_BLEND_OPENING,
    draw_mouths,
    reference_frame_index,
    smoothed_landmarks,
)
from reenact.preprocess.expressions import mouth_opening
from reenact.postprocess.mouth_mask import lower_face_mask
from reenact.postprocess.mouth_warp import MouthWarp
from reenact.smoothing import gaussian_smooth

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


def opening_frames(openings: list[float], no_face: set[int] = frozenset()) -> list[np.ndarray]:
    """synthetic_frames whose FakeAnalyzer mouth opening is `openings` (rows 0-7 past column 16)."""
    frames = synthetic_frames(len(openings), no_face=no_face)
    for frame, opening in zip(frames, openings, strict=True):
        frame[:8, 16:] = round(opening / 0.4 * 255)
    return frames


@pytest.mark.parametrize("mouth", ["reference", "model"])
def test_only_the_lower_face_changes_and_faceless_frames_pass_through(backend, checkpoint, mouth):
    frames = opening_frames([0.0, 0.1, 0.0, 0.3, 0.0, 0.05], no_face={2, 4})
    options = DubOptions(mouth=mouth)
    faces = analyze_video(lambda: iter(frames), 25, backend, FakeAnalyzer(BOX), options, "test")
    assert faces.track.found.tolist() == [True, True, False, True, False, True]
    speech = np.random.default_rng(0).normal(0, 0.05, (6, 24)).astype(np.float32)
    speech += 0.4 * checkpoint.directions.vector("mouth_open").numpy()  # open wide
    indices = np.arange(6)
    out = list(dub_frames(iter(frames), indices, faces, speech, backend, checkpoint, options))
    for index, (before, after) in enumerate(zip(frames, out, strict=True)):
        if index in (2, 4):
            assert after is before or np.array_equal(after, before)
            continue
        box = faces.track.boxes[index]
        brows = faces.track.landmarks[index][17:27, 1].mean()
        changed = np.abs(after.astype(int) - before).max(axis=-1) > 0
        assert changed.any()
        if mouth == "reference":  # the lower face, grown by the mask's margin, and nothing else
            ys, xs = np.nonzero(changed)
            jaw = faces.track.landmarks[index][2:15]
            grow = (0.05 + 3 * 0.02) * box.side + 1  # dilation + feather (3 sigma)
            nose_base = faces.track.landmarks[index][31:36, 1].min()
            assert ys.min() > max(brows, nose_base - grow)  # not the cheeks up to the eyes
            assert ys.max() < jaw[:, 1].max() + 0.3 * box.side
            assert jaw[:, 0].min() - grow <= xs.min() and xs.max() <= jaw[:, 0].max() + grow
            continue
        mask = lower_face_mask(faces.track.landmarks[index], box, 64)
        support = np.zeros(before.shape[:2], bool)  # image pixels the mask can reach
        ys, xs = np.nonzero(mask > 0)
        corners = box.crop_to_image(np.stack([[xs.min(), ys.min()], [xs.max() + 1, ys.max() + 1]]), 64)
        x0, y0 = np.floor(corners[0]).astype(int) - 2
        x1, y1 = np.ceil(corners[1]).astype(int) + 2
        support[max(y0, 0):y1, max(x0, 0):x1] = True
        assert np.array_equal(after[~support], before[~support])
        assert not np.array_equal(after[support], before[support])
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


@pytest.mark.parametrize("mouth", ["reference", "model"])
def test_real_talking_video_cli(tmp_path, motion, checkpoint, caplog, mouth):
    video = require(MEDIA / "talking" / "grid_lbax4n.mpg")
    save_checkpoint(motion, tmp_path / "motion")
    save_audio_checkpoint(checkpoint, tmp_path / "audio")
    speech = write_speech(tmp_path / "speech.wav", 0.6)
    out = tmp_path / "out.mp4"
    caplog.set_level(logging.INFO)
    assert main(["dub", "-q", *map(str, ["--video", video, "--audio", speech, "-o", out,
                 "--checkpoint", tmp_path / "motion", "--audio-checkpoint", tmp_path / "audio",
                 "--mouth", mouth])]) == 0
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
    assert manifest["options"]["mouth"] == mouth
    if mouth == "reference":  # no motion model ran, and the record does not claim one
        assert manifest["model"]["name"].startswith("none") and "sha256" not in manifest["model"]
    else:
        assert manifest["model"]["name"] == "motion" and "sha256" in manifest["model"]


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


@pytest.mark.parametrize("extra, message", [
    (["--transcript", "missing.txt"], "missing.txt: transcript not found"),
    (["--transcript", "script.txt", "--no-phones"], "which are off (--no-phones)"),
    (["--transcript", "cyrillic.txt"], "cannot spell 'привет' in English phones"),
])
def test_a_transcript_that_cannot_be_used_exits_2_without_output(tmp_path, caplog, extra,
                                                                  message):
    video = tmp_path / "video.mp4"
    with VideoWriter(video, 25, 128, 96) as writer:
        writer.write(synthetic_frames(1)[0])
    speech = write_speech(tmp_path / "speech.wav", 0.5)
    (tmp_path / "script.txt").write_text("bin blue")
    (tmp_path / "cyrillic.txt").write_text("bin привет")
    before = sorted(p.name for p in tmp_path.iterdir())
    caplog.set_level(logging.INFO)
    extra = [str(tmp_path / item) if item.endswith(".txt") else item for item in extra]
    assert main(["dub", "-q", *map(str, ["--video", video, "--audio", speech, "-o",
                                         tmp_path / "out.mp4"]), *extra]) == 2
    assert message in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("mouth_source", ["rest", "frame"])
def test_the_lower_face_is_rendered_from_the_rest_frame(backend, checkpoint, monkeypatch,
                                                        mouth_source):
    """"rest": one source, the crop of the closed-mouth frame nearest the rest face, for every
    frame; "frame": each frame's own crop."""
    frames = synthetic_frames(6, no_face={4})
    options = DubOptions(mouth="model", mouth_source=mouth_source)
    faces = analyze_video(lambda: iter(frames), 25, backend, FakeAnalyzer(BOX), options, "test")
    assert faces.rest_index is not None and faces.track.found[faces.rest_index]
    assert faces.rest_crop.shape == (64, 64, 3)
    encoded = []
    encode = backend.encode_source
    monkeypatch.setattr(backend, "encode_source", lambda crop: encoded.append(crop) or encode(crop))
    speech = np.zeros((6, 24), np.float32)
    out = list(dub_frames(iter(frames), np.arange(6), faces, speech, backend, checkpoint, options))
    assert len(out) == 6
    if mouth_source == "rest":
        assert len(encoded) == 1 and np.array_equal(encoded[0], faces.rest_crop)
    else:
        assert len(encoded) == 5  # every frame with a face


def test_own_motion_is_low_passed_without_lag(backend):
    frames = synthetic_frames(12)
    options = DubOptions(mouth="model")
    faces = analyze_video(lambda: iter(frames), 25, backend, FakeAnalyzer(BOX), options, "t")
    raw = faces.motion()
    smooth = faces.motion(0.12)  # seconds: 3 frames at the video's 25 fps
    assert smooth.shape == raw.shape
    assert torch.allclose(smooth, torch.from_numpy(gaussian_smooth(raw.numpy(), 3.0)))
    assert smooth.std(dim=0).sum() < raw.std(dim=0).sum()


def test_gaussian_smooth():
    impulse = np.zeros((21, 2))
    impulse[10] = 1.0
    out = gaussian_smooth(impulse, 2.0)
    assert np.argmax(out[:, 0]) == 10 and np.allclose(out[::-1], out)  # centred: no lag
    assert out[:, 0].sum() == pytest.approx(1.0)
    assert out[12, 0] / out[10, 0] == pytest.approx(np.exp(-0.5), rel=1e-6)
    assert np.allclose(gaussian_smooth(np.full((5, 3), 7.0), 4.0), 7.0)  # ends held
    assert np.array_equal(gaussian_smooth(impulse, 0), impulse)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_smooth(impulse, -1)


def test_the_reference_frame_is_an_open_mouth_in_the_rest_pose():
    frames = opening_frames([0.3, 0.0, 0.05, 0.4, 0.02, 0.1, 0.0, 0.4])
    faces = analyze_video(lambda: iter(frames), 25, None, FakeAnalyzer(BOX), DubOptions(), "t")
    assert faces.reference_index in (3, 7)
    assert np.array_equal(faces.reference_frame, frames[faces.reference_index])
    assert faces.rest_index in (1, 6) and np.array_equal(faces.rest_frame, frames[faces.rest_index])
    landmarks = faces.track.landmark_array().copy()
    opening = mouth_opening(landmarks)
    landmarks[7] = landmarks[7] * 1.1 + 4  # moved and scaled: the same pose
    assert reference_frame_index(landmarks, opening, faces.rest_index, quantile=0.8) in (3, 7)
    landmarks[7, :, 0] = 0.7 * landmarks[7, :, 0] + 20  # narrower: a head turned away
    opening[0] = 0.45  # the most open, turned away too
    landmarks[0, :, 0] = 0.7 * landmarks[0, :, 0] + 20
    assert reference_frame_index(landmarks, opening, faces.rest_index, quantile=0.8) == 3
    opening[5] = np.nan  # no face
    assert reference_frame_index(landmarks, opening, faces.rest_index, quantile=0.8) == 3
    assert DubOptions().mouth == "reference"
    assert faces.rest_index != faces.reference_index


def test_a_video_whose_mouth_never_opens_gets_a_painted_inside(caplog, checkpoint):
    caplog.set_level(logging.INFO)
    frames = opening_frames([0.0, 0.02, 0.05, 0.01])
    faces = analyze_video(lambda: iter(frames), 25, None, FakeAnalyzer(BOX), DubOptions(), "clip")
    assert faces.reference_index == 2
    assert "clip: the mouth opens at most 0.05 interocular distances in this video: its inside" \
        in caplog.text
    fitted = checkpoint.directions.vector("mouth_open").numpy()
    speech = np.outer([0.0, 0.0, 0.0, 0.8], fitted).astype(np.float32)
    out = list(dub_frames(iter(frames), np.arange(4), faces, speech, None, checkpoint,
                          DubOptions(), np.ones(4, np.float32)))
    lips = faces.track.landmarks[3][48:68]
    (x0, y0), (x1, y1) = lips.min(axis=0).astype(int), lips.max(axis=0).astype(int) + 1
    region = (slice(y0, y1 + 10), slice(x0, x1))
    luma = lambda image: image[region].astype(float) @ (0.299, 0.587, 0.114)  # noqa: E731
    # a cavity the video never had: darker than anything there (its back at ~0.5 of the lips'
    # colour, `InteriorStyle.cavity`; the lips, the region's darkest, at 1)
    assert luma(out[3]).min() < 0.75 * luma(frames[3]).min()


def test_reference_mouth_closes_in_silence_and_opens_with_speech(backend, checkpoint):
    frames = opening_frames([0.0, 0.3, 0.0, 0.3, 0.1, 0.3])  # the old speech opens on odd frames
    faces = analyze_video(lambda: iter(frames), 25, None, FakeAnalyzer(BOX), DubOptions(), "t")
    fitted = checkpoint.directions.vector("mouth_open").numpy()
    speech = np.outer([0.0, 0.0, 0.0, 0.6, 0.6, 0.6], fitted).astype(np.float32)
    gate = np.array([0, 0, 0, 1, 1, 1], np.float32)
    out = list(dub_frames(iter(frames), np.arange(6), faces, speech, None, checkpoint,
                          DubOptions(), gate))
    mouth = faces.track.landmarks[0][[62, 66]].mean(axis=0).round().astype(int)
    # the drawn mouth: the video's rest (closed) mouth in silence whatever the old speech did,
    # the reference's open one in speech
    centre = (slice(mouth[1] - 1, mouth[1] + 2), slice(mouth[0] - 1, mouth[0] + 2))
    assert np.abs(out[1][centre].astype(int) - out[0][centre]).max() <= 2
    assert not np.array_equal(out[1][centre], frames[1][centre])
    assert np.abs(out[3][centre].astype(int) - out[0][centre]).max() > 0


def test_a_shut_mouth_is_drawn_from_the_rest_frames_closed_mouth():
    """The reference's open mouth squeezed shut keeps a dark line between the lips; a closure is
    drawn from the rest frame instead, blended into the reference up to SHUT_BLEND_OPENING."""
    frames = opening_frames([0.0, 0.0, 0.0, 0.0, 0.3])
    faces = analyze_video(lambda: iter(frames), 25, None, FakeAnalyzer(BOX), DubOptions(), "t")
    rest = faces.rest_frame.copy()
    rest[..., 2] = 255  # a blue rest frame: its pixels are told apart from the reference's
    openings = np.array([0.0, SHUT_BLEND_OPENING / 2, SHUT_BLEND_OPENING, 0.2])

    def draw(rest_frame):
        return list(draw_mouths(iter(frames[:4]), np.arange(4), faces.track, openings,
                                rest_index=faces.rest_index,
                                reference_index=faces.reference_index,
                                reference_frame=faces.reference_frame, grow=0.05, feather=0.02,
                                rest_frame=rest_frame))

    with_rest, reference_only = draw(rest), draw(None)
    assert np.array_equal(with_rest[2], reference_only[2])  # open enough: the reference alone
    assert np.array_equal(with_rest[3], reference_only[3])
    blue = [float(a[..., 2].astype(int).sum() - b[..., 2].astype(int).sum())
            for a, b in zip(with_rest, reference_only)]
    assert blue[0] > 0  # shut: the rest frame's mouth
    assert 0.3 * blue[0] < blue[1] < 0.7 * blue[0]  # half way: half of it (same face, same pose)


def test_the_drawn_region_leaves_the_outer_cheeks():
    """A reference in another pose than the frame drew its own outer cheeks (a glasses' rim and
    all) beside the nose; what dub draws is the jaw below them, the nose's base and the lips."""
    from face_images import drawn_face

    reference, landmarks = drawn_face(160, mouth_open=0.4)
    frame, _ = drawn_face(160, mouth_open=0.0, interior=False, seed=1)  # other skin texture
    warp = MouthWarp(reference, landmarks)

    def changed(region):
        kwargs = {} if region is None else {"region": region}
        out = warp.render(frame, landmarks, frame_landmarks=landmarks, grow=2.0, feather=1.0,
                          **kwargs)
        return np.abs(out.astype(int) - frame).max(axis=-1) > 0

    drawn, before = changed(DRAWN_REGION), changed(None)
    for cheek in landmarks[[2, 14]].astype(int):  # 12 px from the drawn hull, 7 px of margin
        patch = (slice(cheek[1] - 1, cheek[1] + 2), slice(cheek[0] - 1, cheek[0] + 2))
        assert not drawn[patch].any() and before[patch].any()
    assert drawn[int(landmarks[57, 1]), int(landmarks[57, 0])]  # the mouth is drawn


def test_smoothed_landmarks_low_pass_each_run_of_faces():
    frames = synthetic_frames(7, no_face={3})
    faces = analyze_video(lambda: iter(frames), 25, None, FakeAnalyzer(BOX), DubOptions(), "t")
    raw = faces.track.landmark_array()
    smooth = smoothed_landmarks(faces.track, 1.0)
    assert np.isnan(smooth[3]).all() and np.isfinite(smooth[[0, 1, 2, 4, 5, 6]]).all()
    np.testing.assert_allclose(smooth[:3], gaussian_smooth(raw[:3], 1.0))
    np.testing.assert_allclose(smooth[4:], gaussian_smooth(raw[4:], 1.0))


@pytest.mark.parametrize(("key", "value"), [("mouth_source", "lips"), ("motion_smoothing", -1),
                                            ("mouth", "teeth")])
def test_dub_options_are_checked(key, value):
    with pytest.raises(ValueError, match=key):
        DubOptions(**{key: value})
