"""The integrators of :func:`simulate.anneal` by name, with what each can do (a registry like
``spectral.BACKENDS``).

An integrator is called as ``f(H, T, psi0, s_points, *, tol, dt, dephasing, options)`` with
``H`` a full-space :class:`spectral.AnnealingHamiltonian`, ``psi0`` the complex initial state
and ``s_points`` increasing checkpoints (the last = 1); it returns ``(states, info)``: the
state at each checkpoint (a density matrix with dephasing) and a dict of method details.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._magnus import propagate as _magnus
from ._qutip_backend import qutip_evolve
from ._rk import propagate as _dop853
from ._split_run import propagate as _split
from .exceptions import SimulationError

__all__ = ["Method", "METHODS", "register_method", "choose_method"]

Integrator = Callable[..., tuple[list, dict]]


@dataclass(frozen=True)
class Method:
    """One integrator and its capabilities.

    Attributes
    ----------
    name : str
    integrate : callable
        ``f(H, T, psi0, s_points, *, tol, dt, dephasing, options) -> (states, info)``.
    description : str
        One line for the docs and error messages.
    dephasing : bool
        Evolves a density matrix under Lindblad dephasing (open system).
    fixed_dt : bool
        Accepts a fixed step ``dt`` instead of error control.
    error_control : bool
        Holds the final state's 2-norm error to ``tol``.
    options : bool
        Takes solver ``options`` (a dict) of its own.
    work_vectors : int
        State-sized arrays it holds at once (for the memory guard).
    device : bool
        Runs on a torch device when given one (``anneal(..., device=)``); the integrator then
        takes a ``device`` keyword.
    max_qubits : int or None
        Largest n it accepts (None: as many as memory allows).
    preference : int
        Rank among the methods that can do a request; ``"auto"`` takes the lowest.
    """

    name: str
    integrate: Integrator
    description: str
    dephasing: bool = False
    fixed_dt: bool = False
    error_control: bool = True
    options: bool = False
    work_vectors: int = 6
    max_qubits: int | None = None
    preference: int = 100
    device: bool = False

    def supports(self, *, n: int, dephasing: bool, dt: bool, options: bool,
                 device: bool = False) -> str | None:
        """Why this method cannot run the request, or None when it can."""
        if device and not self.device:
            return "it runs on the CPU only (no torch device)"
        if dephasing and not self.dephasing:
            return "it evolves pure states only (no dephasing)"
        if dt and not self.fixed_dt:
            return "it takes no fixed step dt"
        if options and not self.options:
            return "it takes no solver options"
        if self.max_qubits is not None and n > self.max_qubits:
            return f"it runs up to n = {self.max_qubits} qubits"
        return None


#: the registered integrators by name
METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` under its name (replacing one of the same name)."""
    if method.name == "auto":
        raise SimulationError("'auto' is reserved: it chooses among the registered methods.")
    METHODS[method.name] = method
    return method


def choose_method(name: str, *, n: int, dephasing: bool, dt: bool, options: bool,
                  device: bool = False) -> Method:
    """The registered method ``name``, or for ``"auto"`` the preferred one that can run the
    request; raises :class:`SimulationError` naming the reason when none can."""
    if name == "auto":
        able = [m for m in METHODS.values()
                if m.supports(n=n, dephasing=dephasing, dt=dt, options=options,
                           device=device) is None]
        if not able:
            raise SimulationError(
                f"no registered method can run this anneal (n = {n}, dephasing = {dephasing}, "
                f"fixed dt = {dt}, solver options = {options}, device = {device}); "
                f"registered: {list(METHODS)}.")
        return min(able, key=lambda m: m.preference)
    if name not in METHODS:
        raise SimulationError(f"method must be 'auto' or one of {list(METHODS)}, got {name!r}.")
    method = METHODS[name]
    why = method.supports(n=n, dephasing=dephasing, dt=dt, options=options, device=device)
    if why is not None:
        able = [m.name for m in METHODS.values()
                if m.supports(n=n, dephasing=dephasing, dt=dt, options=options,
                           device=device) is None]
        raise SimulationError(f"method {name!r} cannot run this anneal: {why}; use one of "
                              f"{able or ['(none registered)']} or method='auto'.")
    return method


def _split_integrator(H, T, psi0, s_points, *, tol, dt, dephasing, options, device=None):
    return _split(H.diagonal(), H.schedule, T, psi0, s_points, tol=tol, dt=dt, device=device)


def _dop853_integrator(H, T, psi0, s_points, *, tol, dt, dephasing, options):
    return _dop853(H, T, psi0, s_points, tol=tol)


def _magnus_integrator(H, T, psi0, s_points, *, tol, dt, dephasing, options):
    return _magnus(H, T, psi0, s_points, tol=tol)


def _qutip_integrator(H, T, psi0, s_points, *, tol, dt, dephasing, options):
    return qutip_evolve(H, T, psi0, s_points, dephasing, options)


# "auto" prefers the split-operator propagator: with Blanes & Moan's splitting and vector
# kernels it is the fastest of ours at small and at large n, and close to DOP853 in between
# (docs/performance.md, bench_dynamics.py); QuTiP is the one that can dephase.
register_method(Method(
    "split", _split_integrator, "split-operator propagator: Blanes & Moan's sixth-order "
    "splitting with global error control, or Suzuki's fourth order with a fixed dt",
    fixed_dt=True, work_vectors=6, preference=0, device=True))
register_method(Method(
    "magnus", _magnus_integrator, "fourth-order commutator-free Magnus steps with Chebyshev "
    "exponentials of the matrix-free H", work_vectors=6, preference=2))
register_method(Method(
    "dop853", _dop853_integrator, "Dormand-Prince 8(5,3) on the matrix-free H, its stages "
    "fused in Numba", work_vectors=16, preference=1))
register_method(Method(
    "qutip", _qutip_integrator, "QuTiP 5 sesolve (mesolve with dephasing), vern7 at atol "
    "1e-10, rtol 1e-8", dephasing=True, error_control=False, options=True, work_vectors=8,
    preference=3))
