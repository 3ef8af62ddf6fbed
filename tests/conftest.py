"""Shared test settings: deterministic hypothesis profile, thread settings for BLAS."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if "PYTEST_XDIST_WORKER" in os.environ:  # one Numba thread per worker: workers fill the cores
    # set at run time, not through the NUMBA_NUM_THREADS variable: Numba re-reads its
    # configuration whenever it compiles (a cache miss, e.g. after a kernel file changed), and
    # a pool already launched with another size then raises "Cannot set NUMBA_NUM_THREADS"
    import numba
    import torch

    numba.set_num_threads(1)
    torch.set_num_threads(1)  # torch's spinning threads stall when workers share the cores

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "qaxai", deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("qaxai")
