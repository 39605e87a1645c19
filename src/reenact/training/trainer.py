"""Self-supervised first-order-motion training: source and driving frames from the same clip, the
driving frame reconstructed from the source through the whole model.

A run directory holds:
    train_config.json   the TrainConfig (a resumed run must match it)
    state.pt            weights, optimizer and scheduler state, step (torch.save; read back with
                        weights_only=True); never part of a release checkpoint
    checkpoint/         the latest weights as a release checkpoint (config.json + safetensors)
    log.jsonl           one line of losses every `log_every` steps
    previews/           step-NNNNNNN.png grids every `preview_every` steps
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from reenact.checkpoint import save_checkpoint
from reenact.config import MotionModelConfig, config_to_dict
from reenact.containers import Keypoints, Rendered
from reenact.models import MotionModel
from reenact.preprocess.anchors import (
    EYE_ANCHORS,
    MOUTH_ANCHORS,
    anchor_keypoints,
    pixels_to_normalized,
    replace_anchors,
)
from reenact.presets import get_preset
from reenact.training import losses
from reenact.training.data import AugmentConfig, FrameDataset, augment_pair_with_landmarks
from reenact.training.discriminator import DiscriminatorConfig, PatchDiscriminator
from reenact.training.preview import preview_grid
from reenact.training.transforms import TpsConfig, TpsWarp

logger = logging.getLogger(__name__)

STATE_FILE = "state.pt"
CONFIG_FILE = "train_config.json"
LOG_FILE = "log.jsonl"


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


@dataclass(frozen=True)
class StepOutputs:
    """What one reconstruction forward pass produces; the losses are computed from it.

    kp_source, kp_driving: the detector's keypoints. anchors_source, anchors_driving: anchored
    models only, the keypoints of the frames' landmarks (NaN rows where no face was found); the
    render used them in place of the detector's anchored keypoints where they are finite.
    """

    kp_source: Keypoints
    kp_driving: Keypoints
    kp_transformed: Keypoints
    rendered: Rendered
    anchors_source: Keypoints | None = None
    anchors_driving: Keypoints | None = None


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
        if groups and source_landmarks is not None and driving_landmarks is not None:
            anchors_source = anchor_keypoints(source_landmarks, groups)
            anchors_driving = anchor_keypoints(driving_landmarks, groups)
            render_source = replace_anchors(kp_source, anchors_source)
            render_driving = replace_anchors(kp_driving, anchors_driving)
        rendered = self.model(source, render_source, render_driving, return_deformed=True)
        return StepOutputs(kp_source, kp_driving, kp_transformed, rendered, anchors_source,
                           anchors_driving)


@dataclass(frozen=True)
class TrainingBatch:
    """source, driving: (B, C, S, S) in [0, 1], augmented; *_landmarks: (B, 68, 2) normalized crop
    coordinates (NaN rows: no face), only for anchored models."""

    source: Tensor
    driving: Tensor
    source_landmarks: Tensor | None = None
    driving_landmarks: Tensor | None = None


def _slice(kp: Keypoints, start: int, stop: int) -> Keypoints:
    return kp[start:stop]


def reconstruction_losses(outputs: StepOutputs, driving: Tensor, warp: TpsWarp,
                          pyramid: losses.ImagePyramid, vgg: losses.Vgg19Features | None,
                          weights: LossWeights, has_jacobian: bool,
                          anchor_groups: tuple[str, ...] = ()) -> dict[str, Tensor]:
    """Weighted loss terms of one step (the adversarial ones are added by the trainer)."""
    predicted = pyramid(outputs.rendered.prediction.float())
    target = pyramid(driving.float())
    if vgg is not None:
        perceptual = losses.vgg_pyramid_loss(vgg, predicted, target)
    else:
        pixel_weight = None
        if outputs.anchors_driving is not None and weights.face_parts > 0:
            pixel_weight = losses.face_part_weight(
                outputs.anchors_driving, outputs.rendered.prediction.shape[-1], weights.face_parts,
                parts=face_part_indices(outputs.anchors_driving.num_kp, anchor_groups))
        perceptual = losses.pixel_pyramid_loss(predicted, target, pixel_weight)
    terms = {"perceptual": weights.perceptual * perceptual,
             "equivariance_value": weights.equivariance_value
             * losses.equivariance_value_loss(outputs.kp_driving, outputs.kp_transformed, warp)}
    if has_jacobian:
        terms["equivariance_jacobian"] = weights.equivariance_jacobian * \
            losses.equivariance_jacobian_loss(outputs.kp_driving, outputs.kp_transformed, warp)
    if outputs.anchors_source is not None and outputs.anchors_driving is not None:
        terms["anchor"] = weights.anchor * (
            losses.anchor_loss(outputs.kp_source, outputs.anchors_source)
            + losses.anchor_loss(outputs.kp_driving, outputs.anchors_driving)) / 2
    return terms


def face_part_indices(num_anchors: int, groups: tuple[str, ...]) -> list[int]:
    """Indices of the mouth and eye anchors among `groups`."""
    assert len(groups) == num_anchors
    return [i for i, name in enumerate(groups) if name in MOUTH_ANCHORS + EYE_ANCHORS]


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def init_distributed_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); gloo on CPU, nccl on CUDA."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


class Trainer:
    """Owns the model, optimizers, data sampling, checkpoints, resume, logging and previews."""

    def __init__(self, config: TrainConfig, data: FrameDataset, run_dir: str | os.PathLike, *,
                 device: torch.device | str = "cpu", vgg_path: Path | None = None,
                 init_from: str | os.PathLike | None = None) -> None:
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.rank, self.world_size = _rank(), _world_size()
        model_config: MotionModelConfig = get_preset(config.preset)
        if data.image_size != model_config.image_size:
            raise ValueError(f"data: prepared at {data.image_size}x{data.image_size} but preset "
                             f"{config.preset} expects {model_config.image_size}; run "
                             f"`reenact prepare-data --size {model_config.image_size}`")
        torch.manual_seed(config.seed)
        self.model = MotionModel(model_config)
        if init_from is not None:
            warm_start(self.model, init_from)
        self.model.to(self.device).train()
        self.step = 0
        self.forward_module: nn.Module = Reconstruction(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate,
                                          betas=config.betas)
        self.discriminator: PatchDiscriminator | None = None
        self.disc_module: nn.Module | None = None
        self.disc_optimizer: torch.optim.Optimizer | None = None
        if config.adversarial:
            self.discriminator = PatchDiscriminator(config.discriminator,
                                                    model_config.num_channels).to(self.device)
            self.disc_module = self.discriminator
            self.disc_optimizer = torch.optim.Adam(self.discriminator.parameters(),
                                                   lr=config.learning_rate, betas=config.betas)
        self.pyramid = losses.ImagePyramid(config.scales, model_config.num_channels).to(self.device)
        self.vgg = losses.load_vgg19(vgg_path)
        if self.vgg is not None:
            self.vgg.to(self.device)
        if self.rank == 0:
            logger.info("reconstruction loss: %s", losses.describe_perceptual(self.vgg))
        self._prepare_run_dir()
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_module = DistributedDataParallel(self.forward_module, device_ids=ids)
            if self.discriminator is not None:
                self.disc_module = DistributedDataParallel(self.discriminator, device_ids=ids)

    # ---- run directory, resume -------------------------------------------------------------
    def _prepare_run_dir(self) -> None:
        config_path = self.run_dir / CONFIG_FILE
        if config_path.is_file():
            saved = read_train_config(config_path)
            if _resume_key(saved) != _resume_key(self.config):
                raise ValueError(f"{self.run_dir}: holds a run with a different configuration "
                                 f"({config_path}); use a new run directory, or the same options "
                                 "(only --steps may change)")
            if (self.run_dir / STATE_FILE).is_file():
                self._load_state()
        elif self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise ValueError(f"{self.run_dir}: exists and is not a training run directory")
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(config_path, (json.dumps(self.config.to_dict(), indent=2) + "\n").encode())

    def _load_state(self) -> None:
        path = self.run_dir / STATE_FILE
        try:
            with warnings.catch_warnings():  # torch warns about the pickle protocol of garbage
                warnings.simplefilter("ignore", UserWarning)
                state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as error:  # torch raises anything on a damaged file
            text = str(error).strip()
            reason = (text.split("WeightsUnpickler error:", 1)[1].strip().split("\n\n")[0]
                      if "WeightsUnpickler error:" in text else text.split("\n")[0])
            raise ValueError(f"{path}: not a readable training state ({type(error).__name__}: "
                             f"{reason}); restore it, or start the run over in a new "
                             f"directory") from None
        if not isinstance(state, dict) or not {"model", "optimizer", "step"} <= set(state):
            raise ValueError(f"{path}: not a training state (expected model, optimizer and step)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.discriminator is not None and "discriminator" in state:
            self.discriminator.load_state_dict(state["discriminator"])
            assert self.disc_optimizer is not None
            self.disc_optimizer.load_state_dict(state["disc_optimizer"])
        self.step = int(state["step"])
        logger.info("resumed %s at step %d", self.run_dir, self.step)

    def save(self) -> None:
        """Write state.pt and the release checkpoint (rank 0 only)."""
        if self.rank != 0:
            return
        state: dict[str, Any] = {"step": self.step, "model": self.model.state_dict(),
                                 "optimizer": self.optimizer.state_dict()}
        if self.discriminator is not None and self.disc_optimizer is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["disc_optimizer"] = self.disc_optimizer.state_dict()
        temporary = self.run_dir / f".{STATE_FILE}.partial"
        torch.save(state, temporary)
        os.replace(temporary, self.run_dir / STATE_FILE)
        was_training = self.model.training
        self.model.eval()
        save_checkpoint(self.model, self.run_dir / "checkpoint", overwrite=True, metadata={
            "preset": self.config.preset, "training_steps": self.step,
            "batch_size": self.config.batch_size * self.world_size,
            "reconstruction_loss": losses.describe_perceptual(self.vgg)})
        self.model.train(was_training)

    # ---- one step ------------------------------------------------------------------------
    def learning_rate(self, step: int) -> float:
        drops = sum(step >= m * self.config.steps for m in self.config.lr_milestones)
        return self.config.learning_rate * 0.1 ** drops

    def _batch(self, rng: np.random.Generator, generator: torch.Generator) -> TrainingBatch:
        pairs = self.data.sample_pairs_with_landmarks(self.config.batch_size, rng)
        source = torch.from_numpy(pairs.source).permute(0, 3, 1, 2).float().div_(255)
        driving = torch.from_numpy(pairs.driving).permute(0, 3, 1, 2).float().div_(255)
        size = self.data.image_size
        source, driving, source_landmarks, driving_landmarks = augment_pair_with_landmarks(
            source, driving, torch.from_numpy(pairs.source_landmarks),
            torch.from_numpy(pairs.driving_landmarks), self.config.augment, generator)
        if not self.model.config.anchors.groups:
            return TrainingBatch(source.to(self.device), driving.to(self.device))
        assert source_landmarks is not None and driving_landmarks is not None
        return TrainingBatch(
            source.to(self.device), driving.to(self.device),
            torch.from_numpy(pixels_to_normalized(source_landmarks.numpy(), size)).float().to(self.device),
            torch.from_numpy(pixels_to_normalized(driving_landmarks.numpy(), size)).float().to(self.device))

    def _autocast(self) -> Any:
        enabled = self.config.precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def train_step(self, source: Tensor, driving: Tensor, generator: torch.Generator,
                   source_landmarks: Tensor | None = None, driving_landmarks: Tensor | None = None
                   ) -> tuple[dict[str, float], StepOutputs]:
        """One optimizer step. *_landmarks: (B, 68, 2) normalized crop coordinates, NaN rows where
        unknown; used by anchored models only."""
        lr = self.learning_rate(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        warp = TpsWarp.random(source.shape[0], self.config.tps, generator=generator,
                              device=self.device)
        transformed = warp.warp_image(driving, align_corners=self.model.config.align_corners)
        with self._autocast():
            outputs: StepOutputs = self.forward_module(source, driving, transformed,
                                                       source_landmarks, driving_landmarks)
            terms = reconstruction_losses(
                outputs, driving, warp, self.pyramid, self.vgg, self.config.weights,
                self.model.config.estimate_jacobian, self.model.config.anchors.groups)
            if self.disc_module is not None:
                terms.update(self._generator_adversarial(outputs, driving))
        total = sum(terms.values())
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()  # type: ignore[union-attr]
        self.optimizer.step()
        values = {name: float(value.detach()) for name, value in terms.items()}
        if self.disc_module is not None:
            values["discriminator"] = self._discriminator_step(outputs, driving, lr)
        values["total"] = float(total.detach())  # type: ignore[union-attr]
        if not all(math.isfinite(v) for v in values.values()):
            raise FloatingPointError(f"step {self.step}: a loss is not finite: {values}")
        self.step += 1
        return values, outputs

    def _generator_adversarial(self, outputs: StepOutputs, driving: Tensor) -> dict[str, Tensor]:
        assert self.disc_module is not None and self.discriminator is not None
        self.discriminator.requires_grad_(False)
        fake_features, fake_score = self.disc_module(outputs.rendered.prediction)
        with torch.no_grad():
            real_features, _ = self.disc_module(driving)
        self.discriminator.requires_grad_(True)
        weights = self.config.weights
        return {"generator_gan": weights.generator_gan * losses.generator_gan_loss([fake_score]),
                "feature_matching": weights.feature_matching
                * losses.feature_matching_loss(real_features, fake_features)}

    def _discriminator_step(self, outputs: StepOutputs, driving: Tensor, lr: float) -> float:
        assert self.disc_module is not None and self.disc_optimizer is not None
        for group in self.disc_optimizer.param_groups:
            group["lr"] = lr
        with self._autocast():
            _, real_score = self.disc_module(driving)
            _, fake_score = self.disc_module(outputs.rendered.prediction.detach())
            loss = losses.discriminator_gan_loss([real_score], [fake_score])
        self.disc_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.disc_optimizer.step()
        return float(loss.detach())

    # ---- the loop ------------------------------------------------------------------------
    def fit(self, *, progress: bool = True) -> dict[str, float]:
        """Train up to `config.steps`; returns the last step's losses."""
        from tqdm import tqdm

        rng = np.random.default_rng([self.config.seed, self.rank, self.step])
        generator = torch.Generator().manual_seed(
            int(rng.integers(2 ** 62)))
        values: dict[str, float] = {}
        started, window_start, window_steps = time.perf_counter(), time.perf_counter(), 0
        bar = tqdm(total=self.config.steps, initial=self.step, unit="step", desc="training",
                   disable=not progress or self.rank != 0, dynamic_ncols=True)
        try:
            while self.step < self.config.steps:
                batch = self._batch(rng, generator)
                source, driving = batch.source, batch.driving
                values, outputs = self.train_step(source, driving, generator, batch.source_landmarks,
                                                  batch.driving_landmarks)
                window_steps += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()
                                 if k in ("total", "perceptual", "equivariance_value")})
                if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                    elapsed = time.perf_counter() - window_start
                    self._log(values, window_steps * self.config.batch_size * self.world_size
                              / max(elapsed, 1e-9))
                    window_start, window_steps = time.perf_counter(), 0
                if self.step % self.config.preview_every == 0 or self.step == self.config.steps:
                    self._preview(source, driving, outputs)
                if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps:
                    self.save()
        finally:
            bar.close()
        logger.info("trained to step %d in %.0f s", self.step, time.perf_counter() - started)
        return values

    def _log(self, values: dict[str, float], samples_per_second: float) -> None:
        if self.rank != 0:
            return
        record = {"step": self.step, "time": time.time(), "lr": self.learning_rate(self.step - 1),
                  "samples_per_s": round(samples_per_second, 3),
                  "losses": {k: round(v, 6) for k, v in values.items()}}
        with open(self.run_dir / LOG_FILE, "a") as log:
            log.write(json.dumps(record) + "\n")

    def _preview(self, source: Tensor, driving: Tensor, outputs: StepOutputs) -> None:
        if self.rank != 0:
            return
        from reenact.provenance.writers import write_marked_image

        rendered = outputs.rendered
        grid = preview_grid(source, driving, outputs.kp_source, outputs.kp_driving,
                            rendered.prediction, rendered.deformed, rendered.motion.occlusion_map)
        directory = self.run_dir / "previews"
        directory.mkdir(exist_ok=True)
        write_marked_image(directory / f"step-{self.step:07d}.png", grid)


def warm_start(model: MotionModel, checkpoint: str | os.PathLike) -> None:
    """Copy the weights of a checkpoint into `model`, whose architecture may add layers (e.g. a new
    head): those start fresh, and are named in the log. An anchored model also starts from a model
    with its free keypoints only (`reenact.training.expand`). Any other mismatch is an error."""
    from reenact.checkpoint.format import CheckpointError, load_state_dicts, read_checkpoint_config

    states = load_state_dicts(checkpoint)
    old_config, _ = read_checkpoint_config(checkpoint)
    new_config = model.config
    if (new_config.anchors.num_anchors and not old_config.anchors.num_anchors
            and old_config.num_kp + new_config.anchors.num_anchors == new_config.num_kp):
        from reenact.training.expand import expand_to_anchors

        current = {name: getattr(model, name).state_dict() for name in states}
        states = expand_to_anchors(states, old_config, new_config, current)
        logger.info("%s: %d free keypoints become keypoints %d-%d after %d anchors", checkpoint,
                    old_config.num_kp, new_config.anchors.num_anchors, new_config.num_kp - 1,
                    new_config.anchors.num_anchors)
    fresh = []
    for name, state in states.items():
        component: nn.Module = getattr(model, name)
        expected = component.state_dict()
        unexpected = sorted(set(state) - set(expected))
        wrong = sorted(k for k in state if k in expected and state[k].shape != expected[k].shape)
        if unexpected or wrong:
            raise CheckpointError(f"{checkpoint}: {name} does not fit preset's architecture "
                                  f"(unexpected: {unexpected[:5]}, wrong shapes: {wrong[:5]})")
        component.load_state_dict(state, strict=False)
        fresh += [f"{name}.{k}" for k in sorted(set(expected) - set(state))]
    logger.info("started from %s%s", checkpoint,
                f"; new layers start fresh: {', '.join(fresh)}" if fresh else "")


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


def _resume_key(config: TrainConfig) -> dict[str, Any]:
    """The parts of a config a resumed run must share (the step budget may grow)."""
    data = config.to_dict()
    for key in ("steps", "log_every", "preview_every", "checkpoint_every"):
        data.pop(key)
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def model_config_dict(config: TrainConfig) -> dict[str, Any]:
    return config_to_dict(get_preset(config.preset))
