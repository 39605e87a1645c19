"""The provenance watermark: detection after re-encoding, false positives, picture cost, speed.

- detection: every 2 s clip of ../shared/media/driving and talking is written by reenact's
  MarkedVideoWriter (as animate writes its output: marked, H.264 CRF 18), then re-encoded as another
  tool would (PyAV's libx264, the encoder ffmpeg uses, preset medium) at CRF 23 and 28, and
  downscaled to 50% then re-encoded at CRF 23 (ffmpeg's default) and 28; a clip counts as
  detected when the watermark decodes to its own payload;
- false positives: every 2 s clip of all of ../shared/media (eval included), unmarked, read with
  the real key and with --keys random keys (each key is another watermark the clip does not
  carry); also checks that unmarked clips decode to random words (CRC bits agree half the time);
- picture cost: PSNR of marked vs unmarked frames (every frame, marked in order as the writer
  marks them; the worst frame of each clip);
- speed: wall time of marking a frame (best of 3 passes) at 256x256 and 720x1280 (the video
  writer's Y' path, and the RGB path of images), against the time of the rest of the per-frame
  work (--render-ms for the model, measured for the writer); and end to end: `animate` with the
  bundled default model, its output 256x256 (--crop-only) and 720x1280 (pasted into a 720p
  photo), timed with the watermark and with it switched off (only here, by patching), in paired
  rounds (the median of their ratios).

Usage: python benchmarks/provenance.py [--quick] [--clips N] [--keys K] [--render-ms 30]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from reenact.io import VideoReader
from reenact.provenance import FrameMarker, Provenance, WatermarkConfig, Watermarker
from reenact.provenance.writers import MarkedVideoWriter
from reenact.provenance.payload import crc_matches
from reenact.provenance.watermark import WatermarkDetector

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
VIDEO_SUFFIXES = (".mp4", ".mpg")
CONDITIONS = {"as written (CRF 18)": None, "re-encode CRF 23": (23, 1.0),
              "re-encode CRF 28": (28, 1.0), "50% + CRF 23": (23, 0.5),
              "50% + CRF 28": (28, 0.5)}
logger = logging.getLogger("provenance_benchmark")


def videos(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (MEDIA / folder).rglob("*")
                  if p.suffix in VIDEO_SUFFIXES)


def clips(path: Path, seconds: float, limit: int | None) -> Iterator[tuple[Fraction, list]]:
    """(fps, frames) of consecutive `seconds`-long clips of a video (the rest is dropped)."""
    with VideoReader(path) as reader:
        fps = reader.info.fps
        length = round(seconds * fps)
        batch: list[np.ndarray] = []
        count = 0
        for frame in reader:
            batch.append(frame)
            if len(batch) == length:
                yield fps, batch
                batch, count = [], count + 1
                if limit is not None and count >= limit:
                    return


def reencode(frames: list[np.ndarray], crf: int, scale: float, fps: Fraction) -> list[np.ndarray]:
    """Decode-side view of an optional downscale + libx264 re-encode (no metadata carried)."""
    if scale != 1.0:
        height, width = frames[0].shape[:2]
        size = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
        frames = [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BICUBIC))
                  for f in frames]
    height, width = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"crf": str(crf), "preset": "medium"}
        for index, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = index
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def psnr(marked: np.ndarray, original: np.ndarray) -> float:
    mse = float(np.mean((marked.astype(np.float64) - original) ** 2))
    return 10 * np.log10(255 ** 2 / max(mse, 1e-12))


@dataclass
class Tally:
    detected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CONDITIONS, 0))
    strengths: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CONDITIONS})
    missed: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CONDITIONS})
    clips: int = 0
    psnrs: list[float] = field(default_factory=list)


def detection_run(paths: list[Path], work: Path, seconds: float, limit: int | None) -> Tally:
    tally = Tally()
    watermarker = Watermarker()
    for path in paths:
        for index, (fps, frames) in enumerate(clips(path, seconds, limit)):
            name = f"{path.name}#{index}"
            provenance = Provenance.new()
            height, width = frames[0].shape[:2]
            written = work / "clip.mp4"
            with MarkedVideoWriter(written, fps, width, height, provenance=provenance) as writer:
                writer.write_batch(np.stack(frames))
            with av.open(str(written)) as container:
                ours = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
            marker = FrameMarker(provenance)  # frames in order, as the writer marks them
            tally.psnrs.append(min(psnr(marker.mark(f), f) for f in frames))
            for condition, attack in CONDITIONS.items():
                seen = ours if attack is None else reencode(ours, *attack, fps)
                detector = WatermarkDetector(watermarker=watermarker)
                for frame in seen:
                    detector.add(frame)
                result = detector.detection()
                ok = result.present and result.payload == provenance.payload()
                tally.detected[condition] += ok
                tally.strengths[condition].append(result.strength if ok else 0.0)
                if not ok:
                    tally.missed[condition].append(name)
            tally.clips += 1
            logger.debug("%s: %s", name, {c: tally.detected[c] for c in CONDITIONS})
        logger.info("  %-22s %d clips so far", path.name, tally.clips)
    return tally


@dataclass
class NullTally:
    clips: int = 0
    real_key_hits: int = 0
    trials: int = 0
    random_key_hits: int = 0
    crc_agreement: float = 0.0  # mean fraction of CRC bits agreeing with the decoded payload
    bit_balance: list[float] = field(default_factory=list)


def false_positive_run(paths: list[Path], seconds: float, limit: int | None,
                       keys: int) -> NullTally:
    """Unmarked clips read with the real key and with `keys` random keys."""
    real = Watermarker()
    others = [Watermarker(WatermarkConfig(key=f"random-key-{i}")) for i in range(keys)]
    tally = NullTally()
    agreement, ones, words = 0.0, np.zeros(56), 0
    for path in paths:
        for fps, frames in clips(path, seconds, limit):
            canonical = np.stack([real.canonical_luma(frame) for frame in frames])
            tally.clips += 1
            for watermarker in [real, *others]:
                soft = watermarker.soft_bits_from_canonical(canonical).mean(axis=0)
                result = watermarker.decode(soft, len(frames))
                if watermarker is real:
                    tally.real_key_hits += result.present
                else:
                    tally.trials += 1
                    tally.random_key_hits += result.present
                word = (soft < 0).astype(np.uint8)
                agreement += crc_matches(word).mean()
                ones += word
                words += 1
        logger.info("  %-22s %d clips so far", path.name, tally.clips)
    tally.crc_agreement = agreement / max(words, 1)
    tally.bit_balance = list(ones / max(words, 1))
    return tally


def real_frames(name: str, count: int, side: int | None = None) -> list[np.ndarray]:
    """The first `count` frames of a shared-media video, optionally resized to side x side."""
    frames = []
    with VideoReader(MEDIA / name) as reader:
        for frame in reader:
            if side is not None:
                frame = np.asarray(Image.fromarray(frame).resize((side, side),
                                                                 Image.Resampling.BICUBIC))
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def _per_frame_ms(function: object, items: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for item in items:
        function(item)  # type: ignore[operator]
    return (time.perf_counter() - start) / len(items) * 1e3


def timing(render_ms: float, frames: int = 40) -> list[str]:
    """Marking time on real frames: a 256x256 face crop (lp_d12) and a 720x1280 phone video
    (lp_d13), in the writer's Y' path and the RGB path of images."""
    lines = []
    for name, side in (("driving/lp_d12.mp4", 256), ("driving/lp_d13.mp4", None)):
        stack = real_frames(name, frames, side)
        height, width = stack[0].shape[:2]
        marker = FrameMarker(Provenance.new())
        planes = [np.ascontiguousarray(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(
            format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG").to_ndarray()[:height])
            for f in stack]
        marker.mark_luma_plane(planes[0])  # sets up the per-size tables
        marker.mark(stack[0])
        time.sleep(1.0)  # let the BLAS threads of the set-up go idle
        luma_ms = min(_per_frame_ms(marker.mark_luma_plane, planes) for _ in range(3))
        rgb_ms = min(_per_frame_ms(marker.mark, stack[:10]) for _ in range(3))
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            with MarkedVideoWriter(Path(tmp) / "t.mp4", 25, width, height) as writer:
                for frame in stack:
                    writer.write(frame)
            writer_ms = (time.perf_counter() - start) / frames * 1e3
        rest = render_ms + writer_ms - luma_ms
        lines.append(f"  {width}x{height}: mark {luma_ms:.2f} ms/frame (video writer, Y' plane), "
                     f"{rgb_ms:.2f} ms (RGB, images); writer incl. marking {writer_ms:.1f} ms")
        lines.append(f"    overhead {100 * luma_ms / render_ms:.1f}% of the render alone "
                     f"({render_ms:g} ms), {100 * luma_ms / rest:.1f}% of render + write "
                     f"({rest:.1f} ms)")
    return lines


def end_to_end(frames: int = 60, rounds: int = 5) -> list[str]:
    """animate's wall time per frame with and without the watermark, default model, driving lp_d13
    (720x1280); source: its first frame (output 720x1280, pasted back) or the face crop only
    (output 256x256). `rounds` rounds, each timing both in turn (which first alternates); the
    overhead is the median of the rounds' paired ratios (this shared machine's speed drifts by
    more than the effect between rounds), in wall time and in the process's CPU time (all threads,
    x264's included: the work added, less sensitive to the machine's other load)."""
    from unittest import mock

    from reenact.api import load_default_model
    from reenact.engine import TorchBackend
    from reenact.io import write_image
    from reenact.pipelines.animate import animate
    from reenact.pipelines.animate_options import AnimateOptions

    backend = TorchBackend(load_default_model())
    driving = MEDIA / "driving" / "lp_d13.mp4"
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        source = write_image(Path(tmp) / "source.png", real_frames("driving/lp_d13.mp4", 1)[0])
        for crop_only in (True, False):
            options = AnimateOptions(max_frames=frames, crop_only=crop_only)
            times: dict[bool, list[float]] = {True: [], False: []}
            cpu: dict[bool, list[float]] = {True: [], False: []}
            for round_ in range(rounds):
                for marked in ((True, False) if round_ % 2 == 0 else (False, True)):
                    patch = contextlib.nullcontext() if marked else mock.patch.object(
                        FrameMarker, "mark_luma_plane", lambda self, plane: plane)
                    with patch:
                        start, start_cpu = time.perf_counter(), time.process_time()
                        animate(source, driving, Path(tmp) / "out.mp4", backend=backend,
                                options=options, progress=False)
                        times[marked].append(time.perf_counter() - start)
                        cpu[marked].append(time.process_time() - start_cpu)
                    (Path(tmp) / "out.mp4").unlink()
            side = "256x256 crop" if crop_only else "720x1280 pasted"
            for name, values in (("wall", times), ("CPU (all threads)", cpu)):
                ratios = np.array(values[True]) / np.array(values[False]) - 1
                lines.append(f"  animate, default model, output {side}, {name}: median "
                             f"{1e3 * np.median(values[True]) / frames:.1f} ms/frame marked, "
                             f"{1e3 * np.median(values[False]) / frames:.1f} unmarked: overhead "
                             f"{100 * np.median(ratios):.1f}% (median of {rounds} paired rounds; "
                             f"range {100 * ratios.min():.1f}% .. {100 * ratios.max():.1f}%)")
    return lines


def report(tally: Tally, null: NullTally, timings: list[str], seconds: float) -> None:
    logger.info("")
    logger.info("detection of marked %g s clips (%d clips; payload must decode intact):",
                seconds, tally.clips)
    for condition in CONDITIONS:
        rate = tally.detected[condition] / max(tally.clips, 1)
        strengths = tally.strengths[condition]
        missed = tally.missed[condition]
        logger.info("  %-20s %5.1f%%  (%d/%d, median strength %.2f)%s", condition, 100 * rate,
                    tally.detected[condition], tally.clips, float(np.median(strengths or [0])),
                    f"  missed: {', '.join(missed[:6])}" if missed else "")
    logger.info("false positives on unmarked %g s clips (%d clips of all media):", seconds,
                null.clips)
    logger.info("  real key: %d of %d clips detected", null.real_key_hits, null.clips)
    bound = WatermarkConfig().false_alarm_per_test
    logger.info("  random keys: %d of %d trials detected (model: %.1e per trial, i.e. %.2g "
                "expected)", null.random_key_hits, null.trials, bound, bound * null.trials)
    balance = np.array(null.bit_balance or [0.5])
    logger.info("  unmarked clips decode to random words: CRC bits agree %.3f of the time "
                "(expected 0.5); share of 1s per bit %.2f-%.2f", null.crc_agreement,
                balance.min(), balance.max())
    logger.info("picture cost: PSNR marked vs unmarked, worst frame per clip: min %.1f dB, "
                "median %.1f dB", min(tally.psnrs or [0]), float(np.median(tally.psnrs or [0])))
    logger.info("embedding time (wall, one thread):")
    for line in timings:
        logger.info("%s", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one clip per video, 6 marked videos, 20 random keys")
    parser.add_argument("--clips", type=int, help="at most N clips per video")
    parser.add_argument("--keys", type=int, default=200, help="random keys per unmarked clip")
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length")
    parser.add_argument("--render-ms", type=float, default=30.0,
                        help="model render time per frame to compare with (fast-256: ~30 ms)")
    parser.add_argument("--no-end-to-end", action="store_true",
                        help="skip timing animate with and without the watermark")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("reenact").setLevel(logging.WARNING)  # not a line per file written

    marked_videos = videos("driving", "talking")
    all_videos = videos("driving", "talking", "eval")
    limit, keys = args.clips, args.keys
    if args.quick:
        marked_videos = marked_videos[::4]
        limit, keys = 1, min(keys, 20)
    started = time.perf_counter()
    logger.info("timing ...")
    timings = timing(args.render_ms)
    if not args.no_end_to_end:
        logger.info("end to end ...")
        timings += end_to_end()
    logger.info("marked clips (%d videos) ...", len(marked_videos))
    with tempfile.TemporaryDirectory() as tmp:
        tally = detection_run(marked_videos, Path(tmp), args.seconds, limit)
    logger.info("unmarked clips (%d videos) ...", len(all_videos))
    null = false_positive_run(all_videos, args.seconds, limit, keys)
    report(tally, null, timings, args.seconds)
    logger.info("(%.0f s)", time.perf_counter() - started)


if __name__ == "__main__":
    main()
