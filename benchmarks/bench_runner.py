"""Benchmark: the study runner's scale-out on a LocalCluster, and the store's overhead.

The same small study (30 random selection problems, n = 10-12, the size of the quick
study's largest: minimum gap and P(T) at T = 10, 50, 100; no model, so the CNN side costs
nothing) runs on a LocalCluster of 1 worker and of 2 workers, each task with one Numba
thread, each into a fresh HDF5 file. Printed: the throughput (instances per second from the
first submission to the last write; cluster start-up excluded, and printed apart) and its
ratio 2 workers / 1 worker (also in the steady state, after each worker's first result), the client's HDF5 write time per instance and the file size per
instance. For information, 1 worker with 2 Numba threads (the default on a 1-worker
cluster) runs too.

Writes ``benchmarks/results/runner.json``.

Run: ``python benchmarks/bench_runner.py [--seeds 10] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from _common import write_result  # noqa: E402
from studies.config import load_config  # noqa: E402
from studies.runner import run_study  # noqa: E402

CONFIG = """
[study]
name = "bench-runner"
[xai]
enabled = false
[problems]
formulations = []
random_qubits = [10, 11, 12]
random_seeds = {seeds}
[spectral]
levels = 3
[dynamics]
T = [10.0, 50.0, 100.0]
protocol = false
"""


def _run(config, folder: Path, name: str, workers: int, threads: int) -> dict:
    path = folder / f"{name}.h5"
    t0 = time.perf_counter()
    s = run_study(config, path, workers=workers, threads_per_task=threads, progress=False)
    wall = time.perf_counter() - t0
    n = s.done + s.failed
    assert s.failed == 0, s.failures
    # steady state: after every worker has returned its first result (each worker's first
    # task also loads the compiled kernels from Numba's cache, ~1-3 s, once per process)
    w = s.workers
    steady = (n - w) / (s.arrivals[-1] - s.arrivals[w - 1])
    return {"name": name, "instances": n, "wall": wall, "compute": s.compute_seconds,
            "steady": steady,
            "startup": wall - s.compute_seconds, "throughput": n / s.compute_seconds,
            "write_ms": 1e3 * s.write_seconds / n, "kib": path.stat().st_size / 1024 / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10, help="random problems per n (3 n values)")
    ap.add_argument("--json", default=None, help="result file (default benchmarks/results/"
                    "runner.json)")
    args = ap.parse_args()
    config = load_config("bench-runner", text=CONFIG.format(seeds=list(range(args.seeds))))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{3 * args.seeds} instances (random selection problems, n = 10, 11, 12)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _run(load_config("warm", text=CONFIG.format(seeds=[99])), folder, "warm-up", 1, 1)
        rows = [_run(config, folder, "1 worker x 1 thread", 1, 1),
                _run(config, folder, "2 workers x 1 thread", 2, 1),
                _run(config, folder, "1 worker x 2 threads", 1, 2)]
    print(f"{'cluster':<24}{'instances/s':>12}{'steady /s':>10}{'compute s':>11}"
          f"{'start-up s':>11}{'write ms/inst':>15}{'KiB/inst':>10}")
    for r in rows:
        print(f"{r['name']:<24}{r['throughput']:12.3f}{r['steady']:10.3f}{r['compute']:11.1f}"
              f"{r['startup']:11.1f}{r['write_ms']:15.2f}{r['kib']:10.1f}")
    ratio = rows[1]["throughput"] / rows[0]["throughput"]
    steady = rows[1]["steady"] / rows[0]["steady"]
    print(f"throughput ratio 2 workers / 1 worker: {ratio:.2f} from the first submission, "
          f"{steady:.2f} in the steady state (target >= 1.7) -> "
          f"{'met' if ratio >= 1.7 else 'NOT met'} / {'met' if steady >= 1.7 else 'NOT met'}")
    print(f"store write overhead: {rows[1]['write_ms']:.2f} ms per instance "
          f"({100 * rows[1]['write_ms'] / 1e3 / (rows[1]['compute'] / rows[1]['instances']):.2f} "
          "% of the per-instance wall time at 2 workers)")
    for r in rows:
        r["ratio"] = r["throughput"] / rows[0]["throughput"]
    write_result(
        "runner", title="The study runner's scale-out",
        what=f"The same study ({3 * args.seeds} random selection problems, n = 10–12: minimum "
             "gap and P(T) at three T) on a LocalCluster; throughput from the first submission "
             "to the last write (cluster start-up apart), the client's HDF5 write time and the "
             "file size per instance.",
        baseline="1 worker with 1 thread, same run",
        columns=[("name", "cluster"), ("throughput", "instances/s"), ("ratio", "ratio"),
                 ("steady", "steady state /s"), ("startup", "start-up (s)"),
                 ("write_ms", "write (ms/instance)"), ("kib", "KiB/instance")],
        rows=rows, path=args.json)


if __name__ == "__main__":
    main()
