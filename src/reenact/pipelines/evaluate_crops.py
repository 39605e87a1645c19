"""Evaluation on model-size face crops (`reenact evaluate --mode crops`): each video's first frame is
the source, every later frame a driving frame, rendered with absolute keypoints and scored by L1,
PSNR (dB), SSIM and keypoint jitter against the "static" baseline (the first frame repeated).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from reenact.engine import frames_to_tensor
from reenact.preprocess.clip import face_clips, find_videos
from reenact.preprocess.face import FaceAnalyzer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageScores:
    l1: float
    psnr: float
    ssim: float


@dataclass(frozen=True)
class VideoScores:
    """One video: the model's and the static baseline's scores, and keypoint jitter (pixels of the
    model-size crop: the mean size of the keypoints' frame-to-frame acceleration)."""

    video: str
    frames: int
    model: ImageScores
    static: ImageScores
    keypoint_jitter: float


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    return (kernel[:, None] * kernel[None, :]).float()


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image (Wang et al. 2004: 11x11 gaussian window, sigma 1.5, K1 0.01, K2 0.03),
    computed per channel and averaged. (B, C, H, W) in [0, 1] -> (B,)."""
    channels = prediction.shape[1]
    window = _gaussian_window().to(prediction).expand(channels, 1, 11, 11)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_p, mu_t = blur(prediction), blur(target)
    var_p = blur(prediction * prediction) - mu_p ** 2
    var_t = blur(target * target) - mu_t ** 2
    cov = blur(prediction * target) - mu_p * mu_t
    index = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p ** 2 + mu_t ** 2 + c1) * (var_p + var_t + c2))
    return index.mean(dim=(1, 2, 3))


def image_scores(prediction: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray,
                                                                            np.ndarray]:
    """Per-image L1, PSNR (dB, capped at 100 for identical images) and SSIM of (B, C, H, W) in [0, 1]."""
    l1 = (prediction - target).abs().mean(dim=(1, 2, 3))
    mse = ((prediction - target) ** 2).mean(dim=(1, 2, 3))
    psnr = torch.where(mse > 0, 10 * torch.log10(1 / mse.clamp_min(1e-10)), torch.full_like(mse, 100.0))
    return l1.numpy(), psnr.numpy(), ssim(prediction, target).numpy()


def keypoint_jitter(values: np.ndarray, size: int) -> float:
    """Mean norm of the second difference of (T, K, 2) keypoints in [-1, 1], in crop pixels."""
    if len(values) < 3:
        return float("nan")
    acceleration = values[2:] - 2 * values[1:-1] + values[:-2]
    return float(np.linalg.norm(acceleration * (size - 1) / 2, axis=-1).mean())


@torch.inference_mode()
def evaluate_clip(model: torch.nn.Module, frames: np.ndarray, batch_size: int = 16,
                  device: torch.device | str = "cpu") -> tuple[ImageScores, ImageScores, float]:
    """Reconstruct (N, S, S, 3) uint8 frames 1..N-1 from frame 0; returns (model, static, jitter)."""
    device = torch.device(device)
    source_image = frames_to_tensor(frames[:1], device)
    source = model.encode_source(source_image)
    kp_source = model.detect(source_image)
    totals = {"model": [], "static": []}
    keypoints = [kp_source.value.cpu().numpy()]
    for start in range(1, len(frames), batch_size):
        target = frames_to_tensor(frames[start:start + batch_size], device)
        kp_driving = model.detect(target)
        keypoints.append(kp_driving.value.cpu().numpy())
        # absolute keypoints: source and driving show the same person in the same framing
        prediction = model.render(source, kp_source, kp_driving).prediction.clamp(0, 1)
        quantized = prediction.mul(255).round().div(255)  # score what a written video would hold
        totals["model"].append(image_scores(quantized.cpu(), target.cpu()))
        totals["static"].append(image_scores(source_image.expand_as(target).cpu(), target.cpu()))
    summary = {}
    for name, parts in totals.items():
        l1, psnr, ssim_value = (np.concatenate(values) for values in zip(*parts))
        summary[name] = ImageScores(float(l1.mean()), float(psnr.mean()), float(ssim_value.mean()))
    jitter = keypoint_jitter(np.concatenate(keypoints), frames.shape[1])
    return summary["model"], summary["static"], jitter


def evaluate_videos(model: torch.nn.Module, videos_dir: str | os.PathLike, analyzer: FaceAnalyzer, *,
                    max_frames: int | None = None, batch_size: int = 16,
                    device: torch.device | str = "cpu") -> Iterator[VideoScores]:
    """Score every video under `videos_dir` (one fixed face crop per video)."""
    size = model.config.image_size
    model = model.to(device).eval()
    for video in find_videos(videos_dir):
        clips = list(face_clips(video, size, analyzer, run_length=None, max_frames=max_frames))
        if not clips:
            logger.warning("%s: no face found; skipped", video)
            continue
        frames = clips[0].frames
        scores, static, jitter = evaluate_clip(model, frames, batch_size, device)
        logger.info("%s: L1 %.4f (static %.4f), PSNR %.2f (%.2f), SSIM %.3f (%.3f)", video.name,
                    scores.l1, static.l1, scores.psnr, static.psnr, scores.ssim, static.ssim)
        yield VideoScores(str(Path(video).relative_to(videos_dir)), len(frames) - 1, scores, static,
                          jitter)


def summarize(results: list[VideoScores]) -> dict:
    """Per-video rows and the frame-weighted means."""
    if not results:
        raise ValueError("no video could be evaluated (no faces found)")
    weights = np.array([r.frames for r in results], dtype=np.float64)

    def mean(get) -> float:
        values = np.array([get(r) for r in results])
        keep = np.isfinite(values)
        return float((values[keep] * weights[keep]).sum() / weights[keep].sum())

    means = {
        "model": {m: mean(lambda r, m=m: getattr(r.model, m)) for m in ("l1", "psnr", "ssim")},
        "static": {m: mean(lambda r, m=m: getattr(r.static, m)) for m in ("l1", "psnr", "ssim")},
        "keypoint_jitter": mean(lambda r: r.keypoint_jitter),
    }
    return {"videos": [asdict(r) for r in results], "mean": means,
            "frames": int(weights.sum()), "beats_static_l1": means["model"]["l1"] < means["static"]["l1"]}


def format_table(summary: dict) -> str:
    """A markdown table of the per-video and mean scores."""
    lines = ["| video | frames | L1 | static L1 | PSNR | static PSNR | SSIM | static SSIM | kp jitter (px) |",
             "|---|---|---|---|---|---|---|---|---|"]
    rows = [(r["video"], r["frames"], r["model"], r["static"], r["keypoint_jitter"])
            for r in summary["videos"]]
    mean = summary["mean"]
    rows.append(("**mean**", summary["frames"], mean["model"], mean["static"], mean["keypoint_jitter"]))
    for name, frames, model, static, jitter in rows:
        jitter_text = "n/a" if not math.isfinite(jitter) else f"{jitter:.3f}"
        lines.append(f"| {name} | {frames} | {model['l1']:.4f} | {static['l1']:.4f} | "
                     f"{model['psnr']:.2f} | {static['psnr']:.2f} | {model['ssim']:.3f} | "
                     f"{static['ssim']:.3f} | {jitter_text} |")
    return "\n".join(lines)
