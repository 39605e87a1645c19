"""Speech -> per-frame keypoint motion, shared by `talk` and `dub`.

    AudioClip -> level-normalized log-mel (chunked) -> FrameWindows at the audio model's fps
      -> AudioToMotion in chunks carrying its GRU state -> (T_model, K * 6) motion
      -> linear interpolation to the output video's frame times -> x voice gate
      -> x the phones' mouth factor where asked (`reenact.audio.phones`: the phone's typical
         opening, 0 on p, b, m)
      -> (T_out, K * 6)

Only the log-mel and the flat motion (6 numbers per keypoint and frame: 2.4 KB a second for 10
keypoints at 25 fps) are held for the whole clip; windows exist one chunk at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import torch

from reenact.audio.activity import VoiceActivityConfig, voice_gate
from reenact.audio.features import (
    AudioFeatureConfig,
    FrameWindows,
    check_fps,
    clip_features,
    frame_energy_db,
    num_video_frames,
)
from reenact.checkpoint.audio_format import AudioCheckpoint
from reenact.io.audio import AudioClip

logger = logging.getLogger(__name__)

CHUNK_FRAMES = 250  # video frames of windows per model call: 10 s at 25 fps, ~1.4 MB

# clip -> its log-mel: `clip_features`, or a `reenact.audio.feature_process.FeatureProcess`
FeatureFunction = Callable[[AudioClip, AudioFeatureConfig], np.ndarray]
# 16 kHz clip -> its phones: `reenact.audio.recognition.speech_phones`, or a `FeatureProcess`'s
PhoneFunction = Callable[[AudioClip], list]


def resample_frames(values: np.ndarray, fps_in: Fraction, fps_out: Fraction,
                    num_out: int) -> np.ndarray:
    """(T_in, D) per-frame values at fps_in -> (num_out, D) at fps_out, linear between frame times
    ((i + 0.5) / fps), held constant past either end."""
    if values.shape[0] == 0:
        raise ValueError("values: expected at least one frame")
    if fps_in == fps_out and values.shape[0] >= num_out:
        return values[:num_out]
    times = (np.arange(num_out) + 0.5) * float(fps_in / fps_out) - 0.5  # in input frame units
    times = np.clip(times, 0, values.shape[0] - 1)
    low = np.floor(times).astype(np.int64)
    high = np.minimum(low + 1, values.shape[0] - 1)
    weight = (times - low)[:, None]
    return ((1 - weight) * values[low] + weight * values[high]).astype(values.dtype)


@torch.inference_mode()
def model_motion(clip: AudioClip, checkpoint: AudioCheckpoint, *, device: torch.device,
                 chunk_frames: int = CHUNK_FRAMES,
                 features_of: FeatureFunction = clip_features) -> np.ndarray:
    """(T, K * 6) float32 flat motion at the checkpoint's fps, T = frames covering the clip. A
    model with lookahead L runs L frames (of silence) past the end and its first L outputs are
    dropped (`reenact.models.audio_to_motion`)."""
    features = checkpoint.features
    mel = features_of(clip, features)
    count = num_video_frames(clip.num_samples, clip.sample_rate, checkpoint.fps)
    model = checkpoint.model.to(device).eval()
    lookahead = model.config.lookahead
    windows = FrameWindows(mel, checkpoint.fps, features, count + lookahead)
    state = None
    chunks = []
    for _, batch in windows.iter_batches(chunk_frames):
        flat, state = model.forward_flat(torch.from_numpy(batch)[None].to(device), state)
        chunks.append(flat[0].float().cpu().numpy())
    return np.concatenate(chunks, axis=0)[lookahead:]


def speech_motion(clip: AudioClip, checkpoint: AudioCheckpoint, fps: Fraction, num_frames: int, *,
                  device: torch.device, gate: bool = True,
                  activity: VoiceActivityConfig | None = None,
                  features_of: FeatureFunction = clip_features,
                  phones: bool = False, transcript: str | None = None,
                  phones_of: PhoneFunction | None = None,
                  words: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The audio's motion for `num_frames` output frames at `fps`, and the voice gate.

    Returns (motion (num_frames, K * 6) float32, gate (num_frames,) float32 in [0, 1]); with
    gate=True the motion is already multiplied by the gate (no motion in silence). Frames past the
    end of the clip are silent. phones=True: the motion is also scaled by the phones' mouth factor
    (`phone_factor`): to rest (the mouth shut) on p, b and m, less on rounded phones, more on open
    vowels. transcript: the words said (with phones=True): the phones are aligned to them instead
    of heard (`reenact.audio.transcript`; TranscriptError where they do not fit the speech).
    words: without a transcript, the phones are aligned to the words recognised in the speech
    where it is English heard clearly, else heard (`reenact.audio.recognition.speech_phones`).
    phones_of: what finds those phones instead (a `FeatureProcess`'s `phones`, made with the same
    `words`).
    """
    fps = check_fps(fps)
    motion = resample_frames(model_motion(clip, checkpoint, device=device, features_of=features_of),
                             checkpoint.fps, fps, num_frames)
    voice = voice_gate(frame_energy_db(clip, fps, num_frames), activity).astype(np.float32)
    if gate:
        motion = motion * voice[:, None]
    if phones:
        motion = motion * phone_factor(clip, fps, num_frames, transcript, phones_of,
                                       words)[:, None]
    return motion.astype(np.float32), voice


_warned_no_phones = False


def phone_factor(clip: AudioClip, fps: Fraction, num_frames: int,
                 transcript: str | None = None, phones_of: PhoneFunction | None = None,
                 words: bool = False) -> np.ndarray:
    """(num_frames,) float32 >= 0: the factor the clip's phones put on its mouth motion
    (`reenact.audio.phones.PhoneCues.mouth_factor`, the clip resampled to the decoder's rate): the
    phones heard, or those of `transcript` aligned to the speech; all 1, with one warning per
    process, where the phone decoder cannot be imported. phones_of, words: as `speech_motion`'s
    (`reenact.audio.recognition.speech_phones` where no phones_of is given)."""
    global _warned_no_phones
    from reenact.audio.phones import DECODER_RATE, PhonesUnavailable, segment_cues
    from reenact.audio.recognition import speech_phones
    from reenact.audio.transcript import aligned_phones
    from reenact.io.audio import resample

    if clip.sample_rate != DECODER_RATE:
        clip = AudioClip(resample(clip.samples, clip.sample_rate, DECODER_RATE), DECODER_RATE)
    try:
        if transcript is not None:
            phones = aligned_phones(clip, transcript)
        else:
            phones = phones_of(clip) if phones_of is not None else speech_phones(clip, words)
        return segment_cues(phones, fps, num_frames).mouth_factor
    except PhonesUnavailable as error:
        if not _warned_no_phones:
            logger.warning("the mouth follows loudness alone (no lips shut on p, b and m): %s",
                           error)
            _warned_no_phones = True
        return np.ones(num_frames, np.float32)
