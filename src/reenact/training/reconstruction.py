"""One training step's forward pass (`Reconstruction`: the driving frame rebuilt from the source
through the whole model) and its weighted loss terms (`reconstruction_losses`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from reenact.containers import Keypoints, Rendered
from reenact.models import MotionModel
from reenact.preprocess.anchors import EYE_ANCHORS, MOUTH_ANCHORS, anchor_keypoints, replace_anchors
from reenact.training import losses
from reenact.training.mobilenet import MobileNetV2Features, feature_loss
from reenact.training.train_config import LossWeights
from reenact.training.transforms import TpsWarp


@dataclass(frozen=True)
class StepOutputs:
    """What one reconstruction forward pass produces; the losses are computed from it.

    kp_source, kp_driving: the detector's keypoints. anchors_source, anchors_driving: anchored
    models only, the keypoints of the frames' landmarks (NaN rows where no face was found); the
    render used them in place of the detector's anchored keypoints where they are finite.
    source_landmarks, driving_landmarks: anchored models only, the frames' (B, 68, 2) landmarks
    in normalized crop coordinates (NaN rows: no face), for the landmark-flow term.
    """

    kp_source: Keypoints
    kp_driving: Keypoints
    kp_transformed: Keypoints
    rendered: Rendered
    anchors_source: Keypoints | None = None
    anchors_driving: Keypoints | None = None
    source_landmarks: Tensor | None = None
    driving_landmarks: Tensor | None = None


class Reconstruction(nn.Module):
    """The training forward pass as one module (so DistributedDataParallel can wrap it).

    source, driving, transformed: (B, C, H, W) in [0, 1]; transformed = the driving frame under a
    random TPS warp. The three go through the keypoint detector as one batch.
    source_landmarks, driving_landmarks: (B, 68, 2) in normalized crop coordinates (NaN rows: no
    face), for anchored models: their anchors replace the detector's anchored keypoints in the
    render (teacher forcing: the renderer learns with the anchors inference will give it).
    """

    def __init__(self, model: MotionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: Tensor, driving: Tensor, transformed: Tensor,
                source_landmarks: Tensor | None = None,
                driving_landmarks: Tensor | None = None) -> StepOutputs:
        batch = source.shape[0]
        kp_all = self.model.detect(torch.cat([source, driving, transformed]))
        kp_source, kp_driving, kp_transformed = (kp_all[i * batch:(i + 1) * batch] for i in range(3))
        groups = self.model.config.anchors.groups
        anchors_source = anchors_driving = None
        render_source, render_driving = kp_source, kp_driving
        landmarks = bool(groups) and source_landmarks is not None and driving_landmarks is not None
        if landmarks:
            anchors_source = anchor_keypoints(source_landmarks, groups)
            anchors_driving = anchor_keypoints(driving_landmarks, groups)
            render_source = replace_anchors(kp_source, anchors_source)
            render_driving = replace_anchors(kp_driving, anchors_driving)
        rendered = self.model(source, render_source, render_driving, return_deformed=True)
        return StepOutputs(kp_source, kp_driving, kp_transformed, rendered, anchors_source,
                           anchors_driving,
                           source_landmarks=source_landmarks if landmarks else None,
                           driving_landmarks=driving_landmarks if landmarks else None)


@dataclass(frozen=True)
class TrainingBatch:
    """source, driving: (B, C, S, S) in [0, 1], augmented; *_landmarks: (B, 68, 2) normalized crop
    coordinates (NaN rows: no face), only for anchored models."""

    source: Tensor
    driving: Tensor
    source_landmarks: Tensor | None = None
    driving_landmarks: Tensor | None = None


def reconstruction_losses(outputs: StepOutputs, driving: Tensor, warp: TpsWarp,
                          pyramid: losses.ImagePyramid, vgg: losses.Vgg19Features | None,
                          weights: LossWeights, has_jacobian: bool,
                          anchor_groups: tuple[str, ...] = (),
                          backbone: MobileNetV2Features | None = None) -> dict[str, Tensor]:
    """Weighted loss terms of one step (the adversarial ones are added by the trainer).
    backbone: the ImageNet features of the "backbone" term (used where its weight is > 0)."""
    predicted = pyramid(outputs.rendered.prediction.float())
    target = pyramid(driving.float())
    pixel_weight = None
    if vgg is None and outputs.anchors_driving is not None and weights.face_parts > 0:
        pixel_weight = losses.face_part_weight(
            outputs.anchors_driving, outputs.rendered.prediction.shape[-1], weights.face_parts,
            parts=face_part_indices(outputs.anchors_driving.num_kp, anchor_groups))
    if vgg is not None:
        perceptual = losses.vgg_pyramid_loss(vgg, predicted, target)
    else:
        perceptual = losses.pixel_pyramid_loss(predicted, target, pixel_weight)
    terms = {"perceptual": weights.perceptual * perceptual,
             "equivariance_value": weights.equivariance_value
             * losses.equivariance_value_loss(outputs.kp_driving, outputs.kp_transformed, warp)}
    if backbone is not None and weights.backbone > 0:
        terms["backbone"] = weights.backbone * feature_loss(backbone, predicted, target, pixel_weight)
    if has_jacobian:
        terms["equivariance_jacobian"] = weights.equivariance_jacobian * \
            losses.equivariance_jacobian_loss(outputs.kp_driving, outputs.kp_transformed, warp)
    if outputs.anchors_source is not None and outputs.anchors_driving is not None:
        terms["anchor"] = weights.anchor * (
            losses.anchor_loss(outputs.kp_source, outputs.anchors_source)
            + losses.anchor_loss(outputs.kp_driving, outputs.anchors_driving)) / 2
    if (weights.landmark_flow > 0 and outputs.source_landmarks is not None
            and outputs.driving_landmarks is not None):
        terms["landmark_flow"] = weights.landmark_flow * losses.landmark_flow_loss(
            outputs.rendered.motion.deformation, outputs.source_landmarks,
            outputs.driving_landmarks)
    return terms


def face_part_indices(num_anchors: int, groups: tuple[str, ...]) -> list[int]:
    """Indices of the mouth and eye anchors among `groups`."""
    assert len(groups) == num_anchors
    return [i for i, name in enumerate(groups) if name in MOUTH_ANCHORS + EYE_ANCHORS]
