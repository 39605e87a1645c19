"""Shared fixtures: paths to ../shared, tiny models, generated training data."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

import pytest
import torch

from reenact.api import create_model
from reenact.models import MotionModel

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FOMM = SHARED / "fomm"
MEDIA = SHARED / "media"


def require(path: Path) -> Path:
    """Skip the test when a file of ../shared is not present (e.g. a bare clone)."""
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture
def tiny_model() -> MotionModel:
    return create_model("tiny-64", seed=0)


@pytest.fixture(scope="module")
def astronaut() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's astronaut photo and its dlib landmarks (skipped without either)."""
    data = pytest.importorskip("skimage.data")
    pytest.importorskip("dlib")
    from reenact.preprocess.face import create_face_analyzer, find_face

    image = np.ascontiguousarray(data.astronaut())
    return image, find_face(create_face_analyzer("dlib"), image).landmarks


@pytest.fixture
def images() -> torch.Tensor:
    """(3, 3, 64, 64) smooth random images in [0, 1]: source, driving, another driving."""
    generator = torch.Generator().manual_seed(1)
    coarse = torch.rand(3, 3, 8, 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(64, 64), mode="bilinear",
                                           align_corners=False)



def make_clip(size: int, frames: int, seed: int) -> np.ndarray:
    """(frames, size, size, 3) uint8: a textured ellipse that moves and turns over time."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    background = rng.uniform(0.2, 0.8, 3)
    colour = rng.uniform(0, 1, 3)
    clip = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        angle = 0.3 * np.sin(t / 3 + seed)
        cx, cy = 0.2 * np.sin(t / 4), 0.15 * np.cos(t / 5)
        u = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
        v = -(xs - cx) * np.sin(angle) + (ys - cy) * np.cos(angle)
        inside = (u / 0.5) ** 2 + (v / 0.65) ** 2 < 1
        stripes = 0.5 + 0.5 * np.sin(8 * u)[..., None]
        image = np.where(inside[..., None], colour * stripes, background)
        clip[t] = (image * 255).round().astype(np.uint8)
    return clip


def write_data_dir(root: Path, size: int = 64, clips: int = 2, frames: int = 6) -> Path:
    root.mkdir(parents=True)
    entries = []
    for index in range(clips):
        name = f"clip-{index:05d}.npy"
        np.save(root / name, make_clip(size, frames, seed=index))
        entries.append({"file": name, "video": f"generated{index}.mp4", "start": 0, "frames": frames,
                        "box": [0, 0, size]})
    index_data = {"format": "reenact-training-data", "image_size": size, "source": "generated",
                  "clips": entries}
    (root / "index.json").write_text(json.dumps(index_data))
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_data_dir(tmp_path / "data")


# -- generated stand-ins for ../shared fixtures ---------------------------------------------------

# the tiny-64 preset in the reference yaml layout (only the sections the converter reads)
TINY_FOMM_YAML = """\
dataset_params:
  frame_shape: [64, 64, 3]
model_params:
  common_params: {num_kp: 4, num_channels: 3, estimate_jacobian: true}
  kp_detector_params:
    temperature: 0.1
    block_expansion: 4
    max_features: 16
    scale_factor: 0.5
    num_blocks: 3
  generator_params:
    block_expansion: 4
    max_features: 16
    num_down_blocks: 2
    num_bottleneck_blocks: 1
    estimate_occlusion_map: true
    dense_motion_params: {block_expansion: 4, max_features: 16, num_blocks: 3, scale_factor: 0.5}
"""

# our key prefix -> the reference's, per component: the inverse of checkpoint.fomm.FOMM_KEY_RULES
_TO_REFERENCE = {
    "keypoint_detector": ("kp_detector", [(r"^hourglass\.down_blocks\.", "predictor.encoder.down_blocks."),
                                          (r"^hourglass\.up_blocks\.", "predictor.decoder.up_blocks."),
                                          (r"^heatmap_head\.", "kp."), (r"^jacobian_head\.", "jacobian."),
                                          (r"^downscale\.kernel$", "down.weight")]),
    "dense_motion": ("generator", [
        (r"^hourglass\.down_blocks\.", "dense_motion_network.hourglass.encoder.down_blocks."),
        (r"^hourglass\.up_blocks\.", "dense_motion_network.hourglass.decoder.up_blocks."),
        (r"^mask_head\.", "dense_motion_network.mask."),
        (r"^occlusion_head\.", "dense_motion_network.occlusion."),
        (r"^downscale\.kernel$", "dense_motion_network.down.weight")]),
    "generator": ("generator", [(r"^bottleneck\.(\d+)\.", r"bottleneck.r\1."), (r"^(.*)$", r"\1")]),
}


def write_reference_checkpoint(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """A random tiny-64 model saved as a reference `.pth.tar` + yaml pair; (checkpoint, yaml)."""
    import re

    model = create_model("tiny-64", seed=seed)
    data: dict = {"kp_detector": {}, "generator": {}, "epoch": 1}
    for component, (entry, rules) in _TO_REFERENCE.items():
        for key, tensor in getattr(model, component).state_dict().items():
            for pattern, replacement in rules:
                if re.match(pattern, key):
                    data[entry][re.sub(pattern, replacement, key)] = tensor.clone()
                    break
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint, config = directory / "tiny-64.pth.tar", directory / "tiny-64.yaml"
    torch.save(data, checkpoint)
    config.write_text(TINY_FOMM_YAML)
    return checkpoint, config


def write_video(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """Encode (N, H, W, 3) uint8 frames as an H.264 mp4 (a generated driving video)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_image(path: Path, size: int = 96, seed: int = 0) -> Path:
    """A generated (size, size) RGB picture without a face."""
    from PIL import Image

    Image.fromarray(make_clip(size, 1, seed)[0]).save(path)
    return path


def write_landmarks(root: Path, size: int = 64, missing_every: int = 3) -> Path:
    """Give every clip of a data directory (`write_data_dir`) landmarks: the template face in
    crop pixels with a mouth that opens and closes, NaN on every `missing_every`-th frame."""
    from reenact.preprocess.anchors import ANCHOR_GROUPS, TEMPLATE

    index = json.loads((root / "index.json").read_text())
    for entry in index["clips"]:
        frames = entry["frames"]
        points = np.repeat(((TEMPLATE + 1) / 2 * (size - 1) + 0.5)[None], frames, axis=0)
        lower = list(ANCHOR_GROUPS["lower_lip"])
        points[:, lower, 1] += 3 * np.sin(np.arange(frames))[:, None] ** 2
        points[::missing_every] = np.nan
        name = entry["file"].replace(".npy", ".landmarks.npy")
        np.save(root / name, points.astype(np.float32))
        entry["landmarks"] = name
    (root / "index.json").write_text(json.dumps(index))
    return root


@contextlib.contextmanager
def loaded_benchmark(name: str) -> Iterator[ModuleType]:
    """benchmarks/NAME.py loaded as a module, as when it runs as a script: under its own name in
    sys.modules (its dataclasses look their module up there) and with the benchmarks folder on
    sys.path (it may import a sibling benchmark); both undone afterwards."""
    script = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(script.parent))
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(script.parent))
        del sys.modules[name]
