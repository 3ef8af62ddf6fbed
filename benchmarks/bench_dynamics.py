"""Benchmark: P(T) by QuTiP (tuned sesolve) against qaxai's split-operator (what
``method="auto"`` runs), Magnus-Chebyshev and DOP853 (stages fused in Numba) propagators, in
the same run, at the same accuracy target.

For random selection QUBOs (``random_selection_bqm(n, 1, penalty="loose")``) at n = 8, 10,
12, 14 and
T = 10, 50, 100 this prints, per (n, T), the wall time of each method, the ratio QuTiP / ours,
and max |P_ours - P_qutip| (all target a final-state error of 1e-7 or better, far inside the
issue's 1e-6: QuTiP with vern7 at atol 1e-10, rtol 1e-8; ours with tol 1e-7). Then the
targets: QuTiP / ours >= 5 at n = 12, T = 100, and (``--large``) n = 20, T = 100 with split
and DOP853 in under 2 minutes. Single runs of the n = 12 case vary on a shared machine, so
the target is also timed ``--repeat`` times (QuTiP, DOP853 and split alternating), and the
ratios of the medians and of the best times are printed. Writes
``benchmarks/results/dynamics.json``.

Run: ``python benchmarks/bench_dynamics.py [--n 8 10 12 14] [--T 10 50 100] [--large]
[--repeat 7] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import simulate  # noqa: E402
from _common import write_result  # noqa: E402
from studies.problems import random_selection_bqm  # noqa: E402


def selection_qubo(n, seed):
    return random_selection_bqm(n, seed, penalty="loose")


METHODS = ("qutip", *(m for m in simulate.METHODS if m != "qutip"))  # the baseline first


def _timed(bqm, T, method):
    t0 = time.perf_counter()
    res = simulate.anneal(bqm, T, method=method, tol=1e-7)
    return time.perf_counter() - t0, res.p_success


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[8, 10, 12, 14])
    ap.add_argument("--T", type=float, nargs="+", default=[10.0, 50.0, 100.0])
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--repeat", type=int, default=7, help="timings of the n = 12, T = 100 target")
    ap.add_argument("--json", default=None, help="result file (default benchmarks/results/"
                    "dynamics.json)")
    args = ap.parse_args()
    rows = []
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    for method in METHODS:  # load the Numba kernels and QuTiP's first-call machinery
        simulate.anneal(selection_qubo(4, 0), 1.0, method=method)
    print(f"{'n':>3} {'T':>6} {'qutip s':>9} {'split s':>9} {'magnus s':>9} {'dop853 s':>9} "
          f"{'qutip/split':>12} {'qutip/magnus':>13} {'qutip/dop853':>13} {'max |dP|':>9} "
          f"{'P':>10}")
    target = None
    for n in args.n:
        bqm = selection_qubo(n, 1)
        for T in args.T:
            out = {m: _timed(bqm, T, m) for m in METHODS}
            if (n, T) == (12, 100.0):
                target = out["qutip"][0] / out["split"][0]
            tq, pq = out["qutip"]
            dp = max(abs(out[m][1] - pq) for m in METHODS)
            print(f"{n:>3} {T:>6g} {tq:9.2f} {out['split'][0]:9.2f} {out['magnus'][0]:9.2f} "
                  f"{out['dop853'][0]:9.2f} {tq / out['split'][0]:12.2f} "
                  f"{tq / out['magnus'][0]:13.2f} {tq / out['dop853'][0]:13.2f} {dp:9.1e} "
                  f"{pq:10.6f}", flush=True)
            rows.append({"case": f"n = {n}, T = {T:g}", "qutip_s": tq,
                         **{f"{m}_s": out[m][0] for m in METHODS[1:]},
                         "ratio_split": tq / out["split"][0], "ratio_dop853": tq / out["dop853"][0],
                         "max_dP": dp})
    if target is not None:
        print(f"target n = 12, T = 100: QuTiP / split = {target:.1f} (>= 5 wanted)")
    if args.repeat > 0:
        bqm = selection_qubo(12, 1)
        times = {"qutip": [], "dop853": [], "split": []}
        for _ in range(args.repeat):
            for m in times:
                times[m].append(_timed(bqm, 100.0, m)[0])
        med = {m: statistics.median(t) for m, t in times.items()}
        best = {m: min(t) for m, t in times.items()}
        print(f"target n = 12, T = 100 over {args.repeat} alternating runs: QuTiP median "
              f"{med['qutip']:.3f} s, best {best['qutip']:.3f} s", flush=True)
        for m in ("split", "dop853"):
            print(f"  {m}: median {med[m]:.3f} s, best {best[m]:.3f} s; QuTiP / {m}: ratio of "
                  f"medians {med['qutip'] / med[m]:.1f}, of best {best['qutip'] / best[m]:.1f}"
                  " (>= 5 wanted)", flush=True)
        rows.append({"case": f"n = 12, T = 100, medians of {args.repeat}",
                     "qutip_s": med["qutip"], "split_s": med["split"], "dop853_s": med["dop853"],
                     "ratio_split": med["qutip"] / med["split"],
                     "ratio_dop853": med["qutip"] / med["dop853"]})
    if args.large:
        large = {}
        bqm = selection_qubo(20, 1)
        for m in ("split", "dop853"):
            t, p = _timed(bqm, 100.0, m)
            print(f"n = 20, T = 100, {m}: {t:.1f} s (< 120 s wanted), P = {p:.8f}", flush=True)
            large[f"{m}_s"] = t
        rows.append({"case": "n = 20, T = 100", **large})
    write_result(
        "dynamics", title="Success probability P(T): qaxai's propagators against QuTiP",
        what="P(T) of random selection QUBOs (loose penalty) from |+⟩^n, every method at a "
             "final-state error of 1e-7 or better: split operator (`method=\"auto\"`), "
             "Magnus–Chebyshev, DOP853 with fused stages.",
        baseline="QuTiP 5 `sesolve` with tuned options (vern7, atol 1e-10, rtol 1e-8), same run",
        columns=[("case", "case"), ("qutip_s", "QuTiP (s)"), ("split_s", "split (s)"),
                 ("magnus_s", "Magnus (s)"), ("dop853_s", "DOP853 (s)"),
                 ("ratio_split", "QuTiP / split"), ("ratio_dop853", "QuTiP / DOP853"),
                 ("max_dP", "max |ΔP|")],
        rows=rows, path=args.json)


if __name__ == "__main__":
    main()
