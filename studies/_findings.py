"""What explains T_99: the minimum gap, the boundary terms, or both (private; used by the
figures and the summary).

Three models of T_99 over a study's problems, each fitted to minimise the relative error:

- ``gap``: T_99 = c / Delta_min^2 (the adiabatic condition's scaling);
- ``boundary``: T_99 = c * T_boundary (the loss from the schedule's kinks at its ends);
- ``combined``: T_99 = a / Delta_min^2 + b * T_boundary (a, b >= 0).

Each is scored by the root mean square of log10(T_99 / prediction) (0: exact; 0.1: within
about 26 %) and by the largest factor between a T_99 and its prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from ._layout import DYNAMICS, SPECTRAL

__all__ = ["T99Fit", "t99_fits", "t99_fits_by_kind"]


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


def t99_fits_by_kind(problems: dict) -> dict[str, dict[str, T99Fit]]:
    """The fits of :func:`t99_fits` per kind of problem ("random selection problems",
    "problems of the paper formulation", ...), from a study's problem instances
    (``StudyData.of_kind("problem")``); kinds with fewer than two usable problems are left
    out. Each value maps a model's name to its fit."""
    groups: dict[str, list] = {}
    for p in problems.values():
        spec, ga = p["spec"], p["group_attrs"]
        label = ("random selection problems" if spec.get("source") == "random"
                 else f"problems of the {spec.get('formulation')} formulation")
        groups.setdefault(label, []).append((ga.get(DYNAMICS, {}).get("t99", np.nan),
                                             ga.get(SPECTRAL, {}).get("delta_min", np.nan),
                                             ga.get(DYNAMICS, {}).get("t_boundary", np.nan)))
    out = {}
    for label, values in sorted(groups.items()):
        fits = t99_fits(*zip(*values))
        if fits:
            out[label] = {f.name: f for f in fits}
    return out
