"""What explains T_99, and how the anneal's quantities scale with n (private; used by the
figures, the summary and the report).

What explains T_99: the minimum gap, the boundary terms, or both.

Three models of T_99 over a study's problems, each fitted to minimise the relative error:

- ``gap``: T_99 = c / Delta_min^2 (the adiabatic condition's scaling);
- ``boundary``: T_99 = c * T_boundary (the loss from the schedule's kinks at its ends);
- ``combined``: T_99 = a / Delta_min^2 + b * T_boundary (a, b >= 0).

Each is scored by the root mean square of log10(T_99 / prediction) (0: exact; 0.1: within
about 26 %) and by the largest factor between a T_99 and its prediction.

How a quantity q (Delta_min, T_boundary, T_99, s*) scales with the number of qubits n, per
kind of problem: log q = a + b n (exponential, rate b), log q = a + b log n (power law,
exponent b), or for s* q = a + b n. Intervals are 95 % percentile intervals of b over
bootstrap resamples of the problems, stratified by n (every n keeps its count).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from ._layout import DYNAMICS, SPECTRAL

__all__ = ["T99Fit", "t99_fits", "t99_fits_by_kind", "ScalingFit", "scaling_fit",
           "scaling_by_kind", "problem_kind", "is_scaled"]


@dataclass(frozen=True)
class T99Fit:
    """One model of T_99 and how well it predicts.

    Attributes
    ----------
    name : str
        "gap", "boundary" or "combined".
    formula : str
        The fitted model in words, with its constants.
    rms_log10 : float
        Root mean square of log10(T_99 / prediction).
    worst_factor : float
        The largest of T_99 / prediction and its inverse.
    count : int
        Problems fitted.
    coefficients : tuple
    """

    name: str
    formula: str
    rms_log10: float
    worst_factor: float
    count: int
    coefficients: tuple

    def predict(self, inv_gap2: np.ndarray, t_boundary: np.ndarray) -> np.ndarray:
        if self.name == "gap":
            return self.coefficients[0] * inv_gap2
        if self.name == "boundary":
            return self.coefficients[0] * t_boundary
        return self.coefficients[0] * inv_gap2 + self.coefficients[1] * t_boundary


def _score(name, formula, coefficients, y, prediction) -> T99Fit:
    ratio = np.log10(y / prediction)
    return T99Fit(name, formula, float(np.sqrt(np.mean(ratio**2))),
                  float(10 ** np.max(np.abs(ratio))), int(y.size), tuple(coefficients))


def t99_fits(t99, delta_min, t_boundary) -> list[T99Fit]:
    """The three models fitted to the problems where all three numbers are finite and > 0
    (an empty list below two such problems)."""
    t99, delta_min, t_boundary = (np.asarray(v, float) for v in (t99, delta_min, t_boundary))
    ok = (np.isfinite(t99) & np.isfinite(delta_min) & np.isfinite(t_boundary) & (t99 > 0)
          & (delta_min > 0) & (t_boundary > 0))
    if ok.sum() < 2:
        return []
    y, x1, x2 = t99[ok], 1.0 / delta_min[ok] ** 2, t_boundary[ok]
    fits = []
    for name, x, symbol in (("gap", x1, "/Δ_min²"), ("boundary", x2, "·T_boundary")):
        c = float(np.exp(np.mean(np.log(y / x))))  # least squares of log(y / (c x))
        fits.append(_score(name, f"T_99 = {c:.3g}{symbol}", (c,), y, c * x))
    # relative least squares, a and b >= 0: rows divided by y
    (a, b), _ = nnls(np.column_stack([x1 / y, x2 / y]), np.ones_like(y))
    pred = a * x1 + b * x2
    if np.all(pred > 0):
        fits.append(_score("combined", f"T_99 = {a:.3g}/Δ_min² + {b:.3g}·T_boundary",
                           (float(a), float(b)), y, pred))
    return fits


def problem_kind(spec: dict) -> str:
    """A problem's kind in words, from its ``spec``: its source, formulation and scaling."""
    label = ("random selection problems" if spec.get("source") == "random"
             else f"problems of the {spec.get('formulation')} formulation")
    return label + (", H_P unscaled" if spec.get("scale") == "none" else "")


def is_scaled(spec: dict) -> bool:
    """Whether a problem's H_P was divided by its largest Ising coefficient (the default)."""
    return spec.get("scale", "auto") == "auto"


def t99_fits_by_kind(problems: dict) -> dict[str, dict[str, T99Fit]]:
    """The fits of :func:`t99_fits` per kind of problem ("random selection problems",
    "problems of the paper formulation", ...), from a study's problem instances
    (``StudyData.of_kind("problem")``); kinds with fewer than two usable problems are left
    out. Each value maps a model's name to its fit."""
    groups: dict[str, list] = {}
    for p in problems.values():
        spec, ga = p["spec"], p["group_attrs"]
        sp = ga.get(SPECTRAL, {})
        groups.setdefault(problem_kind(spec), []).append((ga.get(DYNAMICS, {}).get("t99", np.nan),
                                             sp.get("delta_min", np.nan),
                                             sp.get("t_boundary", np.nan)))
    out = {}
    for label, values in sorted(groups.items()):
        fits = t99_fits(*zip(*values))
        if fits:
            out[label] = {f.name: f for f in fits}
    return out


_MODELS = {"exponential": (np.log, lambda n: n), "power": (np.log, np.log),
           "linear": (lambda q: q, lambda n: n)}


@dataclass(frozen=True)
class ScalingFit:
    """How one quantity scales with n over one kind of problem.

    Attributes
    ----------
    quantity : str
        "delta_min", "t_boundary", "t99" or "s_star".
    model : str
        "exponential" (q ∝ exp(rate·n)), "power" (q ∝ n^rate) or "linear" (q = a + rate·n).
    rate : float
        The fitted rate, exponent or slope.
    low, high : float
        Its 95 % bootstrap interval (NaN with one problem per n: resampling within each n
        cannot move the fit).
    rms : float
        Root mean square residual: in log10(q) for the exponential and the power law, in q
        for the linear model.
    count : int
        Problems fitted.
    qubits : tuple of int
        The distinct n fitted.
    """

    quantity: str
    model: str
    rate: float
    low: float
    high: float
    rms: float
    count: int
    qubits: tuple

    @property
    def formula(self) -> str:
        if np.isfinite(self.low):
            r = f"{self.rate:.3g} [{self.low:.3g}, {self.high:.3g}]"
        else:  # one problem per n: resampling within each n cannot move the fit
            r = f"{self.rate:.3g} [no interval: one problem per n]"
        return {"exponential": f"∝ exp({r} · n)", "power": f"∝ n^{r}",
                "linear": f"slope {r} per qubit"}[self.model]


def scaling_fit(n, q, quantity: str, model: str, *, n_boot: int = 1000,
                seed: int = 0) -> ScalingFit | None:
    """Fit ``model`` to q against n (see the module's docstring); None with fewer than three
    distinct n among the finite, and for a logarithmic model positive, values."""
    transform, regressor = _MODELS[model]
    n, q = np.asarray(n, float), np.asarray(q, float)
    ok = np.isfinite(q) & (q > 0 if transform is np.log else True)
    n, q = n[ok], q[ok]
    levels = np.unique(n)
    if levels.size < 3:
        return None
    x, y = regressor(n), transform(q)
    slope, intercept = np.polyfit(x, y, 1)
    rms = float(np.sqrt(np.mean((y - (intercept + slope * x)) ** 2)))
    if transform is np.log:
        rms /= np.log(10.0)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(n == v) for v in levels]
    boot = np.empty(n_boot)
    for k in range(n_boot):
        idx = np.concatenate([rng.choice(m, m.size) for m in members])
        boot[k] = np.polyfit(x[idx], y[idx], 1)[0]
    low, high = np.percentile(boot, [2.5, 97.5])
    if all(m.size == 1 for m in members):
        low = high = float("nan")
    return ScalingFit(quantity, model, float(slope), float(low), float(high), rms,
                      int(n.size), tuple(int(v) for v in levels))


#: the quantities whose scaling is fitted, where they are stored, and the models tried
_SCALING = (("delta_min", SPECTRAL, ("exponential", "power")),
            ("t_boundary", SPECTRAL, ("exponential", "power")),
            ("t99", DYNAMICS, ("exponential", "power")),
            ("s_star", SPECTRAL, ("linear",)))


def scaling_by_kind(problems: dict) -> dict[str, list[ScalingFit]]:
    """Every fit of :func:`scaling_fit` per kind of problem (:func:`problem_kind`) that has
    three or more distinct n, from a study's problem instances."""
    groups: dict[str, list] = {}
    for p in problems.values():
        groups.setdefault(problem_kind(p["spec"]), []).append(p)
    out = {}
    for label, members in sorted(groups.items()):
        n = [int(p["spec"].get("n", 0)) for p in members]
        fits = []
        for quantity, group, models in _SCALING:
            q = [p["group_attrs"].get(group, {}).get(quantity, np.nan) for p in members]
            fits += [f for f in (scaling_fit(n, q, quantity, m) for m in models) if f]
        if fits:
            out[label] = fits
    return out
