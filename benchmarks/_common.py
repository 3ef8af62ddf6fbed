"""What every benchmark shares: the machine's description, its memory bandwidth measured in
the same run (a parallel triad), paired timing against that bound, and the JSON result file
that ``benchmarks/report.py`` renders into docs/performance.md.

A result file ``benchmarks/results/<name>.json`` holds::

    {"benchmark": name, "title": ..., "what": ..., "baseline": ..., "command": ...,
     "date": "YYYY-MM-DD", "machine": {"cpu", "cores", "threads", "python", "bandwidth_GBps"},
     "columns": [[key, heading], ...], "rows": [{key: value, ...}, ...], "notes": [...]}
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

RESULTS = Path(__file__).resolve().parent / "results"


@njit(parallel=True, cache=True)
def _triad(a, b, c, x):
    for i in prange(a.shape[0]):
        a[i] = b[i] + x * c[i]


class Triad:
    """A parallel triad ``a = b + x c`` on 3 arrays of 256 MiB: the machine's memory bandwidth."""

    def __init__(self, n_doubles: int = 1 << 25) -> None:
        self.a = np.empty(n_doubles)
        self.b, self.c = np.random.rand(n_doubles), np.random.rand(n_doubles)
        _triad(self.a, self.b, self.c, 0.5)  # compile and touch the pages

    def bandwidth(self) -> float:
        """Bytes per second of one triad (3 x 8 bytes per element: read b, c, write a)."""
        t = time.perf_counter()
        _triad(self.a, self.b, self.c, 0.5)
        return 3 * 8 * self.a.size / (time.perf_counter() - t)

    def best(self, repeats: int = 5) -> float:
        return max(self.bandwidth() for _ in range(repeats))


def time_against_triad(calls: dict, triad: Triad, dim: int,
                       pairs: int = 9) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Time each call against the bandwidth bound of a vector of ``dim`` doubles, in pairs.

    The bound is the time to move 3 x 8 x dim bytes (read v, read diag, write out) at the
    bandwidth of a triad run just before each timed call; one untimed call comes between
    them, so that vectors that fit in the caches are timed warm, as in an eigensolver. On a
    shared machine the bandwidth moves within minutes, so alternating keeps both under the
    same load. ``calls`` maps names to callables without arguments, taken in turn in each of
    the ``pairs`` rounds. Returns, per name, the seconds of its timed calls and the bound of
    each (seconds).
    """
    for fn in calls.values():
        fn()  # compile and warm
    times = {name: [] for name in calls}
    bounds = {name: [] for name in calls}
    for _ in range(pairs):
        for name, fn in calls.items():
            bounds[name].append(3 * 8 * dim / triad.bandwidth())
            fn()  # untimed: the triad left the caches cold and the threads idle
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: (np.array(times[name]), np.array(bounds[name])) for name in calls}


def machine(bandwidth: float | None = None) -> dict:
    """The machine: CPU model, cores, Numba threads, Python; the triad bandwidth if given."""
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"cpu": cpu, "cores": os.cpu_count(), "threads": numba.get_num_threads(),
           "python": platform.python_version()}
    if bandwidth is not None:
        out["bandwidth_GBps"] = round(bandwidth / 1e9, 1)
    return out


def write_result(name: str, *, title: str, what: str, baseline: str, columns, rows,
                 notes=(), bandwidth: float | None = None, path: str | None = None,
                 arguments=None) -> Path:
    """Write ``benchmarks/results/<name>.json`` (or ``path``) and return its path; the
    command recorded is this script with ``arguments`` (default: its command line's)."""
    out = Path(path) if path else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "title": title, "what": what, "baseline": baseline,
            "command": "python " + " ".join(["benchmarks/" + Path(sys.argv[0]).name,
                                             *(sys.argv[1:] if arguments is None
                                               else arguments)]),
            "date": time.strftime("%Y-%m-%d"), "machine": machine(bandwidth),
            "columns": [list(c) for c in columns], "rows": rows, "notes": list(notes)}
    out.write_text(json.dumps(data, indent=1, default=_plain) + "\n")
    print(f"# result written to {out}")
    return out


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON: {type(x).__name__}")
