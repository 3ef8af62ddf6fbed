"""Benchmark: what min_gap's certification and hyperbola refinement cost, against another
commit's min_gap and against a scan of the gap on a grid.

Two parts, each optional:

- ``--against PATH``: random selection QUBOs (loose penalty, as bench_spectral's; n = 12,
  16, 20 by default; ``--n``; written to a dimod file that both checkouts read) timed with this checkout's ``spectral.min_gap`` and with the one of another
  checkout at PATH (e.g. ``git worktree add /tmp/base HEAD~3``), in alternation, ``--repeats``
  times each, in fresh subprocesses (one Numba cache each, warmed by one untimed call first).
  It prints per n the medians, their ratio (ours / theirs), the eigen-solves and matvecs.
- ``--hard``: the hard families of ``studies.problems``: six random rounded Ising instances
  (n = 8; trials 21, 77, 190, 237, 238 and 276 of ``default_rng(2026)``: narrow crossings
  and gaps of 1e-8 to 3e-4) and the star with a perturbative crossing (n = 8..14). It times
  min_gap (eigen-solves, matvecs) against a 2001-point scan of the gap (dense
  diagonalisation at n = 8; from n = 10 on CSR + eigsh, timed on 21 of its points and
  extrapolated, said so in the output), with the two Delta_min.

``--hard`` writes ``benchmarks/results/min_gap.json`` (``--json PATH`` elsewhere). Run from
the repository root: ``python benchmarks/bench_min_gap.py --hard [--against /tmp/base]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _common import write_result  # noqa: E402

_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
import dimod, spectral
with open({path!r}, "rb") as f:
    bqm = dimod.BinaryQuadraticModel.from_file(f)
spectral.min_gap(dimod.BinaryQuadraticModel({{0: 1.0, 1: -0.5}}, {{(0, 1): 0.7}}, 0.0, "SPIN"))
t = time.perf_counter()
r = spectral.min_gap(bqm, s_tol=1e-6)
print(json.dumps({{"seconds": time.perf_counter() - t, "evaluations": r.evaluations,
                  "matvecs": r.matvecs, "delta_min": r.delta_min}}))
"""


def _time_in(root: str, n: int, seed: int) -> dict:
    import tempfile

    from studies.problems import random_selection_bqm

    bqm = random_selection_bqm(n, seed, penalty="loose")
    with tempfile.NamedTemporaryFile(suffix=".bqm", delete=False) as f:
        with bqm.to_file() as src:
            f.write(src.read())
    code = _CHILD.format(root=root, path=f.name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": root})
    return json.loads(out.stdout.strip().splitlines()[-1])


def against(other: str, sizes, repeats: int, seed: int) -> list[dict]:
    rows = []
    print(f"# min_gap, this checkout against {other} (alternating, {repeats} runs each)")
    print(f"{'n':>3} {'ours_s':>9} {'theirs_s':>9} {'ratio':>6} {'ours_ev':>8} {'theirs_ev':>9} "
          f"{'ours_mv':>8} {'theirs_mv':>9} {'delta_ours':>12} {'delta_theirs':>12}")
    for n in sizes:
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(_time_in(ROOT, n, seed + n))
            theirs.append(_time_in(other, n, seed + n))
        to = float(np.median([r["seconds"] for r in ours]))
        tt = float(np.median([r["seconds"] for r in theirs]))
        row = {"n": n, "ours_s": to, "theirs_s": tt, "ratio": to / tt,
               "ours_evaluations": ours[0]["evaluations"], "theirs_evaluations": theirs[0]["evaluations"],
               "ours_matvecs": ours[0]["matvecs"], "theirs_matvecs": theirs[0]["matvecs"],
               "ours_delta_min": ours[0]["delta_min"], "theirs_delta_min": theirs[0]["delta_min"],
               "ours_all_s": [r["seconds"] for r in ours], "theirs_all_s": [r["seconds"] for r in theirs]}
        rows.append(row)
        print(f"{n:>3} {to:>9.2f} {tt:>9.2f} {to / tt:>6.2f} {row['ours_evaluations']:>8} "
              f"{row['theirs_evaluations']:>9} {row['ours_matvecs']:>8} {row['theirs_matvecs']:>9} "
              f"{row['ours_delta_min']:>12.6g} {row['theirs_delta_min']:>12.6g}", flush=True)
    return rows


def _scan(bqm, points: int, timed: int) -> tuple[float, float]:
    """Seconds of a ``points``-point scan of Delta (timed on ``timed`` of them, extrapolated)
    and the lowest gap on the timed points: dense diagonalisation up to n = 8, above it CSR +
    eigsh(k=2) as bench_spectral's baseline (a dense H is 2 GiB at n = 14)."""
    import spectral
    from bench_spectral import baseline
    from tests import naive

    grid = np.linspace(0.0, 1.0, timed)
    if bqm.num_variables <= 8:
        gap, _ = naive.dense_gap_function(bqm)
        t = time.perf_counter()
        values = [gap(s) for s in grid]
        seconds = time.perf_counter() - t
    else:
        seconds, values = baseline(spectral.AnnealingHamiltonian.from_bqm(bqm), grid)
    return seconds * points / timed, float(np.min(values))


def hard(points: int = 2001) -> list[dict]:
    import spectral
    from studies.problems import perturbative_crossing_bqm, rounded_ising_bqm

    rng = np.random.default_rng(2026)
    drawn = [rounded_ising_bqm(8, rng) for _ in range(277)]
    cases = [(f"rounded-ising trial {t}", drawn[t]) for t in (21, 77, 190, 237, 238, 276)]
    cases += [(f"star n={n}", perturbative_crossing_bqm(n)) for n in (8, 10, 12, 14)]
    spectral.min_gap(perturbative_crossing_bqm(4))  # compile
    print(f"# hard families: min_gap against a {points}-point scan of Delta")
    print(f"{'instance':>26} {'n':>3} {'min_gap_s':>9} {'evals':>6} {'matvecs':>8} {'scan_s':>9} "
          f"{'ratio':>7} {'delta_min':>11} {'delta_rtol':>10} {'scan_min':>11}")
    rows = []
    for name, bqm in cases:
        n = bqm.num_variables
        t = time.perf_counter()
        r = spectral.min_gap(bqm)
        seconds = time.perf_counter() - t
        timed = points if n <= 8 else 21
        scan_s, scan_min = _scan(bqm, points, timed)
        note = "" if timed == points else f"  (scan timed on {timed} points, extrapolated)"
        rows.append({"instance": name, "n": n, "min_gap_s": seconds, "evaluations": r.evaluations,
                     "matvecs": r.matvecs, "scan_s": scan_s, "scan_points_timed": timed,
                     "delta_min": r.delta_min, "delta_rtol": r.delta_rtol,
                     "certified": r.certified, "scan_min": scan_min})
        print(f"{name:>26} {n:>3} {seconds:>9.3f} {r.evaluations:>6} {r.matvecs:>8} {scan_s:>9.1f} "
              f"{scan_s / seconds:>7.0f} {r.delta_min:>11.4e} {r.delta_rtol:>10.1e} "
              f"{scan_min:>11.4e}{note}", flush=True)
    print("# ratio = scan time / min_gap time; scan_min: the scan's lowest point (a grid misses "
          "narrow crossings)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="PATH", help="a checkout of another commit")
    parser.add_argument("--n", type=int, nargs="+", default=[12, 16, 20])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hard", action="store_true", help="time the hard families")
    parser.add_argument("--json", metavar="FILE", help="result file of --hard (default "
                        "benchmarks/results/min_gap.json)")
    args = parser.parse_args()
    if not args.against and not args.hard:
        parser.error("nothing to do: give --against PATH and/or --hard")
    print(f"# {os.cpu_count()} cores, python {platform.python_version()}")
    if args.against:
        against(os.path.abspath(args.against), args.n, args.repeats, args.seed)
    if args.hard:
        rows = hard()
        write_result(
            "min_gap", title="Minimum gap on hard instances: certified search against a fine scan",
            what="`spectral.min_gap` (default tolerances: s* to 1e-6, Δ_min to 1e-6 relative, "
                 "certified) on the hard families of `studies.problems`: six rounded-Ising "
                 "instances with narrow avoided crossings (n = 8) and the star with a "
                 "perturbative crossing whose gap closes exponentially (n = 8–14).",
            baseline="the gap on a 2001-point grid of s (dense diagonalisation at n = 8; above, "
                     "CSR + eigsh timed on 21 points and scaled to 2001)",
            columns=[("instance", "instance"), ("n", "n"), ("min_gap_s", "min_gap (s)"),
                     ("matvecs", "matvecs"), ("scan_s", "scan (s)"), ("ratio", "speed-up"),
                     ("delta_min", "Δ_min"), ("delta_rtol", "accuracy"),
                     ("certified", "certified"), ("scan_min", "scan's lowest Δ")],
            rows=[{**r, "ratio": r["scan_s"] / r["min_gap_s"]} for r in rows], path=args.json,
            notes=["The scan's lowest Δ is above Δ_min where the grid steps over a narrow "
                   "crossing."])


if __name__ == "__main__":
    main()
