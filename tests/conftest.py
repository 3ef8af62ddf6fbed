"""Shared test settings: deterministic hypothesis profile, thread settings for BLAS."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if "PYTEST_XDIST_WORKER" in os.environ:  # one Numba thread per worker: workers fill the cores
    # set at run time, not through the NUMBA_NUM_THREADS variable: Numba re-reads its
    # configuration whenever it compiles (a cache miss, e.g. after a kernel file changed), and
    # a pool already launched with another size then raises "Cannot set NUMBA_NUM_THREADS"
    import numba

    numba.set_num_threads(1)

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "qaxai", deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("qaxai")


@pytest.fixture
def torch_single_thread():
    """torch on one thread for the test, restored after: the torch backend's many small
    matrix products stall on threads that spin while test workers share the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
