"""Media files in and out: images and videos as uint8 RGB numpy arrays.

Frames and images are (H, W, 3) uint8 RGB, upright; batches are (N, H, W, 3); frame rates are
exact `fractions.Fraction`s. Every unusable input raises `MediaError` (a ValueError) with a one-line
message that names the file. Outputs appear only once completely written. The writers write what
they are given: marking reenact's outputs as synthetic is `reenact.provenance.writers`' job, on top
of these (io knows nothing of it). PyAV and Pillow are imported on first use, not here.
"""

from reenact.io.atomic import AtomicOutput, atomic_output
from reenact.io.errors import MediaError
from reenact.io.image import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, read_image, write_image
from reenact.io.video_probe import VideoInfo, probe_video
from reenact.io.video_reader import VideoReader, batched
from reenact.io.video_writer import VideoWriter, check_output_path

__all__ = ["MAX_IMAGE_SIDE", "MIN_IMAGE_SIDE", "AtomicOutput", "MediaError", "VideoInfo",
           "VideoReader", "VideoWriter", "atomic_output", "batched", "check_output_path", "probe_video",
           "read_image", "write_image"]
