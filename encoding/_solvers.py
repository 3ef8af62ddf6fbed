"""Solvers of the selection QUBO, by name, and the selections they return (private)."""

from __future__ import annotations

import dimod

from ._exact import ExactGroundStateSolver
from ._ground import GroundStateSolver
from .exceptions import EncodingError

__all__ = ["SAMPLERS", "get_sampler", "selections"]


def _simulated_annealing():
    from dwave.samplers import SimulatedAnnealingSampler

    return SimulatedAnnealingSampler()


#: name -> factory of a dimod sampler
SAMPLERS = {"auto": GroundStateSolver, "exact": ExactGroundStateSolver,
            "simulated-annealing": _simulated_annealing}


def get_sampler(name: str) -> dimod.Sampler:
    """A dimod sampler by name: "auto" (:class:`GroundStateSolver`: exact up to 20
    variables, reproduced tabu search beyond), "exact"
    (:class:`ExactGroundStateSolver`, every ground state) or "simulated-annealing"
    (dwave-samplers' ``SimulatedAnnealingSampler``)."""
    if name not in SAMPLERS:
        raise EncodingError(f"sampler must be one of {sorted(SAMPLERS)}, got {name!r}.")
    return SAMPLERS[name]()


def selections(sampleset: dimod.SampleSet, lowest_only: bool = True) -> list[tuple]:
    """The chosen variables (value 1, i.e. BINARY 1 or SPIN +1) of each sample, in
    ``sampleset``'s energy order; with ``lowest_only`` only the samples of lowest energy
    (within 1e-9 relative), duplicates merged."""
    agg = sampleset.aggregate() if len(sampleset) else sampleset
    if not len(agg):
        return []
    energies = agg.record.energy
    e_min = float(energies.min())
    out = []
    for sample, energy in agg.data(["sample", "energy"], sorted_by="energy"):
        if lowest_only and energy > e_min + 1e-9 * max(abs(e_min), 1.0):
            break
        out.append(tuple(v for v, x in sample.items() if x == 1))
    return out
