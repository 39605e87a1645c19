"""`reenact verify`: is this video or image marked as made by reenact, and what else does it say?

Three sources, in decreasing robustness: the invisible watermark (survives re-encoding and
rescaling; decides "marked"), the container metadata (lost when another tool re-encodes), and the
sidecar manifest (only next to the original file; its output sha256 tells whether the file is
still the one written).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reenact.io import VideoReader, read_image
from reenact.io.errors import check_input_file
from reenact.io.video_decode import planes_of_rgb
from reenact.provenance.frame_evidence import (
    BorderedEvidence,
    canonical_luma,
    cut_borders,
    with_dct_prior,
)
from reenact.provenance.manifest import ManifestError, manifest_path, output_matches, read_manifest
from reenact.provenance.record import parse_comment
from reenact.provenance.watermark import Detection, WatermarkConfig, Watermarker
from reenact.provenance.watermark.borders import content_rect
from reenact.provenance.watermark.dct_search import CropGainSearch
from reenact.provenance.watermark.tile_detect import NOTHING_UNDONE, TileDetection, TileDetector

_VIDEO_TAGS = ("comment", "description", "keywords", "encoder")
_IMAGE_TAGS = ("Comment", "comment", "Description", "Software")
_MAX_TAG_CHARS = 300
# the tiled layer's search costs ~0.1 s a 720p frame: a video is read at this many frames a second
# (the mark is the same in every frame; more frames only average out more of the picture)
_TILED_FRAMES_PER_SECOND = 8.0
# ... and at most this many frames of it (4 s at that rate; the targets are met on 2-s clips): each
# costs ~15 ms at 720p, more than decoding it, and a long video's later frames add picture, not mark
_TILED_MAX_FRAMES = 32
_TILED_LOOK_FACTOR = 4  # the tiled layer looks after 1, 4, 16, ... clips
_VIDEO_FORMATS_PILLOW_KNOWS = frozenset({"MPEG"})  # it names them, it cannot read them


@dataclass(frozen=True)
class ClipResult:
    """The watermark as read from one clip of a video, [start_s, end_s)."""

    start_s: float
    end_s: float
    detection: Detection


@dataclass(frozen=True)
class Verification:
    """What a file says about its origin.

    detection: the watermark over the whole file (for a video: the whole, or its clips).
    clips: per-clip results of a video (empty for an image).
    metadata: the container tags / image text chunks that bear on provenance.
    manifest: the sidecar manifest, if one is next to the file; manifest_error if unreadable.
    output_matches: whether the file's sha256 is the one the manifest recorded (None: no manifest).
    layer: which layer of the watermark was read ("dct", "tiled"; None: neither).
    transform: for the tiled layer, what was undone to find it (flip, rotation, scale, borders).
    """

    path: Path
    kind: str
    detection: Detection
    clips: tuple[ClipResult, ...]
    metadata: dict[str, str]
    manifest: dict[str, Any] | None
    manifest_error: str | None
    output_matches: bool | None
    layer: str | None = None
    transform: str | None = None

    @property
    def marked(self) -> bool:
        return self.detection.present

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "marked": self.marked,
                "watermark": self.detection.to_dict(), "layer": self.layer,
                "transform": self.transform,
                "clips": [{"start_s": round(clip.start_s, 3), "end_s": round(clip.end_s, 3),
                           "present": clip.detection.present,
                           "run_id": None if clip.detection.payload is None
                           else clip.detection.payload.short_run_id}
                          for clip in self.clips],
                "metadata": self.metadata, "metadata_fields": parse_comment(
                    self.metadata.get("comment", self.metadata.get("Comment", ""))),
                "manifest": self.manifest, "manifest_error": self.manifest_error,
                "output_sha256_matches": self.output_matches}


def _verify_video(path: Path, watermarker: Watermarker, tiles: TileDetector
                  ) -> tuple[Detection, tuple[ClipResult, ...], TileDetection, str | None]:
    """Evidence per clip of `clip_seconds`, and over the whole video; the whole decides unless
    only some clips carry the mark (an edited video). Frames are read as planes (no conversion
    to RGB: `canonical_luma`); `tiles` gathers the tiled layer's evidence from every few
    frames (at most `_TILED_MAX_FRAMES`). Reading stops early when the DCT layer finds the mark
    after 1, 2, 4, ... clips, or the tiled layer after 1, 4, 16, ... (its search costs more;
    none once it has no new frames); each such look is one more test in that layer's
    false-alarm bound. The DCT layer also reads the content inside borders
    (`BorderedEvidence`); the last value says so when that is where it found the mark."""
    looks = tiled_looks = tiled_frames = 0
    tiled: TileDetection | None = None
    bordered = BorderedEvidence(watermarker)
    search = CropGainSearch(watermarker)
    rect: tuple[int, int, int, int] | None = None
    shape = (0, 0)
    with VideoReader(path) as reader:
        fps = float(reader.info.fps)
        clip_frames = max(1, round(watermarker.config.clip_seconds * fps))
        tiled_stride = max(1, round(fps / _TILED_FRAMES_PER_SECOND))
        next_look, next_tiled_look = clip_frames, clip_frames
        sums: list[np.ndarray] = []
        counts: list[int] = []
        for index, planar in enumerate(reader.planes()):
            soft = watermarker.soft_bits_from_canonical(canonical_luma(watermarker, planar))
            if index % tiled_stride == 0:
                # the tiled layer reads any luma-like plane alike; its content rectangle holds
                # for the DCT layer until the next frame the tiled layer reads (past its last
                # frame, the rectangle is still found)
                rect = (tiles.add_luma(planar.y) if tiles.frames < _TILED_MAX_FRAMES
                        else content_rect(planar.y))
                search.add(planar)
            bordered.add(planar, rect)
            shape = planar.y.shape
            if index % clip_frames == 0:
                sums.append(np.zeros_like(soft))
                counts.append(0)
            sums[-1] += soft
            counts[-1] += 1
            if index + 1 == next_look:
                next_look *= 2
                looks += 1
                frames = sum(counts)
                if watermarker.decode(np.sum(sums, axis=0) / frames, frames).present:
                    break
                if bordered.detection() is not None:
                    break
            if index + 1 == next_tiled_look:
                next_tiled_look *= _TILED_LOOK_FACTOR
                # a look at the frames of the last one (past `_TILED_MAX_FRAMES`) would only add
                # a test to the bound
                if tiles.frames > tiled_frames:
                    tiled_frames = tiles.frames
                    tiled_looks += 1
                    tiled = tiles.detection(tests=tiled_looks)
                    if tiled.detection.present:
                        break
                    tiled = None
    # a last clip shorter than half a clip is evidence for the whole only
    clips_used = [i for i, count in enumerate(counts) if count * 2 >= clip_frames or i == 0]
    if tiled is None:
        tiled = tiles.detection(tests=tiled_looks + 1)
    inside = bordered.detection()  # the last of its looks
    tests = 1 + len(clips_used) + looks + bordered.tests
    frames = sum(counts)
    whole = watermarker.decode(np.sum(sums, axis=0) / frames, frames, tests=tests)
    clips = tuple(ClipResult(start_s=i * clip_frames / fps,
                             end_s=(i * clip_frames + counts[i]) / fps,
                             detection=watermarker.decode(sums[i] / counts[i], counts[i],
                                                          tests=tests))
                  for i in clips_used)
    if whole.present:
        return whole, clips, tiled, None
    found = [clip.detection for clip in clips if clip.detection.present]
    if found:
        payload, _ = Counter(detection.payload for detection in found).most_common(1)[0]
        best = max((d for d in found if d.payload == payload), key=lambda d: d.strength)
        return best, clips, tiled, None
    if inside is not None:
        detection, rect = inside
        return (dataclasses.replace(detection, false_alarm=whole.false_alarm), clips, tiled,
                cut_borders(rect, shape))
    if not tiled.detection.present:
        tiled = with_dct_prior(tiles, search, tiled_looks + 2)
    return whole, clips, tiled, None


def _is_image(path: Path) -> bool:
    """Whether the file's content (not its name) is a still image Pillow reads."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.format not in _VIDEO_FORMATS_PILLOW_KNOWS
    except (UnidentifiedImageError, OSError):
        return False


def _video_metadata(path: Path) -> dict[str, str]:
    import av

    try:
        with av.open(str(path.absolute()), metadata_errors="replace") as container:
            tags = dict(container.metadata)
    except av.error.FFmpegError:
        return {}
    return {key: str(tags[key])[:_MAX_TAG_CHARS] for key in _VIDEO_TAGS if key in tags}


def _image_metadata(path: Path) -> dict[str, str]:
    from PIL import Image

    with Image.open(path) as image:
        info = dict(image.info)
    found = {}
    for key in _IMAGE_TAGS:
        value = info.get(key)
        if isinstance(value, bytes):  # JPEG comments are raw bytes
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str):
            found["Comment" if key == "comment" else key] = value[:_MAX_TAG_CHARS]
    return found


def _manifest(path: Path) -> tuple[dict[str, Any] | None, str | None, bool | None]:
    try:
        manifest = read_manifest(path)
    except ManifestError as error:
        return None, str(error), None
    if manifest is None:
        return None, None, None
    return manifest, None, output_matches(path, manifest)


def verify_file(path: str | os.PathLike[str],
                config: WatermarkConfig | None = None) -> Verification:
    """Read the watermark, metadata and manifest of a video or image file.

    Raises MediaError (a ValueError, one line naming the file) if the file is missing or is
    neither a readable video nor a readable image.
    """
    path = check_input_file(path, what="file")
    watermarker = Watermarker(config)
    tiles = TileDetector()
    clips: tuple[ClipResult, ...] = ()
    if _is_image(path):
        image = read_image(path)
        rect = tiles.add(image)
        tiled = tiles.detection()
        detection, dct_transform = _verify_image(image, rect, watermarker)
        kind, metadata = "image", _image_metadata(path)
    else:
        detection, clips, tiled, dct_transform = _verify_video(path, watermarker, tiles)
        kind, metadata = "video", _video_metadata(path)
    detection, layer, transform = _either_layer(detection, tiled)
    if layer == "dct" and dct_transform is not None:
        transform = dct_transform
    manifest, manifest_error, matches = _manifest(path)
    return Verification(path=path, kind=kind, detection=detection, clips=clips,
                        metadata=metadata, manifest=manifest, manifest_error=manifest_error,
                        output_matches=matches, layer=layer, transform=transform)


def _verify_image(image: np.ndarray, rect: tuple[int, int, int, int] | None,
                  watermarker: Watermarker) -> tuple[Detection, str | None]:
    """The DCT layer's reading of an image, and of its content inside borders (`rect`) when the
    whole does not decode (each a test in the bound); the second value says when it was there."""
    tests = 1 if rect is None else 2
    detection = watermarker.decode(watermarker.soft_bits(image), 1, tests=tests)
    if detection.present or rect is None:
        return detection, None
    bordered = BorderedEvidence(watermarker)
    bordered.add(planes_of_rgb(image), rect)
    inside = bordered.detection()
    if inside is None:
        return detection, None
    return (dataclasses.replace(inside[0], false_alarm=detection.false_alarm),
            cut_borders(rect, image.shape[:2]))


def _either_layer(dct: Detection, tiled: TileDetection) -> tuple[Detection, str | None,
                                                                 str | None]:
    """The DCT layer's reading when it found the mark (files written before the tiled layer
    carry only it), else the tiled layer's; the false-alarm bound covers both tests."""
    false_alarm = min(1.0, dct.false_alarm + tiled.detection.false_alarm)
    if dct.present:
        return dataclasses.replace(dct, false_alarm=false_alarm), "dct", None
    if tiled.detection.present:
        return (dataclasses.replace(tiled.detection, false_alarm=false_alarm), "tiled",
                tiled.transform)
    return dataclasses.replace(dct, false_alarm=false_alarm), None, None


def _watermark_line(verification: Verification) -> str:
    detection = verification.detection
    if not detection.present:
        unit = "frame" if verification.kind == "image" else "frames"
        return f"  watermark: none found ({detection.frames} {unit} read)"
    payload = detection.payload
    assert payload is not None
    line = (f"  watermark: format {payload.format_version}, reenact {payload.tool_version_text}, "
            f"run {payload.short_run_id}; strength {detection.strength:.2f}, "
            f"false-alarm probability < {detection.false_alarm:.0e}")
    if verification.layer == "tiled":
        line += "; tiled layer" + ("" if verification.transform == NOTHING_UNDONE
                                   else f", found after {verification.transform}")
    elif verification.transform is not None:  # the DCT layer, inside borders
        line += f"; found after {verification.transform}"
    elif verification.clips:
        marked = sum(clip.detection.present for clip in verification.clips)
        line += f"; in {marked} of {len(verification.clips)} clips"
    return line


def _manifest_line(verification: Verification) -> str:
    if verification.manifest_error is not None:
        return f"  manifest: {verification.manifest_error}"
    manifest = verification.manifest
    if manifest is None:
        return f"  manifest: none ({manifest_path(verification.path).name} not found)"
    model = manifest.get("model", {}).get("name", "unknown") if isinstance(
        manifest.get("model"), dict) else "unknown"
    match = ("the file is the one written (sha256 matches)" if verification.output_matches
             else "the file was changed since (sha256 differs)")
    return (f"  manifest: run {manifest.get('run_id')}, model {model}, created "
            f"{manifest.get('created')}; {match}")


def describe(verification: Verification) -> str:
    """A few lines for people: verdict, watermark, metadata, manifest."""
    verdict = ("MARKED as synthetic (made by reenact)" if verification.marked
               else "NOT marked: no reenact watermark found")
    comment = verification.metadata.get("comment", verification.metadata.get("Comment"))
    fields = parse_comment(comment) if comment else None
    if fields is not None:
        metadata = (f"  metadata: says synthetic, {fields.get('tool', '?')}, model "
                    f"{fields.get('model', '?')}, run {fields.get('run', '?')}")
    elif verification.metadata:
        metadata = "  metadata: no reenact tags (" + ", ".join(
            f"{key}={value!r}" for key, value in verification.metadata.items()) + ")"
    else:
        metadata = "  metadata: no reenact tags"
    return "\n".join([f"{verification.path}: {verdict}", _watermark_line(verification), metadata,
                      _manifest_line(verification)])
