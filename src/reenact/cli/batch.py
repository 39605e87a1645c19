"""`reenact batch JOBS -o OUTDIR`: many animate / talk / dub jobs from a CSV or JSONL file, here or
on a Ray cluster.

- The job file is checked whole before anything runs (`reenact.cli.batch_jobs`): any bad row
  (unknown job, missing input field, bad option, output name outside OUTDIR or repeated) is
  reported as `FILE:LINE: what`, one line each, and the batch exits 2 having rendered nothing.
- What only running can tell (a missing or corrupt input, no face) fails that job alone; the others
  run. Exit 0 when every job is done or skipped, 1 when any failed.
- Resume: a job whose video and manifest are complete in OUTDIR is skipped (run the same command
  again after an interruption or a fix).
- Models are loaded once per process (once per Ray worker) per checkpoint and reused across jobs.
- At the end: a summary table on stdout and a JSON report (OUTDIR/batch-report.json, or --report).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from reenact.cli.batch_jobs import JobFileError, read_jobs
from reenact.cli.errors import UsageError

logger = logging.getLogger("reenact")

LOCAL_RAY = "local"  # `--ray` without an address: a Ray started on this machine
REPORT_NAME = "batch-report.json"


def cmd_batch(args: argparse.Namespace) -> int:
    from reenact.pipelines.batch import check_report_path, summary_table, write_report

    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{outdir}: exists and is not a directory (-o is the output folder)")
    try:
        jobs = read_jobs(args.jobs, outdir)
    except JobFileError as error:
        raise UsageError(str(error)) from None
    if args.report is not None and not Path(args.report).absolute().parent.is_dir():
        raise UsageError(f"--report {args.report}: its folder does not exist")
    report = check_report_path(args.report or outdir / REPORT_NAME)
    if args.workers is not None and args.ray is None:
        raise UsageError("--workers applies to --ray")
    for job in jobs:  # OUTDIR and the outputs' sub-folders
        job.output.parent.mkdir(parents=True, exist_ok=True)
    logger.info("%d jobs from %s", len(jobs), args.jobs)
    started = time.perf_counter()
    if args.ray is None:
        from reenact.cli.batch_run import run_here

        results, runner = run_here(jobs, progress=not args.quiet), "local"
    else:
        from reenact.cli.batch_ray import run_on_ray

        address = None if args.ray == LOCAL_RAY else args.ray
        results = run_on_ray(jobs, address, args.workers, progress=not args.quiet)
        runner = f"ray ({address or 'local'})"
    path = write_report(report, args.jobs, results, runner=runner,
                        seconds=time.perf_counter() - started)
    sys.stdout.write(summary_table(results) + "\n")
    logger.info("report: %s", path)
    return 1 if any(result.status == "failed" for result in results) else 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    batch = commands.add_parser(
        "batch", parents=[common], help="run many animate / talk / dub jobs (CSV or JSONL)",
        description="Run the animate / talk / dub jobs of a CSV or JSONL file into OUTDIR; jobs "
                    "already complete there are skipped. Fields: job, the inputs (source, "
                    "driving, audio, video), output, and any option of the job's command "
                    "without its dashes (crop, max-frames, checkpoint, ...).")
    batch.add_argument("jobs", metavar="JOBS", help="the job file (.csv or .jsonl)")
    batch.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                       help="the folder the jobs' outputs are written to (created if missing)")
    batch.add_argument("--report", metavar="PATH",
                       help=f"the JSON report (default OUTDIR/{REPORT_NAME})")
    batch.add_argument("--ray", nargs="?", const=LOCAL_RAY, metavar="ADDRESS",
                       help="run the jobs on a Ray cluster (pip install 'reenact[batch]'): no "
                            "ADDRESS starts Ray on this machine; ADDRESS (e.g. auto, "
                            "ray://head:10001) joins a running cluster")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="Ray workers, each loading the model once (default: one per CPU of "
                            "the cluster, at most one per job)")
    batch.set_defaults(handler=cmd_batch)
