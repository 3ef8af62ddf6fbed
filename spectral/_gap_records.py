"""What a gap sweep and a minimum-gap search return (private): :class:`GapSweep` and
:class:`MinGap`, each with its record for the study file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ._search import CERTIFY_RTOL

__all__ = ["GapSweep", "MinGap"]


@dataclass
class GapSweep:
    """Levels and gap on a grid of s.

    Attributes
    ----------
    s : (m,) ndarray
        Schedule points, as given.
    energies : (levels, m) ndarray
        E_j(s), dimensionless.
    gaps : (m,) ndarray
        Delta(s) = E_d(s) - E_0(s).
    slopes : (levels, m) ndarray
        dE_j/ds by Hellmann-Feynman.
    residuals : (levels, m) ndarray
        Residual norms of the eigenpairs.
    degeneracy : int
        d, the degeneracy of H_P's minimum in ``sector``.
    sector : str
        ``"full"`` or ``"even"`` (or ``"odd"`` if asked for).
    scale : float
        Divisor applied to the BQM energies.
    matvecs : int
        Operator applications used.
    backends : tuple of str
        Backend used at each point.
    """

    s: np.ndarray
    energies: np.ndarray
    gaps: np.ndarray
    slopes: np.ndarray
    residuals: np.ndarray
    degeneracy: int
    sector: str
    scale: float
    matvecs: int
    backends: tuple = ()


@dataclass
class MinGap:
    """The minimum gap Delta_min = min_s Delta(s) and its location s*.

    Attributes
    ----------
    delta_min : float
        Minimum of Delta(s) = E_d(s) - E_0(s) over s in [0, 1] (dimensionless energy, in the
        units of the scaled H; multiply by ``scale`` for the BQM's energy unit).
    s_star : float
        argmin, located by refinement to within ``s_tol``.
    degeneracy : int
        d, degeneracy of H_P's minimum counted in ``sector``.
    sector : str
        ``"full"`` or ``"even"``.
    n : int
        Number of qubits.
    scale : float
        Divisor applied to the BQM energies.
    s, energies, gaps : ndarray
        The coarse sweep: points (m,), levels (levels, m), Delta (m,); each point solved to a
        residual of ``coarse_rtol`` (default 1e-3) times its gap, so its levels are accurate to
        about that fraction of the gap (see :func:`min_gap`).
    residuals : (levels,) ndarray
        Residual norms of the eigenpairs at s*.
    matvecs : int
        Operator applications in total.
    evaluations : int
        Eigen-solves in total (coarse sweep + refinement).
    candidates : list of dict
        The end points and every refined local minimum: ``{"s": .., "delta": .., "bracket":
        (lo, hi), "delta_rtol": ..}``.
    seconds : float
        Wall time.
    delta_rtol : float
        Achieved relative accuracy of ``delta_min``: the larger of ``1 - Delta_pred /
        delta_min``, with Delta_pred the minimum of the hyperbola through the two refined
        points nearest s* (none at an end point), and the eigensolver's error bound on the
        computed gap over ``delta_min``, never below what double precision resolves of a gap
        (about ``4 n eps ||H(s*)||``: 4e-6 of a gap of 1e-8 at 14 qubits); NaN where the
        minimum was refined on Delta alone (see :func:`min_gap`).
    uncertified : list of tuple
        Intervals ``(lo, hi, bound)`` of s that the certification could not clear of a gap
        below ``(1 - certify_rtol) * delta_min`` (empty when all of [0, 1] is certified).
    certify_rtol : float
        The certification's slack (see :func:`min_gap`).
    """

    delta_min: float
    s_star: float
    degeneracy: int
    sector: str
    n: int
    scale: float
    s: np.ndarray
    energies: np.ndarray
    gaps: np.ndarray
    residuals: np.ndarray
    matvecs: int
    evaluations: int
    candidates: list = field(default_factory=list)
    seconds: float = 0.0
    delta_rtol: float = float("nan")
    uncertified: list = field(default_factory=list)
    certify_rtol: float = CERTIFY_RTOL

    @property
    def certified(self) -> bool:
        """True when no interval of [0, 1] was left uncertified."""
        return not self.uncertified

    def to_record(self) -> tuple[dict[str, np.ndarray], dict]:
        """``(datasets, attrs)``: the coarse sweep and the residuals as arrays, the scalars
        (and ``uncertified`` as JSON) as attributes. What a study stores in its ``spectral``
        group; keys are relative to that group (nothing pickled)."""
        datasets = {"s": np.asarray(self.s, float), "energies": np.asarray(self.energies, float),
                    "gaps": np.asarray(self.gaps, float),
                    "residuals": np.asarray(self.residuals, float)}
        attrs = {"delta_min": float(self.delta_min), "s_star": float(self.s_star),
                 "degeneracy": int(self.degeneracy), "sector": self.sector, "n": int(self.n),
                 "scale": float(self.scale), "matvecs": int(self.matvecs),
                 "evaluations": int(self.evaluations), "delta_rtol": float(self.delta_rtol),
                 "certified": bool(self.certified), "certify_rtol": float(self.certify_rtol),
                 "uncertified": json.dumps([[float(x) for x in u] for u in self.uncertified]),
                 "seconds": float(self.seconds)}
        return datasets, attrs

    def to_dict(self) -> dict:
        """A JSON-serialisable summary (arrays as lists): :meth:`to_record` with the refined
        candidates."""
        datasets, attrs = self.to_record()
        out = {key: value.tolist() for key, value in datasets.items()}
        out.update(attrs, uncertified=json.loads(attrs["uncertified"]),
                   candidates=self.candidates)
        return out
