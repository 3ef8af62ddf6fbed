"""The paper's figures, from a study's HDF5 file alone (PNG and PDF, one style).

:func:`study_figures` draws every figure the file has data for and returns their paths:

- ``levels``: the lowest levels against s with Delta_min and s* marked (the instance of
  median Delta_min among the largest image problems);
- ``delta_min_histogram``: Delta_min over images, per formulation (the paper's figure);
- ``scaling``: Delta_min and s* against n (log axis; the fit log Delta_min = a + b n);
- ``p_success``: P(tau) against tau grouped by the number of qubits d (the paper's
  fidelity-against-d figure), with the d^2-shot protocol's hit rate;
- ``t99``: T_99 against 1 / Delta_min^2 (the adiabatic check; the fit T_99 = c / Delta^2);
- ``bhattacharyya_<model>``, ``gallery_<model>``, ``metrics_<model>``: the class x class
  Bhattacharyya matrices per method, one explained image per class, the disentanglement and
  faithfulness metrics with 95 % intervals;
- ``hardware``: the stand-in's P(ground) (Wilson interval) beside the closed-system and
  freeze-out Boltzmann predictions.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .figures import _STYLE, _pyplot, bhattacharyya_panels, explanation_gallery, metric_chart, \
    plot_levels
from ._findings import t99_fits
from ._layout import DYNAMICS, HARDWARE, SPECTRAL, XAI, read_group
from .store import StudyData, load_study

__all__ = ["study_figures", "FORMATS"]

FORMATS = ("png", "pdf")
_SELECTION_METHODS = ("qubo-paper", "qubo-cardinality", "top-m gradcam", "top-m gradcam++",
                      "top-m contribution", "random-m")
_GALLERY_METHODS = ("qubo-paper", "qubo-cardinality", "gradcam", "gradcam++")


def _save(fig, out: Path, stem: str, formats) -> list[Path]:
    paths = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        fig.savefig(path, bbox_inches="tight")
        paths.append(path)
    _pyplot().close(fig)
    return paths


def _problems(study: StudyData) -> list[dict]:
    rows = []
    for iid, inst in study.of_kind("problem").items():
        ga, spec = inst["group_attrs"], inst["spec"]
        sp, dy = ga.get(SPECTRAL, {}), ga.get(DYNAMICS, {})
        group = ("random" if spec.get("source") == "random"
                 else f"{spec.get('formulation')} (images)")
        rows.append({"id": iid, "source": spec.get("source"), "n": int(spec.get("n", 0)),
                     "group": group, "cap": spec.get("qubit_cap"),
                     "formulation": spec.get("formulation"), "inst": inst,
                     "delta_min": sp.get("delta_min", np.nan), "s_star": sp.get("s_star", np.nan),
                     "t99": dy.get("t99", np.nan), "protocol": dy.get("protocol_is_ground"),
                     "t_boundary": sp.get("t_boundary", np.nan),
                     "scale": spec.get("scale", "auto")})
    return rows


def _levels(rows, out, formats):
    cands = [r for r in rows if read_group(r["inst"]["data"], SPECTRAL)]
    if not cands:
        return []
    image = [r for r in cands if r["source"] == "image"] or cands
    n_max = max(r["n"] for r in image)
    pool = sorted((r for r in image if r["n"] == n_max), key=lambda r: r["delta_min"])
    r = pool[len(pool) // 2]
    d, sp = read_group(r["inst"]["data"], SPECTRAL), r["inst"]["group_attrs"][SPECTRAL]
    res = SimpleNamespace(s=d["s"], energies=d["energies"], gaps=d["gaps"],
                          delta_min=sp["delta_min"],
                          s_star=sp["s_star"], degeneracy=int(sp["degeneracy"]),
                          sector=sp["sector"], n=r["n"])
    paths = []
    for fmt in formats:
        path = out / f"levels.{fmt}"
        plot_levels(res, path, title=r["id"])
        paths.append(path)
    return paths


def _histogram(rows, out, formats):
    image = [r for r in rows if r["source"] == "image" and np.isfinite(r["delta_min"])]
    if not image:
        return []
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.0))
        values = np.array([r["delta_min"] for r in image])
        bins = np.geomspace(values.min() * 0.9, values.max() * 1.1, 25)
        archs = {r["inst"]["spec"].get("architecture") for r in image}
        keys = sorted({(r["inst"]["spec"].get("architecture"), r["formulation"], r["cap"])
                       for r in image})
        for arch, form, cap in keys:
            v = [r["delta_min"] for r in image if (r["inst"]["spec"].get("architecture"),
                                                   r["formulation"], r["cap"]) == (arch, form, cap)]
            who = f"{arch}, " if len(archs) > 1 else ""
            ax.hist(v, bins=bins, histtype="step", lw=1.5,
                    label=f"{who}{form}, n ≤ {cap} (N = {len(v)}, median {np.median(v):.3g})")
        ax.set_xscale("log")
        ax.set_xlabel(r"$\Delta_{min}$ (scaled energy)")
        ax.set_ylabel("images")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(r"Minimum gap over explained images", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _save(fig, out, "delta_min_histogram", formats)


def _scaling(rows, out, formats):
    good = [r for r in rows if np.isfinite(r["delta_min"]) and r["n"] > 0]
    if len({r["n"] for r in good}) < 2:
        return []
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.0, 3.1))
        for k, source in enumerate(sorted({r["group"] for r in good})):
            sub = [r for r in good if r["group"] == source]
            n = np.array([r["n"] for r in sub])
            dm = np.array([r["delta_min"] for r in sub])
            ss = np.array([r["s_star"] for r in sub])
            jitter = (k - 0.5) * 0.15
            a1.plot(n + jitter, dm, "o", ms=3, alpha=0.5, color=f"C{k}")
            a2.plot(n + jitter, ss, "o", ms=3, alpha=0.5, color=f"C{k}")
            ns = np.unique(n)
            med = np.array([np.median(dm[n == x]) for x in ns])
            a1.plot(ns, med, "-", color=f"C{k}", label=f"{source}: median")
            a2.plot(ns, [np.median(ss[n == x]) for x in ns], "-", color=f"C{k}", label=source)
            if ns.size >= 2:
                b, a = np.polyfit(n, np.log(dm), 1)
                xx = np.linspace(ns.min(), ns.max(), 50)
                a1.plot(xx, np.exp(a + b * xx), "--", lw=0.9, color=f"C{k}",
                        label=rf"{source}: fit $\propto e^{{{b:.3f}\,n}}$")
        a1.set_yscale("log")
        a1.set_xlabel("qubits n")
        a1.set_ylabel(r"$\Delta_{min}$")
        a1.legend(fontsize=7)
        a2.set_xlabel("qubits n")
        a2.set_ylabel(r"$s^*$")
        a2.legend(fontsize=7)
        fig.suptitle(r"Scaling of the minimum gap and its position", fontsize=9)
        fig.tight_layout()
        return _save(fig, out, "scaling", formats)


def _p_success(rows, out, formats):
    dyn = [r for r in rows if read_group(r["inst"]["data"], DYNAMICS)]
    if not dyn:
        return []
    plt = _pyplot()
    ns = sorted({r["n"] for r in dyn})
    cmap = plt.get_cmap("viridis")
    with plt.rc_context(_STYLE):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.1),
                                     gridspec_kw={"width_ratios": [3, 2], "wspace": 0.55})
        for j, n in enumerate(ns):
            sub = [r for r in dyn if r["n"] == n]
            T = read_group(sub[0]["inst"]["data"], DYNAMICS)["T"]
            P = np.array([read_group(r["inst"]["data"], DYNAMICS)["p_success"] for r in sub])
            colour = cmap(j / max(1, len(ns) - 1))
            mean = P.mean(0)
            a1.plot(T, mean, "o-", ms=3, color=colour, label=f"d = {n} ({len(sub)})")
            if len(sub) > 1:
                a1.fill_between(T, np.percentile(P, 25, 0), np.percentile(P, 75, 0),
                                color=colour, alpha=0.15, lw=0)
        a1.set_xlabel(r"anneal time $\tau$ (inverse scaled energy)")
        a1.set_ylabel(r"$P(\tau)$: mean, quartiles shaded")
        a1.set_ylim(0, 1.02)
        a1.legend(fontsize=7, title="qubits (instances)", title_fontsize=7,
                  loc="upper left", bbox_to_anchor=(1.0, 1.0))
        prot = [(r["n"], r["protocol"]) for r in dyn if r["protocol"] is not None]
        if prot:
            pn = sorted({n for n, _ in prot})
            rate = [np.mean([bool(g) for n, g in prot if n == x]) for x in pn]
            a2.bar([str(x) for x in pn], rate, color="C2")
            a2.tick_params(axis="x", labelsize=7 if len(pn) > 9 else 9)
            a2.set_ylim(0, 1.02)
            a2.set_xlabel("qubits d")
            a2.set_ylabel("ground state among d² shots")
            a2.set_title(r"paper protocol ($\tau$ = 50, dt = 0.01)", fontsize=8)
        else:
            a2.axis("off")
        return _save(fig, out, "p_success", formats)


def _t99(rows, out, formats, stem="t99", units="H_P scaled"):
    good = [r for r in rows if np.isfinite(r["t99"]) and np.isfinite(r["delta_min"])]
    if not good:
        return []
    plt = _pyplot()
    x = np.array([1 / r["delta_min"] ** 2 for r in good])
    y = np.array([r["t99"] for r in good])
    tb = np.array([r.get("t_boundary", np.nan) for r in good])
    n = np.array([r["n"] for r in good])
    fits = {f.name: f for f in t99_fits(y, [r["delta_min"] for r in good], tb)}
    panels = [("gap", x, r"$1/\Delta_{min}^2$")]
    if np.any(np.isfinite(tb)):
        panels += [("boundary", tb, r"$T_{boundary} = \sqrt{(b_0 + b_1)/0.01}$"),
                   ("combined", None, "fitted prediction")]
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(3.8 * len(panels) + 0.8, 3.4),
                                 squeeze=False, gridspec_kw={"wspace": 0.4})
        for ax, (name, xs, label) in zip(axes[0], panels):
            fit = fits.get(name)
            if xs is None:
                xs = fit.predict(x, tb) if fit else np.full_like(y, np.nan)
            sc = ax.scatter(xs, y, c=n, s=14, cmap="viridis")
            finite = xs[np.isfinite(xs)]
            if fit and finite.size:
                xx = np.geomspace(finite.min(), finite.max(), 20)
                line = xx if name == "combined" else fit.coefficients[0] * xx
                ax.plot(xx, line, "k--", lw=0.9, label=fit.formula)
                ax.set_title(f"rms log10 error {fit.rms_log10:.2f}, worst ×{fit.worst_factor:.2g}",
                             fontsize=8)
                ax.legend(fontsize=6, loc="upper left")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(r"$T_{99}$")
        fig.colorbar(sc, ax=axes[0].tolist(), label="qubits n")
        fig.suptitle(f"What sets T_99 ({units}; {len(good)} problems)", fontsize=9)
        return _save(fig, out, stem, formats)


def _hardware(rows, out, formats):
    hw = [r for r in rows if read_group(r["inst"]["data"], HARDWARE)]
    if not hw:
        return []
    plt = _pyplot()
    labels, meas, lo, hi, closed, boltz = [], [], [], [], [], []
    for r in hw:
        d = read_group(r["inst"]["data"], HARDWARE)
        for k, t in enumerate(d["annealing_time_us"]):
            labels.append(f"{r['id']}\n{t:g} µs, n = {r['n']}")
            meas.append(d["p_ground"][k])
            lo.append(d["p_ground_low"][k])
            hi.append(d["p_ground_high"][k])
            closed.append(d["closed_system"][k])
            boltz.append(d["boltzmann"][k])
    y = np.arange(len(labels))
    meas = np.array(meas)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 0.55 * len(labels) + 1.2))
        ax.errorbar(meas, y, xerr=[meas - np.array(lo), np.array(hi) - meas], fmt="o",
                    capsize=3, color="C0", label="stand-in (Wilson 95 %)")
        ax.plot(closed, y + 0.15, "s", color="C3", label="closed system (≤ 0.1 µs)")
        ax.plot(boltz, y - 0.15, "D", color="C2", label=r"Boltzmann, fitted $\beta$")
        ax.set_yticks(y, labels, fontsize=6)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("P(ground)")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.5 / len(labels) - 0.12),
                  ncol=3)
        ax.set_title("Hardware stand-in beside the three predictions", fontsize=9)
        return _save(fig, out, "hardware", formats)


def _xai(study: StudyData, out, formats):
    from encoding import XaiStudy

    paths = []
    for iid, inst in study.of_kind("xai").items():
        d = read_group(inst["data"], XAI)
        arch = inst["spec"].get("architecture", iid)
        name = arch.lower()
        columns = XaiStudy.TEXT_COLUMNS + XaiStudy.NUMBER_COLUMNS
        table = [dict(zip(columns, vals))
                 for vals in zip(*(d[f"table/{c}"] for c in columns))]
        labels = d["labels"]
        first = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
        heat = {m: d[f"trained/{m}/heatmaps"][first] for m in _GALLERY_METHODS
                if f"trained/{m}/heatmaps" in d}
        bc = {m: d[f"trained/{m}/bhattacharyya"] for m in _SELECTION_METHODS
              if f"trained/{m}/bhattacharyya" in d}
        classes = json.loads(inst["group_attrs"].get(XAI, {}).get("classes", "null") or "null")
        present = np.unique(labels)
        for fmt in formats:
            if heat:
                p = out / f"gallery_{name}.{fmt}"
                explanation_gallery(d["images"][first], heat, p,
                                    titles=[classes[labels[i]] if classes else
                                            f"class {labels[i]}" for i in first])
                paths.append(p)
            if bc:
                p = out / f"bhattacharyya_{name}.{fmt}"
                bhattacharyya_panels(bc, p, classes=[classes[c] for c in present]
                                     if classes else None,
                                     title=f"{arch}: selected-map distributions by class")
                paths.append(p)
            weights = tuple(dict.fromkeys(r["weights"] for r in table))
            p = out / f"metrics_{name}.{fmt}"
            metric_chart(table, p, weights=weights, title=f"{arch}: metrics with 95 % intervals")
            paths.append(p)
    return paths


def study_figures(path: str | PathLike, out: str | PathLike, *, formats=FORMATS) -> list[Path]:
    """Draw every figure a study file has data for.

    Parameters
    ----------
    path : str or path
        The study's HDF5 file.
    out : str or path
        Output folder (created).
    formats : sequence of str
        File formats (default PNG and PDF).

    Returns
    -------
    list of Path
        The files written.
    """
    study = load_study(path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = _problems(study)
    # gaps, times and P(T) are in units of the scaled H; unscaled twins only enter T_99's own
    # figure, where every predictor carries the units of its problem
    scaled = [r for r in rows if r["scale"] == "auto"]
    paths = []
    for draw in (_levels, _histogram, _scaling, _p_success, _hardware):
        paths += draw(scaled, out, formats)
    paths += _t99(scaled, out, formats)
    paths += _t99([r for r in rows if r["scale"] == "none"], out, formats,
                  stem="t99_unscaled", units="H_P in the BQM's units")
    paths += _xai(study, out, formats)
    return paths
