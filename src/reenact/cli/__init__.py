"""The `reenact` command. Thin: parses arguments into the library's calls; owns logging setup.

One module per subcommand, each with its `add_parser` (the flags) and its `cmd_*` (the call):

    animate.py        animate           portrait + driving video -> video
    talk.py           talk              portrait + speech -> video
    dub.py            dub               video + new speech -> dubbed video
    checkpoints.py    convert, init, info, presets
    export_onnx.py    export-onnx
    verify.py         verify
    prepare_data.py   prepare-data
    train.py          train
    train_audio.py    train-audio
    evaluate.py       evaluate
    sync_score.py     sync-score
    ui.py             ui                the web page (reenact.ui)

and around them: options.py (the option groups several subcommands share, and argument types),
backend.py (from parsed options to the backend, the audio model and the provenance record),
errors.py (`UsageError`), parser.py (`build_parser`), main.py (`main`: logging, signals, exit
codes).
"""

from reenact.cli.backend import build_backend, model_record
from reenact.cli.errors import UsageError
from reenact.cli.main import main
from reenact.cli.options import add_backend_arguments, add_model_arguments
from reenact.cli.parser import build_parser

__all__ = ["UsageError", "add_backend_arguments", "add_model_arguments", "build_backend",
           "build_parser", "main", "model_record"]
