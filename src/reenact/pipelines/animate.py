"""animate: a portrait and a driving video in, a video of the portrait making the driving motion out.

    source image -> face crop ----------------------------> keypoints, encoding (once)
    driving video -> pass 1: face track (boxes, best frame)
                  -> pass 2: crop -> keypoints -> smooth -> normalize -> render -> composite
                             -> drawn mouth -> video

The composite (render="full", `reenact.postprocess.full_res`) warps the photo itself at its own
resolution by the model's motion and pastes only the region that moved; render="crop" pastes the
model-size frame, upscaled, over the crop box (`reenact.postprocess.paste`). Over a full-resolution
composite the photo's own mouth is drawn with the driver's change of mouth (mouth="drawn",
`reenact.pipelines.mouth_transfer`, `reenact.pipelines.portrait_mouth`).

Memory does not grow with the video's length: both passes stream frames, pass 1 keeps one crop box
per frame.

Why this module is long: it is one pipeline, read top to bottom in the order a frame meets its
stages (options, the source, the driving face track, rendering, writing); the work of each stage
lives in preprocess / engine / postprocess, and what is here is the glue that orders them, shared
with talk and evaluate. The face track (`track_driving` and its helpers) is the part to move out
should it grow.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from reenact.containers import Keypoints
from reenact.engine.backend import Backend
from reenact.geometry import convex_hull_area, movement_scale, normalize_keypoints
from reenact.io import (
    VideoReader,
    batched,
    probe_video,
    read_image,
)
from reenact.io.frame_order import ordered_frames
from reenact.io.video import check_video_output
from reenact.postprocess.eyelids import EYE_OPEN, eye_ratios, gaze_shifts, with_eye_shapes
from reenact.postprocess.full_res import FullResCompositor, FullResConfig
from reenact.pipelines.box_motion import HeadMotionSplit
from reenact.pipelines.keypoints import detect_keypoints, reframe_keypoints
from reenact.pipelines.landmark_targets import landmark_targets
from reenact.pipelines.mouth_transfer import MouthChanges, mouth_changes
from reenact.pipelines.portrait_mouth import Carried, PortraitMouth, drawn_lips, portrait_mouth
from reenact.postprocess.paste import paste_back
from reenact.preprocess.crop import CropBox, crop_box, crop_image, smooth_boxes, steady_sides
from reenact.preprocess.expressions import eye_aspect_ratios
from reenact.preprocess.face import (
    Face,
    FaceAnalyzer,
    NoFaceError,
    create_face_analyzer,
    nearest_face,
)
from reenact.preprocess.face_follow import FollowConfig, follower_for
from reenact.preprocess.gaze import iris_positions
from reenact.preprocess.teeth import teeth_share
from reenact.provenance.label import check_label
from reenact.provenance.manifest import PendingManifest
from reenact.provenance.record import Provenance, options_record
from reenact.provenance.writers import MarkedVideoWriter
from reenact.smoothing import smoothed_batches

logger = logging.getLogger(__name__)

CROP_MODES = ("face", "none")
RENDER_MODES = ("full", "crop")
EYE_MODES = ("landmarks", "lids", "model")
DRAWN_EYES = ("landmarks", "lids")  # the modes whose lids the compositor draws
MOUTH_MODES = ("drawn", "model")
HEAD_MOTION_MODES = ("split", "model")
BODY_MODES = ("still", "model")


@dataclass(frozen=True)
class AnimateOptions:
    """What `animate` does; every field has the default a user of the reference would expect.

    relative: transfer the driving motion relative to its initial frame (else absolute keypoints).
    adapt_scale: scale the motion by the ratio of the faces' keypoint-hull sizes (relative only).
    find_best_frame: use the driving frame whose face pose is closest to the source's as the
        initial frame (needs face landmarks).
    crop: "face" finds and follows the face in source and driving; "none" takes the centre square
        of each (inputs that are already face crops).
    crop_only: write the model-size crop instead of pasting the face back into the source image.
    render: "full" warps the photo itself at its resolution and pastes only the region that moved
        (the generator's pixels only where it invents content); "crop" pastes the model-size frame,
        upscaled, over the whole crop box.
    eyes: "landmarks" draws the driver's change of eye opening on the photo's own eyelids at full
        resolution and slides the photo's irises by the driver's change of gaze
        (`reenact.postprocess.eyelids`, `reenact.preprocess.gaze`; render "full" with face
        landmarks only); "lids": the eyelids only, the irises stay where the photo has them;
        "model" leaves the eyes to the motion model.
    mouth: "drawn" draws the photo's own mouth, opened by the driver's change of opening with its
        inside painted (teeth, a dark cavity) and shaped by the driver's change of lip shape, at
        full resolution over the model's lower face (`reenact.pipelines.mouth_transfer`, drawn as
        talk draws it; relative motion, render "full" with face landmarks only); "model" leaves
        the mouth to the motion model (it stretches the lips over a wide opening).
    fit_landmarks: fit the model's motion to where the driver's landmarks put the photo's (jaw,
        brows, nose, eye corners; `reenact.postprocess.landmark_fit`; render "full" with face
        landmarks only). Off by default: it follows head roll better but the mouth opens less
        across identities (docs/animate.md).
    head_motion: "split": the motion model takes the driven face's zoom and shift up to a limit,
        the excess moves the whole head box at full resolution, and its free keypoints stay near
        the face's motion (`reenact.pipelines.box_motion`: a driver leaning into the camera or
        crossing the frame no longer melts the picture; relative motion, render "full" only);
        "model": the model takes all of it, as before.
    body: "still": below the chin the motion fades out, so shoulders and clothes keep the
        photo's pixels while the head moves (`FullResConfig.hold_body`; render "full" with face
        landmarks only); "model": the motion model moves them too, as the reference does.
    face_index: which source face to animate (0 = largest); default the largest.
    detect_every: run the full face detector on every N-th driving frame and follow the face's
        landmarks in between (`reenact.preprocess.face_follow`); 1 detects in every frame.
    kp_smoothing: strength of the driving keypoints' temporal smoothing, in [0, 1).
    max_output_side: a larger source image is downscaled to this long side for the output video.
    max_frames: render only the first N driving frames (a preview); None renders all.
    label: a short text drawn in a corner of every output frame (the invisible watermark and the
        metadata that mark the video as synthetic are always there, label or not).
    """

    relative: bool = True
    adapt_scale: bool = True
    find_best_frame: bool = False
    crop: str = "face"
    crop_only: bool = False
    render: str = "full"
    eyes: str = "landmarks"
    mouth: str = "drawn"
    fit_landmarks: bool = False
    head_motion: str = "split"
    body: str = "still"
    face_index: int | None = None
    face_backend: str = "dlib"
    detect_every: int = 12
    crop_margin: float = 0.4
    kp_smoothing: float = 0.25
    batch_size: int = 8
    max_output_side: int = 1920
    feather: float = 0.12
    color_match: bool = True
    max_frames: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.label is not None:
            check_label(self.label)
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames: expected an integer >= 1, got {self.max_frames}")
        if self.crop not in CROP_MODES:
            raise ValueError(f"crop: expected one of {', '.join(CROP_MODES)}, got {self.crop!r}")
        if self.render not in RENDER_MODES:
            raise ValueError(f"render: expected one of {', '.join(RENDER_MODES)}, got {self.render!r}")
        if self.eyes not in EYE_MODES:
            raise ValueError(f"eyes: expected one of {', '.join(EYE_MODES)}, got {self.eyes!r}")
        if self.mouth not in MOUTH_MODES:
            raise ValueError(f"mouth: expected one of {', '.join(MOUTH_MODES)}, got {self.mouth!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: expected an integer >= 1, got {self.batch_size}")
        if isinstance(self.detect_every, bool) or not isinstance(self.detect_every, int) \
                or self.detect_every < 1:
            raise ValueError(f"detect_every: expected an integer >= 1, got {self.detect_every!r}")
        if self.face_index is not None and self.face_index < 0:
            raise ValueError(f"face_index: expected an integer >= 0, got {self.face_index}")
        if self.max_output_side < 64:
            raise ValueError(f"max_output_side: expected at least 64, got {self.max_output_side}")
        if not 0 <= self.kp_smoothing < 1:
            raise ValueError(f"kp_smoothing: expected a number in [0, 1), got {self.kp_smoothing}")
        if self.body not in BODY_MODES:
            raise ValueError(f"body: expected one of {', '.join(BODY_MODES)}, got {self.body!r}")
        if self.head_motion not in HEAD_MOTION_MODES:
            raise ValueError(f"head_motion: expected one of {', '.join(HEAD_MOTION_MODES)}, got "
                             f"{self.head_motion!r}")


@dataclass(frozen=True)
class PreparedSource:
    """The source portrait, ready for rendering.

    image: (H, W, 3) uint8, the background of the output (downscaled and trimmed to even sides).
    box: where the model-size crop was cut from `image`.
    crop: (S, S, 3) uint8.
    landmarks: (68, 2) face landmarks in `image` pixels, or None.
    """

    image: np.ndarray
    box: CropBox
    crop: np.ndarray
    landmarks: np.ndarray | None


@dataclass(frozen=True)
class DrivingTrack:
    """Pass 1's result: a crop box per driving frame; the best-matching pose's frame, if searched.

    landmarks: per frame, the tracked face's (68, 2) landmarks in frame pixels, or None where no
        face was found (or faces were not looked for); they anchor a face-anchored model's keypoints.
    irises: per frame, (2,) where the irises sit in their eyes (`preprocess.gaze.iris_positions`),
        or None where there are no landmarks; None when gaze is not carried (eyes != "landmarks",
        or not rendered at full resolution).
    teeth: per frame, the share of the parted mouth that is teeth (`preprocess.teeth.teeth_share`;
        NaN: not read); None when animate's mouth is not drawn (mouth != "drawn", absolute motion
        or not rendered at full resolution).
    """

    boxes: list[CropBox]
    best_index: int | None = None
    landmarks: list[np.ndarray | None] | None = None
    sources: list[int] | None = None  # see `frame_indices`
    irises: list[np.ndarray | None] | None = None
    teeth: list[float] | None = None

    def frame_indices(self) -> list[int]:
        """Per frame, the driving frame whose pixels to crop: the frame itself, or where its face
        is missing or cut by the frame's edge, the last frame before with the whole face (the
        first after, before any): its pose is held, and `boxes` and `landmarks` are that frame's.
        None in `sources` means every frame is its own."""
        return list(range(len(self.boxes))) if self.sources is None else list(self.sources)


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


def center_box(width: int, height: int) -> CropBox:
    """The largest centred square of a width x height image."""
    return CropBox(width / 2, height / 2, float(min(width, height)))


def _downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    from PIL import Image

    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        size = (max(2, round(width * scale)), max(2, round(height * scale)))
        logger.info("source is %dx%d; the output uses it downscaled to %dx%d", width, height, *size)
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
    # H.264 in yuv420p needs even sides: drop the last row / column if odd
    return image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]


def _choose_source_face(faces: list[Face], options: AnimateOptions, name: str) -> Face:
    if options.face_index is not None:
        if options.face_index >= len(faces):
            raise NoFaceError(f"{name}: --face-index {options.face_index} asked for, but only "
                              f"{len(faces)} face(s) found")
        return faces[options.face_index]
    if len(faces) > 1:
        logger.warning("%s: %d faces found; animating the largest (choose another with --face-index)",
                       name, len(faces))
    return faces[0]


def prepare_source(image: np.ndarray, size: int, options: AnimateOptions,
                   analyzer: FaceAnalyzer | None, *, name: str = "source") -> PreparedSource:
    """Downscale for output, find the face (crop="face") and cut the model-size crop."""
    image = _downscale(image, options.max_output_side)
    height, width = image.shape[:2]
    landmarks = None
    if options.crop == "face":
        assert analyzer is not None
        faces = analyzer.detect(image)
        if not faces:
            raise NoFaceError(f"{name}: no face found; if the image is already a face crop, use "
                              "--crop none")
        face = _choose_source_face(faces, options, name)
        box = crop_box(face, width, height, margin=options.crop_margin)
        landmarks = face.landmarks
    else:
        box = center_box(width, height)
        if options.find_best_frame and analyzer is not None:
            faces = analyzer.detect(image)
            landmarks = faces[0].landmarks if faces else None
    return PreparedSource(image=image, box=box, crop=crop_image(image, box, size), landmarks=landmarks)


def pose_signature(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks centred and scaled to unit hull area: comparable across face sizes and positions."""
    centred = landmarks - landmarks.mean(axis=0)
    return centred / np.sqrt(max(convex_hull_area(centred), 1e-12))


def track_driving(frames: Iterable[np.ndarray], fps: float, size: int, source: PreparedSource,
                  options: AnimateOptions, analyzer: FaceAnalyzer | None, *,
                  name: str = "driving") -> DrivingTrack:
    """Pass 1: a smoothed crop box per frame, and the initial frame (0, or the best-matching pose)."""
    want_faces = options.crop == "face" or options.find_best_frame
    if analyzer is not None:
        analyzer = follower_for(analyzer, FollowConfig(redetect_every=options.detect_every))
    target = (pose_signature(source.landmarks)
              if options.find_best_frame and source.landmarks is not None else None)
    if options.find_best_frame and target is None:
        logger.warning("find-best-frame: no landmarks in the source; using the first driving frame")
    raw: list[CropBox | None] = []
    landmarks: list[np.ndarray | None] = []
    # read from the driving pixels only where the full-resolution composite draws them
    full = renders_full(options)
    irises: list[np.ndarray | None] | None = [] if full and options.eyes == "landmarks" else None
    teeth: list[float] | None = ([] if full and options.relative and options.mouth == "drawn"
                                 else None)
    best_index, best_distance = None, np.inf
    previous = None
    for index, frame in enumerate(frames):
        height, width = frame.shape[:2]
        faces = analyzer.detect(frame) if want_faces and analyzer is not None else []
        center = None if previous is None else (previous.center_x, previous.center_y)
        face = nearest_face(faces, center) if faces else None
        landmarks.append(face.landmarks if face is not None else None)
        if irises is not None:
            irises.append(None if landmarks[-1] is None else iris_positions(frame, landmarks[-1]))
        if teeth is not None:
            teeth.append(np.nan if landmarks[-1] is None else teeth_share(frame, landmarks[-1]))
        if options.crop == "face":
            previous = crop_box(face, width, height, margin=options.crop_margin) if face else None
            # a face cut by the frame's edge gives garbage keypoints: its frame holds a whole one
            raw.append(previous if face is not None and face_is_whole(face, width, height) else None)
        else:
            raw.append(center_box(width, height))
        if raw[-1] is not None and target is not None and face is not None \
                and face.landmarks is not None:
            distance = float(((pose_signature(face.landmarks) - target) ** 2).sum())
            if distance < best_distance:
                best_index, best_distance = index, distance
    if not raw:
        raise NoFaceError(f"{name}: the video has no frames")
    found = [i for i, box in enumerate(raw) if box is not None]
    if not found:
        raise NoFaceError(f"{name}: no face found in any frame; if the video is already a face crop, "
                          "use --crop none")
    if len(found) < len(raw):
        logger.warning("%s: the face is missing or cut by the frame's edge in %d of %d frames; "
                       "holding the pose of the last frame where it is whole there", name,
                       len(raw) - len(found), len(raw))
    sources = _hold_sources(raw)
    filled = [raw[j] for j in sources]
    boxes = steady_sides(smooth_boxes(filled, fps), fps) if options.crop == "face" else filled
    # a held frame is cut exactly like the frame it holds, so that it gives the same pose
    boxes = [boxes[j] for j in sources]
    landmarks = [landmarks[j] for j in sources]
    if irises is not None:
        irises = [irises[j] for j in sources]
    if teeth is not None:
        teeth = [teeth[j] for j in sources]
    if best_index is not None:
        logger.info("find-best-frame: driving frame %d matches the source pose best", best_index)
    return DrivingTrack(boxes=boxes, best_index=best_index, landmarks=landmarks, sources=sources,
                        irises=irises, teeth=teeth)


# a face is whole while its landmarks (or, without them, its box) reach no further than this share
# of its size past any edge of the frame; further out, it is being cut by the edge. A chin that
# grazes the edge is common in tight head-and-shoulders clips (dev lp_d3 held half its frames at
# a margin of 2% *inside*, freezing the output for up to 15 frames). Measured on a dev clip cut
# short at the bottom (lp_d18, woman_smiling), the render moved from the uncut clip's by 1.4 px
# (a 256-px face, dlib) with nothing cut, 1.4-1.9 px up to 6% past the edge, 3-4 px at 10-20%.
_EDGE_TOLERANCE = 0.05


def face_is_whole(face: Face, width: int, height: int) -> bool:
    """Whether `face` lies inside a width x height frame, or past its edges by no more than
    `_EDGE_TOLERANCE` of its size."""
    points = face.landmarks if face.landmarks is not None else np.reshape(face.box, (2, 2))
    low, high = points.min(axis=0), points.max(axis=0)  # (x, y) each
    reach = _EDGE_TOLERANCE * float((high - low).max())
    return bool(low[0] >= -reach and low[1] >= -reach and high[0] <= width - 1 + reach
                and high[1] <= height - 1 + reach)


def _hold_sources(boxes: list[CropBox | None]) -> list[int]:
    """Per frame, the frame whose crop it uses: itself if it has a box, else the last frame
    before it with one (the first one after, for frames before any)."""
    first = next(i for i, box in enumerate(boxes) if box is not None)
    sources, last = [], first
    for index, box in enumerate(boxes):
        if box is not None:
            last = index
        sources.append(last)
    return sources


def renders_full(options: AnimateOptions) -> bool:
    """Whether the output is composited at the photo's resolution (render "full", not crop_only):
    where lids, gaze and the drawn mouth can be drawn."""
    return options.render == "full" and not options.crop_only


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
                   gazes: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """One batch's output frames: full-resolution composites, model-size crops or pasted crops.

    eye_ratios: (B, 2) per frame, how open the eyes should be relative to the photo's
    (`reenact.postprocess.eyelids`; full resolution only), or None; targets: per frame, where
    the photo's landmarks belong (`landmark_targets`; full resolution only), or None; finish:
    applied to each composite (full resolution only), or None; gazes: (B,) per frame, how far the
    irises move along their eyes (`eyelids.gaze_shifts`; with eye_ratios), or None."""
    if compositor is not None:
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


def track_landmarks(track: DrivingTrack, index: int | None) -> np.ndarray | None:
    if track.landmarks is None or index is None or index >= len(track.landmarks):
        return None
    return track.landmarks[index]


def eye_reference(track: DrivingTrack, source: PreparedSource, options: AnimateOptions,
                  from_best: bool) -> np.ndarray | None:
    """(68, 2) the landmarks the driver's eye opening is measured against: the driving frame
    relative motion starts from, or (absolute motion) the photo's. None where the lids are left to
    the model: eyes="model", or no landmarks on either side."""
    if options.eyes not in DRAWN_EYES or track.landmarks is None or source.landmarks is None:
        return None
    if not options.relative:
        return source.landmarks
    return track_landmarks(track, track.best_index if from_best else 0)


def drawn_mouth(source: PreparedSource, track: DrivingTrack, compositor: FullResCompositor | None,
                options: AnimateOptions, from_best: bool) -> tuple[PortraitMouth, MouthChanges] | None:
    """The photo's mouth drawer and the driver's mouth changes where animate draws the mouth:
    mouth="drawn", relative motion, rendering at full resolution, landmarks on both sides; else
    None."""
    if (options.mouth != "drawn" or compositor is None or not options.relative
            or track.landmarks is None or source.landmarks is None):
        return None
    reference = track_landmarks(track, track.best_index if from_best else 0)
    if reference is None:
        return None
    lips, scale = drawn_lips(source.image, source.landmarks)
    changes = mouth_changes(track.landmarks, reference, lips, track.teeth, opening_scale=scale)
    bites = bool(np.max(changes.bites, initial=0.0) > 0)  # the grin's reference only where used
    return portrait_mouth(source.image, lips, source.box, bite=bites, frame_jaw=True), changes


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
    reference_eyes = (eye_reference(track, source, options, initial_crop is not None)
                      if compositor is not None else None)
    eyes = None if reference_eyes is None else eye_ratios(track.landmarks, reference_eyes)
    gazes = None
    if eyes is not None and track.irises is not None:
        # the driver's gaze from the frame its motion is measured from (absolute: the photo's)
        start = (track.best_index if initial_crop is not None else 0) or 0
        gazes = gaze_shifts(track.irises, track.irises[start] if options.relative else
                            iris_positions(source.image, source.landmarks), eyes)
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
                                neck=compositor.neck)
    index = 0
    raw = driving_keypoints(frames, track.boxes, track.landmarks, backend, options.batch_size,
                            reference, reference_eyes)
    for kp_driving in smoothed_batches(raw, options.kp_smoothing, options.batch_size):
        count = kp_driving.batch_size
        if kp_initial is None:
            kp_initial = kp_driving[0]
        kp = normalize_keypoints(kp_source, kp_driving, kp_initial, relative_movement=options.relative,
                                 relative_jacobian=options.relative,
                                 adapt_movement_scale=options.relative and options.adapt_scale)
        batch_eyes = None if eyes is None else eyes[index:index + count]
        batch_targets = None if targets is None else targets[index:index + count]
        batch_gazes = None if gazes is None else gazes[index:index + count]
        finish = None if drawn is None else drawn_mouth_finish(
            drawn[0], drawn[1].openings, index, drawn[1].shapes, drawn[1].bites)
        if split is None:
            yield from render_frames(backend, encoded, kp_source, kp, source, options, compositor,
                                     batch_eyes, batch_targets, finish, batch_gazes)
        else:
            movement = (float(movement_scale(kp_source, kp_initial)[0]) if options.adapt_scale
                        else 1.0)
            kp, excess = split.keypoints(kp_source, kp, kp_driving, kp_initial, movement)
            rendered = render_frames(backend, encoded, kp_source, kp, source, options, compositor,
                                     batch_eyes, split.targets(batch_targets, excess), finish,
                                     batch_gazes)
            yield from split.frames(rendered, excess)
        index += count


def animate(source_path: str | os.PathLike, driving_path: str | os.PathLike,
            output_path: str | os.PathLike, *, backend: Backend, options: AnimateOptions | None = None,
            analyzer: FaceAnalyzer | None = None, progress: bool = True,
            model: Mapping[str, str] | None = None) -> AnimateResult:
    """Render `output_path` (mp4, H.264, the driving video's fps and audio) from a portrait and a
    driving video. Nothing is written unless the whole video renders.

    The video is marked as synthetic (watermark in every frame, MP4 tags) and a manifest
    `OUTPUT.reenact.json` records the inputs' and output's sha256, `model` (e.g. from
    `reenact.provenance.describe_checkpoint`), the options and the run id.
    """
    from tqdm import tqdm

    options = options or AnimateOptions()
    started = time.perf_counter()
    source_path, driving_path, output_path = Path(source_path), Path(driving_path), Path(output_path)
    check_video_output(output_path, [source_path, driving_path])
    sidecar = PendingManifest(output_path, [source_path, driving_path])  # checked before any work
    image = read_image(source_path)
    info = probe_video(driving_path)
    if analyzer is None and (options.crop == "face" or options.find_best_frame):
        analyzer = create_face_analyzer(options.face_backend)
    size = backend.image_size
    source = prepare_source(image, size, options, analyzer, name=str(source_path))

    total = info.num_frames if options.max_frames is None else min(info.num_frames or options.max_frames,
                                                                   options.max_frames)
    with VideoReader(driving_path) as reader, tqdm(
            itertools.islice(reader, options.max_frames), total=total, unit="frame",
            desc="tracking faces", disable=not progress, leave=False) as frames:
        track = track_driving(frames, float(info.fps), size, source, options, analyzer,
                              name=str(driving_path))
    initial_crop = None
    if track.best_index is not None:  # cut the best frame with its smoothed box
        with VideoReader(driving_path) as reader:
            for index, frame in enumerate(reader):
                if index == track.best_index:
                    initial_crop = crop_image(frame, track.boxes[index], size)
                    break

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
