"""Gap sweeps and the minimum gap of H(s) = A(s) H_D + B(s) H_P.

Which gap (docs/design.md): d = degeneracy of H_P's minimum, counted in the initial state's
symmetry sector; Delta(s) = E_d(s) - E_0(s), from the instantaneous ground state to the first
level that does not end in the ground manifold.
"""

from __future__ import annotations

import time
import warnings

import dimod
import numpy as np

from ._gap_records import GapSweep, MinGap
from ._hamiltonian import AnnealingHamiltonian
from ._levels import DEFAULT_TOL
from ._schedule import check_s
from ._search import (_ADAPT_RTOL, CERTIFY_RTOL, COARSE_RTOL, MAX_EVALUATIONS, _adaptive_points,
                      _coarse_tol, _hermite_min, _Search)
from ._threads import blas_single_threaded
from ._tracker import _Tracker
from .exceptions import SpectralError

__all__ = ["GapSweep", "MinGap", "gap_sweep", "min_gap", "as_hamiltonian"]


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
