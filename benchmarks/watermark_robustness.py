"""The watermark against what re-posting does: crops, pads, flips, rotations, tone, overlays.

- detection: 2-s clips of ../shared/media videos (resized to --sides on the short side) are written
  by reenact's MarkedVideoWriter (as a pipeline writes them: both layers, H.264 CRF 18), decoded,
  attacked (numpy / Pillow geometry and tone, below), re-encoded with libx264 (PyAV; the `ffmpeg`
  binary is not needed) at CRF 23 (the combination at CRF 28) and checked with `verify_file`, the
  path `reenact verify` takes. A clip counts when the mark decodes to its own run id. "DCT" is
  the clips the DCT layer read alone (the whole frame, or since 2026-12-03 the content inside
  borders), "both" the verdict now (the tiled layer, alone or with the DCT layer's bits).
  Images: shared portraits, marked with `write_marked_image` (PNG), attacked, saved as JPEG q90.
- false positives: the first 2 s of unmarked videos and every unmarked image under
  ../shared/media, as they are and re-encoded (CRF 23 / JPEG q75), through `verify_file`.
- picture cost: PSNR / SSIM (8x8 windows) of marked vs unmarked frames (videos: the change the
  writer makes to Y', which depends on the frame size, added to R, G and B; images: the file).
- verify time against the decode-only time of the same file (PyAV demuxing and decoding with
  frame threads, no conversion: what `ffmpeg -i FILE -f null -` does), on the attacked marked
  files and on the unmarked ones.

Usage: python benchmarks/watermark_robustness.py [--clips 4] [--sides 256 512] [--images 6]
       [--unmarked 60] [--attacks NAME ...]
(--attacks: only the attacks whose name contains one of these, e.g. `--attacks canvas "CRF 28"`;
--unmarked 0 skips the false-positive run.)
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from reenact.io import VideoReader
from reenact.provenance import FrameMarker, Provenance, verify_file
from reenact.provenance.watermark import LUMA_709
from reenact.provenance.writers import MarkedVideoWriter, write_marked_image

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
VIDEO_SUFFIXES = (".mp4", ".mpg", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
logger = logging.getLogger("watermark_robustness")
Attack = Callable[[np.ndarray], np.ndarray]
_TIMED_UNMARKED = 20  # unmarked videos whose verify time is measured too


def crop(fraction: float) -> Attack:
    """Keep the middle (1 - fraction) of each side."""
    def apply(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        dy, dx = round(height * fraction / 2), round(width * fraction / 2)
        return frame[dy:height - dy, dx:width - dx]
    return apply


def shift(pixels: int) -> Attack:
    def apply(frame: np.ndarray) -> np.ndarray:
        return np.pad(frame, ((pixels, 0), (pixels, 0), (0, 0)), mode="edge")[
            :frame.shape[0], :frame.shape[1]]
    return apply


def rotate(degrees: float) -> Attack:
    def apply(frame: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(frame).rotate(degrees, Image.Resampling.BILINEAR))
    return apply


def tone(contrast: float = 1.0, gamma: float = 1.0, brightness: float = 0.0,
         levels: tuple[float, float] | None = None) -> Attack:
    """Contrast about mid-grey, then a gamma, then an offset (fractions of full scale); levels
    (low, high): map [0, 255] to [low, high] (full range shown as limited) or the reverse."""
    def apply(frame: np.ndarray) -> np.ndarray:
        values = frame / 255.0
        values = np.clip((values - 0.5) * contrast + 0.5, 0, 1) ** gamma + brightness
        if levels is not None:
            values = (values * 255 - levels[0]) / (levels[1] - levels[0])
        return np.clip(np.rint(values * 255), 0, 255).astype(np.uint8)
    return apply


def pad(top: int, side: int) -> Attack:
    def apply(frame: np.ndarray) -> np.ndarray:
        return np.pad(frame, ((top, top), (side, side), (0, 0)))
    return apply


def canvas(scale: float, colour: int = 24) -> Attack:
    """Screen-recording imitation: the video scaled into a larger grey canvas, off centre."""
    def apply(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        size = (round(width * scale) // 2 * 2, round(height * scale) // 2 * 2)
        small = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
        out = np.full_like(frame, colour)
        top, left = (height - size[1]) // 3, (width - size[0]) // 2
        out[top:top + size[1], left:left + size[0]] = small
        return out
    return apply


def logo(share: float = 0.15) -> Attack:
    """An opaque logo covering `share` of the frame in the top-right corner."""
    def apply(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        side_h, side_w = round(height * share ** 0.5), round(width * share ** 0.5)
        out = frame.copy()
        out[:side_h, width - side_w:] = (230, 40, 40)
        return out
    return apply


def subtitle_bar(share: float = 0.12) -> Attack:
    """A dark bar with white text blocks over the bottom `share` of the frame."""
    def apply(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        out = frame.copy()
        top = height - round(height * share)
        out[top:] = (out[top:] * 0.25).astype(np.uint8)
        rng = np.random.default_rng(height)
        for x in range(width // 10, width - width // 10, max(4, width // 24)):
            out[top + (height - top) // 3: height - (height - top) // 3,
                x:x + max(2, width // 40)] = 255 * rng.integers(0, 2)
        return out
    return apply


def downscale(factor: float) -> Attack:
    """Bicubic downscale to `factor` of each side (even sides), as a re-poster's smaller copy."""
    def apply(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        size = (int(width * factor) // 2 * 2, int(height * factor) // 2 * 2)
        return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BICUBIC))
    return apply


def chain(*attacks: Attack) -> Attack:
    def apply(frame: np.ndarray) -> np.ndarray:
        for attack in attacks:
            frame = attack(frame)
        return frame
    return apply


ATTACKS: dict[str, tuple[Attack, int]] = {  # name: (attack, CRF of the re-encode after it)
    "re-encode only": (chain(), 23),
    "crop 0.5%": (crop(0.005), 23), "crop 1%": (crop(0.01), 23), "crop 2%": (crop(0.02), 23),
    "shift 2 px": (shift(2), 23),
    "rotate 0.5 deg": (rotate(0.5), 23), "rotate 1 deg": (rotate(1.0), 23),
    "letterbox (pad 12%)": (lambda f: pad(round(f.shape[0] * 0.12), 0)(f), 23),
    "pillarbox (pad 10%)": (lambda f: pad(0, round(f.shape[1] * 0.1))(f), 23),
    "canvas 80% (screen rec.)": (canvas(0.8), 23),
    "hflip": (lambda f: f[:, ::-1], 23),
    "contrast 0.9": (tone(contrast=0.9), 23), "contrast 1.1": (tone(contrast=1.1), 23),
    "gamma 1.4": (tone(gamma=1.4), 23), "gamma 0.7": (tone(gamma=0.7), 23),
    "limited shown as full": (tone(levels=(16, 235)), 23),
    "full shown as limited": (tone(levels=(-18.6, 273.6)), 23),
    "brightness +0.05": (tone(brightness=0.05), 23),
    "brightness -0.05": (tone(brightness=-0.05), 23),
    "logo 15%": (logo(0.15), 23), "subtitle bar": (subtitle_bar(), 23),
    "crop 2% + contrast 1.1 + CRF 28": (chain(crop(0.02), tone(contrast=1.1)), 28),
    "50% + CRF 28": (downscale(0.5), 28),
}
IMAGE_ATTACKS: dict[str, Attack] = {
    "JPEG q90 only": chain(), "crop 1%": crop(0.01), "hflip": lambda f: f[:, ::-1],
    "rotate 1 deg": rotate(1.0), "contrast 1.1": tone(contrast=1.1),
    "logo 15%": logo(0.15), "letterbox": lambda f: pad(round(f.shape[0] * 0.1), 0)(f),
}


def encode(frames: list[np.ndarray], path: Path, fps: Fraction, crf: int) -> None:
    """libx264 (preset medium, yuv420p) of RGB frames, cropped to even sides."""
    height, width = (side // 2 * 2 for side in frames[0].shape[:2])
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"crf": str(crf), "preset": "medium"}
        for index, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(frame[:height, :width]), format="rgb24")
            video_frame.pts = index
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def decode(path: Path, limit: int | None = None) -> tuple[Fraction, list[np.ndarray]]:
    with VideoReader(path) as reader:
        fps, frames = reader.info.fps, []
        for frame in reader:
            frames.append(frame)
            if limit is not None and len(frames) >= limit:
                break
    return fps, frames


def decode_seconds(path: Path) -> float:
    """Wall time to demux and decode every frame of `path`, converting none."""
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - started


def timed_verify(path: Path) -> tuple[object, float]:
    """verify_file(path) and its time as a multiple of `decode_seconds` (each the best of 2)."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        verification = verify_file(path)
        times.append(time.perf_counter() - started)
    return verification, min(times) / min(decode_seconds(path) for _ in range(2))


def resized(frames: list[np.ndarray], short_side: int) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    scale = short_side / min(height, width)
    size = (round(width * scale) // 2 * 2, round(height * scale) // 2 * 2)
    return [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BICUBIC)) for f in frames]


def psnr_ssim(marked: np.ndarray, original: np.ndarray) -> tuple[float, float]:
    a, b = marked.astype(np.float64), original.astype(np.float64)
    psnr = 10 * np.log10(255 ** 2 / max(float(np.mean((a - b) ** 2)), 1e-12))
    height, width = (side // 8 * 8 for side in a.shape[:2])
    blocks = [x[:height, :width].mean(axis=2).reshape(height // 8, 8, width // 8, 8)
              for x in (a, b)]
    mean_a, mean_b = (x.mean(axis=(1, 3)) for x in blocks)
    var_a, var_b = (x.var(axis=(1, 3)) for x in blocks)
    cov = (blocks[0] * blocks[1]).mean(axis=(1, 3)) - mean_a * mean_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)
            / ((mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2)))
    return psnr, float(ssim.mean())


def video_marked(marker: FrameMarker, frame: np.ndarray) -> np.ndarray:
    """An RGB frame with the change the video writer makes (on the Y' plane: the layers a video
    frame of this size gets) added to R, G and B."""
    plane = np.rint(16 + frame @ LUMA_709 * 219 / 255).astype(np.uint8)  # limited-range Y'
    change = (marker.mark_luma_plane(plane).astype(np.float64) - plane) * 255 / 219
    return np.clip(np.rint(frame + change[..., None]), 0, 255).astype(np.uint8)


def video_run(sources: list[Path], sides: list[int], clips: int, work: Path,
              attacks: dict[str, tuple[Attack, int]]) -> None:
    results: dict[str, list[tuple[bool, bool]]] = {name: [] for name in attacks}
    by_side: dict[tuple[str, int], list[bool]] = {}
    costs, transforms, verify_ratio = [], {}, []
    made = 0
    for source in sources:
        if made >= clips:
            break
        fps, frames = decode(source, limit=50)
        if len(frames) < 25:
            continue
        for side in sides:
            original = resized(frames, side)
            provenance = Provenance.new()
            written = work / "marked.mp4"
            height, width = original[0].shape[:2]
            with MarkedVideoWriter(written, fps, width, height, provenance=provenance) as writer:
                writer.write_batch(np.stack(original))
            marker = FrameMarker(provenance)
            costs += [psnr_ssim(video_marked(marker, f), f) for f in original[::10]]
            _, marked = decode(written)
            for name, (attack, crf) in attacks.items():
                attacked = work / "attacked.mp4"
                encode([attack(f) for f in marked], attacked, fps, crf)
                verification, ratio = timed_verify(attacked)
                verify_ratio.append(ratio)
                run = provenance.payload()
                found = verification.marked and verification.detection.payload == run
                results[name].append((found and verification.layer == "dct", found))
                by_side.setdefault((name, side), []).append(found)
                transforms[name] = verification.transform
            made += 1
            logger.info("  %s at %d px: %d clips done", source.name, side, made)
    if not made:  # --clips 0: the false-positive run alone
        return
    print(f"\nVideos: {made} marked clips (2 s, short side {sides}), each attack then libx264")
    per_side = "".join(f" {side} px |" for side in sides)
    print(f"| attack | DCT layer alone | both layers |{per_side} "
          f"undone (last clip) |")
    print("|---|---|---|" + "---|" * len(sides) + "---|")
    for name, hits in results.items():
        sizes = "".join(f" {sum(by_side.get((name, side), []))}/"
                        f"{len(by_side.get((name, side), []))} |" for side in sides)
        print(f"| {name} | {sum(a for a, _ in hits)}/{len(hits)} | {sum(b for _, b in hits)}/"
              f"{len(hits)} |{sizes} {transforms.get(name) or ''} |")
    psnrs, ssims = zip(*costs)
    print(f"picture cost, marked vs unmarked (video path): PSNR min {min(psnrs):.1f} "
          f"mean {np.mean(psnrs):.1f} dB, SSIM min {min(ssims):.4f}")
    print(f"verify time / decode-only time, attacked marked files: median "
          f"{np.median(verify_ratio):.1f}x, max {max(verify_ratio):.1f}x")


def image_run(images: list[Path], work: Path, attacks: dict[str, Attack]) -> None:
    if not images or not attacks:
        return
    results: dict[str, list[tuple[bool, bool]]] = {name: [] for name in attacks}
    costs = []
    for path in images:
        original = np.asarray(Image.open(path).convert("RGB"))
        provenance = Provenance.new()
        marked_path = write_marked_image(work / "marked.png", original, provenance=provenance)
        marked = np.asarray(Image.open(marked_path).convert("RGB"))
        costs.append(psnr_ssim(marked, original))
        for name, attack in attacks.items():
            attacked = work / "attacked.jpg"
            Image.fromarray(np.ascontiguousarray(attack(marked))).save(attacked, quality=90)
            verification = verify_file(attacked)
            found = verification.marked and verification.detection.payload == provenance.payload()
            results[name].append((found and verification.layer == "dct", found))
    print(f"\nImages: {len(images)} portraits, marked (PNG), attacked, saved as JPEG q90")
    print("| attack | DCT layer alone | both layers |\n|---|---|---|")
    for name, hits in results.items():
        print(f"| {name} | {sum(a for a, _ in hits)}/{len(hits)} | {sum(b for _, b in hits)}/"
              f"{len(hits)} |")
    psnrs, ssims = zip(*costs)
    print(f"picture cost: PSNR min {min(psnrs):.1f} dB, SSIM min {min(ssims):.4f}")


def unmarked_run(videos: list[Path], images: list[Path], work: Path) -> None:
    files = hits = 0
    ratios = []
    for index, path in enumerate(videos):
        fps, frames = decode(path, limit=50)
        if not frames:
            continue
        for crf in (None, 23):
            target = path
            if crf is not None:
                target = work / "unmarked.mp4"
                encode(frames, target, fps, crf)
            verification = None
            if crf is not None and index < _TIMED_UNMARKED:
                verification, ratio = timed_verify(target)
                ratios.append(ratio)
            elif crf is not None:
                verification = verify_file(target)
            if verification is None:  # the original, first 2 s only (verify reads all of it)
                target = work / "unmarked_head.mp4"
                encode(frames, target, fps, 0)
                verification = verify_file(target)
            files += 1
            hits += verification.marked
            if verification.marked:
                logger.warning("false positive: %s (CRF %s)", path, crf)
    for path in images:
        for quality in (None, 75):
            target = path
            if quality is not None:
                target = work / "unmarked.jpg"
                Image.open(path).convert("RGB").save(target, quality=quality)
            verification = verify_file(target)
            files += 1
            hits += verification.marked
            if verification.marked:
                logger.warning("false positive: %s (q %s)", path, quality)
    print(f"\nUnmarked: {hits} false positives in {files} files ({len(videos)} videos' first 2 s "
          f"losslessly and at CRF 23, {len(images)} images as they are and at JPEG q75)")
    if ratios:
        print(f"verify time / decode-only time, unmarked CRF 23 files (first {len(ratios)}): "
              f"median {np.median(ratios):.1f}x, max {max(ratios):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--unmarked", type=int, default=60)
    parser.add_argument("--attacks", nargs="+", default=None,
                        help="only the attacks whose name contains one of these")
    args = parser.parse_args()

    def chosen(table: dict) -> dict:
        return {name: value for name, value in table.items()
                if args.attacks is None or any(part in name for part in args.attacks)}

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not MEDIA.is_dir():
        raise SystemExit(f"{MEDIA} not found: the benchmark needs the shared media")
    videos = sorted(p for p in MEDIA.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    images = sorted(p for p in MEDIA.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    rng = np.random.default_rng(0)
    sources = [videos[i] for i in rng.permutation(len(videos))]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        video_run(sources, args.sides, args.clips, work, chosen(ATTACKS))
        image_run(images[:args.images], work, chosen(IMAGE_ATTACKS))
        if args.unmarked > 0:
            unmarked = [videos[i] for i in rng.permutation(len(videos))[:args.unmarked]]
            unmarked_run(unmarked, images, work)


if __name__ == "__main__":
    main()
