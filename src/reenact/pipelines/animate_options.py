"""What `animate` does: its options and their modes, on their own (no torch), so that the face
pass (`reenact.pipelines.driving_track`) can take them into a process that never imports torch."""

from __future__ import annotations

from dataclasses import dataclass

from reenact.provenance.label import check_label

CROP_MODES = ("face", "none")
RENDER_MODES = ("full", "crop")
EYE_MODES = ("landmarks", "lids", "model")
DRAWN_EYES = ("landmarks", "lids")  # the modes whose lids the compositor draws
MOUTH_MODES = ("drawn", "model")
HEAD_MOTION_MODES = ("split", "model")
BODY_MODES = ("still", "model")
EXPRESSION_READERS = ("facemesh", "dlib")


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
    expressions: which landmark model reads the driver's brows and lids: "facemesh" reads every
        driving frame with FaceMesh too (`reenact.pipelines.driving_mesh`): where dlib reads a
        brow far from where FaceMesh's change puts it (a raised brow, read low: the keypoints
        then pulled the photo's brows down onto its lids), the brow keypoint follows FaceMesh;
        where FaceMesh sees an eye closing that dlib does not (a blink read as an open eye), the
        drawn lids follow it (relative motion); "dlib": dlib's 68 points alone, as before.
    fit_landmarks: fit the model's motion to where the driver's landmarks put the photo's (jaw,
        brows, nose, eye corners; `reenact.postprocess.landmark_fit`; render "full" with face
        landmarks only). Off by default: it follows head roll better but the mouth opens less
        across identities (docs/animate.md).
    head_motion: "split": the motion model takes the driven face's zoom and shift up to a limit,
        the excess moves the whole head box at full resolution, and its free keypoints stay near
        the face's motion (`reenact.pipelines.box_motion`: a driver leaning into the camera or
        crossing the frame no longer melts the picture; relative motion, render "full" only);
        "model": the model takes all of it, as before.
    body: "still": away from the head (below the chin and beside the jaw) the motion fades out,
        so shoulders and clothes keep the photo's pixels while the head moves
        (`FullResConfig.hold_body`; render "full" with face landmarks only); "model": the motion
        model moves them too, as the reference does.
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
    expressions: str = "facemesh"
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
        if self.expressions not in EXPRESSION_READERS:
            raise ValueError(f"expressions: expected one of {', '.join(EXPRESSION_READERS)}, got "
                             f"{self.expressions!r}")
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
