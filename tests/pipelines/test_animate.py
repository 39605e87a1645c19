"""animate end to end on real media (random-weight tiny model), and every bad input."""

import dataclasses
import logging
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from conftest import MEDIA, make_clip, require, write_image, write_video
from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.cli import main
from reenact.engine import TorchBackend
from reenact.io import VideoReader, probe_video, read_image
from reenact.pipelines.animate import animate, animate_frames
from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.driving_track import DrivingTrack, prepare_source
from reenact.preprocess.crop import CropBox
from reenact.preprocess.face import create_face_analyzer
from reenact.provenance.record import Provenance
from reenact.provenance.writers import MarkedVideoWriter

PORTRAIT = MEDIA / "portraits" / "woman_smiling.png"  # 256x256
DRIVING_AUDIO = MEDIA / "driving" / "lp_d12.mp4"  # 512x512, 25 fps, with audio
DRIVING_TALL = MEDIA / "driving" / "lp_d13.mp4"  # 720x1280 uncropped, 30 fps, no audio


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(create_model("tiny-64", seed=0), path)
    return path


@pytest.fixture(scope="module")
def backend():
    return TorchBackend(create_model("tiny-64", seed=0), device="cpu")


def decode(path):
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames)


def run(args, caplog):
    caplog.set_level(logging.INFO)
    return main(["animate", "-q", *map(str, args)])


def test_tall_uncropped_driving_pasted_into_the_source(tmp_path, checkpoint, caplog):
    source = require(MEDIA / "portraits" / "monalisa.jpg")  # 720x1280
    out = tmp_path / "out.mp4"
    assert run(["--source", source, "--driving", require(DRIVING_TALL), "-o", out,
                "--checkpoint", checkpoint, "--max-frames", 24], caplog) == 0
    info = probe_video(out)
    assert (info.width, info.height) == (720, 1280)
    assert info.num_frames == 24 and info.fps == Fraction(30)
    assert info.duration_s == pytest.approx(24 / 30, abs=0.05)
    assert not info.has_audio  # the driving video has none


def test_audio_fps_duration_carried(tmp_path, checkpoint, caplog):
    out = tmp_path / "out.mp4"
    assert run(["--source", require(PORTRAIT), "--driving", require(DRIVING_AUDIO), "-o", out,
                "--checkpoint", checkpoint, "--max-frames", 50], caplog) == 0
    info = probe_video(out)
    assert info.num_frames == 50 and info.fps == Fraction(25) and info.has_audio
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        audio_seconds = float(audio.duration * audio.time_base)
    assert audio_seconds == pytest.approx(2.0, abs=0.05)


def test_whole_video_frame_count(tmp_path, checkpoint, caplog):
    driving = require(MEDIA / "driving" / "lp_d0.mp4")  # 78 frames
    out = tmp_path / "out.mp4"
    assert run(["--source", require(PORTRAIT), "--driving", driving, "-o", out, "--checkpoint",
                checkpoint, "--crop-only", "--batch-size", 16], caplog) == 0
    info = probe_video(out)
    assert info.num_frames == probe_video(driving).num_frames == 78
    assert (info.width, info.height) == (64, 64)


@pytest.fixture(scope="module")
def girl_painting():
    """The source prepared for a 64 px model, and the pixels outside its crop box."""
    image = read_image(require(MEDIA / "portraits" / "girl_painting.jpg"))
    source = prepare_source(image, 64, AnimateOptions(), create_face_analyzer("dlib"))
    return source, outside_of_box(source)


def outside_of_box(source, margin=0.0):
    """The pixels of the source image beyond its crop box grown by `margin` of its side."""
    outside = np.ones(source.image.shape[:2], dtype=bool)
    grow = margin * source.box.side
    x0, y0 = (int(np.floor(v - grow)) for v in source.box.bounds[:2])
    x1, y1 = (int(np.floor(v + grow)) for v in source.box.bounds[2:])
    outside[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = False
    assert outside.mean() > 0.3
    return outside


def still_driving(count):
    """One driving frame, repeated; its crop box."""
    with VideoReader(require(DRIVING_AUDIO)) as reader:
        frame = next(iter(reader))
    return [frame] * count, DrivingTrack(boxes=[CropBox(256, 256, 400)] * count)


@pytest.mark.parametrize("render", ["full", "crop"])
def test_paste_back_leaves_outside_of_face_unchanged(backend, girl_painting, render):
    source, outside = girl_painting
    frames, track = still_driving(6)
    options = AnimateOptions(max_frames=6, render=render, relative=False)  # absolute: it moves
    rendered = list(animate_frames(source, frames, track, backend, options))
    assert len(rendered) == 6
    for frame in rendered:
        assert frame.shape == source.image.shape
        assert np.array_equal(frame[outside], source.image[outside])
        assert not np.array_equal(frame[~outside], source.image[~outside])


def test_full_resolution_at_zero_motion_is_the_photo(backend, girl_painting):
    """Relative motion of a still driving video is none: the photo comes back (the face hull is
    pasted, re-sampled at its own pixel positions)."""
    source, _ = girl_painting
    frames, track = still_driving(3)
    for frame in animate_frames(source, frames, track, backend, AnimateOptions()):
        assert np.abs(frame.astype(int) - source.image).max() <= 1


def test_paste_back_into_the_video_leaves_outside_of_face_unchanged(backend, girl_painting, tmp_path):
    """After H.264 encoding, pixels away from the face (beyond the crop box and a quarter of its
    side around it, within which this run's moved head box fades out) differ from the photo by no
    more than the photo itself does when it is written, unchanged, through the same marked writer
    with the same run id: compression error plus the invisible watermark every written frame
    carries. (An absolute bound drifted with the run id the watermark carries: 2.45-2.62 grey
    levels.)"""
    source, _ = girl_painting
    outside = outside_of_box(source, margin=0.25)
    options = AnimateOptions(max_frames=6)
    out = tmp_path / "paste.mp4"
    info = animate(MEDIA / "portraits" / "girl_painting.jpg", DRIVING_AUDIO, out, backend=backend,
                   options=options, progress=False)
    still = tmp_path / "still.mp4"
    height, width = source.image.shape[:2]
    same_mark = dataclasses.replace(Provenance.new(), run_id=info.run_id)  # the same payload
    with MarkedVideoWriter(still, info.fps, width, height, provenance=same_mark) as writer:
        for _ in range(info.num_frames):
            writer.write(source.image)
    decoded = decode(out).astype(np.int16)
    assert decoded.shape[1:3] == source.image.shape[:2]
    difference = np.abs(decoded - source.image.astype(np.int16))[:, outside].mean()
    unchanged = np.abs(decode(still).astype(np.int16) - source.image.astype(np.int16))[:, outside]
    assert difference < unchanged.mean() + 0.1  # measured: within 0.02


def test_find_best_frame_and_absolute_mode(tmp_path, checkpoint, caplog):
    out = tmp_path / "out.mp4"
    assert run(["--source", require(PORTRAIT), "--driving", require(DRIVING_AUDIO), "-o", out,
                "--checkpoint", checkpoint, "--max-frames", 30, "--find-best-frame", "--mode",
                "absolute"], caplog) == 0
    assert "matches the source pose best" in caplog.text
    assert probe_video(out).num_frames == 30


# -- bad inputs: one clear line, exit code 2, no output file -------------------------------------


def expect_error(tmp_path, caplog, args, message, output=None):
    output = output or tmp_path / "out.mp4"
    caplog.clear()
    code = run([*args, "-o", output], caplog)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2
    assert len(errors) == 1 and "\n" not in errors[0]
    assert message in errors[0], errors[0]
    leftovers = [p.name for p in output.parent.iterdir() if p.name.startswith(".") or p == output]
    assert not leftovers and not output.exists()
    return errors[0]


@pytest.fixture
def args(checkpoint):
    return lambda source, driving: ["--source", source, "--driving", driving, "--checkpoint",
                                    checkpoint, "--max-frames", 8]


def test_missing_files(tmp_path, caplog, args):
    expect_error(tmp_path, caplog, args(tmp_path / "nope.png", require(DRIVING_AUDIO)),
                 "nope.png: image not found")
    expect_error(tmp_path, caplog, args(require(PORTRAIT), tmp_path / "nope.mp4"),
                 "nope.mp4: video not found")


def test_not_an_image_and_not_a_video(tmp_path, caplog, args):
    expect_error(tmp_path, caplog, args(require(DRIVING_AUDIO), DRIVING_AUDIO), "not an image")
    expect_error(tmp_path, caplog, args(PORTRAIT, PORTRAIT), "not a video")


def test_truncated_video(tmp_path, caplog, args):
    data = require(DRIVING_AUDIO).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    expect_error(tmp_path, caplog, args(PORTRAIT, tmp_path / "cut.mp4"), "truncated")


def test_zero_frame_video(tmp_path, caplog, args):
    # Matroska keeps a video track without packets; a file needs one packet of some stream to exist
    with av.open(str(tmp_path / "empty.mkv"), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        samples = np.zeros((1, 4096), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)
    picture = write_image(tmp_path / "picture.png")
    expect_error(tmp_path, caplog, args(picture, tmp_path / "empty.mkv"), "the video has no frames")


def test_no_face(tmp_path, caplog, args):
    gradient = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    Image.fromarray(gradient).save(tmp_path / "wall.png")
    driving = write_video(tmp_path / "driving.mp4", make_clip(64, 10, seed=0))
    expect_error(tmp_path, caplog, args(tmp_path / "wall.png", driving),
                 "no face found; if the image is already a face crop, use --crop none")
    out = tmp_path / "ok.mp4"
    assert run([*args(tmp_path / "wall.png", driving), "--crop", "none", "-o", out], caplog) == 0
    assert out.exists()


def test_several_faces_use_the_largest(tmp_path, caplog, args):
    big = Image.open(require(MEDIA / "portraits" / "girl_painting.jpg")).convert("RGB").resize((400, 400))
    small = Image.open(PORTRAIT).convert("RGB").resize((240, 240))
    canvas = Image.new("RGB", (700, 420), "white")
    canvas.paste(big, (0, 10))
    canvas.paste(small, (440, 90))
    canvas.save(tmp_path / "two.png")
    out = tmp_path / "two.mp4"
    assert run([*args(tmp_path / "two.png", DRIVING_AUDIO), "-o", out], caplog) == 0
    assert "2 faces found; animating the largest (choose another with --face-index)" in caplog.text
    expect_error(tmp_path, caplog, [*args(tmp_path / "two.png", DRIVING_AUDIO), "--face-index", "5"],
                 "--face-index 5 asked for, but only 2 face(s) found")


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "P"])
def test_unusual_image_modes_are_converted(tmp_path, caplog, args, mode):
    image = Image.open(require(PORTRAIT)).convert("RGB")
    if mode == "I;16":
        image = Image.fromarray((np.asarray(image.convert("L")).astype(np.uint16) * 257))
    else:
        image = image.convert(mode)
    image.save(tmp_path / "odd.png")
    out = tmp_path / f"{mode.replace(';', '')}.mp4"
    assert run([*args(tmp_path / "odd.png", DRIVING_AUDIO), "-o", out], caplog) == 0
    assert probe_video(out).num_frames == 8


def test_tiny_and_huge_images(tmp_path, caplog, args):
    Image.new("RGB", (40, 30)).save(tmp_path / "tiny.png")
    expect_error(tmp_path, caplog, args(tmp_path / "tiny.png", DRIVING_AUDIO), "40x30")
    Image.new("RGB", (9000, 64)).save(tmp_path / "huge.png")
    expect_error(tmp_path, caplog, args(tmp_path / "huge.png", DRIVING_AUDIO), "9000x64")


def test_output_must_not_be_an_input(tmp_path, caplog, args):
    copy = tmp_path / "drive.mp4"
    copy.write_bytes(require(DRIVING_AUDIO).read_bytes())
    before = copy.read_bytes()
    caplog.clear()
    assert run([*args(PORTRAIT, copy), "-o", copy], caplog) == 2
    assert "overwrite an input" in caplog.text
    assert copy.read_bytes() == before


def test_output_directory_problems(tmp_path, caplog, args):
    caplog.clear()
    assert run([*args(PORTRAIT, DRIVING_AUDIO), "-o", tmp_path / "missing" / "out.mp4"], caplog) == 2
    assert "does not exist" in caplog.text
    (tmp_path / "file").write_text("x")
    caplog.clear()
    assert run([*args(PORTRAIT, DRIVING_AUDIO), "-o", tmp_path / "file" / "out.mp4"], caplog) == 2
    assert not (tmp_path / "file" / "out.mp4").exists()


class _InterruptingBackend:
    """Raises KeyboardInterrupt (Ctrl-C) in the middle of the render."""

    def __init__(self, inner, after):
        self.inner, self.after, self.image_size, self.calls = inner, after, inner.image_size, 0
        self.align_corners, self.has_motion_outputs = inner.align_corners, inner.has_motion_outputs

    def detect(self, frames):
        return self.inner.detect(frames)

    def encode_source(self, image):
        return self.inner.encode_source(image)

    def render(self, source, kp_source, kp_driving):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.inner.render(source, kp_source, kp_driving)

    def render_with_motion(self, source, kp_source, kp_driving):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.inner.render_with_motion(source, kp_source, kp_driving)


def test_interrupt_leaves_no_file(tmp_path, backend):
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        animate(require(PORTRAIT), require(DRIVING_AUDIO), out, backend=_InterruptingBackend(backend, 2),
                options=AnimateOptions(max_frames=40, batch_size=4), progress=False)
    assert list(tmp_path.iterdir()) == []


# -- provenance: the output says it is synthetic ---------------------------------------------------


def test_output_is_marked_with_manifest_and_label(tmp_path, checkpoint, caplog, capsys):
    from reenact.io.digest import file_sha256
    from reenact.provenance import read_manifest, verify_file

    common = ["--source", require(PORTRAIT), "--driving", require(DRIVING_AUDIO), "--checkpoint",
              checkpoint, "--max-frames", 12, "--crop", "none"]
    plain, labelled = tmp_path / "plain.mp4", tmp_path / "labelled.mp4"
    assert run([*common, "-o", plain], caplog) == 0
    assert run([*common, "-o", labelled, "--label", "AI-generated"], caplog) == 0

    result = verify_file(labelled)
    assert result.marked and result.detection.payload.tool_version_text == "0.1.0"
    manifest = read_manifest(labelled)
    assert result.output_matches and manifest["label"] == "AI-generated"
    assert manifest["run_id"][:4] == result.detection.payload.short_run_id
    assert {item["role"]: item["sha256"] for item in manifest["inputs"]} == {
        "source": file_sha256(PORTRAIT), "driving": file_sha256(DRIVING_AUDIO)}
    assert manifest["model"]["name"] == "tiny" and len(manifest["model"]["sha256"]) == 64
    assert manifest["options"]["max_frames"] == 12 and manifest["options"]["crop"] == "none"
    assert main(["verify", str(labelled)]) == 0
    assert "MARKED as synthetic" in capsys.readouterr().out

    # the label is the only large difference, in the bottom-left corner; elsewhere the two runs
    # differ by their watermarks (different run ids) and encoder noise
    difference = np.abs(decode(labelled).astype(int) - decode(plain)).max(axis=3).max(axis=0)
    rows, cols = np.nonzero(difference > 40)
    height, width = difference.shape
    assert len(rows) and rows.min() >= height * 0.75 and cols.max() <= width * 0.75
    assert np.median(difference) <= 8


def test_bad_label_is_refused(tmp_path, caplog, args):
    expect_error(tmp_path, caplog, [*args(PORTRAIT, DRIVING_AUDIO), "--label", "two\nlines"],
                 "label: expected one line of printable text")


def test_render_mode_is_checked():
    with pytest.raises(ValueError, match="render: expected one of full, crop, got 'fast'"):
        AnimateOptions(render="fast")


def zoomed_driving(scales):
    """The still driving frame zoomed about its centre by each of `scales` (a driver leaning in),
    with crop boxes that follow: every crop shows the same face, so only the box moves."""
    frames, _ = still_driving(1)
    image = Image.fromarray(frames[0])
    zoomed, boxes = [], []
    for scale in scales:
        side = round(512 * scale)
        big = np.asarray(image.resize((side, side), Image.Resampling.BICUBIC))
        canvas = np.zeros_like(frames[0])
        offset = (side - 512) // 2
        if offset >= 0:
            canvas[:] = big[offset:offset + 512, offset:offset + 512]
        else:
            canvas[-offset:-offset + side, -offset:-offset + side] = big
        zoomed.append(canvas)
        boxes.append(CropBox(256, 256, 400 * scale))
    return zoomed, DrivingTrack(boxes=boxes)


def test_head_motion_within_the_limit_is_the_model_s(backend, girl_painting):
    source, _ = girl_painting
    frames, track = zoomed_driving([1.0, 1.02, 1.04])
    split = list(animate_frames(source, frames, track, backend, AnimateOptions(kp_smoothing=0)))
    whole = list(animate_frames(source, frames, track, backend,
                                AnimateOptions(kp_smoothing=0, head_motion="model")))
    for a, b in zip(split, whole):
        assert np.array_equal(a, b)


def test_a_driver_leaning_in_moves_the_whole_head_box(backend, girl_painting):
    """A face 1.5x larger: the model takes a zoom of 1.06 and the head box grows by the rest,
    so pixels beyond the model's box change; with head_motion="model" nothing outside the box
    can change. (How the grown box looks is `tests/postprocess/test_head_motion.py`'s; this tiny
    random model cannot zoom a face, whatever its keypoints.)"""
    source, outside = girl_painting
    frames, track = zoomed_driving([1.0, 1.5])
    split = list(animate_frames(source, frames, track, backend, AnimateOptions(kp_smoothing=0)))
    whole = list(animate_frames(source, frames, track, backend,
                                AnimateOptions(kp_smoothing=0, head_motion="model")))
    assert np.array_equal(whole[-1][outside], source.image[outside])
    changed = np.abs(split[-1].astype(int) - source.image).max(axis=2) > 8
    assert changed[outside].mean() > 0.05


def test_body_mode_is_checked():
    with pytest.raises(ValueError, match="body: expected one of still, model, got 'x'"):
        AnimateOptions(body="x")


def test_head_motion_mode_is_checked():
    with pytest.raises(ValueError, match="head_motion: expected one of split, model, got 'x'"):
        AnimateOptions(head_motion="x")


def test_landmark_fit_follows_the_drivers_landmarks(backend, girl_painting):
    """--landmark-fit: a still driver still gives the photo back; a driver whose (made-up) jaw
    drops moves the photo's chin, where the plain path leaves it to the model."""
    source, _ = girl_painting
    frames, track = still_driving(4)
    driver = create_face_analyzer("dlib").detect(frames[0])[0].landmarks
    dropped = driver.copy()
    dropped[5:12, 1] += 8.0  # the chin and lower jaw 8 px down
    still = DrivingTrack(boxes=track.boxes, landmarks=[driver] * 4)
    moving = DrivingTrack(boxes=track.boxes, landmarks=[driver] * 2 + [dropped] * 2)
    fitted = AnimateOptions(fit_landmarks=True, kp_smoothing=0)
    for frame in animate_frames(source, frames, still, backend, fitted):
        assert np.abs(frame.astype(int) - source.image).max() <= 1
    plain = list(animate_frames(source, frames, moving, backend, AnimateOptions(kp_smoothing=0)))
    fit = list(animate_frames(source, frames, moving, backend, fitted))
    x, y = (int(v) for v in source.landmarks[8])
    chin = (slice(y - 10, y + 10), slice(x - 10, x + 10))
    assert np.abs(fit[-1][chin].astype(int) - plain[-1][chin]).mean() > 2
    assert np.array_equal(fit[-1][:20], plain[-1][:20])  # the top of the photo is the same


@pytest.fixture(scope="module")
def anchored_backend():
    return TorchBackend(create_model("tiny-face-64", seed=0), device="cpu")


def test_the_drawn_mouth_opens_by_the_drivers_change(anchored_backend, girl_painting):
    """mouth="drawn" (default): a driver whose (made-up) mouth opens 0.4 interocular distances
    opens the photo's own mouth with a dark inside at full resolution; the model's mouth (random
    weights here) shows none. From the eyes up both are the same frame."""
    from reenact.pipelines.articulation import open_mouth

    source, _ = girl_painting
    frames, track = still_driving(4)
    driver = create_face_analyzer("dlib").detect(frames[0])[0].landmarks
    moving = DrivingTrack(boxes=track.boxes, landmarks=[driver] * 2 + [open_mouth(driver, 0.4)] * 2)
    drawn = list(animate_frames(source, frames, moving, anchored_backend,
                                AnimateOptions(kp_smoothing=0)))
    model = list(animate_frames(source, frames, moving, anchored_backend,
                                AnimateOptions(kp_smoothing=0, mouth="model")))
    lips = source.landmarks[48:68]
    x0, y0 = lips.min(axis=0).astype(int)
    x1, y1 = lips.max(axis=0).astype(int)
    mouth = (slice(y0, y1 + (y1 - y0)), slice(x0, x1))

    def dark(frame):
        return int((frame[mouth].astype(float) @ [0.299, 0.587, 0.114] < 50).sum())

    assert dark(drawn[-1]) > 30 and dark(model[-1]) <= 2 and dark(source.image) <= 2
    assert dark(drawn[0]) <= 2  # not yet open
    above = int(source.landmarks[36:48, 1].min())
    assert np.array_equal(drawn[-1][:above], model[-1][:above])


def test_the_grins_reference_is_made_only_for_a_driver_that_grins(girl_painting):
    """The teeth-together reference costs a warp at start-up: it is made where some frame bites
    (the lips part, the corners go out, the chin stays), not for speech (the jaw drops)."""
    from reenact.pipelines.animate import drawn_mouth
    from reenact.pipelines.articulation import open_mouth
    from reenact.preprocess.expressions import interocular_distance

    source, _ = girl_painting
    frames, track = still_driving(1)
    driver = create_face_analyzer("dlib").detect(frames[0])[0].landmarks
    iod = interocular_distance(driver)
    grin = driver.copy()
    grin[[55, 56, 57, 58, 59, 65, 66, 67], 1] += 0.25 * iod  # the lower lip parts
    grin[[48, 60], 0] -= 0.15 * iod  # the corners go out
    grin[[54, 64], 0] += 0.15 * iod
    boxes = track.boxes * 16
    for frame, bites in ((open_mouth(driver, 0.25), False), (grin, True)):
        moving = DrivingTrack(boxes=boxes, landmarks=[driver] * 4 + [frame] * 12)
        mouth, changes = drawn_mouth(source, moving, object(), AnimateOptions(), False)
        assert (mouth.bitten is not None) == bites
        assert (changes.bites.max() > 0) == bites


def test_mouth_mode_is_checked():
    with pytest.raises(ValueError, match="mouth: expected one of drawn, model, got 'x'"):
        AnimateOptions(mouth="x")


def test_the_model_running_ahead_on_its_thread_changes_no_pixel(monkeypatch):
    """Pass 2 renders the next batch on a thread while the last one is composited; the frames are
    those of rendering each batch in turn (the default model, a real face, full resolution)."""
    import itertools
    from pathlib import Path

    import reenact.pipelines.animate as pipeline
    from reenact.api import load_default_model
    from reenact.pipelines.driving_track import track_driving

    interview = Path(__file__).resolve().parents[2] / "samples" / "interview.mp4"
    with VideoReader(interview) as reader:
        frames = list(itertools.islice(reader, 24))
    backend = TorchBackend(load_default_model(), device="cpu", fast_conv=True)
    options = AnimateOptions(batch_size=4, max_frames=12)
    analyzer = create_face_analyzer("dlib")
    source = prepare_source(frames[20], backend.image_size, options, analyzer)
    track = track_driving(frames[:12], 25.0, source.landmarks, options, analyzer)
    ahead = np.stack(list(animate_frames(source, iter(frames[:12]), track, backend, options)))
    monkeypatch.setattr(pipeline, "prefetched", lambda items, depth, name: items)
    in_turn = np.stack(list(animate_frames(source, iter(frames[:12]), track, backend, options)))
    assert ahead.shape == (12, *frames[20].shape) and np.array_equal(ahead, in_turn)
