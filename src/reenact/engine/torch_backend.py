"""The motion model in torch eager mode: device, inference mode, precision, memory format.

Thread counts are process-wide and belong to the caller (the CLI sets them once); nothing here
changes them.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import torch

from reenact.checkpoint.audio_format import keypoint_space_id
from reenact.containers import Keypoints, SourceEncoding
from reenact.engine.backend import RenderedCrops, source_weight
from reenact.engine.frames import check_crops, frames_to_tensor, tensor_to_frames
from reenact.models import MotionModel

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")


def resolve_device(name: str) -> torch.device:
    """'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device: expected auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {name} was asked for but this torch has no usable CUDA device; "
                         "use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu, cuda or cuda:N, got {name!r}")
    return device


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 matrix math is native on `device` (CPU: AVX-512 BF16 or AMX through oneDNN).

    Without native support torch still runs bf16 on the CPU, emulated and slower than fp32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # private helpers of torch.cpu (present since torch 2.1); absent means unknown, so no
    probes = [getattr(torch.cpu, name, None) for name in
              ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return torch.backends.mkldnn.is_available() and any(probe() for probe in probes if probe)


class TorchBackend:
    """The motion model in torch eager mode, in inference mode, on one device.

    precision: "fp32" (exact), or "bf16": convolutions and matrix products under torch.autocast,
        with float32 islands for keypoints, motion masks, warps and the last layer (about 2x
        faster on CPUs with native bf16; not exact: 46 dB PSNR to fp32 with the bundled default
        checkpoint, 21-23 dB with random vox-256 weights, benchmarks/reference_exactness.py).
        bf16 on a device without native support is an error rather than a silent slowdown.
    channels_last: keep weights and activations in NHWC memory order, which oneDNN convolutions
        prefer on most CPUs; the results are the same to float rounding.
    fast_conv: run a rewritten copy of the model with fewer FLOPs (`reenact.engine.fast_conv`):
        Winograd 3x3 convolutions, BatchNorm and nearest upsampling folded into convolutions,
        prepacked oneDNN weights. fp32 on the CPU only, implies channels_last; the same output to
        float rounding, which the network can amplify (1.2e-5 with the trained default checkpoint,
        like channels_last alone; 5e-4 to 1.2e-3 against the reference code on random vox-256
        weights, the plain fp32 path 5e-4 to 7e-4) at about 2x the frames/s of fp32 channels-last on
        vox-256, for ~2x the memory (transformed and prepacked weights) and ~2 s of set-up.
        The caller's model is left unchanged, unless `own_model`.
    own_model: the caller hands `model` over and does not use it again, so fast_conv rewrites it
        in place instead of a copy.
    """

    def __init__(self, model: MotionModel, device: str = "auto", *, precision: str = "fp32",
                 channels_last: bool = False, fast_conv: bool = False,
                 own_model: bool = False) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device = resolve_device(device)
        if precision == "bf16" and not bf16_supported(self.device):
            raise ValueError(f"precision: bf16 needs native bf16 support ({self.device.type}: "
                             "AVX-512 BF16 or AMX on a CPU), which this machine lacks; use fp32")
        if fast_conv and precision != "fp32":
            raise ValueError(f"fast_conv: Winograd convolutions need fp32, got precision {precision}")
        if fast_conv and self.device.type != "cpu":
            raise ValueError(f"fast_conv: CPU only (on {self.device.type} the convolution library "
                             "picks its own algorithms); use device cpu or drop fast_conv")
        self.precision = precision
        self.fast_conv = fast_conv
        channels_last = channels_last or fast_conv
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self._keypoint_space: str | None = None
        if fast_conv:
            # only this option needs the rewriting modules: not loaded on every start-up
            from reenact.engine.fast_conv import fast_conv_model

            self._keypoint_space = keypoint_space_id(model)  # of the weights as given
            model = fast_conv_model(model.to(self.device), in_place=own_model)
        self.model = model.to(self.device, memory_format=self.memory_format).eval()
        self.image_size = model.config.image_size
        self.align_corners = model.config.align_corners
        self.anchor_groups = model.config.anchors.groups
        self.has_motion_outputs = True
        logger.debug("torch backend on %s, %s, %s%s", self.device, precision,
                     "channels-last" if channels_last else "contiguous",
                     ", fast convolutions" if fast_conv else "")

    @property
    def keypoint_space(self) -> str:
        """The model's `keypoint_space_id` (which audio models fit it), of its weights as given:
        the fast-convolution rewrite changes the detector's stored weights, not what it detects."""
        if self._keypoint_space is None:
            self._keypoint_space = keypoint_space_id(self.model)
        return self._keypoint_space

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _to_tensor(self, frames: np.ndarray) -> torch.Tensor:
        check_crops(frames, self.image_size)
        return frames_to_tensor(frames, self.device, self.memory_format)

    @torch.inference_mode()
    def detect(self, frames: np.ndarray) -> Keypoints:
        """(B, S, S, 3) uint8 crops -> keypoints on the CPU, float32."""
        images = self._to_tensor(frames)
        with self._autocast():
            kp = self.model.detect(images)
        return kp.to("cpu", torch.float32)

    @torch.inference_mode()
    def encode_source(self, image: np.ndarray) -> SourceEncoding:
        """(S, S, 3) uint8 source crop -> its encoding, kept on the device for every frame."""
        images = self._to_tensor(image[None])
        with self._autocast():
            return self.model.encode_source(images)

    @torch.inference_mode()
    def predict(self, source: SourceEncoding, kp_source: Keypoints,
                kp_driving: Keypoints) -> torch.Tensor:
        """A batch of B driving keypoints -> (B, 3, S, S) float32 in [0, 1] on the device."""
        with self._autocast():
            rendered = self.model.render(source, kp_source.to(self.device), kp_driving.to(self.device))
        return rendered.prediction.float()

    def render(self, source: SourceEncoding, kp_source: Keypoints, kp_driving: Keypoints) -> np.ndarray:
        """A batch of B driving keypoints -> (B, S, S, 3) uint8 frames."""
        return tensor_to_frames(self.predict(source, kp_source, kp_driving))

    @torch.inference_mode()
    def render_with_motion(self, source: SourceEncoding, kp_source: Keypoints,
                           kp_driving: Keypoints) -> RenderedCrops:
        """A batch of B driving keypoints -> B frames with their deformation and source weight."""
        with self._autocast():
            rendered = self.model.render(source, kp_source.to(self.device), kp_driving.to(self.device))
            weight = source_weight(rendered)
        return RenderedCrops(frames=tensor_to_frames(rendered.prediction.float()),
                             deformation=rendered.motion.deformation.float().cpu().numpy(),
                             source_weight=weight[:, 0].float().cpu().numpy())
