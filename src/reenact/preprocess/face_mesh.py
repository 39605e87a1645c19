"""FaceMesh's 468 points read in a picture where dlib's 68 are known: the lids and lips that close.

dlib's 68-point predictor keeps 0.3-0.65 of an eye's open ratio at the bottom of a blink and reads
pressed lips as slightly open; FaceMesh (`reenact.models.face_mesh`) follows both. It wants a
192-px crop with the face upright in the middle and a quarter of its size as margin, so a reading
takes two passes: a crop placed from the 68 points (turned so the eyes are level), then one placed
from the first pass's own points, as MediaPipe's tracker places each frame's crop from the last.

Points come back in the picture's pixels (x right, y down), float64. Indices used here
(MediaPipe's canonical face mesh): the eyes' corners and three lid pairs each, the inner lips'
five pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reenact.models.face_mesh import INPUT_SIZE, NUM_POINTS, FaceMesh
from reenact.preprocess.expressions import check_face_landmarks
from reenact.preprocess.face import check_rgb_image

# MediaPipe face-mesh indices: each eye's corners (image left first) and its lid pairs (upper,
# lower) from one corner to the other; the inner lips' (upper, lower) pairs, left to right
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
RIGHT_EYE_LIDS = ((160, 144), (159, 145), (158, 153))
LEFT_EYE_LIDS = ((385, 380), (386, 374), (387, 373))
INNER_LIP_PAIRS = ((81, 178), (82, 87), (13, 14), (312, 317), (311, 402))
FACE_OVAL = (10, 152, 234, 454)  # forehead top, chin, the sides: what a second crop is placed on
MARGIN = 1.5  # crop side over the face's extent (a quarter of it on every side)
MIN_PRESENCE = 0.0  # logit: a crop scoring under it holds no face


@dataclass(frozen=True)
class MeshReading:
    """points: (468, 2) float64 picture pixels; presence: the network's face logit."""

    points: np.ndarray
    presence: float


def eye_openings(points: np.ndarray) -> np.ndarray:
    """(2,) per eye (the subject's right, then left): the mean lid gap over the corner distance,
    about 0.3 open and under 0.1 shut."""
    points = check_mesh(points)
    out = []
    for lids, corners in ((RIGHT_EYE_LIDS, RIGHT_EYE_CORNERS), (LEFT_EYE_LIDS, LEFT_EYE_CORNERS)):
        upper, lower = points[[a for a, _ in lids]], points[[b for _, b in lids]]
        gap = float(np.linalg.norm(upper - lower, axis=1).mean())
        out.append(gap / max(float(np.linalg.norm(points[corners[0]] - points[corners[1]])), 1e-9))
    return np.array(out)


def check_mesh(points: object, name: str = "points") -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < NUM_POINTS or array.shape[1] != 2 \
            or not np.isfinite(array).all():
        raise ValueError(f"{name}: expected a finite (>= {NUM_POINTS}, 2) array of face-mesh "
                         f"points, got shape {array.shape}")
    return array


def _crop_frame(centre: np.ndarray, extent: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """(A (2, 2), t (2,)): crop pixel (u, v) -> picture pixel A @ (u, v) + t, for a crop of side
    `MARGIN` x `extent` centred on `centre` and turned by `angle` (radians, the eye line's)."""
    cos, sin = np.cos(angle), np.sin(angle)
    scale = MARGIN * extent / INPUT_SIZE
    a = scale * np.array([[cos, -sin], [sin, cos]])
    return a, centre - a @ np.full(2, INPUT_SIZE / 2)


def _sample(image: np.ndarray, a: np.ndarray, t: np.ndarray) -> torch.Tensor:
    """(1, 3, 192, 192) float in [-1, 1]: `image` read at the crop's pixel centres, bilinear,
    edges replicated. Only the picture's part under the crop is converted to float."""
    height, width = image.shape[:2]
    grid = np.arange(INPUT_SIZE) + 0.5
    u, v = np.meshgrid(grid, grid)
    x = a[0, 0] * u + a[0, 1] * v + t[0] - 0.5  # picture pixel-centre coordinates
    y = a[1, 0] * u + a[1, 1] * v + t[1] - 0.5
    # the part of the picture the samples read (2 pixels more: bilinear neighbours), at least 2 x 2
    left = int(np.clip(np.floor(x.min()) - 2, 0, width - 2))
    top = int(np.clip(np.floor(y.min()) - 2, 0, height - 2))
    right = int(np.clip(np.ceil(x.max()) + 3, left + 2, width))
    bottom = int(np.clip(np.ceil(y.max()) + 3, top + 2, height))
    part = image[top:bottom, left:right]
    # grid_sample's normalised coordinates, align_corners=False: -1 and 1 are the outer edges
    coords = np.stack([(x - left + 0.5) / part.shape[1] * 2 - 1,
                       (y - top + 0.5) / part.shape[0] * 2 - 1], axis=-1)
    picture = torch.from_numpy(np.ascontiguousarray(part)).permute(2, 0, 1)[None].float()
    crop = torch.nn.functional.grid_sample(picture, torch.from_numpy(coords)[None].float(),
                                           mode="bilinear", padding_mode="border",
                                           align_corners=False)
    return (crop / 127.5 - 1).contiguous(memory_format=torch.channels_last)


class FaceMeshReader:
    """FaceMesh on whole pictures, placed by each face's 68 dlib landmarks (`read`)."""

    def __init__(self, model: FaceMesh) -> None:
        # channels-last: its depthwise convolutions run ~1.4x faster in oneDNN on this CPU
        self.model = model.eval().to(memory_format=torch.channels_last)

    def _pass(self, image: np.ndarray, centre: np.ndarray, extent: float,
              angle: float) -> MeshReading:
        a, t = _crop_frame(centre, extent, angle)
        with torch.no_grad():
            out = self.model(_sample(image, a, t))
        crop_points = out.points[0, :, :2].double().numpy()  # (468, 2) crop pixels
        return MeshReading(crop_points @ a.T + t, float(out.presence[0]))

    def read(self, image: np.ndarray, landmarks: np.ndarray,
             previous: MeshReading | None = None) -> MeshReading | None:
        """The mesh of the face whose (68, 2) landmarks are given, in `image` (H, W, 3) uint8 RGB;
        None where FaceMesh finds no face there. previous: the same face's reading in the frame
        before, if any: one pass placed from it (following, as MediaPipe's tracker does: steadier
        than placing every frame's crop from dlib's jittery points) instead of two."""
        image = check_rgb_image(image, "image")
        points = check_face_landmarks(landmarks)
        if previous is None:
            eyes = points[42:48].mean(axis=0) - points[36:42].mean(axis=0)
            angle = float(np.arctan2(eyes[1], eyes[0]))
            # dlib's 68 points span brows to chin; the mesh reaches the hairline: grow upwards
            low, high = points.min(axis=0), points.max(axis=0)
            extent = float(max(high - low)) * 1.15
            centre = (low + high) / 2 - 0.07 * extent * np.array([-np.sin(angle), np.cos(angle)])
            previous = self._pass(image, centre, extent, angle)
            if previous.presence < MIN_PRESENCE:
                return None
        reading = self._pass(image, *_placement(previous.points))
        return reading if reading.presence >= MIN_PRESENCE else None


def _placement(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(centre, extent, angle) of the crop a mesh's own face oval and eye corners place."""
    oval = points[list(FACE_OVAL)]
    line = points[LEFT_EYE_CORNERS[1]] - points[RIGHT_EYE_CORNERS[0]]
    extent = float(max(np.linalg.norm(oval[0] - oval[1]), np.linalg.norm(oval[2] - oval[3])))
    return (oval[0] + oval[1]) / 2, extent, float(np.arctan2(line[1], line[0]))
