"""talk: a portrait and a speech clip in, a talking-head video with the speech out.

    speech -> audio model -> mouth motion per frame (x voice gate: still in silence)
    portrait -> face crop -> keypoints, encoding (once)
    keypoints of frame i = portrait's keypoints moved by
        without --driving: the speech motion + a blink curve along the blink direction, then a slow
                           random head sway (rotation, shift, zoom about the keypoints' centre);
        with --driving:    the driving video's relative motion with its mouth part (its component
                           in the span of the mouth directions) replaced by the speech's.
    -> render -> paste back -> the portrait's own mouth drawn opened by the speech, its inside
       painted (`reenact.pipelines.portrait_mouth`; mouth="drawn")
    -> video at the audio model's fps, as long as the speech, speech muxed.

Memory does not grow with the clip beyond the log-mel and one row of motion per frame.

Why this module is long: it is one pipeline with two ways to move the head (idle motion, or a
driving video), read in the order a frame meets its stages (options, the plan, keypoints,
rendering, the drawn mouth, writing); the work of each stage lives in audio / engine /
postprocess and `portrait_mouth`, and what is here is the glue that orders them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from reenact.audio.activity import VoiceActivityConfig
from reenact.audio.features import check_fps, clip_features, num_video_frames
from reenact.audio.transcript import check_transcript
from reenact.checkpoint.audio_format import MOUTH_DIRECTIONS, AudioCheckpoint
from reenact.containers import Keypoints
from reenact.geometry import normalize_keypoints
from reenact.idle_motion import IdleMotionConfig, blink_curve, glance_curve, head_sway
from reenact.io import VideoReader, probe_video, read_image
from reenact.io.audio import AudioClip, load_audio
from reenact.io.frame_order import ordered_frames, source_indices
from reenact.io.video import check_video_output
from reenact.motion import (
    KeypointMotion,
    apply_motion,
    motion_between,
    replace_subspace,
    similarity_transform,
)
from reenact.pipelines.animate import (
    driving_keypoints,
    drawn_mouth_finish,
    full_res_compositor,
    render_frames,
    rendered_ahead,
)
from reenact.pipelines.animate_options import AnimateOptions, DRAWN_EYES
from reenact.pipelines.driving_track import (PreparedSource, prepare_source, track_driving,
                                             track_landmarks)
from reenact.pipelines.audio_motion import (
    LOUDNESS_GAIN,
    FeatureFunction,
    PhoneFunction,
    speech_motion,
)
from reenact.pipelines.articulation import opening_motion, reexpress_opening, speech_opening
from reenact.pipelines.keypoints import crop_landmarks, detect_keypoints
from reenact.pipelines.portrait_mouth import PortraitMouth, drawn_lips, parted, portrait_mouth
from reenact.postprocess.eye_motion import eye_ratios, gaze_shifts
from reenact.preprocess.face import FaceAnalyzer, create_face_analyzer
from reenact.provenance.manifest import PendingManifest
from reenact.provenance.record import Provenance, options_record
from reenact.provenance.writers import MarkedVideoWriter
from reenact.smoothing import smoothed_batches

logger = logging.getLogger(__name__)

# a backward pass over a driving video keeps at most this many bytes of frames
_FRAME_CACHE_BYTES = 256 << 20
DRIVING_POLICIES = ("pingpong", "loop", "pad")
MOUTH_MODES = ("drawn", "model")


@dataclass(frozen=True)
class TalkOptions:
    """What `talk` does.

    fps: of the output; None takes the driving video's, else the audio model's (the speech motion
        is interpolated to other rates).
    seed: of the blinks and the head sway.
    idle: blinks and head sway (without a driving video).
    voice_gate: no speech motion where the audio is silent (energy-based voice activity).
    phones: the speech's phones shape the mouth: lips shut on p, b, m, rounded phones open it
        less, open vowels more (`reenact.audio.phones`).
    transcript: the words said in the speech (needs phones): their phones are aligned to it
        instead of heard (`reenact.audio.transcript`), so every p, b and m in them shuts the lips.
    words: without a transcript, the words recognised in English speech serve as one
        (`reenact.audio.recognition`, where installed).
    mouth_scale: multiplies the speech motion (1 = as learned).
    driving_policy: how a driving video shorter than the speech is extended: pingpong, loop, or
        pad (hold its last frame); the output is always as long as the speech.
    mouth: drawn: the portrait's own mouth, opened and with its inside painted, drawn at its
        resolution over the model's lower face (`reenact.pipelines.portrait_mouth`; rendering at
        full resolution, with a face-anchored model); model: the motion model's mouth alone.
    crop, crop_only, render, eyes, body, face_index, face_backend, crop_margin, kp_smoothing, batch_size,
    max_output_side, feather, color_match, adapt_scale, max_frames, label: as in `AnimateOptions`.
    """

    fps: Fraction | None = None
    seed: int = 0
    idle: bool = True
    idle_motion: IdleMotionConfig = field(default_factory=IdleMotionConfig)
    voice_gate: bool = True
    voice_activity: VoiceActivityConfig = field(default_factory=VoiceActivityConfig)
    phones: bool = True
    transcript: str | None = None
    words: bool = True
    mouth_scale: float = 1.0
    driving_policy: str = "pingpong"
    mouth: str = "drawn"
    crop: str = "face"
    crop_only: bool = False
    render: str = "full"
    eyes: str = "landmarks"
    body: str = "still"
    face_index: int | None = None
    face_backend: str = "dlib"
    crop_margin: float = 0.4
    kp_smoothing: float = 0.25
    adapt_scale: bool = True
    batch_size: int = 8
    max_output_side: int = 1920
    feather: float = 0.12
    color_match: bool = True
    max_frames: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        check_transcript(self.transcript, self.phones)
        if self.fps is not None:
            check_fps(self.fps)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed: expected an integer, got {self.seed!r}")
        if not 0 <= self.mouth_scale <= 10:
            raise ValueError(f"mouth_scale: expected a number in [0, 10], got {self.mouth_scale!r}")
        if self.driving_policy not in DRIVING_POLICIES:
            raise ValueError(f"driving_policy: expected one of {', '.join(DRIVING_POLICIES)}, got "
                             f"{self.driving_policy!r}")
        if self.mouth not in MOUTH_MODES:
            raise ValueError(f"mouth: expected one of {', '.join(MOUTH_MODES)}, got {self.mouth!r}")
        self.animate_options()  # validates the shared fields

    def animate_options(self) -> AnimateOptions:
        return AnimateOptions(
            relative=True, adapt_scale=self.adapt_scale, crop=self.crop, crop_only=self.crop_only,
            render=self.render, eyes=self.eyes, mouth="model",  # talk draws its mouth, not animate
            body=self.body,
            face_index=self.face_index, face_backend=self.face_backend,
            crop_margin=self.crop_margin, kp_smoothing=self.kp_smoothing,
            batch_size=self.batch_size, max_output_side=self.max_output_side,
            feather=self.feather, color_match=self.color_match, max_frames=self.max_frames,
            label=self.label)


@dataclass(frozen=True)
class TalkResult:
    output: Path
    num_frames: int
    fps: Fraction
    width: int
    height: int
    seconds: float
    run_id: str = ""  # the provenance record's run id
    manifest: Path | None = None  # the sidecar manifest written next to the output


@dataclass(frozen=True)
class TalkPlan:
    """Per output frame: speech motion (T, K * 6) float32, the voice gate (T,), and the idle motion:
    eye closure (T,), head rotation (T,) radians, shift (T, 2), scale (T,), and the irises' glances
    (T,) half eye lengths along the eyes (`idle_motion.glance_curve`; None: looking ahead)."""

    motion: np.ndarray
    gate: np.ndarray
    blink: np.ndarray
    angle: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    gaze: np.ndarray | None = None

    def __len__(self) -> int:
        return self.motion.shape[0]


def plan_talk(clip: AudioClip, checkpoint: AudioCheckpoint, fps: Fraction, num_frames: int,
              options: TalkOptions, features_of: FeatureFunction = clip_features,
              phones_of: PhoneFunction | None = None) -> TalkPlan:
    """Everything per frame that does not depend on pixels (phones_of: see `speech_motion`)."""
    motion, gate = speech_motion(clip, checkpoint, fps, num_frames, device=torch.device("cpu"),
                                 gate=options.voice_gate, activity=options.voice_activity,
                                 features_of=features_of, phones=options.phones,
                                 transcript=options.transcript, phones_of=phones_of,
                                 words=options.words, loudness_gain=LOUDNESS_GAIN)
    rng = np.random.default_rng(options.seed)
    if options.idle:
        blink = blink_curve(num_frames, fps, rng, options.idle_motion)
        angle, shift, scale = head_sway(num_frames, fps, rng, options.idle_motion)
        gaze = glance_curve(num_frames, fps, rng, options.idle_motion)  # drawn last: the blinks
        # and sway of a seed stay what they were before glances
    else:
        blink, angle = np.zeros(num_frames), np.zeros(num_frames)
        shift, scale = np.zeros((num_frames, 2)), np.ones(num_frames)
        gaze = None
    return TalkPlan(motion * np.float32(options.mouth_scale), gate, blink, angle, shift, scale,
                    gaze)


def idle_keypoints(kp_source: Keypoints, plan: TalkPlan, start: int, stop: int,
                   checkpoint: AudioCheckpoint) -> Keypoints:
    """Driving keypoints of frames [start, stop) without a driving video: speech + blink + sway."""
    blink = torch.from_numpy(plan.blink[start:stop]).float()
    flat = torch.from_numpy(plan.motion[start:stop]) \
        + blink[:, None] * checkpoint.directions.vector("blink")[None]
    moved = apply_motion(kp_source, KeypointMotion.from_flat(flat, kp_source.num_kp))
    return similarity_transform(moved, torch.from_numpy(plan.angle[start:stop]).float(),
                                torch.from_numpy(plan.shift[start:stop]).float(),
                                torch.from_numpy(plan.scale[start:stop]).float())


def replace_mouth(kp_source: Keypoints, kp_head: Keypoints, speech: torch.Tensor,
                  projector: torch.Tensor) -> Keypoints:
    """kp_head's motion from the source, with its mouth component replaced by `speech`'s.

    speech: (B, K * 6) flat motion; projector: (D, D) onto the mouth directions.
    m = m_head + P (speech - m_head): outside the mouth subspace m is the head's motion, inside it
    the speech's.
    """
    flat = replace_subspace(motion_between(kp_head, kp_source).flat(), speech, projector)
    return apply_motion(kp_source, KeypointMotion.from_flat(flat, kp_source.num_kp))


def articulated_plan(plan: TalkPlan, source: PreparedSource, backend, checkpoint: AudioCheckpoint,
                     kp_source: Keypoints) -> tuple[TalkPlan, np.ndarray | None]:
    """The plan with its speech motion moved onto the portrait's own mouth geometry
    (`reenact.pipelines.articulation`) where that applies: a face-anchored motion model, the
    portrait's landmarks known, and an audio model that drives only the mouth's opening. Also the
    (T,) opening per frame (inner-lip gap over interocular distance) it commands; None (and the
    plan unchanged) where it does not apply."""
    groups = getattr(backend, "anchor_groups", ())
    if (not groups or source.landmarks is None or checkpoint.metadata.get("mouth_output") != "open"
            or "mouth_open" not in checkpoint.directions.names):
        return plan, None
    size = backend.image_size
    landmarks = crop_landmarks([source.landmarks], [source.box], size)[0]
    geometric = opening_motion(kp_source, landmarks, groups, size)
    motion = reexpress_opening(plan.motion, checkpoint.directions.vector("mouth_open"), geometric)
    return dataclasses.replace(plan, motion=motion), speech_opening(plan.motion, checkpoint)


def drawn_mouth(source: PreparedSource, compositor, options: TalkOptions,
                openings: np.ndarray | None) -> PortraitMouth | None:
    """The portrait's mouth drawer where talk draws it: mouth="drawn", rendering at full
    resolution (a compositor), the portrait's landmarks and the speech's openings known (a
    face-anchored motion model); else None."""
    if (options.mouth != "drawn" or compositor is None or openings is None
            or source.landmarks is None):
        return None
    open_lips = parted(source.image, source.landmarks)
    return portrait_mouth(source.image, drawn_lips(source.image, source.landmarks, open_lips)[0],
                          source.box, open_lips=open_lips)


def talk_frames(source: PreparedSource, plan: TalkPlan, backend, checkpoint: AudioCheckpoint,
                options: TalkOptions) -> Iterator[np.ndarray]:
    """Output frames (uint8 RGB) without a driving video, in order."""
    kp_source = detect_keypoints(backend, source.crop[None], [source.landmarks], [source.box])
    encoded = backend.encode_source(source.crop)
    animate_options = options.animate_options()
    compositor = full_res_compositor(source, backend, animate_options, encoded, kp_source)
    plan, openings = articulated_plan(plan, source, backend, checkpoint, kp_source)
    mouth = drawn_mouth(source, compositor, options, openings)
    eyes, motion_plan = None, plan
    if compositor is not None and options.eyes in DRAWN_EYES and source.landmarks is not None:
        # the blinks are drawn on the photo's lids, not by the model's blink direction (whose
        # large deformations only its generator turns into a closed eye)
        eyes = np.repeat(1 - plan.blink[:, None], 2, axis=1)
        motion_plan = dataclasses.replace(plan, blink=np.zeros_like(plan.blink))
    # the idle glances, where the irises are drawn (eyes "landmarks"; "lids": the blinks only)
    gazes = plan.gaze if eyes is not None and options.eyes == "landmarks" else None

    def batches() -> Iterator[tuple[Keypoints, tuple[int, int]]]:
        for start in range(0, len(plan), options.batch_size):
            stop = min(start + options.batch_size, len(plan))
            yield idle_keypoints(kp_source, motion_plan, start, stop, checkpoint), (start, stop)

    for kp, (start, stop), rendered in rendered_ahead(backend, encoded, kp_source, batches(),
                                                      compositor is not None):
        yield from render_frames(backend, encoded, kp_source, kp, source, animate_options,
                                 compositor, None if eyes is None else eyes[start:stop],
                                 finish=None if mouth is None
                                 else drawn_mouth_finish(mouth, openings, start),
                                 gazes=None if gazes is None else gazes[start:stop],
                                 rendered=rendered)


def driven_talk_frames(source: PreparedSource, plan: TalkPlan, frames: Iterator[np.ndarray],
                       boxes: list, backend, checkpoint: AudioCheckpoint,
                       options: TalkOptions, landmarks: list | None = None,
                       irises: list | None = None) -> Iterator[np.ndarray]:
    """Output frames with head motion from driving `frames` (already in output order, one per
    output frame, with their crop `boxes`, face `landmarks`, (68, 2) image pixels or None, and
    `irises`, (2,) `preprocess.gaze.iris_positions` or None) and the mouth from the speech."""
    kp_source = detect_keypoints(backend, source.crop[None], [source.landmarks], [source.box])
    encoded = backend.encode_source(source.crop)
    animate_options = options.animate_options()
    compositor = full_res_compositor(source, backend, animate_options, encoded, kp_source)
    projector = checkpoint.directions.projector(MOUTH_DIRECTIONS)
    kp_initial: Keypoints | None = None
    openings = (speech_opening(plan.motion, checkpoint)
                if "mouth_open" in checkpoint.directions.names else None)
    mouth = drawn_mouth(source, compositor, options, openings)
    reference_eyes = (landmarks[0] if compositor is not None and options.eyes in DRAWN_EYES
                      and landmarks and source.landmarks is not None else None)
    # the driver's lids, relative to its first frame as the head motion is, drawn at full size
    eyes = None if reference_eyes is None else eye_ratios(landmarks, reference_eyes)
    gazes = None if eyes is None or not irises else gaze_shifts(irises, irises[0], eyes)
    raw = driving_keypoints(frames, boxes, landmarks, backend, options.batch_size, boxes[0],
                            reference_eyes)

    def batches() -> Iterator[tuple[Keypoints, tuple[int, int]]]:
        nonlocal kp_initial
        start = 0
        for kp_driving in smoothed_batches(raw, options.kp_smoothing, options.batch_size):
            stop = start + kp_driving.batch_size
            kp_initial = kp_driving[0] if kp_initial is None else kp_initial
            kp_head = normalize_keypoints(kp_source, kp_driving, kp_initial,
                                          relative_movement=True, relative_jacobian=True,
                                          adapt_movement_scale=options.adapt_scale)
            speech = torch.from_numpy(plan.motion[start:stop])
            yield replace_mouth(kp_source, kp_head, speech, projector), (start, stop)
            start = stop

    for kp, (start, stop), rendered in rendered_ahead(backend, encoded, kp_source, batches(),
                                                      compositor is not None):
        yield from render_frames(backend, encoded, kp_source, kp, source, animate_options,
                                 compositor, None if eyes is None else eyes[start:stop],
                                 finish=None if mouth is None
                                 else drawn_mouth_finish(mouth, openings, start),
                                 gazes=None if gazes is None else gazes[start:stop],
                                 rendered=rendered)


def talk(source_path: str | os.PathLike, audio_path: str | os.PathLike,
         output_path: str | os.PathLike, *, backend, checkpoint: AudioCheckpoint,
         options: TalkOptions | None = None, driving_path: str | os.PathLike | None = None,
         analyzer: FaceAnalyzer | None = None, progress: bool = True,
         model: Mapping[str, str] | None = None,
         features_of: FeatureFunction = clip_features,
         phones_of: PhoneFunction | None = None) -> TalkResult:
    """Render `output_path` (mp4, H.264, the speech as its audio). Nothing is written unless the
    whole video renders.

    Marked as synthetic like every output (see `animate`): watermark, MP4 tags, and the manifest
    `OUTPUT.reenact.json` with the inputs' sha256, `model` (motion and audio models), the options
    and the run id. features_of: computes the speech's log-mel (`clip_features`, or a
    `reenact.audio.feature_process.FeatureProcess`, which imports librosa during start-up);
    phones_of: finds the speech's phones (see `speech_motion`; a `FeatureProcess`'s `phones`).
    """
    from tqdm import tqdm

    options = options or TalkOptions()
    started = time.perf_counter()
    paths = [Path(p) for p in (source_path, audio_path)]
    output_path = check_video_output(output_path, [*paths, driving_path])
    sidecar = PendingManifest(output_path, [*paths, driving_path])  # checked before any work
    image = read_image(paths[0])
    clip = load_audio(paths[1], checkpoint.features.sample_rate)
    driving_fps = probe_video(driving_path).fps if driving_path is not None else None
    fps = options.fps or driving_fps or checkpoint.fps
    num_frames = num_video_frames(clip.num_samples, clip.sample_rate, fps)
    if options.max_frames is not None:
        num_frames = min(num_frames, options.max_frames)
    if analyzer is None and options.crop == "face":
        analyzer = create_face_analyzer(options.face_backend)
    source = prepare_source(image, backend.image_size, options.animate_options(), analyzer,
                            name=str(paths[0]))
    plan = plan_talk(clip, checkpoint, fps, num_frames, options, features_of, phones_of)
    size = backend.image_size
    height, width = (size, size) if options.crop_only else source.image.shape[:2]
    inputs = {"source": paths[0], "audio": paths[1]}
    if driving_path is not None:
        inputs["driving"] = Path(driving_path)
    provenance = Provenance.new(model=model, inputs=inputs, options=options_record(options),
                                label=options.label)
    with MarkedVideoWriter(output_path, fps, width, height, audio_from=paths[1],
                     provenance=provenance, commit=False) as writer, tqdm(
            total=num_frames, unit="frame", desc="talking", disable=not progress) as bar:
        if driving_path is None:
            frames = talk_frames(source, plan, backend, checkpoint, options)
            _write(writer, frames, bar)
        else:
            _write_driven(writer, bar, source, plan, Path(driving_path), backend, checkpoint,
                          options, analyzer)
    manifest = sidecar.commit_with(writer.output, provenance)  # the video and manifest together
    seconds = time.perf_counter() - started
    logger.info("wrote %s: %d frames at %s fps, %.1f s", output_path, num_frames, fps, seconds)
    return TalkResult(output=output_path, num_frames=num_frames, fps=fps, width=width,
                      height=height, seconds=seconds, run_id=provenance.run_id, manifest=manifest)


def _write(writer: MarkedVideoWriter, frames: Iterator[np.ndarray], bar) -> None:
    for frame in frames:
        writer.write(frame)
        bar.update(1)


def _write_driven(writer: MarkedVideoWriter, bar, source: PreparedSource, plan: TalkPlan,
                  driving_path: Path, backend, checkpoint: AudioCheckpoint, options: TalkOptions,
                  analyzer: FaceAnalyzer | None) -> None:
    info = probe_video(driving_path)
    animate_options = options.animate_options()
    with VideoReader(driving_path) as reader:
        track = track_driving(iter(reader), float(info.fps), source.landmarks,
                              animate_options, analyzer, name=str(driving_path))
        indices = source_indices(len(track.boxes), len(plan), options.driving_policy)
        boxes = [track.boxes[i] for i in indices]
        cached = max(1, _FRAME_CACHE_BYTES // (info.width * info.height * 3))
        held = np.asarray(track.frame_indices())[indices]  # a cut face's frame holds a whole one
        frames = ordered_frames(lambda: iter(reader), held, max_cached=cached)
        landmarks = [track_landmarks(track, int(i)) for i in indices]
        irises = None if track.irises is None else [track.irises[int(i)] for i in indices]
        _write(writer, driven_talk_frames(source, plan, frames, boxes, backend, checkpoint, options,
                                          landmarks, irises), bar)
    if info.fps != writer.fps:
        logger.info("%s runs at %s fps, the output at %s fps: its frames are shown one per output "
                    "frame", driving_path, info.fps, writer.fps)
