"""Evaluation of a motion model, two ways.

Faces (`evaluate_self_reenactment`, `evaluate_cross_identity`): through the user's own path, the
animate pipeline (`prepare_source`, `track_driving`, `read_expressions`, `animate_frames`). Each
output frame is measured at its resolution with landmarks and pixels (`reenact.evaluation`): mouth
(visible interior, the primary cue, and the inner-lip gaps), eyes, head pose, sharpness, identity,
and in self-reenactment AKD, L1, PSNR and the mouth's box against the driving frame; so is a
training-free baseline, the source warped piecewise-affinely onto the driver's landmarks.
- self-reenactment: frame 0 of each clip is the source portrait, the whole clip the driving video;
  the output should reproduce the clip.
- cross-identity: portraits x driving clips; the output's expression and pose changes should follow
  the driver's while its identity stays the portrait's.

Crops (`evaluate_videos`, `reenact.pipelines.evaluate_crops`): each video's first frame is the
source, every later frame a driving frame, on the model-size face crops with absolute keypoints:
L1, PSNR (dB), SSIM and keypoint jitter, against the "static" baseline (the first frame repeated).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.engine.backend import Backend
from reenact.evaluation.facemesh import StreamMeshes, mesh_distance, mesh_measures
from reenact.evaluation.identity import FaceDescriber, descriptor_distance
from reenact.evaluation.measures import (
    compare_mouths,
    face_box,
    face_sharpness,
    face_size,
    keypoint_distance,
)
from reenact.evaluation.report import format_face_report
from reenact.evaluation.scores import (
    MEAN_SCORES,
    METHODS,
    ClipRecord,
    MethodFrames,
    SeriesRecorder,
    measure_face,
    series_record,
    summarize_records,
)
from reenact.evaluation.sheet import SheetRow, Tile, contact_sheet, cut_tile, pick_frames
from reenact.evaluation.warp import landmark_warp, transfer_displacements
from reenact.io import VideoReader, probe_video, read_image
from reenact.io.frame_order import ordered_frames
from reenact.io.tree import files_under
from reenact.pipelines.animate import animate_frames, read_expressions
from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.driving_track import (
    PreparedSource,
    best_crop,
    prepare_source,
    read_best_frame,
    track_driving,
)
from reenact.preprocess.clip import VIDEO_SUFFIXES
from reenact.preprocess.crop import CropBox
from reenact.preprocess.face import FaceAnalyzer, NoFaceError, create_face_analyzer
from reenact.provenance.writers import write_marked_image

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
SELF, CROSS = "self", "cross"


@dataclass(frozen=True)
class FaceEvaluationOptions:
    """How `evaluate_self_reenactment` / `evaluate_cross_identity` run.

    animate: the animate pipeline's options (default: what `reenact animate` does by default).
    max_frames: use at most the first N frames of each driving clip; None: all.
    identity_every: compute face descriptors (~20 ms each) on every N-th frame only.
    sheet_frames: frames per clip kept as contact-sheet tiles (0: none kept).
    tile_size: side of a contact-sheet tile, pixels.
    facemesh: also measure the lips, eyes and gaze with FaceMesh: mediapipe's where it is
        installed (one tracker per stream: driver, model, warp), else the bundled port (no gaze).
    """

    animate: AnimateOptions = AnimateOptions()
    max_frames: int | None = None
    identity_every: int = 4
    sheet_frames: int = 0
    tile_size: int = 128
    facemesh: bool = True

    def __post_init__(self) -> None:
        if self.max_frames is not None and self.max_frames < 2:
            raise ValueError(f"max_frames: expected None or an integer >= 2, got {self.max_frames}")
        if self.identity_every < 1:
            raise ValueError(f"identity_every: expected an integer >= 1, got {self.identity_every}")
        if self.sheet_frames < 0:
            raise ValueError(f"sheet_frames: expected an integer >= 0, got {self.sheet_frames}")
        if self.tile_size < 32:
            raise ValueError(f"tile_size: expected an integer >= 32, got {self.tile_size}")


@dataclass(frozen=True)
class ClipEvaluation:
    """One evaluated clip: its per-frame record and, when asked for, its contact-sheet row."""

    record: ClipRecord
    sheet: SheetRow | None = None


def collect_files(paths: Iterable[str | os.PathLike], suffixes: tuple[str, ...],
                  what: str) -> list[tuple[str, Path]]:
    """(name, path) of every file given or found under a given directory (recursively, sorted);
    the name is the path relative to that directory's parent, or the file's own name."""
    found: list[tuple[str, Path]] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files = files_under(entry, suffixes)
            if not files:
                raise ValueError(f"{entry}: no {what} found (looked for {', '.join(suffixes)})")
            found.extend((str(p.relative_to(entry.parent)), p) for p in files)
        elif entry.is_file():
            found.append((entry.name, entry))
        else:
            raise ValueError(f"{entry}: no such file or directory")
    return found


class _FaceProbe:
    """Landmarks (nearest face to where it is expected) and descriptors of images."""

    def __init__(self, analyzer: FaceAnalyzer, describer: FaceDescriber) -> None:
        self.analyzer = analyzer
        self.describer = describer

    def landmarks(self, image: np.ndarray, near: np.ndarray | None) -> np.ndarray | None:
        faces = [face for face in self.analyzer.detect(image) if face.landmarks is not None]
        if not faces:
            return None
        if near is None:
            return faces[0].landmarks
        return min(faces, key=lambda f: float(((f.landmarks.mean(axis=0) - near) ** 2).sum())).landmarks

    def describe(self, image: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        return None if landmarks is None else self.describer.describe(image, landmarks)


def _distance(descriptor: np.ndarray | None, reference: np.ndarray | None) -> float:
    return math.nan if reference is None or descriptor is None else descriptor_distance(descriptor, reference)


def _fit_to(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """The driving frame at the output's resolution: trimmed when it is at most one pixel larger
    (animate trims odd sides), otherwise resized."""
    if frame.shape[:2] == (height, width):
        return frame
    if 0 <= frame.shape[0] - height <= 1 and 0 <= frame.shape[1] - width <= 1:
        return frame[:height, :width]
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS))


def _tile_box(landmarks: np.ndarray) -> CropBox:
    center = (landmarks.min(axis=0) + landmarks.max(axis=0)) / 2
    return CropBox(float(center[0]), float(center[1]), 1.6 * face_size(landmarks))


class _ClipRun:
    """The per-frame work of one clip: measure driver, model output and warp; keep tiles."""

    def __init__(self, kind: str, source: PreparedSource, probe: _FaceProbe,
                 options: FaceEvaluationOptions) -> None:
        assert source.landmarks is not None
        self.kind, self.source, self.probe, self.options = kind, source, probe, options
        self.source_descriptor = probe.describer.describe(source.image, source.landmarks)
        self.driver = SeriesRecorder()
        self.methods = {method: SeriesRecorder() for method in METHODS}
        self.driver_identity: list[float] = []
        self.driver_near: np.ndarray | None = None
        self.driver_initial: np.ndarray | None = None
        self.driver_last: np.ndarray | None = None
        self.source_box = face_box(source.landmarks)
        self.output_box = _tile_box(source.landmarks)
        self.driver_box: CropBox | None = None
        self.tiles: list[dict[str, Tile]] = []
        self.meshes = StreamMeshes(("driving", *METHODS)) if options.facemesh else None

    def mesh_face(self, stream: str, image: np.ndarray,
                  face: np.ndarray | None) -> tuple[dict[str, float], np.ndarray | None]:
        """({"lips_mesh": FaceMesh's inner-lip gap, "eye_mesh": its eye opening, "gaze_mesh": its
        iris offset in `image`} (NaN: no face), its points or None), or ({}, None) without it."""
        if self.meshes is None:
            return {}, None
        points = self.meshes.landmarks(stream, image, face)
        return mesh_measures(points), points

    def warp(self) -> np.ndarray:
        source, last = self.source, self.driver_last
        if last is None:
            return source.image
        target = last if self.kind == SELF else transfer_displacements(source.landmarks, last,
                                                                       self.driver_initial)
        return landmark_warp(source.image, source.landmarks, target)

    def add(self, index: int, driving: np.ndarray, output: np.ndarray) -> None:
        height, width = output.shape[:2]
        if self.kind == SELF:
            driving = _fit_to(driving, height, width)
        driver = self.probe.landmarks(driving, self.driver_near)
        if driver is not None:
            self.driver_near = driver.mean(axis=0)
            self.driver_last = driver
            if self.driver_initial is None:
                self.driver_initial = driver
                self.driver_box = _tile_box(driver)
        driver_mesh_values, driver_mesh = self.mesh_face("driving", driving, driver)
        self.driver.add({**measure_face(driving, driver), **driver_mesh_values})
        identity_frame = index % self.options.identity_every == 0
        driver_descriptor = self.probe.describe(driving, driver) if identity_frame else None
        self.driver_identity.append(_distance(driver_descriptor, self.source_descriptor))
        near = driver.mean(axis=0) if self.kind == SELF and driver is not None \
            else self.source.landmarks.mean(axis=0)
        images = {"driving": (driving, driver)}
        for method, image in (("model", output), ("warp", self.warp())):
            landmarks = self.probe.landmarks(image, near)
            values = measure_face(image, landmarks)
            mesh_values, mesh = self.mesh_face(method, image, landmarks)
            values.update(mesh_values)
            values.update(self._compare(image, landmarks, driving, driver))
            if self.kind == SELF and driver is not None and mesh is not None \
                    and driver_mesh is not None:
                values["akd_mesh"] = mesh_distance(mesh, driver_mesh, face_size(driver))
            if identity_frame:
                descriptor = self.probe.describe(image, landmarks)
                values["identity"] = _distance(descriptor, self.source_descriptor)
                values["identity_frame"] = _distance(descriptor, driver_descriptor
                                                     if self.kind == SELF else None)
            self.methods[method].add(values)
            images[method] = (image, landmarks)
        if self.options.sheet_frames:
            self._keep_tiles(images)

    def _compare(self, image: np.ndarray, landmarks: np.ndarray | None, driving: np.ndarray,
                 driver: np.ndarray | None) -> dict[str, float]:
        if self.kind == CROSS:  # no pixel truth; sharpness against the portrait's own face
            return face_sharpness(image, self.source.image, self.source_box, self.source.landmarks, landmarks)
        difference = np.abs(image.astype(np.float32) - driving.astype(np.float32)) / 255
        mse = float((difference ** 2).mean())
        values = {"l1": float(difference.mean()),
                  "psnr": 10 * math.log10(1 / mse) if mse > 1e-10 else 100.0}
        if driver is not None:
            values.update(face_sharpness(image, driving, face_box(driver), driver, landmarks))
            values["mouth_l1"], values["mouth_ssim"] = compare_mouths(image, driving, driver)
            if landmarks is not None:
                values["akd"] = keypoint_distance(landmarks, driver)
        return values

    def _keep_tiles(self, images: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> None:
        size = self.options.tile_size
        driver_box = self.driver_box or self.output_box
        output_box = driver_box if self.kind == SELF else self.output_box
        self.tiles.append({name: cut_tile(image, driver_box if name == "driving" else output_box,
                                          size, landmarks)
                           for name, (image, landmarks) in images.items()})

    def close(self) -> None:
        if self.meshes is not None:
            self.meshes.close()

    def finish(self, clip: str, source_name: str) -> ClipEvaluation:
        methods = {method: MethodFrames(face=recorder.face_series(),
                                        **{name: recorder.array(name) for name in MEAN_SCORES})
                   for method, recorder in self.methods.items()}
        record = ClipRecord(clip=clip, source=source_name, kind=self.kind, frames=self.driver.frames,
                            driver=self.driver.face_series(),
                            driver_identity=np.array(self.driver_identity, dtype=np.float64),
                            methods=methods)
        sheet = None
        if self.options.sheet_frames and self.tiles:
            picked = pick_frames(record.driver.mouth_interior, record.driver.eye_ratio,
                                 record.driver.yaw, self.options.sheet_frames)
            label = clip if self.kind == SELF else f"{source_name} x {clip}"
            sheet = SheetRow(label, [(index, self.tiles[index]) for index in picked])
        return ClipEvaluation(record, sheet)


def _evaluate_pair(kind: str, source_image: np.ndarray, driving: Path, clip: str, source_name: str,
                   backend: Backend, probe: _FaceProbe, options: FaceEvaluationOptions,
                   progress: bool) -> ClipEvaluation:
    from tqdm import tqdm

    animate_options = options.animate
    size = backend.image_size
    source = prepare_source(source_image, size, animate_options, probe.analyzer, name=source_name)
    if source.landmarks is None:
        raise NoFaceError(f"{source_name}: no face landmarks")
    info = probe_video(driving)
    with VideoReader(driving) as reader:
        track = track_driving(itertools.islice(reader, options.max_frames), float(info.fps),
                              source.landmarks, animate_options, probe.analyzer, name=clip)
    initial_crop = best_crop(read_best_frame(driving, track), track, size)  # as `animate` does
    track = read_expressions(driving, track, backend, animate_options)
    run = _ClipRun(kind, source, probe, options)
    # the model is fed what `animate` feeds it (frames whose face is missing or cut hold the last
    # whole one); its output is compared with the driving frame actually there
    try:
        with VideoReader(driving) as feed, VideoReader(driving) as truth, tqdm(
                total=len(track.boxes), unit="frame", desc=clip, disable=not progress,
                leave=False) as bar:
            fed = ordered_frames(lambda: iter(feed), track.frame_indices())
            outputs = animate_frames(source, fed, track, backend, animate_options, initial_crop)
            for index, (output, frame) in enumerate(zip(outputs, truth)):
                run.add(index, frame, output)
                bar.update(1)
    finally:
        run.close()
    return run.finish(clip, source_name)


def _probe(analyzer: FaceAnalyzer | None, describer: FaceDescriber | None,
           options: FaceEvaluationOptions) -> _FaceProbe:
    return _FaceProbe(analyzer or create_face_analyzer(options.animate.face_backend),
                      describer or FaceDescriber())


def evaluate_self_reenactment(videos: list[tuple[str, Path]], backend: Backend,
                              options: FaceEvaluationOptions | None = None, *,
                              analyzer: FaceAnalyzer | None = None,
                              describer: FaceDescriber | None = None,
                              progress: bool = True) -> Iterator[ClipEvaluation]:
    """Each (name, video): frame 0 as the source portrait, the video as driving. A video whose
    frame 0 has no face is skipped with a warning."""
    options = options or FaceEvaluationOptions()
    probe = _probe(analyzer, describer, options)
    for name, video in videos:
        with VideoReader(video) as reader:
            first = next(iter(reader), None)
        if first is None:
            raise ValueError(f"{video}: the video has no frames")
        try:
            yield _evaluate_pair(SELF, first, video, name, f"{name}[0]", backend, probe, options,
                                 progress)
        except NoFaceError as error:
            logger.warning("%s: skipped (%s)", name, error)


def evaluate_cross_identity(portraits: list[tuple[str, Path]], videos: list[tuple[str, Path]],
                            backend: Backend, options: FaceEvaluationOptions | None = None, *,
                            analyzer: FaceAnalyzer | None = None,
                            describer: FaceDescriber | None = None,
                            progress: bool = True) -> Iterator[ClipEvaluation]:
    """Every portrait animated by every driving video. A portrait without a face, or a video
    without one, is skipped with a warning."""
    options = options or FaceEvaluationOptions()
    probe = _probe(analyzer, describer, options)
    for portrait_name, portrait in portraits:
        image = read_image(portrait)
        for name, video in videos:
            try:
                yield _evaluate_pair(CROSS, image, video, name, portrait_name, backend, probe,
                                     options, progress)
            except NoFaceError as error:
                logger.warning("%s x %s: skipped (%s)", portrait_name, name, error)


def evaluate_faces(backend: Backend, options: FaceEvaluationOptions, *,
                   videos: Iterable[str | os.PathLike] | None = None,
                   portraits: Iterable[str | os.PathLike] | None = None,
                   driving: Iterable[str | os.PathLike] | None = None,
                   sheet: str | os.PathLike | None = None,
                   progress: bool = True) -> tuple[dict, str]:
    """Self-reenactment on `videos` and cross-identity of `portraits` x `driving` (files or
    directories); returns (summary with per-frame series, markdown report). With `sheet`, also
    writes the contact sheet there (an image, marked as synthetic like every image reenact writes).
    """
    analyzer = create_face_analyzer(options.animate.face_backend)
    describer = FaceDescriber()
    evaluations: list[ClipEvaluation] = []
    if videos:
        clips = collect_files(videos, VIDEO_SUFFIXES, "videos")
        evaluations += evaluate_self_reenactment(clips, backend, options, analyzer=analyzer,
                                                 describer=describer, progress=progress)
    if portraits:
        images = collect_files(portraits, IMAGE_SUFFIXES, "images")
        clips = collect_files(driving or [], VIDEO_SUFFIXES, "videos")
        evaluations += evaluate_cross_identity(images, clips, backend, options, analyzer=analyzer,
                                               describer=describer, progress=progress)
    summary = summarize_records([evaluation.record for evaluation in evaluations])
    summary["series"] = [series_record(evaluation.record) for evaluation in evaluations]
    if sheet is not None:
        rows = [evaluation.sheet for evaluation in evaluations if evaluation.sheet is not None]
        write_marked_image(sheet, contact_sheet(rows, options.tile_size))
        logger.info("wrote the contact sheet %s (%d clips)", sheet, len(rows))
    return summary, format_face_report(summary)
