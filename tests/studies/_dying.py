"""A task function whose worker process dies on one instance (pickled by reference, so that
a spawned Dask worker imports it from here)."""

import os
import time

from studies._tasks import run_instance

DIES = "random-n04-seed0"


def _others_settled(dask_scheduler) -> bool:
    """Whether the scheduler knows every other task's outcome (runs on the scheduler)."""
    return all(ts.state in ("memory", "erred", "released", "forgotten")
               for key, ts in dask_scheduler.tasks.items() if not str(key).startswith(DIES))


def dying_run_instance(inst, settings, threads):
    if inst.id == DIES:
        # Die only once the scheduler has heard that the other tasks finished: a worker that
        # dies right after finishing a task can take that task's "finished" message with it
        # (messages are batched), and the scheduler then counts the finished task as lost too.
        from distributed import get_client

        client = get_client()
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and not client.run_on_scheduler(_others_settled):
            time.sleep(0.05)
        os._exit(1)  # the worker process dies, as under the kernel's OOM killer
    return run_instance(inst, settings, threads)
