"""A training-free baseline: an image warped piecewise-affinely so that its face landmarks land on
another face's landmarks.

The 68 landmarks are joined by forehead points (the brows lifted along the face's vertical axis,
so the forehead and hair follow the head) and by points on the image border, which stay put: the
background far from the face does not move, the band between face and border stretches. The
points are triangulated (Delaunay, on the destination points) and every output pixel takes the
affine map of the triangle it lies in, back to the source image, sampled bilinearly.

Coordinates are continuous pixel coordinates, pixel (row i, column j) centred at (j + 0.5, i + 0.5)
(see `reenact.preprocess.face`); the triangles and their maps are `reenact.postprocess.piecewise`'s.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from reenact.evaluation.measures import check_landmarks
from reenact.point_geometry import convex_hull_area
from reenact.postprocess.piecewise import delaunay, rasterize_triangles, triangle_affines
from reenact.preprocess.face import check_rgb_image

BORDER_POINTS_PER_SIDE = 4  # border points per image side, corners included
FOREHEAD_LIFT = 0.45  # forehead points: brow points lifted by this fraction of the brow-chin distance
_FOREHEAD_BROWS = (17, 19, 21, 22, 24, 26)
_CHIN = 8


def border_points(width: int, height: int, per_side: int = BORDER_POINTS_PER_SIDE) -> np.ndarray:
    """(4 * (per_side - 1), 2) points evenly along the image border, the four corners included."""
    if per_side < 2:
        raise ValueError(f"per_side: expected an integer >= 2, got {per_side}")
    steps = np.linspace(0.0, 1.0, per_side)[:-1]
    top = np.stack([steps * width, np.zeros_like(steps)], axis=1)
    right = np.stack([np.full_like(steps, width), steps * height], axis=1)
    bottom = np.stack([(1 - steps) * width, np.full_like(steps, height)], axis=1)
    left = np.stack([np.zeros_like(steps), (1 - steps) * height], axis=1)
    return np.concatenate([top, right, bottom, left])


def forehead_points(landmarks: np.ndarray) -> np.ndarray:
    """(6, 2): brow points 17, 19, 21, 22, 24, 26 lifted by `FOREHEAD_LIFT` x (brows' centre - chin)."""
    points = check_landmarks(landmarks)
    brows = points[list(_FOREHEAD_BROWS)]
    lift = points[17:27].mean(axis=0) - points[_CHIN]
    return brows + FOREHEAD_LIFT * lift


def mesh_points(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(68 + 6 + border, 2): landmarks, forehead points and the fixed border points of a warp."""
    points = check_landmarks(landmarks)
    return np.concatenate([points, forehead_points(points), border_points(width, height)])


def piecewise_affine_warp(image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`image` (H, W, 3) uint8 warped so that its (N, 2) `source` points move to `target`.

    The target points are triangulated; a pixel outside every triangle keeps its own position.
    Returns (H, W, 3) uint8.
    """
    check_rgb_image(image, "image")
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 3:
        raise ValueError(f"source, target: expected two (N, 2) point arrays with N >= 3, got "
                         f"{source.shape} and {target.shape}")
    height, width = image.shape[:2]
    triangles = delaunay(target)
    affines, valid = triangle_affines(source, target, triangles)
    label = rasterize_triangles(target, triangles, valid, height, width)
    # pixels outside every triangle take the identity, appended as the last affine
    table = np.concatenate([affines.reshape(-1, 6), [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]])
    coefficients = table.astype(np.float32)[np.where(label < 0, len(affines), label)]  # (H, W, 6)
    xs = np.arange(width, dtype=np.float32) + 0.5
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    mapped_x = coefficients[..., 0] * xs + coefficients[..., 1] * ys + coefficients[..., 2]
    mapped_y = coefficients[..., 3] * xs + coefficients[..., 4] * ys + coefficients[..., 5]
    return _sample(image, mapped_x, mapped_y)


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of (H, W, 3) uint8 at (h, w) float32 continuous pixel coordinates x, y;
    the border pixels extend outward. Returns (h, w, 3) uint8."""
    height, width = image.shape[:2]
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    # align_corners=False: -1 and +1 are the outer edges of the border pixels, so x = 0 maps to -1
    grid = np.stack([x * (2.0 / width) - 1, y * (2.0 / height) - 1], axis=-1)  # (h, w, 2)
    sampled = F.grid_sample(tensor, torch.from_numpy(grid)[None], mode="bilinear",
                            padding_mode="border", align_corners=False)
    return sampled[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()


def landmark_warp(image: np.ndarray, source_landmarks: np.ndarray,
                  target_landmarks: np.ndarray) -> np.ndarray:
    """`image` (H, W, 3) uint8 with its face's (68, 2) `source_landmarks` moved to
    `target_landmarks`; forehead follows, image border stays (see the module docstring)."""
    height, width = check_rgb_image(image, "image").shape[:2]
    return piecewise_affine_warp(image, mesh_points(source_landmarks, width, height),
                                 mesh_points(target_landmarks, width, height))


def face_scale(landmarks: np.ndarray) -> float:
    """sqrt of the landmarks' convex hull area: a face size that turns and expressions barely move."""
    return math.sqrt(convex_hull_area(check_landmarks(landmarks)))


def transfer_displacements(portrait: np.ndarray, driving: np.ndarray,
                           driving_initial: np.ndarray) -> np.ndarray:
    """(68, 2) portrait landmarks moved by the driver's displacement from its initial frame, scaled
    by the ratio of the faces' sizes (`face_scale`): the cross-identity warp's target."""
    portrait = check_landmarks(portrait, "portrait")
    driving = check_landmarks(driving, "driving")
    initial = check_landmarks(driving_initial, "driving_initial")
    scale = face_scale(portrait) / max(face_scale(initial), 1e-9)
    return portrait + (driving - initial) * scale
