"""Keep BLAS single-threaded while the Numba kernels run in parallel (private).

BLAS threads started beside Numba's OpenMP workers compete with them for the same cores, and
a gap search then runs several times slower.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def single_threaded_blas():
    """Limit every loaded BLAS to one thread inside the block (restored afterwards)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield


def blas_single_threaded(func):
    """Decorator form of :func:`single_threaded_blas`."""
    from functools import wraps

    @wraps(func)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return func(*args, **kwargs)

    return wrapper
