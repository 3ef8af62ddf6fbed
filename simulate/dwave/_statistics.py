"""Statistics of QPU samples: the Wilson score interval of P(ground), and the freeze-out
Boltzmann model that QPU output at microsecond anneal times follows.

A QPU annealing for microseconds is not a closed system: its state tracks the bath until the
dynamics freeze out at some s*, and the samples are then close to a Boltzmann distribution of
the problem Hamiltonian at an effective inverse temperature beta_eff = B(s*) / (2 k_B T)
(in the units of the QPU-scaled Ising energies). :func:`boltzmann_distribution` gives that
distribution by exact enumeration; :func:`fit_beta` fits beta_eff to samples by maximum
likelihood (for an exponential family that is the beta at which the model's mean energy equals
the samples' mean energy).
"""

from __future__ import annotations

import math

import dimod
import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp
from scipy.stats import norm

from spectral import ising_energies, ising_from_bqm

from ..exceptions import SimulationError

__all__ = ["wilson_interval", "boltzmann_distribution", "boltzmann_ground_probability",
           "fit_beta", "physical_beta", "enumerate_energies"]

#: k_B / h in GHz per kelvin
K_B_OVER_H_GHZ_PER_K = 20.836619


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927; good coverage also near
    0 and 1, where the normal approximation fails).

    Returns ``(low, high)``: the p for which |successes/trials - p| <= z sqrt(p (1 - p) / trials),
    z the two-sided normal quantile of ``confidence``.
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise SimulationError(f"need 0 <= successes <= trials and trials >= 1, got "
                              f"{successes} of {trials}.")
    if not 0 < confidence < 1:
        raise SimulationError(f"confidence must lie in (0, 1), got {confidence!r}.")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denom = 1 + z * z / trials
    center = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == trials else min(1.0, center + half)
    return low, high


def enumerate_energies(bqm: dimod.BinaryQuadraticModel, max_variables: int = 24):
    """Energies of all 2^n assignments (bit i of the index = variable i, in ``bqm.variables``
    order; offset included) and the variables, by spectral's block-wise enumeration; refuses
    n > ``max_variables`` (memory: 2^n float64)."""
    n = bqm.num_variables
    if n > max_variables:
        raise SimulationError(f"exact enumeration of {n} variables needs 2^{n} energies; the "
                              f"limit is {max_variables} (raise max_variables if memory allows).")
    problem = ising_from_bqm(bqm)
    return ising_energies(problem), list(problem.variables)


def boltzmann_distribution(energies: np.ndarray, beta: float) -> np.ndarray:
    """p(x) = exp(-beta E(x)) / Z over the given energies (beta >= 0, in inverse energy units
    of ``energies``)."""
    if not (math.isfinite(beta) and beta >= 0):
        raise SimulationError(f"beta must be a finite inverse temperature >= 0, got {beta!r}.")
    logw = -beta * (np.asarray(energies, dtype=float) - np.min(energies))
    return np.exp(logw - logsumexp(logw))


def boltzmann_ground_probability(energies: np.ndarray, beta: float, *, atol: float = 1e-9) -> float:
    """P(ground) of the Boltzmann model: the weight of the states within ``atol`` of the
    minimum energy."""
    E = np.asarray(energies, dtype=float)
    p = boltzmann_distribution(E, beta)
    return float(p[E <= E.min() + atol * max(1.0, abs(E.min()))].sum())


def fit_beta(energies: np.ndarray, sample_energies, *, beta_max: float = 1e4) -> float:
    """Maximum-likelihood beta of the Boltzmann model for observed sample energies.

    The log-likelihood of an exponential family is concave in beta and stationary where
    <E>_beta equals the samples' mean energy; <E>_beta falls monotonically from the uniform
    mean (beta = 0) to the minimum (beta -> inf). A sample mean at or below the minimum gives
    ``beta_max``; at or above the uniform mean, 0.
    """
    E = np.asarray(energies, dtype=float)
    target = float(np.mean(np.asarray(sample_energies, dtype=float)))
    if not np.isfinite(target):
        raise SimulationError("sample energies must be finite.")

    def mean_energy(beta):
        return float(boltzmann_distribution(E, beta) @ E)

    if target >= mean_energy(0.0):
        return 0.0
    if target <= mean_energy(beta_max):
        return float(beta_max)
    return float(brentq(lambda b: mean_energy(b) - target, 0.0, beta_max, xtol=1e-12,
                        rtol=1e-10))


def physical_beta(B_GHz_at_freeze: float, temperature_mK: float, divisor: float = 1.0) -> float:
    """beta_eff in inverse units of the *logical* Ising energy: the QPU's problem term at
    freeze-out is B(s*)/2 * E / divisor (GHz, E/h) against k_B T / h, so
    beta_eff = B(s*) / (2 divisor k_B T / h)."""
    if not (B_GHz_at_freeze >= 0 and temperature_mK > 0 and divisor > 0):
        raise SimulationError("need B(s*) >= 0 GHz, temperature > 0 mK and divisor > 0.")
    kT = K_B_OVER_H_GHZ_PER_K * temperature_mK * 1e-3
    return B_GHz_at_freeze / (2.0 * divisor * kT)
