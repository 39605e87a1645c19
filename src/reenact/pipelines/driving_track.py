"""Pass 1 of animate: the source portrait's face, and the driving video's face followed frame by
frame (a smoothed crop box, landmarks, irises, teeth; the best-matching pose if asked for).

    source image -> downscale -> face, landmarks -> crop box      (SourceFace)
    driving video -> follow the face -> boxes held, smoothed       (DrivingTrack)

Nothing here imports torch: `reenact.pipelines.face_pass_process` runs this in a second process
while the first one loads the model (`reenact animate`), and talk and evaluate call it directly.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from reenact.io import VideoInfo, VideoReader, probe_video, read_image
from reenact.pipelines.animate_options import AnimateOptions
from reenact.point_geometry import convex_hull_area
from reenact.preprocess.crop import CropBox, crop_box, crop_image, smooth_boxes, steady_sides
from reenact.preprocess.face import (
    Face,
    FaceAnalyzer,
    NoFaceError,
    create_face_analyzer,
    nearest_face,
)
from reenact.preprocess.face_follow import FollowConfig, follower_for
from reenact.preprocess.gaze import iris_positions
from reenact.preprocess.teeth import pale_share, teeth_share

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedSource:
    """The source portrait, ready for rendering (`SourceFace.prepared`).

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
class SourceFace:
    """The source portrait's face, found: what the model-size crop is cut from.

    image: (H, W, 3) uint8, the background of the output (downscaled and trimmed to even sides).
    box: where the model-size crop is cut from `image`.
    landmarks: (68, 2) face landmarks in `image` pixels, or None.
    """

    image: np.ndarray
    box: CropBox
    landmarks: np.ndarray | None

    def prepared(self, size: int) -> PreparedSource:
        """Ready for rendering: with the (size, size) crop cut."""
        return PreparedSource(image=self.image, box=self.box,
                              crop=crop_image(self.image, self.box, size), landmarks=self.landmarks)


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
    pale: per frame, the share of the parted mouth paler than the lips (`preprocess.teeth.
        pale_share`: teeth; NaN: not read); None as `teeth`.
    eye_openings: (T, 2) per frame each eye's opening as FaceMesh reads it (`preprocess.face_mesh.
        eye_openings`, the subject's right eye first; NaN: no reading), or None where FaceMesh was
        not read (pass 1b, `reenact.pipelines.driving_mesh`, fills it in).
    """

    boxes: list[CropBox]
    best_index: int | None = None
    landmarks: list[np.ndarray | None] | None = None
    sources: list[int] | None = None  # see `frame_indices`
    irises: list[np.ndarray | None] | None = None
    teeth: list[float] | None = None
    pale: list[float] | None = None
    eye_openings: np.ndarray | None = None

    def frame_indices(self) -> list[int]:
        """Per frame, the driving frame whose pixels to crop: the frame itself, or where its face
        is missing or cut by the frame's edge, the last frame before with the whole face (the
        first after, before any): its pose is held, and `boxes` and `landmarks` are that frame's.
        None in `sources` means every frame is its own."""
        return list(range(len(self.boxes))) if self.sources is None else list(self.sources)


def track_landmarks(track: DrivingTrack, index: int | None) -> np.ndarray | None:
    """(68, 2) the landmarks of driving frame `index`, or None (none found, none looked for)."""
    if track.landmarks is None or index is None or index >= len(track.landmarks):
        return None
    return track.landmarks[index]


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


def find_source_face(image: np.ndarray, options: AnimateOptions, analyzer: FaceAnalyzer | None, *,
                     name: str = "source") -> SourceFace:
    """Downscale for output and find the face (crop="face"; its landmarks also for
    find_best_frame)."""
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
    return SourceFace(image=image, box=box, landmarks=landmarks)


def prepare_source(image: np.ndarray, size: int, options: AnimateOptions,
                   analyzer: FaceAnalyzer | None, *, name: str = "source") -> PreparedSource:
    """Downscale for output, find the face (crop="face") and cut the model-size crop."""
    return find_source_face(image, options, analyzer, name=name).prepared(size)


def pose_signature(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks centred and scaled to unit hull area: comparable across face sizes and positions."""
    centred = landmarks - landmarks.mean(axis=0)
    return centred / np.sqrt(max(convex_hull_area(centred), 1e-12))


def track_driving(frames: Iterable[np.ndarray], fps: float, source_landmarks: np.ndarray | None,
                  options: AnimateOptions, analyzer: FaceAnalyzer | None, *,
                  name: str = "driving") -> DrivingTrack:
    """Pass 1: a smoothed crop box per frame, and the initial frame (0, or the best-matching pose
    to `source_landmarks`, the source face's (68, 2), when options.find_best_frame)."""
    want_faces = options.crop == "face" or options.find_best_frame
    if analyzer is not None:
        analyzer = follower_for(analyzer, FollowConfig(redetect_every=options.detect_every))
    target = (pose_signature(source_landmarks)
              if options.find_best_frame and source_landmarks is not None else None)
    if options.find_best_frame and target is None:
        logger.warning("find-best-frame: no landmarks in the source; using the first driving frame")
    raw: list[CropBox | None] = []
    landmarks: list[np.ndarray | None] = []
    # read from the driving pixels only where the full-resolution composite draws them
    full = renders_full(options)
    irises: list[np.ndarray | None] | None = [] if full and options.eyes == "landmarks" else None
    teeth: list[float] | None = ([] if full and options.relative and options.mouth == "drawn"
                                 else None)
    pale: list[float] | None = None if teeth is None else []
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
            pale.append(np.nan if landmarks[-1] is None else pale_share(frame, landmarks[-1]))
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
        pale = [pale[j] for j in sources]
    if best_index is not None:
        logger.info("find-best-frame: driving frame %d matches the source pose best", best_index)
    return DrivingTrack(boxes=boxes, best_index=best_index, landmarks=landmarks, sources=sources,
                        irises=irises, teeth=teeth, pale=pale)


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


@dataclass(frozen=True)
class FacePass:
    """Pass 1, all that comes before the model: the source's face, the driving video's face track,
    and the driving frame that relative motion is measured from when it is not the first.

    best_frame: (H, W, 3) uint8, the driving frame at `track.best_index`; None without one.
    """

    source: SourceFace
    info: VideoInfo
    track: DrivingTrack
    best_frame: np.ndarray | None = None

    def initial_crop(self, size: int) -> np.ndarray | None:
        """(size, size, 3) the best frame cut with its smoothed box, or None (the first frame)."""
        return best_crop(self.best_frame, self.track, size)


def read_best_frame(driving_path: str | os.PathLike, track: DrivingTrack) -> np.ndarray | None:
    """The driving frame at `track.best_index` (one more decoding pass that stops there); None
    where no frame was searched for."""
    if track.best_index is None:
        return None
    with VideoReader(driving_path) as reader:
        return next(itertools.islice(reader, track.best_index, None))


def best_crop(frame: np.ndarray | None, track: DrivingTrack, size: int) -> np.ndarray | None:
    """(size, size, 3) `frame`, the driving frame at `track.best_index`, cut with its smoothed
    box: the crop relative motion is measured from; None without one (the first frame is)."""
    if frame is None or track.best_index is None:
        return None
    return crop_image(frame, track.boxes[track.best_index], size)


def run_face_pass(source_path: str | os.PathLike, driving_path: str | os.PathLike,
                  options: AnimateOptions, analyzer: FaceAnalyzer | None = None, *,
                  on_total: Callable[[int | None], None] | None = None,
                  on_frame: Callable[[], None] | None = None) -> FacePass:
    """Read the source and find its face, probe the driving video and follow its face: everything
    of `animate` before the model (no torch). on_total(frames or None) is called once the frame
    count is known, on_frame() after each driving frame is tracked.

    With `analyzer` None, the face backend `options.face_backend` is created when faces are
    looked for."""
    image = read_image(source_path)
    info = probe_video(driving_path)
    if analyzer is None and (options.crop == "face" or options.find_best_frame):
        analyzer = create_face_analyzer(options.face_backend)
    source = find_source_face(image, options, analyzer, name=str(source_path))
    if on_total is not None:
        on_total(info.num_frames if options.max_frames is None
                 else min(info.num_frames or options.max_frames, options.max_frames))
    with VideoReader(driving_path) as reader:
        frames = itertools.islice(reader, options.max_frames)
        if on_frame is not None:
            frames = _reporting(frames, on_frame)
        track = track_driving(frames, float(info.fps), source.landmarks, options, analyzer,
                              name=str(driving_path))
    return FacePass(source=source, info=info, track=track,
                    best_frame=read_best_frame(driving_path, track))


def _reporting(frames: Iterable[np.ndarray], on_frame: Callable[[], None]) -> Iterator[np.ndarray]:
    for frame in frames:
        yield frame
        on_frame()
