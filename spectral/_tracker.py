"""The levels of H(s) at the points a sweep or a search visits, each solve warm-started from
its neighbours' vectors (private)."""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

from ._bound import LevelPoint
from ._hamiltonian import AnnealingHamiltonian
from ._levels import Levels, _lowest_levels, resolve_backend

__all__ = ["_Tracker"]

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
