"""Train for a wall-clock budget (a lent GPU machine's minutes), the learning-rate drops inside it.

    python3 tools/device_training/train_for.py DATA RUN --seconds 450 [--batch-size 32] \\
        [--lr 2e-4] [--adversarial] [--init checkpoints/default] [--device cuda]

`reenact train` counts steps; a lease counts seconds. This times the first 100 steps, then sets
the run's step count so that the drops at 0.6 and 0.9 of it (`TrainConfig.lr_milestones`) land
before the budget ends. Batches are made by worker threads (each with its own random streams)
while the GPU trains: on an H200 the face-128 model took 78 ms a step at batch 32 with a second
run beside it, and the main thread alone could not feed it. RUN ends as `reenact train` leaves
a run directory (`checkpoint/` is a release checkpoint); run from the repository root.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from reenact.training.data import FrameDataset  # noqa: E402
from reenact.training.train_config import LossWeights  # noqa: E402
from reenact.training.trainer import TrainConfig, Trainer  # noqa: E402

logger = logging.getLogger("train_for")

WARM_UP_STEPS = 40  # the first steps: kernels chosen, threads filled; not timed
TIMED_STEPS = 100  # the steps up to here are timed to size the run


class PrefetchTrainer(Trainer):
    """A Trainer whose batches come from worker threads."""

    workers = 6

    def _batch(self, rng: np.random.Generator, generator: torch.Generator):  # type: ignore[override]
        if not hasattr(self, "_batches"):
            self._batches: queue.Queue = queue.Queue(maxsize=4 * self.workers)
            Trainer._batch(self, rng, generator)  # builds the lazy samplers before the threads
            for worker in range(self.workers):
                threading.Thread(target=self._produce, args=(worker,), daemon=True).start()
        return self._batches.get()

    def _produce(self, worker: int) -> None:
        rng = np.random.default_rng([self.config.seed, 1000 + worker, self.step])
        generator = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
        while True:
            self._batches.put(Trainer._batch(self, rng, generator))


def train_for(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    config = TrainConfig(preset=args.preset, steps=WARM_UP_STEPS, batch_size=args.batch_size,
                         learning_rate=args.lr, contrast_pairs=args.contrast_pairs,
                         weights=LossWeights(face_parts=args.face_parts, backbone=args.backbone_loss,
                                             landmark_flow=args.landmark_flow),
                         adversarial=args.adversarial, seed=args.seed, log_every=20,
                         preview_every=10 ** 8, checkpoint_every=10 ** 8)
    dataset = FrameDataset(args.data)
    logger.info("%d clips, %d frames", len(dataset), dataset.num_frames)
    trainer = PrefetchTrainer(config, dataset, args.run, device=torch.device(args.device),
                              init_from=args.init, backbone_path=args.backbone_weights)
    trainer.fit(progress=False)  # warm-up: kernels chosen, threads filled
    timed = time.perf_counter()
    trainer.config = dataclasses.replace(config, steps=TIMED_STEPS)
    trainer.fit(progress=False)
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - timed) / (TIMED_STEPS - WARM_UP_STEPS)
    steps = TIMED_STEPS + max(0, int((args.seconds - (time.perf_counter() - started)) / per_step))
    logger.info("%.1f ms a step at batch %d: training to step %d", per_step * 1000,
                args.batch_size, steps)
    trainer.config = dataclasses.replace(config, steps=steps, log_every=50,
                                         checkpoint_every=max(500, steps // 6))
    trainer.fit(progress=False)
    logger.info("step %d after %.0f s", trainer.step, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="a directory made by `reenact prepare-data`")
    parser.add_argument("run", help="the run directory to create")
    parser.add_argument("--seconds", type=float, required=True, help="the wall-clock budget")
    parser.add_argument("--preset", default="face-128")
    parser.add_argument("--init", default="checkpoints/default", help="warm start from these weights")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--contrast-pairs", type=float, default=0.5)
    parser.add_argument("--face-parts", type=float, default=8.0)
    parser.add_argument("--adversarial", action="store_true")
    parser.add_argument("--backbone-loss", type=float, default=0.0,
                        help="`reenact train --backbone-loss`: MobileNetV2 features (0: not used)")
    parser.add_argument("--backbone-weights", help="mobilenet_v2-b0353104.pth (carry it along)")
    parser.add_argument("--landmark-flow", type=float, default=0.0,
                        help="`reenact train --landmark-flow`: the motion at the 68 landmarks (0: not used)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    train_for(args)


if __name__ == "__main__":
    main()
