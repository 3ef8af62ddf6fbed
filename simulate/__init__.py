"""simulate -- annealing dynamics: the state at the end of an anneal, the success probability
P(T), the time to reach a target probability, and a dimod sampler that draws from |psi(T)|^2.

>>> import dimod, simulate
>>> bqm = dimod.BinaryQuadraticModel({0: -1.0, 1: 0.5}, {(0, 1): 0.8}, 0.0, "BINARY")
>>> print(f"{simulate.success_probability(bqm, T=20.0):.6f}")
0.999832
"""

from ._anneal import (AnnealResult, SuccessCurve, anneal, initial_state, success_curve,
                      success_probability, time_to_target)
from ._boundary import BoundaryTerms, boundary_terms
from ._methods import METHODS, Method, register_method
from ._protocol import ProtocolResult, paper_protocol
from ._sampler import AnnealingSampler
from .exceptions import PropagationError, SimulationError, SolverUnavailableError

__all__ = ["AnnealResult", "anneal", "success_probability", "time_to_target", "initial_state",
           "SuccessCurve", "success_curve", "BoundaryTerms", "boundary_terms",
           "METHODS", "Method", "register_method", "paper_protocol", "ProtocolResult",
           "AnnealingSampler", "SimulationError", "PropagationError", "SolverUnavailableError"]
