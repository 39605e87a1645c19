"""Running `reenact batch`'s jobs in this process (and, one at a time, in each Ray worker):
one job through its command's handler, the models kept across jobs, results logged."""

from __future__ import annotations

import logging

from reenact.cli.batch_jobs import Job, parse_job

logger = logging.getLogger("reenact")


def run_job(job: Job):
    """Run one job here (skipped if complete; a failure is a result, not an exception)."""
    from reenact.pipelines.batch import run_guarded

    def render() -> None:
        args = parse_job(job)
        args.handler(args)

    return run_guarded(job.line, job.kind, job.output, render)


def run_here(jobs: list[Job], progress: bool) -> list:
    """The jobs one after another in this process, the models loaded once."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from reenact.cli.backend import reuse_models

    results = []
    with reuse_models(), logging_redirect_tqdm(), tqdm(total=len(jobs), unit="job",
                                                       disable=not progress) as bar:
        for job in jobs:
            bar.set_postfix_str(job.output.name)
            results.append(log_result(run_job(job)))
            bar.update(1)
    return results


def log_result(result):
    if result.status == "failed":
        logger.warning("job on line %d failed: %s", result.line, result.error)
    else:
        logger.info("job on line %d %s: %s (%.1f s)", result.line, result.status, result.output,
                    result.seconds)
    return result
