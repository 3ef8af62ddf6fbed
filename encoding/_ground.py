"""The ground states of a selection QUBO of any size, as a dimod sampler (private)."""

from __future__ import annotations

import dimod
import numpy as np

from ._exact import GROUND_RTOL, MAX_EXACT_VARIABLES, ExactGroundStateSolver
from .exceptions import EncodingError

__all__ = ["GroundStateSolver"]


class GroundStateSolver(dimod.Sampler):
    """Exact ground states where enumeration is cheap, tabu search beyond.

    Up to ``exact_max`` variables every ground state is found by
    :class:`ExactGroundStateSolver` (certified). Beyond, dwave-samplers' ``TabuSampler``
    (multi-start tabu search, which finds the low states of these dense, penalised QUBOs far
    more reliably than simulated annealing) runs in rounds of ``num_reads`` reads, each round
    with its own seed (``seed + round``), until the lowest energy seen has been reached in two
    rounds (reproduced by an independent draw) or ``max_rounds`` have run; the lowest-energy
    samples found are returned. Never raises for the size of a problem: the ``info`` says
    how the answer was found.

    Parameters
    ----------
    exact_max : int
        The largest problem enumerated (default 20: 2^20 states, milliseconds; at most 30).
    num_reads : int
        Tabu restarts per round.
    max_rounds : int
        Rounds at most (a best energy not reproduced by then is returned as such).
    seed : int
        Seed of the first round.

    Returns (of :meth:`sample`)
    ---------------------------
    dimod.SampleSet
        The lowest-energy distinct samples; ``info``: ``method`` ("exact" or
        "tabu"), ``exact`` (bool: a certified ground state), ``reproduced``
        (bool: the best energy reached in two independent rounds; True for "exact"),
        ``rounds`` and ``num_reads`` (0 for "exact").
    """

    parameters = None
    properties = None

    def __init__(self, exact_max: int = 20, num_reads: int = 8, max_rounds: int = 6,
                 seed: int = 0):
        for name, value, low, high in (("exact_max", exact_max, 0, MAX_EXACT_VARIABLES),
                                       ("num_reads", num_reads, 1, None),
                                       ("max_rounds", max_rounds, 2, None),
                                       ("seed", seed, 0, None)):
            if not isinstance(value, (int, np.integer)) or value < low or \
                    (high is not None and value > high):
                bound = f"in {low}..{high}" if high is not None else f">= {low}"
                raise EncodingError(f"{name} must be an integer {bound}, got {value!r}.")
        self.exact_max, self.num_reads = int(exact_max), int(num_reads)
        self.max_rounds, self.seed = int(max_rounds), int(seed)
        self.parameters = {}
        self.properties = {"exact_max": self.exact_max, "num_reads": self.num_reads,
                           "max_rounds": self.max_rounds, "ground_rtol": GROUND_RTOL}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs) -> dimod.SampleSet:
        self.remove_unknown_kwargs(**kwargs)
        if bqm.num_variables <= self.exact_max:
            ss = ExactGroundStateSolver().sample(bqm)
            ss.info.update(method="exact", exact=True, reproduced=True, rounds=0, num_reads=0)
            return ss
        from dwave.samplers import TabuSampler

        sampler = TabuSampler()
        best, hits, found = np.inf, 0, []
        rounds = 0
        for rounds in range(1, self.max_rounds + 1):
            ss = sampler.sample(bqm, num_reads=self.num_reads, seed=self.seed + rounds - 1)
            low = float(ss.first.energy)
            tol = GROUND_RTOL * max(abs(low), abs(best) if np.isfinite(best) else 0.0, 1.0)
            if low < best - tol:  # a new best: the earlier rounds did not reach it
                best, hits, found = low, 1, [ss]
            elif low <= best + tol:
                hits, found = hits + 1, found + [ss]
            if hits >= 2:
                break
        merged = dimod.concatenate(found).aggregate()
        tol = GROUND_RTOL * max(abs(best), 1.0)
        keep = merged.record.energy <= best + tol
        out = dimod.SampleSet.from_samples_bqm(
            (merged.record.sample[keep], merged.variables), bqm)
        out.info.update(method="tabu", exact=False, reproduced=hits >= 2,
                        rounds=rounds, num_reads=rounds * self.num_reads)
        return out
