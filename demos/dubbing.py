"""The dubbing demo through the Python API (the same as demos/dubbing.sh).

    pip install -e ".[demo]" && python demos/dubbing.py [OUTPUT.mp4]
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from reenact.api import resolve_model
from reenact.checkpoint.audio_format import keypoint_space_id, resolve_audio_checkpoint
from reenact.engine import TorchBackend
from reenact.pipelines.dub import DubOptions, dub

ROOT = Path(__file__).resolve().parents[1]


def main(output: str = "dubbing.mp4") -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not (ROOT / "samples" / "driving.mp4").is_file():
        subprocess.run([sys.executable, str(ROOT / "samples" / "make_samples.py"),
                        str(ROOT / "samples")], check=True)
    model = resolve_model("default")
    audio_model = resolve_audio_checkpoint("default", num_kp=model.config.num_kp,
                                           keypoint_space=keypoint_space_id(model))
    result = dub(ROOT / "samples" / "driving.mp4", ROOT / "audio" / "fr.wav", output,
                 backend=TorchBackend(model), checkpoint=audio_model,
                 options=DubOptions(length_policy="pingpong"))
    logging.info("wrote %s: %d frames, %d with a face", result.output, result.num_frames,
                 result.faces)


if __name__ == "__main__":
    main(*sys.argv[1:])
