"""Video in and out, streamed one frame at a time (PyAV, imported lazily).

Conventions:
- a frame is a (H, W, 3) uint8 RGB numpy array, upright (a container rotation is applied on read);
  a batch is (N, H, W, 3);
- the frame rate is an exact `fractions.Fraction` (30000/1001, never 29.97) and the writer uses a
  time base of 1/fps, so frame i is shown at exactly i/fps seconds and nothing drifts;
- frames are delivered in presentation order, one per coded frame. Timestamps are not used to
  drop or repeat frames, so a variable-frame-rate file is read as if it ran at its average rate
  (its duration, and so its sync with its audio, is kept).

Memory does not grow with the video's length: the reader decodes lazily and the writer encodes,
and interleaves the carried audio, as frames arrive (on a thread of its own, a few frames behind
the caller). Written files appear only when complete (see `reenact.io.atomic`).

This module gathers the video API in one import; each job has a module of its own:

    video_decode.py   opening a file, its video stream, frames as upright RGB, damage and truncation
    video_probe.py    VideoInfo, probe_video: what a file holds, from its headers and first frame
    video_reader.py   VideoReader, batched: streaming frames
    video_writer.py   VideoWriter, check_output_path, check_video_output: writing an H.264 MP4
    audio_mux.py      the writer's carried audio track: AAC, sample-aligned, interleaved
    background.py     the writer's encoding thread
"""

from reenact.io.video_probe import MAX_FPS, VideoInfo, probe_video
from reenact.io.video_reader import VideoReader, batched
from reenact.io.video_writer import (
    DEFAULT_CRF,
    MAX_VIDEO_SIDE,
    VideoWriter,
    check_output_path,
    check_video_output,
    check_video_suffix,
)

__all__ = ["DEFAULT_CRF", "MAX_FPS", "MAX_VIDEO_SIDE", "VideoInfo", "VideoReader", "VideoWriter",
           "batched", "check_output_path", "check_video_output", "check_video_suffix",
           "probe_video"]
