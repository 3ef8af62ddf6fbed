"""An Ocean-compatible sampler that draws from the final state of a simulated anneal."""

from __future__ import annotations

import dimod
import numpy as np

from ._anneal import anneal
from ._bits import index_to_samples
from ._methods import METHODS
from .exceptions import SimulationError

__all__ = ["AnnealingSampler"]


class AnnealingSampler(dimod.Sampler):
    """Samples bitstrings from |psi(T)|^2 of a closed-system anneal (:func:`simulate.anneal`).

    The state is computed once per call; ``num_reads`` bitstrings are drawn from it. Conventions
    of docs/design.md (H_D = -sum X_i, H_P = energies / scale, linear schedule by default, hbar = 1,
    T = ``annealing_time`` in inverse units of the scaled energy). Energies in the returned
    SampleSet are the BQM's, offset included (``sample_ising``/``sample_qubo`` follow dimod's
    rules: no offset).

    Examples
    --------
    >>> ss = AnnealingSampler().sample(bqm, num_reads=100, annealing_time=20.0, seed=1)
    >>> ss.info["p_success"]  # doctest: +SKIP
    """

    parameters = None  # instance dicts, as dimod's ExactSolver does
    properties = None

    def __init__(self):
        self.parameters = {"num_reads": [], "annealing_time": [], "schedule": [], "seed": [],
                           "method": [], "scale": [], "tol": []}
        self.properties = {"methods": ("auto", *METHODS),
                           "annealing_time_units": "inverse scaled energy (hbar = 1)"}

    def sample(self, bqm: dimod.BinaryQuadraticModel, *, num_reads: int = 100,
               annealing_time: float = 50.0, schedule=None, seed=None, method: str = "auto",
               scale="auto", tol: float = 1e-7, **kwargs) -> dimod.SampleSet:
        """Draw ``num_reads`` samples from |psi(annealing_time)|^2.

        Returns
        -------
        dimod.SampleSet
            ``info``: ``p_success``, ``annealing_time``, ``schedule``, ``method``, ``scale``.
        """
        self.remove_unknown_kwargs(**kwargs)
        if not (isinstance(num_reads, (int, np.integer)) and num_reads >= 1):
            raise SimulationError(f"num_reads must be an int >= 1, got {num_reads!r}.")
        rng = np.random.default_rng(seed)
        variables = list(bqm.variables)
        if not variables:
            return dimod.SampleSet.from_samples(
                (np.empty((num_reads, 0), dtype=np.int8), []), bqm.vartype,
                energy=np.full(num_reads, float(bqm.offset)),
                info={"p_success": 1.0, "annealing_time": float(annealing_time)})
        result = anneal(bqm, annealing_time, schedule=schedule, scale=scale, method=method,
                        tol=tol)
        prob = np.abs(result.final_state) ** 2
        idx = rng.choice(prob.size, size=int(num_reads), p=prob / prob.sum())
        samples = index_to_samples(idx, len(variables), bqm.vartype)
        info = {"p_success": result.p_success, "annealing_time": result.T,
                "schedule": result.schedule, "method": result.method, "scale": result.scale}
        return dimod.SampleSet.from_samples_bqm((samples, variables), bqm, info=info,
                                                sort_labels=False)
