"""The memory guard: estimate before allocating, refuse with a clear error (private)."""

from __future__ import annotations

import os

from .exceptions import MemoryGuardError


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable on Linux, else psutil)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil ships with dask.distributed
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def check_memory(required_bytes: float, *, n: int, what: str, memory_limit=None) -> None:
    """Raise :class:`MemoryGuardError` if ``required_bytes`` exceeds the limit.

    Parameters
    ----------
    required_bytes : float
        Estimated bytes the computation will allocate.
    n : int
        Number of qubits (for the message).
    what : str
        What is being allocated, e.g. ``"the dense eigensolver"``.
    memory_limit : float or None
        Bytes allowed; ``None`` means 90 % of the memory available now; ``float("inf")``
        disables the guard.
    """
    limit = 0.9 * available_memory() if memory_limit is None else float(memory_limit)
    if required_bytes > limit:
        raise MemoryGuardError(n, int(required_bytes), int(limit), what)
