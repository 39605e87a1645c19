"""Frozen dataclass configs of the motion model and its three components.

A config crosses a file boundary only through `config_from_dict` / `config_to_dict`: unknown keys are
an error naming the class and the key, and every value is checked in `__post_init__` so that a bad
number fails where it is written, not deep inside a convolution.

Facts shared by the components (number of keypoints, channels, image size, the `grid_sample`
convention) live once, on `MotionModelConfig`; each component config holds only its own architecture.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar


class ConfigError(ValueError):
    """A config value or key is invalid; the message names the class and the key."""


def _fail(owner: object, key: str, expected: str, actual: object) -> typing.NoReturn:
    raise ConfigError(f"{type(owner).__name__}.{key}: expected {expected}, got {actual!r}")


def _check_int(owner: object, key: str, minimum: int) -> None:
    value = getattr(owner, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(owner, key, f"an integer >= {minimum}", value)


def _check_positive_float(owner: object, key: str) -> None:
    value = getattr(owner, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        _fail(owner, key, "a number > 0", value)


def _check_bool(owner: object, key: str) -> None:
    value = getattr(owner, key)
    if not isinstance(value, bool):
        _fail(owner, key, "true or false", value)


def _check_scale_factor(owner: object, key: str) -> None:
    """Anti-aliased downsampling keeps every (1/scale)-th pixel, so 1/scale must be an integer."""
    _check_positive_float(owner, key)
    value = getattr(owner, key)
    inverse = 1.0 / value
    if value > 1 or abs(inverse - round(inverse)) > 1e-6:
        _fail(owner, key, "1 or 1/n for an integer n (1, 0.5, 0.25, ...)", value)


@dataclass(frozen=True)
class HourglassConfig:
    """An encoder-decoder with skip connections (U-Net without the final conv).

    Channels of down block i: min(max_features, block_expansion * 2**(i+1)).
    """

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5

    def __post_init__(self) -> None:
        _check_int(self, "block_expansion", 1)
        _check_int(self, "max_features", 1)
        _check_int(self, "num_blocks", 1)


@dataclass(frozen=True)
class KeypointDetectorConfig:
    """Hourglass on a downscaled image -> K heatmaps -> soft-argmax keypoints (+ jacobians).

    `head_padding` is the padding of the 7x7 heatmap / jacobian heads (0 in the released models, which
    makes the heatmaps 6 pixels smaller than the hourglass output: 58x58 for vox-256).
    `single_jacobian_map`: one jacobian map shared by every keypoint (the released mgif model).
    """

    hourglass: HourglassConfig = field(default_factory=lambda: HourglassConfig(32, 1024, 5))
    scale_factor: float = 0.25
    temperature: float = 0.1
    head_padding: int = 0
    single_jacobian_map: bool = False

    def __post_init__(self) -> None:
        _check_scale_factor(self, "scale_factor")
        _check_positive_float(self, "temperature")
        _check_int(self, "head_padding", 0)
        _check_bool(self, "single_jacobian_map")


@dataclass(frozen=True)
class DenseMotionConfig:
    """Sparse motions + deformed sources -> hourglass -> K+1 masks, dense deformation, occlusion.

    anchor_prior: for face-anchored models, added to each anchored keypoint's mask logit times the
        gaussian (kp_variance) around its driving position: an anchored keypoint starts out owning
        its neighbourhood (the mouth's motion comes from the lips' anchors) and the network learns
        the rest. 0 (every released model): masks are the network's alone.
    anchor_prior_scale: the prior's gaussians have anchor_prior_scale * kp_variance (1: the
        keypoints' own heatmaps).
    anchor_exclusive: subtracted from the background's and the free keypoints' mask logits times
        the strongest anchor gaussian there: on the face the anchors' motions win over the free
        keypoints', which a network trained on reconstruction alone learns to prefer (they see the
        driving frame) and which then carry no expression across identities. 0: no penalty.
    """

    hourglass: HourglassConfig = field(default_factory=lambda: HourglassConfig(64, 1024, 5))
    scale_factor: float = 0.25
    kp_variance: float = 0.01
    estimate_occlusion_map: bool = True
    anchor_prior: float = 0.0
    anchor_prior_scale: float = 1.0
    anchor_exclusive: float = 0.0

    def __post_init__(self) -> None:
        _check_scale_factor(self, "scale_factor")
        _check_positive_float(self, "kp_variance")
        _check_bool(self, "estimate_occlusion_map")
        for name in ("anchor_prior", "anchor_exclusive"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 <= value < 1000:
                _fail(self, name, "a number in [0, 1000)", value)
        _check_positive_float(self, "anchor_prior_scale")


@dataclass(frozen=True)
class GeneratorConfig:
    """Encoder, feature warp + occlusion, residual bottleneck, decoder.

    pixel_skip: also warp the source image itself at full resolution and let the decoder predict,
        per pixel, how much of it to keep (a sigmoid mix with the decoded image). Not in the
        reference: it carries the source's fine detail past the feature bottleneck, which a small
        decoder trained briefly cannot reproduce on its own.
    """

    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 6
    pixel_skip: bool = False

    def __post_init__(self) -> None:
        _check_int(self, "block_expansion", 1)
        _check_int(self, "max_features", 1)
        _check_int(self, "num_down_blocks", 0)
        _check_int(self, "num_bottleneck_blocks", 0)
        if not isinstance(self.pixel_skip, bool):
            raise ConfigError(f"GeneratorConfig.pixel_skip: expected true or false, got {self.pixel_skip!r}")


@dataclass(frozen=True)
class AnchorConfig:
    """Which keypoints are anchored on the face: the first len(groups) of the model's keypoints.

    groups: names of landmark groups (`reenact.preprocess.anchors.ANCHOR_GROUPS`), one keypoint
        each, in keypoint order; empty for a model whose keypoints are all free (every released
        FOMM model).
    landmarks: the landmark scheme the groups index ("dlib68").
    """

    groups: tuple[str, ...] = ()
    landmarks: str = "dlib68"

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(self.groups))
        if not all(isinstance(g, str) for g in self.groups) or len(set(self.groups)) != len(self.groups):
            _fail(self, "groups", "distinct group names", list(self.groups))
        if self.landmarks != "dlib68":
            _fail(self, "landmarks", "'dlib68'", self.landmarks)

    @property
    def num_anchors(self) -> int:
        return len(self.groups)


@dataclass(frozen=True)
class MotionModelConfig:
    """The whole first-order motion model and the preprocessing facts that travel with its weights.

    image_size: square input/output side in pixels; images are RGB float in [0, 1].
    align_corners: the `grid_sample` convention every warp uses. The released FOMM checkpoints were
        trained with torch 1.0, whose `grid_sample` behaved like `align_corners=True`.
    """

    image_size: int = 256
    num_channels: int = 3
    num_kp: int = 10
    estimate_jacobian: bool = True
    align_corners: bool = True
    keypoint_detector: KeypointDetectorConfig = field(default_factory=KeypointDetectorConfig)
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    anchors: AnchorConfig = field(default_factory=AnchorConfig)

    def __post_init__(self) -> None:
        _check_int(self, "image_size", 8)
        _check_int(self, "num_channels", 1)
        _check_int(self, "num_kp", 1)
        _check_bool(self, "estimate_jacobian")
        _check_bool(self, "align_corners")
        if self.anchors.num_anchors > self.num_kp:
            _fail(self, "anchors", f"at most num_kp = {self.num_kp} anchored keypoints",
                  list(self.anchors.groups))
        if self.anchors.num_anchors and not self.estimate_jacobian:
            _fail(self, "anchors", "estimate_jacobian = true (anchors carry jacobians)",
                  list(self.anchors.groups))
        self._check_divisible("keypoint_detector", self.keypoint_detector.scale_factor,
                              self.keypoint_detector.hourglass.num_blocks)
        self._check_divisible("dense_motion", self.dense_motion.scale_factor,
                              self.dense_motion.hourglass.num_blocks)
        self._check_divisible("generator", 1.0, self.generator.num_down_blocks)
        heatmap_side = (round(self.image_size * self.keypoint_detector.scale_factor)
                        - 6 + 2 * self.keypoint_detector.head_padding)
        if heatmap_side < 1:
            _fail(self, "image_size", "a size that leaves keypoint heatmaps of at least 1 pixel",
                  self.image_size)

    def _check_divisible(self, component: str, scale: float, num_halvings: int) -> None:
        side = self.image_size * scale
        if side != round(side) or round(side) % (2**num_halvings) != 0:
            _fail(self, "image_size",
                  f"a size whose {component} input ({scale:g} x image_size) divides by "
                  f"2**{num_halvings}", self.image_size)


ConfigT = TypeVar("ConfigT")


def config_from_dict(cls: type[ConfigT], data: dict[str, Any]) -> ConfigT:
    """Build a (nested) config dataclass from plain data, refusing unknown keys by name."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; "
                          f"valid keys: {', '.join(sorted(names))}")
    values = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            value = config_from_dict(hint, value)
        elif hint is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[key] = value
    return cls(**values)


def config_to_dict(config: object) -> dict[str, Any]:
    """Plain JSON-ready data of a config dataclass (nested configs become nested dicts)."""
    return dataclasses.asdict(config)  # type: ignore[arg-type]
