"""A `reenact train-audio` run: its directory, the videos' data, the trainer, the checkpoint.

    reenact train-audio --data DIR --checkpoint MOTION -o RUN

prepares RUN (`prepare_run`; see `reenact.training.audio` for what it holds), extracts every
video's data once (`collect_clips`, cached in RUN/cache), holds out the last video for a validation
loss (`split_validation`) and trains (`reenact.training.audio.AudioTrainer`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path

import torch

from reenact.checkpoint.audio_format import keypoint_space_id
from reenact.config import config_from_dict, config_to_dict
from reenact.models import MotionModel
from reenact.preprocess.face import FaceAnalyzer
from reenact.training.audio import RUN_CONFIG_FILE, AudioTrainer
from reenact.training.audio_config import AudioTrainConfig
from reenact.training.audio_data import TalkingClip, find_videos, load_or_extract

logger = logging.getLogger(__name__)


def prepare_run(run_dir: Path, config: AudioTrainConfig, *, resume: bool) -> AudioTrainConfig:
    """Create RUN (refusing a non-empty one unless resuming); on resume, the run's own config."""
    config_path = run_dir / RUN_CONFIG_FILE
    if resume and config_path.is_file():
        saved = json.loads(config_path.read_text())
        steps = config.steps
        config = config_from_dict(AudioTrainConfig, saved)
        return dataclasses.replace(config, steps=max(steps, config.steps))
    if run_dir.exists() and any(p.name != "cache" for p in run_dir.iterdir()):
        raise ValueError(f"output: {run_dir} exists and holds a run (pass --resume to continue it, "
                         "or choose another directory)")
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
    return config


def collect_clips(videos: list[Path], motion: MotionModel, analyzer: FaceAnalyzer,
                  config: AudioTrainConfig, cache_dir: Path | None, device: torch.device,
                  progress: bool = True) -> list[TalkingClip]:
    from tqdm import tqdm

    from reenact.engine import TorchBackend

    backend = TorchBackend(motion, device=str(device))
    space = keypoint_space_id(motion)
    clips = []
    with contextlib.ExitStack() as stack:
        mesh = None
        if config.opening_measure == "facemesh":  # one tracker, reset per video
            from reenact.evaluation.facemesh import FaceMeshTracker

            mesh = stack.enter_context(FaceMeshTracker())
        for path in tqdm(videos, unit="video", desc="extracting", disable=not progress):
            clip = load_or_extract(path, cache_dir, space, backend=backend, analyzer=analyzer,
                                   features=config.features, fps=config.frame_rate,
                                   crop_margin=config.crop_margin,
                                   rest_quantile=config.rest_quantile,
                                   opening_measure=config.opening_measure, mesh=mesh)
            if clip is not None and clip.valid.sum() >= 2:
                clips.append(clip)
    return clips


def split_validation(clips: list[TalkingClip]) -> tuple[list[TalkingClip], list[TalkingClip]]:
    """With 4 or more videos, the last one (by name) is held out for a validation loss."""
    if len(clips) < 4:
        return clips, []
    return clips[:-1], clips[-1:]


def train_audio(data: str | Path, motion: MotionModel, run_dir: str | Path, *,
                config: AudioTrainConfig, analyzer: FaceAnalyzer, device: torch.device,
                motion_name: str = "", resume: bool = False, progress: bool = True) -> Path:
    """Extract the data, train, write RUN/audio-checkpoint; returns its path."""
    run_dir = Path(run_dir)
    videos = find_videos(data)
    if config.model.num_kp != motion.config.num_kp:
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, num_kp=motion.config.num_kp))
    config = prepare_run(run_dir, config, resume=resume)
    clips = collect_clips(videos, motion, analyzer, config, run_dir / "cache", device, progress)
    train, validation = split_validation(clips)
    logger.info("training on %d videos (%d frames), validating on %d", len(train),
                sum(len(c) for c in train), len(validation))
    identity = {"keypoint_space_id": keypoint_space_id(motion), "num_kp": motion.config.num_kp,
                "image_size": motion.config.image_size, "name": motion_name}
    trainer = AudioTrainer(config, train, run_dir, motion_model=identity, device=device,
                           validation=validation)
    if resume:
        trainer.load_state()
    return trainer.fit(progress=progress)
