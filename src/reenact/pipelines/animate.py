"""animate: a portrait and a driving video in, a video of the portrait making the driving motion out.

    source image -> face crop ----------------------------> keypoints, encoding (once)
    driving video -> pass 1: face track (boxes, best frame)      `reenact.pipelines.driving_track`
                  -> pass 2: crop -> keypoints -> smooth -> normalize -> render -> composite
                             -> drawn mouth -> video

Pass 1 needs no torch: `reenact animate` runs it in a second process while this one loads the
model (`reenact.pipelines.face_pass_process`); called as a function, `animate` runs it here. In
pass 2 the model renders the next batch on a thread while this one composites the last (the
same frames as in turn; ~25% less time on two cores).

The composite (render="full", `reenact.postprocess.full_res`) warps the photo itself at its own
resolution by the model's motion and pastes only the region that moved; render="crop" pastes the
model-size frame, upscaled, over the crop box (`reenact.postprocess.paste`). Over a full-resolution
composite the photo's own mouth is drawn with the driver's change of mouth (mouth="drawn",
`reenact.pipelines.mouth_transfer`, `reenact.pipelines.portrait_mouth`).

Memory does not grow with the video's length: both passes stream frames, pass 1 keeps one crop box
per frame. The options are `reenact.pipelines.animate_options.AnimateOptions`.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import numpy as np

from reenact.containers import Keypoints
from reenact.engine.backend import Backend
from reenact.geometry import movement_scale, normalize_keypoints
from reenact.io import VideoReader, batched
from reenact.io.background import prefetched
from reenact.io.frame_order import ordered_frames
from reenact.io.video import check_video_output
from reenact.pipelines.eye_reference import driver_eyes
from reenact.postprocess.eye_motion import EYE_OPEN
from reenact.postprocess.eyelids import with_eye_shapes
from reenact.postprocess.full_res import FullResCompositor, FullResConfig
from reenact.pipelines.animate_options import AnimateOptions
from reenact.pipelines.box_motion import HeadMotionSplit
from reenact.pipelines.driving_mesh import read_expressions
from reenact.pipelines.driving_track import (DrivingTrack, PreparedSource, renders_full,
                                             run_face_pass, track_landmarks)
from reenact.pipelines.face_pass_process import FacePassError, FacePassProcess
from reenact.pipelines.keypoints import detect_keypoints, reframe_keypoints
from reenact.pipelines.landmark_targets import landmark_targets
from reenact.pipelines.mouth_transfer import MouthChanges, mouth_changes
from reenact.pipelines.portrait_mouth import (
    Carried,
    PortraitMouth,
    drawn_lips,
    parted,
    portrait_mouth,
)
from reenact.postprocess.paste import paste_back
from reenact.preprocess.crop import CropBox, crop_image
from reenact.preprocess.expressions import eye_aspect_ratios
from reenact.preprocess.face import FaceAnalyzer
from reenact.provenance.manifest import PendingManifest
from reenact.provenance.record import Provenance, options_record
from reenact.provenance.writers import MarkedVideoWriter
from reenact.smoothing import smoothed_batches

logger = logging.getLogger(__name__)

T = TypeVar("T")

# what rendering imports on first use (the drawn mouth's triangulation and masks, the video
# writer): ~0.5 s, imported while pass 1 runs in its process rather than after it
_RENDER_IMPORTS = ("scipy.spatial", "scipy.ndimage", "PIL.ImageDraw", "PIL.ImageFilter", "av")

@dataclass(frozen=True)
class AnimateResult:
    output: Path
    num_frames: int
    fps: Fraction
    width: int
    height: int
    has_audio: bool
    seconds: float
    run_id: str = ""  # the provenance record's run id (the watermark carries its first 4 digits)
    manifest: Path | None = None  # the sidecar manifest written next to the output


def full_res_compositor(source: PreparedSource, backend: Backend, options: AnimateOptions,
                         encoded: object, kp_source: Keypoints) -> FullResCompositor | None:
    """The compositor of render="full", or None for the crop (crop_only) or the pasted crop."""
    if not renders_full(options):
        return None
    if not backend.has_motion_outputs:
        logger.warning("this backend's model returns no deformation (an ONNX export made before "
                       "full-resolution output): pasting the model-size frame instead; export it "
                       "again with `reenact export-onnx` for full resolution")
        return None
    config = FullResConfig(box_feather=options.feather, color_match=options.color_match,
                           hold_body=options.body == "still")
    still = backend.render_with_motion(encoded, kp_source, kp_source)  # the model at zero motion
    return FullResCompositor(source.image, source.box, source.crop,
                             align_corners=backend.align_corners, landmarks=source.landmarks,
                             baseline_weight=still.source_weight[0], config=config)


# a last step on each full-resolution frame: (index in the batch, composited frame, where the frame
# shows photo points: `Carried`) -> the frame to write (talk's and animate's drawn mouth)
Finish = Callable[[int, np.ndarray, Carried], np.ndarray]


def render_frames(backend: Backend, encoded: object, kp_source: Keypoints, kp: Keypoints,
                   source: PreparedSource, options: AnimateOptions,
                   compositor: FullResCompositor | None,
                   eye_ratios: np.ndarray | None = None,
                   targets: list[np.ndarray | None] | None = None,
                   finish: Finish | None = None,
                   gazes: np.ndarray | None = None, *,
                   rendered: object | None = None) -> Iterator[np.ndarray]:
    """One batch's output frames: full-resolution composites, model-size crops or pasted crops.

    eye_ratios: (B, 2) per frame, how open the eyes should be relative to the photo's
    (`reenact.postprocess.eyelids`; full resolution only), or None; targets: per frame, where
    the photo's landmarks belong (`landmark_targets`; full resolution only), or None; finish:
    applied to each composite (full resolution only), or None; gazes: (B,) per frame, how far the
    irises move along their eyes (`eye_motion.gaze_shifts`; with eye_ratios), or None; rendered: the
    model's `render_with_motion` output for `kp`, where it was rendered already (full
    resolution only)."""
    if compositor is not None:
        if rendered is None:
            rendered = backend.render_with_motion(encoded, kp_source, kp)
        for i, (frame, deformation, weight) in enumerate(zip(
                rendered.frames, rendered.deformation, rendered.source_weight)):
            out = compositor.composite(frame, deformation, weight,
                                       None if eye_ratios is None else eye_ratios[i],
                                       None if targets is None else targets[i],
                                       0.0 if gazes is None else float(gazes[i]))
            if finish is not None:
                out = finish(i, out, functools.partial(compositor.carried, deformation))
            yield out
        return
    for frame in backend.render(encoded, kp_source, kp):
        if options.crop_only:
            yield frame
        else:
            yield paste_back(source.image, frame, source.box, feather=options.feather,
                             color_match=options.color_match)


def rendered_ahead(backend: Backend, encoded: object, kp_source: Keypoints,
                   batches: Iterable[tuple[Keypoints, T]],
                   full: bool) -> Iterator[tuple[Keypoints, T, object | None]]:
    """Each of `batches` (keypoints to render, and what goes with them) with the model's
    `render_with_motion` output for it (`full`: the full-resolution composite needs it; else
    None), made on a thread one batch ahead of the caller: the model renders the next batch while
    the caller composites and draws the last one, on the other core (the same frames as rendering
    in turn)."""
    def render() -> Iterator[tuple[Keypoints, T, object | None]]:
        for kp, extra in batches:
            yield kp, extra, backend.render_with_motion(encoded, kp_source, kp) if full else None
    return prefetched(render(), 1, "reenact-model")


def drawn_mouth_finish(mouth: PortraitMouth, openings: np.ndarray, start: int,
                       shapes: np.ndarray | None = None, bites: np.ndarray | None = None) -> Finish:
    """The `Finish` that draws `mouth` on the batch starting at output frame `start`: opened by
    (T,) `openings`, shaped by (T, 68, 2) `shapes` (default the portrait's own) and with the
    teeth together by (T,) `bites` (default apart), T over the whole output."""
    def finish(index: int, frame: np.ndarray, carried: Carried) -> np.ndarray:
        at = start + index
        shown = carried(mouth.rest)  # where the frame shows the photo's landmarks
        landmarks = mouth.posed(shown, None if shapes is None else shapes[at])
        return mouth.draw(frame, landmarks, float(openings[at]),
                          0.0 if bites is None else float(bites[at]),
                          shown if mouth.frame_jaw else None)
    return finish


def drawn_mouth(source: PreparedSource, track: DrivingTrack, compositor: FullResCompositor | None,
                options: AnimateOptions, from_best: bool) -> tuple[PortraitMouth, MouthChanges] | None:
    """The photo's mouth drawer and the driver's mouth changes where animate draws the mouth:
    mouth="drawn", relative motion, rendering at full resolution, landmarks on both sides; else
    None."""
    if (options.mouth != "drawn" or compositor is None or not options.relative
            or track.landmarks is None or source.landmarks is None):
        return None
    index = track.best_index if from_best else 0
    reference = track_landmarks(track, index)
    if reference is None:
        return None
    open_lips = parted(source.image, source.landmarks)
    lips, scale = drawn_lips(source.image, source.landmarks, open_lips)
    changes = mouth_changes(track.landmarks, reference, lips, track.teeth, opening_scale=scale,
                            parted=open_lips,
                            reference_pale=np.nan if track.pale is None else track.pale[index])
    bites = bool(np.max(changes.bites, initial=0.0) > 0)  # the grin's reference only where used
    return portrait_mouth(source.image, lips, source.box, bite=bites, frame_jaw=True,
                          open_lips=open_lips), changes


def steady_lids(landmarks: list[np.ndarray | None], reference: np.ndarray) -> list[np.ndarray | None]:
    """Driving landmarks with each eye's lids shaped as in `reference` (where that eye is open
    there), moved with the eye's corners (`with_eye_shapes`): what the motion model is given when
    the lids are drawn at full resolution, so that its own lid motion (large deformations that
    only its generator makes look like an eye) stays out."""
    steady = eye_aspect_ratios(reference) >= EYE_OPEN
    return [None if points is None else with_eye_shapes(points, reference, steady)
            for points in landmarks]


def driving_keypoints(frames: Iterable[np.ndarray], boxes: Sequence[CropBox],
                      landmarks: Sequence[np.ndarray | None] | None, backend: Backend,
                      batch_size: int, reference: CropBox,
                      reference_eyes: np.ndarray | None) -> Iterator[Keypoints]:
    """The keypoints of driving `frames` (cut by `boxes`, with the faces' `landmarks` where found:
    one per frame, None where none), batch by batch, in the crop `reference` (the initial
    frame's), not yet smoothed; with `reference_eyes`, the lids as open as there (`steady_lids`)."""
    index = 0
    for batch in batched(frames, batch_size):
        batch_boxes = boxes[index:index + len(batch)]
        crops = np.stack([crop_image(frame, box, backend.image_size)
                          for frame, box in zip(batch, batch_boxes)])
        found = [landmarks[i] if landmarks is not None and i < len(landmarks) else None
                 for i in range(index, index + len(batch))]
        if reference_eyes is not None:  # the lids are drawn by the compositor, not moved by the model
            found = steady_lids(found, reference_eyes)
        yield reframe_keypoints(detect_keypoints(backend, crops, found, batch_boxes), batch_boxes,
                                reference, backend.image_size)
        index += len(batch)


def animate_frames(source: PreparedSource, frames: Iterable[np.ndarray], track: DrivingTrack,
                   backend: Backend, options: AnimateOptions,
                   initial_crop: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Pass 2: yield one output frame (uint8 RGB) per driving frame, in order.

    initial_crop: (S, S, 3) the driving frame relative motion is measured from; default the first.
    """
    kp_source = detect_keypoints(backend, source.crop[None], [source.landmarks], [source.box])
    encoded = backend.encode_source(source.crop)
    compositor = full_res_compositor(source, backend, options, encoded, kp_source)
    kp_initial: Keypoints | None = None
    reference = track.boxes[track.best_index or 0]  # the initial frame's crop: motion's frame
    if initial_crop is not None:
        best = track.best_index
        kp_initial = detect_keypoints(backend, initial_crop[None], [track_landmarks(track, best)],
                                      [track.boxes[best or 0]])
    eyes_drawn = (driver_eyes(track, source, options, initial_crop is not None)
                  if compositor is not None else None)
    reference_eyes, eyes, gazes = eyes_drawn or (None, None, None)
    targets = None
    if (compositor is not None and options.fit_landmarks and track.landmarks is not None
            and source.landmarks is not None):
        targets = landmark_targets(track.landmarks, track.best_index or 0, source.landmarks,
                                   source.box, reference, relative=options.relative,
                                   adapt_scale=options.adapt_scale)
    drawn = drawn_mouth(source, track, compositor, options, initial_crop is not None)
    # the model takes the face's zoom and shift up to a limit, the rest moves the head box
    split = None
    if compositor is not None and options.relative and options.head_motion == "split":
        split = HeadMotionSplit(source.image, source.box, options.feather,
                                getattr(backend, "anchor_groups", ()), kp_source.num_kp,
                                hold=compositor.hold)
    raw = driving_keypoints(frames, track.boxes, track.landmarks, backend, options.batch_size,
                            reference, reference_eyes)

    def batches() -> Iterator[tuple[Keypoints, tuple[int, np.ndarray | None]]]:
        """Per batch: the keypoints to render, its size and the head box's excess motion."""
        nonlocal kp_initial
        for kp_driving in smoothed_batches(raw, options.kp_smoothing, options.batch_size):
            if kp_initial is None:
                kp_initial = kp_driving[0]
            kp = normalize_keypoints(kp_source, kp_driving, kp_initial,
                                     relative_movement=options.relative,
                                     relative_jacobian=options.relative,
                                     adapt_movement_scale=options.relative and options.adapt_scale)
            excess = None
            if split is not None:
                movement = (float(movement_scale(kp_source, kp_initial)[0]) if options.adapt_scale
                            else 1.0)
                kp, excess = split.keypoints(kp_source, kp, kp_driving, kp_initial, movement)
            yield kp, (kp_driving.batch_size, excess)

    index = 0
    for kp, (count, excess), rendered in rendered_ahead(backend, encoded, kp_source, batches(),
                                                        compositor is not None):
        batch_eyes = None if eyes is None else eyes[index:index + count]
        batch_targets = None if targets is None else targets[index:index + count]
        batch_gazes = None if gazes is None else gazes[index:index + count]
        finish = None if drawn is None else drawn_mouth_finish(
            drawn[0], drawn[1].openings, index, drawn[1].shapes, drawn[1].bites)
        if split is None:
            yield from render_frames(backend, encoded, kp_source, kp, source, options, compositor,
                                     batch_eyes, batch_targets, finish, batch_gazes,
                                     rendered=rendered)
        else:
            frames_out = render_frames(backend, encoded, kp_source, kp, source, options, compositor,
                                       batch_eyes, split.targets(batch_targets, excess), finish,
                                       batch_gazes, rendered=rendered)
            yield from split.frames(frames_out, excess)
        index += count


def animate(source_path: str | os.PathLike, driving_path: str | os.PathLike,
            output_path: str | os.PathLike, *, backend: Backend, options: AnimateOptions | None = None,
            analyzer: FaceAnalyzer | None = None, progress: bool = True,
            model: Mapping[str, str] | None = None,
            faces: FacePassProcess | None = None) -> AnimateResult:
    """Render `output_path` (mp4, H.264, the driving video's fps and audio) from a portrait and a
    driving video. Nothing is written unless the whole video renders.

    The video is marked as synthetic (watermark in every frame, MP4 tags) and a manifest
    `OUTPUT.reenact.json` records the inputs' and output's sha256, `model` (e.g. from
    `reenact.provenance.describe_checkpoint`), the options and the run id.

    faces: pass 1 already running in a second process for these inputs and options (started
    before the model was loaded, as `reenact animate` does); by default it runs here, with
    `analyzer` (default: `options.face_backend`'s).
    """
    from tqdm import tqdm

    options = options or AnimateOptions()
    started = time.perf_counter()
    source_path, driving_path, output_path = Path(source_path), Path(driving_path), Path(output_path)
    if faces is not None and not faces.matches(source_path, driving_path, options):
        raise ValueError("faces: a face pass started for other inputs or options")
    check_video_output(output_path, [source_path, driving_path])
    sidecar = PendingManifest(output_path, [source_path, driving_path])  # checked before any work
    found = None
    if faces is not None:
        for name in _RENDER_IMPORTS:  # while pass 1 still runs in its process
            importlib.import_module(name)
        try:
            found = faces.result(progress)
        except FacePassError as error:  # its process died or failed oddly: do the pass here
            logger.warning("%s; following the faces in this process instead", error)
    if found is None:
        with tqdm(unit="frame", desc="tracking faces", disable=not progress, leave=False) as bar:
            found = run_face_pass(source_path, driving_path, options, analyzer,
                                  on_total=lambda total: setattr(bar, "total", total),
                                  on_frame=bar.update)
    size = backend.image_size
    source, track, info = found.source.prepared(size), found.track, found.info
    initial_crop = found.initial_crop(size)
    track = read_expressions(driving_path, track, backend, options, progress)

    height, width = (size, size) if options.crop_only else source.image.shape[:2]
    provenance = Provenance.new(model=model, inputs={"source": source_path, "driving": driving_path},
                                options=options_record(options), label=options.label)
    written = 0
    with VideoReader(driving_path) as reader, MarkedVideoWriter(
            output_path, info.fps, width, height, audio_from=driving_path,
            provenance=provenance, commit=False) as writer, tqdm(
            total=len(track.boxes), unit="frame", desc="animating", disable=not progress) as bar:
        frames = ordered_frames(lambda: iter(reader), track.frame_indices())  # held poses
        for frame in animate_frames(source, frames, track, backend, options, initial_crop):
            writer.write(frame)
            written += 1
            bar.update(1)
    manifest = sidecar.commit_with(writer.output, provenance)  # the video and manifest together
    seconds = time.perf_counter() - started
    logger.info("wrote %s: %d frames, %dx%d at %s fps, %.1f s (%.1f frames/s)", output_path, written,
                width, height, float(info.fps), seconds, written / max(seconds, 1e-9))
    return AnimateResult(output=output_path, num_frames=written, fps=info.fps, width=width,
                         height=height, has_audio=info.has_audio, seconds=seconds,
                         run_id=provenance.run_id, manifest=manifest)
