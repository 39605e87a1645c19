"""`reenact batch --ray`: the jobs spread over Ray actors, one per worker, each keeping the models
it loads for all the jobs it runs. Ray is an optional dependency (`pip install 'reenact[batch]'`),
imported only here.

Jobs are independent and inputs and outputs are file paths: on a cluster every node must see them
at the same paths (a shared file system) and have reenact installed.
"""

from __future__ import annotations

import logging
from types import ModuleType

from reenact.cli.batch_jobs import Job
from reenact.cli.errors import UsageError

logger = logging.getLogger("reenact")


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'reenact[batch]' (or pip install ray)") \
            from None
    return ray


class BatchWorker:
    """A Ray actor's state: models loaded on first use and kept (`reuse_models`) for its life."""

    def __init__(self, level: int) -> None:
        from reenact.cli.backend import reuse_models

        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
        self._models = reuse_models()
        self._models.__enter__()  # held until the actor exits

    def run(self, job: Job):
        from reenact.cli.batch_run import run_job

        return run_job(job)


def _start(ray: ModuleType, address: str | None, workers: int | None) -> bool:
    """Connect to (or start) Ray; True if this call started it (and should shut it down)."""
    if ray.is_initialized():
        return False
    options = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address is None:
        if workers is not None:
            options["num_cpus"] = workers
        ray.init(**options)
    else:
        try:
            ray.init(address=address, **options)
        except ConnectionError as error:
            raise UsageError(f"--ray {address}: cannot connect to the cluster ({error})") from None
    return True


def run_on_ray(jobs: list[Job], address: str | None, workers: int | None, progress: bool) -> list:
    """Run `jobs` on `workers` Ray actors (default: one per cluster CPU, at most one per job);
    results in the job file's order."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from reenact.cli.batch_run import log_result

    if workers is not None and workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {workers}")
    ray = import_ray()
    from ray.util import ActorPool

    started = _start(ray, address, workers)
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        count = min(count, len(jobs))
        logger.info("running %d jobs on %d Ray workers", len(jobs), count)
        actor = ray.remote(num_cpus=1)(BatchWorker)
        level = logger.getEffectiveLevel()
        pool = ActorPool([actor.remote(level) for _ in range(count)])
        results = []
        with logging_redirect_tqdm(), tqdm(total=len(jobs), unit="job",
                                           disable=not progress) as bar:
            for result in pool.map_unordered(lambda worker, job: worker.run.remote(job), jobs):
                results.append(log_result(result))
                bar.update(1)
    finally:
        if started:
            ray.shutdown()
    return sorted(results, key=lambda result: result.line)
