"""The reference paper's annealing protocol, as one function (private)."""

from __future__ import annotations

from dataclasses import dataclass

import dimod
import numpy as np

from ._anneal import anneal
from ._bits import index_to_samples
from .exceptions import SimulationError

__all__ = ["ProtocolResult", "paper_protocol"]


@dataclass
class ProtocolResult:
    """What :func:`paper_protocol` returns.

    Attributes
    ----------
    fidelity : float
        P(tau): the ground-manifold population of psi(tau).
    sample : dict
        The lowest-energy bitstring among the shots (variable -> value, in the BQM's vartype).
    energy : float
        Its BQM energy (offset included).
    is_ground : bool
        Whether it is a ground state of the BQM (within a relative 1e-9 of the minimum).
    shots : int
    tau, dt : float
    """

    fidelity: float
    sample: dict
    energy: float
    is_ground: bool
    shots: int
    tau: float
    dt: float

    def to_record(self) -> tuple[dict, dict]:
        """``(datasets, attrs)``: no arrays; the fidelity, whether the kept bitstring is a
        ground state, and the protocol's settings as attributes, named ``protocol_*`` (they
        sit in a study's ``dynamics`` group beside :class:`SuccessCurve`'s)."""
        return {}, {"protocol_fidelity": float(self.fidelity),
                    "protocol_is_ground": bool(self.is_ground),
                    "protocol_shots": int(self.shots), "protocol_tau": float(self.tau),
                    "protocol_dt": float(self.dt)}


def paper_protocol(bqm: dimod.BinaryQuadraticModel, *, tau: float = 50.0, dt: float = 0.01,
                   shots: int | None = None, seed=None, scale="auto") -> ProtocolResult:
    """Linear schedule, total time tau = 50, fixed step dt = 0.01, d^2 shots drawn from
    |psi(tau)|^2 (d = number of variables unless ``shots`` is given); the lowest-energy
    bitstring is kept.

    The evolution uses the split-operator propagator with the fixed step ``dt`` (the paper's
    setting; no error control), from |+>^n.
    """
    result = anneal(bqm, tau, schedule=None, scale=scale, method="split", dt=dt)
    n = result.n
    shots = n * n if shots is None else int(shots)
    if shots < 1:
        raise SimulationError(f"shots must be >= 1, got {shots}.")
    rng = np.random.default_rng(seed)
    prob = np.abs(result.final_state) ** 2
    idx = rng.choice(prob.size, size=shots, p=prob / prob.sum())
    values = index_to_samples(idx, n, bqm.vartype)
    variables = list(result.variables)
    energies = bqm.energies((values, variables))
    best = int(np.argmin(energies))
    ground = index_to_samples(result.ground_states[:1], n, bqm.vartype)
    ground_energy = float(bqm.energies((ground, variables))[0])
    e = float(energies[best])
    return ProtocolResult(
        fidelity=result.p_success, sample=dict(zip(variables, values[best].tolist())), energy=e,
        is_ground=bool(e <= ground_energy + 1e-9 * max(1.0, abs(ground_energy))), shots=shots,
        tau=float(tau), dt=float(dt))
