"""Audio to keypoint motion: a per-frame mel-window encoder and a GRU over video frames.

    windows (B, T, W, n_mels) log-mel dB
      -> standardize (stored feature statistics) -> conv encoder per frame -> (B, T, C)
      -> GRU over frames (causal; the windows look `context` mel frames ahead) -> (B, T, H)
      -> linear head * stored motion scale -> flat motion (B, T, K * 6)
      -> KeypointMotion: displacement (B, T, K, 2), jacobian change (B, T, K, 2, 2)

The motion is relative to the face at rest (mouth closed), in the keypoint space of the motion
model the audio model was trained against (see `reenact.motion`). Being causal over frames, a long
clip can be run in chunks that carry the GRU state: the result equals one pass over the whole clip.

Lookahead (`lookahead` frames): the lips move before the sound they shape (a /p/ closes, a vowel
opens, a tenth of a second or more ahead), which a window of +-`context` mel frames (80 ms at the
default) only partly hears. A model with lookahead L is trained so that its output at step t + L
is the motion of frame t: run over frames 0 .. T + L - 1 (the frames past the end are silence), its
outputs L .. T + L - 1 are frames 0 .. T - 1. The GRU stays causal, so chunked runs still equal
one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from reenact.config import ConfigError
from reenact.motion import FEATURES_PER_KEYPOINT, KeypointMotion

# frames of lookahead a config may ask for (2 s at 25 fps: far more than coarticulation needs)
MAX_LOOKAHEAD = 50


@dataclass(frozen=True)
class AudioToMotionConfig:
    """num_kp: keypoints of the motion model; n_mels, window: the feature shape
    (`AudioFeatureConfig.n_mels` and `.window_frames`); channels: of the window encoder;
    hidden_size, num_layers, dropout: of the GRU (dropout between GRU layers, training only);
    lookahead: video frames the output lags its input (see the module docstring; 0 in
    checkpoints written before it existed)."""

    num_kp: int = 10
    n_mels: int = 80
    window: int = 17
    channels: int = 128
    hidden_size: int = 192
    num_layers: int = 2
    dropout: float = 0.1
    lookahead: int = 0

    def __post_init__(self) -> None:
        for key, minimum in (("num_kp", 1), ("n_mels", 1), ("window", 1), ("channels", 1),
                             ("hidden_size", 1), ("num_layers", 1), ("lookahead", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"AudioToMotionConfig.{key}: expected an integer >= {minimum}, "
                                  f"got {value!r}")
        if self.lookahead > MAX_LOOKAHEAD:
            raise ConfigError(f"AudioToMotionConfig.lookahead: expected at most {MAX_LOOKAHEAD} "
                              f"frames, got {self.lookahead!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0 <= self.dropout < 1:
            raise ConfigError(f"AudioToMotionConfig.dropout: expected a number in [0, 1), got "
                              f"{self.dropout!r}")

    @property
    def motion_features(self) -> int:
        return self.num_kp * FEATURES_PER_KEYPOINT


class WindowEncoder(nn.Module):
    """(N, W, n_mels) one mel window per frame -> (N, C): 1-D convolutions over the window's time."""

    def __init__(self, n_mels: int, channels: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv1d(n_mels, channels, 3, padding=1), nn.GELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU())
        self.project = nn.Linear(channels, channels)

    def forward(self, windows: Tensor) -> Tensor:
        features = self.layers(windows.transpose(1, 2))  # (N, C, W / 4)
        return self.project(features.mean(dim=2))  # (N, C)


class AudioToMotion(nn.Module):
    """Mel windows of consecutive video frames -> keypoint motion per frame.

    Buffers (saved with the weights, set from the training data): `feature_mean`, `feature_std`
    (n_mels,) standardize the log-mel input; `motion_scale` (K * 6,) is the typical size of each
    motion feature, so that the head works in unit-scale numbers.
    """

    def __init__(self, config: AudioToMotionConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = WindowEncoder(config.n_mels, config.channels)
        self.rnn = nn.GRU(config.channels, config.hidden_size, num_layers=config.num_layers,
                          batch_first=True, dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.head = nn.Linear(config.hidden_size, config.motion_features)
        with torch.no_grad():  # start near "no motion" without cutting the gradient to the encoder
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
        self.register_buffer("feature_mean", torch.full((config.n_mels,), -40.0))
        self.register_buffer("feature_std", torch.full((config.n_mels,), 20.0))
        self.register_buffer("motion_scale", torch.full((config.motion_features,), 0.01))

    def _check(self, windows: Tensor) -> None:
        expected = (self.config.window, self.config.n_mels)
        if windows.ndim != 4 or tuple(windows.shape[2:]) != expected:
            raise ValueError(f"windows: expected (B, T, {expected[0]}, {expected[1]}) log-mel "
                             f"windows, got {tuple(windows.shape)}")

    def forward_flat(self, windows: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """windows (B, T, W, n_mels) -> (flat motion (B, T, K * 6), GRU state (layers, B, H))."""
        self._check(windows)
        batch, frames = windows.shape[:2]
        normalized = (windows - self.feature_mean) / self.feature_std
        encoded = self.encoder(normalized.flatten(0, 1)).view(batch, frames, -1)  # (B, T, C)
        hidden, state = self.rnn(encoded, state)  # (B, T, H)
        return self.head(hidden) * self.motion_scale, state

    def forward(self, windows: Tensor, state: Tensor | None = None) -> tuple[KeypointMotion, Tensor]:
        """windows (B, T, W, n_mels) log-mel dB; state: from the previous chunk, or None.

        Returns the motion of each frame (displacement (B, T, K, 2), jacobian change
        (B, T, K, 2, 2)) and the GRU state to continue with.
        """
        flat, state = self.forward_flat(windows, state)
        return KeypointMotion.from_flat(flat, self.config.num_kp), state
