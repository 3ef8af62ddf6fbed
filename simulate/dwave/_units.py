"""D-Wave schedules and units, and their conversion to docs/design.md's dimensionless form.

D-Wave's convention (published per-QPU schedule files; columns s, A(s), B(s) in GHz):

    H(s) / h = -A(s)/2 sum_i sigma^x_i + B(s)/2 (sum_i h_i sigma^z_i + sum_ij J_ij sigma^z_i sigma^z_j)

with h, J the Ising coefficients *on the QPU* (the logical ones divided by the auto-scale
divisor) and time in ns, so that a level difference dE/h in GHz turns a phase at the angular
frequency 2 pi dE/h rad/ns.

qaxai's form (docs/design.md): H(s) = A(s) H_D + B(s) H_P with H_D = -sum X_i, H_P = E_Ising /
scale, hbar = 1, and T in the inverse of the energy unit. Taking that unit as 1 rad/ns,

    A_ours(s) = pi A_GHz(s),    B_ours(s) = pi B_GHz(s) scale / divisor,    T_ours = T_ns,

which :func:`to_dimensionless` returns (tested against a direct integration of the GHz/ns
Hamiltonian).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectral import Schedule, ScheduleError

from ..exceptions import SimulationError

__all__ = ["DWaveSchedule", "approximate_schedule", "load_schedule", "to_dimensionless"]


@dataclass(frozen=True)
class DWaveSchedule:
    """A QPU annealing schedule in D-Wave's units.

    Attributes
    ----------
    s : (m,) ndarray
        Normalised anneal fraction, strictly increasing from 0 to 1.
    A, B : (m,) ndarray
        A(s) and B(s) in GHz (E/h), D-Wave's convention (module docstring).
    name : str
        Where it came from; ``approximate`` schedules say so in their name.
    """

    s: np.ndarray
    A: np.ndarray
    B: np.ndarray
    name: str

    def __post_init__(self):
        s, A, B = (np.asarray(x, dtype=np.float64) for x in (self.s, self.A, self.B))
        if s.ndim != 1 or s.shape != A.shape or s.shape != B.shape or s.size < 2:
            raise SimulationError(f"a D-Wave schedule needs columns s, A, B of equal length "
                                  f">= 2, got shapes {s.shape}, {A.shape}, {B.shape}.")
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
            raise SimulationError(f"schedule {self.name!r} has non-finite values.")
        if abs(s[0]) > 1e-9 or abs(s[-1] - 1.0) > 1e-9 or np.any(np.diff(s) <= 0):
            raise SimulationError(f"schedule {self.name!r}: s must increase strictly from 0 to "
                                  f"1, got {s[0]:g} .. {s[-1]:g}.")
        try:  # the rule of every schedule, spectral's
            Schedule.check_values(s, A, B, name=self.name, unit="GHz")
        except ScheduleError as exc:
            raise SimulationError(str(exc)) from None
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "B", B)

    def __call__(self, s):
        """``(A(s), B(s))`` in GHz, linearly interpolated."""
        return np.interp(s, self.s, self.A), np.interp(s, self.s, self.B)

    @property
    def sha256(self) -> str:
        """Hash of the table (s, A, B as float64), recorded with every result that used it."""
        h = hashlib.sha256()
        for col in (self.s, self.A, self.B):
            h.update(np.ascontiguousarray(col, dtype="<f8").tobytes())
        return h.hexdigest()


def approximate_schedule(points: int = 1001) -> DWaveSchedule:
    """A smooth schedule of the published Advantage shape -- **approximate**, for offline work.

    A(s) = 10 GHz (1 - s)^3.4 exp(-3 s) falls from 10 GHz to 0; B(s) = 0.2 + 7.3 s^1.53 GHz
    rises from 0.2 to 7.5 GHz; they cross at s = 0.29, at 1.3 GHz (the shape of D-Wave's published tables, not any
    one QPU's; load the real file of your QPU with :func:`load_schedule`).
    """
    s = np.linspace(0.0, 1.0, points)
    A = 10.0 * (1.0 - s) ** 3.4 * np.exp(-3.0 * s)
    B = 0.2 + 7.3 * s ** 1.53
    return DWaveSchedule(s, A, B, name="approximate Advantage-like (not a real QPU)")


def load_schedule(path) -> DWaveSchedule:
    """Read a published schedule: CSV, or XLSX (needs ``openpyxl``), with columns s, A(s),
    B(s) in GHz (header rows and extra columns are ignored)."""
    path = Path(path)
    if not path.exists():
        raise SimulationError(f"schedule file {path} does not exist.")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            import openpyxl
        except ImportError:
            raise SimulationError(f"reading {path.name} needs openpyxl (pip install openpyxl), "
                                  "or save the sheet as CSV.") from None
        sheet = openpyxl.load_workbook(path, read_only=True, data_only=True).worksheets[0]
        rows = [r[:3] for r in sheet.iter_rows(values_only=True)]
        data = np.array([[float(v) for v in r] for r in rows
                         if len(r) == 3 and all(isinstance(v, (int, float)) for v in r)])
    else:
        data = np.genfromtxt(path, delimiter=",", dtype=np.float64, comments="#")
        data = np.atleast_2d(data)
        data = data[~np.any(np.isnan(data[:, :3]), axis=1)] if data.shape[1] >= 3 else data
    if data.ndim != 2 or data.shape[0] < 2 or data.shape[1] < 3:
        raise SimulationError(f"schedule file {path} needs at least two rows of numeric "
                              "columns s, A(s), B(s) (GHz).")
    return DWaveSchedule(data[:, 0], data[:, 1], data[:, 2], name=str(path))


def _s_of_t(anneal_schedule, annealing_time_us):
    """(t in µs, s) knots of the anneal: D-Wave's ``anneal_schedule`` or a linear ramp."""
    if anneal_schedule is None:
        if not (math.isfinite(annealing_time_us) and annealing_time_us > 0):
            raise SimulationError(f"annealing_time must be > 0 µs, got {annealing_time_us!r}.")
        return np.array([0.0, annealing_time_us]), np.array([0.0, 1.0])
    pts = np.asarray(anneal_schedule, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 2:
        raise SimulationError("anneal_schedule must be a list of (t in µs, s) pairs.")
    t, s = pts[:, 0], pts[:, 1]
    if t[0] != 0 or s[0] != 0 or s[-1] != 1 or np.any(np.diff(t) <= 0) or np.any(s < 0) \
            or np.any(s > 1):
        raise SimulationError("anneal_schedule must start at (0, 0), end at s = 1, with "
                              "strictly increasing times and s in [0, 1] (forward anneals).")
    return t, s


def to_dimensionless(schedule: DWaveSchedule, *, annealing_time_us: float | None = None,
                     anneal_schedule=None, scale: float = 1.0, divisor: float = 1.0):
    """The QPU anneal as qaxai's ``(spectral.Schedule, T)``.

    Parameters
    ----------
    schedule : DWaveSchedule
        A(s), B(s) in GHz.
    annealing_time_us : float, optional
        A linear ramp s = t / t_a of this many µs.
    anneal_schedule : list of (t_us, s), optional
        D-Wave's piecewise-linear s(t) (pauses, quenches), instead of ``annealing_time_us``.
    scale : float
        The scale of the qaxai Hamiltonian (H_P = E_Ising / scale), as
        ``spectral.AnnealingHamiltonian.scale``.
    divisor : float
        The QPU's auto-scale divisor (h and J are divided by it on the chip).

    Returns
    -------
    (spectral.Schedule, float)
        A_ours(u) = pi A_GHz(s(u T)), B_ours(u) = pi B_GHz(s(u T)) scale / divisor for
        u = t / T in [0, 1], and T in ns (energy unit 1 rad/ns, hbar = 1).
    """
    if (annealing_time_us is None) == (anneal_schedule is None):
        raise SimulationError("give exactly one of annealing_time_us and anneal_schedule.")
    if not (scale > 0 and divisor > 0):
        raise SimulationError(f"scale and divisor must be > 0, got {scale!r}, {divisor!r}.")
    t_knots, s_knots = _s_of_t(anneal_schedule, annealing_time_us)
    T_ns = 1000.0 * float(t_knots[-1])
    u_knots = t_knots / t_knots[-1]
    b_factor = math.pi * scale / divisor

    def A(u):
        return math.pi * np.interp(np.interp(u, u_knots, s_knots), schedule.s, schedule.A)

    def B(u):
        return b_factor * np.interp(np.interp(u, u_knots, s_knots), schedule.s, schedule.B)

    return Schedule.from_functions(A, B, name=f"{schedule.name} in rad/ns"), T_ns
