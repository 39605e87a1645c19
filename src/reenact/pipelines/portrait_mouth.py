"""talk's mouth drawn at the portrait's resolution (mouth="drawn"): an open-mouth reference made
from the portrait once, then warped onto every frame's speech landmarks as dub draws a video's
own mouth.

- the reference: the portrait's lips closed (`close_lips`) and opened by `REFERENCE_OPENING`
  (`open_mouth`: the jaw carries the lower lip and chin down), its lower face warped there
  piecewise-affinely (`reenact.postprocess.mouth_warp`), and the inside painted between the
  inner lips (`reenact.postprocess.mouth_interior`). A portrait whose own mouth is already open
  `OWN_OPENING` or more is its own reference: its real inside is drawn.
- each frame: the portrait's landmarks carried onto the rendered head (the similarity between
  the source's and the frame's keypoints on eyes, brows and nose), closed, opened by the frame's
  speech opening, and the reference's lower face warped onto them (`MouthWarp.render`; an
  opening narrower than the reference's shows the top of its inside, the upper teeth, cut off by
  the lower lip; closed lips show none).

The motion model still renders the head and the jaw's motion; the drawing replaces its lower
face, whose inside (invented at 128 px) was a dull notch without teeth. dub makes its reference
with `open_reference` too when the video's widest mouth barely opens
(`reenact.pipelines.reference_mouth`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from reenact.containers import Keypoints
from reenact.geometry import apply_affine, similarity_fit
from reenact.pipelines.articulation import close_lips, open_mouth
from reenact.postprocess.mouth_interior import face_colours, paint_interior
from reenact.postprocess.mouth_warp import MouthWarp
from reenact.preprocess.anchors import normalized_to_pixels, pixels_to_normalized
from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import mouth_opening

REFERENCE_OPENING = 0.45  # the reference's inner-lip gap, interocular distances (a wide "ah")
OWN_OPENING = 0.15  # a portrait's own mouth open this much is drawn as it is
# the anchors that carry the head's pose (eyes, brows, nose): speech moves none of them
POSE_ANCHORS = ("upper_lid_left", "lower_lid_left", "upper_lid_right", "lower_lid_right",
                "brow_left", "brow_right", "nose")
MASK_GROW = 0.05  # the lower-face mask's margin and softness, fractions of the face crop's side
MASK_FEATHER = 0.02


@dataclass(frozen=True)
class PortraitMouth:
    """Draws a portrait's mouth opened by speech onto rendered frames.

    warp: the open-mouth reference's `MouthWarp`; rest: the portrait's (68, 2) landmarks (image
    pixels); box: the portrait's crop box and size the model's crop size (keypoints are in its
    normalized coordinates); pose_indices: the keypoints that carry the head's pose.
    """

    warp: MouthWarp
    rest: np.ndarray
    box: CropBox
    size: int
    pose_indices: tuple[int, ...]

    def frame_landmarks(self, kp_source: Keypoints, kp_frame: Keypoints) -> np.ndarray:
        """(B, 68, 2) the portrait's landmarks where the rendered head of each frame of `kp_frame`
        (batch B) put them: moved by the similarity between the source's and the frame's pose
        keypoints, mouth as in the portrait."""
        indices = list(self.pose_indices)
        source = kp_source.value[0, indices].detach().double().numpy()  # (P, 2) normalized
        frames = kp_frame.value[:, indices].detach().double().numpy()  # (B, P, 2)
        rest = pixels_to_normalized(self.box.image_to_crop(self.rest, self.size), self.size)
        posed = [apply_affine(similarity_fit(source, frame), rest) for frame in frames]
        return np.stack([self.box.crop_to_image(normalized_to_pixels(p, self.size), self.size)
                         for p in posed])

    def draw_batch(self, frames: Iterable[np.ndarray], kp_source: Keypoints, kp_frames: Keypoints,
                   openings: np.ndarray) -> Iterator[np.ndarray]:
        """The rendered `frames` of one batch (keypoints `kp_frames`, batch B) with their mouths
        drawn opened by (B,) `openings`."""
        heads = self.frame_landmarks(kp_source, kp_frames)
        for head, opening, frame in zip(heads, openings, frames, strict=True):
            yield self.draw(frame, head, float(opening))

    def draw(self, frame: np.ndarray, landmarks: np.ndarray, opening: float) -> np.ndarray:
        """`frame` with the mouth of the portrait's head at (68, 2) `landmarks` (image pixels; see
        `frame_landmarks`) drawn opened by `opening` (inner-lip gap over interocular distance)."""
        opening = max(float(opening), 0.0)
        target = open_mouth(close_lips(landmarks), opening)
        rendered = open_mouth(landmarks, opening)  # where the model's commanded mouth went
        side = self.box.side
        return self.warp.render(frame, target, frame_landmarks=rendered, grow=MASK_GROW * side,
                                feather=MASK_FEATHER * side)


def open_reference(image: np.ndarray, landmarks: np.ndarray, side: float,
                   opening: float = REFERENCE_OPENING) -> tuple[np.ndarray, np.ndarray]:
    """(reference image, its (68, 2) landmarks): `image` with the mouth of the face whose
    landmarks are `landmarks` (image pixels) opened by `opening` and its inside painted; the image
    itself where its mouth is open `OWN_OPENING` or more. side: the face crop's side (pixels), which
    sizes the warp's mask."""
    if float(mouth_opening(landmarks)) >= OWN_OPENING:
        return image, np.asarray(landmarks, np.float64)
    opened = open_mouth(close_lips(landmarks), opening)
    warp = MouthWarp(image, landmarks, mesh_on=opened)
    warped = warp.render(image, opened, frame_landmarks=landmarks, grow=MASK_GROW * side,
                         feather=MASK_FEATHER * side)
    skin, lips = face_colours(image, landmarks)
    return paint_interior(warped, opened, skin, lips), opened


def portrait_mouth(image: np.ndarray, landmarks: np.ndarray, box: CropBox, size: int,
                   anchor_groups: tuple[str, ...]) -> PortraitMouth | None:
    """The mouth drawer of a portrait (`image`, its face's (68, 2) `landmarks` in image pixels and
    crop `box`) rendered by a model of crop `size` whose first keypoints are anchored on
    `anchor_groups`; None when the model has no anchors on the eyes, brows and nose."""
    indices = tuple(i for i, name in enumerate(anchor_groups) if name in POSE_ANCHORS)
    if len(indices) < 2:
        return None
    reference, opened = open_reference(image, landmarks, box.side)
    return PortraitMouth(MouthWarp(reference, opened), np.asarray(landmarks, np.float64), box,
                         size, indices)
