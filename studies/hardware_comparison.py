"""The D-Wave comparison offline: P(ground) of the path-integral stand-in against annealing
time, and the three predictions beside it for a few problems.

Run: ``python -m studies.hardware_comparison [--reads 1000] [--seed 0]``. Prints two tables
(markdown). No QPU is needed; with credentials, ``qaxai hardware PROBLEM --solver qpu`` puts a
real QPU's P(ground) in the same table.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


from simulate.dwave import DWaveAnnealer, PathIntegralQPU, compare  # noqa: E402
from studies.benchmarks.bench_spectral import selection_qubo  # noqa: E402
from studies.problems import load_bqm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reads", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    problems = {"builtin:selection12": load_bqm("builtin:selection12")}
    for n in (6, 8, 10):
        problems[f"selection n={n}"] = selection_qubo(n, args.seed)
    print("P(ground) of the stand-in against annealing time (Wilson 95 %):\n")
    times = (0.5, 2.0, 20.0, 200.0)
    print("| problem | " + " | ".join(f"{t:g} µs" for t in times) + " |")
    print("| --- |" + " --- |" * len(times))
    for name, bqm in problems.items():
        annealer = DWaveAnnealer(PathIntegralQPU(seed=args.seed), seed=args.seed)
        cells = []
        for t in times:
            r = annealer.run(bqm, annealing_time=t, num_reads=args.reads)
            lo, hi = r.p_ground_interval
            cells.append(f"{r.p_ground:.3f} [{lo:.3f}, {hi:.3f}]")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print("\nThe three predictions at 20 µs (stand-in as the 'measurement'; Boltzmann beta "
          "fitted to its reads):\n")
    print("| problem | n | stand-in P | closed system (0.1 µs) | Boltzmann | beta |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, bqm in problems.items():
        c = compare(bqm, annealing_time_us=20.0, num_reads=args.reads, seed=args.seed)
        lo, hi = c.standin_interval
        print(f"| {name} | {bqm.num_variables} | {c.standin:.3f} [{lo:.3f}, {hi:.3f}] | "
              f"{c.closed_system:.4f} | {c.boltzmann:.3f} | {c.beta:.2f} |", flush=True)


if __name__ == "__main__":
    main()
