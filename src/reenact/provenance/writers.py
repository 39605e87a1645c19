"""Writing marked files: `reenact.io`'s writers, with the run's watermark, label and tags on
everything they write.

    MarkedVideoWriter   a `reenact.io.VideoWriter` whose every frame is labelled (if the run has a
                        label) and watermarked on the encoding thread, and whose MP4 tags say
                        the video is synthetic
    write_marked_image  `reenact.io.write_image` of the labelled and watermarked image, with PNG
                        text chunks / a JPEG comment that say it is synthetic

The arrow points one way: provenance uses io, io knows nothing of marks. Everything reenact
writes for a user goes through these two (a test checks that no other module writes with
`reenact.io`'s writers), and neither has a switch to leave the mark out.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from reenact.io.image import check_image_array, check_image_output, write_image
from reenact.io.video_writer import DEFAULT_CRF, VideoWriter
from reenact.provenance.marking import FrameMarker
from reenact.provenance.record import Provenance


class MarkedVideoWriter(VideoWriter):
    """A `reenact.io.VideoWriter` (same use, same atomic output) that marks what it writes.

    provenance: the run's record; a fresh one (model unknown) if None. Every frame written
        carries its invisible watermark (and its visible label, if it has one): the label on the
        RGB frame, the watermark on its Y' plane (the same as marking R, G and B, on a third of
        the data), both on the writer's encoding thread. The MP4 tags say the video is synthetic.
    commit: False leaves the finished file under its temporary name after `close()`, for the
        caller to commit together with other outputs (its manifest); frames are marked either way.
    """

    def __init__(self, path: str | os.PathLike[str], fps: Fraction | int, width: int,
                 height: int, *, audio_from: str | os.PathLike[str] | None = None,
                 crf: int = DEFAULT_CRF, provenance: Provenance | None = None,
                 commit: bool = True) -> None:
        self.provenance = provenance if provenance is not None else Provenance.new()
        marker = FrameMarker(self.provenance)
        super().__init__(path, fps, width, height, audio_from=audio_from, crf=crf,
                         metadata=self.provenance.container_metadata(),
                         rgb_filter=marker.label, luma_filter=marker.mark_luma_plane,
                         commit=commit)


def write_marked_image(path: str | os.PathLike[str], image: np.ndarray, *,
                       provenance: Provenance | None = None) -> Path:
    """Write (H, W, 3) uint8 RGB to `path` atomically (`reenact.io.write_image`), marked as
    synthetic: the invisible watermark of `provenance` (a fresh one if None) and its visible
    label if it has one, and PNG text chunks / a JPEG comment that say it was made by reenact."""
    array = check_image_array(image)
    check_image_output(path)  # a bad path is reported before any marking work
    provenance = provenance if provenance is not None else Provenance.new()
    marked = FrameMarker(provenance).mark(array)
    return write_image(path, marked, text=provenance.image_text(), comment=provenance.comment())
