"""The split-operator anneal under error control, on the CPU or a torch device (private).

Accuracy: the whole anneal is repeated with more steps until the Richardson estimate of the
final state's 2-norm error is below ``tol`` (``_control.refine``); the finest run is
returned. ``dt`` fixes the step instead (no error control), as in the reference paper's
protocol. The step itself is :mod:`simulate._split` (Numba kernels) or
:mod:`simulate._torch_split` (torch tensors), one splitting for both.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ._control import refine
from ._split import BLANES_MOAN6, SUZUKI4, SplitPropagator, Splitting
from ._torch_split import TorchSplitPropagator

__all__ = ["propagate"]


def propagate(energies, schedule, T, psi0, s_points, *, tol=1e-7, dt=None,
              splitting: Splitting | None = None, steps0=None, device=None):
    """Evolve ``psi0`` over the anneal, returning the states at ``s_points`` (the last = 1).

    ``splitting``: the step (:data:`BLANES_MOAN6`, :data:`KAHAN_LI6`, :data:`SUZUKI4`); by
    default ``BLANES_MOAN6`` under error control and ``SUZUKI4`` with a fixed step ``dt``.
    ``device``: a torch device ("cuda", "cpu") to run the same splitting on
    (:mod:`simulate._torch_split`); None: the Numba kernels.

    Returns
    -------
    states : list of complex ndarray
        The state at each of ``s_points``.
    info : dict
        ``steps`` (of the returned run), ``error_estimate`` (2-norm, NaN with ``dt``),
        ``runs``, ``seconds``, ``splitting`` (its name).
    """
    t_start = time.perf_counter()
    if splitting is None:
        splitting = SUZUKI4 if dt is not None else BLANES_MOAN6
    if device is None:
        prop = SplitPropagator(energies, schedule, T, splitting)
    else:
        prop = TorchSplitPropagator(energies, schedule, T, splitting, device)
    s_points = np.asarray(s_points, dtype=float)
    seg = np.diff(np.concatenate([[0.0], s_points]))

    def run(total_steps):
        state = prop.to_state(psi0)
        out, t = [], 0.0
        for s_end, length in zip(s_points, seg):
            n_seg = max(1, int(math.ceil(total_steps * length - 1e-9))) if length > 0 else 0
            prop.evolve(state, t, s_end * T, n_seg)
            t = s_end * T
            out.append(prop.from_state(state))
        return out

    info = {"splitting": splitting.name}
    if dt is not None:
        steps = max(1, int(math.ceil(T / dt - 1e-9)))
        states = run(steps)
        info.update(steps=steps, error_estimate=float("nan"), runs=1,
                    seconds=time.perf_counter() - t_start)
        return states, info
    # first try (``Splitting.first_steps``). Blanes-Moan: 2 T steps, which the runs of 2 T
    # and 4 T steps then usually accept: at tol = 1e-7 the fewest steps that meet tol are a
    # few T, nearly independent of n. The compositions: a step of 4 / (n + 1) time units at
    # fourth order, 8 / (n + 1) at sixth.
    c0, c1 = splitting.first_steps
    steps0 = steps0 or max(4, int(math.ceil(T * (c0 + c1 * (prop.n + 1)))))
    states, steps, err, runs = refine(run, steps0, splitting.order, tol, "split-operator")
    info.update(steps=steps, error_estimate=err, runs=runs, seconds=time.perf_counter() - t_start)
    return states, info
