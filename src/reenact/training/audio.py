"""Training the audio model (`reenact train-audio`, run by `reenact.training.audio_run`): a run
directory RUN holds

    RUN/config.json              the run's AudioTrainConfig
    RUN/cache/*.npz              per-video extracted data (reused by later runs on the same videos)
    RUN/log.jsonl                one JSON object per logged step (losses, learning rate, time)
    RUN/training_state.pt        model + optimizer + step, to resume (`--resume`); never released
    RUN/audio-checkpoint/        the release checkpoint (`reenact.checkpoint.audio_format`)

Targets (`target`): "keypoints" (default): the keypoint motion from the rest face, all of it (head
pose and detector noise included, which audio cannot predict: with minutes of data the model fits
noise); "mouth": the part of each frame's keypoint motion that its mouth opening and width explain
(`mouth_targets`: the landmark measures from their rest level, times the least-squares directions
fitted on the raw motion); "opening": the opening's part alone (what `talk` and `dub` read).
`augment` hears each sequence as another speaker in another room
(`reenact.training.audio_augment`); the model's `lookahead` lets it hear that many frames past the
one it moves (its windows run past the targets; `_predict` drops its first outputs).

Loss (pure function of prediction and batch): L1 of the motion error in units of each feature's
training spread (`motion_scale`; one common spread for "mouth" targets), keypoint values and
jacobian changes weighed separately, plus an L1 on frame-to-frame velocity so that the mouth moves
as briskly as the data, not as a smoothed average.

Amplitude (`amplitude_gain`): a regression from audio predicts the expected mouth, which opens
less than any real one (with ~1 minute of speech, the model's mouth-opening component has a third
to a half of the data's spread on new speech). The released checkpoint's output is scaled so that
its mouth-opening component has the data's spread on the training and validation clips, at most
`max_amplitude_gain` times (1 switches this off); the gain is recorded in its metadata.

Mouth output (`mouth_output`, `render_gain`): "all" (default) releases the model as trained;
"open" keeps only its mouth-opening component (the coefficient on the mouth_open direction, times
that direction), folded into the head, so nothing but the opening and closing of the mouth is
driven by speech: no lip pouting or stretching from the other components, which a small model
predicts poorly. `render_gain` multiplies the released output once more, for a motion model that
renders less of the mouth than its keypoints move (an earlier release needed 3; see its model card).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from reenact.checkpoint.audio_format import AudioCheckpoint, save_audio_checkpoint
from reenact.config import config_to_dict
from reenact.models.audio_to_motion import AudioToMotion
from reenact.motion import FEATURES_PER_KEYPOINT
from reenact.training.audio_config import AudioTrainConfig
from reenact.training.audio_data import (
    AudioBatch,
    TalkingClip,
    feature_statistics,
    fit_directions,
    motion_scale,
    mouth_targets,
    sample_batch,
    whole_clip_batch,
)

logger = logging.getLogger(__name__)

RUN_CONFIG_FILE = "config.json"
LOG_FILE = "log.jsonl"
STATE_FILE = "training_state.pt"
CHECKPOINT_DIR = "audio-checkpoint"


# -- loss ---------------------------------------------------------------------------------------


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of (B, T, ...) values over the frames where mask (B, T) is true."""
    weight = mask.to(values.dtype).view(*mask.shape, *([1] * (values.ndim - 2)))
    count = weight.sum() * (values[0, 0].numel())
    return (values.abs() * weight).sum() / count.clamp(min=1)


def audio_motion_loss(prediction: Tensor, batch: AudioBatch, scale: Tensor,
                      config: AudioTrainConfig) -> dict[str, Tensor]:
    """prediction, batch.motion: (B, T, K * 6); scale: (K * 6,). Returns the parts and `total`."""
    error = (prediction - batch.motion) / scale  # (B, T, D) in units of the data's spread
    per_kp = error.view(*error.shape[:2], -1, FEATURES_PER_KEYPOINT)  # (B, T, K, 6)
    keypoints = _masked_mean(per_kp[..., :2], batch.mask)
    jacobian = _masked_mean(per_kp[..., 2:], batch.mask)
    both = batch.mask[:, 1:] & batch.mask[:, :-1]
    velocity = _masked_mean(error[:, 1:] - error[:, :-1], both)
    total = keypoints + config.jacobian_weight * jacobian + config.velocity_weight * velocity
    return {"total": total, "keypoints": keypoints, "jacobian": jacobian, "velocity": velocity}


# -- trainer ------------------------------------------------------------------------------------


class AudioTrainer:
    """Owns the model, optimizer, logging, resume and the final checkpoint of one run."""

    def __init__(self, config: AudioTrainConfig, clips: list[TalkingClip], run_dir: str | Path, *,
                 motion_model: dict[str, Any], device: torch.device,
                 validation: list[TalkingClip] | None = None) -> None:
        if not clips:
            raise ValueError("data: no usable training videos (each needs a face and an audio track)")
        self.config = config
        validation = validation or []
        # the directions come from the raw keypoint motion, before any target replaces it
        self.directions, self.directions_fit = fit_directions(clips + validation,
                                                              motion_scale(clips + validation))
        logger.info("directions fitted on %d frames: %.1f%% of the motion variance explained by "
                    "mouth opening, mouth width and eye closure", self.directions_fit["frames"],
                    100 * self.directions_fit["explained_variance"])
        if config.target in ("mouth", "opening"):
            width = config.target == "mouth"
            clips = [mouth_targets(c, self.directions, config.rest_quantile, width=width)
                     for c in clips]
            validation = [mouth_targets(c, self.directions, config.rest_quantile, width=width)
                          for c in validation]
        self.clips = clips
        self.validation = validation
        self.run_dir = Path(run_dir)
        self.motion_model = motion_model
        self.device = device
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.model = AudioToMotion(config.model)
        mean, std = feature_statistics(clips)
        self.scale = motion_scale(clips, uniform=config.target != "keypoints")
        with torch.no_grad():
            self.model.feature_mean.copy_(torch.from_numpy(mean))
            self.model.feature_std.copy_(torch.from_numpy(std))
            self.model.motion_scale.copy_(torch.from_numpy(self.scale))
        self.model.to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        self.step = 0

    def learning_rate(self) -> float:
        """Cosine decay to 5% over the run, after 100 warm-up steps."""
        warm = min(1.0, (self.step + 1) / 100)
        progress = self.step / max(self.config.steps, 1)
        return self.config.learning_rate * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    def _to_device(self, batch: AudioBatch) -> AudioBatch:
        return AudioBatch(batch.windows.to(self.device), batch.motion.to(self.device),
                          batch.mask.to(self.device))

    def _predict(self, batch: AudioBatch) -> Tensor:
        """(B, T, D) the model's motion for the batch's target frames: its outputs after the
        first `lookahead` steps (the windows run that far past the targets)."""
        prediction, _ = self.model.forward_flat(batch.windows)
        return prediction[:, self.config.model.lookahead:]

    def train_step(self) -> dict[str, float]:
        self.model.train()
        config = self.config
        batch = self._to_device(sample_batch(self.clips, config.features, config.frame_rate,
                                             config.batch_size, config.sequence_frames, self.rng,
                                             config.gain_jitter_db,
                                             lookahead=config.model.lookahead,
                                             augment=config.augment))
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        prediction = self._predict(batch)
        losses = audio_motion_loss(prediction, batch, self.model.motion_scale, config)
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return {name: float(value.detach()) for name, value in losses.items()}

    @torch.no_grad()
    def validate(self) -> float | None:
        if not self.validation:
            return None
        self.model.eval()
        totals = []
        for clip in self.validation:
            batch = self._to_device(whole_clip_batch(clip, self.config.features,
                                                     self.config.frame_rate,
                                                     lookahead=self.config.model.lookahead))
            prediction = self._predict(batch)
            totals.append(float(audio_motion_loss(prediction, batch, self.model.motion_scale,
                                                  self.config)["total"]))
        return float(np.mean(totals))

    def save_state(self) -> None:
        """Training state (weights, optimizer, step, rng) for --resume; not a release checkpoint."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "step": self.step, "rng": json.dumps(self.rng.bit_generator.state)}
        temp = self.run_dir / f".{STATE_FILE}.partial"
        torch.save(state, temp)
        temp.replace(self.run_dir / STATE_FILE)

    def load_state(self) -> bool:
        path = self.run_dir / STATE_FILE
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.rng.bit_generator.state = json.loads(state["rng"])
        logger.info("resumed %s at step %d", self.run_dir, self.step)
        return True

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / LOG_FILE, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def fit(self, progress: bool = True) -> Path:
        """Train to `config.steps`, then write RUN/audio-checkpoint; returns its path."""
        from tqdm import tqdm

        started = time.perf_counter()
        with tqdm(total=self.config.steps, initial=self.step, unit="step", desc="train-audio",
                  disable=not progress) as bar:
            while self.step < self.config.steps:
                losses = self.train_step()
                bar.update(1)
                bar.set_postfix(loss=f"{losses['total']:.3f}")
                if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                    record = {"step": self.step, **losses, "lr": self.learning_rate(),
                              "seconds": round(time.perf_counter() - started, 2)}
                    validation = self.validate()
                    if validation is not None:
                        record["validation"] = validation
                    self._log(record)
                if self.step % self.config.save_every == 0:
                    self.save_state()
        self.save_state()
        return self.write_checkpoint()

    @torch.no_grad()
    def amplitude_gain(self) -> tuple[float, dict[str, float]]:
        """The factor that gives the prediction's mouth-opening component the spread of the
        targets' (over every clip's frames with a face), clipped to [1, max_amplitude_gain].

        Returns (gain, {"target_std", "predicted_std", "unclipped"}).
        """
        self.model.eval()
        targets, predictions = [], []
        for clip in self.clips + self.validation:
            batch = self._to_device(whole_clip_batch(clip, self.config.features,
                                                     self.config.frame_rate,
                                                     lookahead=self.config.model.lookahead))
            prediction = self._predict(batch)
            keep = clip.valid
            predictions.append(prediction[0].double().cpu().numpy()[keep])
            targets.append(clip.motion[keep].astype(np.float64))
        # each frame's coefficients on the directions (least squares): the mouth-opening one
        opening = self._opening_row()

        def coefficient(motion: np.ndarray) -> np.ndarray:
            return motion @ opening

        target_std = float(coefficient(np.concatenate(targets)).std())
        predicted_std = float(coefficient(np.concatenate(predictions)).std())
        unclipped = target_std / predicted_std if predicted_std > 0 else 1.0
        gain = float(np.clip(unclipped, 1.0, self.config.max_amplitude_gain))
        return gain, {"target_std": round(target_std, 5), "predicted_std": round(predicted_std, 5),
                      "unclipped": round(unclipped, 3)}

    def _opening_row(self) -> np.ndarray:
        """(D,) r: a flat motion m's least-squares coefficient on the mouth_open direction, given
        all the directions, is m @ r."""
        basis = self.directions.vectors.double().numpy()  # (directions, D)
        return np.linalg.pinv(basis.T)[list(self.directions.names).index("mouth_open")]

    def opening_map(self, gain: float) -> np.ndarray:
        """(D, D) M: `flat @ M` is each frame's mouth-opening coefficient times the mouth_open
        direction, times gain * render_gain (the "open" release)."""
        opening = self.directions.vector("mouth_open").double().numpy()
        return np.outer(self._opening_row(), opening) * (gain * self.config.render_gain)

    def write_checkpoint(self) -> Path:
        directions, stats = self.directions, self.directions_fit
        model = AudioToMotion(self.config.model)
        model.load_state_dict({k: v.cpu() for k, v in self.model.state_dict().items()})
        gain, amplitude = self.amplitude_gain()
        if self.config.mouth_output == "all":
            with torch.no_grad():  # the output is head(...) * motion_scale: scale it there
                model.motion_scale.mul_(gain * self.config.render_gain)
        else:
            fold_output_map(model, torch.from_numpy(self.opening_map(gain)))
        logger.info("mouth-opening spread: data %.4f, prediction %.4f: output scaled by %.2f "
                    "(and %.2f for rendering; mouth output: %s)", amplitude["target_std"],
                    amplitude["predicted_std"], gain, self.config.render_gain,
                    self.config.mouth_output)
        metadata = {"steps": self.step, "videos": [c.name for c in self.clips],
                    "validation_videos": [c.name for c in self.validation],
                    "directions_fit": stats, "train_config": config_to_dict(self.config),
                    "amplitude_gain": round(gain, 4), "amplitude": amplitude,
                    "mouth_output": self.config.mouth_output,
                    "render_gain": self.config.render_gain}
        checkpoint = AudioCheckpoint(model=model.eval(), features=self.config.features,
                                     fps=self.config.frame_rate, directions=directions,
                                     motion_model=self.motion_model, metadata=metadata)
        return save_audio_checkpoint(checkpoint, self.run_dir / CHECKPOINT_DIR, overwrite=True)


@torch.no_grad()
def fold_output_map(model: AudioToMotion, matrix: Tensor) -> None:
    """Make `model`'s flat output `flat @ matrix` ((K * 6, K * 6)) from now on, with no extra work
    at run time: the map goes into the head's weight and bias, and `motion_scale` becomes 1."""
    size = model.config.motion_features
    if tuple(matrix.shape) != (size, size):
        raise ValueError(f"matrix: expected ({size}, {size}), got {tuple(matrix.shape)}")
    head = model.head
    mapped = matrix.double().T * model.motion_scale.double()  # (out, in) @ diag(scale)
    head.weight.copy_((mapped @ head.weight.double()).to(head.weight.dtype))
    head.bias.copy_((mapped @ head.bias.double()).to(head.bias.dtype))
    model.motion_scale.fill_(1.0)
