"""What defines an audio-model training run (`reenact train-audio`): `AudioTrainConfig`, saved as
the run directory's config.json; see `reenact.training.audio` for what the options do."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from reenact.audio.features import AudioFeatureConfig
from reenact.config import ConfigError
from reenact.models.audio_to_motion import AudioToMotionConfig

TARGETS = ("mouth", "opening", "keypoints")
MOUTH_OUTPUTS = ("all", "open")
OPENING_MEASURES = ("dlib", "facemesh")


@dataclass(frozen=True)
class AudioTrainConfig:
    """One training run. `model` and `features` become the checkpoint's; fps is a string ("25")."""

    model: AudioToMotionConfig = field(default_factory=AudioToMotionConfig)
    features: AudioFeatureConfig = field(default_factory=AudioFeatureConfig)
    fps: str = "25"
    steps: int = 3000
    batch_size: int = 16
    sequence_frames: int = 50
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    jacobian_weight: float = 0.5
    velocity_weight: float = 1.0
    gain_jitter_db: float = 6.0
    augment: bool = False
    crop_margin: float = 0.4
    rest_quantile: float = 0.2
    target: str = "keypoints"
    opening_measure: str = "dlib"
    max_amplitude_gain: float = 4.0
    mouth_output: str = "all"
    render_gain: float = 1.0
    seed: int = 0
    log_every: int = 50
    save_every: int = 500

    def __post_init__(self) -> None:
        for key in ("steps", "batch_size", "sequence_frames", "log_every", "save_every"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"AudioTrainConfig.{key}: expected an integer >= 1, got {value!r}")
        if not isinstance(self.augment, bool):
            raise ConfigError(f"AudioTrainConfig.augment: expected true or false, got "
                              f"{self.augment!r}")
        if self.target not in TARGETS:
            raise ConfigError(f"AudioTrainConfig.target: expected one of {', '.join(TARGETS)}, got "
                              f"{self.target!r}")
        if self.opening_measure not in OPENING_MEASURES:
            raise ConfigError(f"AudioTrainConfig.opening_measure: expected one of "
                              f"{', '.join(OPENING_MEASURES)}, got {self.opening_measure!r}")
        if self.mouth_output not in MOUTH_OUTPUTS:
            raise ConfigError(f"AudioTrainConfig.mouth_output: expected one of "
                              f"{', '.join(MOUTH_OUTPUTS)}, got {self.mouth_output!r}")
        if isinstance(self.render_gain, bool) or not isinstance(self.render_gain, (int, float)) \
                or not 0 < self.render_gain <= 100:
            raise ConfigError(f"AudioTrainConfig.render_gain: expected a number in (0, 100], got "
                              f"{self.render_gain!r}")
        if self.sequence_frames < 2:
            raise ConfigError("AudioTrainConfig.sequence_frames: expected >= 2 (velocity needs two)")
        if isinstance(self.max_amplitude_gain, bool) \
                or not isinstance(self.max_amplitude_gain, (int, float)) \
                or self.max_amplitude_gain < 1:
            raise ConfigError(f"AudioTrainConfig.max_amplitude_gain: expected a number >= 1 (1: "
                              f"no amplitude matching), got {self.max_amplitude_gain!r}")
        for key in ("learning_rate", "weight_decay", "jacobian_weight", "velocity_weight",
                    "gain_jitter_db"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"AudioTrainConfig.{key}: expected a number >= 0, got {value!r}")
        if self.model.n_mels != self.features.n_mels or self.model.window != self.features.window_frames:
            raise ConfigError(f"AudioTrainConfig.model: n_mels / window ({self.model.n_mels}, "
                              f"{self.model.window}) must match the features' ({self.features.n_mels}, "
                              f"{self.features.window_frames})")
        _ = self.frame_rate  # validates fps

    @property
    def frame_rate(self) -> Fraction:
        try:
            fps = Fraction(self.fps)
        except (ValueError, ZeroDivisionError):
            raise ConfigError(f"AudioTrainConfig.fps: expected a frame rate like \"25\", got "
                              f"{self.fps!r}") from None
        if not 0 < fps <= 1000:
            raise ConfigError(f"AudioTrainConfig.fps: expected (0, 1000], got {self.fps!r}")
        return fps
