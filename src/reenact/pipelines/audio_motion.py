"""Speech -> per-frame keypoint motion, shared by `talk` and `dub`.

    AudioClip -> level-normalized log-mel (chunked) -> FrameWindows at the audio model's fps
      -> AudioToMotion in chunks carrying its GRU state -> (T_model, K * 6) motion
      -> linear interpolation to the output video's frame times -> x voice gate
      -> x the loudness factor where asked (`loudness_factor`: louder speech opens wider)
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
# louder speech opens the mouth wider: the motion x (1 + LOUDNESS_GAIN x (the frame's level - the
# speech's median level) / 10 dB), within LOUDNESS_RANGE (`loudness_factor`)
LOUDNESS_GAIN = 0.3
LOUDNESS_RANGE = (0.5, 1.5)
LOUDNESS_FLOOR_DB = 20.0  # levels read no lower than this under the speech's median

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
                  words: bool = False,
                  loudness_gain: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
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
    `words`). loudness_gain: `loudness_factor`'s (talk: `LOUDNESS_GAIN`; 0, dub's: the model's
    motion as it is).
    """
    fps = check_fps(fps)
    motion = resample_frames(model_motion(clip, checkpoint, device=device, features_of=features_of),
                             checkpoint.fps, fps, num_frames)
    level = frame_energy_db(clip, fps, num_frames)
    voice = voice_gate(level, activity).astype(np.float32)
    if gate:
        motion = motion * voice[:, None]
    motion = motion * loudness_factor(level, voice, loudness_gain)[:, None]
    if phones:
        motion = motion * phone_factor(clip, fps, num_frames, transcript, phones_of,
                                       words)[:, None]
    return motion.astype(np.float32), voice


def loudness_factor(level_db: np.ndarray, voice: np.ndarray,
                    gain: float = LOUDNESS_GAIN) -> np.ndarray:
    """(T,) float32: what each frame's speech motion is multiplied by for its loudness: 1 + gain x
    (its level - the median level of the speech frames) / 10 dB, clipped to `LOUDNESS_RANGE`;
    level_db: (T,) per-frame levels (dBFS), floored `LOUDNESS_FLOOR_DB` under that median and
    low-passed by [1/4, 1/2, 1/4] here; voice: (T,) the voice gate, whose frames over 0.5 are the
    speech. All 1 without speech or with gain 0.

    Why: louder speech is said with the jaw further open (open vowels are louder, stress raises
    both), and the audio model under-expressed it. On dev speech (GRID, presenters;
    docs/talk-and-dub.md) talk's r of the lip gap with loudness inside speech was 0.44-0.57x the
    real videos'; with gain 0.3 it came to 0.85-1.10x, and the mouth followed the real mouth of
    the same speech more closely (r +0.58 -> +0.63, +0.59 -> +0.69); gain 0.6 overshot (1.49x
    the real video's on presenters, teeth shown less). dub keeps the model's motion: its r was
    already 1.04-1.13x held out, and on dev it gained little for fewer teeth."""
    level = np.asarray(level_db, np.float64)
    voice = np.asarray(voice, np.float64)
    if level.shape != voice.shape or level.ndim != 1:
        raise ValueError(f"level_db, voice: expected two (T,) arrays, got {level.shape} and "
                         f"{voice.shape}")
    speech = voice > 0.5
    if not gain or not speech.any():
        return np.ones(level.shape, np.float32)
    middle = float(np.median(level[speech]))
    level = np.maximum(level, middle - LOUDNESS_FLOOR_DB)  # a silent neighbour drags no further
    smooth = np.convolve(np.pad(level, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    low, high = LOUDNESS_RANGE
    return np.clip(1 + gain * (smooth - middle) / 10, low, high).astype(np.float32)


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
