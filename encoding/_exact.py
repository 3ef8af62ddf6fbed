"""Exact ground states of a BQM by enumeration, as a dimod sampler (private)."""

from __future__ import annotations

import dimod
import numpy as np

from ._exact_kernels import chunked_ground_states
from .exceptions import EncodingError

__all__ = ["ExactGroundStateSolver", "MAX_EXACT_VARIABLES"]

MAX_EXACT_VARIABLES = 30
#: relative tolerance that defines the ground manifold (docs/design.md): E <= E_min + 1e-9 max(|E_min|, 1)
GROUND_RTOL = 1e-9


class ExactGroundStateSolver(dimod.Sampler):
    """Every ground state of a BQM with up to 30 variables, by exhaustive enumeration.

    All 2^n states are visited in Gray-code order in parallel chunks by a Numba kernel (O(n) per
    state); a state belongs to the ground manifold if its energy is within
    ``rtol * max(|E_min|, 1)`` of the minimum E_min (docs/design.md's rule, ``rtol = 1e-9``). The
    returned energies are recomputed exactly by dimod. The work grows as n 2^n: fast at
    n = 16, slow beyond about 26 variables, refused beyond 30.

    Variable order follows docs/design.md: variable i of ``list(bqm.variables)`` is bit i of the
    enumerated index.

    Examples
    --------
    >>> bqm = dimod.BinaryQuadraticModel({"a": -1, "b": -1}, {("a", "b"): 2}, 0, "BINARY")
    >>> ExactGroundStateSolver().sample(bqm).record.sample.tolist()  # doctest: +SKIP
    [[1, 0], [0, 1]]
    """

    parameters = None  # instance dicts, as dimod's ExactSolver does
    properties = None

    def __init__(self):
        self.parameters = {"rtol": [], "max_ground_states": []}
        self.properties = {"max_variables": MAX_EXACT_VARIABLES, "ground_rtol": GROUND_RTOL}

    def sample(self, bqm: dimod.BinaryQuadraticModel, *, rtol: float = GROUND_RTOL,
               max_ground_states: int = 4096, **kwargs) -> dimod.SampleSet:
        """All ground states of ``bqm``.

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel
            SPIN or BINARY, any hashable labels, at most 30 variables.
        rtol : float
            Relative tolerance of the ground manifold.
        max_ground_states : int
            Refuse (with an error) a ground manifold larger than this.

        Returns
        -------
        dimod.SampleSet
            One row per ground state (in the BQM's vartype), ``info``: ``ground_energy``,
            ``degeneracy``, ``states_evaluated``, ``rtol``. An empty BQM gives one empty sample
            with the offset as energy.
        """
        self.remove_unknown_kwargs(**kwargs)
        if not isinstance(bqm, dimod.BinaryQuadraticModel):
            raise TypeError(f"expected a dimod.BinaryQuadraticModel, got {type(bqm).__name__}.")
        n = bqm.num_variables
        if n > MAX_EXACT_VARIABLES:
            raise EncodingError(f"the exact solver enumerates 2^n states and takes n <= "
                                f"{MAX_EXACT_VARIABLES}; this BQM has n = {n}. Use simulated "
                                "annealing (dwave.samplers.SimulatedAnnealingSampler) instead.")
        if not (np.isfinite(rtol) and 0 <= rtol < 1):
            raise EncodingError(f"rtol must be in [0, 1), got {rtol!r}.")
        if not (isinstance(max_ground_states, (int, np.integer)) and max_ground_states >= 1):
            raise EncodingError(f"max_ground_states must be a positive int, got "
                                f"{max_ground_states!r}.")
        variables = list(bqm.variables)
        if n == 0:
            info = {"ground_energy": float(bqm.offset), "degeneracy": 1, "states_evaluated": 1,
                    "rtol": rtol}
            return dimod.SampleSet.from_samples((np.empty((1, 0), dtype=np.int8), []),
                                                bqm.vartype, energy=[float(bqm.offset)],
                                                info=info)
        binary = bqm.change_vartype(dimod.BINARY, inplace=False)
        h, (row, col, qv), offset = binary.to_numpy_vectors(variable_order=variables)
        h = np.asarray(h, dtype=np.float64)
        if not (np.isfinite(h).all() and np.isfinite(qv).all() and np.isfinite(offset)):
            raise EncodingError("the BQM has non-finite biases (NaN or inf).")
        Q = np.zeros((n, n))
        np.add.at(Q, (row, col), qv)
        Q = Q + Q.T
        # capture tolerance: at least the final one for any E_min (|E| <= this scale)
        scale = abs(offset) + np.abs(h).sum() + 0.5 * np.abs(Q).sum()
        atol = rtol * max(scale, 1.0) + 64 * np.finfo(float).eps * max(scale, 1.0)
        chunk_bits = max(min(n, 16), n - 10)
        best, count, states = chunked_ground_states(h, Q, chunk_bits, int(max_ground_states), atol)
        e_low = best.min()
        live = best <= e_low + atol
        if np.any(count[live] > max_ground_states):
            raise EncodingError(f"more than max_ground_states = {max_ground_states} states lie "
                                "within the ground-state tolerance; raise max_ground_states or "
                                "lower rtol.")
        found = states[live]
        found = np.unique(found[found >= 0])
        bits = ((found[:, None] >> np.arange(n)) & 1).astype(np.int8)
        energies = offset + bits @ h + np.einsum("si,ij,sj->s", bits, np.triu(Q, 1), bits)
        e_min = energies.min()
        keep = energies <= e_min + rtol * max(abs(e_min), 1.0)
        if keep.sum() > max_ground_states:
            raise EncodingError(f"the ground manifold has {int(keep.sum())} states, more than "
                                f"max_ground_states = {max_ground_states}; raise it.")
        samples = bits[keep]
        if bqm.vartype is dimod.SPIN:
            samples = 2 * samples - 1
        info = {"ground_energy": float(e_min), "degeneracy": int(keep.sum()),
                "states_evaluated": 1 << n, "rtol": rtol}
        ss = dimod.SampleSet.from_samples_bqm((samples, variables), bqm, info=info,
                                             sort_labels=False)
        return ss
