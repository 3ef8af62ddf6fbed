"""Global error control by step-count refinement (private), shared by the propagators.

A method of order p run with N1 and N2 > N1 equal steps has final-state errors
e_i ~ C N_i^-p, so the finer run's error is about ||psi_1 - psi_2|| / ((N2/N1)^p - 1)
(Richardson). Starting from a cheap N0, the next step count is predicted from the
estimate (with a 20 % margin) rather than doubled, so that the runs cost little more than the
final one.
"""

from __future__ import annotations

import math

import numpy as np

from .exceptions import PropagationError

#: most refinements, and most steps of one run (a propagator that does not converge, e.g. a
#: schedule with a discontinuity, stops here instead of growing without bound)
MAX_RUNS = 12
MAX_STEPS = 2_000_000


def refine(run, steps0: int, order: int, tol: float, name: str):
    """Call ``run(N)`` (a list of states) with increasing N until the Richardson estimate of
    the finer run's error is <= ``tol``. Returns ``(states, steps, error, runs)``."""
    steps, prev = steps0, run(steps0)
    nxt = 2 * steps0
    for runs in range(2, MAX_RUNS + 1):
        cur = run(nxt)
        diff = max(float(np.linalg.norm(a - b)) for a, b in zip(cur, prev))
        err = diff / ((nxt / steps) ** order - 1.0)
        if err <= tol:
            return cur, nxt, err, runs
        grow = 1.2 * (err / tol) ** (1.0 / order)
        steps, prev = nxt, cur
        nxt = int(math.ceil(nxt * min(max(grow, 1.5), 8.0)))
        if nxt > MAX_STEPS:
            break
    raise PropagationError(f"the {name} propagator did not reach tol = {tol:g} (estimated error "
                          f"{err:.2e} with {steps} steps, {runs} runs); raise tol or try "
                          "another method.")
