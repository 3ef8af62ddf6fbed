"""Gap sweeps and the minimum gap of H(s) = A(s) H_D + B(s) H_P.

Which gap (docs/design.md): d = degeneracy of H_P's minimum, counted in the initial state's
symmetry sector; Delta(s) = E_d(s) - E_0(s), from the instantaneous ground state to the first
level that does not end in the ground manifold.
"""

from __future__ import annotations

import json
import time
import warnings
from bisect import bisect_left
from dataclasses import dataclass, field

import dimod
import numpy as np
from scipy.interpolate import CubicHermiteSpline
from scipy.optimize import brentq, minimize_scalar

from ._bound import LevelPoint, gap_lower_bound
from ._hamiltonian import AnnealingHamiltonian
from ._levels import DEFAULT_TOL, Levels, _lowest_levels, _norm_estimate, resolve_backend
from ._schedule import check_s
from ._threads import blas_single_threaded
from .exceptions import SpectralError

__all__ = ["GapSweep", "MinGap", "gap_sweep", "min_gap"]

#: min_gap's coarse sweep: residual tolerance relative to the gap (see min_gap), and the
#: loosest relative residual allowed whatever the gap
COARSE_RTOL = 1e-3
COARSE_LOOSEST = 1e-4
#: min_gap's certification: a minimum lower than Delta_min by less than this fraction may go
#: unrefined; most eigen-solves it may add
CERTIFY_RTOL = 2e-2
MAX_EVALUATIONS = 200


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


def as_hamiltonian(bqm_or_H, schedule=None, scale="auto", sector="auto",
                   memory_limit=None) -> AnnealingHamiltonian:
    """Accept a BQM, or an :class:`AnnealingHamiltonian` (its scale is fixed; a schedule given
    here replaces its own)."""
    if isinstance(bqm_or_H, AnnealingHamiltonian):
        H = bqm_or_H
        if scale != "auto":
            raise SpectralError(
                f"scale={scale!r} applies when building from a BQM; this AnnealingHamiltonian "
                f"already has scale {H.scale:g}. Build it with AnnealingHamiltonian.from_bqm("
                "bqm, scale=...) instead."
            )
        if schedule is not None:
            H = H.with_schedule(schedule)
        return H.in_sector(sector) if sector != "auto" or H.sector == "full" else H
    if isinstance(bqm_or_H, dimod.BinaryQuadraticModel):
        return AnnealingHamiltonian.from_bqm(bqm_or_H, schedule, scale, sector=sector,
                                             memory_limit=memory_limit)
    raise TypeError(
        "expected a dimod.BinaryQuadraticModel or a spectral.AnnealingHamiltonian, got "
        f"{type(bqm_or_H).__name__}."
    )


#: iteration limit of every solve of a sweep (lowest_levels' default)
_MAXITER = 500
#: least budget of a Davidson attempt (matvecs)
_MIN_BUDGET = 100
#: budget of a Davidson attempt at or above the point where Davidson has won, when no Lanczos
#: cost has been learned yet (the coarse sweep's loose solves teach none)
_UNHINTED_BUDGET = 1000
#: Lanczos costs are learned from solves at most this factor looser than the tracker's tol
_LEARN_TOL_FACTOR = 1e3


class _Tracker:
    """Evaluates the lowest levels at any s, warm-started from the nearest point already solved.

    Energies, slopes and residuals are kept for every point; eigenvectors only for the
    most recent points that fit in ``_VECTOR_BYTES`` (at least ``_KEEP_VECTORS``; at n = 24
    one vector is 128 MiB): a point solved far from the last few (a split of the
    certification) then still finds a near warm start.
    """

    _KEEP_VECTORS = 4
    _VECTOR_BYTES = 256 * 2**20

    def __init__(self, H: AnnealingHamiltonian, k: int, backend: str, tol: float,
                 memory_limit, device=None):
        self.H, self.k, self.tol = H, k, tol
        self.backend, self.device = resolve_backend(backend, device, H), device
        self.memory_limit = memory_limit
        self._s: list[float] = []
        self._levels: list[Levels] = []
        self._slopes: list[np.ndarray] = []
        self._tols: list[float] = []
        self._expectations: list[tuple[np.ndarray, np.ndarray]] = []  # (<H_D>_j, <H_P>_j)
        self._vectors: dict[float, np.ndarray] = {}  # insertion-ordered: oldest first
        self._lanczos_cost: dict[float, float] = {}  # Lanczos matvecs per digit of tol
        self._davidson_from = np.inf  # Davidson is the method from here to s = 1
        self._davidson_lost = -1.0  # the highest s where it handed over to Lanczos (-1: none)
        # the eigensolver's basis, reused from point to point: freshly allocated, its pages
        # would be faulted in (and zeroed) at every point, gigabytes per point at n = 24
        self._workspace: dict = {}
        self.evaluations = 0

    def _davidson_budget(self, s: float, tol: float) -> int | None:
        """Matvecs the "auto" backend's Davidson attempt may spend at s; 0: go to Lanczos.

        Davidson's diagonal preconditioner wins late in the anneal (small A(s)) and loses
        early, so the switch is learned as one point on the s axis, by bisection: at or above
        the lowest s where Davidson beat the Lanczos cost learned nearest to it (or 1), it
        runs with up to twice that cost (``_UNHINTED_BUDGET`` while no cost is learned);
        below, it is tried only in the upper half of the interval between the highest s where
        it lost and that point (``None``: the default budget of :func:`lowest_levels`).
        """
        hint = None
        if self._lanczos_cost:  # per digit of tolerance: Lanczos converges about linearly
            per_digit = self._lanczos_cost[min(self._lanczos_cost, key=lambda x: abs(x - s))]
            hint = max(1, round(per_digit * -np.log10(tol)))
        if s >= self._davidson_from:
            return max(2 * hint, _MIN_BUDGET) if hint else _UNHINTED_BUDGET
        if s >= self._davidson_lost + 0.5 * (min(self._davidson_from, 1.0) - self._davidson_lost):
            return max(hint, _MIN_BUDGET) if hint else None
        return 0

    def _learn(self, s: float, lv: Levels, budget: int | None, tol: float) -> None:
        if lv.backend == "matrix-free":
            if tol <= _LEARN_TOL_FACTOR * self.tol:
                # per digit, from solves near the final tolerance only: a loose solve from a
                # good warm start has few digits to gain, and its cost per nominal digit
                # would promise Davidson's budget far too few matvecs
                self._lanczos_cost[s] = max(lv.matvecs, 1) / -np.log10(tol)
            if budget != 0:  # Davidson ran first and handed over
                self._davidson_lost = max(self._davidson_lost, s)
        elif lv.backend == "davidson" and (budget is None or lv.matvecs <= budget):
            self._davidson_from = min(self._davidson_from, s)

    def release(self) -> None:
        """Free the kept eigenvectors and eigensolver basis now."""
        self._workspace.clear()
        self._vectors.clear()

    def __call__(self, s: float, tol: float | None = None) -> tuple[Levels, np.ndarray]:
        """Levels and Hellmann-Feynman slopes at ``s``, to relative residual ``tol`` (default:
        the tracker's); a point solved before to a looser ``tol`` is solved again."""
        s = float(s)
        tol = self.tol if tol is None else max(float(tol), self.tol)
        i = bisect_left(self._s, s)
        known = i < len(self._s) and self._s[i] == s
        if known and self._tols[i] <= tol:
            return self._levels[i], self._slopes[i]
        v0 = None
        if self._vectors:
            v0 = self._vectors[min(self._vectors, key=lambda x: abs(x - s))]
        budget = self._davidson_budget(s, tol)
        lv = _lowest_levels(self.H, s, self.k, v0, backend=self.backend, tol=tol,
                            maxiter=_MAXITER, memory_limit=self.memory_limit, retry=True,
                            budget=budget, workspace=self._workspace, device=self.device)
        self._learn(s, lv, budget, tol)
        hd, hp = self.H.level_expectations(lv.vectors.T)
        da, db = self.H.schedule.derivative(s)
        slopes = da * hd + db * hp
        self._vectors.pop(s, None)
        self._vectors[s] = lv.vectors
        keep = max(self._KEEP_VECTORS, self._VECTOR_BYTES // max(lv.vectors.nbytes, 1))
        if len(self._vectors) > keep:
            del self._vectors[next(iter(self._vectors))]
        lv.vectors = None  # kept only in the bounded cache above
        if known:
            self._levels[i], self._slopes[i], self._tols[i] = lv, slopes, tol
            self._expectations[i] = (hd, hp)
        else:
            self._s.insert(i, s)
            self._levels.insert(i, lv)
            self._slopes.insert(i, slopes)
            self._tols.insert(i, tol)
            self._expectations.insert(i, (hd, hp))
        self.evaluations += 1
        return lv, slopes

    def vectors(self, s: float) -> np.ndarray | None:
        """The eigenvectors at s, columns ``(dim, k)``, while the bounded cache holds them."""
        return self._vectors.get(float(s))

    def known(self, s: float) -> tuple[Levels, np.ndarray]:
        """Levels and slopes of a point solved before, as they were solved."""
        i = bisect_left(self._s, s)
        return self._levels[i], self._slopes[i]

    @property
    def points(self) -> list[float]:
        """Every s solved so far, ascending."""
        return list(self._s)

    def level_point(self, s: float, d: int) -> LevelPoint:
        """Levels 0..d at a solved point, in the variables of :func:`gap_lower_bound`."""
        i = bisect_left(self._s, s)
        lv, (hd, hp) = self._levels[i], self._expectations[i]
        a, b = self.H.coefficients(s)
        w = a + b if a + b > 0 else np.nan  # no bound where A + B vanishes
        return LevelPoint(u=b / w, eps=lv.energies[: d + 1] / w,
                          slopes=(hp - hd)[: d + 1], errors=lv.residuals[: d + 1] / w)


def _setup(bqm_or_H, schedule, scale, sector, levels, memory_limit):
    H = as_hamiltonian(bqm_or_H, schedule, scale, sector, memory_limit)
    d = H.degeneracy
    if d >= H.dim:
        raise SpectralError(
            f"every one of the {H.dim} basis states of sector {H.sector!r} is a ground state of "
            "H_P: there is no excited level and no gap. Check the BQM's biases."
        )
    k = d + 1 if levels is None else int(levels)
    if k < d + 1:
        raise SpectralError(
            f"levels = {k} is too few: the gap E_d - E_0 needs d + 1 = {d + 1} levels "
            f"(H_P's minimum is {d}-fold degenerate in sector {H.sector!r})."
        )
    if k > H.dim:
        raise SpectralError(f"levels must be <= dim = {H.dim}, got {k}.")
    return H, d, k


@blas_single_threaded
def gap_sweep(
    bqm_or_H,
    s,
    levels: int | None = None,
    *,
    schedule=None,
    scale="auto",
    sector: str = "auto",
    backend: str = "auto",
    tol: float = DEFAULT_TOL,
    memory_limit: float | None = None,
    device=None,
) -> GapSweep:
    """Levels E_j(s) and Delta(s) on a grid, each point warm-started from its neighbour.

    Parameters
    ----------
    bqm_or_H : dimod.BinaryQuadraticModel or AnnealingHamiltonian
    s : array_like
        Points in [0, 1] (any order; solved in ascending order).
    levels : int, optional
        Number of levels; default d + 1, the fewest that give Delta.
    schedule, scale, sector
        As in :meth:`AnnealingHamiltonian.from_bqm`; ``sector="auto"`` resolves levels in the
        even sector when the problem has the global spin-flip symmetry.
    backend, tol, memory_limit, device
        As in :func:`lowest_levels`.
    """
    s_arr = check_s(s)
    if s_arr.ndim != 1 or s_arr.size == 0:
        raise SpectralError(f"s must be a non-empty 1-D grid, got shape {s_arr.shape}.")
    H, d, k = _setup(bqm_or_H, schedule, scale, sector, levels, memory_limit)
    start = H.matvecs
    tracker = _Tracker(H, k, backend, tol, memory_limit, device)
    m = s_arr.size
    E, slopes, res = np.empty((k, m)), np.empty((k, m)), np.empty((k, m))
    backends = [""] * m
    for j in np.argsort(s_arr, kind="stable"):
        lv, sl = tracker(s_arr[j])
        E[:, j], slopes[:, j], res[:, j], backends[j] = lv.energies, sl, lv.residuals, lv.backend
    return GapSweep(s=s_arr.copy(), energies=E, gaps=E[d] - E[0], slopes=slopes, residuals=res,
                    degeneracy=d, sector=H.sector, scale=H.scale, matvecs=H.matvecs - start,
                    backends=tuple(backends))


@blas_single_threaded
def min_gap(
    bqm_or_H,
    *,
    schedule=None,
    scale="auto",
    sector: str = "auto",
    s_tol: float = 1e-6,
    rtol: float = 1e-6,
    levels: int | None = None,
    coarse_points: int = 17,
    max_candidates: int | None = None,
    backend: str = "auto",
    tol: float = DEFAULT_TOL,
    coarse_rtol: float = COARSE_RTOL,
    certify_rtol: float = CERTIFY_RTOL,
    max_evaluations: int = MAX_EVALUATIONS,
    memory_limit: float | None = None,
    device=None,
) -> MinGap:
    """The minimum gap Delta_min and its location s*, to a relative ``rtol`` on Delta_min.

    Method.

    1. A coarse sweep (``coarse_points`` equally spaced s, warm-started) gives Delta and its
       slope dDelta/ds (Hellmann-Feynman) at each point; intervals whose cubic Hermite
       interpolant comes near the lowest value are bisected until it predicts their midpoints.
    2. Every interval where the slope turns from negative to positive brackets a local
       minimum. Each is refined, lowest estimate first, unless the bound below proves that
       it stays above the best gap found (``max_candidates`` caps their number; None: all).
       The refinement finds the root of ``g = Delta dDelta/ds = d(Delta**2)/ds / 2`` by
       Brent's method. Near an avoided crossing ``Delta(s)**2 ~ Delta_min**2 + c**2 (s -
       s*)**2``, so g is linear there and its secant steps land on s* at once, where the
       slope dDelta/ds itself is a step of width Delta_min / c. Two points give the hyperbola
       and its predicted minimum ``Delta_pred**2 = Delta**2 - g**2 / g'``; the refinement
       stops when the computed Delta agrees with it to ``rtol`` and the predicted s* lies
       within ``s_tol``.
    3. Certification. For every interval between two solved points, concavity gives a lower
       bound on Delta from the levels at its two ends alone (:mod:`spectral._bound`): with
       ``u = B / (A + B)``, the sum of the lowest j eigenvalues of ``H / (A + B)`` is concave
       in u, so it lies above its chords and below its tangents; the bound falls to about
       ``|e_a - e_b|`` wherever two levels' straight continuations ``e_a``, ``e_b`` cross
       inside the interval, however narrow the avoided crossing. An interval whose bound
       lies below ``(1 - certify_rtol) * Delta_min`` is split where the bound is lowest (at
       the crossing of the continuations) and any new local minimum is refined as in 2,
       until every interval is certified, is narrower than 1e-12, or ``max_evaluations``
       eigen-solves are spent. Near a refined minimum, within 8 widths ``Delta_min / c`` of
       it, the hyperbola itself (checked at those flanks to 10 %) stands in for the bound,
       which cannot certify an interval that holds the minimum.

    Guarantee. With the levels solved exactly (they are solved to residual ``tol`` relative
    to ||H||; the bound subtracts the residuals from the energies but takes the Hellmann-
    Feynman slopes as exact), no s in [0, 1] outside the refined minima's neighbourhoods has
    a gap below ``(1 - certify_rtol) * delta_min``, and ``delta_min`` is a computed gap at
    ``s_star`` (so not below the true minimum by more than the eigen-solver's error) within
    ``delta_rtol`` of the local hyperbola's minimum. What it cannot do: resolve an avoided
    crossing narrower than about 1e-12 in s (double precision of s), or a minimum the
    schedule's kinks make non-smooth (refined by bounded Brent on Delta, ``delta_rtol`` NaN).
    For a schedule that is not affine in s, the bound takes min(A + B) over an interval from
    nine samples. Intervals left uncertified are listed in ``uncertified`` with a warning.

    Parameters
    ----------
    bqm_or_H : dimod.BinaryQuadraticModel or AnnealingHamiltonian
    schedule, scale, sector
        As in :meth:`AnnealingHamiltonian.from_bqm`.
    s_tol : float
        Tolerance on s* (the hyperbola's predicted s* must lie this close).
    rtol : float
        Relative tolerance on Delta_min (the refinement's stopping rule, see 2).
    levels : int, optional
        Levels to record in the coarse sweep (default d + 1).
    coarse_points : int
        Points of the coarse sweep (>= 3).
    max_candidates : int, optional
        Most local minima refined; None (default): every one the bound cannot exclude.
    backend, tol, memory_limit, device
        As in :func:`lowest_levels`; ``tol`` applies to every point but the coarse sweep's.
    coarse_rtol : float
        Accuracy of the coarse sweep relative to the gap. Its points only locate the brackets
        (a point used in the refinement is solved again to ``tol``), so each is solved to the
        absolute residual ``coarse_rtol * Delta``, with Delta taken from the previous point
        and the point solved again if its own gap turns out smaller; never looser than a
        relative residual of 1e-4, never tighter than ``tol``. A level's error is at most its
        residual (and about residual**2 / spacing for an isolated level), so the coarse gaps
        are accurate to about ``coarse_rtol``; where the gap is wide this needs far fewer
        matvecs than a fixed tolerance.
    certify_rtol : float
        Slack of the certification (see 3): a minimum lower than ``delta_min`` by less than
        this fraction may go unrefined.
    max_evaluations : int
        Most eigen-solves that the certification may add.

    Returns
    -------
    MinGap
    """
    t0 = time.perf_counter()
    if not (np.isfinite(s_tol) and 0 < s_tol < 0.5):
        raise SpectralError(f"s_tol must be in (0, 0.5), got {s_tol!r}.")
    for name, value in (("rtol", rtol), ("coarse_rtol", coarse_rtol),
                        ("certify_rtol", certify_rtol)):
        if not (np.isfinite(value) and 0 < value < 1):
            raise SpectralError(f"{name} must be in (0, 1), got {value!r}.")
    if int(coarse_points) < 3:
        raise SpectralError(f"coarse_points must be >= 3, got {coarse_points!r}.")
    if max_candidates is not None and int(max_candidates) < 1:
        raise SpectralError(f"max_candidates must be >= 1 or None, got {max_candidates!r}.")
    if int(max_evaluations) < 0:
        raise SpectralError(f"max_evaluations must be >= 0, got {max_evaluations!r}.")
    H, d, k = _setup(bqm_or_H, schedule, scale, sector, levels, memory_limit)
    if H.schedule.signed:
        raise SpectralError(f"min_gap needs a schedule with A(s), B(s) >= 0 (its certificate "
                            f"bounds the levels in B/(A + B)); {H.schedule!r} was built with "
                            "signed=True. Use gap_sweep for the gap along a signed sweep.")
    start = H.matvecs
    tracker = _Tracker(H, k, backend, tol, memory_limit, device)
    try:
        grid = np.linspace(0.0, 1.0, int(coarse_points))
        E = np.empty((k, grid.size))
        slopes = np.empty(grid.size)

        def solve_to_gap(s, estimate, rtol_gap):
            """Levels and slopes at s to a residual of ``rtol_gap`` times the gap, from an
            estimate of it (None: the loosest); solved again if the gap found is less than half
            that."""
            rel = _coarse_tol(H, s, estimate, rtol_gap, tol)
            lv, sl = tracker(s, rel)
            tighter = _coarse_tol(H, s, float(lv.energies[d] - lv.energies[0]), rtol_gap, tol)
            if tighter < 0.5 * rel:
                lv, sl = tracker(s, tighter)
            return lv, float(sl[d] - sl[0])

        reference = None  # the gap at the previous point
        for j, s in enumerate(grid):
            lv, slopes[j] = solve_to_gap(s, reference, coarse_rtol)
            E[:, j] = lv.energies
            reference = float(E[d, j] - E[0, j])
        gaps = E[d] - E[0]

        def subdivide(s, predicted, rtol_gap=_ADAPT_RTOL):
            """Delta and its slope at a new point, to ``rtol_gap`` of the gap (it only has to
            check a prediction or a bound); a point the refinement uses later is solved again to
            ``tol``."""
            lv, slope = solve_to_gap(s, max(predicted, 0.0), rtol_gap)
            return float(lv.energies[d] - lv.energies[0]), slope

        # adaptive refinement near the bottom: subdivide every interval whose cubic Hermite
        # interpolant could hold a value near the lowest one, until the interpolant predicts the
        # midpoint correctly -- this resolves level crossings of E_d with E_{d+1} that put two
        # local minima inside one coarse interval
        s_pts, g_pts, d_pts = _adaptive_points(grid, gaps, slopes, subdivide, s_tol)

        search = _Search(H, tracker, d, rtol, s_tol, subdivide)
        search.add_end_points()
        brackets = []
        for j in range(s_pts.size - 1):
            if d_pts[j] < 0.0 < d_pts[j + 1] or (d_pts[j] < 0.0 and d_pts[j + 1] == 0.0):
                est = _hermite_min(s_pts[j], s_pts[j + 1], g_pts[j], g_pts[j + 1], d_pts[j],
                                   d_pts[j + 1])
                brackets.append((est, s_pts[j], s_pts[j + 1], "slope"))
        jmin = int(np.argmin(g_pts))
        if not brackets and 0 < jmin < s_pts.size - 1:
            brackets.append((float(g_pts[jmin]), s_pts[jmin - 1], s_pts[jmin + 1], "value"))
        brackets.sort(key=lambda b: b[0])
        cap = np.inf if max_candidates is None else int(max_candidates)
        for _, lo, hi, how in brackets:
            if search.refined >= cap:
                break
            search.examine(lo, hi, how)
        uncertified = search.certify(certify_rtol, int(max_evaluations), cap)
        if uncertified:
            shown = ", ".join(f"[{lo:.9g}, {hi:.9g}]" for lo, hi, _ in uncertified[:3])
            warnings.warn(
                f"min_gap: {len(uncertified)} interval(s) of s could not be certified free of a gap "
                f"below {(1 - certify_rtol) * search.best['delta']:.3e} ({shown}); raise "
                "max_evaluations, or scan them with gap_sweep.", RuntimeWarning, stacklevel=2)
        best = search.best
        final = tracker(best["s"])[0]
        return MinGap(
            delta_min=float(best["delta"]), s_star=float(best["s"]), degeneracy=d,
            sector=H.sector, n=H.n, scale=H.scale, s=grid, energies=E, gaps=gaps,
            residuals=final.residuals, matvecs=H.matvecs - start, evaluations=tracker.evaluations,
            candidates=search.candidates, seconds=time.perf_counter() - t0,
            delta_rtol=search.achieved_rtol(), uncertified=uncertified, certify_rtol=certify_rtol,
        )
    finally:
        # the search's closures form reference cycles that would keep the tracker, and so
        # its eigenvectors and eigensolver basis (gigabytes at n = 24), alive until the
        # cyclic garbage collector happens to run
        tracker.release()


class _Converged(Exception):
    """Raised from inside brentq's objective when the hyperbola test is met (brentq has no
    stopping rule on the function's values)."""


#: the hyperbola's width Delta_min / c: how many of them the neighbourhood of a refined
#: minimum spans, and how closely the model must predict Delta at its flanks
_FLANK_WIDTHS = 8.0
_FLANK_RTOL = 0.1
#: intervals of s narrower than this are not split (s is a double; near 1 its ulp is 1.1e-16)
_RESOLUTION = 1e-12
#: most intervals split per round of the certification; residual of a split's levels relative
#: to the gap (the bound subtracts 3 x 4 residuals: 0.12 % of the gap, within certify_rtol)
_CERTIFY_SPLITS = 8
_CERTIFY_POINT_RTOL = 1e-4


class _Search:
    """min_gap's candidates, the refinement of local minima and the certification."""

    def __init__(self, H, tracker, d, rtol, s_tol, subdivide):
        self.H, self.tracker, self.d = H, tracker, d
        self.rtol, self.s_tol, self.subdivide = rtol, s_tol, subdivide
        self.candidates: list[dict] = []
        self.owned: list[tuple[float, float]] = []  # neighbourhoods of refined minima
        self.refined = 0
        self.best = None

    def _add(self, cand: dict) -> None:
        self.candidates.append(cand)
        if self.best is None or cand["delta"] < self.best["delta"]:
            self.best = cand

    def add_end_points(self) -> None:
        """s = 0 and s = 1 as candidates, solved to full tolerance (H is the driver or
        diagonal there: their levels are known in closed form)."""
        for s in (0.0, 1.0):
            delta = self.gap(s)
            self._add({"s": s, "delta": delta, "bracket": (s, s),
                       "delta_rtol": self.gap_error(s) / delta})

    def gap(self, s: float) -> float:
        lv = self.tracker(s)[0]
        return _delta(lv, self.d)

    def gap_and_g(self, s: float) -> tuple[float, float]:
        """Delta and ``g = Delta dDelta/ds`` at the tracker's full tolerance."""
        lv, sl = self.tracker(s)
        delta = _delta(lv, self.d)
        return delta, delta * float(sl[self.d] - sl[0])

    def bound(self, lo: float, hi: float) -> tuple[float, float, float]:
        """A lower bound on Delta over [lo, hi] (both solved), where to split the interval,
        and how much of the bound's shortfall the two ends' eigenvalue errors make."""
        pa, pb = self.tracker.level_point(lo, self.d), self.tracker.level_point(hi, self.d)
        low, u = gap_lower_bound(pa, pb, self.d)
        if not np.isfinite(low):
            return -np.inf, 0.5 * (lo + hi), 0.0
        a, b = self.H.schedule(np.linspace(lo, hi, 9))
        w = a + b
        bound = low * (w.min() if low >= 0 else w.max())
        x = lo + (u - pa.u) / (pb.u - pa.u) * (hi - lo)
        edge = 0.01 * (hi - lo)
        if not (lo + edge < x < hi - edge):
            x = 0.5 * (lo + hi)  # lowest at an end: halve
        errors = 3.0 * float(pa.errors.sum() + pb.errors.sum()) * w.max()
        return float(bound), float(x), errors

    def examine(self, lo: float, hi: float, how: str) -> None:
        """Refine the local minimum in [lo, hi] unless the bound puts it above the best."""
        if self.bound(lo, hi)[0] >= self.best["delta"]:
            return
        self.refined += 1
        if how == "slope" and self.gap_and_g(lo)[1] * self.gap_and_g(hi)[1] > 0.0:
            how = "value"  # the coarse slopes' signs did not survive the full tolerance
        if how == "slope":
            self._add(self._refine_slope(lo, hi))
        else:
            s_c = minimize_scalar(self.gap, bounds=(lo, hi), method="bounded",
                                  options={"xatol": self.s_tol}).x
            self._add({"s": float(s_c), "delta": self.gap(s_c), "bracket": (float(lo), float(hi)),
                       "delta_rtol": float("nan")})

    def _refine_slope(self, lo: float, hi: float) -> dict:
        """Brent's root of g = Delta dDelta/ds in [lo, hi], stopped by the hyperbola test."""
        history: list[tuple[float, float, float]] = []  # (s, Delta, g)

        def g(s):
            delta, value = self.gap_and_g(s)
            history.append((s, delta, value))
            rel, c2 = _hyperbola(history[-1], history[:-1])
            if rel <= self.rtol and abs(value / c2) <= self.s_tol:
                raise _Converged
            return value

        try:
            brentq(g, lo, hi, xtol=_RESOLUTION, rtol=4 * np.finfo(float).eps, maxiter=200)
        except (_Converged, RuntimeError):  # RuntimeError: brentq's iterations ran out
            pass
        lowest = min(history, key=lambda h: h[1])
        rel, c2 = _hyperbola(lowest, [h for h in history if h is not lowest])
        rel = max(rel, self.gap_error(lowest[0]) / lowest[1])
        cand = {"s": float(lowest[0]), "delta": float(lowest[1]),
                "bracket": (float(lo), float(hi)), "delta_rtol": float(rel)}
        self._own(cand, c2, lo, hi)
        return cand

    def gap_error(self, s: float) -> float:
        """A bound on the error of the computed Delta at a point solved to full tolerance.

        Each Ritz value lies within its residual r_j of an eigenvalue (Weyl), so Delta is off
        by at most ``r_0 + r_d``. Where that exceeds ``rtol * Delta`` (a tiny gap, solved
        iteratively) the point is solved once more with one level more: the levels 0..d,
        separated by ``eta`` from level d + 1, are then off by at most ``sum r_j**2 / eta``
        each (the quadratic residual bound of a cluster). Never below the rounding of the
        computed gap itself (:func:`_rounding_floor`).
        """
        lv, _ = self.tracker.known(s)
        d = self.d
        a, b = self.H.coefficients(s)
        floor = _rounding_floor(self.H, a, b)
        delta = _delta(lv, d)
        error = float(lv.residuals[0] + lv.residuals[d])
        if error > self.rtol * delta and d + 2 <= self.H.dim:
            more = _lowest_levels(self.H, s, d + 2, self.tracker.vectors(s),
                                  backend=self.tracker.backend, tol=self.tracker.tol,
                                  maxiter=_MAXITER, memory_limit=self.tracker.memory_limit,
                                  retry=True, device=self.tracker.device)
            r = more.residuals
            eta = float(more.energies[d + 1] - more.energies[d] - r[d + 1] - r[d])
            if eta > 0:
                error = min(error, 2.0 * float(np.sum(r[: d + 1] ** 2)) / eta)
        return max(error, floor)

    def _own(self, cand: dict, c2: float, lo: float, hi: float) -> None:
        """Mark the neighbourhood of a refined minimum where its hyperbola predicts Delta at
        both flanks to ``_FLANK_RTOL`` (a side that fails is left to the bound)."""
        s_c, delta = cand["s"], cand["delta"]
        if not (np.isfinite(c2) and c2 > 0):
            return
        reach = _FLANK_WIDTHS * delta / np.sqrt(c2)
        ends = []
        for x in (s_c - reach, s_c + reach):
            x = min(max(x, lo), hi)
            if x == s_c:
                ends.append(s_c)
                continue
            model = np.sqrt(delta**2 + c2 * (x - s_c) ** 2)
            value = self.subdivide(x, model)[0] if x not in (lo, hi) else self.gap(x)
            ends.append(x if abs(value - model) <= _FLANK_RTOL * model else s_c)
        if ends[1] > ends[0]:
            self.owned.append((ends[0], ends[1]))

    def _is_owned(self, lo: float, hi: float) -> bool:
        return any(a <= lo and hi <= b for a, b in self.owned)

    def certify(self, certify_rtol: float, budget: int, cap: float) -> list:
        """Split every interval whose bound lies below the best gap (see :func:`min_gap`, 3);
        returns the intervals left ``[(lo, hi, bound), ...]``."""
        spent = 0
        while True:
            threshold = (1.0 - certify_rtol) * self.best["delta"]
            pts = self.tracker.points
            todo = []
            for lo, hi in zip(pts[:-1], pts[1:]):
                if self._is_owned(lo, hi):
                    continue
                low, x, errors = self.bound(lo, hi)
                if low < threshold:
                    todo.append((low, lo, hi, x, low + errors >= threshold))
            if not todo:
                return []
            todo.sort()
            splittable = [t for t in todo if t[2] - t[1] > _RESOLUTION]
            if not splittable or spent >= budget:
                return [(float(lo), float(hi), float(low)) for low, lo, hi, _, _ in todo]
            for low, lo, hi, x, loose in splittable[:_CERTIFY_SPLITS]:
                if spent >= budget:
                    break
                before = self.tracker.evaluations
                if loose:  # short by the ends' errors alone: solve them tighter, not split
                    for end in (lo, hi):
                        self.subdivide(end, self.gap_estimate(end), _CERTIFY_POINT_RTOL)
                    spent += self.tracker.evaluations - before
                    if self.tracker.evaluations > before:
                        continue
                estimate = min(self.gap_estimate(lo), self.gap_estimate(hi))
                self.subdivide(x, estimate, _CERTIFY_POINT_RTOL)
                spent += 1
                slopes = [self.slope_estimate(p) for p in (lo, x, hi)]
                for (a, b), (sa, sb) in zip(((lo, x), (x, hi)), zip(slopes[:-1], slopes[1:])):
                    if sa < 0.0 < sb and self.refined < cap:
                        self.examine(a, b, "slope")

    def achieved_rtol(self) -> float:
        """The best candidate's accuracy, widened by any other candidate whose own accuracy
        reaches below it (e.g. an end point next to an interior minimum refined to within
        ``rtol`` of a value just above the end point's)."""
        best = self.best
        rel = best["delta_rtol"]
        for cand in self.candidates:
            if cand is not best and np.isfinite(cand["delta_rtol"]):
                reach = cand["delta"] * (1.0 - cand["delta_rtol"])
                if reach < best["delta"]:
                    rel = max(rel, 1.0 - reach / best["delta"])
        return float(rel)

    def gap_estimate(self, s: float) -> float:
        """Delta at a solved point, as solved (no new solve)."""
        lv, _ = self.tracker.known(s)
        return _delta(lv, self.d)

    def slope_estimate(self, s: float) -> float:
        """dDelta/ds at a solved point, as solved."""
        _, sl = self.tracker.known(s)
        return float(sl[self.d] - sl[0])


def _rounding_floor(H, a: float, b: float) -> float:
    """What double precision resolves of a computed gap at H(s) = a H_D + b H_P.

    Each level is a Rayleigh quotient ``x^T (H x)`` (``lowest_levels`` recomputes it from the
    final vectors): the matvec sums ``t`` terms per row (the flips and the diagonal), the
    inner product ``2**nbits`` products, which blocked summation resolves like pairwise
    summation, to ``nbits`` roundings. Each level is therefore off by up to about
    ``(t + nbits) eps ||H(s)||``, and the gap by twice that. A minimum gap near this floor
    is not resolved: its ``delta_rtol`` approaches or exceeds 1.
    """
    terms = H.nbits + (H.flip_sign != 0.0) + 1
    return 2.0 * (terms + H.nbits) * np.finfo(float).eps * _norm_estimate(H, a, b)


def _delta(lv: Levels, d: int) -> float:
    """Delta = E_d - E_0 of solved levels."""
    return float(lv.energies[d] - lv.energies[0])


def _hyperbola(point, others) -> tuple[float, float]:
    """``(rel, c2)``: the hyperbola ``Delta**2 = Delta_min**2 + c2 (s - s*)**2`` through
    ``point = (s, Delta, g)`` and the point of ``others`` nearest to it (g = Delta dDelta/ds,
    so ``c2 = dg/ds``), and the relative distance ``1 - Delta_min / Delta`` of its minimum below
    ``point``'s Delta; ``(inf, nan)`` where no such hyperbola exists."""
    s, delta, g = point
    others = [h for h in others if h[0] != s]
    if not others or not delta > 0:
        return float("inf"), float("nan")
    s1, _, g1 = min(others, key=lambda h: abs(h[0] - s))
    c2 = (g - g1) / (s - s1)
    if not c2 > 0:
        return float("inf"), float("nan")
    predicted = delta**2 - g**2 / c2
    if predicted < 0:
        return float("inf"), float(c2)
    return float(1.0 - np.sqrt(predicted) / delta), float(c2)


def _coarse_tol(H: AnnealingHamiltonian, s: float, gap: float | None, rtol: float,
                tol: float) -> float:
    """Relative residual tolerance (the unit of :func:`lowest_levels`) for an absolute residual
    ``rtol * gap``, clipped to ``[tol, COARSE_LOOSEST]``; ``gap=None``: the loosest."""
    if gap is None:
        return COARSE_LOOSEST
    a, b = H.coefficients(s)
    return float(np.clip(rtol * max(gap, 0.0) / _norm_estimate(H, a, b), tol, COARSE_LOOSEST))


#: relative error of the Hermite midpoint prediction that counts as "resolved"
_HERMITE_RTOL = 1e-3
#: accuracy of the subdivision's points relative to the gap (see ``subdivide`` in min_gap)
_ADAPT_RTOL = 1e-5
#: most rounds of adaptive subdivision, and most new points per round
_ADAPT_ROUNDS = 8
_ADAPT_POINTS = 8


def _hermite_min(a, b, ga, gb, da, db) -> float:
    xs = np.linspace(a, b, 17)
    return float(np.min(CubicHermiteSpline([a, b], [ga, gb], [da, db])(xs)))


def _adaptive_points(grid, gaps, slopes, evaluate, s_tol):
    """Subdivide intervals near the bottom of Delta(s) until cubic Hermite interpolation of
    (Delta, dDelta/ds) predicts each new midpoint to a relative 1e-3; ``evaluate(s,
    predicted)`` returns (Delta, dDelta/ds) at a new point."""
    pts = {float(s): (float(g), float(d)) for s, g, d in zip(grid, gaps, slopes)}
    resolved: set[tuple[float, float]] = set()
    for _ in range(_ADAPT_ROUNDS):
        s_arr = np.array(sorted(pts))
        g_arr = np.array([pts[s][0] for s in s_arr])
        d_arr = np.array([pts[s][1] for s in s_arr])
        floor = float(g_arr.min())
        todo = []
        for j in range(s_arr.size - 1):
            a, b = s_arr[j], s_arr[j + 1]
            if (a, b) in resolved or b - a <= 64 * s_tol:
                continue
            est = _hermite_min(a, b, g_arr[j], g_arr[j + 1], d_arr[j], d_arr[j + 1])
            if est <= floor + 0.25 * abs(floor):
                todo.append((est, a, b, g_arr[j], g_arr[j + 1], d_arr[j], d_arr[j + 1]))
        if not todo:
            break
        todo.sort()
        for est, a, b, ga, gb, da, db in todo[:_ADAPT_POINTS]:
            mid = 0.5 * (a + b)
            predicted = float(CubicHermiteSpline([a, b], [ga, gb], [da, db])(mid))
            value, slope = evaluate(mid, predicted)
            pts[mid] = (value, slope)
            if abs(predicted - value) <= _HERMITE_RTOL * abs(value) + 1e-12:
                resolved.update({(a, mid), (mid, b)})
    s_arr = np.array(sorted(pts))
    return s_arr, np.array([pts[s][0] for s in s_arr]), np.array([pts[s][1] for s in s_arr])
