"""The audio front end of the talking-head branch: log-mel features aligned to video frames, voice
activity, and the lip-sync scorer.

    audio file -> reenact.io.audio.load_audio -> AudioClip (mono float32, the model's rate)
               -> features.log_mel (chunked STFT) -> FrameWindows (one mel window per video frame,
                  built lazily per batch) -> models.audio_to_motion

Submodules are imported explicitly (`reenact.audio.features`, `reenact.audio.sync`) so that
importing this package loads nothing heavy.
"""
