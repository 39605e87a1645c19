"""The networks of the first-order motion model. Pure: tensors in, typed values out."""

from reenact.models.dense_motion import DenseMotionNetwork
from reenact.models.generator import OcclusionAwareGenerator
from reenact.models.keypoint_detector import KeypointDetector
from reenact.models.motion_model import COMPONENTS, MotionModel

__all__ = ["COMPONENTS", "DenseMotionNetwork", "KeypointDetector", "MotionModel",
           "OcclusionAwareGenerator"]
