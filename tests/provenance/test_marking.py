"""Every file reenact.io writes is marked: the video writer and write_image have no way around it."""

from __future__ import annotations

import inspect
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from provenance_clips import decode, textured
from reenact.io import VideoWriter, write_image
from reenact.provenance.record import Provenance, parse_comment
from reenact.provenance.watermark import detect


def test_video_writer_marks_every_frame(tmp_path: Path) -> None:
    frames = textured(12, 240, 320)
    with VideoWriter(tmp_path / "out.mp4", Fraction(25), 320, 240) as writer:
        writer.write(frames[0])
        writer.write_batch(np.stack(frames[1:]))
    decoded = decode(tmp_path / "out.mp4")
    assert len(decoded) == 12
    payload = writer.provenance.payload()
    for frame in decoded:  # each frame alone carries the payload
        result = detect([frame])
        assert result.present and result.payload == payload
    with av.open(str(tmp_path / "out.mp4")) as container:
        tags = dict(container.metadata)
    assert parse_comment(tags["comment"])["run"] == writer.provenance.run_id
    assert "Synthetic video" in tags["description"] and tags["encoder"].startswith("reenact")


def test_video_writers_at_once_share_the_watermarker(tmp_path: Path) -> None:
    """Frame markers share one Watermarker (its tables per frame size are made once), also when
    two writers encode at the same time, each on its own thread, frames of different sizes."""
    from reenact.provenance.marking import FrameMarker

    first, second = Provenance.new(), Provenance.new()
    assert FrameMarker(first)._watermarker is FrameMarker(second)._watermarker
    sizes = {"a.mp4": (240, 320), "b.mp4": (256, 192)}
    writers = [VideoWriter(tmp_path / name, 25, width, height, provenance=provenance)
               for (name, (height, width)), provenance in zip(sizes.items(), (first, second))]
    clips = [textured(8, height, width, seed=index)
             for index, (height, width) in enumerate(sizes.values())]
    for frames in zip(*clips):  # both encoding threads busy at once
        for writer, frame in zip(writers, frames):
            writer.write(frame)
    for writer in writers:
        writer.close()
    for name, provenance in zip(sizes, (first, second)):
        decoded = decode(tmp_path / name)
        assert len(decoded) == 8
        for frame in decoded:
            assert detect([frame]).payload == provenance.payload()


def test_writers_cannot_skip_the_mark(tmp_path: Path) -> None:
    options = set(inspect.signature(VideoWriter).parameters)
    # commit=False only defers the rename (a video committed with its manifest); frames are marked
    assert options == {"path", "fps", "width", "height", "audio_from", "crf", "provenance", "commit"}
    assert set(inspect.signature(write_image).parameters) == {"path", "image", "provenance"}
    with pytest.raises(TypeError):
        VideoWriter(tmp_path / "o.mp4", 25, 64, 48, watermark=False)  # type: ignore[call-arg]


def test_run_provenance_is_used(tmp_path: Path) -> None:
    provenance = Provenance.new(model={"name": "tiny"}, label="AI")
    frames = textured(3, 240, 320)
    with VideoWriter(tmp_path / "out.mp4", 25, 320, 240, provenance=provenance) as writer:
        writer.write_batch(np.stack(frames))
    decoded = decode(tmp_path / "out.mp4")
    result = detect(decoded)
    assert result.payload == provenance.payload()
    # the label is drawn in the bottom-left corner: that is where the frame changed most
    difference = np.abs(decoded[0].astype(int) - frames[0]).max(axis=2)
    rows, cols = np.nonzero(difference > 60)
    assert len(rows) > 100 and rows.min() > 240 * 0.75 and cols.max() < 320 * 0.5


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_write_image_marks_the_image(tmp_path: Path, suffix: str) -> None:
    provenance = Provenance.new(model={"name": "tiny"})
    path = write_image(tmp_path / f"frame{suffix}", textured(1, 240, 320)[0],
                       provenance=provenance)
    with Image.open(path) as image:
        pixels, info = np.asarray(image.convert("RGB")), dict(image.info)
    result = detect([pixels])
    assert result.present and result.payload == provenance.payload()
    if suffix == ".png":
        assert parse_comment(info["Comment"])["run"] == provenance.run_id
        assert info["Software"].startswith("reenact")
    if suffix == ".jpg":
        assert parse_comment(info["comment"].decode())["synthetic"] == "true"
