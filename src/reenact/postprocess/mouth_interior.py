"""The inside of an open mouth, painted where a portrait has none: a dark cavity, the upper teeth
hanging from the upper lip, and the tongue low in the mouth.

A still portrait with closed lips has no pixels for its mouth's inside; a talking portrait must
show one (real speech shows the inside in ~60% of frames and the teeth in ~40%). The motion
model's generator invents it at 128 px as a dull red notch without teeth. Here it is painted at
the image's own resolution between the inner lips of an opened mouth's landmarks, in the
portrait's own colours:

- geometry in the mouth's frame: u along the inner corners (60 -> 64), v across it toward the
  chin; the inner-lip outline is a Catmull-Rom curve through the landmarks, one per lip, each
  leaving the corners turned away from the other lip by the gap next to them
  (`inner_curve_ends`);
- the cavity: the lips' colour darkened to ~0.6, darkest at the back (the middle) and toward the
  corners (real mouths are not black: in 10 dev clips' frames opened 0.12 or more, the darkest
  2% of the pixels inside the outer lips stood at 0.23-0.67 of the lips' luma, 0.33 pooled, and
  inside dlib's inner lips the 10th percentile at 0.46-0.71 (9 of the 10); a cavity of 0.2 drew
  the darkest at 0.14, 0.4 at 0.30 with that 10th percentile at 0.26-0.52; 0.6 came nearer the
  drivers' mouths by pixels on 6 dev self-reenactment clips, `reenact evaluate`'s mouth L1, the
  luma's SSIM and its gradient's error); the tongue (the lips' colour at ~0.75, lighter than
  the cavity's back) fills the bottom of a wide mouth;
- the upper teeth: a band of measured size (visible crown 0.15 interocular distances, the
  incisors' and canines' boundaries at 0, +-0.13, +-0.235 and +-0.35 of it from the midline,
  the tooth widths of an average adult arch), hung from the upper inner lip, in the lip's
  shadow at the top, receding into shadow toward the corners; their brightness follows the
  face's (a bright face, bright teeth) and their tint a third ivory, two thirds the skin's (a
  black-and-white photo gets grey teeth, a varnished painting yellowed ones);
- the lower teeth show as a band above the lower lip (faint, when the mouth is wide open, by default); with
  `bite` (lips parted in a grin, the jaw shut) they stand right under the upper teeth instead,
  edge to edge behind a thin dark line, as tall as the upper teeth;
- the result is softened by a blur of about the picture's own sharpness and blended in through
  an antialiased, feathered mask.

Coordinates are continuous image pixels, pixel (row i, column j) centred at (j + 0.5, i + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.postprocess.mouth_mask import polygon_coverage
from reenact.preprocess.expressions import check_face_landmarks, interocular_distance
from reenact.preprocess.face import REC601_LUMA, check_rgb_image

_UPPER_INNER = (60, 61, 62, 63, 64)
_LOWER_INNER = (64, 65, 66, 67, 60)
_OUTER_LIPS = tuple(range(48, 60))
# the cheeks: lower eyelid, the nose's side, down to the jaw (each side)
_CHEEKS = ((36, 41, 40, 31, 3, 2, 1), (45, 46, 47, 35, 13, 14, 15))
# how far the inner lips' curves leave the corners turned apart, in gaps (`inner_curve_ends`): an
# opening then stands at a tenth of its width from a corner 0.73 of its middle's height (0 gave
# 0.46, 1 0.59, 3 0.88; 3 drew wide openings as boxes). On 6 dev clips' open frames the real
# inside spanned 0.69 of the mouth's width and the drawn one 0.52 with 0, 0.63 with this
CORNER_FULLNESS = 2.0


@dataclass(frozen=True)
class InteriorStyle:
    """Sizes in interocular distances (eye centre to eye centre, ~63 mm on an adult), colours as
    factors of the lips' colour.

    teeth_height: the upper teeth's visible crown (0: none painted); tooth_edges: the boundaries
    between upper teeth, from the midline outward (central incisor, lateral incisor, canine);
    lower_teeth_from: the inner-lip gap from which the lower teeth show; lower_teeth_height: their
    band's height above the lower lip; lower_teeth_strength, lower_teeth_light: how much of the
    band they cover and their brightness, of the upper teeth's (faint: a wide mouth's lower teeth
    mostly behind the lower lip; a reference whose lower teeth are risen with the lower lip,
    `mouth_hang.lower_teeth`, paints them in full); cavity, tongue:
    brightness of the lips' colour; softness: the blur, in pixels per 100 px of interocular
    distance (at least 0.4 px); inset: how far inside the inner lips the painting stops (at least
    1.5 px).
    """

    teeth_height: float = 0.15
    tooth_edges: tuple[float, ...] = (0.0, 0.13, 0.235, 0.35)
    lower_teeth_from: float = 0.3
    lower_teeth_height: float = 0.06
    lower_teeth_strength: float = 0.5
    lower_teeth_light: float = 0.6
    cavity: float = 0.6
    tongue: float = 0.75
    softness: float = 0.8
    inset: float = 0.03


def catmull_rom(points: np.ndarray, samples: int = 12,
                ends: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(M, D) a smooth open curve through (N, D) points (uniform Catmull-Rom; the outer
    neighbours of its end points are `ends`, (D,) each, default each end point itself):
    `samples` points a segment, from its start (t = 0, the segment's first point) on, then the
    last point. Linear in `points` and `ends`."""
    first, last = (points[:1], points[-1:]) if ends is None else (ends[0][None], ends[1][None])
    padded = np.concatenate([first, points, last])
    t = np.linspace(0, 1, samples, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1:i + 3]
        pieces.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                             + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    return np.concatenate([*pieces, points[-1:]])


def inner_curve_ends(points: np.ndarray, upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """The outer neighbours (`catmull_rom`'s `ends`) of the upper (60 -> 64) or lower (64 -> 60)
    inner lip's landmarks among (68, D) `points`: each corner's landmark mirrored through the
    corner, moved away from the other lip by `CORNER_FULLNESS` x the gap beside the corner (the
    pair 61/67 or 63/65). The curves then leave the corners turned apart by the gap, which
    pressed lips (a gap of 0) do not have: with each corner its own neighbour, an opening
    tapered to a point over the outer third of the mouth (dlib's 61 and 63 stand a third of
    the way in), where speech opens it toward the corners. Linear in `points`."""
    across = {61: 67, 63: 65, 65: 63, 67: 61}

    def beyond(corner: int, beside: int) -> np.ndarray:
        return (2 * points[corner] - points[beside]
                - CORNER_FULLNESS * (points[beside] - points[across[beside]]))

    return (beyond(60, 61), beyond(64, 63)) if upper else (beyond(64, 65), beyond(60, 67))


def _inner_lip_curves(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upper inner lip's curve (corner 60 to corner 64) and the lower's (64 back to 60)."""
    return (catmull_rom(points[list(_UPPER_INNER)], ends=inner_curve_ends(points, True)),
            catmull_rom(points[list(_LOWER_INNER)], ends=inner_curve_ends(points, False)))


def inner_outline(landmarks: np.ndarray) -> np.ndarray:
    """(M, 2) the inner lips' closed outline (upper lip left to right, then the lower back)."""
    upper, lower = _inner_lip_curves(check_face_landmarks(landmarks))
    return np.concatenate([upper, lower[1:-1]])


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w, C) float image low-passed by a separable Gaussian of `sigma` pixels (edges held)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(image, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    rows = sum(k * padded[:, i:i + image.shape[1]] for i, k in enumerate(kernel))
    return sum(k * rows[i:i + image.shape[0]] for i, k in enumerate(kernel))


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 up to `edge0`, 1 from `edge1`, 3 t^2 - 2 t^3 between (numpy; `reenact.geometry.smoothstep`
    is the tensors' of t in [0, 1])."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0, 1)
    return t * t * (3 - 2 * t)


def face_colours(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(skin, lips): (3,) float64 median colours of a photo whose face has (68, 2) `landmarks`:
    skin on the cheeks (between the lower eyelids, the nose's side and the jaw: a moustache or a
    beard rarely reaches up there, while the skin around the mouth is often hair or shadow),
    lips inside the outer lip outline (a closed mouth's lips; around an open one, its inside is
    taken out)."""
    check_rgb_image(image, "image")
    points = check_face_landmarks(landmarks)
    height, width = image.shape[:2]
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    region = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float64)
    shift = np.array([x0, y0], np.float64)
    lips = polygon_coverage(points[list(_OUTER_LIPS)] - shift, x1 - x0, y1 - y0).reshape(-1)
    inside = polygon_coverage(inner_outline(points) - shift, x1 - x0, y1 - y0).reshape(-1)
    skin = np.maximum(*(polygon_coverage(points[list(cheek)] - shift, x1 - x0, y1 - y0)
                        for cheek in _CHEEKS)).reshape(-1)
    lip_pixels = region[(lips > 0.9) & (inside < 0.1)]
    skin_pixels = region[skin > 0.9]
    if len(skin_pixels) == 0:
        skin_pixels = region
    if len(lip_pixels) == 0:
        lip_pixels = skin_pixels
    return np.median(skin_pixels, axis=0), np.median(lip_pixels, axis=0)


def paint_interior(image: np.ndarray, landmarks: np.ndarray, skin: np.ndarray, lips: np.ndarray,
                   style: InteriorStyle = InteriorStyle(), *, bite: bool = False) -> np.ndarray:
    """`image` (H, W, 3) uint8 with the inside of the mouth whose (68, 2) `landmarks` (image pixels)
    are open painted between its inner lips; skin, lips: (3,) colours (`face_colours`); bite: the
    teeth together (a grin), not the jaw open."""
    check_rgb_image(image, "image")
    points = check_face_landmarks(landmarks)
    upper_curve, lower_curve = _inner_lip_curves(points)
    outline = np.concatenate([upper_curve, lower_curve[1:-1]])
    height, width = image.shape[:2]
    iod = float(interocular_distance(points))
    blur = max(0.4, style.softness * iod / 100)
    margin = int(np.ceil(3 * blur)) + 2
    x0, y0 = np.floor(outline.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + margin
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    result = image.copy()
    if x1 - x0 < 2 or y1 - y0 < 2 or iod <= 0:
        return result
    shift = np.array([x0, y0], np.float64)
    mask = polygon_coverage(outline - shift, x1 - x0, y1 - y0)
    if not (mask > 0).any():
        return result
    # the mouth's frame: u along the inner corners, v toward the chin; pixel centres in it
    left, right = points[60], points[64]
    origin = (left + right) / 2
    axis_u = (right - left) / max(float(np.linalg.norm(right - left)), 1e-9)
    axis_v = np.array([-axis_u[1], axis_u[0]])
    if float(np.dot(points[8] - origin, axis_v)) < 0:
        axis_v = -axis_v
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5
    rel_x, rel_y = xs - origin[0], ys - origin[1]
    u = (rel_x * axis_u[0] + rel_y * axis_u[1]) / iod
    v = (rel_x * axis_v[0] + rel_y * axis_v[1]) / iod

    def profile(curve: np.ndarray) -> np.ndarray:  # v of a lip's curve at each u
        relative = (curve - origin) / iod
        cu, cv = relative @ axis_u, relative @ axis_v
        order = np.argsort(cu)
        return np.interp(u, cu[order], cv[order])

    top, bottom = profile(upper_curve), profile(lower_curve)
    half_width = max(float(np.linalg.norm(right - left)) / (2 * iod), 1e-3)
    across = np.clip(np.abs(u) / half_width, 0, 1)  # 0 at the midline, 1 at the corners
    gap = np.maximum(bottom - top, 1e-6)
    depth = v - top  # below the upper lip, interocular distances
    skin_luma = max(float(skin @ REC601_LUMA), 1.0)

    # the cavity, darkest at the back and toward the corners
    fraction = np.clip(depth / gap, 0, 1)
    shade = style.cavity * (1.3 - 0.5 * np.sin(np.pi * fraction)) * (1 - 0.45 * across ** 2)
    colour = shade[..., None] * lips
    # the tongue: a dome rising from the bottom of a wide mouth
    wide = np.clip((gap - 0.1) / 0.25, 0, 1)
    tongue_top = bottom - 0.4 * gap * wide * np.clip(1 - across ** 2, 0, 1)
    tongue = (smoothstep(-0.015, 0.015, v - tongue_top) * wide * (1 - across ** 3)
              * smoothstep(0.0, 0.03, v - tongue_top + 0.03))
    tongue_light = style.tongue * (0.7 + 0.3 * smoothstep(0.0, 0.1, v - tongue_top))
    colour = colour + tongue[..., None] * (tongue_light[..., None] * lips - colour)

    # the upper teeth: their edge a smooth arc below the middle of the upper lip (the lip's bow
    # does not shape it), brightness from the face's, a little of the skin's tint
    centre = np.abs(u) < 0.25 * half_width
    lip_line = float(np.median(top[centre])) if centre.any() else float(np.median(top))
    teeth_luma = float(np.clip(0.85 * skin_luma + 15, 60, 215))
    tint = skin / skin_luma
    teeth_colour = teeth_luma * (0.35 * np.array([1.04, 1.0, 0.9]) + 0.65 * tint)
    edge = lip_line + style.teeth_height * (1 - 0.45 * across ** 2)  # the arch recedes
    # from just under the upper lip (a dark line of its shadow first, so that lips warped shut
    # from this image meet on a dark seam, not on a line of teeth) down to their edge
    teeth = (1 - smoothstep(edge - 0.01, edge + 0.01, v)) * smoothstep(0.006, 0.022, depth)
    teeth = teeth * (1 - smoothstep(0.6, 0.95, across))
    down = np.clip((v - lip_line) / max(style.teeth_height, 1e-6), 0, 1)
    light = 0.7 + 0.3 * smoothstep(0.0, 0.4, down)  # in the upper lip's shadow at the top
    light = light * (1 - 0.35 * smoothstep(0.3, 0.85, across))
    for boundary in style.tooth_edges:  # faint lines between the teeth
        for side in ((1,) if boundary == 0 else (1, -1)):
            line = np.exp(-0.5 * ((u - side * boundary) / 0.006) ** 2)
            light = light * (1 - 0.18 * line)
    beyond = smoothstep(0.33, 0.4, np.abs(u))  # premolars: further back, darker
    light = light * (1 - 0.3 * beyond)
    colour = colour + teeth[..., None] * (light[..., None] * teeth_colour - colour)

    if bite:  # the lower teeth edge to edge under the upper ones, a little darker, behind a seam
        crown = style.teeth_height * (1 - 0.45 * across ** 2)
        lower = (smoothstep(edge + 0.008, edge + 0.026, v)
                 * (1 - smoothstep(edge + crown - 0.01, edge + crown + 0.01, v))
                 * (1 - smoothstep(0.55, 0.9, across)))
        lower_light = (0.8 - 0.3 * smoothstep(0.3, 0.85, across)) * (1 - 0.3 * beyond)
        colour = colour + lower[..., None] * (lower_light[..., None] * teeth_colour - colour)
    # the lower teeth, faintly, above the lower lip of a wide mouth
    elif style.lower_teeth_height > 0:
        height_below = bottom - v
        lower = (smoothstep(style.lower_teeth_from, style.lower_teeth_from + 0.1, gap)
                 * (1 - smoothstep(style.lower_teeth_height - 0.01,
                                    style.lower_teeth_height + 0.01, height_below))
                 * (height_below > -0.02) * (1 - smoothstep(0.4, 0.7, across)))
        colour = colour + (style.lower_teeth_strength * lower)[..., None] * (
            style.lower_teeth_light * teeth_colour - colour)

    # the inner lips' edge: a little shadow just inside them
    rim = np.minimum(np.clip(depth / 0.02, 0, 1), np.clip((bottom - v) / 0.02, 0, 1))
    colour = colour * (0.75 + 0.25 * rim)[..., None]
    colour = _blur(colour, blur)
    # the inside stays inside: the mask shrunk by `inset`, so the lips' edge keeps lip colour
    # (a closing mouth warped from this image samples its lips right at the outline)
    inside = polygon_coverage(outline - shift, x1 - x0, y1 - y0,
                              erode=max(1.5, style.inset * iod))
    alpha = np.minimum(_blur(inside[..., None], 0.5 * blur), mask[..., None])
    region = result[y0:y1, x0:x1].astype(np.float64)
    painted = region + alpha * (colour - region)
    result[y0:y1, x0:x1] = np.clip(np.round(painted), 0, 255).astype(np.uint8)
    return result
