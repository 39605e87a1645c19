"""dub: a video and new speech in, the same video with the lips following the new speech out.

    pass 1: follow the face (crop box + landmarks per frame)
    speech -> audio model -> motion A_i per output frame (x voice gate: closed in silence; x the
              phones' mouth factor: shut on p, b, m, aligned to a transcript or recognised words)

mouth="reference" (default): the video's own mouth, drawn (no motion model runs)
    the rest frame = the closed-mouth frame nearest the video's median closed face; the
    reference frame = the most open mouth among the top 10% in the rest frame's pose (one more
    decoding pass reads both)
    output frame i showing video frame j: the rest face's landmarks carried to frame j's pose,
    lips closed, then opened by the speech's opening (`articulation.drawn_opening`, `speech_target`);
    the reference frame's lower face warped onto them at the video's resolution
    (`reenact.postprocess.mouth_warp`), pasted through the lower faces of both shapes.

mouth="model": the lower face rendered by the motion model
    pass 2: keypoints of every frame's crop; the video's rest face = the median keypoints of its
            most closed-mouth frames, and its rest frame = the closed-mouth frame nearest to it;
            each frame's motion d_j from the rest face, low-passed over time
    pass 3, output frame i showing video frame j (see the length policy):
        source = the rest frame's crop (or, with mouth_source="frame", frame j's own crop),
        kp_driving = rest face moved by d_j + P (A_i - d_j), P the projection onto the mouth
                     directions: the frame's own motion everywhere but in the mouth subspace, where
                     it becomes the speech's;
        render, then paste back through a feathered lower-face mask (from frame j's landmarks).
    Why from the rest frame, and why low-passed: the old speech must not show through. Rendered
    from itself, a frame keeps its own mouth, and its own motion carries the old speech's jaw
    movement beyond the two mouth directions (on the eval videos the dubs followed the old speech,
    offset -13 frames; from the rest frame with the own motion low-passed, 0). It never shows the
    mouth's inside: from a closed mouth the model stretches lips instead of parting them.

Pixels outside the mask, and frames without a face, keep their bytes up to the encoder; the
output carries the new speech. Lighting changes in the lower face are not followed (it comes from
one frame). Memory is bounded: passes stream; per frame a box, landmarks and (mouth="model")
keypoints are kept.
"""

from __future__ import annotations

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
from reenact.audio.features import clip_features, num_video_frames
from reenact.audio.transcript import check_transcript
from reenact.checkpoint.audio_format import MOUTH_DIRECTIONS, AudioCheckpoint
from reenact.containers import Keypoints
from reenact.io import VideoReader, batched
from reenact.io.audio import load_audio
from reenact.io.frame_order import check_length_policy, ordered_frames, output_length, source_indices
from reenact.io.errors import media_error
from reenact.io.video import MAX_VIDEO_SIDE, check_video_output
from reenact.motion import (
    KeypointMotion,
    apply_motion,
    closed_mouth_frames,
    motion_between,
    replace_subspace,
    rest_keypoints,
)
from reenact.pipelines.animate_options import RENDER_MODES
from reenact.pipelines.articulation import drawn_opening
from reenact.pipelines.audio_motion import FeatureFunction, PhoneFunction, speech_motion
from reenact.pipelines.keypoints import detect_keypoints
from reenact.pipelines.reference_mouth import draw_mouths, drawn_frames
from reenact.postprocess.mouth_mask import lower_face_mask
from reenact.postprocess.paste import paste_back
from reenact.postprocess.warp_paste import warp_paste
from reenact.preprocess.crop import crop_image
from reenact.preprocess.expressions import mouth_opening
from reenact.preprocess.face import FaceAnalyzer, create_face_analyzer
from reenact.preprocess.face_track import FaceTrack, track_face
from reenact.provenance.label import check_label
from reenact.provenance.manifest import PendingManifest
from reenact.provenance.record import Provenance, options_record
from reenact.provenance.writers import MarkedVideoWriter
from reenact.smoothing import gaussian_smooth

logger = logging.getLogger(__name__)

_FRAME_CACHE_BYTES = 256 << 20
MOUTH_SOURCES = ("rest", "frame")
MOUTH_RENDERERS = ("reference", "model")


@dataclass(frozen=True)
class DubOptions:
    """What `dub` does.

    length_policy: pingpong (default), loop, trim or pad; see `reenact.io.frame_order`.
    voice_gate: mouth at rest where the new audio is silent.
    phones, transcript, words: the speech's phones shape the mouth (lips shut on p, b, m): aligned
        to `transcript` (the script) where given, else to the words recognised in English speech
        (`words`, `reenact.audio.recognition`), else heard (`reenact.audio.phones`).
    mouth_scale: multiplies the speech motion (1 = as learned).
    rest_quantile: the rest face: the median of the frames whose mouth opening is in this quantile.
    mouth_source: "rest" (default): every frame's lower face is rendered from the video's rest
        frame, so no old mouth shows through; "frame": from the frame itself.
    motion_smoothing: Gaussian sigma (s) of the low-pass on each frame's own motion (removes the
        old speech's jaw movement; 0 = off).
    mask_dilation, mask_feather: growth and softness of the lower-face mask, fractions of the crop.
    mouth: "reference" (default) draws the video's own most open mouth (a reference frame),
        warped onto each frame's landmarks with the speech's opening, at the video's resolution
        (`reenact.postprocess.mouth_warp`): teeth and the mouth's inside show, lips meet on
        closures; "model" renders the lower face with the motion model (`mouth_source`,
        `motion_smoothing` and `render` apply to it alone).
    render: "full" (default) renders the lower face at the video's resolution: the model's motion
        warps the source frame's own pixels, the generator's only where it invents (the mouth's
        inside), `reenact.postprocess.warp_paste`; "crop" pastes the model-size frame, upscaled.
    label: a short text drawn in a corner of every frame (the watermark and metadata always are).
    """

    length_policy: str = "pingpong"
    voice_gate: bool = True
    voice_activity: VoiceActivityConfig = field(default_factory=VoiceActivityConfig)
    phones: bool = True
    transcript: str | None = None
    words: bool = True
    mouth_scale: float = 1.0
    face_backend: str = "dlib"
    crop_margin: float = 0.4
    rest_quantile: float = 0.2
    mouth_source: str = "rest"
    motion_smoothing: float = 0.12
    mask_dilation: float = 0.05
    mask_feather: float = 0.02
    mouth: str = "reference"
    render: str = "full"
    batch_size: int = 8
    max_frames: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        check_transcript(self.transcript, self.phones)
        check_length_policy(self.length_policy)
        if self.label is not None:
            check_label(self.label)
        if not 0 <= self.mouth_scale <= 10:
            raise ValueError(f"mouth_scale: expected a number in [0, 10], got {self.mouth_scale!r}")
        if not 0 < self.rest_quantile <= 1:
            raise ValueError(f"rest_quantile: expected a number in (0, 1], got {self.rest_quantile!r}")
        for name, choices in (("mouth_source", MOUTH_SOURCES), ("mouth", MOUTH_RENDERERS),
                              ("render", RENDER_MODES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name}: expected one of {', '.join(choices)}, got "
                                 f"{getattr(self, name)!r}")
        if not 0 <= self.motion_smoothing <= 10:
            raise ValueError(f"motion_smoothing: expected seconds in [0, 10], got "
                             f"{self.motion_smoothing!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: expected an integer >= 1, got {self.batch_size}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames: expected an integer >= 1, got {self.max_frames}")


@dataclass(frozen=True)
class DubResult:
    output: Path
    num_frames: int
    fps: Fraction
    width: int
    height: int
    faces: int
    seconds: float
    run_id: str = ""  # the provenance record's run id
    manifest: Path | None = None  # the sidecar manifest written next to the output


@dataclass(frozen=True)
class VideoFaces:
    """Passes 1 and 2: the face track and, for mouth="model", every frame's keypoints (batch T,
    CPU) and the rest face (None for mouth="reference", which draws on landmarks alone)."""

    track: FaceTrack
    keypoints: Keypoints | None
    rest: Keypoints | None
    fps: Fraction
    rest_index: int | None = None  # the rest frame (None: no face anywhere)
    rest_crop: np.ndarray | None = None  # its crop, (S, S, 3) uint8
    rest_frame: np.ndarray | None = None  # the whole rest frame, (H, W, 3) uint8
    reference_index: int | None = None  # the open-mouth reference frame (mouth="reference")
    reference_frame: np.ndarray | None = None  # the whole reference frame, (H, W, 3) uint8

    def motion(self, smoothing: float = 0.0) -> torch.Tensor:
        """(T, K * 6) each frame's motion from the rest face, low-passed by a Gaussian of
        `smoothing` seconds (0: as detected)."""
        flat = motion_between(self.keypoints, self.rest).flat()
        if not smoothing:
            return flat
        return torch.from_numpy(gaussian_smooth(flat.numpy(), smoothing * float(self.fps)))


def analyze_video(open_frames, fps: Fraction, backend, analyzer: FaceAnalyzer,
                  options: DubOptions, name: str) -> VideoFaces:
    """Face track and rest frame of a video (`open_frames()` starts a decoding pass); with
    mouth="model" every frame's keypoints and the rest face too, with mouth="reference" the
    reference frame (`backend` is then not used)."""
    track = track_face(open_frames(), float(fps), analyzer, margin=options.crop_margin, name=name,
                       require_face=False)
    landmarks = track.landmark_array()
    opening = np.full(len(track), np.nan)
    if track.found.any():
        opening[track.found] = mouth_opening(landmarks[track.found])
    fps = Fraction(fps)
    if options.mouth == "reference":
        if not track.found.any():
            return VideoFaces(track, None, None, fps)
        rest_index, reference_index = drawn_frames(landmarks, opening, options.rest_quantile, name)
        kept = _read_frames(open_frames, {rest_index, reference_index}, name)
        return VideoFaces(track, None, None, fps, rest_index, None, kept[rest_index],
                          reference_index, kept[reference_index])
    size = backend.image_size
    batches = []
    index = 0
    for batch in batched(open_frames(), options.batch_size):
        boxes = track.boxes[index:index + len(batch)]
        crops = np.stack([crop_image(frame, box, size) for frame, box in zip(batch, boxes)])
        batches.append(detect_keypoints(backend, crops, track.landmarks[index:index + len(batch)],
                                        boxes))
        index += len(batch)
    keypoints = Keypoints.cat(batches)
    rest = rest_keypoints(keypoints, opening, options.rest_quantile)
    if not track.found.any():
        return VideoFaces(track, keypoints, rest, fps)
    closed = np.flatnonzero(closed_mouth_frames(opening, options.rest_quantile))
    distance = ((keypoints.value[closed] - rest.value) ** 2).flatten(1).sum(dim=1)
    rest_index = int(closed[int(distance.argmin())])
    kept = _read_frames(open_frames, {rest_index}, name)
    crop = crop_image(kept[rest_index], track.boxes[rest_index], size)
    return VideoFaces(track, keypoints, rest, fps, rest_index, crop, kept[rest_index])


def _read_frames(open_frames, wanted: set[int], name: str) -> dict[int, np.ndarray]:
    """Copies of the frames `wanted`, from one more decoding pass that stops at the last of them."""
    kept: dict[int, np.ndarray] = {}
    for index, frame in enumerate(open_frames()):
        if index in wanted:
            kept[index] = frame.copy()
            if len(kept) == len(wanted):
                return kept
    raise ValueError(f"{name}: frame {min(wanted - set(kept))} could not be read again")


def dub_frames(frames: Iterator[np.ndarray], indices: np.ndarray, faces: VideoFaces,
               speech: np.ndarray, backend, checkpoint: AudioCheckpoint, options: DubOptions,
               gate: np.ndarray | None = None,
               features_of: FeatureFunction | None = None) -> Iterator[np.ndarray]:
    """Output frames in order: `frames` yields video frame indices[i] as output frame i.

    speech: (T, K * 6) the speech's motion per output frame (already gated); gate: (T,) its voice
    gate (None: voiced throughout); features_of: the log-mel function (default `clip_features`).
    """
    if gate is None:
        gate = np.ones(len(speech), np.float32)
    if options.mouth == "reference":
        if faces.reference_frame is None:  # no face anywhere
            yield from frames
            return
        yield from _reference_mouth_frames(frames, indices, faces, speech, gate, checkpoint,
                                           options, features_of)
        return
    yield from _model_mouth_frames(frames, indices, faces, speech, backend, checkpoint, options)


def _reference_mouth_frames(frames: Iterator[np.ndarray], indices: np.ndarray, faces: VideoFaces,
                            speech: np.ndarray, gate: np.ndarray, checkpoint: AudioCheckpoint,
                            options: DubOptions,
                            features_of: FeatureFunction | None) -> Iterator[np.ndarray]:
    """mouth="reference": the reference frame's mouth drawn with the speech's opening."""
    opening = drawn_opening(speech, gate * np.float32(options.mouth_scale), checkpoint,
                            features_of=features_of, phones=options.phones)
    yield from draw_mouths(frames, indices, faces.track, opening, rest_index=faces.rest_index,
                           reference_index=faces.reference_index,
                           reference_frame=faces.reference_frame, rest_frame=faces.rest_frame,
                           grow=options.mask_dilation, feather=options.mask_feather)


def _model_mouth_frames(frames: Iterator[np.ndarray], indices: np.ndarray, faces: VideoFaces,
                        speech: np.ndarray, backend, checkpoint: AudioCheckpoint,
                        options: DubOptions) -> Iterator[np.ndarray]:
    """mouth="model": the lower face rendered by the motion model."""
    projector = checkpoint.directions.projector(MOUTH_DIRECTIONS)
    own = faces.motion(options.motion_smoothing)
    size = backend.image_size
    from_rest = options.mouth_source == "rest" and faces.rest_crop is not None
    if from_rest:
        rest_source = backend.encode_source(faces.rest_crop)
        kp_rest = faces.keypoints[faces.rest_index]
    full = options.render == "full" and backend.has_motion_outputs
    if options.render == "full" and not full:
        logger.warning("this backend's model returns no deformation (an ONNX export made before "
                       "full-resolution output): pasting the model-size mouth instead")
    for i, (j, frame) in enumerate(zip(indices.tolist(), frames, strict=True)):
        if not faces.track.found[j]:
            yield frame
            continue
        box, landmarks = faces.track.boxes[j], faces.track.landmarks[j]
        flat = replace_subspace(own[j:j + 1], torch.from_numpy(speech[i:i + 1]), projector)
        kp_driving = apply_motion(faces.rest, KeypointMotion.from_flat(flat, faces.rest.num_kp))
        if from_rest:
            source, kp_source = rest_source, kp_rest
            source_image, source_box = faces.rest_frame, faces.track.boxes[faces.rest_index]
        else:
            source, kp_source = backend.encode_source(crop_image(frame, box, size)), faces.keypoints[j]
            source_image, source_box = frame, box
        mask = lower_face_mask(landmarks, box, size, dilation=options.mask_dilation,
                               feather=options.mask_feather)
        if not full or source_image is None:
            rendered = backend.render(source, kp_source, kp_driving)[0]
            yield paste_back(frame, rendered, box, feather=0.0, color_match=False, mask=mask)
            continue
        rendered = backend.render_with_motion(source, kp_source, kp_driving)
        yield warp_paste(frame, box, mask, source_image=source_image, source_box=source_box,
                         deformation=rendered.deformation[0], generated=rendered.frames[0],
                         source_weight=rendered.source_weight[0],
                         align_corners=backend.align_corners)


def _even(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """H.264 in yuv420p needs even sides: drop a last odd row / column."""
    for frame in frames:
        yield frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]


def dub(video_path: str | os.PathLike, audio_path: str | os.PathLike,
        output_path: str | os.PathLike, *, backend, checkpoint: AudioCheckpoint,
        options: DubOptions | None = None, analyzer: FaceAnalyzer | None = None,
        progress: bool = True, model: Mapping[str, str] | None = None,
        features_of: FeatureFunction | None = None, phones_of: PhoneFunction | None = None,
        ) -> DubResult:
    """Render `output_path` (mp4, H.264, the video's fps, the new speech as its audio). Nothing is
    written unless the whole video renders.

    Marked as synthetic like every output (see `animate`): every frame carries the watermark, also
    those passed through untouched (the file as a whole is synthetic); MP4 tags; the manifest
    `OUTPUT.reenact.json` with the inputs' sha256, `model`, the options and the run id.
    features_of, phones_of: see `speech_motion` (the defaults, or a `FeatureProcess` and its phones).
    """
    from tqdm import tqdm

    options = options or DubOptions()
    started = time.perf_counter()
    video_path, audio_path = Path(video_path), Path(audio_path)
    output_path = check_video_output(output_path, [video_path, audio_path])
    sidecar = PendingManifest(output_path, [video_path, audio_path])  # checked before any work
    clip = load_audio(audio_path, checkpoint.features.sample_rate)
    analyzer = analyzer or create_face_analyzer(options.face_backend)
    with VideoReader(video_path) as reader:
        info = reader.info
        if max(info.width, info.height) > MAX_VIDEO_SIDE:  # the output keeps the video's size
            raise media_error(video_path, f"is {info.width}x{info.height} px; dub writes the video "
                                          f"at its own size, at most {MAX_VIDEO_SIDE} px per side: "
                                          f"downscale it first")
        faces = analyze_video(lambda: iter(reader), info.fps, backend, analyzer, options,
                              str(video_path))
        if not faces.track.found.any():
            logger.warning("%s: no face in any frame; the video is kept as it is, with the new "
                           "audio", video_path)
        num_video = len(faces.track)
        num_out = output_length(num_video, num_video_frames(clip.num_samples, clip.sample_rate,
                                                            info.fps), options.length_policy)
        num_out = min(num_out, options.max_frames or num_out)
        indices = source_indices(num_video, num_out, options.length_policy)
        speech, gate = speech_motion(
            clip, checkpoint, info.fps, num_out, device=torch.device("cpu"), gate=options.voice_gate,
            activity=options.voice_activity, phones=options.phones, transcript=options.transcript,
            features_of=features_of or clip_features, phones_of=phones_of, words=options.words)
        speech = speech * np.float32(options.mouth_scale)
        if not options.voice_gate:
            gate = np.ones_like(gate)
        cached = max(1, _FRAME_CACHE_BYTES // (info.width * info.height * 3))
        frames = ordered_frames(lambda: iter(reader), indices, max_cached=cached)
        width, height = info.width // 2 * 2, info.height // 2 * 2
        provenance = Provenance.new(model=model, inputs={"video": video_path, "audio": audio_path},
                                    options=options_record(options), label=options.label)
        with MarkedVideoWriter(output_path, info.fps, width, height, audio_from=audio_path,
                         provenance=provenance, commit=False) as writer, \
                tqdm(total=num_out, unit="frame", desc="dubbing", disable=not progress) as bar:
            for frame in _even(dub_frames(frames, indices, faces, speech, backend, checkpoint,
                                          options, gate, features_of)):
                writer.write(frame)
                bar.update(1)
    manifest = sidecar.commit_with(writer.output, provenance)  # the video and manifest together
    seconds = time.perf_counter() - started
    logger.info("wrote %s: %d frames (%d with a face) at %s fps, %.1f s", output_path, num_out,
                int(faces.track.found[indices].sum()), info.fps, seconds)
    return DubResult(output=output_path, num_frames=num_out, fps=info.fps, width=width,
                     height=height, faces=int(faces.track.found[indices].sum()), seconds=seconds,
                     run_id=provenance.run_id, manifest=manifest)
