"""Face-anchored keypoints: groups of 68-point landmarks -> keypoint values with local affine jacobians.

A motion model with anchors has its first A keypoints tied to parts of the face (mouth corners,
lips, eyelids, brows, jaw, nose), so that the mouth and eyes always have keypoints that move with
them; its other keypoints are free (learned, for head, hair, shoulders, background).

For a group of landmarks p_i (in normalized crop coordinates, see `reenact.containers.Keypoints`):
- value: the group's centroid;
- jacobian: the 2x2 linear map J that best takes the same group of a fixed canonical face (the
  template t_i, a median dlib face in a default crop) onto p_i around their centroids, ridge-
  regularised toward the best similarity transform so that a closing eyelid (its points becoming
  collinear) never makes J singular:

      J = (P^T T + lam S) (T^T T + lam I)^-1,   lam = ANCHOR_RIDGE * trace(T^T T) / 2

  with P, T the centred (n, 2) points and S the least-squares similarity (scaled rotation).

Relative motion transfer (`reenact.geometry.normalize_keypoints`) applies J_driving J_initial^-1 to
the source's J: the driver's change of the group's shape, carried onto the portrait's own shape.
The template cancels there, so it only needs to be a plausible face.

Landmarks follow the iBUG 300-W 68-point order (`reenact.preprocess.face`); "left" and "right" are
the image's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from reenact.containers import Keypoints

LANDMARK_SCHEME = "dlib68"
NUM_LANDMARKS = 68
ANCHOR_RIDGE = 0.1

# dlib 68-point indices of each anchor group; a keypoint per group, in this order
ANCHOR_GROUPS: dict[str, tuple[int, ...]] = {
    "mouth_corner_left": (48, 49, 59, 60),
    "mouth_corner_right": (54, 53, 55, 64),
    "upper_lip": (49, 50, 51, 52, 53, 61, 62, 63),
    "lower_lip": (55, 56, 57, 58, 59, 65, 66, 67),
    "upper_lid_left": (36, 37, 38, 39),
    "lower_lid_left": (36, 41, 40, 39),
    "upper_lid_right": (42, 43, 44, 45),
    "lower_lid_right": (42, 47, 46, 45),
    "brow_left": (17, 18, 19, 20, 21),
    "brow_right": (22, 23, 24, 25, 26),
    "chin": (6, 7, 8, 9, 10),
    "jaw_left": (1, 2, 3, 4, 5),
    "jaw_right": (11, 12, 13, 14, 15),
    "nose": (27, 28, 29, 30, 31, 33, 35),
}
DEFAULT_ANCHORS = tuple(ANCHOR_GROUPS)
MOUTH_ANCHORS = ("mouth_corner_left", "mouth_corner_right", "upper_lip", "lower_lip")
EYE_ANCHORS = ("upper_lid_left", "lower_lid_left", "upper_lid_right", "lower_lid_right")
BROW_ANCHORS = ("brow_left", "brow_right")

# landmark i of a face seen in a mirror (horizontal flip) is landmark MIRROR[i] of the original
DLIB68_MIRROR = np.array(
    list(range(16, -1, -1))                       # jaw
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows
    + [27, 28, 29, 30] + [35, 34, 33, 32, 31]     # nose
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]     # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65])                    # inner lips

# median dlib face in a default head crop (`reenact.preprocess.crop.crop_box`, margin 0.4), in
# normalized crop coordinates; measured on non-held-out talking and driving clips
TEMPLATE = np.array([
    [-0.475, -0.092], [-0.46, 0.034], [-0.439, 0.16], [-0.415, 0.289], [-0.382, 0.406],
    [-0.321, 0.509], [-0.241, 0.592], [-0.137, 0.656], [-0.018, 0.672], [0.114, 0.654],
    [0.227, 0.587], [0.322, 0.503], [0.391, 0.404], [0.434, 0.285], [0.457, 0.16], [0.471, 0.033],
    [0.482, -0.096], [-0.392, -0.222], [-0.338, -0.273], [-0.257, -0.288], [-0.167, -0.276],
    [-0.085, -0.24], [0.078, -0.239], [0.16, -0.275], [0.246, -0.289], [0.329, -0.268],
    [0.391, -0.214], [-0.001, -0.136], [-0.002, -0.055], [-0.006, 0.017], [-0.008, 0.107],
    [-0.103, 0.175], [-0.057, 0.187], [-0.008, 0.203], [0.051, 0.191], [0.099, 0.177],
    [-0.298, -0.12], [-0.247, -0.142], [-0.185, -0.139], [-0.13, -0.104], [-0.188, -0.09],
    [-0.251, -0.093], [0.122, -0.1], [0.178, -0.136], [0.243, -0.138], [0.295, -0.112],
    [0.247, -0.091], [0.182, -0.09], [-0.186, 0.362], [-0.123, 0.321], [-0.056, 0.297],
    [-0.011, 0.311], [0.039, 0.3], [0.107, 0.326], [0.174, 0.366], [0.107, 0.425], [0.038, 0.456],
    [-0.013, 0.455], [-0.067, 0.449], [-0.13, 0.421], [-0.158, 0.363], [-0.058, 0.35],
    [-0.012, 0.351], [0.038, 0.347], [0.144, 0.366], [0.036, 0.385], [-0.012, 0.391],
    [-0.061, 0.383]])


def check_anchor_names(names: tuple[str, ...]) -> None:
    """Raise ValueError naming the first unknown anchor group (and listing the valid ones)."""
    for name in names:
        if name not in ANCHOR_GROUPS:
            raise ValueError(f"unknown anchor group {name!r}; valid groups: {', '.join(ANCHOR_GROUPS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"anchor groups: each group may appear once, got {list(names)}")


def pixels_to_normalized(points: np.ndarray, size: int) -> np.ndarray:
    """Crop pixel coordinates (pixel (row r, col c) has its centre at (c + 0.5, r + 0.5)) of a
    size x size crop -> keypoint coordinates, -1 and +1 at the first and last pixel centres."""
    return 2 * (np.asarray(points, dtype=np.float64) - 0.5) / (size - 1) - 1


def normalized_to_pixels(points: np.ndarray, size: int) -> np.ndarray:
    """Inverse of `pixels_to_normalized`: keypoint coordinates -> crop pixel coordinates."""
    return (np.asarray(points, dtype=np.float64) + 1) * (size - 1) / 2 + 0.5


def flip_landmarks(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(..., 68, 2) crop-pixel landmarks of a crop flipped left-right: x -> size - x, and each
    landmark renamed to its mirror twin (the left mouth corner becomes the right one)."""
    flipped = np.asarray(landmarks)[..., DLIB68_MIRROR, :].copy()
    flipped[..., 0] = size - flipped[..., 0]
    return flipped


def _group_arrays(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(A, G) landmark indices padded to the largest group, and (A, G) weights (1 real, 0 pad)."""
    longest = max(len(ANCHOR_GROUPS[n]) for n in names)
    index = np.zeros((len(names), longest), dtype=np.int64)
    weight = np.zeros((len(names), longest), dtype=np.float64)
    for row, name in enumerate(names):
        group = ANCHOR_GROUPS[name]
        index[row, :len(group)] = group
        weight[row, :len(group)] = 1
    return index, weight


def anchor_keypoints(landmarks: Tensor, names: tuple[str, ...] = DEFAULT_ANCHORS) -> Keypoints:
    """Anchored keypoints of faces.

    landmarks: (B, 68, 2) float in normalized crop coordinates (`pixels_to_normalized`).
    Returns Keypoints with value (B, A, 2) and jacobian (B, A, 2, 2), A = len(names), same dtype
    and device. Rows whose landmarks hold NaN give NaN (the caller decides what to use instead).
    """
    if landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks: expected (B, {NUM_LANDMARKS}, 2), got {tuple(landmarks.shape)}")
    check_anchor_names(names)
    index_np, weight_np = _group_arrays(names)
    index = torch.from_numpy(index_np).to(landmarks.device)
    weight = torch.from_numpy(weight_np).to(landmarks.device, landmarks.dtype)  # (A, G)
    count = weight.sum(dim=1)  # (A,)
    points = landmarks[:, index]  # (B, A, G, 2)
    template = torch.from_numpy(TEMPLATE).to(landmarks.device, landmarks.dtype)[index]  # (A, G, 2)

    value = (points * weight[..., None]).sum(dim=2) / count[:, None]  # (B, A, 2)
    t_centre = (template * weight[..., None]).sum(dim=1) / count[:, None]  # (A, 2)
    p = (points - value[:, :, None]) * weight[..., None]  # (B, A, G, 2), pads zeroed
    t = (template - t_centre[:, None]) * weight[..., None]  # (A, G, 2)

    cross = torch.einsum("bagi,agj->baij", p, t)  # P^T T: (B, A, 2, 2)
    gram = torch.einsum("agi,agj->aij", t, t)  # T^T T: (A, 2, 2)
    spread = gram.diagonal(dim1=-2, dim2=-1).sum(-1)  # trace: (A,)
    # similarity fit s R = [[a, -b], [b, a]]: a = tr(P^T T) / tr(T^T T), b = (P^T T)_10 - (P^T T)_01 over it
    a = cross.diagonal(dim1=-2, dim2=-1).sum(-1) / spread
    b = (cross[..., 1, 0] - cross[..., 0, 1]) / spread
    similarity = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)  # (B, A, 2, 2)
    lam = (ANCHOR_RIDGE * spread / 2)[:, None, None]  # (A, 1, 1)
    eye = torch.eye(2, dtype=landmarks.dtype, device=landmarks.device)
    regularised = torch.linalg.inv(gram + lam * eye)  # (A, 2, 2); fixed, so a plain inverse is fine
    jacobian = torch.matmul(cross + lam * similarity, regularised)  # (B, A, 2, 2)
    return Keypoints(value, jacobian)


def replace_anchors(kp: Keypoints, anchors: Keypoints, valid: Tensor | None = None) -> Keypoints:
    """`kp` (B, K) with its first A keypoints replaced by `anchors` (B, A), where `valid` (B,) bool
    says so (default: rows whose anchors are all finite). Heatmaps are dropped."""
    num_anchors = anchors.num_kp
    if num_anchors > kp.num_kp:
        raise ValueError(f"anchors: {num_anchors} anchored keypoints for a model of {kp.num_kp}")
    if kp.jacobian is None or anchors.jacobian is None:
        raise ValueError("replace_anchors: both keypoint sets need jacobians")
    if valid is None:
        valid = torch.isfinite(anchors.value).flatten(1).all(dim=1) & \
            torch.isfinite(anchors.jacobian).flatten(1).all(dim=1)
    pick = valid.view(-1, 1, 1)
    value = torch.cat([torch.where(pick, anchors.value.nan_to_num(), kp.value[:, :num_anchors]),
                       kp.value[:, num_anchors:]], dim=1)
    jacobian = torch.cat([
        torch.where(pick[..., None], anchors.jacobian.nan_to_num(), kp.jacobian[:, :num_anchors]),
        kp.jacobian[:, num_anchors:]], dim=1)
    return Keypoints(value, jacobian)


def anchor_detected(kp: Keypoints, landmarks: np.ndarray, groups: tuple[str, ...],
                    size: int) -> Keypoints:
    """The detector's keypoints `kp` (B, K) with their anchored ones replaced by those of the
    frames' landmarks, where known: what a renderer trained with landmark anchors expects.

    landmarks: (B, 68, 2) in crop pixels of a size x size crop, NaN rows where no face was found
    (those frames keep the detector's own anchored keypoints). No groups: `kp` unchanged.
    """
    if not groups:
        return kp
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (kp.batch_size, NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks: expected ({kp.batch_size}, {NUM_LANDMARKS}, 2), got "
                         f"{points.shape}")
    normalized = torch.from_numpy(pixels_to_normalized(points, size)).to(kp.value.device, kp.value.dtype)
    return replace_anchors(kp, anchor_keypoints(normalized, groups))
