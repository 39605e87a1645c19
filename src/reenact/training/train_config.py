"""What defines a training run: `TrainConfig` (with its `LossWeights`), as saved in a run
directory's train_config.json and checked when the run is resumed."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from reenact.config import config_to_dict
from reenact.presets import get_preset
from reenact.training.data import AugmentConfig
from reenact.training.discriminator import DiscriminatorConfig
from reenact.training.transforms import TpsConfig


@dataclass(frozen=True)
class LossWeights:
    perceptual: float = 1.0
    equivariance_value: float = 10.0
    equivariance_jacobian: float = 10.0
    generator_gan: float = 1.0
    feature_matching: float = 10.0
    # anchored models only: detector keypoints vs the landmark anchors (values; jacobians x0.1)
    anchor: float = 10.0
    # anchored models only: the reconstruction counts (1 + face_parts) times around mouth and eyes
    face_parts: float = 4.0
    # ImageNet MobileNetV2 features of the prediction vs the target (`training.mobilenet`), added
    # to the pixel loss (and weighted on mouth and eyes as it is); 0: not used
    backbone: float = 0.0
    # anchored models only: where the dense motion reads the source at the driving frame's 68
    # landmarks vs their places in the source (`losses.landmark_flow_loss`); 0: not used
    landmark_flow: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. `steps` counts optimizer steps (one batch each, per process)."""

    preset: str = "fast-256"
    steps: int = 10000
    batch_size: int = 8
    learning_rate: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # learning rate x0.1 at these fractions of `steps` (the reference: epochs 60 and 90 of 100)
    lr_milestones: tuple[float, ...] = (0.6, 0.9)
    scales: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
    weights: LossWeights = field(default_factory=LossWeights)
    tps: TpsConfig = field(default_factory=TpsConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # the fraction of each batch drawn as expression-contrast pairs (mouth or eye openings differ;
    # `reenact.training.contrast_pairs`); 0: all pairs at random
    contrast_pairs: float = 0.0
    adversarial: bool = False
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    precision: Literal["fp32", "bf16"] = "fp32"
    seed: int = 0
    log_every: int = 10
    preview_every: int = 200
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        get_preset(self.preset)  # raises, listing the valid names
        for name in ("steps", "batch_size", "log_every", "preview_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name}: expected an integer >= 1, got {value!r}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) \
                or not math.isfinite(self.learning_rate) or not self.learning_rate > 0:
            raise ValueError(f"TrainConfig.learning_rate: expected a finite number > 0, got "
                             f"{self.learning_rate}")
        if isinstance(self.contrast_pairs, bool) or not isinstance(self.contrast_pairs, (int, float)) \
                or not 0 <= self.contrast_pairs <= 1:
            raise ValueError(f"TrainConfig.contrast_pairs: expected a fraction in [0, 1], got "
                             f"{self.contrast_pairs!r}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"TrainConfig.precision: expected fp32 or bf16, got {self.precision!r}")
        if not self.scales or any(not 0 < s <= 1 or (1 / s) % 1 for s in self.scales):
            raise ValueError(f"TrainConfig.scales: expected factors 1/n in (0, 1], got {self.scales}")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @staticmethod
    def from_dict(data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        nested = {"weights": LossWeights, "tps": TpsConfig, "augment": AugmentConfig,
                  "discriminator": DiscriminatorConfig}
        for key, cls in nested.items():
            if key in data:
                data[key] = cls(**data[key])
        for key in ("betas", "lr_milestones", "scales"):
            if key in data:
                data[key] = tuple(data[key])
        return TrainConfig(**data)


def read_train_config(path: Path) -> TrainConfig:
    """The TrainConfig of a run directory's train_config.json; ValueError naming the file when
    it is not one."""
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); restore it, or start the run over "
                         f"in a new directory") from None
    except (TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"{path}: not a training config ({type(error).__name__}: {error})") \
            from None


def resume_key(config: TrainConfig) -> dict[str, Any]:
    """The parts of a config a resumed run must share (the step budget may grow)."""
    data = config.to_dict()
    for key in ("steps", "log_every", "preview_every", "checkpoint_every"):
        data.pop(key)
    return data


def model_config_dict(config: TrainConfig) -> dict[str, Any]:
    return config_to_dict(get_preset(config.preset))
