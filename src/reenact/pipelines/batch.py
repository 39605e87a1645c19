"""Running many render jobs: what counts as done (resume), one job's result, the summary table
and the JSON report.

A job's output is complete when its video and its manifest sidecar (`OUT.mp4.reenact.json`) both
exist and the manifest's sha256 is the video's: the render pipelines commit the two together, so
an interrupted job leaves neither and runs again. An output that exists but is not complete was
not written by reenact (or was edited since): the job fails rather than overwrite it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from reenact.io.atomic import atomic_output
from reenact.provenance.manifest import ManifestError, manifest_path, output_matches, read_manifest

logger = logging.getLogger(__name__)

REPORT_FORMAT = "reenact-batch-report"
REPORT_VERSION = 1
STATUSES = ("done", "skipped", "failed")


@dataclass(frozen=True)
class JobResult:
    """status: done (rendered now), skipped (complete from an earlier run) or failed;
    seconds: wall time of this run's attempt; error: one line, for a failed job."""

    line: int
    kind: str
    output: str
    status: str
    seconds: float
    error: str | None = None


def output_state(output: str | os.PathLike[str]) -> str:
    """'complete' (video + matching manifest), 'absent' (no video; at most a reenact manifest,
    which the next render replaces) or 'foreign' (a video without its manifest, a manifest that
    is not reenact's, or a video edited since: not ours to replace)."""
    output = Path(output)
    if not output.exists() and not manifest_path(output).exists():
        return "absent"
    try:
        manifest = read_manifest(output)
    except ManifestError:
        return "foreign"
    if manifest is not None and not output.exists():
        return "absent"
    if manifest is not None and output.is_file() and output_matches(output, manifest):
        return "complete"
    return "foreign"


def run_guarded(line: int, kind: str, output: str | os.PathLike[str],
                render: Callable[[], object]) -> JobResult:
    """Run one job's `render` unless its output is complete; any exception (not Ctrl-C) becomes a
    failed result with the error's one-line message."""
    started = time.perf_counter()

    def result(status: str, error: str | None = None) -> JobResult:
        return JobResult(line=line, kind=kind, output=str(output), status=status,
                         seconds=round(time.perf_counter() - started, 3), error=error)

    state = output_state(output)
    if state == "complete":
        return result("skipped")
    if state == "foreign":
        return result("failed", f"{output}: exists and is not a complete reenact output (no "
                                f"matching manifest); remove it or choose another output name")
    try:
        render()
    except Exception as error:  # noqa: BLE001 (one failing job must not stop the others)
        message = " ".join(str(error).split()) or type(error).__name__
        logger.debug("job on line %d failed", line, exc_info=True)
        return result("failed", message)
    return result("done")


def summary_table(results: Sequence[JobResult]) -> str:
    """A fixed-width table: line, job, status, seconds, output (and the error of failed jobs)."""
    rows = [("line", "job", "status", "seconds", "output")]
    rows += [(str(r.line), r.kind, r.status, f"{r.seconds:.1f}",
              Path(r.output).name + (f"  ({r.error})" if r.error else "")) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4]
             for row in rows]
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    lines.append(", ".join(f"{count} {status}" for status, count in counts.items()))
    return "\n".join(lines)


def check_report_path(path: str | os.PathLike[str]) -> Path:
    """`path`, if it is free or holds an earlier batch report (replaced by this run's); else
    ValueError: never overwrite a file reenact did not write."""
    path = Path(path)
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            previous = None
        if not isinstance(previous, dict) or previous.get("format") != REPORT_FORMAT:
            raise ValueError(f"{path}: exists and is not a reenact batch report; remove it or "
                             f"pass --report another name")
    return path


def write_report(path: str | os.PathLike[str], jobs_file: str | os.PathLike[str],
                 results: Sequence[JobResult], *, runner: str, seconds: float) -> Path:
    """The JSON report, written atomically: the batch's totals and one entry per job."""
    report = {"format": REPORT_FORMAT, "version": REPORT_VERSION, "jobs_file": str(jobs_file),
              "runner": runner, "seconds": round(seconds, 3),
              "counts": {status: sum(r.status == status for r in results) for status in STATUSES},
              "jobs": [asdict(r) for r in results]}
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return Path(path)
