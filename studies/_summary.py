"""``qaxai inspect``: a study file in a few lines (private)."""

from __future__ import annotations

import json
from collections import Counter
from os import PathLike

import numpy as np

from ._findings import is_scaled, scaling_by_kind, t99_fits_by_kind
from ._layout import DYNAMICS, HARDWARE, SPECTRAL, XAI, read_group
from .store import load_study, machine_of

__all__ = ["summarise"]


def _stats(values) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    if v.size == 0:
        return "-"
    return f"median {np.median(v):.4g} (min {v.min():.4g}, max {v.max():.4g}, N = {v.size})"


def _xai_table(d: dict) -> str:
    from encoding import XaiStudy

    columns = ("weights", "method", "space", "metric", "value", "low", "high", "p_value",
               "better")
    rows = [dict(zip(columns, vals)) for vals in zip(*(d[f"table/{c}"] for c in columns))]
    return XaiStudy(table=rows).format_table()


def _t99_lines(problems: dict) -> list[str]:
    """Which of Delta_min and T_boundary explains T_99, per kind of problem."""
    lines = []
    for label, fits in t99_fits_by_kind(problems).items():
        best = min(fits.values(), key=lambda f: f.rms_log10)
        lines.append(f"  T_99 of {label} ({best.count}): " + "; ".join(
            f"{f.name} rms log10 {f.rms_log10:.2f} (worst x{f.worst_factor:.2g})"
            for f in fits.values()) + f"; best: {best.formula}")
    return lines


def _scaling_lines(problems: dict) -> list[str]:
    """How Delta_min, T_boundary, T_99 and s* scale with n, per kind of problem."""
    lines = []
    for label, fits in scaling_by_kind(problems).items():
        lines.append(f"scaling      {label}:")
        lines += [f"  {f.quantity:<10} {f.model:<11} {f.formula} (rms {f.rms:.3f}, N = {f.count})"
                  for f in fits]
    return lines


def _problem_lines(problems: dict) -> list[str]:
    """Qubits, dropped candidates, Delta_min, s*, P(T), T_99 and the hardware stand-in."""
    lines = []
    if problems:
        ns = Counter(int(p["spec"].get("n", 0)) for p in problems.values())
        lines.append("qubits       " + ", ".join(f"n = {n}: {c}" for n, c in sorted(ns.items())))
        capped = [p["spec"] for p in problems.values() if p["spec"].get("candidates_dropped")]
        if capped:
            lines.append(f"candidates   {len(capped)} problems dropped maps at their qubit cap "
                         f"(of {max(s['n_maps'] for s in capped)} maps in the layer; up to "
                         f"{max(s['candidates_dropped'] for s in capped)} dropped, the weakest "
                         "relevance first)")
        scaled = [p for p in problems.values() if is_scaled(p["spec"])]
        if len(scaled) < len(problems):
            lines.append(f"unscaled     {len(problems) - len(scaled)} problems with H_P in the "
                         "BQM's units: only in the T_99 and scaling fits")
        sp = [p["group_attrs"].get(SPECTRAL, {}) for p in scaled]
        lines.append("Delta_min    " + _stats(s.get("delta_min", np.nan) for s in sp))
        lines.append("s*           " + _stats(s.get("s_star", np.nan) for s in sp))
        dyn = [(p, read_group(p["data"], DYNAMICS)) for p in scaled]
        dyn = [(p, d) for p, d in dyn if d]
        if dyn:
            T = dyn[0][1]["T"]
            for k, t in enumerate(T):
                lines.append(f"P(T = {t:g})".ljust(13) + _stats(
                    d["p_success"][k] for _, d in dyn if d["T"].shape == T.shape))
            t99 = [p["group_attrs"][DYNAMICS].get("t99", np.nan) for p, _ in dyn]
            lines.append("T_99         " + _stats(t99))
            lines += _t99_lines(problems)
        lines += _scaling_lines(problems)
        hw = [d for d in (read_group(p["data"], HARDWARE) for p in problems.values()) if d]
        if hw:
            lines.append(f"hardware     {len(hw)} instances on the stand-in: P(ground) " +
                         _stats(np.concatenate([d["p_ground"] for d in hw])))
    return lines


def summarise(path: str | PathLike, *, xai_tables: bool = False) -> str:
    """A text summary: provenance, runs, instances by kind and status, main results; with
    ``xai_tables``, every XAI study's full metric table (values, 95 % intervals, p-values)."""
    study = load_study(path)
    a = study.attrs
    runs = json.loads(a.get("runs", "[]"))
    lines = [f"file         {path}",
             f"study        {a.get('config_source')} (config sha256 "
             f"{str(a.get('config_sha256'))[:12]}...)",
             f"written by   qaxai {a.get('qaxai_version')} (commit "
             f"{a.get('git_commit')[:10] or 'unknown'}) on {machine_of(a)}, created "
             f"{a.get('created')}",
             f"runs         {len(runs)}" + "".join(
                 f"\n  {r['started']} .. {r['finished']}: {r['done']} done, {r['failed']} "
                 f"failed, {r['skipped']} skipped, {r['workers']} workers"
                 f"{', interrupted' if r.get('interrupted') else ''}" for r in runs)]
    kinds = Counter(inst["attrs"].get("kind") for inst in study.instances.values())
    lines.append("complete     " + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                                    or "none"))
    if study.empty:
        lines.append(f"empty        {len(study.empty)} problem(s) without variables: "
                     + ", ".join(sorted(study.empty)))
        lines.extend(f"  why: {reason}" for reason in sorted(set(study.empty.values())))
    if study.failed:
        lines.append(f"failed       {len(study.failed)}: " + ", ".join(sorted(study.failed)))
        for iid, err in sorted(study.failed.items())[:5]:
            last = err.strip().splitlines()[-1] if err.strip() else "?"
            lines.append(f"  {iid}: {last}")
    lines += _problem_lines(study.of_kind("problem"))
    for iid, x in study.of_kind("xai").items():
        d = read_group(x["data"], XAI)
        rows = zip(d["table/weights"], d["table/method"], d["table/metric"],
                   d["table/value"])
        bc = {m: v for w, m, metric, v in rows
              if w == "trained" and metric == "Bhattacharyya off-diag"}
        lines.append(f"{iid}".ljust(13) + f"{d['labels'].size} images; Bhattacharyya "
                     "off-diag (lower = more distinct): " +
                     ", ".join(f"{m} {v:.3f}" for m, v in bc.items()))
        if xai_tables:
            lines.append(_xai_table(d))
    lines.append("read it      h5py.File(path)['instances'][<id>] -- every dataset has units "
                 "and meaning attributes")
    return "\n".join(lines)
