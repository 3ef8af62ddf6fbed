"""A lower bound of the gap between two solved points of the anneal, from concavity alone.

Write ``H(s) = w(s) K(u(s))`` with ``w = A + B``, ``u = B / w`` and ``K(u) = (1 - u) H_D +
u H_P``, which is affine in u. For every j the sum ``sigma_j(u)`` of K's j lowest eigenvalues is
concave in u (Ky Fan: a minimum, over j-dimensional subspaces, of traces that are affine in u).
A concave function lies above its chords and below its tangents, so on ``[u_a, u_b]``

    sigma_{d+1}(u) >= chord of sigma_{d+1}           (the levels 0..d)
    sigma_d(u)     <= min of its tangents at u_a, u_b (the ground manifold, levels 0..d-1)
    eps_0(u)       <= min of its tangents at u_a, u_b

and the gap ``delta(u) = eps_d - eps_0 = sigma_{d+1} - sigma_d - eps_0`` is at least
``L(u) = chord - T_d - T_0``. The tangents' slopes are exact by Hellmann-Feynman:
``d eps_j / du = <H_P>_j - <H_D>_j``. L is convex and piecewise linear, so its minimum lies at
an end or at a kink, where two tangents meet: where the levels' straight continuations cross,
which is where a narrow avoided crossing hides. ``Delta(s) = w(s) delta(u(s))``.

The bound needs the levels at the two ends only; it is tight where the levels are straight and
falls to about ``|e_a - e_b|`` where two diabatic levels ``e_a``, ``e_b`` cross inside the
interval, however narrow the crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LevelPoint", "gap_lower_bound"]


@dataclass(frozen=True)
class LevelPoint:
    """What the bound needs of a solved point: levels 0..d of ``K(u)`` and their u-slopes.

    Attributes
    ----------
    u : float
        ``B / (A + B)`` at the point.
    eps : (d + 1,) ndarray
        ``E_j / (A + B)``, ascending.
    slopes : (d + 1,) ndarray
        ``d eps_j / du = <H_P>_j - <H_D>_j``.
    errors : (d + 1,) ndarray
        Bounds on the errors of ``eps``: the eigenpairs' residual norms over ``A + B`` (each
        Ritz value lies within its residual of an eigenvalue).
    """

    u: float
    eps: np.ndarray
    slopes: np.ndarray
    errors: np.ndarray


def gap_lower_bound(a: LevelPoint, b: LevelPoint, d: int) -> tuple[float, float]:
    """``(L_min, u_min)``: a lower bound on ``eps_d - eps_0`` over ``[a.u, b.u]`` and where the
    bound is lowest.

    The eigenvalue errors at the two ends are subtracted (three times their sum covers the
    chord and both tangent minima). The slopes are taken as exact: a Hellmann-Feynman slope
    from a vector of residual r is off by about ``r / spacing * ||H_P - H_D||``, which this
    bound does not cover.
    """
    ua, ub = a.u, b.u
    if not ub > ua:
        return -np.inf, ua
    top_a, top_b = float(a.eps[: d + 1].sum()), float(b.eps[: d + 1].sum())
    lines = []  # (value at ua, slope, value at ub, slope) of the two tangent minima
    for j in (d, 1):  # sigma_d's tangents, then eps_0's (sigma_1)
        lines.append((float(a.eps[:j].sum()), float(a.slopes[:j].sum()),
                      float(b.eps[:j].sum()), float(b.slopes[:j].sum())))
    points = [ua, ub]
    for va, sa, vb, sb in lines:
        if sa != sb:  # where the two tangents meet
            x = (vb - va + sa * ua - sb * ub) / (sa - sb)
            if ua < x < ub:
                points.append(x)
    xs = np.array(points)
    chord = top_a + (top_b - top_a) * (xs - ua) / (ub - ua)
    bound = chord.copy()
    for va, sa, vb, sb in lines:
        bound -= np.minimum(va + sa * (xs - ua), vb + sb * (xs - ub))
    margin = 3.0 * float(a.errors[: d + 1].sum() + b.errors[: d + 1].sum())
    j = int(np.argmin(bound))
    return float(bound[j]) - margin, float(xs[j])
