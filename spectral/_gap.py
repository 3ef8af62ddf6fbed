"""Gap sweeps and the minimum gap of H(s) = A(s) H_D + B(s) H_P.

Which gap (DESIGN.md): d = degeneracy of H_P's minimum, counted in the initial state's
symmetry sector; Delta(s) = E_d(s) - E_0(s), from the instantaneous ground state to the first
level that does not end in the ground manifold.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from dataclasses import dataclass, field

import dimod
import numpy as np
from scipy.interpolate import CubicHermiteSpline
from scipy.optimize import brentq, minimize_scalar

from ._hamiltonian import AnnealingHamiltonian
from ._levels import DEFAULT_TOL, Levels, _lowest_levels, _norm_estimate
from ._schedule import check_s
from ._threads import blas_single_threaded
from .exceptions import SpectralError

__all__ = ["GapSweep", "MinGap", "gap_sweep", "min_gap"]

#: min_gap's coarse sweep: residual tolerance relative to the gap (see min_gap), and the
#: loosest relative residual allowed whatever the gap
COARSE_RTOL = 1e-3
COARSE_LOOSEST = 1e-4


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
        Every refined local minimum: ``{"s": .., "delta": .., "bracket": (lo, hi)}``.
    seconds : float
        Wall time.
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

    def to_dict(self) -> dict:
        """A JSON-serialisable summary (arrays as lists)."""
        return {
            "delta_min": self.delta_min, "s_star": self.s_star, "degeneracy": self.degeneracy,
            "sector": self.sector, "n": self.n, "scale": self.scale,
            "s": self.s.tolist(), "energies": self.energies.tolist(), "gaps": self.gaps.tolist(),
            "residuals": self.residuals.tolist(), "matvecs": self.matvecs,
            "evaluations": self.evaluations, "candidates": self.candidates,
            "seconds": self.seconds,
        }


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
    ``_KEEP_VECTORS`` most recent points (at n = 24 one vector is 128 MiB).
    """

    _KEEP_VECTORS = 4

    def __init__(self, H: AnnealingHamiltonian, k: int, backend: str, tol: float,
                 memory_limit):
        self.H, self.k, self.backend, self.tol = H, k, backend, tol
        self.memory_limit = memory_limit
        self._s: list[float] = []
        self._levels: list[Levels] = []
        self._slopes: list[np.ndarray] = []
        self._tols: list[float] = []
        self._vectors: dict[float, np.ndarray] = {}  # insertion-ordered: oldest first
        self._lanczos_cost: dict[float, float] = {}  # Lanczos matvecs per digit of tol
        self._davidson_from = np.inf  # Davidson is the method from here to s = 1
        self._davidson_lost = -1.0  # the highest s where it handed over to Lanczos (-1: none)
        # the eigensolver's basis, reused from point to point: freshly allocated, its pages
        # were faulted in (and zeroed) at every point -- 6 GB per point at n = 24; measured
        # at n = 22, the run's time in the kernel fell from 36 s to 15 s
        self._workspace: dict = {}
        self.evaluations = 0

    def _davidson_budget(self, s: float, tol: float) -> int | None:
        """Matvecs the "auto" backend's Davidson attempt may spend at s; 0: go to Lanczos.

        Davidson's diagonal preconditioner wins late in the anneal (small A(s)) and loses
        early, so the switch is learned as one point on the s axis, by bisection: at or above
        the lowest s where Davidson beat the Lanczos cost measured nearest to it (or 1), it
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
                # would promise Davidson's budget far too few matvecs (measured at 20 qubits:
                # a hint of 126 where Lanczos then needed 1019)
                self._lanczos_cost[s] = max(lv.matvecs, 1) / -np.log10(tol)
            if budget != 0:  # Davidson was tried and handed over
                self._davidson_lost = max(self._davidson_lost, s)
        elif lv.backend == "davidson" and (budget is None or lv.matvecs <= budget):
            self._davidson_from = min(self._davidson_from, s)

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
        lv = _lowest_levels(self.H, s, self.k, v0, self.backend, tol, 500,
                            self.memory_limit, True, budget, self._workspace)
        self._learn(s, lv, budget, tol)
        slopes = self.H.level_slopes(s, lv.vectors.T)
        self._vectors.pop(s, None)
        self._vectors[s] = lv.vectors
        if len(self._vectors) > self._KEEP_VECTORS:
            del self._vectors[next(iter(self._vectors))]
        lv.vectors = None  # kept only in the bounded cache above
        if known:
            self._levels[i], self._slopes[i], self._tols[i] = lv, slopes, tol
        else:
            self._s.insert(i, s)
            self._levels.insert(i, lv)
            self._slopes.insert(i, slopes)
            self._tols.insert(i, tol)
        self.evaluations += 1
        return lv, slopes


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
    backend, tol, memory_limit
        As in :func:`lowest_levels`.
    """
    s_arr = check_s(s)
    if s_arr.ndim != 1 or s_arr.size == 0:
        raise SpectralError(f"s must be a non-empty 1-D grid, got shape {s_arr.shape}.")
    H, d, k = _setup(bqm_or_H, schedule, scale, sector, levels, memory_limit)
    start = H.matvecs
    tracker = _Tracker(H, k, backend, tol, memory_limit)
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
    levels: int | None = None,
    coarse_points: int = 17,
    max_candidates: int = 4,
    backend: str = "auto",
    tol: float = DEFAULT_TOL,
    coarse_rtol: float = COARSE_RTOL,
    memory_limit: float | None = None,
) -> MinGap:
    """The minimum gap Delta_min and its location s*, refined to ``|s - s*| <= s_tol``.

    Method: a coarse sweep (``coarse_points`` equally spaced s, warm-started) gives Delta and
    its slope dDelta/ds (Hellmann-Feynman) at each point. Intervals whose cubic Hermite
    interpolant comes within 25 % of the lowest value are bisected until the interpolant
    predicts the midpoint to 1e-3 (this separates two minima that a crossing of E_d with
    E_{d+1} can put into one coarse interval). Every interval where the slope turns from
    negative to positive brackets a local minimum -- even one narrower than the grid spacing.
    Brackets are ranked by the minimum of the cubic Hermite interpolant of Delta and refined in that order by Brent's root search on the slope (``xtol = s_tol``), until the
    next bracket's estimate cannot beat the best refined value (at most ``max_candidates``).
    The end points s = 0 and s = 1 are candidates too. If no bracket exists (e.g. kinks of
    a tabulated schedule) the neighbourhood of the grid minimum is refined by bounded Brent
    minimisation of Delta itself.

    Parameters
    ----------
    bqm_or_H : dimod.BinaryQuadraticModel or AnnealingHamiltonian
    schedule, scale, sector
        As in :meth:`AnnealingHamiltonian.from_bqm`.
    s_tol : float
        Tolerance on s*.
    levels : int, optional
        Levels to record in the coarse sweep (default d + 1).
    coarse_points : int
        Points of the coarse sweep (>= 3).
    max_candidates : int
        Most local minima refined.
    backend, tol, memory_limit
        As in :func:`lowest_levels`; ``tol`` applies to every point but the coarse sweep's.
    coarse_rtol : float
        Accuracy of the coarse sweep relative to the gap. Its points only locate the brackets
        (a point used in the refinement is solved again to ``tol``), so each is solved to the
        absolute residual ``coarse_rtol * Delta``, with Delta taken from the previous point
        and the point solved again if its own gap turns out smaller; never looser than a
        relative residual of 1e-4, never tighter than ``tol``. A level's error is at most its
        residual (and about residual**2 / spacing for an isolated level), so the coarse gaps
        are accurate to about ``coarse_rtol``. Where the gap is wide (early and midway)
        this needs far fewer matvecs than a fixed tolerance: about 4x fewer for the coarse
        sweep than the former relative 1e-7 (measured at 16 and 20 qubits).

    Returns
    -------
    MinGap
    """
    t0 = time.perf_counter()
    if not (np.isfinite(s_tol) and 0 < s_tol < 0.5):
        raise SpectralError(f"s_tol must be in (0, 0.5), got {s_tol!r}.")
    if not (np.isfinite(coarse_rtol) and 0 < coarse_rtol < 1):
        raise SpectralError(f"coarse_rtol must be in (0, 1), got {coarse_rtol!r}.")
    if int(coarse_points) < 3:
        raise SpectralError(f"coarse_points must be >= 3, got {coarse_points!r}.")
    H, d, k = _setup(bqm_or_H, schedule, scale, sector, levels, memory_limit)
    start = H.matvecs
    tracker = _Tracker(H, k, backend, tol, memory_limit)
    grid = np.linspace(0.0, 1.0, int(coarse_points))
    E = np.empty((k, grid.size))
    slopes = np.empty(grid.size)

    def solve_to_gap(s, estimate, rtol):
        """Levels and slopes at s to a residual of ``rtol`` times the gap, from an estimate of
        it (None: the loosest); solved again if the gap found is less than half that."""
        rel = _coarse_tol(H, s, estimate, rtol, tol)
        lv, sl = tracker(s, rel)
        tighter = _coarse_tol(H, s, float(lv.energies[d] - lv.energies[0]), rtol, tol)
        if tighter < 0.5 * rel:
            lv, sl = tracker(s, tighter)
        return lv, float(sl[d] - sl[0])

    reference = None  # the gap at the previous point
    for j, s in enumerate(grid):
        lv, slopes[j] = solve_to_gap(s, reference, coarse_rtol)
        E[:, j] = lv.energies
        reference = float(E[d, j] - E[0, j])
    gaps = E[d] - E[0]

    def gap(s):
        return float(np.diff(tracker(s)[0].energies[[0, d]])[0])

    def gap_slope(s):
        sl = tracker(s)[1]
        return float(sl[d] - sl[0])

    def subdivide(s, predicted):
        """Delta and its slope at a new point of the adaptive subdivision, to ``_ADAPT_RTOL``
        of the gap (it only has to check the Hermite prediction to ``_HERMITE_RTOL``); a point
        the refinement uses later is solved again to ``tol``."""
        lv, slope = solve_to_gap(s, max(predicted, 0.0), _ADAPT_RTOL)
        return float(lv.energies[d] - lv.energies[0]), slope

    # adaptive refinement near the bottom: subdivide every interval whose cubic Hermite
    # interpolant could hold a value near the lowest one, until the interpolant predicts the
    # midpoint correctly -- this resolves level crossings of E_d with E_{d+1} that put two
    # local minima inside one coarse interval
    s_pts, g_pts, d_pts = _adaptive_points(grid, gaps, slopes, subdivide, s_tol)

    # candidates: end points by value; interior brackets by slope sign change
    best_s, best = (0.0, g_pts[0]) if g_pts[0] <= g_pts[-1] else (1.0, g_pts[-1])
    candidates = [{"s": 0.0, "delta": float(g_pts[0]), "bracket": (0.0, 0.0)},
                  {"s": 1.0, "delta": float(g_pts[-1]), "bracket": (1.0, 1.0)}]
    brackets = []
    for j in range(s_pts.size - 1):
        if d_pts[j] < 0.0 < d_pts[j + 1] or (d_pts[j] < 0.0 and d_pts[j + 1] == 0.0):
            est = _hermite_min(s_pts[j], s_pts[j + 1], g_pts[j], g_pts[j + 1], d_pts[j], d_pts[j + 1])
            brackets.append((est, s_pts[j], s_pts[j + 1], "slope"))
    jmin = int(np.argmin(g_pts))
    if not brackets and 0 < jmin < s_pts.size - 1:
        brackets.append((float(g_pts[jmin]), s_pts[jmin - 1], s_pts[jmin + 1], "value"))
    brackets.sort(key=lambda b: b[0])
    for estimate, lo, hi, how in brackets[:max_candidates]:
        if len(candidates) > 2 and estimate > best + 0.25 * abs(best):
            break
        if how == "slope" and gap_slope(lo) * gap_slope(hi) > 0.0:
            how = "value"  # the coarse slopes' signs did not survive the full tolerance
        if how == "slope":
            s_c = brentq(gap_slope, lo, hi, xtol=s_tol, rtol=4 * np.finfo(float).eps)
        else:
            s_c = minimize_scalar(gap, bounds=(lo, hi), method="bounded",
                                  options={"xatol": s_tol}).x
        value = gap(s_c)
        candidates.append({"s": float(s_c), "delta": value, "bracket": (float(lo), float(hi))})
        if value < best:
            best_s, best = float(s_c), value
    final = tracker(best_s)[0]
    return MinGap(
        delta_min=float(best), s_star=float(best_s), degeneracy=d, sector=H.sector, n=H.n,
        scale=H.scale, s=grid, energies=E, gaps=gaps, residuals=final.residuals,
        matvecs=H.matvecs - start, evaluations=tracker.evaluations, candidates=candidates,
        seconds=time.perf_counter() - t0,
    )


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
