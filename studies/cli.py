"""The ``qaxai`` command line.

``qaxai gap PROBLEM`` -- the minimum gap of a BQM's annealing Hamiltonian.
``qaxai explain --index I | --class C`` -- explanations of held-out images (the bundled digits,
or a config's data and model with ``--config``).
``qaxai hardware PROBLEM`` -- P(ground) on a D-Wave solver (or its offline stand-ins) beside
the three predictions.
``qaxai run CONFIG [--set section.key=value ...]`` -- a study (Dask workers, one HDF5 file, resumable), optionally its figures.
``qaxai inspect FILE`` -- a summary of a study file.
``qaxai figures FILE --out DIR`` -- the paper's figures from a study file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from ._arguments import (byte_limit, figure_path, file_path, folder_path, integer_at_least,
                         joined_negative_numbers, positive_float)
from .exceptions import StoreError, UsageError

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qaxai",
        description="Explain CNN classifiers by quantum-annealing feature selection, and study "
        "the annealing itself.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_gap, _add_hardware, _add_explain, _add_run, _add_inspect, _add_figures,
                _add_report):
        add(sub)
    return parser


def _add_gap(sub) -> None:
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


def _add_hardware(sub) -> None:
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


def _add_explain(sub) -> None:
    explain = sub.add_parser(
        "explain",
        help="explain held-out images with QuboCAM, GradCAM, GradCAM++ (a gallery figure)",
        description="Explain held-out images and draw a gallery: one row per image, one "
        "column per method, each heatmap over the image. Without --config: the bundled digits "
        "and default model (trained and cached on first use); with --config: the config's "
        "[data] and [model] (your images and your model, or the paper's setting).",
    )
    which = explain.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=int, nargs="+", metavar="I",
                       help="positions in the held-out images (0-based)")
    which.add_argument("--class", dest="cls", metavar="C",
                       help="explain the first --count held-out images of class C (an index or "
                       "a class name)")
    explain.add_argument("--count", type=integer_at_least(1), default=4,
                         help="images for --class (default 4)")
    explain.add_argument("--method", nargs="+", default=["qubo-paper", "gradcam", "gradcam++"],
                         help="methods (qubo-paper, qubo-cardinality, gradcam, gradcam++, top-m "
                         "gradcam, top-m gradcam++, top-m contribution, random-m)")
    explain.add_argument("--config", default=None, metavar="CONFIG",
                         help="a study config (TOML) whose [data] and [model] to explain")
    explain.add_argument("--set", dest="overrides", action="append", default=[],
                         metavar="SECTION.KEY=VALUE", help="override a config value (with --config)")
    explain.add_argument("--model", default=None,
                         help="which model: PaperNet or GapNet for the bundled digits (default "
                         "PaperNet); with --config, one of its architectures (default the first)")
    explain.add_argument("--device", default=None, metavar="DEVICE",
                         help="where the model runs: auto, cpu, cuda or cuda:N (default: the "
                         "config's [run] device, else auto)")
    explain.add_argument("--out", required=True, metavar="FILE", type=figure_path,
                         help="gallery figure (PNG/PDF/SVG)")
    explain.set_defaults(func=_cmd_explain)


def _add_run(sub) -> None:
    run = sub.add_parser(
        "run", help="run (or resume) a study from a TOML config into one HDF5 file",
        description="Run a study: its instances (image x formulation x qubits, random "
        "problems, one XAI study per model) become tasks on dask.distributed (a LocalCluster, "
        "or --scheduler); the client writes each result as it arrives. Interrupt it any time; "
        "the same command resumes (complete instances are skipped).")
    run.add_argument("config", help="a study config (TOML), e.g. studies/configs/quick.toml, "
                     "or builtin:NAME (quick, paper, paper-stl10, scaling, xai-digits, hardware)")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="SECTION.KEY=VALUE",
                     help="override a config value, in TOML syntax (repeatable), e.g. "
                     "--set data.path=data/stl10_binary --set images.per_class=5; the "
                     "effective config is what the study file records")
    run.add_argument("--out", default=None, metavar="FILE.h5",
                     help="study file (default: the config's [study] out, else "
                     "results/<name>.h5)")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="a running Dask scheduler, e.g. tcp://host:8786 (default: a "
                     "LocalCluster on this machine)")
    run.add_argument("--workers", type=integer_at_least(1), default=None,
                     help="LocalCluster worker processes (default: one per core)")
    run.add_argument("--threads-per-task", type=integer_at_least(1), default=None, metavar="N",
                     help="Numba/torch threads of each task (default: cores // workers)")
    run.add_argument("--figures", default=None, metavar="DIR", type=folder_path,
                     help="afterwards, draw every figure into DIR (PNG and PDF)")
    run.add_argument("--report", default=None, metavar="DIR", type=folder_path,
                     help="afterwards, write DIR/report.html (one self-contained page) and "
                     "DIR/report.md")
    run.add_argument("--device", default=None, metavar="DEVICE",
                     help="where the CNN side runs: auto, cpu, cuda or cuda:N (default: the "
                     "config's [run] device, auto); recorded with the run")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)


def _add_inspect(sub) -> None:
    inspect = sub.add_parser("inspect", help="summarise a study file",
                             description="Print a study file's provenance, its instances by "
                             "kind and status, and the main results.")
    inspect.add_argument("file", help="a study file (HDF5) written by qaxai run")
    inspect.add_argument("--xai", action="store_true",
                         help="also print every XAI study's full metric table")
    inspect.set_defaults(func=_cmd_inspect)


def _add_report(sub) -> None:
    report = sub.add_parser(
        "report", help="write a study file up: one HTML page and Markdown",
        description="Write OUT/report.html (one self-contained page: findings in sentences "
        "with their numbers and intervals, tables, every figure embedded, the provenance and "
        "the command that reproduces the study) and OUT/report.md (figures in OUT/figures).")
    report.add_argument("file", help="a study file (HDF5) written by qaxai run")
    report.add_argument("--out", required=True, metavar="DIR", type=folder_path,
                        help="output folder")
    report.set_defaults(func=_cmd_report)
    results = sub.add_parser(
        "results", help="the findings of several study files as one Markdown document",
        description="Write the findings of each study file (sentences with numbers and "
        "intervals, tables, the command that reproduces it) to one Markdown file; "
        "docs/results.md is this for the shipped configs.")
    results.add_argument("files", nargs="+", help="study files (HDF5) written by qaxai run")
    results.add_argument("--out", required=True, metavar="FILE.md", type=file_path,
                         help="the Markdown file")
    results.set_defaults(func=_cmd_results)


def _add_figures(sub) -> None:
    figures = sub.add_parser("figures", help="draw the paper's figures from a study file",
                             description="Draw every figure a study file has data for (PNG "
                             "and PDF), from the file alone.")
    figures.add_argument("file", help="a study file (HDF5) written by qaxai run")
    figures.add_argument("--out", required=True, metavar="DIR", type=folder_path,
                         help="output folder")
    figures.set_defaults(func=_cmd_figures)


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


def _explained(args: argparse.Namespace):
    """(model, layer, held-out images, what) from --config or the bundled default, the model
    on --device (else the config's [run] device, else "auto")."""
    from encoding import EncodingError, resolve_device

    def device(default: str):
        try:
            return resolve_device(args.device if args.device is not None else default)
        except EncodingError as err:
            raise UsageError(f"--device: {err}" if args.device is not None else
                             f"{args.config}: [run] device: {err}") from None

    if args.config is None:
        from encoding import default_model, load_digits_dataset

        if args.overrides:
            raise UsageError("--set needs --config.")
        arch = args.model or "PaperNet"
        if arch not in ("PaperNet", "GapNet"):
            raise UsageError(f"--model must be PaperNet or GapNet for the bundled digits, got "
                             f"{arch!r}; give your own model with --config.")
        model, meta = default_model(arch, device=device("auto"))
        return model, model.target_layer, load_digits_dataset().subset(meta["test_indices"]), arch
    from ._inputs import check_inputs, load_models
    from .config import load_config

    config = load_config(args.config, overrides=args.overrides)
    dev = device(config.settings.run.device)
    check_inputs(config)
    entries = load_models(config, device=dev)
    names = [e.name for e in entries]
    if args.model is not None and args.model not in names:
        raise UsageError(f"--model {args.model!r} is not in the config's models {names}.")
    entry = entries[names.index(args.model) if args.model else 0]
    return entry.model, entry.layer, entry.test, entry.name


def _cmd_explain(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from encoding import METHODS, explain, model_device

    from .figures import explanation_gallery

    unknown = [m for m in args.method if m not in METHODS]
    if unknown:
        raise UsageError(f"unknown --method {unknown}; choose from {list(METHODS)}")
    model, layer, test, what = _explained(args)
    labels = test.labels.numpy()
    if args.index is not None:
        idx = np.asarray(args.index)
        if idx.min() < 0 or idx.max() >= len(test):
            raise UsageError(f"--index must be in 0..{len(test) - 1} (held-out images), got "
                             f"{args.index}")
    else:
        cls = args.cls
        if cls in test.classes:
            cls = test.classes.index(cls)
        elif cls.lstrip("-").isdigit() and 0 <= int(cls) < len(test.classes):
            cls = int(cls)
        else:
            raise UsageError(f"--class must be a class index in 0..{len(test.classes) - 1} or a "
                             f"name in {list(test.classes)}, got {args.cls!r}")
        idx = np.flatnonzero(labels == cls)[:args.count]
        if idx.size == 0:
            raise UsageError(f"--class {args.cls}: the held-out images hold none of this class.")
    images = test.images[idx]
    ex = explain(model, images, layer, methods=args.method)
    with torch.no_grad():
        pred = model(images.to(model_device(model))).argmax(1).cpu().numpy()
    name = test.classes
    titles = [f"#{i}: {name[labels[i]]} -> {name[p]}" for i, p in zip(idx, pred)]
    explanation_gallery(images.numpy(), {m: ex[m].heatmaps for m in args.method}, args.out,
                        titles=titles)
    print(f"model        {what}, layer {layer!r}, {len(test)} held-out images")
    for row, i in enumerate(idx):
        sel = {m: np.flatnonzero(ex[m].selections[row]).tolist() for m in args.method
               if ex[m].selections is not None}
        print(f"#{i}: true {name[labels[i]]}, predicted {name[pred[row]]}" +
              "".join(f"; {m} maps {v}" for m, v in sel.items()))
    print(f"gallery      {args.out}")
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


def _cmd_run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .runner import run_study

    config = load_config(args.config, overrides=args.overrides)
    summary = run_study(config, args.out, scheduler=args.scheduler, workers=args.workers,
                        threads_per_task=args.threads_per_task, progress=not args.quiet,
                        device=args.device)
    if summary.interrupted and not summary.written:
        print(f"qaxai run: interrupted before {summary.path} was created: nothing was written.",
              file=sys.stderr)
        return 130
    print(f"study        {config.name}: {summary.total} instances; {summary.skipped} already "
          f"complete, {summary.done} done and {summary.failed} failed in this run "
          f"({summary.seconds:.1f} s, {summary.workers} workers, CNN on {summary.device})")
    if summary.empty:
        print(f"no variables {len(summary.empty)} problem(s), recorded as empty: "
              f"{', '.join(sorted(summary.empty))}")
        for reason in sorted(set(summary.empty.values())):
            print(f"  why        {reason}")
    for iid, err in summary.failures.items():
        print(f"  failed     {iid}: {err}")
    print(f"file         {summary.path}")
    if summary.interrupted:
        print(f"qaxai run: interrupted; {summary.path} is valid; run the same command to resume.",
              file=sys.stderr)
        return 130
    if args.figures:
        from .study_figures import study_figures

        paths = study_figures(summary.path, args.figures)
        print(f"figures      {len(paths)} files in {args.figures}")
    if args.report:
        from .report import write_report

        html_path, md_path = write_report(summary.path, args.report)
        print(f"report       {html_path} and {md_path}")
    return 1 if summary.failed else 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from ._summary import summarise

    print(summarise(args.file, xai_tables=args.xai))
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from .results import write_results

    print(write_results(args.files, args.out))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    for p in write_report(args.file, args.out):
        print(p)
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from .study_figures import study_figures

    paths = study_figures(args.file, args.out)
    for p in paths:
        print(p)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qaxai`` console script."""
    from spectral import MemoryGuardError

    parser = _build_parser()
    args = parser.parse_args(joined_negative_numbers(list(sys.argv[1:] if argv is None
                                                           else argv)))
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"qaxai {args.command}: interrupted.", file=sys.stderr)
        return 130
    except MemoryGuardError as exc:
        print(f"qaxai {args.command}: error: "
              f"{exc.message(_CLI_MEMORY_ADVICE.get(args.command, exc.API_ADVICE))}",
              file=sys.stderr)
        return 2
    except (OSError, ValueError, MemoryError, TypeError, StoreError) as exc:
        print(f"qaxai {args.command}: error: {exc}", file=sys.stderr)
        return 2


#: how each command lifts spectral's memory guard
_CLI_MEMORY_ADVICE = {"gap": "pass --memory-limit BYTES (--memory-limit inf disables the "
                             "guard) if you know it fits"}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
