"""The first-order motion model: the three networks behind one typed interface."""

from __future__ import annotations

from torch import Tensor, nn

from reenact.config import MotionModelConfig
from reenact.containers import Keypoints, Rendered, SourceEncoding
from reenact.models.dense_motion import DenseMotionNetwork
from reenact.models.generator import OcclusionAwareGenerator
from reenact.models.keypoint_detector import KeypointDetector

COMPONENTS = ("keypoint_detector", "dense_motion", "generator")


class MotionModel(nn.Module):
    """Keypoint detector, dense motion network and occlusion-aware generator.

    Typical use, one portrait and many driving frames:
        source = model.encode_source(image)            # once per video
        kp_source = model.detect(image)
        for frames in batches:
            kp_driving = model.detect(frames)
            rendered = model.render(source, kp_source, kp_driving)
    """

    def __init__(self, config: MotionModelConfig) -> None:
        super().__init__()
        self.config = config
        self.keypoint_detector = KeypointDetector(
            config.keypoint_detector, num_kp=config.num_kp, num_channels=config.num_channels,
            estimate_jacobian=config.estimate_jacobian)
        self.dense_motion = DenseMotionNetwork(
            config.dense_motion, num_kp=config.num_kp, num_channels=config.num_channels,
            align_corners=config.align_corners, num_anchors=config.anchors.num_anchors)
        self.generator = OcclusionAwareGenerator(
            config.generator, num_channels=config.num_channels, align_corners=config.align_corners)

    def detect(self, image: Tensor, return_heatmaps: bool = False) -> Keypoints:
        """(B, C, H, W) in [0, 1] -> Keypoints of batch B."""
        return self.keypoint_detector(image, return_heatmaps=return_heatmaps)

    def encode_source(self, source_image: Tensor) -> SourceEncoding:
        """The per-video part of rendering: (B, C, H, W) in [0, 1] -> SourceEncoding."""
        return SourceEncoding(image=source_image,
                              features=self.generator.encode(source_image),
                              motion_image=self.dense_motion.prepare_source(source_image))

    def render(self, source: SourceEncoding, kp_source: Keypoints, kp_driving: Keypoints,
               return_deformed: bool = False) -> Rendered:
        """The per-frame part: a batch of B driving keypoints -> B frames (source batch 1 or B)."""
        motion = self.dense_motion(source.motion_image, kp_source, kp_driving)
        return self.generator.decode(source, motion, return_deformed=return_deformed)

    def forward(self, source_image: Tensor, kp_source: Keypoints, kp_driving: Keypoints,
                return_deformed: bool = False) -> Rendered:
        """Encode and render in one call (the reference generator's forward)."""
        return self.render(self.encode_source(source_image), kp_source, kp_driving,
                           return_deformed=return_deformed)
