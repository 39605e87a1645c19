"""A portrait's mouth drawn at its own resolution over the rendered frames (talk and animate with
mouth="drawn"): an open-mouth reference made from the portrait once, then warped onto every
frame's landmarks as dub draws a video's own mouth.

- the reference: the portrait's mouth shut (`shut`) and opened by `REFERENCE_OPENING`
  (`open_mouth`: the jaw carries the lower lip and chin down), its lower face warped there
  piecewise-affinely (`reenact.postprocess.mouth_warp`) from the edges of the line between its
  lips (`reenact.preprocess.inner_lips.crease_edges`: the line's dark pixels go inside, where
  the paint covers them, not onto the opened lips), and the inside painted between the inner
  lips (`reenact.postprocess.mouth_interior`). A portrait whose own mouth is already open
  `OWN_REFERENCE_FROM` or more is its own reference: its real inside is drawn. One parted less
  (`parted`: `OWN_OPENING` or more, or from `PARTED_FROM` on teeth; a smile on its teeth) is
  opened further the same way, and its own inside above the teeth's seam is hung from the upper
  lip over the painted cavity (`hung_inside`): its own upper teeth, where drawing wider from its
  own inside had stretched the teeth together into a row of tall teeth.
- each frame: the portrait's landmarks (or, in animate, the portrait's landmarks with the
  driver's change of lip shape, `reenact.pipelines.mouth_transfer`) carried onto the rendered
  head (`PortraitMouth.posed`: a similarity to where the frame shows the photo's eye corners and
  nose), shut, opened by the frame's opening, and the reference's lower face warped onto them
  (`MouthWarp.render`; an opening narrower than the reference's shows the top of its inside, the
  upper teeth, cut off by the lower lip). A nearly closed mouth is the photo's own
  (`OWN_LIPS_UNTIL`): at rest the frame shows the photo's lips, not the reference's shut again.

The motion model still renders the head and the jaw's motion; the drawing replaces its lower
face, whose inside (invented at 128 px) was a dull notch without teeth, and a wide opening
stretched lips. dub makes its reference with `open_reference` too when the video's widest mouth
barely opens (`reenact.pipelines.reference_mouth`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from reenact.geometry import smoothstep
from reenact.pipelines.articulation import close_lips, open_mouth, shut_mouth, uncrossed
from reenact.point_geometry import apply_affine, similarity_fit
from reenact.postprocess.mouth_interior import InteriorStyle, face_colours, paint_interior
from reenact.postprocess.mouth_mask import (
    LOWER_FACE_LANDMARKS,
    MOUTH_LANDMARKS,
    polygon_box,
    polygon_coverage,
)
from reenact.postprocess.mouth_warp import Inside, MouthWarp, inner_lip_outline
from reenact.postprocess.own_inside import hung_inside
from reenact.preprocess.crop import CropBox
from reenact.preprocess.expressions import RIGID_LANDMARKS, mouth_opening, mouth_width
from reenact.preprocess.inner_lips import crease_edges, inner_lip_edges
from reenact.preprocess.teeth import pale_share

REFERENCE_OPENING = 0.45  # the reference's inner-lip gap, interocular distances (a wide "ah")
OWN_OPENING = 0.15  # a portrait's own mouth open this much has its own inside
# ... and one open this much whose inside shows teeth (`pale_share` this much or more; dev frames
# closed by FaceMesh read 0.04 at most): taken for closed, a bearded photo whose lips part 0.09 on
# its upper teeth kept them on its lips and drew the opened cavity under them, a second mouth
PARTED_FROM, PARTED_TEETH = 0.05, 0.1
# ... and open this much is its own reference (below it, opened further to `REFERENCE_OPENING`
# with its own upper inside kept over a painted cavity, `hung_inside`: drawn wider from its own
# inside, a smile's teeth together stretched into a row of tall teeth, the README video)
OWN_REFERENCE_FROM = 0.35
NO_UPPER_TEETH = InteriorStyle(teeth_height=0.0)  # the photo's own upper teeth are drawn instead
# a closed photo's opened reference: its lower teeth, painted in full above the lower lip, rise
# with the lower lip (`MouthWarp`'s risen_teeth; docs/talk-and-dub.md)
RISEN_LOWER_TEETH = InteriorStyle(lower_teeth_from=0.0, lower_teeth_height=0.08,
                                  lower_teeth_strength=0.95, lower_teeth_light=0.85)
# the teeth-together reference's gap: its two crowns (`InteriorStyle.teeth_height` each) fill it,
# as a grin's teeth fill its lips' gap (dev lp_d0 grins 0.22-0.26 apart); painted at the wide
# reference's gap, the teeth had been squeezed into two thin bands over a grey cavity
BITE_OPENING = 0.3
# the mouth's widening since the photo (interocular distances) from none to a grin's: a grin's
# teeth, bared across the mouth's width, are lit there, not only through the gap between the lips
GRIN_WIDENING = (0.08, 0.2)
# a closed portrait's mouth is drawn from the photo itself up to the first opening and from the
# open reference from the second, cross-faded between (interocular distances): the photo's own
# lips at rest, not the reference's closed again (lips a little squeezed, a glint of its teeth)
OWN_LIPS_UNTIL = (0.02, 0.08)
MASK_GROW = 0.05  # the lower-face mask's margin and softness, fractions of the face crop's side
MASK_FEATHER = 0.02
# the margin of the lips drawn alone on a turned head (`TURNED`): the lower face's margin reached
# the frame's jaw on the near side, whose cheek a turn squeezes, and drew the photo's shading there
# as a notch in the jaw line (the README video, frames 81-84)
LIPS_GROW = 0.02
JAW_LINE = tuple(range(17))  # dlib's jaw line, ear to ear
# a head turned (`turned`) this much is drawn with its whole lower face, from this much with its
# lips alone and the jaw where the frame shows it, cross-faded between
TURNED = (0.3, 0.6)
# ... and a mouth opened (interocular distances) less than this is drawn with its lips alone on any
# head, from this much with its whole lower face, cross-faded between: the motion model renders a
# little opening's jaw, the head's turn and nod, and the photo's lower face placed by a similarity
# put the chin, jaw line and nose a few pixels from where the driver had them (dev
# self-reenactment, 11 clips: AKD 2.79 -> 2.63 px, identity 0.196 -> 0.190); a wide opening's
# drawn chin drops, where the model's does not (lips drawn alone at every opening made a wide "oh"
# a small blob above an undropped chin, dev portraits x lp_d18)
LIPS_ALONE_UNTIL = (0.1, 0.25)
# where the rendered frame shows the photo's landmarks: photo pixels (N, 2) -> frame pixels (N, 2)
# (`reenact.postprocess.full_res.FullResCompositor.carried` with the frame's deformation)
Carried = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PortraitMouth:
    """Draws a portrait's mouth, opened and shaped per frame, onto rendered frames.

    warp: the open-mouth reference's `MouthWarp`; rest: the portrait's (68, 2) landmarks (image
    pixels); box: the portrait's crop box; own: the photo's own `MouthWarp` for nearly closed
    mouths (`OWN_LIPS_UNTIL`), None where the photo is its own reference; bitten: the same
    opening painted with the teeth together (a grin), None where not made (talk) or where the
    photo is its own reference; frame_jaw: a head turned far from the photo's pose, or a mouth
    opened little, is drawn with its lips alone and the jaw where the frame shows it (`alone`;
    animate: the similarity that places the whole lower face cannot turn it, and a frontal jaw
    line drawn on a turned head made a step in the cheek and a second earring, dev lp_d3); a
    frontal head opened wide keeps the whole lower face drawn (the model's own jaw stretches on
    a wide opening); skin: the photo's own pixels on the open reference's mesh, which draws
    everything but the inside between the inner lips (the reference is the photo warped open
    once already: drawn from it, the lips, chin and neck were resampled twice, and the neck the
    reference's dropped chin had squeezed came back smeared), None where the photo is its own
    reference. The references' inside is drawn in the same pass (`reenact.postprocess.mouth_warp.
    Inside`: one mask, one lighting; drawn apart, the inside was lit by the opened reference's
    lip margin, darker than the frame's skin there, and the teeth came out 1.1-1.5x as bright
    as the cheeks, where 19 real talking and driving clips read 0.3-1.4, median 0.9).
    own_opening: the photo's own opening where its mouth is open and it is not its own
    reference (`portrait_mouth`), else 0: `own` draws openings up to it, and `OWN_LIPS_UNTIL`
    counts from it.
    """

    warp: MouthWarp
    rest: np.ndarray
    box: CropBox
    own: MouthWarp | None = None
    bitten: MouthWarp | None = None
    frame_jaw: bool = False
    skin: MouthWarp | None = None
    own_opening: float = 0.0

    def posed(self, shown: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray:
        """(68, 2) frame pixels: the portrait's landmarks, or `shape` (the portrait's, its image
        pixels and pose, with a driver's mouth change, `reenact.pipelines.mouth_transfer`), where
        the frame shows its head: moved by the similarity that best takes the portrait's
        `RIGID_LANDMARKS` (eye corners and nose; speech moves neither) to where the frame
        shows them, `shown` ((68, 2), see `Carried`). Their positions in the rendered pixels, not
        the motion model's keypoints: its dense motion does not move the head exactly as its
        keypoints do (a few pixels at a 256-pixel face), and a drawn mouth that far off the
        rendered nose and cheeks is a seam."""
        pose = list(RIGID_LANDMARKS)
        return apply_affine(similarity_fit(self.rest[pose], np.asarray(shown, np.float64)[pose]),
                            self.rest if shape is None else shape)

    def draw(self, frame: np.ndarray, landmarks: np.ndarray, opening: float,
             bite: float = 0.0, shown: np.ndarray | None = None) -> np.ndarray:
        """`frame` with the mouth of the portrait's head at (68, 2) `landmarks` (image pixels; see
        `posed`) drawn opened by `opening` (inner-lip gap over interocular distance); bite: in
        [0, 1], how much of the inside is the teeth together (a grin) rather than an open jaw
        (with a `bitten` reference only); shown: (68, 2) where the frame shows the photo's
        landmarks (the model's own mouth among them), default where speech opening `landmarks`
        by `opening` would put them. With `frame_jaw` and `shown`, a head turned away from the
        photo's pose or a mouth opened little (`alone`) gets the lips drawn alone, its jaw the
        frame's."""
        opening = max(float(opening), 0.0)
        rendered = open_mouth(landmarks, opening) if shown is None else shown
        lips_alone = (alone(self.rest, shown, opening) if self.frame_jaw and shown is not None
                      else 0.0)
        whole = (None if lips_alone >= 1
                 else self._drawn(frame, landmarks, opening, bite, rendered))
        if lips_alone <= 0:
            return whole
        jaw = list(JAW_LINE)
        moved = landmarks.copy()
        moved[jaw] = shown[jaw]
        lips = self._drawn(frame, moved, opening, bite, rendered, MOUTH_LANDMARKS, LIPS_GROW)
        return lips if whole is None else _mix(whole, lips, lips_alone)

    def _drawn(self, frame: np.ndarray, landmarks: np.ndarray, opening: float, bite: float,
               rendered: np.ndarray, region: tuple[int, ...] = LOWER_FACE_LANDMARKS,
               grow: float = MASK_GROW) -> np.ndarray:
        """`draw` over the hull of `region` (landmark indices) of the target and `rendered`, grown
        by `grow` face crop sides."""
        side = self.box.side
        # a rendered head's own outline stays at the jaw's sides (`MouthWarp.render`'s sides)
        sides = "inside" if self.frame_jaw and region == LOWER_FACE_LANDMARKS else "both"
        warp = {"frame_landmarks": rendered, "grow": grow * side,
                "feather": MASK_FEATHER * side, "region": region, "sides": sides}
        low, high = OWN_LIPS_UNTIL
        above = opening - self.own_opening  # beyond the photo's own opening
        weight = 1.0 if self.own is None else float(
            smoothstep(torch.tensor((above - low) / (high - low))))
        # the photo's lips
        own = None if self.own is None else open_mouth(uncrossed(landmarks, self.rest), above)
        if weight <= 0:
            return self.own.render(frame, own, **warp)
        target = open_mouth(shut(landmarks, self.own_opening > 0 or None), opening)
        bite = 0.0 if self.bitten is None else float(np.clip(bite, 0.0, 1.0))
        references = tuple((reference, share) for reference, share in
                           ((self.warp, 1.0 - bite), (self.bitten, bite)) if share > 0)
        if self.skin is not None:  # the photo's own skin around the references' inside
            lit = max(bite, grin_share(landmarks, self.rest))
            drawn = self.skin.render(frame, target, **warp, inside=Inside(references, lit))
        else:
            drawn = references[0][0].render(frame, target, **warp)
            if len(references) == 2:
                drawn = _mix(drawn, self.bitten.render(frame, target, **warp), bite)
        if weight >= 1:
            return drawn
        if self.own_opening > 0:  # its own inside (teeth) fades into the reference's cavity
            return _mix(self.own.render(frame, own, **warp), drawn, weight)
        return parted_mix(self.own.render(frame, own, **warp), drawn, weight, target)


def turned(rest: np.ndarray, shown: np.ndarray) -> float:
    """In [0, 1]: how far a head is turned (yaw) in the frame that shows a photo's (68, 2) `rest`
    landmarks at `shown`, from 0 up to `TURNED[0]` to 1 from `TURNED[1]`: the change of the log
    ratio of the nose tip's distances to the jaw's two sides (dev drivers: frontal talk and wide
    openings stay under 0.2-0.35, lp_d3's turn away reaches 0.6-0.85)."""
    def sides(points: np.ndarray) -> float:
        return float(np.log(max(np.linalg.norm(points[30] - points[2]), 1e-9)
                            / max(np.linalg.norm(points[30] - points[14]), 1e-9)))
    low, high = TURNED
    return float(np.clip((abs(sides(shown) - sides(rest)) - low) / (high - low), 0.0, 1.0))


def alone(rest: np.ndarray, shown: np.ndarray, opening: float) -> float:
    """In [0, 1]: how much of a mouth opened by `opening` on a head that shows a photo's (68, 2)
    `rest` landmarks at `shown` is drawn as its lips alone rather than its whole lower face: 1
    for a head turned away (`turned`) or a mouth opened up to `LIPS_ALONE_UNTIL[0]`, 0 for a
    frontal head opened from `LIPS_ALONE_UNTIL[1]` on."""
    low, high = LIPS_ALONE_UNTIL
    return max(turned(rest, shown), 1.0 - float(np.clip((opening - low) / (high - low), 0, 1)))


def _mix(a: np.ndarray, b: np.ndarray, weight: float | np.ndarray) -> np.ndarray:
    """uint8 images a and b mixed: weight 0 is a, 1 is b (a number, or per pixel (H, W, 1))."""
    a = a.astype(np.float32)
    return np.rint(a + weight * (b.astype(np.float32) - a)).astype(np.uint8)


def parted_mix(own: np.ndarray, drawn: np.ndarray, weight: float,
               target: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: a closed mouth's drawing (`own`) cross-faded into the open reference's
    (`drawn`) by `weight`, but wholly the reference's between the drawn inner lips of `target`
    ((68, 2) image pixels): a mouth parted a little shows its inside (the teeth behind the lips)
    as a real one does, where a cross-fade of the whole region lightened it to lip colour, a
    ghost of the teeth (dev grid_sbia1a: gaps of 0.04-0.06 interocular distances, whose real
    mouth shows teeth, drew shut). talk's and animate's nearly shut mouths, dub's too."""
    mixed = _mix(own, drawn, weight)
    height, width = own.shape[:2]
    outline = inner_lip_outline(target)
    x0, y0, x1, y1 = polygon_box(outline, width, height)
    if x1 <= x0 or y1 <= y0:
        return mixed
    inside = polygon_coverage(outline - (x0, y0), x1 - x0, y1 - y0)
    alpha = np.maximum(inside, np.float32(weight))[..., None]
    mixed[y0:y1, x0:x1] = _mix(own[y0:y1, x0:x1], drawn[y0:y1, x0:x1], alpha)
    return mixed


def shut(landmarks: np.ndarray, parted: bool | None = None) -> np.ndarray:
    """(68, 2) a face's landmarks with the mouth shut: an open mouth (`parted`; default
    `parted_by` its gap alone) moved back by its opening, lower lip and chin with it (`shut_mouth`); a
    closed one's inner lips only made to meet (`close_lips`): dlib's gap between pressed lips is
    no opening."""
    if parted_by(float(mouth_opening(landmarks)), np.nan) if parted is None else parted:
        return shut_mouth(landmarks)
    return close_lips(landmarks)


def open_reference(image: np.ndarray, landmarks: np.ndarray, side: float,
                   opening: float = REFERENCE_OPENING) -> tuple[np.ndarray, np.ndarray]:
    """(reference image, its (68, 2) landmarks): `image` with the mouth of the face whose
    landmarks are `landmarks` (image pixels) opened by `opening` and its inside painted; the image
    itself where its mouth is open `OWN_OPENING` or more. side: the face crop's side (pixels),
    which sizes the warp's mask."""
    if float(mouth_opening(landmarks)) >= OWN_OPENING:
        return image, np.asarray(landmarks, np.float64)
    opened = _Opened.of(image, landmarks, side, opening)
    return opened.painted(), opened.landmarks


@dataclass(frozen=True)
class _Opened:
    """A closed mouth warped open, before its inside is painted: the warped image, its opened
    (68, 2) landmarks and the face's skin and lip colours (`face_colours`)."""

    image: np.ndarray
    landmarks: np.ndarray
    skin: np.ndarray
    lips: np.ndarray
    warp: MouthWarp  # the photo on the opened mesh, which made `image`

    @classmethod
    def of(cls, image: np.ndarray, landmarks: np.ndarray, side: float, opening: float,
           parted: bool | None = None) -> _Opened:
        opened = open_mouth(shut(landmarks, parted), opening)
        warp = MouthWarp(image, landmarks, mesh_on=opened)
        warped = warp.render(image, opened, frame_landmarks=landmarks, grow=MASK_GROW * side,
                             feather=MASK_FEATHER * side)
        return cls(warped, opened, *face_colours(image, landmarks), warp)

    def painted(self, bite: bool = False, style: InteriorStyle = InteriorStyle()) -> np.ndarray:
        """The image with the inside painted (`bite`: the teeth together) in `style`."""
        return paint_interior(self.image, self.landmarks, self.skin, self.lips, style, bite=bite)


def grin(widening: np.ndarray | float) -> np.ndarray:
    """In [0, 1], shaped as `widening` (the mouth's widening, interocular distances): how much of a
    grin it is (`GRIN_WIDENING`, from none to all)."""
    low, high = GRIN_WIDENING
    return np.clip((np.asarray(widening, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def grin_share(landmarks: np.ndarray, rest: np.ndarray) -> float:
    """`grin` of the mouth of (68, 2) `landmarks` widened from the one of `rest`."""
    return float(grin(float(mouth_width(landmarks)) - float(mouth_width(rest))))


def parted_by(opening: float, pale: float) -> bool:
    """Whether lips whose inner points dlib reads `opening` apart (interocular distances) and
    whose inside's `pale_share` is `pale` (NaN: not read) part: `OWN_OPENING` or more, or
    `PARTED_FROM` or more on teeth (`PARTED_TEETH`); dlib parts pressed lips by up to ~0.09."""
    return opening >= OWN_OPENING or (opening >= PARTED_FROM and pale >= PARTED_TEETH)


def parted(image: np.ndarray, landmarks: np.ndarray) -> bool:
    """`parted_by` for the face with (68, 2) `landmarks` (image pixels) in `image`."""
    opening = float(mouth_opening(landmarks))
    return parted_by(opening, pale_share(image, landmarks) if opening >= PARTED_FROM else np.nan)


def drawn_lips(image: np.ndarray, landmarks: np.ndarray,
               open_lips: bool | None = None) -> tuple[np.ndarray, float]:
    """(landmarks to draw a portrait's mouth from, their opening over dlib's): a `parted` mouth's
    (`open_lips`, default read here) with its inner lips at their edges in `image`
    (`reenact.preprocess.inner_lips`: dlib puts them on the teeth and the tongue, and the lips
    then close over a sliver of both); other faces' (68, 2) `landmarks` as they are, and 1."""
    if not (parted(image, landmarks) if open_lips is None else open_lips):
        return np.asarray(landmarks, np.float64), 1.0
    read = float(mouth_opening(landmarks))
    edges = inner_lip_edges(image, landmarks)
    return edges, float(mouth_opening(edges)) / read


def portrait_mouth(image: np.ndarray, landmarks: np.ndarray, box: CropBox, *,
                   bite: bool = False, frame_jaw: bool = False,
                   open_lips: bool | None = None) -> PortraitMouth:
    """The mouth drawer of a portrait: `image`, its face's (68, 2) `landmarks` (image pixels) and
    crop `box` (its side sizes the drawing's mask); bite: also a reference with the teeth
    together (`PortraitMouth.bitten`); frame_jaw: see `PortraitMouth`; open_lips: whether its
    lips part (`parted`, best read on dlib's landmarks before `drawn_lips` moved them), default
    read from `landmarks`."""
    rest = np.asarray(landmarks, np.float64)
    own = float(mouth_opening(landmarks))
    if own >= OWN_REFERENCE_FROM:  # its own reference
        return PortraitMouth(MouthWarp(image, landmarks), rest, box, frame_jaw=frame_jaw)
    if parted(image, rest) if open_lips is None else open_lips:  # opened further, own upper inside
        opened = _Opened.of(image, rest, box.side, REFERENCE_OPENING, parted=True)
        reference = hung_inside(opened.painted(style=NO_UPPER_TEETH), opened.landmarks, image,
                                rest)
        return PortraitMouth(MouthWarp(reference, opened.landmarks), rest, box,
                             MouthWarp(image, landmarks), None, frame_jaw, opened.warp, own)
    # opened from the edges of the line between the lips: its pixels go inside, under the paint
    lips = crease_edges(image, rest)
    opened = _Opened.of(image, lips, box.side, REFERENCE_OPENING)
    bitten = None
    if bite:
        grin = _Opened.of(image, lips, box.side, BITE_OPENING)
        bitten = MouthWarp(grin.painted(bite=True), grin.landmarks)
    return PortraitMouth(MouthWarp(opened.painted(style=RISEN_LOWER_TEETH), opened.landmarks,
                                   risen_teeth=True), rest, box,
                         MouthWarp(image, landmarks), bitten, frame_jaw, opened.warp)
