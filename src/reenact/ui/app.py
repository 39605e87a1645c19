"""The gradio page of `reenact ui`: three tabs (animate, talk, dub), each with its inputs, its main
options, a Render button, and the result: the video (playable, downloadable), its manifest, and the
provenance line (AI-generated, run id, what `reenact verify` found in the file).

Renders run one at a time (one queue for the three tabs: they share the CPU and the models), with
the pipelines' frame bars shown as the page's progress. Whatever a render raises reaches the page as
one line (`gr.Error`), never a traceback; unexpected errors are logged with theirs on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reenact.ui.handlers import (
    Models,
    Rendered,
    error_message,
    render_animate,
    render_dub,
    render_talk,
    sample_examples,
)

logger = logging.getLogger("reenact")

TITLE = "reenact"
INTRO = ("Animate a portrait, make it talk, or dub a video. Every output is marked as AI-generated: "
         "an invisible watermark in every frame, the MP4's tags and a manifest beside it; "
         "`reenact verify FILE` finds them.")
LABEL_HELP = "also draw this text in a corner of every frame (e.g. AI-generated); empty: none"
MAX_FRAMES_HELP = "render only the first N frames, for a preview (0: all)"
TRANSCRIPT_HELP = ("optional: the words said (e.g. the script); their p, b and m then shut the "
                   "lips where they are said instead of where they are heard")
# the renders share the CPU and the loaded models: one at a time, across the tabs
QUEUE = "render"


def import_gradio() -> Any:
    try:
        import gradio
    except ImportError:
        raise ImportError("reenact ui needs gradio: pip install 'reenact[ui]' (or pip install "
                          "gradio)") from None
    return gradio


def _expected_errors() -> tuple[type[BaseException], ...]:
    from reenact.preprocess.face import FaceBackendError

    return ValueError, OSError, FaceBackendError


def page_handler(gr: Any, render: Callable[..., Rendered], models: Models,
                 names: list[str]) -> Callable[..., tuple[str, list[str], str]]:
    """A gradio event function over `render`: the inputs in order (named `names` after the first
    two files), gradio's progress (tracking the pipelines' tqdm bars), errors as `gr.Error`."""

    def handle(first: str | None, second: str | None, *options: Any,
               progress: Any = gr.Progress(track_tqdm=True)) -> tuple[str, list[str], str]:
        def report(fraction: float, text: str) -> None:
            progress(fraction, desc=text)

        try:
            result = render(models, first, second, **dict(zip(names, options)), progress=report)
        except _expected_errors() as error:
            raise gr.Error(error_message(error), duration=None, print_exception=False) from None
        except Exception as error:  # noqa: BLE001 - the page gets one line, the log the traceback
            logger.exception("render failed")
            raise gr.Error(f"internal error ({type(error).__name__}): {error_message(error)}; "
                           "the server's log has the details", duration=None,
                           print_exception=False) from None
        return str(result.video), result.files, result.provenance

    return handle


def _result_column(gr: Any, tab: str) -> list[Any]:
    video = gr.Video(label="result", interactive=False, buttons=["download"],
                     elem_id=f"{tab}-result")
    provenance = gr.Markdown(elem_id=f"{tab}-provenance")
    files = gr.File(label="download: video and manifest", file_count="multiple",
                    interactive=False, elem_id=f"{tab}-files")
    return [video, files, provenance]


def _label_and_frames(gr: Any, tab: str) -> list[Any]:
    return [gr.Number(label="max frames", value=0, precision=0, minimum=0, info=MAX_FRAMES_HELP,
                      elem_id=f"{tab}-max-frames"),
            gr.Textbox(label="visible label", value="", info=LABEL_HELP, elem_id=f"{tab}-label")]


def _transcript_box(gr: Any, tab: str) -> Any:
    return gr.Textbox(label="transcript", value="", lines=2, info=TRANSCRIPT_HELP,
                      elem_id=f"{tab}-transcript")


def _render_button(gr: Any, tab: str, handler: Callable[..., Any], inputs: list[Any],
                   outputs: list[Any]) -> None:
    button = gr.Button("Render", variant="primary", elem_id=f"{tab}-render")
    button.click(handler, inputs=inputs, outputs=outputs, concurrency_id=QUEUE,
                 concurrency_limit=1)


def _animate_tab(gr: Any, models: Models, examples: list[list[str]]) -> None:
    with gr.Row():
        with gr.Column():
            source = gr.Image(label="portrait", type="filepath", format="png",
                              elem_id="animate-source")
            driving = gr.Video(label="driving video", sources=["upload"], elem_id="animate-driving")
            mode = gr.Radio(["relative", "absolute"], value="relative", label="motion",
                            info="relative: the driving motion on the portrait's pose")
            best = gr.Checkbox(label="start from the driving frame closest to the portrait's pose")
            crop = gr.Radio(["face", "none"], value="face", label="crop", elem_id="animate-crop",
                            info="face: find the faces; none: inputs are already face crops")
            render = gr.Radio(["full", "crop"], value="full", label="render",
                              info="full: warp the photo at its resolution; crop: paste the "
                                   "model-size face")
            mouth = gr.Radio(["drawn", "model"], value="drawn", label="mouth",
                             elem_id="animate-mouth",
                             info="drawn: the portrait's own mouth, opened as the driver's opens "
                                  "with teeth painted inside; model: the motion model's")
            eyes = gr.Radio(["landmarks", "lids", "model"], value="landmarks", label="eyes",
                            elem_id="animate-eyes",
                            info="landmarks: the portrait's own lids and irises follow the "
                                 "driver's blinks and gaze; lids: the blinks only; model: the "
                                 "motion model's")
            body = gr.Radio(["still", "model"], value="still", label="body",
                            elem_id="animate-body",
                            info="still: shoulders and clothes keep the portrait's pixels while "
                                 "the head moves; model: the motion model moves them too")
            extra = _label_and_frames(gr, "animate")
        with gr.Column():
            outputs = _result_column(gr, "animate")
    handler = page_handler(gr, render_animate, models,
                           ["mode", "find_best_frame", "crop", "render", "mouth", "eyes",
                            "body", "max_frames", "label"])
    _render_button(gr, "animate", handler,
                   [source, driving, mode, best, crop, render, mouth, eyes, body, *extra],
                   outputs)
    if examples:
        gr.Examples(examples, inputs=[source, driving], label="samples")


def _talk_tab(gr: Any, models: Models, examples: list[list[str]]) -> None:
    with gr.Row():
        with gr.Column():
            source = gr.Image(label="portrait", type="filepath", format="png",
                              elem_id="talk-source")
            speech = gr.File(label="speech (an audio file, or a video's sound)",
                             file_types=["audio", "video"], elem_id="talk-speech")
            crop = gr.Radio(["face", "none"], value="face", label="crop", elem_id="talk-crop")
            render = gr.Radio(["full", "crop"], value="full", label="render")
            mouth = gr.Radio(["drawn", "model"], value="drawn", label="mouth",
                             info="drawn: the portrait's own mouth, opened with teeth painted "
                                  "inside; model: the motion model's")
            scale = gr.Slider(0.0, 3.0, value=1.0, step=0.1, label="mouth motion scale")
            idle = gr.Checkbox(value=True, label="blinks and head sway")
            words = _transcript_box(gr, "talk")
            extra = _label_and_frames(gr, "talk")
        with gr.Column():
            outputs = _result_column(gr, "talk")
    handler = page_handler(gr, render_talk, models,
                           ["crop", "render", "mouth", "mouth_scale", "idle", "transcript",
                            "max_frames", "label"])
    _render_button(gr, "talk", handler,
                   [source, speech, crop, render, mouth, scale, idle, words, *extra], outputs)
    if examples:
        gr.Examples(examples, inputs=[source, speech], label="samples")


def _dub_tab(gr: Any, models: Models, examples: list[list[str]]) -> None:
    with gr.Row():
        with gr.Column():
            video = gr.Video(label="video to dub", sources=["upload"], elem_id="dub-video")
            speech = gr.File(label="new speech (an audio file, or a video's sound)",
                             file_types=["audio", "video"], elem_id="dub-speech")
            policy = gr.Radio(["pingpong", "loop", "trim", "pad"], value="pingpong",
                              label="length", info="when video and speech differ in length")
            drawn = gr.Radio(["reference", "model"], value="reference", label="mouth",
                             info="reference: the video's own open mouth, warped to the speech; "
                                  "model: rendered by the motion model")
            render = gr.Radio(["full", "crop"], value="full", label="render (model)")
            mouth = gr.Radio(["rest", "frame"], value="rest", label="mouth source (model)",
                             info="rest: from the video's closed-mouth frame; frame: each frame")
            scale = gr.Slider(0.0, 3.0, value=1.0, step=0.1, label="mouth motion scale")
            words = _transcript_box(gr, "dub")
            extra = _label_and_frames(gr, "dub")
        with gr.Column():
            outputs = _result_column(gr, "dub")
    handler = page_handler(gr, render_dub, models, ["length_policy", "mouth", "render",
                                                    "mouth_source", "mouth_scale", "transcript",
                                                    "max_frames", "label"])
    _render_button(gr, "dub", handler,
                   [video, speech, policy, drawn, render, mouth, scale, words, *extra], outputs)
    if examples:
        gr.Examples(examples, inputs=[video, speech], label="samples")


def build_app(models: Models, samples: Path | None = None) -> Any:
    """The page (a `gradio.Blocks`, not yet launched); examples from `samples` where present."""
    gr = import_gradio()
    examples = sample_examples(samples)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Tab("animate", id="animate"):
            _animate_tab(gr, models, examples["animate"])
        with gr.Tab("talk", id="talk"):
            _talk_tab(gr, models, examples["talk"])
        with gr.Tab("dub", id="dub"):
            _dub_tab(gr, models, examples["dub"])
    return app


def launch(app: Any, *, host: str, port: int, allowed: list[Path]) -> None:
    """Serve `app` on host:port until interrupted (blocks)."""
    app.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=False, inbrowser=False, show_error=True,
        allowed_paths=[str(path) for path in allowed], footer_links=[], quiet=True)
