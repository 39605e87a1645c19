"""Warm start of an anchored model from one with free keypoints only (e.g. face-128 from fast-128).

The anchored model's keypoints are [A anchored, K free]; the free ones take the old model's K
keypoints, in order. Every tensor whose size depends on the number of keypoints is widened:

- keypoint detector: heatmap and jacobian heads get A new output maps in front (the heatmaps start
  as the fresh model's random init, the jacobians as the identity);
- dense motion: the hourglass input is motion-major, (K+1) groups of (1 + C) channels (heatmap
  difference, then the source warped by that motion) with the background first; the A new groups
  go after the background with zero weights, so the old network starts by ignoring them; the mask
  head gets A new outputs (zero weights, bias ANCHOR_MASK_BIAS: the new motions start with little
  weight) and, like the occlusion head, zero weights for its new input channels (the hourglass
  output ends with its input).

Everything else is copied as it is. The generator does not depend on the number of keypoints.
"""

from __future__ import annotations

import torch
from torch import Tensor

from reenact.config import MotionModelConfig

ANCHOR_MASK_BIAS = -2.0


def _motion_channels(old: Tensor, new: Tensor, dim: int, offset: int, group: int,
                     num_anchors: int) -> Tensor:
    """Copy `old` into `new` along `dim`: the first `offset` channels as they are, then the
    motion-major channel groups, leaving the A groups after the background as they are in `new`."""
    out = new.clone()
    out.narrow(dim, 0, offset).copy_(old.narrow(dim, 0, offset))
    old_groups = (old.shape[dim] - offset) // group
    background = old.narrow(dim, offset, group)
    rest = old.narrow(dim, offset + group, (old_groups - 1) * group)
    out.narrow(dim, offset, group).copy_(background)
    out.narrow(dim, offset + (1 + num_anchors) * group, rest.shape[dim]).copy_(rest)
    return out


def expand_to_anchors(states: dict[str, dict[str, Tensor]], old: MotionModelConfig,
                      new: MotionModelConfig, fresh: dict[str, dict[str, Tensor]]
                      ) -> dict[str, dict[str, Tensor]]:
    """State dicts of `new` (an anchored config) from those of `old` (the same networks with
    new.num_kp - A free keypoints); `fresh` holds a freshly initialised `new` model's state dicts,
    which provide the new slices' starting values."""
    num_anchors = new.anchors.num_anchors
    if old.anchors.num_anchors or old.num_kp + num_anchors != new.num_kp:
        raise ValueError(f"expand_to_anchors: expected a model with {new.num_kp - num_anchors} free "
                         f"keypoints and no anchors, got {old.num_kp} keypoints and "
                         f"{old.anchors.num_anchors} anchors")
    out = {name: dict(state) for name, state in states.items()}
    detector, dense = out["keypoint_detector"], out["dense_motion"]
    fresh_detector, fresh_dense = fresh["keypoint_detector"], fresh["dense_motion"]

    for key in ("heatmap_head.weight", "heatmap_head.bias"):
        detector[key] = torch.cat([fresh_detector[key][:num_anchors], detector[key]])
    for key in ("jacobian_head.weight", "jacobian_head.bias"):
        if key in detector:
            detector[key] = torch.cat([fresh_detector[key][:4 * num_anchors], detector[key]])

    group = new.num_channels + 1  # heatmap difference + the warped source's channels
    first = "hourglass.down_blocks.0.conv.weight"
    dense[first] = _motion_channels(dense[first], torch.zeros_like(fresh_dense[first]), 1, 0, group,
                                    num_anchors)
    expansion = new.dense_motion.hourglass.block_expansion  # the hourglass output: features, input
    mask_weight = torch.zeros_like(fresh_dense["mask_head.weight"])
    widened = _motion_channels(dense["mask_head.weight"], mask_weight[:old.num_kp + 1], 1, expansion,
                               group, num_anchors)  # (K_old + 1, E + (K_new + 1)(C + 1), k, k)
    mask_weight[:1] = widened[:1]
    mask_weight[1 + num_anchors:] = widened[1:]
    dense["mask_head.weight"] = mask_weight
    old_bias = dense["mask_head.bias"]
    dense["mask_head.bias"] = torch.cat([old_bias[:1], old_bias.new_full((num_anchors,), ANCHOR_MASK_BIAS),
                                         old_bias[1:]])
    if "occlusion_head.weight" in dense:
        dense["occlusion_head.weight"] = _motion_channels(
            dense["occlusion_head.weight"], torch.zeros_like(fresh_dense["occlusion_head.weight"]), 1,
            expansion, group, num_anchors)
    return out
