"""anneal(): the state at the end of an anneal of total time T, and what it is made of."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

import spectral
from spectral import as_hamiltonian, check_memory, check_s

from ._methods import choose_method
from .exceptions import SimulationError

__all__ = ["AnnealResult", "anneal", "success_probability", "time_to_target", "SuccessCurve",
           "success_curve"]

#: default tolerance of our propagators (2-norm of the final state's error)
DEFAULT_TOL = 1e-7


@dataclass
class AnnealResult:
    """What :func:`anneal` returns.

    Attributes
    ----------
    p_success : float
        P(T) = sum over the ground bitstrings g of H_P of |<g|psi(T)>|^2 (docs/design.md).
    T : float
        Total anneal time (inverse energy units, hbar = 1).
    s : (m,) ndarray
        Checkpoints (the last is 1).
    energy : (m,) ndarray
        <H(s)> of the state at each checkpoint.
    ground_fidelity : (m,) ndarray
        Overlap with the instantaneous ground manifold: sum_{j<d} |<phi_j(s)|psi>|^2 over the
        d lowest levels (those that end in H_P's d-fold ground manifold).
    ground_population : (m,) ndarray
        Population of H_P's ground bitstrings at each checkpoint.
    final_state : ndarray
        psi(T) (2^n,), or the density matrix (2^n, 2^n) with dephasing.
    ground_states : ndarray of int
        Basis indices of H_P's ground bitstrings (bit i = variable i).
    degeneracy : int
    n : int
    variables : tuple
    scale : float
    schedule : str
    method : str
    dephasing : float or None
    info : dict
        Method details: steps and error estimate (split), solver options (qutip), seconds.
    """

    p_success: float
    T: float
    s: np.ndarray
    energy: np.ndarray
    ground_fidelity: np.ndarray
    ground_population: np.ndarray
    final_state: np.ndarray
    ground_states: np.ndarray
    degeneracy: int
    n: int
    variables: tuple
    scale: float
    schedule: str
    method: str
    dephasing: float | None = None
    info: dict = field(default_factory=dict)


def _check_T(T) -> float:
    try:
        T = float(T)
    except (TypeError, ValueError):
        raise SimulationError(f"T must be a positive number, got {T!r}.") from None
    if not (math.isfinite(T) and T > 0):
        raise SimulationError(f"T (the total anneal time) must be finite and > 0, got {T!r}.")
    return T


def _checkpoints(checkpoints) -> np.ndarray:
    if checkpoints is None:
        return np.array([1.0])
    pts = check_s(np.atleast_1d(np.asarray(checkpoints, dtype=float)), "checkpoints")
    return np.unique(np.concatenate([pts, [1.0]]))


def initial_state(H) -> np.ndarray:
    """The ground state of H(0): |+>^n when B(0) = 0, else the lowest eigenvector (it must be
    non-degenerate)."""
    a0, b0 = H.coefficients(0.0)
    if b0 == 0.0:
        return np.full(H.dim, 1.0 / math.sqrt(H.dim), dtype=complex)
    lv = spectral.lowest_levels(H, 0.0, k=min(2, H.dim))
    e = lv.energies
    if e.size > 1 and e[1] - e[0] <= 1e-8 * max(1.0, abs(e[0])):
        raise SimulationError(
            f"H(0) = A(0) H_D + B(0) H_P has a degenerate ground state (E_1 - E_0 = "
            f"{e[1] - e[0]:.2e}): the initial state is not defined. Use a schedule with "
            "B(0) = 0 or A(0) large against B(0).")
    v = lv.vectors[:, 0]
    return (v / np.linalg.norm(v)).astype(complex)


def _observables(H, states, s_points, dephasing):
    ground = H.ground_states()
    d = ground.size
    energy, fidelity, population = [], [], []
    for s, st in zip(s_points, states):
        a, b = H.coefficients(float(s))
        if dephasing:
            rho = st
            diag_rho = np.real(np.diag(rho))
            Hs = H.to_dense(float(s))
            energy.append(float(np.real(np.trace(Hs @ rho))))
            population.append(float(diag_rho[ground].sum()))
            if a == 0.0:
                fidelity.append(population[-1])
            else:
                lv = spectral.lowest_levels(H, float(s), k=d)
                V = lv.vectors
                fidelity.append(float(np.real(np.einsum("ij,ik,kj->", V.conj(), rho, V))))
            continue
        psi = st
        Hpsi = H.matvec(float(s), psi)
        energy.append(float(np.real(np.vdot(psi, Hpsi))))
        population.append(float(np.sum(np.abs(psi[ground]) ** 2)))
        if a == 0.0:  # H(s) = B H_P: the ground manifold is H_P's
            fidelity.append(population[-1])
        else:
            lv = spectral.lowest_levels(H, float(s), k=d)
            fidelity.append(float(np.sum(np.abs(lv.vectors.T.conj() @ psi) ** 2)))
    return np.array(energy), np.array(fidelity), np.array(population), ground


def anneal(bqm_or_H, T: float, *, schedule=None, scale="auto", method: str = "auto",
           dephasing: float | None = None, checkpoints=None, tol: float = DEFAULT_TOL,
           dt: float | None = None, qutip_options: dict | None = None,
           memory_limit: float | None = None, device=None) -> AnnealResult:
    """Evolve the ground state of H(0) under H(t/T) for t in [0, T] (hbar = 1).

    Parameters
    ----------
    bqm_or_H : dimod.BinaryQuadraticModel or spectral.AnnealingHamiltonian
        The problem; conventions of docs/design.md (bit i = variable i, H_D = -sum X_i, H_P =
        energies / scale).
    T : float
        Total anneal time, > 0, in inverse units of the (scaled) energy.
    schedule, scale
        As in :meth:`spectral.AnnealingHamiltonian.from_bqm` (default linear, "auto").
    method : str
        "auto" or a name in :data:`simulate.METHODS` (the registry; :func:`register_method`
        adds one). Registered: "split": split-operator propagator (Numba kernels): Blanes &
        Moan's sixth-order splitting with global error control (``tol``), Suzuki's
        fourth-order composition of Strang steps with a fixed step ``dt``; "magnus":
        fourth-order commutator-free Magnus steps with Chebyshev exponentials of the
        matrix-free H (error control alike); "qutip": QuTiP 5 ``sesolve`` (``mesolve`` with
        dephasing) at vern7, atol 1e-10, rtol 1e-8; "dop853": Dormand-Prince 8(5,3) on the
        Numba matvec, its stages fused in Numba (each step's error estimate held to
        tol * h / T; the final-state error stays below tol on random problems, tested).
        "auto": the preferred registered method that can run the request ("split"; "qutip"
        with dephasing or solver options; docs/performance.md).
    dephasing : float, optional
        Rate gamma >= 0 of the Lindblad operators sqrt(gamma) Z_i (open system; QuTiP's mesolve
        on the 4^n-dimensional density matrix: practical up to n ~ 8).
    checkpoints : array_like, optional
        s values where energy, ground fidelity and population are reported (1 is always
        added). The fidelity needs the instantaneous lowest levels (an eigen-solve per point).
    tol : float
        "split", "magnus" and "dop853": target 2-norm error of the final state (P(T) is then
        accurate to about 2 tol).
    dt : float, optional
        Split path: a fixed step instead of error control.
    qutip_options : dict, optional
        Overrides of the QuTiP options (for a method that takes solver options).
    memory_limit : float, optional
        Bytes allowed (default 90 % of available memory; of the device's free memory for
        the state on a device).
    device : str or torch.device, optional
        Run the integrator on this torch device ("cuda", "cpu"): "split" only (the same
        splittings and error control on complex128 tensors); "auto" then means "split".
        None (default): the Numba kernels.

    Returns
    -------
    AnnealResult
    """
    t0 = time.perf_counter()
    T = _check_T(T)
    if dephasing is not None and not (math.isfinite(dephasing) and dephasing >= 0):
        raise SimulationError(f"dephasing must be a finite rate >= 0, got {dephasing!r}.")
    if not (math.isfinite(tol) and tol > 0):
        raise SimulationError(f"tol must be > 0, got {tol!r}.")
    if dt is not None and not (math.isfinite(dt) and 0 < dt <= T):
        raise SimulationError(f"dt must be in (0, T], got {dt!r}.")
    dephasing = float(dephasing) if dephasing else None
    # with a device, memory_limit is the device's; the host keeps its default guard
    H = as_hamiltonian(bqm_or_H, schedule, scale, "full",
                       memory_limit if device is None else None)
    chosen = choose_method(method, n=H.n, dephasing=bool(dephasing), dt=dt is not None,
                           options=bool(qutip_options), device=device is not None)
    method = chosen.name
    s_points = _checkpoints(checkpoints)
    per_state = 16.0 * H.dim * (H.dim if dephasing else 1)
    extra = {}
    if device is None:
        check_memory(per_state * chosen.work_vectors + 24.0 * H.dim * (H.n + 2),
                     n=H.n, what=f"the {method} time evolution", memory_limit=memory_limit)
    else:
        # on the device: two complex states, the energies, the phase moduli and angles;
        # on the host: the diagonal and the states handed back
        spectral.check_device_memory(56.0 * H.dim, n=H.n,
                                     what=f"the {method} time evolution", device=device,
                                     memory_limit=memory_limit)
        check_memory(per_state * (s_points.size + 2) + 8.0 * H.dim, n=H.n,
                     what=f"the {method} time evolution's host copies")
        extra["device"] = device
    psi0 = initial_state(H)
    states, info = chosen.integrate(H, T, psi0, s_points, tol=tol, dt=dt, dephasing=dephasing,
                                    options=qutip_options, **extra)
    energy, fidelity, population, ground = _observables(H, states, s_points, dephasing)
    info["seconds"] = time.perf_counter() - t0
    return AnnealResult(
        p_success=float(population[-1]), T=T, s=s_points, energy=energy,
        ground_fidelity=fidelity, ground_population=population, final_state=states[-1],
        ground_states=ground, degeneracy=int(ground.size), n=H.n, variables=H.variables,
        scale=H.scale, schedule=repr(H.schedule), method=method, dephasing=dephasing, info=info)


def success_probability(bqm_or_H, T: float, **kwargs) -> float:
    """P(T): the ground-manifold population at the end of an anneal of time T (see
    :func:`anneal` for the keyword arguments)."""
    return anneal(bqm_or_H, T, **kwargs).p_success


@dataclass
class SuccessCurve:
    """P(T) at several anneal times, and optionally the time to reach a target probability.

    Attributes
    ----------
    T : (k,) ndarray
        Total anneal times (inverse units of the scaled energy, hbar = 1).
    p_success : (k,) ndarray
        P(T) at each.
    method : str
        The integrator that ran (after "auto" chose).
    tol : float
        Its tolerance (2-norm of the final state's error).
    t99 : float
        T_p for ``p = target`` (:func:`time_to_target`), NaN when not computed or not reached.
    target : float
        The target probability of ``t99``.
    t99_note : str or None
        Why ``t99`` is NaN after an attempt (e.g. not reached by ``T_max``).
    """

    T: np.ndarray
    p_success: np.ndarray
    method: str
    tol: float
    t99: float = float("nan")
    target: float = 0.99
    t99_note: str | None = None

    def to_record(self) -> tuple[dict, dict]:
        """``(datasets, attrs)``: T and P(T) as arrays, the rest as attributes (what a study
        stores in its ``dynamics`` group; keys relative to it)."""
        attrs = {"method": self.method, "tol": float(self.tol), "t99": float(self.t99)}
        if self.t99_note is not None:
            attrs["t99_note"] = self.t99_note
        return ({"T": np.asarray(self.T, float), "p_success": np.asarray(self.p_success, float)},
                attrs)


def success_curve(bqm_or_H, T, *, t99: bool = False, target: float = 0.99,
                  T_max: float = 1e5, **kwargs) -> SuccessCurve:
    """P(T) at each of the times ``T`` and, with ``t99``, the time to reach ``target``.

    ``kwargs`` are :func:`anneal`'s (method, tol, schedule, scale, ...). A ``target`` that is
    not reached by ``T_max`` leaves ``t99`` NaN with the reason in ``t99_note``.
    """
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if T.ndim != 1 or T.size == 0:
        raise SimulationError(f"T must be one or more anneal times, got shape {T.shape}.")
    results = [anneal(bqm_or_H, float(x), **kwargs) for x in T]
    curve = SuccessCurve(T=T, p_success=np.array([r.p_success for r in results]),
                         method=results[0].method, tol=float(kwargs.get("tol", DEFAULT_TOL)),
                         target=float(target))
    if t99:
        try:
            curve.t99 = time_to_target(bqm_or_H, target, T_max=T_max, **kwargs)
        except SimulationError as exc:
            curve.t99_note = str(exc)
    return curve


def time_to_target(bqm_or_H, p: float = 0.99, *, T0: float = 1.0, T_max: float = 1e5,
                   rtol: float = 1e-3, **kwargs) -> float:
    """T_p: an anneal time where P(T) first reaches ``p`` on a doubling grid, refined.

    T is doubled from ``T0`` until P(T) >= p; the crossing inside the last doubling interval
    [T/2, T] is then located by bisection in log T to a relative ``rtol``. P(T) can oscillate
    (diabatic interference), so this is the first crossing on the doubling grid, which is the
    smallest T with P >= p whenever P is monotone on that interval.

    Raises
    ------
    SimulationError
        If P(T_max) < p.
    """
    if not 0 < p < 1:
        raise SimulationError(f"p must be in (0, 1), got {p!r}.")
    T0 = _check_T(T0)
    H = as_hamiltonian(bqm_or_H, kwargs.pop("schedule", None), kwargs.pop("scale", "auto"),
                       "full", kwargs.get("memory_limit"))
    hi = T0
    if success_probability(H, hi, **kwargs) >= p:
        return hi
    while True:
        lo, hi = hi, 2 * hi
        if hi > T_max:
            raise SimulationError(f"P(T) < {p} up to T_max = {T_max:g}; raise T_max.")
        if success_probability(H, hi, **kwargs) >= p:
            break
    while hi / lo - 1 > rtol:
        mid = math.sqrt(lo * hi)
        if success_probability(H, mid, **kwargs) >= p:
            hi = mid
        else:
            lo = mid
    return hi
