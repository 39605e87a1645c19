"""Pack a `reenact prepare-data` directory small enough to send to a lent GPU machine.

    python tools/device_training/pack_data.py DATA PACKED [--crf 18]

A prepared directory stores raw uint8 frames (70,061 frames at 128 px are 3.4 GB); the device
tool sends at most 64 MiB with the repository. Each clip becomes an H.264 file (yuv444p, no
chroma subsampling; CRF 18 gave 39-41 dB against the crops at ~420 bytes a frame) and all
landmarks go into one float16 `landmarks.npz`. `unpack_data.py` turns it back on the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import av
import numpy as np

logger = logging.getLogger("pack_data")


def pack(data: Path, packed: Path, crf: int) -> None:
    index = json.loads((data / "index.json").read_text())
    packed.mkdir(parents=True)
    landmarks, total = {}, 0
    for number, clip in enumerate(index["clips"]):
        frames = np.load(data / clip["file"])
        name = Path(clip["file"]).stem + ".mp4"
        with av.open(str(packed / name), "w") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv444p"
            stream.options = {"crf": str(crf), "preset": "slow"}
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
        landmarks[f"c{number}"] = np.load(data / clip["landmarks"]).astype(np.float16)
        clip["packed"] = name
        total += (packed / name).stat().st_size
    np.savez_compressed(packed / "landmarks.npz", **landmarks)
    (packed / "index.json").write_text(json.dumps(index))
    logger.info("%d clips: video %.1f MB, landmarks %.1f MB", len(index["clips"]), total / 1e6,
                (packed / "landmarks.npz").stat().st_size / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a directory made by `reenact prepare-data`")
    parser.add_argument("packed", type=Path, help="the directory to create")
    parser.add_argument("--crf", type=int, default=18)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    pack(args.data, args.packed, args.crf)


if __name__ == "__main__":
    main()
