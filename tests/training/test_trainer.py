from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import reenact.training.trainer as trainer_module
from reenact.checkpoint import load_checkpoint
from reenact.training.data import AugmentConfig, FrameDataset
from reenact.training.trainer import LOG_FILE, STATE_FILE, TrainConfig, Trainer


def tiny_config(**changes) -> TrainConfig:
    settings = dict(preset="tiny-64", steps=2, batch_size=2, log_every=1, preview_every=2,
                    checkpoint_every=2)
    settings.update(changes)
    return TrainConfig(**settings)


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / LOG_FILE).read_text().splitlines()]


def test_two_training_steps(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(), FrameDataset(data_dir), run)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    values = trainer.fit(progress=False)
    assert trainer.step == 2
    assert {"perceptual", "equivariance_value", "equivariance_jacobian", "total"} <= set(values)
    assert all(np.isfinite(v) for v in values.values())
    changed = [k for k, v in trainer.model.state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert any(k.startswith("keypoint_detector") for k in changed)
    assert any(k.startswith("generator") for k in changed)
    assert any(k.startswith("dense_motion") for k in changed)
    log = read_log(run)
    assert [r["step"] for r in log] == [1, 2]
    assert log[-1]["losses"]["total"] == pytest.approx(values["total"], rel=1e-5)
    preview = run / "previews" / "step-0000002.png"
    assert preview.is_file()
    from PIL import Image
    width, height = Image.open(preview).size
    assert (width, height) == (5 * 64, 2 * 64)  # source, driving, prediction, deformed, occlusion
    model = load_checkpoint(run / "checkpoint")
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, trainer.model.state_dict()[key])
    assert json.loads((run / "checkpoint" / "config.json").read_text())["metadata"]["training_steps"] == 2


def test_resume_continues_steps_and_weights(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = Trainer(tiny_config(), FrameDataset(data_dir), run)
    first.fit(progress=False)
    saved = {k: v.clone() for k, v in first.model.state_dict().items()}
    optimizer_steps = first.optimizer.state_dict()["state"][0]["step"]

    resumed = Trainer(tiny_config(steps=4), FrameDataset(data_dir), run)
    assert resumed.step == 2
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    assert resumed.optimizer.state_dict()["state"][0]["step"] == optimizer_steps
    resumed.fit(progress=False)
    assert resumed.step == 4
    steps = [r["step"] for r in read_log(run)]
    assert steps == [1, 2, 3, 4]
    assert torch.load(run / STATE_FILE, weights_only=True)["step"] == 4


def test_resume_refuses_a_different_configuration(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    Trainer(tiny_config(), FrameDataset(data_dir), run).fit(progress=False)
    with pytest.raises(ValueError, match="different configuration"):
        Trainer(tiny_config(batch_size=3), FrameDataset(data_dir), run)


def test_run_directory_must_be_a_run(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a training run directory"):
        Trainer(tiny_config(), FrameDataset(data_dir), run)


def test_data_size_must_match_preset(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prepared at 64x64 but preset fast-256 expects 256"):
        Trainer(tiny_config(preset="fast-256"), FrameDataset(data_dir), tmp_path / "run")


def test_adversarial_and_bf16_steps(data_dir: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(adversarial=True, precision="bf16"), FrameDataset(data_dir),
                      tmp_path / "run")
    values = trainer.fit(progress=False)
    assert {"generator_gan", "feature_matching", "discriminator"} <= set(values)
    assert all(np.isfinite(v) for v in values.values())
    state = torch.load(tmp_path / "run" / STATE_FILE, weights_only=True)
    assert "discriminator" in state and "disc_optimizer" in state


def test_loss_falls_on_one_batch(data_dir: Path, tmp_path: Path) -> None:
    """Sanity of the whole objective: repeated steps on fixed frames lower the loss."""
    still = AugmentConfig(flip=False, time_flip=False, brightness=0, contrast=0, saturation=0, hue=0)
    trainer = Trainer(tiny_config(steps=30, augment=still), FrameDataset(data_dir), tmp_path / "run")
    generator = torch.Generator().manual_seed(0)
    batch = trainer._batch(np.random.default_rng(0), generator)
    source, driving = batch.source, batch.driving
    first = trainer.train_step(source, driving, generator)[0]["perceptual"]
    for _ in range(25):
        last = trainer.train_step(source, driving, generator)[0]["perceptual"]
    assert last < 0.8 * first


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        TrainConfig(preset="nope")
    with pytest.raises(ValueError, match="TrainConfig.batch_size: expected an integer >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="TrainConfig.precision"):
        TrainConfig(precision="fp16")
    config = TrainConfig(preset="tiny-64", adversarial=True)
    assert TrainConfig.from_dict(config.to_dict()) == config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slow_write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    time.sleep(1.0)
    os.replace(temporary, path)


def _ddp_worker(rank: int, world: int, port: int, data_dir: str, run: str, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    if rank == 0:  # rank 0 leaves its config half-written while rank 1 looks at the run directory
        monkeypatch = pytest.MonkeyPatch()
        monkeypatch.setattr(trainer_module, "_write_atomic", _slow_write_atomic)
    else:
        time.sleep(0.3)
    try:
        trainer = Trainer(tiny_config(), FrameDataset(data_dir), run)
        trainer.fit(progress=False)
        torch.save({k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
                   Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_distributed_data_parallel_with_two_gloo_processes(data_dir: Path, tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    run = tmp_path / "run"
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(data_dir), str(run), str(tmp_path)), nprocs=2,
             join=True)
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    # gradients are averaged across ranks, so both hold the same parameters after every step
    for key, value in states[0].items():
        if "running_" in key or "num_batches" in key:
            continue  # batch-norm statistics are per process (no SyncBatchNorm on CPU)
        torch.testing.assert_close(value, states[1][key], msg=key)
    assert [r["step"] for r in read_log(run)] == [1, 2]  # only rank 0 logs
    assert (run / "checkpoint" / "config.json").is_file()


def test_anchored_model_trains_with_landmark_anchors(tmp_path: Path) -> None:
    from conftest import write_data_dir, write_landmarks

    data = write_landmarks(write_data_dir(tmp_path / "data"))
    trainer = Trainer(tiny_config(preset="tiny-face-64"), FrameDataset(data), tmp_path / "run")
    values = trainer.fit(progress=False)
    assert "anchor" in values and np.isfinite(values["anchor"]) and values["anchor"] > 0
    heads = trainer.model.keypoint_detector.heatmap_head.weight
    assert heads.grad is not None and float(heads.grad[:14].abs().sum()) > 0


def test_anchored_step_renders_with_the_landmark_anchors(tmp_path: Path) -> None:
    from conftest import write_data_dir

    from reenact.preprocess.anchors import TEMPLATE

    trainer = Trainer(tiny_config(preset="tiny-face-64"), FrameDataset(write_data_dir(tmp_path / "d")),
                      tmp_path / "run")
    images = torch.rand(2, 3, 64, 64)
    landmarks = torch.from_numpy(TEMPLATE).float().expand(2, 68, 2).clone()
    landmarks[1] = float("nan")  # no face: the detector's keypoints are used
    outputs = trainer.forward_module(images, images.flip(0), images, landmarks, landmarks)
    assert outputs.anchors_source is not None
    assert torch.isnan(outputs.anchors_source.value[1]).all()
    values, _ = trainer.train_step(images, images.flip(0), torch.Generator().manual_seed(0),
                                   landmarks, landmarks)
    assert all(np.isfinite(v) for v in values.values()) and values["anchor"] > 0


def test_free_keypoint_model_ignores_landmarks(tmp_path: Path) -> None:
    from conftest import write_data_dir, write_landmarks

    data = write_landmarks(write_data_dir(tmp_path / "data"))
    values = Trainer(tiny_config(), FrameDataset(data), tmp_path / "run").fit(progress=False)
    assert "anchor" not in values
