"""QuboCAM: the heatmap of the feature maps chosen by the selection QUBO (private)."""

from __future__ import annotations

import warnings

import dimod
import numpy as np

from ._cam import BaseCAM
from ._capture import Capture, ablation_relevance
from ._exact import ExactGroundStateSolver
from ._ground import GroundStateSolver
from ._selection import CandidatesTruncatedWarning, SelectionQubo

__all__ = ["QuboCAM"]


class QuboCAM(BaseCAM):
    """Explain by the maps that minimise a selection QUBO, weighted by their GradCAM weight.

    For each image: :class:`SelectionQubo` builds the BQM from the layer's maps and gradients,
    ``solver`` returns samples, the lowest-energy sample is the selection S, and the channel
    vector is ``w_k = mean_ij dy_c/dA_k,ij`` on S and 0 elsewhere (docs/design.md). The heatmap is
    ``ReLU(sum_{k in S} w_k A_k)`` -- GradCAM's when S holds every map -- or, with
    ``per_channel_relu=True``, the reference paper's ``sum_{k in S} ReLU(w_k A_k)``.

    Parameters
    ----------
    model, target_layers, per_channel_relu
        As in :class:`BaseCAM`.
    formulation : {"paper", "cardinality"}
    solver : dimod.Sampler, optional
        Default :class:`GroundStateSolver`: every ground state by enumeration up to 20
        candidates (the first in dimod's order is used, and ``degeneracy_`` records how many
        there were), reproduced tabu search beyond, so that a layer of any width is explained
        (``solved_exactly_`` says which). Cap the candidates with ``max_qubits`` to keep every
        selection exact.
    sample_kwargs : dict, optional
        Passed to ``solver.sample`` (e.g. ``{"num_reads": 100, "seed": 1}`` for simulated
        annealing).
    **qubo_options
        Passed to :class:`SelectionQubo` (beta, m, relevance, redundancy, penalty,
        normalization, max_qubits).

    Attributes (after a call)
    -------------------------
    selections_ : list of tuple of int
        Chosen channels per image (empty if no candidate qualified).
    energies_ : (B,) ndarray
        QUBO energy of each selection.
    degeneracy_ : (B,) ndarray of int
        Lowest-energy samples returned (exact solver: the ground-state degeneracy).
    solved_exactly_ : (B,) ndarray of bool
        Whether each selection is a certified ground state (exact enumeration), or the best
        of a heuristic solver (see the sample set's ``info``).
    qubos_ : list of dict
        ``SelectionQubo.metadata_`` per image.
    channel_vectors_, capture_, constant_
        As in :class:`BaseCAM`.
    """

    def __init__(self, model, target_layers, formulation: str = "paper",
                 solver: dimod.Sampler | None = None, per_channel_relu: bool = False,
                 sample_kwargs: dict | None = None, **qubo_options):
        super().__init__(model, target_layers, per_channel_relu)
        self.formulation = formulation
        self.solver = solver if solver is not None else GroundStateSolver()
        self.sample_kwargs = dict(sample_kwargs or {})
        self.qubo_options = qubo_options
        SelectionQubo(formulation, **qubo_options)._settings()  # fail early on bad options

    def channel_weights(self, cap: Capture) -> np.ndarray:
        qubo = SelectionQubo(self.formulation, **self.qubo_options)
        rel = qubo._settings()[1]
        ablation = None
        if rel == "ablation":
            ablation = ablation_relevance(self.model, self._images, self.target_layers[0],
                                          list(cap.target_objects) if cap.target_objects
                                          else cap.targets)
        B, K = cap.activations.shape[:2]
        grad_w = cap.gradients.astype(np.float64).mean(axis=(2, 3))
        weights = np.zeros((B, K))
        self.selections_, self.qubos_ = [], []
        self.energies_, self.degeneracy_ = np.zeros(B), np.zeros(B, dtype=np.int64)
        self.solved_exactly_ = np.ones(B, dtype=bool)
        for b in range(B):
            with warnings.catch_warnings():  # a cap's truncation is in qubos_[b]["dropped"]
                warnings.simplefilter("ignore", CandidatesTruncatedWarning)
                qubo.fit(cap.activations[b], cap.gradients[b],
                         ablation=None if ablation is None else ablation[b],
                         target=int(cap.targets[b]))
            if qubo.empty_:
                chosen, energy, degeneracy = (), float(qubo.bqm_.offset), 1
            else:
                ss = self.solver.sample(qubo.bqm_, **self.sample_kwargs)
                first = ss.first
                chosen = tuple(sorted(int(k) for k, v in first.sample.items() if v == 1))
                energy = float(first.energy)
                agg = ss.aggregate()  # distinct samples
                degeneracy = int(np.sum(agg.record.energy <= energy + 1e-9 * max(abs(energy), 1)))
                self.solved_exactly_[b] = bool(ss.info.get(
                    "exact", isinstance(self.solver, ExactGroundStateSolver)))
            weights[b, list(chosen)] = grad_w[b, list(chosen)]
            self.selections_.append(chosen)
            self.qubos_.append(dict(qubo.metadata_))
            self.energies_[b], self.degeneracy_[b] = energy, degeneracy
        return weights

    def from_capture(self, cap: Capture, input_tensor) -> np.ndarray:
        self._images = input_tensor  # the ablation relevance re-runs the images
        try:
            return super().from_capture(cap, input_tensor)
        finally:
            del self._images
