"""The web page's work, without gradio: from the uploaded files and the page's options to a
rendered video, marked as synthetic and verified.

Each `render_*` checks its inputs (a missing upload raises `UiError` naming the field), builds the
pipeline's options (their own checks raise `ValueError`), runs the pipeline on the models that
`Models` holds (loaded once by the command, reused by every render), then reads the output back
with `verify_file` so that the page shows what a viewer of the file can check. `error_message`
turns whatever a render raised into the one line the page shows.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("reenact")

# progress(fraction in [0, 1], what is happening); the pipelines' own frame bars come on top
Progress = Callable[[float, str], None]


class UiError(ValueError):
    """What the page's user asked for cannot be done; shown as one line."""


@dataclass(frozen=True)
class Models:
    """What the renders run on. The callables hand back models loaded once and kept (the command
    loads them inside `reenact.cli.backend.reuse_models`).

    backend: the motion backend (animate).
    speech: the motion backend and the audio checkpoint that drives it (talk, dub).
    record / speech_record: what the provenance record says of them.
    workdir: where outputs are written, one folder per render.
    batch_size: frames rendered at once.
    """

    backend: Callable[[], Any]
    speech: Callable[[], tuple[Any, Any]]
    record: Callable[[], Mapping[str, str]]
    speech_record: Callable[[], Mapping[str, str]]
    workdir: Path
    batch_size: int = 8


@dataclass(frozen=True)
class Rendered:
    """A render's output: the marked video, its manifest, and the provenance line to show."""

    video: Path
    manifest: Path | None
    run_id: str
    marked: bool
    provenance: str  # markdown: "AI-generated", the run id, what `reenact verify` found

    @property
    def files(self) -> list[str]:
        """What the page offers to download: the video and its manifest."""
        return [str(path) for path in (self.video, self.manifest) if path is not None]


def error_message(error: BaseException) -> str:
    """The one line the page shows for `error` (its first line; its type if it has no text)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _required(path: str | None, field: str) -> Path:
    if not path:
        raise UiError(f"{field}: upload a file first")
    return Path(path)


def _frames(max_frames: float | None) -> int | None:
    """The page's "max frames" (0 or empty: all) as the pipelines' `max_frames`."""
    if max_frames is None or max_frames == 0:
        return None
    if max_frames < 0 or max_frames != int(max_frames):
        raise UiError(f"max frames: expected a whole number >= 0 (0: all), got {max_frames:g}")
    return int(max_frames)


def _label(text: str | None) -> str | None:
    return text.strip() or None if text else None


def _output(models: Models, name: Path, kind: str) -> Path:
    models.workdir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=models.workdir))
    return folder / f"{name.stem}-{kind}.mp4"


def _no_progress(fraction: float, text: str) -> None:
    pass


def provenance_line(run_id: str, verification: Any) -> str:
    """Markdown: the output is AI-generated, its run id, and what verifying the file found."""
    if verification.marked:
        payload = verification.detection.payload
        found = (f"watermark found (run {payload.short_run_id}, false-alarm probability "
                 f"< {verification.detection.false_alarm:.0e})")
    else:
        found = "NO watermark found"
    manifest = ("manifest matches the file" if verification.output_matches
                else "no matching manifest")
    return (f"**AI-generated** by reenact · run `{run_id}` · `reenact verify`: {found}; "
            f"{manifest}")


def _finish(result: Any, progress: Progress) -> Rendered:
    from reenact.provenance.verify import verify_file

    progress(0.95, "verifying the watermark")
    verification = verify_file(result.output)
    if not verification.marked:  # every writer marks: this would be a bug, and the page says so
        logger.error("%s: the watermark was not found in the output", result.output)
    return Rendered(video=result.output, manifest=result.manifest, run_id=result.run_id,
                    marked=verification.marked,
                    provenance=provenance_line(result.run_id, verification))


def render_animate(models: Models, source: str | None, driving: str | None, *,
                   mode: str = "relative", find_best_frame: bool = False, crop: str = "face",
                   render: str = "full", mouth: str = "drawn", eyes: str = "landmarks",
                   body: str = "still", max_frames: float | None = None,
                   label: str | None = None, progress: Progress = _no_progress) -> Rendered:
    """The animate tab: `source` (a portrait) moved by `driving` (a video)."""
    from reenact.pipelines.animate import animate
    from reenact.pipelines.animate_options import AnimateOptions

    source_path, driving_path = _required(source, "portrait"), _required(driving, "driving video")
    options = AnimateOptions(relative=mode == "relative", find_best_frame=find_best_frame,
                             crop=crop, render=render, mouth=mouth, eyes=eyes, body=body,
                             batch_size=models.batch_size, max_frames=_frames(max_frames),
                             label=_label(label))
    progress(0.0, "loading the model")
    backend = models.backend()
    result = animate(source_path, driving_path, _output(models, source_path, "animate"),
                     backend=backend, options=options, model=models.record())
    return _finish(result, progress)


def render_talk(models: Models, source: str | None, audio: str | None, *, crop: str = "face",
                render: str = "full", mouth: str = "drawn", mouth_scale: float = 1.0,
                idle: bool = True, transcript: str | None = None,
                max_frames: float | None = None, label: str | None = None,
                progress: Progress = _no_progress) -> Rendered:
    """The talk tab: `source` (a portrait) speaking `audio` (any audio file, or a video's sound)."""
    from reenact.pipelines.talk import TalkOptions, talk

    source_path, audio_path = _required(source, "portrait"), _required(audio, "speech")
    options = TalkOptions(crop=crop, render=render, mouth=mouth, mouth_scale=mouth_scale,
                          idle=idle, batch_size=models.batch_size, max_frames=_frames(max_frames),
                          label=_label(label), transcript=_label(transcript))
    progress(0.0, "loading the models")
    backend, checkpoint = models.speech()
    result = talk(source_path, audio_path, _output(models, source_path, "talk"), backend=backend,
                  checkpoint=checkpoint, options=options, model=models.speech_record())
    return _finish(result, progress)


def render_dub(models: Models, video: str | None, audio: str | None, *,
               length_policy: str = "pingpong", mouth: str = "reference", render: str = "full",
               mouth_source: str = "rest", mouth_scale: float = 1.0, transcript: str | None = None,
               max_frames: float | None = None, label: str | None = None,
               progress: Progress = _no_progress) -> Rendered:
    """The dub tab: `video`'s lips made to follow `audio`."""
    from reenact.pipelines.dub import DubOptions, dub

    video_path, audio_path = _required(video, "video"), _required(audio, "speech")
    options = DubOptions(length_policy=length_policy, mouth=mouth, render=render,
                         mouth_source=mouth_source,
                         mouth_scale=mouth_scale, batch_size=models.batch_size,
                         max_frames=_frames(max_frames), label=_label(label),
                         transcript=_label(transcript))
    progress(0.0, "loading the models")
    backend, checkpoint = models.speech()
    result = dub(video_path, audio_path, _output(models, video_path, "dub"), backend=backend,
                 checkpoint=checkpoint, options=options, model=models.speech_record())
    return _finish(result, progress)


def sample_examples(samples: Path | None) -> dict[str, list[list[str]]]:
    """Per tab, the examples the README's samples give (only those whose files exist):
    animate and talk: samples/astronaut.png (written by samples/make_samples.py) with
    samples/interview.mp4 as driving video / speech; dub: interview.mp4 with its own speech."""
    if samples is None:
        return {"animate": [], "talk": [], "dub": []}
    portrait, interview = samples / "astronaut.png", samples / "interview.mp4"
    both = [[str(portrait), str(interview)]] if portrait.is_file() and interview.is_file() else []
    dub = [[str(interview), str(interview)]] if interview.is_file() else []
    return {"animate": both, "talk": both, "dub": dub}
