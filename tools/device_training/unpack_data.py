"""On the GPU machine: turn `pack_data.py`'s output back into a prepared data directory.

    python3 tools/device_training/unpack_data.py PACKED DATA [--workers 16]

Decodes with OpenCV (in the device image) or PyAV, one process per worker; each clip's frame
count is checked against the index.
"""

from __future__ import annotations

import argparse
import json
import logging
from multiprocessing import Pool
from pathlib import Path

import numpy as np

logger = logging.getLogger("unpack_data")


def _decode(path: Path) -> np.ndarray:
    try:
        import cv2
    except ImportError:
        import av

        with av.open(str(path)) as container:
            return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    cv2.setNumThreads(1)
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def _unpack_clip(job: tuple[Path, Path, dict]) -> int:
    packed, data, clip = job
    frames = _decode(packed / clip["packed"])
    if len(frames) != clip["frames"]:
        raise RuntimeError(f'{clip["packed"]}: {len(frames)} frames decoded, {clip["frames"]} expected')
    np.save(data / clip["file"], frames)
    return len(frames)


def unpack(packed: Path, data: Path, workers: int) -> None:
    index = json.loads((packed / "index.json").read_text())
    data.mkdir(parents=True)
    landmarks = np.load(packed / "landmarks.npz")
    for number, clip in enumerate(index["clips"]):
        np.save(data / clip["landmarks"], landmarks[f"c{number}"].astype(np.float32))
    jobs = [(packed, data, clip) for clip in index["clips"]]
    with Pool(workers) as pool:
        frames = sum(pool.map(_unpack_clip, jobs, chunksize=8))
    for clip in index["clips"]:
        del clip["packed"]
    (data / "index.json").write_text(json.dumps(index))
    logger.info("%d clips, %d frames", len(jobs), frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packed", type=Path)
    parser.add_argument("data", type=Path, help="the prepared data directory to create")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    unpack(args.packed, args.data, args.workers)


if __name__ == "__main__":
    main()
