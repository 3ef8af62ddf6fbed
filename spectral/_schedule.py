"""Annealing schedules A(s), B(s) on s in [0, 1]."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from os import PathLike

import numpy as np

from .exceptions import ScheduleError

__all__ = ["Schedule"]

_CHECK_POINTS = np.linspace(0.0, 1.0, 201)


def check_s(s, name: str = "s") -> np.ndarray:
    """Return ``s`` as a float64 array, or raise if any value is non-finite or outside [0, 1]."""
    arr = np.asarray(s, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ScheduleError(f"{name} must be finite, got {s!r}.")
    if np.any(arr < 0.0) or np.any(arr > 1.0):
        bad = arr[(arr < 0.0) | (arr > 1.0)].ravel()[:3]
        raise ScheduleError(
            f"{name} must lie in [0, 1] (the annealing fraction), got values {bad.tolist()}."
        )
    return arr


class Schedule:
    """An annealing schedule ``H(s) = A(s) * H_D + B(s) * H_P`` for ``s`` in [0, 1].

    Build one with :meth:`linear` (the default: A = 1 - s, B = s), :meth:`from_functions`
    (two callables) or :meth:`from_table` / :meth:`from_csv` (tabulated values, e.g. a D-Wave
    published schedule, linearly interpolated). A and B are dimensionless energies in the
    units of the Hamiltonian (docs/design.md); a D-Wave table in GHz is converted by the D-Wave
    adapter, not here.

    Calling ``schedule(s)`` returns ``(A(s), B(s))``; :meth:`derivative` returns
    ``(A'(s), B'(s))``, used for Hellmann-Feynman level slopes.

    Raises
    ------
    ScheduleError
        If A or B is non-finite or negative anywhere on [0, 1], A(0) <= 0 (then H(0) has no
        unique ground state and the anneal has no well-defined initial state) or B(1) <= 0
        (then the anneal does not end in the problem): :meth:`check_values`.
    """

    def __init__(
        self,
        A: Callable[[np.ndarray], np.ndarray],
        B: Callable[[np.ndarray], np.ndarray],
        *,
        dA: Callable[[np.ndarray], np.ndarray] | None = None,
        dB: Callable[[np.ndarray], np.ndarray] | None = None,
        name: str = "custom",
        description: str | None = None,
        signed: bool = False,
    ):
        self._A, self._B, self._dA, self._dB = A, B, dA, dB
        self.name = name
        self.signed = bool(signed)
        self.description = description or name
        self._validate()

    # --- constructors -------------------------------------------------------------------
    @classmethod
    def linear(cls) -> "Schedule":
        """The standard linear schedule A(s) = 1 - s, B(s) = s."""
        return cls(
            lambda s: 1.0 - s,
            lambda s: s,
            dA=lambda s: -np.ones_like(s),
            dB=lambda s: np.ones_like(s),
            name="linear",
            description="A(s) = 1 - s, B(s) = s",
        )

    @classmethod
    def from_functions(
        cls,
        A: Callable[[float], float],
        B: Callable[[float], float],
        *,
        dA: Callable[[float], float] | None = None,
        dB: Callable[[float], float] | None = None,
        name: str = "custom",
        signed: bool = False,
    ) -> "Schedule":
        """A schedule from two callables of s (scalars or arrays); derivatives optional.

        Without ``dA``/``dB`` the slopes are taken by central differences (step 1e-6,
        one-sided at the ends). ``signed=True`` admits A(s) or B(s) of either sign (finite,
        A(0) > 0): a sweep beyond annealing, such as a Landau-Zener passage whose B changes
        sign, for time evolution only; :func:`spectral.min_gap` refuses it, since its
        certificate needs A, B >= 0.
        """
        if not (callable(A) and callable(B)):
            raise TypeError("A and B must be callables of s, e.g. lambda s: 1 - s.")
        return cls(_vectorize(A), _vectorize(B), dA=_vectorize(dA) if dA else None,
                   dB=_vectorize(dB) if dB else None, name=name, signed=signed)

    @classmethod
    def from_table(cls, s, A, B, *, name: str = "table") -> "Schedule":
        """A schedule from tabulated ``(s, A, B)``, linearly interpolated.

        ``s`` must be strictly increasing and span exactly [0, 1] (a D-Wave schedule file does).
        """
        s = np.asarray(s, dtype=np.float64)
        A = np.asarray(A, dtype=np.float64)
        B = np.asarray(B, dtype=np.float64)
        if s.ndim != 1 or s.shape != A.shape or s.shape != B.shape or s.size < 2:
            raise ScheduleError(
                f"a schedule table needs three 1-D columns of equal length >= 2, got shapes "
                f"s{s.shape}, A{A.shape}, B{B.shape}."
            )
        for label, col in (("s", s), ("A", A), ("B", B)):
            if not np.all(np.isfinite(col)):
                raise ScheduleError(f"schedule table column {label} has non-finite values.")
        if np.any(np.diff(s) <= 0):
            raise ScheduleError("schedule table column s must be strictly increasing.")
        if s[0] != 0.0 or s[-1] != 1.0:
            raise ScheduleError(
                f"schedule table must span s in [0, 1] exactly, got [{s[0]}, {s[-1]}]."
            )
        slopes_A = np.diff(A) / np.diff(s)
        slopes_B = np.diff(B) / np.diff(s)

        def seg(x):
            return np.clip(np.searchsorted(s, x, side="right") - 1, 0, s.size - 2)

        digest = hashlib.sha256(np.stack([s, A, B]).tobytes()).hexdigest()[:12]
        return cls(
            lambda x: np.interp(x, s, A),
            lambda x: np.interp(x, s, B),
            dA=lambda x: slopes_A[seg(x)],
            dB=lambda x: slopes_B[seg(x)],
            name=name,
            description=f"table of {s.size} points (sha256 {digest})",
        )

    @classmethod
    def from_csv(cls, path: str | PathLike, *, name: str | None = None) -> "Schedule":
        """Read a schedule table from a CSV file with columns s, A, B (a header line is allowed).

        Extra columns are ignored. Units are taken as they are: convert a D-Wave table (GHz)
        with the D-Wave adapter if you need physical time.
        """
        try:
            data = np.genfromtxt(path, delimiter=",", dtype=np.float64, comments="#")
        except OSError as exc:
            raise FileNotFoundError(f"schedule file {path!s} could not be read: {exc}") from exc
        data = np.atleast_2d(data)
        data = data[~np.all(np.isnan(data), axis=1)]  # header rows parse as NaN
        if data.shape[1] < 3:
            raise ScheduleError(f"schedule file {path!s} needs at least 3 columns (s, A, B).")
        return cls.from_table(data[:, 0], data[:, 1], data[:, 2], name=name or str(path))

    # --- evaluation ---------------------------------------------------------------------
    def __call__(self, s):
        """``(A(s), B(s))`` as floats for scalar ``s``, arrays otherwise."""
        arr = check_s(s)
        a, b = np.asarray(self._A(arr), dtype=float), np.asarray(self._B(arr), dtype=float)
        if arr.ndim == 0:
            return float(a), float(b)
        return np.broadcast_to(a, arr.shape).copy(), np.broadcast_to(b, arr.shape).copy()

    def evaluate(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A(s), B(s))`` as float arrays of ``s``'s shape, without checking ``s``: for an
        integrator's inner loop, where ``s`` is its own and already in [0, 1] (the schedule's
        values were checked when it was built)."""
        s = np.asarray(s, dtype=float)
        a, b = np.empty_like(s), np.empty_like(s)
        a[...] = self._A(s)
        b[...] = self._B(s)
        return a, b

    def derivative(self, s):
        """``(dA/ds, dB/ds)`` at ``s`` (exact where given, else central differences)."""
        arr = check_s(s)
        if self._dA is not None and self._dB is not None:
            da = np.asarray(self._dA(arr), dtype=float)
            db = np.asarray(self._dB(arr), dtype=float)
        else:
            step = 1e-6
            lo = np.clip(arr - step, 0.0, 1.0)
            hi = np.clip(arr + step, 0.0, 1.0)
            a_lo, b_lo = self._A(lo), self._B(lo)
            a_hi, b_hi = self._A(hi), self._B(hi)
            da = (np.asarray(a_hi) - a_lo) / (hi - lo)
            db = (np.asarray(b_hi) - b_lo) / (hi - lo)
        if arr.ndim == 0:
            return float(da), float(db)
        return np.broadcast_to(da, arr.shape).copy(), np.broadcast_to(db, arr.shape).copy()

    @staticmethod
    def check_values(s, A, B, *, name: str = "custom", unit: str = "",
                     signed: bool = False) -> None:
        """The rule every schedule obeys, on values ``A(s)``, ``B(s)`` at points ``s`` (the
        first at s = 0, the last at s = 1): finite, ``A, B >= 0`` everywhere, ``A(0) > 0``
        (the driver alone at the start: a unique initial state) and ``B(1) > 0`` (the problem
        at the end: the anneal ends in its ground state). The D-Wave adapter checks its
        tables (GHz) with this rule as well. ``signed=True`` keeps only finiteness and
        ``A(0) > 0`` (a sweep beyond annealing).

        Raises
        ------
        ScheduleError
            Naming the schedule, the function, the first values of s that break the rule and
            the rule.
        """
        s, a, b = (np.asarray(x, dtype=float) for x in (s, A, B))
        unit = f" {unit}" if unit else ""
        for label, col in (("A", a), ("B", b)):
            bad = ~np.isfinite(col)
            if bad.any():
                raise ScheduleError(f"schedule {name!r}: {label}(s) is not finite at s = "
                                    f"{_first(s[bad])}; a schedule takes finite values on [0, 1].")
            bad = col < 0.0
            if bad.any() and not signed:
                raise ScheduleError(
                    f"schedule {name!r}: {label}(s) < 0 at s = {_first(s[bad])} (e.g. "
                    f"{label}({s[bad][0]:g}) = {col[bad][0]:g}{unit}); A(s) and B(s) must be "
                    ">= 0 on [0, 1] (a negative A flips the driver, a negative B the problem).")
        if not a[0] > 0.0:
            raise ScheduleError(
                f"schedule {name!r}: A(0) = {a[0]:g}{unit} must be > 0, otherwise H(0) has no "
                "unique ground state (the driver -sum X_i must dominate at s = 0).")
        if not b[-1] > 0.0 and not signed:
            raise ScheduleError(
                f"schedule {name!r}: B(1) = {b[-1]:g}{unit} must be > 0, otherwise H(1) is not "
                "the problem and the anneal does not end in its ground state.")

    def _validate(self) -> None:
        try:
            a = np.asarray(self._A(_CHECK_POINTS), dtype=float) * np.ones_like(_CHECK_POINTS)
            b = np.asarray(self._B(_CHECK_POINTS), dtype=float) * np.ones_like(_CHECK_POINTS)
        except Exception as exc:  # a user callable failed: say which schedule, keep the cause
            raise ScheduleError(f"schedule {self.name!r} could not be evaluated on [0, 1]: {exc}") from exc
        self.check_values(_CHECK_POINTS, a, b, name=self.name, signed=self.signed)

    def __repr__(self) -> str:
        return f"Schedule({self.description})"


def _first(values: np.ndarray, count: int = 3) -> list:
    return [round(float(v), 6) for v in values[:count]]


def _vectorize(f):
    if f is None:
        return None

    def g(s):
        s = np.asarray(s, dtype=float)
        try:
            out = np.asarray(f(s), dtype=float)
            if out.shape == s.shape or out.ndim == 0:
                return out
        except Exception:  # noqa: BLE001 - a callable not written for arrays: loop below
            pass
        return np.vectorize(lambda x: float(f(float(x))), otypes=[float])(s)

    return g


def resolve_schedule(schedule) -> Schedule:
    """``None`` -> linear; a :class:`Schedule` as is; a pair of callables; a path to a CSV."""
    if schedule is None:
        return Schedule.linear()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, (str, PathLike)):
        return Schedule.from_csv(schedule)
    if isinstance(schedule, tuple) and len(schedule) == 2 and all(callable(f) for f in schedule):
        return Schedule.from_functions(*schedule)
    raise TypeError(
        "schedule must be None (linear), a spectral.Schedule, a pair of callables (A, B) or the "
        f"path of a CSV table, got {type(schedule).__name__}."
    )
