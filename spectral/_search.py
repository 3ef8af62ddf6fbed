"""min_gap's search (private): candidates from the coarse sweep, the refinement of local
minima of Delta(s), and the certification that no lower minimum lies between them."""

from __future__ import annotations


import numpy as np
from scipy.interpolate import CubicHermiteSpline
from scipy.optimize import brentq, minimize_scalar

from ._bound import gap_lower_bound
from ._hamiltonian import AnnealingHamiltonian
from ._levels import Levels, _lowest_levels, _norm_estimate
from ._tracker import _MAXITER


#: min_gap's coarse sweep: residual tolerance relative to the gap (see min_gap), and the
#: loosest relative residual allowed whatever the gap
COARSE_RTOL = 1e-3
COARSE_LOOSEST = 1e-4
#: min_gap's certification: a minimum lower than Delta_min by less than this fraction may go
#: unrefined; most eigen-solves it may add
CERTIFY_RTOL = 2e-2
MAX_EVALUATIONS = 200


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
