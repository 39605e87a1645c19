"""`reenact ui`: the web page over animate, talk and dub (`reenact.ui`), served by gradio.

The motion model is loaded once, before the server starts (a bad --checkpoint fails here, not in the
page), and every render reuses it; the audio model is loaded by the first talk or dub and kept.
Binds to 127.0.0.1 (this machine only) unless --share-lan binds 0.0.0.0.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from reenact.cli.backend import (
    backend_and_audio_model,
    build_backend,
    model_record,
    reuse_models,
    set_threads,
    speech_model_record,
)
from reenact.cli.errors import UsageError
from reenact.cli.options import add_backend_arguments, add_model_arguments

logger = logging.getLogger("reenact")

LOCAL_HOST, LAN_HOST = "127.0.0.1", "0.0.0.0"
DEFAULT_PORT = 7860


def default_samples() -> Path | None:
    """The checkout's samples/ folder (the README's sample inputs), if reenact runs from one."""
    import reenact

    folder = Path(reenact.__file__).resolve().parents[2] / "samples"
    return folder if folder.is_dir() else None


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}")
    return port


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        from reenact.ui.app import build_app, import_gradio, launch
        import_gradio()
    except ImportError as error:
        raise UsageError(str(error)) from None
    from reenact.ui.handlers import Models

    set_threads(args)
    samples = Path(args.samples) if args.samples else default_samples()
    if samples is not None and not samples.is_dir():
        raise UsageError(f"--samples: {samples} is not a folder")
    host = LAN_HOST if args.share_lan else LOCAL_HOST
    with reuse_models(), tempfile.TemporaryDirectory(prefix="reenact-ui-") as workdir:
        build_backend(args)  # loaded once, now: every render reuses it
        models = Models(backend=lambda: build_backend(args),
                        speech=lambda: backend_and_audio_model(args),
                        record=lambda: model_record(args),
                        speech_record=lambda: speech_model_record(args),
                        workdir=Path(workdir), batch_size=args.batch_size)
        app = build_app(models, samples)
        where = "on your LAN at this machine's address" if args.share_lan else "on this machine"
        logger.info("reenact ui: http://%s:%d (%s; Ctrl-C stops it)",
                    "localhost" if host == LOCAL_HOST else host, args.port, where)
        launch(app, host=host, port=args.port,
               allowed=[Path(workdir), *([samples] if samples is not None else [])])
    return 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    ui = commands.add_parser("ui", parents=[common],
                             help="a web page for animate, talk and dub (needs reenact[ui])",
                             description="Serve a web page (gradio) with three tabs: animate, "
                                         "talk and dub. Needs gradio: pip install 'reenact[ui]'.")
    ui.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                    help=f"the port to serve on (default {DEFAULT_PORT})")
    ui.add_argument("--share-lan", action="store_true",
                    help=f"bind {LAN_HOST}: other machines on your network can open the page "
                         f"(default {LOCAL_HOST}, this machine only); there is no login")
    ui.add_argument("--audio-checkpoint", default="default",
                    help="'default' (bundled) or an audio checkpoint directory, for talk and dub")
    ui.add_argument("--samples", metavar="DIR",
                    help="the folder of the page's examples (default: the checkout's samples/)")
    add_model_arguments(ui)
    add_backend_arguments(ui)
    ui.set_defaults(handler=cmd_ui)
