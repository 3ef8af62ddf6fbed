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
import sys
from collections.abc import Sequence

from ._arguments import (figure_path, file_path, folder_path, integer_at_least,
                         joined_negative_numbers)
from ._problem_commands import add_gap, add_hardware
from .exceptions import StoreError, UsageError

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qaxai",
        description="Explain CNN classifiers by quantum-annealing feature selection, and study "
        "the annealing itself.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_gap, add_hardware, _add_explain, _add_run, _add_inspect, _add_figures,
                _add_report):
        add(sub)
    return parser


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
    images = test.batch(idx)
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
