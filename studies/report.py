"""``qaxai report``: a study file written up as one self-contained HTML page and Markdown.

The page holds the provenance, the command that reproduces the study, each finding as a
sentence with its numbers and intervals, the tables, and every figure (embedded as PNG, so
the page opens anywhere without its folder). The Markdown beside it links the same figures as
files. Both are built from one list of blocks, so they say the same.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from ._findings import is_scaled, problem_kind, scaling_by_kind, t99_fits_by_kind
from ._layout import DYNAMICS, HARDWARE, SPECTRAL, XAI, read_group
from .store import StudyData, load_study, machine_of

__all__ = ["write_report"]

#: the figures of the report, in order, with their captions
_FIGURES = {
    "levels": "Lowest levels and the gap along the anneal of the median-gap problem.",
    "delta_min_histogram": "Minimum gaps of the explained images' problems.",
    "scaling": "Minimum gap and its position against the number of qubits.",
    "p_success": "Success probability against anneal time; the reference paper's protocol.",
    "t99": "T_99 against 1/Δ_min², against T_boundary, and against their fitted sum.",
    "t99_unscaled": "The same for the problems with H_P in the BQM's units.",
    "hardware": "The hardware stand-in beside the three predictions.",
}


@dataclass
class _Block:
    kind: str  # "h2", "p", "table", "figure", "pre"
    text: str = ""
    rows: list | None = None
    path: Path | None = None


def _median_interval(values, seed: int = 0, n_boot: int = 2000) -> tuple[float, float, float]:
    """Median and its 95 % bootstrap interval."""
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    rng = np.random.default_rng(seed)
    boot = np.median(v[rng.integers(0, v.size, (n_boot, v.size))], axis=1)
    return float(np.median(v)), *(float(x) for x in np.percentile(boot, [2.5, 97.5]))


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _provenance(study: StudyData, path: Path) -> list[_Block]:
    a = study.attrs
    runs = json.loads(a.get("runs", "[]"))
    rows = [["file", str(path)], ["config", f"{a.get('config_source')} (sha256 "
                                              f"{str(a.get('config_sha256'))[:12]}…)"],
            ["written by", f"qaxai {a.get('qaxai_version')}, commit "
                           f"{str(a.get('git_commit'))[:10] or 'unknown'}, on {machine_of(a)}"],
            ["created", str(a.get("created"))], ["runs", str(len(runs))],
            ["instances", f"{len(study.instances)} complete, {len(study.failed)} failed"
                          + (f", {len(study.empty)} problems without variables (empty: "
                             f"{'; '.join(sorted(set(study.empty.values())))})"
                             if study.empty else "")]]
    source = str(a.get("config_source"))
    command = (f"qaxai run {source} --out {path.name} --report DIR"
               if not source.startswith("<") else f"qaxai run CONFIG.toml --out {path.name}")
    return [_Block("h2", "Provenance"), _Block("table", rows=[["", ""], *rows]),
            _Block("p", "Reproduce it with the effective config below (saved as a TOML file):"),
            _Block("pre", command), _Block("pre", str(a.get("config", "")))]


def _problem_findings(study: StudyData) -> list[_Block]:
    everything = study.of_kind("problem")
    if not everything:
        return []
    # energies and times are compared in the units of the scaled H; unscaled twins enter the
    # per-kind table, the T_99 fits and the scaling fits, each kind on its own
    problems = {k: p for k, p in everything.items() if is_scaled(p["spec"])}
    blocks = [_Block("h2", "Findings: the anneal")]
    blocks += _gap_and_success(problems)
    blocks.append(_Block("table", rows=_per_kind_table(everything)))
    blocks += _protocol_findings(problems)
    blocks += _t99_findings(everything)
    blocks += _scaling_findings(everything)
    blocks += _hardware_findings(problems)
    return blocks


def _gap_and_success(problems: dict) -> list[_Block]:
    """Delta_min, s* and P(T) over all (scaled) problems, with intervals of the medians."""
    blocks = []
    sp = [p["group_attrs"].get(SPECTRAL, {}) for p in problems.values()]
    gaps = [s["delta_min"] for s in sp if "delta_min" in s]
    if gaps:
        m, lo, hi = _median_interval(gaps)
        s_star = _median_interval([s["s_star"] for s in sp if "s_star" in s])
        blocks.append(_Block("p", f"Over {len(gaps)} problems (H_P scaled) the minimum gap "
                                  f"Δ_min has median {_fmt(m)} (95 % interval of the median "
                                  f"{_fmt(lo)}–{_fmt(hi)}; range {_fmt(min(gaps))}–"
                                  f"{_fmt(max(gaps))}), at s* with median {_fmt(s_star[0])} "
                                  f"({_fmt(s_star[1])}–{_fmt(s_star[2])})."))
    dyn = [read_group(p["data"], DYNAMICS) for p in problems.values()]
    dyn = [d for d in dyn if d]
    if dyn:
        T = dyn[0]["T"]
        parts = []
        for k, t in enumerate(T):
            m, lo, hi = _median_interval([d["p_success"][k] for d in dyn
                                          if d["T"].shape == T.shape])
            parts.append(f"P({t:g}) median {_fmt(m)} ({_fmt(lo)}–{_fmt(hi)})")
        blocks.append(_Block("p", f"The success probability over {len(dyn)} problems: "
                                  + "; ".join(parts) + "."))
    return blocks


def _protocol_findings(problems: dict) -> list[_Block]:
    """How often the reference paper's d^2 shots held a ground state, beside P(T)."""
    ran = [p["group_attrs"][DYNAMICS] for p in problems.values()
           if "protocol_is_ground" in p["group_attrs"].get(DYNAMICS, {})]
    if not ran:
        return []
    found = sum(bool(a["protocol_is_ground"]) for a in ran)
    fidelity = _median_interval([a["protocol_fidelity"] for a in ran])
    return [_Block("p", f"The reference paper's protocol (τ = 50, dt = 0.01, d² shots from "
                        f"|ψ(τ)|²) found a ground state in {found} of {len(ran)} problems, while "
                        f"the probability of a ground state in one shot, P(50), has median "
                        f"{_fmt(fidelity[0])} ({_fmt(fidelity[1])}–{_fmt(fidelity[2])}): "
                        "d² shots find the answer even where one anneal rarely ends in it.")]


def _hardware_findings(problems: dict) -> list[_Block]:
    hw = [(iid, read_group(p["data"], HARDWARE)) for iid, p in problems.items()]
    hw = [(iid, d) for iid, d in hw if d]
    if not hw:
        return []
    rows = [["problem", "anneal (µs)", "P(ground) measured", "Wilson 95 %",
             "closed system", "Boltzmann"]]
    for iid, d in hw:
        for k, t in enumerate(d["annealing_time_us"]):
            rows.append([iid, f"{t:g}", _fmt(d["p_ground"][k]), f"{_fmt(d['p_ground_low'][k])}–"
                         f"{_fmt(d['p_ground_high'][k])}", _fmt(d["closed_system"][k]),
                         _fmt(d["boltzmann"][k])])
    return [_Block("p", f"On the hardware stand-in ({len(hw)} problems), P(ground) "
                        "beside the closed-system and Boltzmann predictions:"),
            _Block("table", rows=rows)]


def _t99_findings(problems: dict) -> list[_Block]:
    blocks = []
    rows = [["problems", "model", "fitted", "rms log10 error", "worst factor", "N"]]
    for label, fits in t99_fits_by_kind(problems).items():
        rows += [[label, f.name, f.formula, f"{f.rms_log10:.3f}", f"{f.worst_factor:.3g}",
                  str(f.count)] for f in fits.values()]
        gap, edge = fits["gap"], fits["boundary"]
        both = fits.get("combined")
        better = ("the minimum gap predicts" if gap.rms_log10 < edge.rms_log10
                  else "the boundary terms predict")
        blocks.append(_Block("p", (
            f"For the {gap.count} {label} with T_99, {better} T_99 better alone: "
            f"1/Δ_min² within a factor {10 ** gap.rms_log10:.2f} on average (worst "
            f"{gap.worst_factor:.3g}), T_boundary within {10 ** edge.rms_log10:.2f} (worst "
            f"{edge.worst_factor:.3g})")
            + (f"; their fitted sum ({both.formula}) within {10 ** both.rms_log10:.2f} "
               f"(worst {both.worst_factor:.3g})." if both else ".")))
    if len(rows) > 1:
        blocks.append(_Block("table", rows=rows))
    return blocks


_QUANTITIES = {"delta_min": "Δ_min", "t_boundary": "T_boundary", "t99": "T_99", "s_star": "s*"}


def _per_kind_table(problems: dict) -> list[list[str]]:
    """Per kind of problem and n: the count, and the medians with their 95 % bootstrap
    intervals of Delta_min, s*, T_boundary, P(T) at every T and T_99."""
    dyn = {iid: read_group(p["data"], DYNAMICS) for iid, p in problems.items()}
    T = next((d["T"] for d in dyn.values() if d), np.array([]))
    rows = [["problems", "n", "N", "Δ_min", "s*", "T_boundary"]
            + [f"P({t:g})" for t in T] + ["T_99"]]
    kinds: dict[tuple, list] = {}
    for iid, p in problems.items():
        kinds.setdefault((problem_kind(p["spec"]), int(p["spec"].get("n", 0))), []).append(iid)
    for (kind, n), ids in sorted(kinds.items()):
        attrs = [problems[i]["group_attrs"] for i in ids]
        columns = [[a.get(SPECTRAL, {}).get(q, np.nan) for a in attrs]
                   for q in ("delta_min", "s_star", "t_boundary")]
        columns += [[dyn[i]["p_success"][k] if dyn[i] and dyn[i]["T"].shape == T.shape
                     else np.nan for i in ids] for k in range(T.size)]
        columns.append([a.get(DYNAMICS, {}).get("t99", np.nan) for a in attrs])
        rows.append([kind, str(n), str(len(ids))] + [_median_cell(v) for v in columns])
    return rows


def _median_cell(values) -> str:
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return "–"
    if len(finite) == 1:
        return _fmt(finite[0])
    m, lo, hi = _median_interval(finite)
    return f"{_fmt(m)} ({_fmt(lo)}–{_fmt(hi)})"


def _scaling_findings(problems: dict) -> list[_Block]:
    """Per kind of problem with three or more n: the fitted scaling of each quantity, and
    the medians per n."""
    fits = scaling_by_kind(problems)
    if not fits:
        return []
    blocks = [_Block("h2", "Findings: scaling with the number of qubits")]
    for label, kind_fits in fits.items():
        parts = []
        for quantity, name in _QUANTITIES.items():
            mine = [f for f in kind_fits if f.quantity == quantity]
            if not mine:
                continue
            best = min(mine, key=lambda f: f.rms) if quantity != "s_star" else mine[0]
            other = [f for f in mine if f is not best]
            text = f"{name} {best.formula}"
            if best.model != "linear":
                text += f" (rms log10 {best.rms:.3f}" + "".join(
                    f"; {'an' if f.model[0] in 'aeiou' else 'a'} {f.model} law {f.formula}, "
                    f"rms {f.rms:.3f}" for f in other) + ")"
            parts.append(text)
        # the problems a fit used: those with a finite result (not the empty ones)
        qubits = sorted({v for f in kind_fits for v in f.qubits})
        count = max(f.count for f in kind_fits)
        blocks += [_Block("p", f"{label[0].upper()}{label[1:]} (n = {', '.join(map(str, qubits))}; "
                               f"{count} problems), fitted against n with 95 % bootstrap "
                               "intervals of the rate, the better model first: "
                               + "; ".join(parts) + ".")]
    return blocks


#: the columns of the explanations' overview table: (space, metric, heading)
_XAI_COLUMNS = (("selection", "Bhattacharyya off-diag", "Bhattacharyya ↓"),
                ("selection", "silhouette", "silhouette, selection ↑"),
                ("channels", "silhouette", "silhouette, channels ↑"),
                ("heatmap", "silhouette", "silhouette, heatmap ↑"),
                ("heatmap", "average drop %", "Average Drop % ↓"),
                ("heatmap", "deletion AUC", "deletion AUC ↓"),
                ("selection", "retained score", "retained ↑"))


def _xai_overview(table: list[dict]) -> list[list[str]]:
    """Methods by rows (the null's after the trained ones), the main metrics by columns:
    value and 95 % interval (the null's value alone)."""
    cell = {(r["weights"], r["method"], r["space"], r["metric"]): r for r in table}
    rows = [["method"] + [h for _, _, h in _XAI_COLUMNS]]
    for weights in dict.fromkeys(r["weights"] for r in table):
        for method in dict.fromkeys(r["method"] for r in table if r["weights"] == weights):
            name = method if weights == "trained" else f"{method} ({weights})"
            cells = []
            for space, metric, _ in _XAI_COLUMNS:
                r = cell.get((weights, method, space, metric))
                cells.append("—" if r is None else _fmt(r["value"]) if weights != "trained"
                             else f"{_fmt(r['value'])} [{_fmt(r['low'])}, {_fmt(r['high'])}]")
            rows.append([name] + cells)
    return rows


def _versus(a: dict, b: dict, lower_is_better: bool) -> str:
    """"a value [interval] against b value [interval]: a is better/worse/tied" in words."""
    text = (f"{_fmt(a['value'])} [{_fmt(a['low'])}, {_fmt(a['high'])}] against "
            f"{_fmt(b['value'])} [{_fmt(b['low'])}, {_fmt(b['high'])}]")
    if a["high"] < b["low"] or b["high"] < a["low"]:
        better = (a["value"] < b["value"]) == lower_is_better
        return text + (": better, the intervals apart" if better else
                       ": worse, the intervals apart")
    return text + ": the intervals overlap"


def _xai_comparisons(table: list[dict]) -> list[str]:
    """The reference paper's claim and the fair tests of it, each in a sentence: QUBO against
    GradCAM and GradCAM++ on heatmap disentanglement, against top-m GradCAM at equal m, and
    against the re-initialised network."""
    cell = {(r["weights"], r["method"], r["space"], r["metric"]): r for r in table}
    qubos = [m for m in dict.fromkeys(r["method"] for r in table) if m.startswith("qubo")]
    sentences = []
    for q in qubos:
        heat = cell.get(("trained", q, "heatmap", "silhouette"))
        for other in ("gradcam", "gradcam++"):
            o = cell.get(("trained", other, "heatmap", "silhouette"))
            if heat and o:
                sentences.append(f"Heatmap silhouette (higher = classes more distinct), {q} "
                                 f"against {other}: {_versus(heat, o, False)}.")
        bc = cell.get(("trained", q, "selection", "Bhattacharyya off-diag"))
        top = cell.get(("trained", "top-m gradcam", "selection", "Bhattacharyya off-diag"))
        if bc and top:
            sentences.append(f"At equal m, the Bhattacharyya coefficient (lower = more "
                             f"distinct) of {q} against top-m gradcam: {_versus(bc, top, True)}.")
        for space, metric, lower in (("selection", "Bhattacharyya off-diag", True),
                                     ("heatmap", "silhouette", False)):
            mine = cell.get(("trained", q, space, metric))
            null = next((r for (w, m, sp, me), r in cell.items() if w != "trained"
                         and m == q and (sp, me) == (space, metric)), None)
            if mine and null:
                as_good = (null["value"] <= mine["value"]) == lower
                sentences.append(
                    f"On re-initialised weights, {q}'s {space} {metric} is {_fmt(null['value'])} "
                    f"against {_fmt(mine['value'])} trained: " + (
                        "as distinct or more without training, so this score does not show "
                        "what training taught the network." if as_good else
                        "less distinct without training."))
    return sentences


def _qubo_solver_sentence(d: dict, spec: dict) -> str:
    """How QuboCAM's selections were found: the candidate cap, the images it cut, and
    whether every selection is a certified ground state."""
    parts, heuristic = [], 0
    for method in ("qubo-paper", "qubo-cardinality"):
        dropped = d.get(f"trained/{method}/candidates_dropped")
        exact = d.get(f"trained/{method}/solved_exactly")
        if dropped is None or exact is None:
            continue
        parts.append(f"{method} on {int(np.count_nonzero(dropped))} of {dropped.size}")
        heuristic += int(exact.size - np.count_nonzero(exact))
    if not parts:  # a file written before the cap was recorded
        return ""
    cap = spec.get("max_qubits")
    return (f"QuboCAM chose among at most {cap} candidate maps per image, those of largest "
            f"relevance ([xai] max_qubits); the cap dropped candidates of "
            f"{'; '.join(parts)} images. "
            + ("Every selection is a certified ground state (exhaustive enumeration)."
               if heuristic == 0 else
               f"{heuristic} selections are the best of reproduced tabu search, not certified."))


def _xai_findings(study: StudyData) -> list[_Block]:
    blocks = []
    for iid, inst in study.of_kind("xai").items():
        d = read_group(inst["data"], XAI)
        cols = ("weights", "method", "space", "metric", "value", "low", "high", "p_value")
        table = [dict(zip(cols, v)) for v in zip(*(d[f"table/{c}"] for c in cols))]
        for r in table:
            r["weights"], r["method"] = str(r["weights"]), str(r["method"])
            r["space"], r["metric"] = str(r["space"]), str(r["metric"])
        bc = [r for r in table if r["metric"] == "Bhattacharyya off-diag"]
        if not bc:
            continue
        trained = sorted((r for r in bc if r["weights"] == "trained"), key=lambda r: r["value"])
        blocks += [_Block("h2", f"Findings: explanations ({iid})"), _Block("p", (
            f"Class disentanglement on {d['labels'].size} images, as the Bhattacharyya "
            "coefficient between classes of the selected maps (lower = more distinct; 95 % "
            "bootstrap intervals): " + "; ".join(
                f"{r['method']} {_fmt(r['value'])} ({_fmt(r['low'])}–{_fmt(r['high'])})"
                for r in trained) + f". The most distinct is {trained[0]['method']}. "
            "Resampling images lowers this coefficient, so its intervals are basic bootstrap "
            "intervals, which correct that bias, around the full-sample value shown: where "
            "the bias exceeds the spread, an interval lies above the value."))]
        blocks += [_Block("p", text) for text in _xai_comparisons(table)]
        solver = _qubo_solver_sentence(d, inst["spec"])
        if solver:
            blocks.append(_Block("p", solver))
        p = [r["p_value"] for r in table if np.isfinite(r["p_value"])]
        if p:
            blocks.append(_Block("p", f"Label-permutation p-values of the disentanglement "
                                      f"scores: {_fmt(min(p))} to {_fmt(max(p))}."))
        blocks.append(_Block("table", rows=_xai_overview(table)))
    return blocks


def _figures(study_path: Path, folder: Path) -> list[_Block]:
    from .study_figures import study_figures

    written = {p.stem: p for p in study_figures(study_path, folder, formats=("png",))}
    blocks = [_Block("h2", "Figures")]
    for stem, caption in _FIGURES.items():
        if stem in written:
            blocks.append(_Block("figure", caption, path=written[stem]))
    for stem, p in sorted(written.items()):
        if stem not in _FIGURES:
            blocks.append(_Block("figure", stem.replace("_", " "), path=p))
    return blocks


def _html(title: str, blocks: list[_Block]) -> str:
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
           "line-height:1.45}table{border-collapse:collapse;margin:0.5rem 0}td,th{border:1px "
           "solid #ccc;padding:0.2rem 0.5rem;font-size:0.9rem}pre{background:#f4f4f4;"
           "padding:0.6rem;overflow-x:auto}img{max-width:100%}figure{margin:1rem 0}</style>",
           "</head><body>", f"<h1>{html.escape(title)}</h1>"]
    for b in blocks:
        if b.kind in ("h2", "p"):
            out.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "pre":
            out.append(f"<pre>{html.escape(b.text)}</pre>")
        elif b.kind == "table":
            head, *body = b.rows
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                       + "</tr></thead><tbody>" + "".join(
                           "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                           for r in body) + "</tbody></table>")
        else:
            data = base64.b64encode(b.path.read_bytes()).decode()
            out.append(f"<figure><img alt=\"{html.escape(b.text)}\" src=\"data:image/png;"
                       f"base64,{data}\"><figcaption>{html.escape(b.text)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def findings(study: StudyData) -> list[_Block]:
    """The findings of a study: the anneal's, then the explanations'."""
    return _problem_findings(study) + _xai_findings(study)


def _markdown(title: str, blocks: list[_Block], root: Path | None, *, level: int = 1) -> str:
    """Markdown of ``blocks`` under a heading of ``level`` (figure links relative to
    ``root``)."""
    out = [f"{'#' * level} {title}", ""] if title else []
    for b in blocks:
        if b.kind == "h2":
            out += [f"{'#' * (level + 1)} {b.text}", ""]
        elif b.kind == "p":
            out += [b.text, ""]
        elif b.kind == "pre":
            out += ["```", b.text.rstrip("\n"), "```", ""]
        elif b.kind == "table":
            head, *body = b.rows
            out += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body]
            out.append("")
        else:
            out += [f"![{b.text}]({b.path.relative_to(root).as_posix()})", "", f"*{b.text}*", ""]
    return "\n".join(out)


def write_report(path: str | PathLike, out: str | PathLike) -> tuple[Path, Path]:
    """Write ``out/report.html`` (self-contained) and ``out/report.md`` (figures in
    ``out/figures/``) for a study file.

    Returns
    -------
    (Path, Path)
        The HTML page and the Markdown file.
    """
    path, out = Path(path), Path(out)
    study = load_study(path)
    out.mkdir(parents=True, exist_ok=True)
    title = f"qaxai study report: {path.stem}"
    blocks = findings(study) + _figures(path, out / "figures") + _provenance(study, path)
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(_html(title, blocks), encoding="utf-8")
    md_path.write_text(_markdown(title, blocks, out), encoding="utf-8")
    return html_path, md_path
