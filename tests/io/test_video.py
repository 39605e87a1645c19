"""reenact.io.video and reenact.io.atomic, on videos generated with PyAV and on the shared media.

Generated fixtures are tiny (64x48, a few dozen frames) so that the whole file runs in seconds.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import weakref
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reenact.io import (
    AtomicOutput,
    MediaError,
    VideoInfo,
    VideoReader,
    VideoWriter,
    atomic_output,
    check_output_path,
    probe_video,
)

av = pytest.importorskip("av")

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
needs_media = pytest.mark.skipif(not MEDIA.is_dir(), reason="shared media not available")
WIDTH, HEIGHT = 64, 48


def frame_pattern(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """(H, W, 3) uint8: a smooth colour gradient whose brightness encodes `index`."""
    y, x = np.mgrid[0:height, 0:width]
    base = 40 + 6 * index
    return np.stack([base + x, base + y, np.full_like(x, 200 - 3 * index)],
                    axis=-1).clip(0, 255).astype(np.uint8)


def sine(seconds: float, rate: int, *, clicks: Sequence[float] = ()) -> np.ndarray:
    """(1, N) float32: a quiet 440 Hz tone with loud one-sample-wide clicks at `clicks` s."""
    t = np.arange(round(seconds * rate)) / rate
    samples = 0.05 * np.sin(2 * np.pi * 440 * t)
    for at in clicks:
        samples[round(at * rate)] = 0.9
    return samples[None].astype(np.float32)


def _add_audio(container: object, rate: int) -> object:
    stream = container.add_stream("aac", rate=rate, layout="mono")  # type: ignore[attr-defined]
    stream.time_base = Fraction(1, rate)
    return stream


def _encode_audio(container: object, stream: object, samples: np.ndarray, rate: int,
                  offset: int = 0) -> None:
    """Encode (1, N) float32 `samples`, the first one at sample `offset` of the timeline."""
    for start in range(0, samples.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start:start + 1024]), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, offset + start
        for packet in stream.encode(frame):  # type: ignore[attr-defined]
            container.mux(packet)  # type: ignore[attr-defined]
    for packet in stream.encode(None):  # type: ignore[attr-defined]
        container.mux(packet)  # type: ignore[attr-defined]


def make_video(path: Path, *, frames: int = 12, fps: Fraction | int = 25,
               audio: np.ndarray | None = None, audio_rate: int = 16000,
               audio_delay: float = 0.0, rotation: int | None = None,
               faststart: bool = False) -> Path:
    """An H.264 video of `frame_pattern` frames (and optional mono AAC audio), written by PyAV."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", container_options=options) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        # every stream must exist before the first packet is muxed (PyAV crashes otherwise)
        audio_stream = None if audio is None else _add_audio(container, audio_rate)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_pattern(index), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if audio is not None:
            _encode_audio(container, audio_stream, audio, audio_rate,
                          offset=round(audio_delay * audio_rate))
    return path


def make_audio(path: Path, samples: np.ndarray, rate: int) -> Path:
    with av.open(str(path), "w") as container:
        _encode_audio(container, _add_audio(container, rate), samples, rate)
    return path


def decoded_audio(path: Path) -> tuple[np.ndarray, int, float]:
    """(samples (N,) of the first channel, sample rate, duration from the container)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        duration = float(stream.duration * stream.time_base)
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
        return samples, stream.codec_context.sample_rate, duration


def media_message(call: object, *args: object) -> str:
    with pytest.raises(MediaError) as caught:
        call(*args)  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------------ bad inputs

@pytest.mark.parametrize("open_video", [probe_video, VideoReader])
def test_missing_file(tmp_path: Path, open_video: object) -> None:
    path = tmp_path / "in.mp4"
    assert media_message(open_video, path) == f"{path}: video not found"


def test_directory(tmp_path: Path) -> None:
    assert media_message(probe_video, tmp_path) == f"{tmp_path}: is a directory, not a file"


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "in.mp4"
    path.write_text("no video in here\n" * 50)
    assert media_message(probe_video, path) == (f"{path}: not a video file "
                                                f"(unrecognized or corrupt data)")
    # ffmpeg would show a .txt file as a video of ANSI art
    path = tmp_path / "in.txt"
    path.write_text("no video in here\n" * 50)
    assert media_message(probe_video, path) == f"{path}: not a video file (it is a text file)"


def test_audio_file_is_not_a_video(tmp_path: Path) -> None:
    path = make_audio(tmp_path / "in.m4a", sine(0.5, 16000), 16000)
    assert media_message(VideoReader, path) == f"{path}: not a video file (no video stream)"


def test_still_image_is_not_a_video(tmp_path: Path) -> None:
    from reenact.io import write_image

    path = write_image(tmp_path / "face.png", frame_pattern(0))
    assert "is a still image, not a video (read it with read_image)" in media_message(
        probe_video, path)


def test_video_without_frames(tmp_path: Path) -> None:
    # Matroska keeps a video track that has no packets (MP4 drops such a track on reading)
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        _encode_audio(container, _add_audio(container, 16000), sine(0.2, 16000), 16000)
    assert media_message(probe_video, path) == f"{path}: the video has no frames"
    assert media_message(VideoReader, path) == f"{path}: the video has no frames"


def test_corrupt_packet_mid_stream_names_the_frame(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", frames=30)
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    position, size = packets[20]
    data[position:position + size] = np.random.default_rng(1).integers(
        0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    reader = VideoReader(path)  # headers and first frame are fine
    frames = iter(reader)
    for _ in range(5):  # decoding is lazy: the early frames arrive before the damage is reached
        assert next(frames).shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(MediaError, match=r"clip\.mp4: video is truncated or corrupt at frame "
                                         r"(\d+) \(") as caught:
        for _ in frames:
            pass
    assert 5 <= int(caught.value.args[0].split("at frame ")[1].split()[0]) <= 20


def test_truncated_at_a_frame_boundary_names_the_first_missing_frame(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", frames=30, faststart=True)
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    position, size = packets[17]
    path.write_bytes(path.read_bytes()[:position + size])  # frames 0-17 whole, 18-29 gone
    message = media_message(probe_video, path)
    assert message.startswith(f"{path}: video is truncated or corrupt at frame 18 ")
    assert "18 of 30 frames are present" in message


@pytest.mark.parametrize("name, codec", [("clip.mkv", "libx264"), ("clip.webm", "libvpx-vp9")])
def test_truncated_matroska_and_webm_are_errors(tmp_path: Path, name: str, codec: str) -> None:
    """They index nothing up front and read without a decoding error, only shorter: the header's
    duration tells (issue 17, item 4)."""
    path = tmp_path / name
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(100):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame_pattern(index),
                                                                   format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with VideoReader(path) as video:
        assert sum(1 for _ in video) == 100  # whole: no error
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 9 // 10])
    with VideoReader(path) as video:
        assert len(list(itertools.islice(video, 50))) == 50  # the first frames are still readable
        with pytest.raises(MediaError) as caught:
            for _ in video:
                pass
    message = str(caught.value)
    count = int(message.split("video is truncated: ")[1].split()[0])
    assert 80 <= count < 100
    seconds = message.split(" frames (")[1].split(" s)")[0]
    assert 3.0 < float(seconds) < 3.9
    assert message == (f"{path}: video is truncated: {count} frames ({seconds} s) could be read, "
                       f"but its header says it lasts 4.00 s; the file was cut short (an "
                       f"interrupted download, copy or recording). Repair or re-download it, or "
                       f"read only the first {count} frames")


def test_matroska_with_longer_audio_is_not_truncated(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mkv", frames=25, audio=np.zeros((1, 16000 * 3), np.float32))
    with VideoReader(path) as video:  # 1 s of video, 3 s of audio: the container lasts 3 s
        assert sum(1 for _ in video) == 25


def _ts_segment(path: Path, size: int, frames: int = 30, **options: str) -> bytes:
    with av.open(str(path), "w", format="mpegts", container_options=options) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            image = np.ascontiguousarray(frame_pattern(index)[:size, :size])
            image = np.pad(image, ((0, size - image.shape[0]), (0, size - image.shape[1]), (0, 0)))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.read_bytes()


def test_joined_mpeg_ts_files_are_read_whole(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`cat a.ts b.ts > both.ts` is a valid stream: the seam's damaged-packet flag and the size
    change were refused (issue 17, item 9)."""
    joined = tmp_path / "both.ts"
    joined.write_bytes(_ts_segment(tmp_path / "a.ts", 48) + _ts_segment(tmp_path / "b.ts", 64))
    with VideoReader(joined) as video:
        frames = list(video)
    assert len(frames) == 60 and all(frame.shape == (48, 48, 3) for frame in frames)
    assert "frame 30 is 64x64 px but the video started at 48x48: frames of another size are " \
           "scaled to fit" in caplog.text


def test_a_stream_appearing_mid_file_is_one_line(tmp_path: Path) -> None:
    joined = tmp_path / "both.ts"
    joined.write_bytes(_ts_segment(tmp_path / "a.ts", 48)
                       + _ts_segment(tmp_path / "b.ts", 48, mpegts_start_pid="0x200",
                                     mpegts_pmt_start_pid="0x1100"))
    with pytest.raises(MediaError, match=r"both.ts: the video's streams change after frame 30 "
                                         r"\(files with different stream layouts joined together\)"):
        with VideoReader(joined) as video:
            for _ in video:
                pass


# ------------------------------------------------------------------------------ reading

def test_reader_streams_frames_in_order(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", frames=20)
    with VideoReader(path) as video:
        assert video.info == VideoInfo(width=WIDTH, height=HEIGHT, fps=Fraction(25),
                                       num_frames=20, duration_s=0.8, has_audio=False,
                                       audio_sample_rate=None)
        frames = iter(video)
        first = next(frames)
        alive = weakref.ref(first)
        assert first.dtype == np.uint8 and first.shape == (HEIGHT, WIDTH, 3)
        assert first.flags.c_contiguous
        del first
        brightness = [float(frame.mean()) for frame in frames]
        # the reader keeps no reference to the frames it handed out
        assert alive() is None
    assert len(brightness) == 19
    assert all(a < b for a, b in itertools.pairwise(brightness))


def test_iter_batches(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", frames=10)
    with VideoReader(path) as video:
        shapes = [batch.shape for batch in video.iter_batches(4)]
        assert shapes == [(4, HEIGHT, WIDTH, 3), (4, HEIGHT, WIDTH, 3), (2, HEIGHT, WIDTH, 3)]
        with pytest.raises(ValueError, match="batch_size: expected an integer >= 1, got 0"):
            next(video.iter_batches(0))


def test_reader_close_stops_iteration(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", frames=10)
    video = VideoReader(path)
    frames = iter(video)
    next(frames)
    video.close()
    assert list(frames) == []
    with pytest.raises(ValueError, match="reader is closed"):
        iter(video)


def test_rotation_is_applied(tmp_path: Path) -> None:
    # a phone's portrait clip: stored landscape, displayed turned 90 degrees clockwise
    path = make_video(tmp_path / "phone.mp4", frames=3, rotation=-90)
    info = probe_video(path)
    assert (info.width, info.height) == (HEIGHT, WIDTH)
    with VideoReader(path) as video:
        first = next(iter(video))
    expected = np.rot90(frame_pattern(0), k=-1)
    assert first.shape == expected.shape
    assert np.abs(first.astype(int) - expected).mean() < 4


def _blocks(plane: np.ndarray, count: int = 4) -> np.ndarray:
    """(H, W) -> (count, count) block means: a linear reduction, as the watermark's is."""
    height, width = plane.shape
    return plane.reshape(count, height // count, count, width // count).mean(axis=(1, 3))


@pytest.mark.parametrize("kind", ["untagged BT.601", "BT.709 from VideoWriter", "rotated"])
def test_planes_give_the_rgb_frames_luma_without_converting(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "clip.mp4"
    if kind == "BT.709 from VideoWriter":
        with VideoWriter(path, 25, WIDTH, HEIGHT) as writer:
            for index in range(4):
                writer.write(frame_pattern(index))
    else:
        make_video(path, frames=4, rotation=-90 if kind == "rotated" else None)
    weights = np.array([0.2126, 0.7152, 0.0722])
    with VideoReader(path) as video:
        pairs = list(zip(video, video.planes(), strict=True))
    assert len(pairs) == 4
    for rgb, planar in pairs:
        assert planar.y.shape == rgb.shape[:2] and planar.y.dtype == np.uint8
        assert planar.chroma is not None
        luma = planar.luma_709(_blocks(planar.y), *(_blocks(plane) for plane in planar.chroma))
        difference = luma - _blocks(rgb @ weights)
        # swscale's fixed-point conversion to RGB leaves an offset of ~1 grey level; beyond it
        # (what the watermark's band would see) the planes and RGB agree
        assert abs(difference.mean()) < 2 and np.abs(difference - difference.mean()).max() < 0.5
    rgb, planar = pairs[0]
    luma_alone = planar.luma_709(_blocks(planar.y))  # BT.709: Y' alone is the luma
    assert (np.abs(luma_alone - _blocks(rgb @ weights)).max() < 2.5) == (kind == "BT.709 from "
                                                                          "VideoWriter")


# ------------------------------------------------------------------------------ writing

def test_round_trip_with_audio(tmp_path: Path) -> None:
    fps = Fraction(30000, 1001)
    count = 45
    source = make_audio(tmp_path / "speech.m4a", sine(3.0, 16000), 16000)
    output = tmp_path / "out.mp4"
    with VideoWriter(output, fps, WIDTH, HEIGHT, audio_from=source) as writer:
        writer.write(frame_pattern(0))
        writer.write_batch(np.stack([frame_pattern(i) for i in range(1, count)]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "speech.m4a"]

    info = probe_video(output)
    assert (info.width, info.height, info.num_frames) == (WIDTH, HEIGHT, count)
    assert info.fps == fps and isinstance(info.fps, Fraction)
    assert info.duration_s == pytest.approx(float(count / fps), abs=1e-6)
    assert info.has_audio and info.audio_sample_rate == 16000

    # exact timing: frame i is stored at i * 1001/30000 s, with no rounding drift
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        times = sorted(packet.pts * packet.time_base for packet in container.demux(stream)
                       if packet.pts is not None)
    assert times == [i / fps for i in range(count)]

    _, rate, audio_duration = decoded_audio(output)
    assert rate == 16000
    assert audio_duration == pytest.approx(float(count / fps), abs=0.01)

    with VideoReader(output) as video:
        frames = list(video)
    assert len(frames) == count
    for index in (0, count // 2, count - 1):
        assert np.abs(frames[index].astype(int) - frame_pattern(index)).mean() < 3


@pytest.mark.parametrize("audio_delay", [0.0, 0.3])
def test_audio_starts_with_the_first_frame_and_does_not_drift(tmp_path: Path,
                                                              audio_delay: float) -> None:
    rate = 16000
    clicks = [0.25, 1.5]  # seconds into the source's audio track
    source = make_video(tmp_path / "driving.mp4", frames=50, fps=25, audio_delay=audio_delay,
                        audio=sine(2.5, rate, clicks=clicks), audio_rate=rate)
    output = tmp_path / "out.mp4"
    with VideoReader(source) as video, VideoWriter(output, video.info.fps, WIDTH, HEIGHT,
                                                   audio_from=source) as writer:
        for frame in video:
            writer.write(frame)
    samples, out_rate, duration = decoded_audio(output)
    assert out_rate == rate
    assert duration == pytest.approx(2.0, abs=0.01)  # cut at the video's end, not the audio's
    # an audio track that starts after the video is preceded by silence, so each click is heard
    # with the video frame it was recorded with
    for at in (click + audio_delay for click in clicks):
        window = slice(round((at - 0.1) * rate), round((at + 0.1) * rate))
        found = (np.argmax(np.abs(samples[window])) + window.start) / rate
        assert found == pytest.approx(at, abs=0.002)


def test_audio_source_without_audio_writes_video_only(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    silent = make_video(tmp_path / "silent.mp4", frames=5)
    output = tmp_path / "out.mp4"
    with caplog.at_level(logging.INFO, logger="reenact.io"):
        with VideoWriter(output, 25, WIDTH, HEIGHT, audio_from=silent) as writer:
            writer.write_batch(np.stack([frame_pattern(i) for i in range(5)]))
    assert f"{silent} has no audio track; writing video only" in caplog.text
    assert not probe_video(output).has_audio


@pytest.mark.parametrize("interruption", [RuntimeError("model crashed"), KeyboardInterrupt()])
@pytest.mark.parametrize("with_audio", [False, True])
def test_interrupted_writer_leaves_no_file(tmp_path: Path, interruption: BaseException,
                                           with_audio: bool) -> None:
    source = make_audio(tmp_path / "speech.m4a", sine(2.0, 16000), 16000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(type(interruption)):
        with VideoWriter(out_dir / "result.mp4", 25, WIDTH, HEIGHT,
                         audio_from=source if with_audio else None) as writer:
            for index in range(8):
                writer.write(frame_pattern(index))
            assert next(out_dir.iterdir()).name.startswith(".result.partial-")
            raise interruption
    assert list(out_dir.iterdir()) == []


def _encoding_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"reenact-video-writer:{name}"]


def test_writer_that_is_never_closed_leaves_no_file(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "result.mp4", 25, WIDTH, HEIGHT)
    writer.write(frame_pattern(0))
    del writer
    assert list(tmp_path.iterdir()) == []
    for thread in _encoding_threads("result.mp4"):  # nor a thread waiting for frames
        thread.join(timeout=10)
        assert not thread.is_alive()


def _failing_filter(fail_at: int):
    """A luma filter that makes the encoding thread fail on frame `fail_at` (0-based)."""
    calls = itertools.count()

    def failing(plane: np.ndarray) -> np.ndarray:
        if next(calls) == fail_at:
            raise RuntimeError(f"encoder broke on frame {fail_at}")
        return plane

    return failing


@pytest.mark.parametrize("with_audio", [False, True])
def test_an_encoding_error_is_raised_by_a_later_write(tmp_path: Path, with_audio: bool) -> None:
    source = make_audio(tmp_path / "speech.m4a", sine(2.0, 16000), 16000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    written = 0
    with pytest.raises(RuntimeError, match="encoder broke on frame 2"):
        with VideoWriter(out_dir / "result.mp4", 25, WIDTH, HEIGHT,
                         audio_from=source if with_audio else None,
                         luma_filter=_failing_filter(fail_at=2)) as writer:
            for index in range(40):  # at most a queue's length of frames after the bad one
                writer.write(frame_pattern(index))
                written += 1
    assert 2 < written < 40
    assert list(out_dir.iterdir()) == []
    for thread in _encoding_threads("result.mp4"):
        assert not thread.is_alive()


def test_an_encoding_error_on_the_last_frame_is_raised_by_close(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "result.mp4", 25, WIDTH, HEIGHT,
                         luma_filter=_failing_filter(fail_at=2))
    writer.write_batch(np.stack([frame_pattern(i) for i in range(3)]))
    with pytest.raises(RuntimeError, match="encoder broke on frame 2"):
        writer.close()
    assert writer.closed and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="result.mp4: the video writer is closed"):
        writer.write(frame_pattern(3))


def test_frames_may_be_reused_once_written(tmp_path: Path) -> None:
    buffer = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    with VideoWriter(tmp_path / "out.mp4", 25, WIDTH, HEIGHT) as writer:
        for index in range(10):  # one array for every frame, as a renderer might keep
            buffer[...] = frame_pattern(index)
            writer.write(buffer)
    with VideoReader(tmp_path / "out.mp4") as video:
        frames = list(video)
    assert len(frames) == 10
    for index, frame in enumerate(frames):
        assert np.abs(frame.astype(int) - frame_pattern(index)).mean() < 3, index


def test_writer_without_frames_saves_nothing(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="result.mp4: no frames were written; nothing was saved"):
        with VideoWriter(tmp_path / "result.mp4", 25, WIDTH, HEIGHT):
            pass
    assert list(tmp_path.iterdir()) == []


def test_writer_replaces_an_existing_file_only_when_done(tmp_path: Path) -> None:
    target = tmp_path / "result.mp4"
    target.write_bytes(b"old")
    with VideoWriter(target, 25, WIDTH, HEIGHT) as writer:
        writer.write(frame_pattern(0))
        assert target.read_bytes() == b"old"
    assert probe_video(target).num_frames == 1


def test_writer_refuses_bad_arguments(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    with pytest.raises(ValueError, match="width: H.264 yuv420p needs an even width, got 65"):
        VideoWriter(out, 25, 65, 48)
    with pytest.raises(ValueError, match=r"fps: expected an exact fractions.Fraction .* 29.97"):
        VideoWriter(out, 29.97, 64, 48)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fps: expected a Fraction or int in"):
        VideoWriter(out, 0, 64, 48)
    with pytest.raises(ValueError, match="crf: expected an integer in"):
        VideoWriter(out, 25, 64, 48, crf=60)
    with pytest.raises(ValueError, match=r"o.avi: videos are written as MP4; use a .mp4 or .m4v file"):
        VideoWriter(tmp_path / "o.avi", 25, 64, 48)
    with pytest.raises(MediaError, match="speech.wav: audio source not found"):
        VideoWriter(out, 25, 64, 48, audio_from=tmp_path / "speech.wav")
    with pytest.raises(MediaError, match=f"output directory {tmp_path / 'missing'} does not exist"):
        VideoWriter(tmp_path / "missing" / "o.mp4", 25, 64, 48)
    assert list(tmp_path.iterdir()) == []
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio\n" * 100)
    with pytest.raises(MediaError, match="notes.txt: not an audio or video file"):
        VideoWriter(out, 25, 64, 48, audio_from=notes)
    assert list(tmp_path.iterdir()) == [notes]  # the partial output was removed
    with VideoWriter(out, 25, 64, 48) as writer:
        with pytest.raises(ValueError, match=r"frame: expected \(H, W, 3\) uint8 RGB with H=48, "
                                             r"W=64, got shape \(48, 64, 3\) dtype float32"):
            writer.write(np.zeros((48, 64, 3), np.float32))
        with pytest.raises(ValueError, match=r"frames: expected \(N, H, W, 3\)"):
            writer.write_batch(np.zeros((48, 64, 3), np.uint8))
        writer.write(frame_pattern(0))
    with pytest.raises(ValueError, match="writer is closed"):
        writer.write(frame_pattern(1))


# ------------------------------------------------------------------------------ output paths

def test_check_output_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.mp4"
    source.write_bytes(b"x")
    assert check_output_path(tmp_path / "out.mp4", [source, None]) == tmp_path / "out.mp4"
    assert media_message(check_output_path, source, [tmp_path / "face.png", source]) == (
        f"{source}: would overwrite an input ({source})")
    # the same file under another name
    (tmp_path / "link.mp4").symlink_to(source)
    assert "would overwrite an input" in media_message(check_output_path, tmp_path / "link.mp4",
                                                       [source])
    os.link(source, tmp_path / "hard.mp4")
    assert "would overwrite an input" in media_message(check_output_path, tmp_path / "hard.mp4",
                                                       [source])
    missing = tmp_path / "nope"
    assert media_message(check_output_path, missing / "o.mp4", [source]) == (
        f"{missing / 'o.mp4'}: output directory {missing} does not exist")
    assert "is a directory" in media_message(check_output_path, tmp_path, [source])
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    assert media_message(check_output_path, tmp_path / "o.mp4", [source]) == (
        f"{tmp_path / 'o.mp4'}: output directory {tmp_path} is not writable")


def test_atomic_output(tmp_path: Path) -> None:
    with atomic_output(tmp_path / "a.txt") as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".a.partial-")
        assert temp.suffix == ".txt"
        temp.write_text("done")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(tmp_path / "b.txt") as temp:
            temp.write_text("half")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    output = AtomicOutput(tmp_path / "c.txt")
    output.discard()
    output.discard()
    assert output.finished and not output.committed
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


# ------------------------------------------------------------------------------ real media

@needs_media
def test_real_mp4() -> None:
    path = MEDIA / "driving" / "lp_d0.mp4"
    info = probe_video(path)
    assert info == VideoInfo(width=512, height=512, fps=Fraction(25), num_frames=78,
                             duration_s=pytest.approx(3.12), has_audio=False,
                             audio_sample_rate=None)
    with VideoReader(path) as video:
        for index, frame in enumerate(video):
            assert frame.shape == (512, 512, 3) and frame.dtype == np.uint8
            if index == 4:
                break


@needs_media
def test_real_mpg() -> None:
    path = MEDIA / "talking" / "grid_bbaf2n.mpg"
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (360, 288, Fraction(25))
    assert info.has_audio and info.audio_sample_rate == 44100
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    with VideoReader(path) as video:
        count = sum(1 for _ in video)
    assert count == 75 == info.num_frames


@needs_media
def test_real_variable_frame_rate_mp4_uses_the_average_rate() -> None:
    info = probe_video(MEDIA / "talking" / "vr_1.mp4")  # 30 fps timeline with dropped frames
    assert info.fps == Fraction(1350, 61)
    assert info.num_frames / info.fps == pytest.approx(info.duration_s, abs=1e-6)


@needs_media
def test_real_mp4_cut_in_half(tmp_path: Path) -> None:
    # index ('moov') at the end: nothing can be read, and the message says why
    moov_last = tmp_path / "lp_d0.mp4"
    data = (MEDIA / "driving" / "lp_d0.mp4").read_bytes()
    moov_last.write_bytes(data[: len(data) // 2])
    assert media_message(probe_video, moov_last).startswith(
        f"{moov_last}: video file is truncated or corrupt (its 'mdat' box runs to byte ")
    # index first ("fast start"): the index shows which frames are missing
    moov_first = tmp_path / "tpsmm_driving.mp4"
    data = (MEDIA / "talking" / "tpsmm_driving.mp4").read_bytes()
    moov_first.write_bytes(data[: len(data) // 2])
    message = media_message(VideoReader, moov_first)
    assert message.startswith(f"{moov_first}: video is truncated or corrupt at frame ")
    assert "of 169 frames are present" in message


@needs_media
def test_real_audio_is_carried(tmp_path: Path) -> None:
    source = MEDIA / "talking" / "grid_bbaf2n.mpg"
    output = tmp_path / "dub.mp4"
    with VideoReader(source) as video, VideoWriter(output, video.info.fps, 360, 288,
                                                   audio_from=source) as writer:
        for batch in video.iter_batches(16):
            writer.write_batch(batch)
    info = probe_video(output)
    assert info.num_frames == 75 and info.has_audio and info.audio_sample_rate == 44100
    _, _, audio_duration = decoded_audio(output)
    assert audio_duration == pytest.approx(3.0, abs=0.03)


def test_a_pipe_is_refused_up_front(tmp_path: Path) -> None:
    """Inputs are read more than once: a pipe (`--driving <(cat clip.mp4)`) failed late and
    vaguely (issue 17, item 9)."""
    fifo = tmp_path / "driving.mp4"
    os.mkfifo(fifo)

    data = make_video(tmp_path / "clip.mp4", frames=3).read_bytes()  # less than a pipe's buffer

    def feed() -> None:  # a writer, so that a reader that opens the pipe does not wait forever
        with open(fifo, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        with pytest.raises(MediaError, match=r"driving.mp4: is not a regular file \(a pipe or a "
                                             r"device\?\): reenact reads its inputs more than "
                                             r"once; save the video to a file first"):
            probe_video(fifo)
    finally:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # releases a writer still waiting
        writer.join(timeout=10)
        os.close(reader)
