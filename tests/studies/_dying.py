"""A task function whose worker process dies on one instance (pickled by reference, so that
a spawned Dask worker imports it from here)."""

import os

from studies._tasks import run_instance

DIES = "random-n04-seed0"


def dying_run_instance(inst, settings, threads):
    if inst.id == DIES:
        os._exit(1)  # the worker process dies, as under the kernel's OOM killer
    return run_instance(inst, settings, threads)
