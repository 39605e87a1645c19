"""dub's mouth drawn from a frame of the video where it is open: the reference frame's lower face,
warped piecewise-affinely onto each output frame's speech landmarks, at the video's resolution.

A mouth warped from a closed-mouth frame has nothing to show when it opens (the motion model
stretches the lips instead; see `reenact.pipelines.dub`). From an open one, every opening up to
the reference's is a matter of moving pixels that exist. The mouth's inside hangs from the upper
lip, as the upper teeth hang from the skull: a mouth opened less than the reference's shows the
top of the reference's inside (the edge of the upper teeth), cut off by the lower lip, not a
squeezed copy of all of it; when the lips meet it is gone (the inner lips have no area between
them, the lip triangles take the pixels); a painted reference's lower teeth rise with the lower
lip (`reenact.postprocess.mouth_hang`). Opened wider than the reference, the inside stretches with
the inner-lip triangles.

The mesh: the reference's 68 landmarks, points on smooth curves through the lips' landmarks
(`lip_curve_points`: the same fixed blend of landmarks on every face, so each curve point has its
match in every frame) and a ring of points around the face (carried to each frame by the similarity
between the two faces' pose landmarks), Delaunay-triangulated once on the reference. Without the
curve points an open mouth's edge was the straight chords between dlib's 8 inner-lip points: a
hexagon, plain to see on a wide mouth's dark inside. Each output pixel under the lower-face mask
takes the affine map of the target triangle it lies in back to the reference frame, sampled
bicubically, and is blended into the frame through the mask; pixels outside it keep their bytes.
The drawn pixels first take the frame's lighting: each colour channel is scaled by the ratio of
frame to drawing, both low-passed over the skin (the mask without either mouth), so a face that
turns or walks through light keeps its shading under the new mouth.

Coordinates are continuous image pixels, pixel (row i, column j) centred at (j + 0.5, i + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reenact.point_geometry import apply_affine, similarity_fit
from reenact.postprocess.mouth_hang import lip_hang, lower_teeth
from reenact.postprocess.mouth_interior import catmull_rom, inner_curve_ends, smoothstep
from reenact.postprocess.mouth_mask import (
    JAW_FADE_REACH,
    JAW_LANDMARKS,
    LOWER_FACE_LANDMARKS,
    above_jaw,
    grown_hull,
    inner_jaw,
    lower_face_region,
    polygon_box,
    polygon_coverage,
)
from reenact.postprocess.piecewise import (
    delaunay,
    rasterize_triangles,
    row_spans,
    triangle_affines,
)
from reenact.preprocess.expressions import RIGID_LANDMARKS, check_face_landmarks, mouth_opening
from reenact.preprocess.face import check_rgb_image

# the mask's softness beyond the jaw line, over its feather elsewhere: the region grown beyond the
# chin drew the reference's neck where the frame shows its own (the reference's chin dropped, the
# frame's collar under it), and their cross-fade was a smear under the chin (the README video)
JAW_SOFTNESS = 0.5
RING_POINTS = 16  # points on the ring around the face
RING_SCALE = 1.5  # the ring's radius over the farthest landmark's distance from the face's centre
LIGHT_SIGMA = 0.35  # the lighting match's Gaussian, in mouth widths
LIGHT_GAIN = (0.6, 1.6)  # the range of the lighting match's gain
_LIGHT_STEP = 4.0  # the lighting match blurs by at most this many pixels of a coarser map
_OUTER_LIPS = tuple(range(48, 60))
# the inside of a parted mouth is lit through the gap between its lips: in real speech (dev GRID
# and presenter clips: the brightest fifth of the pixels between dlib's inner lips, over the skin
# above the upper lip) it reads ~0.7 of its wide-open brightness at a gap of 0.05 interocular
# distances, and all of it from ~0.2
SLIT_LIGHT = 0.7
SLIT_GAPS = (0.05, 0.2)
# the lips' curves, each from corner to corner through its landmarks: inner upper and lower, outer
# upper and lower (a lip's two curves meet at an angle at the corners, as lips do)
_LIP_CURVES = ((60, 61, 62, 63, 64), (64, 65, 66, 67, 60),
               (48, 49, 50, 51, 52, 53, 54), (54, 55, 56, 57, 58, 59, 48))
CURVE_STEPS = 3  # each curve segment between two landmarks is cut in this many (2 points added)


def _lip_curve_blend() -> tuple[np.ndarray, tuple[int, ...]]:
    """((P, 68) weights: each lip curve point as a blend of the landmarks, the curves' points in
    the order of `_LIP_CURVES`, each segment's inner points in order; the inner lips' closed
    outline as indices into landmarks + curve points). The curves are `catmull_rom`'s, of the
    landmarks' unit vectors: a curve is linear in its points."""
    rows, outline = [], []
    unit = np.eye(68)
    for number, curve in enumerate(_LIP_CURVES):
        # CURVE_STEPS samples a segment from its landmark on; the curve's last landmark dropped;
        # the inner lips' curves leave the corners as the painted inside's
        ends = inner_curve_ends(unit, upper=number == 0) if number < 2 else None
        blend = catmull_rom(unit[list(curve)], CURVE_STEPS, ends)[:-1]
        for index, row in enumerate(blend):
            on_landmark = index % CURVE_STEPS == 0
            if number < 2:
                outline.append(curve[index // CURVE_STEPS] if on_landmark else 68 + len(rows))
            if not on_landmark:
                rows.append(row)
    return np.stack(rows), tuple(outline)


_CURVE_BLEND, _INNER_OUTLINE = _lip_curve_blend()
_INNER_POINTS = frozenset(_INNER_OUTLINE)  # the inner lips' landmarks and curve points


def lip_curve_points(landmarks: np.ndarray) -> np.ndarray:
    """(P, 2) points on smooth (Catmull-Rom) curves through the inner and outer lips' landmarks,
    between them (`CURVE_STEPS` - 1 per segment): a fixed blend of the landmarks."""
    return _CURVE_BLEND @ landmarks


def inner_lip_outline(landmarks: np.ndarray) -> np.ndarray:
    """(M, 2) the inner lips' closed outline through their landmarks and curve points: the upper
    lip from corner 60 to corner 64, then the lower lip back."""
    return np.concatenate([landmarks, lip_curve_points(landmarks)])[list(_INNER_OUTLINE)]


class MouthWarp:
    """Draws `reference`'s lower face onto frames with its landmarks moved.

    reference: (H, W, 3) uint8 frame; landmarks: its face's (68, 2) landmarks (image pixels).
    mesh_on: (68, 2) landmarks of the same face, in the same pose, whose Delaunay triangles the mesh
        uses (default `landmarks`): a closed mouth's inner lips nearly coincide, and its
        triangles can join an outer lip to the other lip's inner edge, which an opening folds
        over; the triangles of the opened shape it will be drawn with are sound.
    risen_teeth: a mouth opened less than the reference's shows a band of the reference's lower
        teeth risen with its lower lip (`mouth_hang.lower_teeth`) under the inside hung from the
        upper lip (`mouth_hang.lip_hang`): for a reference whose inside is painted (its lower
        teeth right above its lower lip), not a frame's own.
    """

    def __init__(self, reference: np.ndarray, landmarks: np.ndarray,
                 mesh_on: np.ndarray | None = None, risen_teeth: bool = False) -> None:
        check_rgb_image(reference, "reference")
        self.landmarks = check_face_landmarks(landmarks, "landmarks")
        self._risen_teeth = risen_teeth
        centre = self.landmarks.mean(axis=0)
        radius = RING_SCALE * float(np.linalg.norm(self.landmarks - centre, axis=1).max())
        angles = np.arange(RING_POINTS) * (2 * np.pi / RING_POINTS)
        self._ring = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        self._source = self._points(self.landmarks, self._ring)  # (68 + curves + ring, 2)
        shape = self.landmarks if mesh_on is None else check_face_landmarks(mesh_on, "mesh_on")
        self._triangles = delaunay(self._points(shape, self._ring))
        # the triangles between the inner lips (all three corners on them): the mouth's inside
        self._mouth_triangles = np.isin(self._triangles, list(_INNER_POINTS)).all(axis=1)
        self._opening = float(mouth_opening(self.landmarks))
        self._height, self._width = reference.shape[:2]
        self._pixels = torch.from_numpy(
            np.ascontiguousarray(reference.transpose(2, 0, 1))).float()[None]  # (1, 3, H, W)

    @staticmethod
    def _points(landmarks: np.ndarray, ring: np.ndarray) -> np.ndarray:
        return np.concatenate([landmarks, lip_curve_points(landmarks), ring])

    def mesh_target(self, target: np.ndarray) -> np.ndarray:
        """(68 + curves + ring, 2): the mesh's points for a frame whose landmarks are `target`."""
        pose = list(RIGID_LANDMARKS)
        carry = similarity_fit(self.landmarks[pose], target[pose])
        return self._points(target, apply_affine(carry, self._ring))

    def sampled(self, points: np.ndarray, rows: int, cols: int,
                coverage: np.ndarray | None = None, spans: np.ndarray | None = None,
                ) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
        """The reference's pixels over a `rows` x `cols` region whose mesh points are `points`
        (region pixels, `mesh_target`): ((3, h, w) float32 samples, (h, w) bool: the pixel lies
        in a triangle, (h, w) source x and y of each pixel). coverage: the inner lips' antialiased
        area over the region (`polygon_coverage` of their outline), where already known; spans:
        (h, 2) per row the columns [start, stop) that will be used (`row_spans`; the others
        count as in no triangle, their samples arbitrary), or None for all."""
        affines, valid = triangle_affines(self._source, points, self._triangles)
        # the lips first: where the inner lips press together, the inside's triangles become
        # slivers between the lip line and its chords that overlap the lips' triangles; they
        # must not show the inside there
        mouth = self._mouth_triangles
        label = rasterize_triangles(points, self._triangles, valid & ~mouth, rows, cols, spans)
        label = np.where(label >= 0, label, rasterize_triangles(
            points, self._triangles, valid & mouth, rows, cols, spans))  # (h, w)
        inside = label >= 0
        # each pixel's affine, gathered per coefficient in float32 (a thousandth of a pixel at
        # 2,000 px; float64 (h, w, 6) gathers were a fifth of the drawing's time at 1920 px)
        coefficients = affines.reshape(-1, 6).astype(np.float32).T  # (6, T)
        index = np.where(inside, label, 0)  # (h, w)
        xs = np.arange(cols, dtype=np.float32) + 0.5
        ys = np.arange(rows, dtype=np.float32)[:, None] + 0.5
        a, b, c, d, e, f = (row[index] for row in coefficients)  # each (h, w)
        source_x = a * xs + b * ys + c
        source_y = d * xs + e * ys + f
        drawn = self._at(source_x, source_y)  # (3, h, w)
        if mouth_opening(points[:68]) <= self._opening:
            # hung from the upper lip: no squeeze; blended in by the inner lips' antialiased area,
            # so their edge against the lower lip is smooth, not a staircase of triangle labels
            if coverage is None:
                coverage = polygon_coverage(points[list(_INNER_OUTLINE)], cols, rows)  # (h, w)
            covered_rows = np.flatnonzero(coverage.any(axis=1))
            if covered_rows.size:  # sampled over the box the inner lips cover, not the region's
                covered_cols = np.flatnonzero(coverage.any(axis=0))
                y0, y1 = covered_rows[0], covered_rows[-1] + 1
                x0, x1 = covered_cols[0], covered_cols[-1] + 1
                bx, by = xs[x0:x1], ys[y0:y1]
                hung = self._at(*lip_hang(points[:68], self.landmarks, bx, by))
                if self._risen_teeth:
                    teeth = lower_teeth(points[:68], self.landmarks, bx, by)
                    hung += torch.from_numpy(teeth.share.astype(np.float32)) * (
                        self._at(teeth.source_x, teeth.source_y) - hung)
                    hung *= torch.from_numpy(teeth.keep.astype(np.float32))
                weight = torch.from_numpy(np.ascontiguousarray(coverage[y0:y1, x0:x1]))
                box = drawn[:, y0:y1, x0:x1]
                box += weight * (hung - box)
        return drawn, inside, source_x, source_y

    def _at(self, source_x: np.ndarray, source_y: np.ndarray) -> torch.Tensor:
        """(3, h, w) the reference sampled bicubically at (h, w) source pixel positions."""
        grid = _sampling_grid(source_x, source_y, self._width, self._height)
        return F.grid_sample(self._pixels, grid, mode="bicubic", padding_mode="border",
                             align_corners=False)[0]

    @torch.no_grad()
    def render(self, frame: np.ndarray, target: np.ndarray, *, frame_landmarks: np.ndarray,
               grow: float, feather: float,
               region: tuple[int, ...] = LOWER_FACE_LANDMARKS,
               inside: Inside | None = None, sides: str = "both") -> np.ndarray:
        """`frame` (H, W, 3) uint8 with its lower face replaced by the reference's, landmarks moved
        to `target` (68, 2). The mask covers the hull of the `region` landmarks (default the lower
        face; `MOUTH_LANDMARKS`: the lips alone) of both `target` and `frame_landmarks` (the
        frame's own, so no part of its old mouth or chin stays), grown by `grow` and feathered by
        `feather` pixels, and cut below the jaw line (the lower face: either set's; the lips
        alone: the frame's, `above_jaw`). inside: what is drawn between the target's inner lips
        instead of this reference's pixels (`Inside`). sides: "both", the lower face's cut takes
        in both faces' jaw lines (`above_jaw`); "inside", it stops inside the nearer one at the
        face's sides (the frame's outline stays; `inner_jaw`), both at the chin."""
        check_rgb_image(frame, "frame")
        if sides not in ("both", "inside"):
            raise ValueError(f"sides: expected 'both' or 'inside', got {sides!r}")
        target = check_face_landmarks(target, "target")
        frame_landmarks = check_face_landmarks(frame_landmarks, "frame_landmarks")
        height, width = frame.shape[:2]
        y0, x0, mask = lower_face_region([target, frame_landmarks], height, width, grow=grow,
                                         feather=feather, indices=region)
        jaw = tuple(i for i in JAW_LANDMARKS if i in region)
        if len(jaw) >= 3 and mask.size:  # the margin stops at the chins: see `above_jaw`
            soft = JAW_SOFTNESS * feather
            both = [target, frame_landmarks]  # "inside": 0 from the nearer jaw line out
            cut = [inner_jaw(both, JAW_FADE_REACH * soft)] if sides == "inside" else both
            mask = mask * above_jaw(cut, jaw, y0, x0, *mask.shape, soft)
        elif mask.size:  # the lips alone stop at the frame's own jaw line: their margin past a
            # turned head's face edge drew the reference's cheek edge and hair over the frame's,
            # a torn contour beside the mouth corner (monalisa driven by lp_d12, frames 78-84)
            mask = mask * above_jaw([frame_landmarks], JAW_LANDMARKS, y0, x0, *mask.shape,
                                    JAW_SOFTNESS * feather)
        result = frame.copy()
        if mask.size == 0 or not (mask > 0).any():
            return result
        rows, cols = mask.shape
        points = self.mesh_target(target) - (x0, y0)  # region pixels
        # only where the mask reaches (a convex hull cut below the jaw: ~60% of its box)
        drawn, meshed, source_x, source_y = self.sampled(points, rows, cols,
                                                         spans=row_spans(mask > 0))
        # a target beyond the reference's picture (a chin near its bottom edge, drawn lower)
        # has nothing to take there: "border" sampling would smear the edge row into streaks,
        # so the frame keeps its own pixels, faded in over `feather` pixels from the edge
        covered = _within(source_x, source_y, self._width, self._height, max(feather, 1.0))
        alpha = torch.from_numpy(mask * meshed * covered)  # (h, w)
        original = result[y0:y0 + rows, x0:x0 + cols]
        before = torch.from_numpy(np.ascontiguousarray(original.transpose(2, 0, 1))).float()
        mouth_width = float(np.linalg.norm(target[54] - target[48]))
        lips = np.maximum(*(grown_hull(shape[list(_OUTER_LIPS)] - (x0, y0), cols, rows,
                                       0.15 * mouth_width, 0.0)
                            for shape in (target, frame_landmarks)))  # the new and the old mouth
        skin = torch.from_numpy(((mask > 0.5) & meshed) * (1 - lips))
        if inside is not None:
            drawn = inside.drawn_over(drawn, points, (x0, y0), target)
        drawn = drawn * _gain(drawn, before, skin, LIGHT_SIGMA * mouth_width)
        blended = drawn.sub_(before).mul_(alpha).add_(before).round_().clamp_(0, 255)
        result[y0:y0 + rows, x0:x0 + cols] = blended.to(torch.uint8).permute(1, 2, 0).numpy()
        return result


@dataclass(frozen=True)
class Inside:
    """What a `MouthWarp.render` draws between its target's inner lips instead of its own
    reference's pixels: the weighted mix (weights summing to 1) of other `references` of the same
    face (`MouthWarp`s), blended in by the inner lips' antialiased area and lit as the rest of the
    drawing is, by the skin around both mouths, and by as much light as the target's lips let in
    (`light`; bared: the share of teeth bared across the mouth's width). A closed photo's own skin
    with an opened reference's inside (`reenact.pipelines.portrait_mouth`)."""

    references: tuple[tuple[MouthWarp, float], ...]
    bared: float = 0.0

    def light(self, target: np.ndarray) -> float:
        """The share of the references' light that reaches the inside between the (68, 2)
        `target`'s inner lips: painted as a wide-open mouth's, it is lit through the gap between
        the lips (`inside_light`), less where that gap is narrower than the references', but for
        the share `bared` (in [0, 1]): teeth bared across the mouth's width (a grin, a bite) are
        lit there."""
        opening = sum(weight * warp._opening for warp, weight in self.references)
        through = min(inside_light(float(mouth_opening(target))) / inside_light(opening), 1.0)
        return 1.0 - (1.0 - through) * (1.0 - float(np.clip(self.bared, 0.0, 1.0)))

    def drawn_over(self, drawn: torch.Tensor, points: np.ndarray, corner: tuple[int, int],
                   target: np.ndarray) -> torch.Tensor:
        """(3, h, w) `drawn`, a region whose top-left pixel is `corner` (x0, y0) of the image and
        whose mesh points are `points` (region pixels), with the references' mix between the
        inner lips of `target` ((68, 2) image pixels), times its `light`."""
        rows, cols = drawn.shape[1:]
        outline = points[list(_INNER_OUTLINE)]
        x0, y0, x1, y1 = polygon_box(outline, cols, rows)
        if x1 <= x0 or y1 <= y0:
            return drawn
        coverage = polygon_coverage(outline - (x0, y0), x1 - x0, y1 - y0)
        if not coverage.any():
            return drawn
        offset = np.array(corner) + (x0, y0)  # the box's top-left, image pixels
        # the references' inner lips are the target's: the same outline, the same coverage
        mixed = sum(weight * warp.sampled(warp.mesh_target(target) - offset, y1 - y0, x1 - x0,
                                          coverage)[0]
                    for warp, weight in self.references) * self.light(target)
        drawn[:, y0:y1, x0:x1] += torch.from_numpy(coverage) * (mixed - drawn[:, y0:y1, x0:x1])
        return drawn


def inside_light(opening: float) -> float:
    """How much of a wide-open mouth's light reaches the inside of one opened by `opening`
    (inner-lip gap, interocular distances): `SLIT_LIGHT` up to `SLIT_GAPS`[0], rising
    (smoothstep) to 1 at `SLIT_GAPS`[1]."""
    low, high = SLIT_GAPS
    return SLIT_LIGHT + (1 - SLIT_LIGHT) * float(smoothstep(low, high, np.float64(opening)))


def _within(source_x: np.ndarray, source_y: np.ndarray, width: int, height: int,
            ramp: float) -> np.ndarray:
    """(h, w) float32 in [0, 1]: how far each source position lies inside a `width` x `height`
    image, 0 on or beyond its edge rising to 1 at `ramp` pixels in."""
    depth = np.minimum(np.minimum(source_x, width - source_x), np.minimum(source_y, height - source_y))
    return np.clip(depth / np.float32(ramp), 0.0, 1.0).astype(np.float32)


def _sampling_grid(source_x: np.ndarray, source_y: np.ndarray, width: int,
                   height: int) -> torch.Tensor:
    """(1, h, w, 2) grid_sample coordinates (align_corners=False) of (h, w) source pixel
    coordinates in a `width` x `height` image."""
    grid = np.stack([source_x * (2 / width) - 1, source_y * (2 / height) - 1], axis=-1)
    return torch.from_numpy(grid.astype(np.float32))[None]


def _blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """(C, h, w) maps low-passed by a Gaussian of `sigma` pixels (separable; edges replicated)."""
    radius = max(1, int(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    channels = maps.shape[0]
    padded = F.pad(maps[None], (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)[0]


def _gain(drawn: torch.Tensor, frame: torch.Tensor, skin: torch.Tensor,
          sigma: float) -> torch.Tensor:
    """(3, h, w), or (3, 1, 1) where there is no skin: the gain that gives `drawn` the lighting of
    `frame` (both (3, h, w)): per channel blur(frame x skin) / blur(drawn x skin), clipped to
    `LIGHT_GAIN`, over the skin whose brightness ratio is within it (where at least half is);
    where there is little skin nearby it tends to the whole region's ratio. skin:
    (h, w) weights in [0, 1]. The gain is smooth, so it is computed on maps box-averaged by
    sigma / `_LIGHT_STEP` pixels (leaving at most `_LIGHT_STEP` pixels of blur there) and
    upsampled bilinearly."""
    # only where the two show the same thing: a pixel lit more than the gain's range apart is
    # another picture (hair beside a turned face's mouth corner where the drawing has skin; the
    # gain made it up by lighting the skin around it up to 1.6x, a glow), unless most are
    ratio = (frame.mean(dim=0) + 1) / (drawn.mean(dim=0) + 1)
    agree = skin.float() * ((ratio >= LIGHT_GAIN[0]) & (ratio <= LIGHT_GAIN[1]))
    weight = (agree if float(agree.sum()) >= 0.5 * float(skin.sum()) else skin.float())[None]
    total = float(weight.sum())
    if total < 1:
        return torch.ones(3, 1, 1)
    level = (drawn * weight).sum(dim=(1, 2)) / total  # (3,) the drawing's mean skin colour
    overall = (frame * weight).sum(dim=(1, 2)) / total / level.clamp(min=1.0)  # (3,)
    step = max(1, int(sigma / _LIGHT_STEP))
    maps = torch.cat([frame * weight, drawn * weight])  # (6, h, w)
    coarse = F.avg_pool2d(maps[None], step, ceil_mode=True)[0] if step > 1 else maps
    near = _blur(coarse, max(sigma / step, 0.5))
    prior = 0.05 * level.clamp(min=1.0)[:, None, None]  # pulls toward `overall` where skin is thin
    gain = ((near[:3] + overall[:, None, None] * prior) / (near[3:] + prior)).clamp(*LIGHT_GAIN)
    if step > 1:
        # channels last: the same numbers, 0.38 ms instead of 0.59 on a 133 x 192 region
        gain = F.interpolate(gain[None].contiguous(memory_format=torch.channels_last),
                             size=drawn.shape[1:], mode="bilinear", align_corners=False)[0]
    return gain
