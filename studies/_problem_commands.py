"""The commands of ``qaxai`` that take one problem file (private): ``qaxai gap`` (the
minimum gap of its annealing Hamiltonian) and ``qaxai hardware`` (P(ground) on a D-Wave solver
or its stand-ins beside three predictions). :mod:`studies.cli` adds them to its parser."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ._arguments import byte_limit, figure_path, integer_at_least, positive_float
from .exceptions import UsageError

__all__ = ["add_gap", "add_hardware"]


def add_gap(sub) -> None:
    gap = sub.add_parser(
        "gap",
        help="minimum gap of H(s) = A(s) H_D + B(s) H_P for a BQM",
        description="Locate the minimum gap Delta_min = min_s [E_d(s) - E_0(s)] of the annealing "
        "Hamiltonian of a BQM (d = degeneracy of the problem's minimum) and its position s*.",
    )
    gap.add_argument("problem", help="a BQM file (dimod binary, JSON or COO) or builtin:NAME "
                     "(builtin:selection12 ships with qaxai)")
    gap.add_argument("--levels", type=int, default=None,
                     help="levels to compute and plot (default d + 1, at least 2 for --plot)")
    gap.add_argument("--s-tol", type=positive_float, default=1e-6, help="tolerance on s* (default 1e-6)")
    gap.add_argument("--rtol", type=positive_float, default=1e-6,
                     help="relative tolerance on Delta_min (default 1e-6)")
    gap.add_argument("--coarse-points", type=int, default=17, help="points of the coarse sweep (default 17)")
    gap.add_argument("--schedule", default=None,
                     help="CSV file with columns s, A, B (default: linear A = 1 - s, B = s)")
    gap.add_argument("--scale", default="auto",
                     help="'auto' (divide by the largest |h|, |J|), 'none', or a positive number")
    gap.add_argument("--sector", choices=["auto", "full", "even"], default="auto",
                     help="spin-flip sector (default auto: even when there are no linear terms)")
    gap.add_argument("--backend", default="auto",
                     help="eigensolver: auto, dense, sparse, matrix-free, davidson, torch")
    gap.add_argument("--device", default=None,
                     help="torch device ('cuda', 'cpu'): run the torch backend there")
    gap.add_argument("--vartype", choices=["SPIN", "BINARY"], default=None,
                     help="vartype of a COO file without a '# vartype=' header")
    gap.add_argument("--memory-limit", type=byte_limit, default=None,
                     help="bytes allowed (default: 90%% of available memory; inf: no limit)")
    gap.add_argument("--json", action="store_true", help="print the result as JSON")
    gap.add_argument("--plot", metavar="FILE", default=None, type=figure_path,
                     help="draw the lowest levels and the gap against s (PNG, PDF or SVG)")
    gap.set_defaults(func=_cmd_gap)


def add_hardware(sub) -> None:
    hw = sub.add_parser(
        "hardware",
        help="P(ground) on a D-Wave solver or an offline stand-in, beside three predictions",
        description="Sample a BQM on a D-Wave solver ('qpu', needs credentials), the "
        "path-integral stand-in ('standin') or D-Wave's MockDWaveSampler ('mock', steepest "
        "descent: embedding and chains only), and print P(ground) with its Wilson 95%% "
        "interval beside closed-system simulation, the freeze-out Boltzmann model (beta "
        "fitted to the reads) and the stand-in.")
    hw.add_argument("problem", help="a BQM file or builtin:NAME (builtin:selection12)")
    hw.add_argument("--solver", choices=["mock", "standin", "qpu"], default="standin")
    hw.add_argument("--annealing-time", type=positive_float, default=20.0, metavar="US",
                    help="anneal time in microseconds (default 20)")
    hw.add_argument("--reads", type=integer_at_least(1), default=1000,
                    help="number of reads (default 1000)")
    hw.add_argument("--schedule", default=None, metavar="FILE",
                    help="the solver's published schedule (CSV/XLSX: s, A, B in GHz); default "
                    "an approximate Advantage-like one")
    hw.add_argument("--seed", type=integer_at_least(0), default=None,
                    help="seed of embedding and stand-in")
    hw.add_argument("--vartype", choices=["SPIN", "BINARY"], default=None,
                    help="vartype of a COO file without a '# vartype=' header")
    hw.add_argument("--json", action="store_true", help="print the result as JSON")
    hw.set_defaults(func=_cmd_hardware)


def _parse_scale(text: str):
    if text == "auto":
        return "auto"
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise SystemExit(f"qaxai gap: --scale must be 'auto', 'none' or a number, got {text!r}")
    return value


def _cmd_gap(args: argparse.Namespace) -> int:
    import spectral

    from .problems import load_bqm

    timings = {}
    t = time.perf_counter()
    bqm = load_bqm(args.problem, vartype=args.vartype)
    timings["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    H = spectral.AnnealingHamiltonian.from_bqm(
        bqm, args.schedule, _parse_scale(args.scale), sector=args.sector,
        memory_limit=args.memory_limit)
    timings["build_s"] = time.perf_counter() - t
    levels = args.levels
    if args.plot and levels is None:
        levels = max(H.degeneracy + 1, 4)
    t = time.perf_counter()
    result = spectral.min_gap(H, s_tol=args.s_tol, rtol=args.rtol, levels=levels,
                              coarse_points=args.coarse_points, backend=args.backend,
                              memory_limit=args.memory_limit, device=args.device)
    timings["min_gap_s"] = time.perf_counter() - t
    if args.plot:
        from .figures import plot_levels

        t = time.perf_counter()
        plot_levels(result, args.plot, title=args.problem)
        timings["plot_s"] = time.perf_counter() - t
    datasets, attrs = result.to_record()
    summary = {"problem": args.problem, "vartype": bqm.vartype.name, "schedule": repr(H.schedule),
               **attrs, "uncertified": json.loads(attrs["uncertified"]),
               "delta_min_bqm_units": result.delta_min * H.scale, "s_tol": args.s_tol,
               "levels": int(datasets["energies"].shape[0]),
               "residuals": datasets["residuals"].tolist(), "timings": timings}
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"problem      {args.problem}  ({H.n} variables, {bqm.vartype.name})")
        print(f"schedule     {H.schedule!r}, energies divided by scale = {H.scale:.6g}")
        print(f"sector       {result.sector}  (degeneracy of the minimum d = {result.degeneracy})")
        print(f"Delta_min    {result.delta_min:.12g}  (x scale = {result.delta_min * H.scale:.12g} "
              "in the BQM's energy unit)")
        print(f"accuracy     {result.delta_rtol:.1e} relative on Delta_min; "
              + (f"certified: no gap below {1 - result.certify_rtol:.0%} of it anywhere on [0, 1]"
                 if result.certified else
                 f"{len(result.uncertified)} interval(s) of s NOT certified (see --json)"))
        print(f"s*           {result.s_star:.9f}  (+- {args.s_tol:g})")
        print(f"work         {result.evaluations} eigen-solves, {result.matvecs} matvecs, "
              f"max residual {result.residuals.max():.1e}")
        print("time         " + ", ".join(f"{k[:-2]} {v:.3f} s" for k, v in timings.items()))
        if args.plot:
            print(f"plot         {args.plot}")
    return 0


#: the largest problem whose predictions (exact enumeration) `qaxai hardware` computes
_HARDWARE_MAX_VARIABLES = 24

#: what `qaxai hardware --json` reports of the run's record (beside the comparison's)
_HARDWARE_RUN_KEYS = ("annealing_time_us", "schedule_sha256", "chain_strength",
                      "auto_scale_divisor", "chain_break_fraction", "max_chain_length")


def _cmd_hardware(args: argparse.Namespace) -> int:
    from dwave.system.testing import MockDWaveSampler

    from simulate import SimulationError
    from simulate.dwave import (DWaveAnnealer, PathIntegralQPU, approximate_schedule, compare,
                                load_schedule)

    from .problems import load_bqm

    bqm = load_bqm(args.problem, vartype=args.vartype)
    if bqm.num_variables == 0:
        raise UsageError(f"{args.problem} has no variables: there is nothing to embed or sample.")
    if bqm.num_variables > _HARDWARE_MAX_VARIABLES:
        raise UsageError(f"{args.problem} has {bqm.num_variables} variables; qaxai hardware puts "
                         "each run beside predictions that enumerate all 2^n states, up to "
                         f"{_HARDWARE_MAX_VARIABLES} variables.")
    schedule = load_schedule(args.schedule) if args.schedule else approximate_schedule()
    try:
        if args.solver == "qpu":
            annealer = DWaveAnnealer(seed=args.seed)
        elif args.solver == "mock":
            annealer = DWaveAnnealer(MockDWaveSampler(topology_type="pegasus",
                                                      topology_shape=[6]), seed=args.seed)
        else:
            annealer = DWaveAnnealer(PathIntegralQPU(schedule=schedule, seed=args.seed),
                                     seed=args.seed)
        measured = annealer.run(bqm, annealing_time=args.annealing_time, num_reads=args.reads,
                                schedule=schedule)
        comparison = compare(bqm, annealing_time_us=args.annealing_time, schedule=schedule,
                             measured=measured, num_reads=args.reads, seed=args.seed,
                             standin_run=measured if args.solver == "standin" else None)
    except SimulationError as exc:
        hint = (" (offline: --solver standin or --solver mock)"
                if args.solver == "qpu" and "credentials" in str(exc) else "")
        print(f"qaxai hardware: error: {exc}{hint}", file=sys.stderr)
        return 2
    _, run = measured.to_record()
    out = {"problem": args.problem, "solver": args.solver, "variables": bqm.num_variables,
           "reads": args.reads, "schedule": schedule.name,
           **{k: run[k] for k in _HARDWARE_RUN_KEYS}, **comparison.to_record()[1]}
    if args.json:
        print(json.dumps(out, default=float, indent=2))
        return 0
    lo, hi = comparison.measured_interval
    slo, shi = comparison.standin_interval
    print(f"{args.problem}: {bqm.num_variables} variables on {args.solver!r}, "
          f"{args.annealing_time:g} µs, {args.reads} reads, schedule {schedule.name}")
    print(f"  chains: strength {measured.chain_strength:.3g}, longest "
          f"{out['max_chain_length']}, broken {measured.chain_break_fraction:.3f}; auto-scale "
          f"divisor {measured.auto_scale_divisor:.3g}")
    print(f"  measured P(ground)          {comparison.measured:.4f}  [{lo:.4f}, {hi:.4f}]")
    print(f"  closed-system simulation    {comparison.closed_system:.4f}  (at "
          f"{comparison.closed_system_time_us:g} µs)")
    print(f"  Boltzmann freeze-out        {comparison.boltzmann:.4f}  (beta = "
          f"{comparison.beta:.3g}{', fitted to the reads' if comparison.beta_fitted else ''})")
    print(f"  path-integral stand-in      {comparison.standin:.4f}  [{slo:.4f}, {shi:.4f}]")
    return 0
