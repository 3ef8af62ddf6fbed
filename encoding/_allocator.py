"""The C heap kept for reuse during long runs of forward passes (private).

glibc's malloc serves an allocation above its mmap threshold (dynamic, at most 32 MiB) with a
fresh ``mmap`` and returns it to the system when it is freed, and it trims the top of the heap
once more than its trim threshold lies free there. A CNN at 224 px allocates and frees
activations of several MiB per layer and batch, so both rules hand the same memory back and
forth: every batch faults its pages in again (thousands of minor faults per image), and the
kernel's share of the CPU time grows with the batch. With both thresholds raised, freed
activations stay in the heap and the next batch reuses them; the process then keeps its peak
heap until it exits.

:func:`hold_freed_memory` sets this once per process (``mallopt``), on glibc only; elsewhere it
does nothing. It is called by the long forward loops (the XAI study, training, the study's
planning), not by single explainer calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import numpy as np

__all__ = ["hold_freed_memory", "heap_threshold", "auto_batch_size"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: allocations up to this size are served from the heap once it is held (bytes)
_THRESHOLD = 1 << 30
#: glibc's own ceiling of the dynamic mmap threshold on 64-bit systems (bytes)
_GLIBC_DEFAULT = 32 << 20

_state = {"threshold": None}


def _mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 -- glibc only (musl has no mallopt thresholds)
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def hold_freed_memory() -> int:
    """Keep freed memory in the C heap for reuse (idempotent, process-wide).

    Returns
    -------
    int
        The largest allocation (bytes) served from the heap: 1 GiB where the thresholds were
        raised, glibc's default 32 MiB where they could not be, 0 off glibc.
    """
    if _state["threshold"] is None:
        mallopt = _mallopt()
        if mallopt is None:
            _state["threshold"] = 0
        elif mallopt(_M_MMAP_THRESHOLD, _THRESHOLD) == 1:
            mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)  # a C int
            _state["threshold"] = _THRESHOLD
        else:
            _state["threshold"] = _GLIBC_DEFAULT
    return _state["threshold"]


def heap_threshold() -> int:
    """What :func:`hold_freed_memory` set (bytes), or glibc's default 32 MiB before it ran."""
    return _GLIBC_DEFAULT if _state["threshold"] is None else _state["threshold"]


#: most input values per forward batch (16 MiB of float32: 27 images of 3 x 224 x 224)
_BATCH_VALUES = 1 << 22
#: activation bytes per input value that a batch may allocate at once: a batch stays within
#: the allocations the C heap serves, else every batch maps and faults its activations in again
_BYTES_PER_VALUE = 64


def auto_batch_size(images, cap: int = 4096) -> int:
    """Images per forward pass: at most ``cap``, at most 2^22 input values, and at most the
    C heap's reusable allocation size / 64 bytes per input value (2^19 values, 3 images of
    3 x 224 x 224, until :func:`hold_freed_memory` has raised it), so that the activations of
    large images neither exhaust memory nor leave the allocator's reusable range.

    ``images`` is anything with a ``shape`` ``(N, C, H, W)`` (or the shape itself).
    """
    shape = images if isinstance(images, tuple) else tuple(images.shape)
    per_image = int(np.prod(shape[1:]))
    values = min(_BATCH_VALUES, heap_threshold() // _BYTES_PER_VALUE)
    return int(max(1, min(cap, values // max(per_image, 1))))
