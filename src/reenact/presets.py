"""Named model architectures. An unknown name raises and lists the valid ones."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from reenact.config import (
    AnchorConfig,
    DenseMotionConfig,
    GeneratorConfig,
    HourglassConfig,
    KeypointDetectorConfig,
    MotionModelConfig,
)
from reenact.preprocess.anchors import DEFAULT_ANCHORS


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: MotionModelConfig


def _vox_256() -> MotionModelConfig:
    """Exactly the released FOMM face model (vox-cpk.pth.tar)."""
    return MotionModelConfig(
        image_size=256, num_channels=3, num_kp=10, estimate_jacobian=True, align_corners=True,
        keypoint_detector=KeypointDetectorConfig(HourglassConfig(32, 1024, 5), scale_factor=0.25,
                                                 temperature=0.1),
        dense_motion=DenseMotionConfig(HourglassConfig(64, 1024, 5), scale_factor=0.25),
        generator=GeneratorConfig(block_expansion=64, max_features=512, num_down_blocks=2,
                                  num_bottleneck_blocks=6))


def _fast_256() -> MotionModelConfig:
    """Same topology, a quarter of the channels and two bottleneck blocks: CPU real time."""
    return MotionModelConfig(
        image_size=256, num_channels=3, num_kp=10, estimate_jacobian=True, align_corners=True,
        keypoint_detector=KeypointDetectorConfig(HourglassConfig(16, 256, 5), scale_factor=0.25,
                                                 temperature=0.1),
        dense_motion=DenseMotionConfig(HourglassConfig(16, 256, 5), scale_factor=0.25),
        generator=GeneratorConfig(block_expansion=16, max_features=128, num_down_blocks=2,
                                  num_bottleneck_blocks=2))


def _fast_128() -> MotionModelConfig:
    """fast-256's networks at 128x128 with 32x32 keypoint and motion hourglasses, plus the generator's
    pixel skip: about 5x cheaper to train than fast-256, so that a CPU can train it in an hour or
    two (the default checkpoint)."""
    return MotionModelConfig(
        image_size=128, num_channels=3, num_kp=10, estimate_jacobian=True, align_corners=True,
        keypoint_detector=KeypointDetectorConfig(HourglassConfig(16, 256, 5), scale_factor=0.25,
                                                 temperature=0.1),
        dense_motion=DenseMotionConfig(HourglassConfig(16, 256, 5), scale_factor=0.25),
        generator=GeneratorConfig(block_expansion=16, max_features=128, num_down_blocks=2,
                                  num_bottleneck_blocks=2, pixel_skip=True))


# mask-logit bump of the anchored keypoints (DenseMotionConfig.anchor_prior): fast-128's trained
# masks span logits of about -20 to +5, so 20 makes an anchor win within about a sigma of its
# position (by 2 sigma its bump is down to 2.7), whatever the warm-started network says there
FACE_ANCHOR_PRIOR = 20.0
# ... with gaussians twice the keypoints' variance, and the same bump taken off the background's
# and free keypoints' logits on the face (DenseMotionConfig.anchor_exclusive): trained without
# it, the network outbid the anchors (2.8% of the mask mass after 1,300 steps) with free
# keypoints that carry neither expression nor roll across identities
FACE_ANCHOR_PRIOR_SCALE = 2.0
FACE_ANCHOR_EXCLUSIVE = 20.0
FACE_ANCHOR_MASKS = {"anchor_prior": FACE_ANCHOR_PRIOR, "anchor_prior_scale": FACE_ANCHOR_PRIOR_SCALE,
                     "anchor_exclusive": FACE_ANCHOR_EXCLUSIVE}


def _face_128() -> MotionModelConfig:
    """fast-128 with 24 keypoints: 14 anchored on the face's parts by 68-point landmarks (mouth
    corners, upper and lower lip, the four eyelids, brows, chin, jaw sides, nose), then the 10 free
    keypoints of fast-128 (so fast-128 weights warm-start it, see `reenact.training.expand`)."""
    base = _fast_128()
    return dataclasses.replace(base, num_kp=len(DEFAULT_ANCHORS) + base.num_kp,
                               anchors=AnchorConfig(groups=DEFAULT_ANCHORS),
                               dense_motion=dataclasses.replace(base.dense_motion,
                                                                **FACE_ANCHOR_MASKS))


def _tiny_64() -> MotionModelConfig:
    """A few thousand parameters at 64x64: for tests and smoke runs, not for faces."""
    return MotionModelConfig(
        image_size=64, num_channels=3, num_kp=4, estimate_jacobian=True, align_corners=True,
        keypoint_detector=KeypointDetectorConfig(HourglassConfig(4, 16, 3), scale_factor=0.5,
                                                 temperature=0.1),
        dense_motion=DenseMotionConfig(HourglassConfig(4, 16, 3), scale_factor=0.5),
        generator=GeneratorConfig(block_expansion=4, max_features=16, num_down_blocks=2,
                                  num_bottleneck_blocks=1))


def _tiny_face_64() -> MotionModelConfig:
    """tiny-64 with the face anchors in front of its 4 free keypoints: for tests."""
    base = _tiny_64()
    return dataclasses.replace(base, num_kp=len(DEFAULT_ANCHORS) + base.num_kp,
                               anchors=AnchorConfig(groups=DEFAULT_ANCHORS),
                               dense_motion=dataclasses.replace(base.dense_motion,
                                                                **FACE_ANCHOR_MASKS))


PRESETS: dict[str, Preset] = {
    "vox-256": Preset("vox-256", "the released FOMM face model's architecture (vox-cpk), 256x256",
                      _vox_256()),
    "fast-256": Preset("fast-256", "a CPU-sized face model, 256x256", _fast_256()),
    "fast-128": Preset("fast-128", "the default checkpoint's architecture: CPU-trainable, 128x128",
                       _fast_128()),
    "face-128": Preset("face-128", "fast-128 with keypoints anchored on mouth, eyes, brows, jaw and "
                       "nose by face landmarks, plus 10 free ones, 128x128", _face_128()),
    "tiny-64": Preset("tiny-64", "a toy model for tests, 64x64", _tiny_64()),
    "tiny-face-64": Preset("tiny-face-64", "a toy anchored model for tests, 64x64", _tiny_face_64()),
}


def get_preset(name: str) -> MotionModelConfig:
    """The config of a named preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name].config
