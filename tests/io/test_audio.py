"""Reading audio: any container, resampling that keeps frequencies, alignment, bad files."""

from fractions import Fraction

import numpy as np
import pytest
from conftest import MEDIA, require

from reenact.io import MediaError, VideoWriter
from reenact.io.audio import AudioClip, load_audio, resample, write_wav


def tone(frequency, seconds, rate):
    return (0.5 * np.sin(2 * np.pi * frequency * np.arange(round(seconds * rate)) / rate)).astype(np.float32)


def peak_frequency(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return np.argmax(spectrum) * rate / samples.size


@pytest.mark.parametrize("source, target", [(44100, 16000), (16000, 48000), (22050, 16000)])
def test_resample_keeps_frequency_and_duration(source, target):
    out = resample(tone(440, 1.0, source), source, target)
    assert out.dtype == np.float32 and abs(out.size - target) <= 2
    assert peak_frequency(out, target) == pytest.approx(440, abs=2)
    ideal = tone(440, 1.0, target)[: out.size]
    assert np.corrcoef(out[200:-200], ideal[200:-200])[0, 1] > 0.999  # no delay


def test_load_wav_at_another_rate(tmp_path):
    path = write_wav(tmp_path / "a.wav", AudioClip(tone(1000, 1.5, 44100), 44100))
    clip = load_audio(path, 16000)
    assert clip.sample_rate == 16000 and clip.duration_s == pytest.approx(1.5, abs=0.002)
    assert peak_frequency(clip.samples, 16000) == pytest.approx(1000, abs=2)


def test_video_audio_track_is_aligned_to_the_first_frame(tmp_path):
    wav = write_wav(tmp_path / "a.wav", AudioClip(tone(300, 2.0, 16000), 16000))
    video = tmp_path / "v.mp4"
    with VideoWriter(video, Fraction(25), 32, 32, audio_from=wav) as writer:
        for _ in range(50):
            writer.write(np.zeros((32, 32, 3), np.uint8))
    clip = load_audio(video, 16000)
    assert clip.duration_s == pytest.approx(2.0, abs=0.05)
    assert peak_frequency(clip.samples, 16000) == pytest.approx(300, abs=3)
    onset = np.flatnonzero(np.abs(clip.samples) > 0.1)[0] / 16000
    assert onset < 0.01  # AAC priming samples are dropped, not shifted in


def test_real_stereo_48k_speech():
    clip = load_audio(require(MEDIA / "speech" / "zh_bus.wav"), 16000)
    assert clip.duration_s == pytest.approx(3.376, abs=0.01)
    assert 0.01 < np.abs(clip.samples).max() <= 2


def test_bad_files(tmp_path):
    empty = write_wav(tmp_path / "empty.wav", AudioClip(np.zeros(0, np.float32), 16000))
    with pytest.raises(MediaError, match=r"empty\.wav: the audio is empty \(0 s\)"):
        load_audio(empty, 16000)
    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(MediaError, match=r"noise\.wav: not an audio or video file"):
        load_audio(garbage, 16000)
    with pytest.raises(MediaError, match="missing.wav: audio file not found"):
        load_audio(tmp_path / "missing.wav", 16000)
    silent_video = tmp_path / "silent.mp4"
    with VideoWriter(silent_video, 25, 32, 32) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(MediaError, match="silent.mp4: has no audio track"):
        load_audio(silent_video, 16000)
    with pytest.raises(ValueError, match="sample_rate: expected an integer"):
        load_audio(empty, 16000.0)


def test_header_claiming_hours_is_not_reserved_up_front(tmp_path):
    """An AIFF header claiming 2**31 frames (37 hours) made the reader reserve 24 GiB (issue 17)."""
    import struct

    import av

    path = tmp_path / "claims.aiff"
    with av.open(str(path), "w", format="aiff") as container:
        stream = container.add_stream("pcm_s16be", rate=16000, layout="mono")
        tone = (np.sin(np.arange(16000) / 10) * 10000).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    data = bytearray(path.read_bytes())
    comm = data.find(b"COMM")
    data[comm + 10:comm + 14] = struct.pack(">I", 0x7FFFFFFF)  # numSampleFrames
    path.write_bytes(bytes(data))
    clip = load_audio(path, 48000)
    assert clip.num_samples == 48000


def _two_tracks(path, default_second=True):
    """An mkv with two mono tracks: silence, then a 0.5 DC level flagged default."""
    import av

    with av.open(str(path), "w") as container:
        quiet = container.add_stream("aac", rate=16000, layout="mono")
        loud = container.add_stream("aac", rate=16000, layout="mono")
        quiet.disposition = 0 if default_second else av.stream.Disposition.default
        loud.disposition = av.stream.Disposition.default if default_second else 0
        for stream, level in ((quiet, 0.0), (loud, 0.5)):
            frame = av.AudioFrame.from_ndarray(np.full((1, 16000), level, np.float32),
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, 0
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
    return path


def test_the_default_audio_track_is_used(tmp_path):
    """Not the first one, when the container flags another as default (issue 17, item 9)."""
    loud = load_audio(_two_tracks(tmp_path / "second.mkv"), 16000)
    assert np.abs(loud.samples[2000:14000]).mean() > 0.4
    quiet = load_audio(_two_tracks(tmp_path / "first.mkv", default_second=False), 16000)
    assert np.abs(quiet.samples).max() < 0.01


def test_the_video_writer_carries_the_default_audio_track(tmp_path):
    import av

    source = _two_tracks(tmp_path / "speech.mkv")
    with VideoWriter(tmp_path / "out.mp4", 25, 64, 64, audio_from=source) as writer:
        writer.write_batch(np.zeros((25, 64, 64, 3), np.uint8))
    with av.open(str(tmp_path / "out.mp4")) as container:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert np.abs(samples[2000:14000]).mean() > 0.4


def test_binary_garbage_is_not_an_audio_file(tmp_path):
    """ffmpeg reads any bytes as a 'text' file; that said 'has no audio track' (issue 17)."""
    path = tmp_path / "speech.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(MediaError, match=r"speech.bin: not an audio or video file \(it is a text "
                                         r"file\)"):
        load_audio(path, 16000)
