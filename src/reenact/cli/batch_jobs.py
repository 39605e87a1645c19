"""`reenact batch`'s job file: CSV or JSONL rows, each checked and turned into the argument list of
the `reenact animate`, `talk` or `dub` command it stands for.

A row is a mapping of fields (CSV: the header's columns, empty cells left out; JSONL: one object
per line, blank lines skipped):
- `job`: animate, talk or dub;
- the inputs: `source` + `driving` (animate), `source` + `audio` [+ `driving`] (talk), `video` +
  `audio` (dub); relative paths are read from the job file's directory;
- `output`: the video's file name (.mp4) inside OUTDIR (sub-folders allowed, no `..`, unique);
- `transcript` (talk, dub): the words said, a text file read from the job file's directory too;
- any other field is the subcommand's long option without its dashes (`crop`, `max-frames` or
  `max_frames`, `checkpoint`, ...), parsed by that subcommand's own parser; a flag (`crop-only`,
  `no-idle`) is given by true and left out by false or an empty cell.

The whole file is checked before any job runs; `JobFileError` lists every bad row, one line each,
as `FILE:LINE: what`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from reenact.cli import animate, dub, talk

INPUTS = {"animate": ("source", "driving"), "talk": ("source", "audio", "driving"),
          "dub": ("video", "audio")}
REQUIRED = {"animate": ("source", "driving"), "talk": ("source", "audio"), "dub": ("video", "audio")}
PATH_OPTIONS = frozenset({"transcript"})  # file-valued options other than the inputs
# options a job may not set: where its output goes and how the batch reports is the batch's
NOT_PER_JOB = frozenset({"o", "output", "quiet", "q", "verbose", "v", "help", "h"})


class JobFileError(ValueError):
    """Bad rows in a job file: one line per problem."""


@dataclass(frozen=True)
class Job:
    """One row: `argv` is the full argument list of its command (kind first, -o OUTDIR/output)."""

    line: int
    kind: str
    output: Path
    argv: tuple[str, ...]


class _RaisingParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting: a bad option is one row's
    error, not the end of the process."""

    def error(self, message: str):  # type: ignore[override]
        raise JobFileError(message)


def command_parser() -> argparse.ArgumentParser:
    """A parser of the three render commands only (what a job may be)."""
    parser = _RaisingParser(prog="reenact", add_help=False)
    common = argparse.ArgumentParser(add_help=False)
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (animate, talk, dub):
        module.add_parser(commands, common)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its subcommands here, with no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the command parser has no subcommands")


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, fields) of each row of a .csv or .jsonl / .ndjson file."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise JobFileError(f"{path}: job file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise JobFileError(f"{path}: cannot read the job file ({error})") from None
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        rows = []
        for record in reader:
            if None in record:
                raise JobFileError(f"{path}:{reader.line_num}: more cells than the header has "
                                   f"columns")
            fields = {key.strip(): value.strip() for key, value in record.items()
                      if key and value is not None and value.strip()}
            if fields:
                rows.append((reader.line_num, fields))
        return rows
    if suffix in (".jsonl", ".ndjson"):
        rows, errors = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except json.JSONDecodeError as error:
                errors.append(f"{path}:{number}: not JSON ({error.msg})")
                continue
            if not isinstance(fields, dict):
                errors.append(f"{path}:{number}: expected a JSON object, got {type(fields).__name__}")
                continue
            rows.append((number, {str(key): value for key, value in fields.items()
                                  if value is not None}))
        if errors:
            raise JobFileError("\n".join(errors))
        return rows
    raise JobFileError(f"{path}: expected a .csv or .jsonl job file, got {path.suffix or 'no suffix'!r}")


def _output_name(value: object) -> PurePosixPath:
    if not isinstance(value, str) or not value:
        raise JobFileError("output: expected a file name like clip.mp4")
    name = PurePosixPath(value.replace(os.sep, "/"))
    if name.is_absolute() or ".." in name.parts or Path(value).is_absolute():
        raise JobFileError(f"output: expected a name inside OUTDIR, got {value!r}")
    if name.suffix.lower() not in (".mp4", ".m4v"):
        raise JobFileError(f"output: videos are written as MP4; use a .mp4 name, got {value!r}")
    return name


def _option_argv(sub: argparse.ArgumentParser, key: str, value: object) -> list[str]:
    flag = "--" + key.replace("_", "-")
    if key.replace("-", "_") in NOT_PER_JOB or flag in ("--output",):
        raise JobFileError(f"{key}: not a per-job option")
    action = sub._option_string_actions.get(flag)  # noqa: SLF001 (argparse has no public lookup)
    if action is None:
        raise JobFileError(f"{key}: not an option of this command")
    if action.nargs == 0:  # a flag: true gives it, false leaves it out (or gives its --no- form)
        text = str(value).lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise JobFileError(f"{key}: a flag; expected true or false, got {value!r}")
        if text in ("true", "1", "yes"):
            return [flag]
        return ["--no-" + flag[2:]] if isinstance(action, argparse.BooleanOptionalAction) else []
    if isinstance(value, (dict, list)):
        raise JobFileError(f"{key}: expected a single value, got {value!r}")
    return [flag, str(value).lower() if isinstance(value, bool) else str(value)]


def _row_to_job(line: int, fields: dict[str, Any], parser: argparse.ArgumentParser,
                subparsers: dict[str, argparse.ArgumentParser], base: Path, outdir: Path) -> Job:
    kind = fields.get("job")
    if kind not in INPUTS:
        raise JobFileError(f"job: expected one of {', '.join(INPUTS)}, got {kind!r}")
    missing = [name for name in (*REQUIRED[kind], "output") if name not in fields]
    if missing:
        raise JobFileError(f"{kind}: missing {', '.join(missing)}")
    output = outdir / _output_name(fields["output"])
    argv = [kind, "-o", str(output)]
    for key, value in fields.items():
        if key in ("job", "output"):
            continue
        if key in INPUTS[kind]:
            if not isinstance(value, str) or not value:
                raise JobFileError(f"{key}: expected a file path, got {value!r}")
            argv += ["--" + key, str(base / value)]
        elif key in PATH_OPTIONS:  # read from the job file's folder, as the inputs are
            argv += _option_argv(subparsers[kind], key, str(base / str(value)))
        elif key in ("source", "driving", "audio", "video"):
            raise JobFileError(f"{key}: not an input of {kind} (it takes "
                               f"{', '.join(INPUTS[kind])})")
        else:
            argv += _option_argv(subparsers[kind], key, value)
    parser.parse_args(argv)  # every option checked by the command's own parser
    return Job(line=line, kind=kind, output=output, argv=tuple(argv))


def read_jobs(path: str | os.PathLike[str], outdir: str | os.PathLike[str]) -> list[Job]:
    """Every job of the file, checked; JobFileError listing every bad row if any is."""
    path, outdir = Path(path), Path(outdir).absolute()
    parser = command_parser()
    subparsers = _subparsers(parser)
    base = path.absolute().parent
    jobs, errors, outputs = [], [], {}
    for line, fields in read_rows(path):
        try:
            job = _row_to_job(line, fields, parser, subparsers, base, outdir)
        except JobFileError as error:
            errors.append(f"{path}:{line}: {error}")
            continue
        key = os.path.normcase(str(job.output))
        if key in outputs:
            errors.append(f"{path}:{line}: output {job.output.name} is also line {outputs[key]}'s")
            continue
        outputs[key] = line
        jobs.append(job)
    if errors:
        raise JobFileError("\n".join(errors))
    if not jobs:
        raise JobFileError(f"{path}: no jobs in the file")
    return jobs


def parse_job(job: Job) -> argparse.Namespace:
    """The command's arguments of `job`, as its handler takes them (no progress bar of its own)."""
    args = command_parser().parse_args(list(job.argv))
    args.quiet, args.verbose = True, False
    return args
