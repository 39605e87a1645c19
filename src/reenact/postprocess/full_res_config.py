"""How the full-resolution compositor (`reenact.postprocess.full_res`) blends and pastes: its
settings, checked, and the body's hold and rigid jaw they give a photo (`body_hold`,
`jaw_motion`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reenact.postprocess.body_hold import BodyHold
from reenact.postprocess.jaw_motion import JawMotion


def _check_fraction(config: object, name: str, low: float, high: float) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{type(config).__name__}.{name}: expected a number in [{low}, {high}], "
                         f"got {value!r}")


@dataclass(frozen=True)
class FullResConfig:
    """How the full-resolution output blends and pastes.

    moved_from, moved_full: motion in output pixels; the paste mask starts above `moved_from` and
        is full from `moved_full` on (smoothstep between).
    dilation: the moved region (and face hull) grows by this fraction of the box side...
    feather: ...and its edge fades out over about this fraction (a gaussian of sigma feather / 2,
        cut at 2 sigma: exactly 0 beyond).
    box_feather: the paste also fades out over this fraction of the box side at the box edge
        (outside the box the model says nothing).
    trusted, invented: a source weight at or above `trusted` takes the warped photo alone, at or
        below `invented` the generator's pixels alone (smoothstep between).
    invented_width: invented regions narrower than this fraction of the box side are dropped (a
        morphological opening): the lines along edges that a pixel-skip generator redraws at its
        own resolution, where the warped photo is sharp and in place, unlike a mouth interior.
    color_match: shift and scale the generator's colours (per channel mean and deviation, gain in
        [1/1.5, 1.5]) to the warped source's where the model trusts the source.
    hold_body: with the photo's landmarks, the motion fades out away from the head (its jaw
        outline and what is above the jaw's ends), from `hold_from` to `hold_to` eyes-to-chin
        heights from it (smoothstep; `reenact.postprocess.body_hold`), so shoulders and clothes
        keep the photo's pixels while the head turns (the relative motion of a turning head
        otherwise drags them along: a collar tilts with the chin).
    rigid_jaw: with the photo's landmarks, the motion over the chin and jaw is the affine map
        fitted to it there (`reenact.postprocess.jaw_motion`): the jaw moves as one bone, where
        the model's chin keypoint drew the chin's outline to a point.
    """

    moved_from: float = 0.5
    moved_full: float = 1.5
    dilation: float = 0.03
    feather: float = 0.04
    box_feather: float = 0.12
    trusted: float = 0.7
    invented: float = 0.35
    invented_width: float = 0.03
    color_match: bool = True
    hold_body: bool = True
    hold_from: float = 0.1
    hold_to: float = 0.5
    rigid_jaw: bool = True

    def __post_init__(self) -> None:
        _check_fraction(self, "moved_from", 0, math.inf)
        _check_fraction(self, "moved_full", self.moved_from, math.inf)
        if self.moved_full <= self.moved_from:
            raise ValueError(f"FullResConfig.moved_full: expected more than moved_from "
                             f"({self.moved_from}), got {self.moved_full}")
        for name in ("dilation", "feather", "box_feather", "invented_width"):
            _check_fraction(self, name, 0, 0.5)
        _check_fraction(self, "invented", 0, 1)
        _check_fraction(self, "trusted", 0, 1)
        if self.trusted <= self.invented:
            raise ValueError(f"FullResConfig.trusted: expected more than invented "
                             f"({self.invented}), got {self.trusted}")
        _check_fraction(self, "hold_from", 0, 3)
        _check_fraction(self, "hold_to", self.hold_from, 3)
        if self.hold_to <= self.hold_from:
            raise ValueError(f"FullResConfig.hold_to: expected more than hold_from "
                             f"({self.hold_from}), got {self.hold_to}")
        if not isinstance(self.hold_body, bool):
            raise ValueError(f"FullResConfig.hold_body: expected true or false, "
                             f"got {self.hold_body!r}")
        if not isinstance(self.rigid_jaw, bool):
            raise ValueError(f"FullResConfig.rigid_jaw: expected true or false, "
                             f"got {self.rigid_jaw!r}")
        if not isinstance(self.color_match, bool):
            raise ValueError(f"FullResConfig.color_match: expected true or false, "
                             f"got {self.color_match!r}")


def body_hold(landmarks: np.ndarray, config: FullResConfig) -> BodyHold | None:
    """The body's hold on a photo with 68 face `landmarks` (image pixels), as `config` sets it;
    None when `config.hold_body` is off."""
    if not config.hold_body:
        return None
    return BodyHold(landmarks, config.hold_from, config.hold_to)


def jaw_motion(landmarks: np.ndarray, config: FullResConfig) -> JawMotion | None:
    """The jaw made rigid on a photo with 68 face `landmarks` (image pixels), as `config` sets
    it; None when `config.rigid_jaw` is off."""
    return JawMotion(landmarks) if config.rigid_jaw else None
