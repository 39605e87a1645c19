"""Self-supervised first-order-motion training: source and driving frames from the same clip, the
driving frame reconstructed from the source through the whole model.

The run's configuration is `reenact.training.train_config`; one step's forward pass and loss
terms are `reenact.training.reconstruction`. A run directory holds:
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
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from reenact.checkpoint import save_checkpoint
from reenact.config import MotionModelConfig
from reenact.models import MotionModel
from reenact.preprocess.anchors import pixels_to_normalized
from reenact.presets import get_preset
from reenact.training import losses
from reenact.training.data import FrameDataset, augment_pair_with_landmarks
from reenact.training.discriminator import PatchDiscriminator
from reenact.training.preview import preview_grid
from reenact.training.mobilenet import load_mobilenet_v2
from reenact.training.reconstruction import (
    Reconstruction,
    StepOutputs,
    TrainingBatch,
    reconstruction_losses,
)
from reenact.training.train_config import TrainConfig, read_train_config, resume_key
from reenact.training.transforms import TpsWarp

logger = logging.getLogger(__name__)

STATE_FILE = "state.pt"
CONFIG_FILE = "train_config.json"
LOG_FILE = "log.jsonl"


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
                 init_from: str | os.PathLike | None = None,
                 backbone_path: str | os.PathLike | None = None) -> None:
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
        if config.contrast_pairs > 0 and not data.has_landmarks:
            raise ValueError("--contrast-pairs: the data has no landmarks to tell mouth and eye "
                             "openings by; prepare it again with `reenact prepare-data`")
        if config.weights.landmark_flow > 0 and not model_config.anchors.groups:
            raise ValueError(f"--landmark-flow: preset {config.preset} has no keypoints anchored "
                             "by landmarks (the term trains an anchored model's motion); use an "
                             "anchored preset such as face-128")
        if config.weights.landmark_flow > 0 and not data.has_landmarks:
            raise ValueError("--landmark-flow: the data has no landmarks; prepare it again with "
                             "`reenact prepare-data`")
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
        # ImageNet features for the "backbone" term (FileNotFoundError naming what to install)
        self.backbone = (load_mobilenet_v2(backbone_path).to(self.device)
                         if config.weights.backbone > 0 else None)
        if self.rank == 0:
            logger.info("reconstruction loss: %s", self.describe_loss())
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
            if resume_key(saved) != resume_key(self.config):
                raise ValueError(f"{self.run_dir}: holds a run with a different configuration "
                                 f"({config_path}); use a new run directory, or the same options "
                                 "(only --steps may change)")
            if (self.run_dir / STATE_FILE).is_file():
                self._load_state()
        elif self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise ValueError(f"{self.run_dir}: exists and is not a training run directory")
        if self.world_size > 1:
            # every rank has looked at the directory before rank 0 writes into it: a rank that looked
            # later could find rank 0's files half-written and take them for someone else's
            dist.barrier()
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
            "reconstruction_loss": self.describe_loss()})
        self.model.train(was_training)

    def describe_loss(self) -> str:
        """The reconstruction loss in words, as the log and the checkpoint's metadata give it."""
        described = losses.describe_perceptual(self.vgg)
        if self.backbone is not None:
            described += f" + {self.config.weights.backbone} x MobileNetV2 ImageNet features"
        return described

    # ---- one step ------------------------------------------------------------------------
    def learning_rate(self, step: int) -> float:
        drops = sum(step >= m * self.config.steps for m in self.config.lr_milestones)
        return self.config.learning_rate * 0.1 ** drops

    def _batch(self, rng: np.random.Generator, generator: torch.Generator) -> TrainingBatch:
        pairs = self.data.sample_pairs_with_landmarks(self.config.batch_size, rng,
                                                       contrast=self.config.contrast_pairs)
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
                self.model.config.estimate_jacobian, self.model.config.anchors.groups,
                self.backbone)
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


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    os.replace(temporary, path)
