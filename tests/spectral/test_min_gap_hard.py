"""min_gap on hard instances: narrow avoided crossings and tiny gaps.

References: dense diagonalisation (tests.naive) on a grid with every local minimum refined and
polished; for the perturbative-crossing family, an exact reduction to total-spin sectors that
shares no code with the package; for the certification bound, dense eigenpairs on a fine grid.
"""

import dimod
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import spectral
from spectral._bound import LevelPoint, gap_lower_bound
from studies.problems import perturbative_crossing_bqm, rounded_ising_bqm
from tests import naive


def _issue_instances(trials) -> dict:
    rng = np.random.default_rng(2026)
    out = {}
    for trial in range(max(trials) + 1):
        bqm = rounded_ising_bqm(8, rng)
        if trial in trials:
            out[trial] = bqm
    return out


_ISSUE = (21, 77, 190, 237, 238, 276)


def _norm(bqm) -> float:
    HD, HP = naive.dense_parts(bqm)
    return float(np.abs(HD).sum(axis=1).max() + np.abs(HP).max())


def _norm_bound(bqm, s: float, scale: float) -> float:
    """An upper bound of ||(1 - s) H_D + s H_P||, H_P the BQM's energy over ``scale`` (no
    dense matrix: for n where that would not fit)."""
    energy = sum(map(abs, bqm.linear.values())) + sum(map(abs, bqm.quadratic.values()))
    return (1 - s) * bqm.num_variables + s * energy / scale


def _assert_matches(result, ref_delta, bqm, rtol=1e-6):
    """delta_min to ``rtol`` of the reference, beyond what double precision resolves (a few ulp
    of ||H|| in either spectrum), and inside twice the accuracy that min_gap reports (an
    estimate: the hyperbola's prediction and the eigensolver's bound)."""
    floor = 8 * np.finfo(float).eps * _norm(bqm)
    error = abs(result.delta_min - ref_delta)
    assert error <= rtol * ref_delta + floor
    assert error <= 2 * result.delta_rtol * result.delta_min + floor
    assert result.certified


@pytest.mark.parametrize("trial", _ISSUE)
def test_narrow_crossings_and_tiny_gaps_of_random_rounded_ising(trial):
    # trials 21 and 237: a crossing the coarse sweep misses or sees only above the end point;
    # 77, 190, 238, 276: gaps of 8e-9 to 3e-7, where 1e-7 in s moves Delta by a large factor
    bqm = _issue_instances(_ISSUE)[trial]
    result = spectral.min_gap(bqm)
    gap, d = naive.dense_gap_function(bqm)
    assert result.degeneracy == d == 1
    ref_delta, ref_s = naive.dense_min_gap(gap, 401)
    _assert_matches(result, ref_delta, bqm)
    assert result.s_star == pytest.approx(ref_s, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 8), st.integers(0, 2**32 - 1))
@example(3, 15642)  # the minimum just inside s = 1, below the end point by 8e-9 of the gap
def test_random_rounded_ising_against_dense(n, seed):
    bqm = rounded_ising_bqm(n, np.random.default_rng(seed))
    gap, d = naive.dense_gap_function(bqm)
    assume(d == 1)
    result = spectral.min_gap(bqm)
    ref_delta, _ = naive.dense_min_gap(gap, 401)
    _assert_matches(result, ref_delta, bqm)


# --- a perturbative crossing: studies.problems.perturbative_crossing_bqm, a star ----------


def _star(m: int, eps: float = 0.1, delta: float = 0.2):
    """The star of m leaves and its parameters (h_c, h, J), written out here once more."""
    bqm = perturbative_crossing_bqm(m + 1, eps=eps, delta=delta)
    params = (m * (1.0 - eps) - delta, 1.0 - eps, 1.0)
    assert bqm.linear[0] == params[0] and bqm.linear[1] == params[1]
    assert all(bqm.quadratic[(0, i)] == params[2] for i in range(1, m + 1))
    return bqm, params


def _star_levels(m: int, s: float, params, scale: float) -> np.ndarray:
    """E_0, E_1 of the star from its total-leaf-spin sectors: the leaves' Hamiltonian depends
    on sum_i Z_i and sum_i X_i only, so each sector S is the centre (2) x (2S + 1) states."""
    hc, h, J = params
    levels = []
    for S2 in range(m, -1, -2):
        S = S2 / 2
        M = np.arange(-S, S + 1)
        k = M.size
        Sx = np.diag(0.5 * np.sqrt(S * (S + 1) - M[:-1] * (M[:-1] + 1)), 1)
        Sx = Sx + Sx.T
        H = np.zeros((2 * k, 2 * k))
        for block, c in ((slice(0, k), 1.0), (slice(k, 2 * k), -1.0)):
            H[block, block] = s * np.diag(hc * c + (h + J * c) * 2 * M) / scale - (1 - s) * 2 * Sx
        H[:k, k:] = H[k:, :k] = -(1 - s) * np.eye(k)
        levels.extend(np.linalg.eigvalsh(H)[:2])
    return np.sort(levels)[:2]


def _zoomed_min(gap, points=1001, zoom=201, rounds=8):
    """Grid minimum, zoomed in: a window of four spacings around it, regridded, repeated
    (the V of a narrow crossing keeps the grid minimum next to it), then polished."""
    lo, hi = 0.0, 1.0
    grid = np.linspace(lo, hi, points)
    for _ in range(rounds):
        values = [gap(s) for s in grid]
        j = int(np.argmin(values))
        step = grid[1] - grid[0]
        lo, hi = max(grid[j] - 2 * step, 0.0), min(grid[j] + 2 * step, 1.0)
        if hi - lo < 1e-13:
            break
        grid = np.linspace(lo, hi, zoom)
    return naive.polish_minimum(gap, float(grid[j]), float(values[j]))


def test_star_sector_reduction_agrees_with_dense():
    m = 7
    bqm, params = _star(m)
    scale = naive.ising_scale(bqm)
    gap, d = naive.dense_gap_function(bqm)
    assert d == 1
    for s in (0.2, 0.6, 0.95, 0.99, 0.9924):
        assert np.diff(_star_levels(m, s, params, scale))[0] == pytest.approx(gap(s), abs=1e-12)


@pytest.mark.parametrize("n", [8, 10, 12, pytest.param(14, marks=pytest.mark.slow)])
def test_perturbative_crossing_family(n):
    m = n - 1
    bqm, params = _star(m)
    scale = naive.ising_scale(bqm)
    ref_delta, ref_s = _zoomed_min(lambda s: float(np.diff(_star_levels(m, s, params, scale))[0]))
    result = spectral.min_gap(bqm)
    assert result.sector == "full" and result.degeneracy == 1
    _assert_matches(result, ref_delta, bqm)
    assert result.s_star == pytest.approx(ref_s, abs=1e-6)


def test_the_star_family_is_hard():
    # the family is what it claims: the crossing moves later and its gap shrinks
    # exponentially (by more than 3x a qubit) as it grows
    found = []
    for m in (5, 7, 9):
        bqm, params = _star(m)
        scale = naive.ising_scale(bqm)
        found.append(_zoomed_min(lambda s: float(np.diff(_star_levels(m, s, params, scale))[0]),
                                 rounds=4))
    deltas, s_stars = np.array(found).T
    assert np.all(np.diff(s_stars) > 0)
    assert np.all(deltas[1:] / deltas[:-1] < 1 / 9)


# --- the certification bound ----------------------------------------------------------------

_SCHEDULES = {
    "linear": (lambda s: 1 - s, lambda s: s),
    "curved": (lambda s: (1 - s) ** 2 + 0.1 * (1 - s), lambda s: s**1.5 + 0.3 * s * (1 - s)),
}


def _level_point(HD, HP, A, B, s, d):
    a, b = A(s), B(s)
    vals, vecs = np.linalg.eigh(a * HD + b * HP)
    v = vecs[:, : d + 1]
    hd = np.einsum("ij,ik,kj->j", v, HD, v)
    hp = np.einsum("ij,ij->j", v, np.diag(HP)[:, None] * v)
    w = a + b
    return LevelPoint(u=b / w, eps=vals[: d + 1] / w, slopes=hp - hd,
                      errors=np.full(d + 1, 1e-13))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**32 - 1), st.floats(0.0, 0.95),
       st.floats(1e-3, 0.5), st.sampled_from(sorted(_SCHEDULES)))
def test_gap_lower_bound_holds_between_two_points(n, seed, start, width, schedule):
    bqm = rounded_ising_bqm(n, np.random.default_rng(seed))
    HD, HP = naive.dense_parts(bqm)
    d = naive.ground_degeneracy(np.diag(HP))
    assume(d < 2**n)
    A, B = _SCHEDULES[schedule]
    lo, hi = start, min(start + width, 1.0)
    pa, pb = _level_point(HD, HP, A, B, lo, d), _level_point(HD, HP, A, B, hi, d)
    bound, u_low = gap_lower_bound(pa, pb, d)
    assert pa.u <= u_low <= pb.u
    for s in np.linspace(lo, hi, 101):
        ev = np.linalg.eigvalsh(A(s) * HD + B(s) * HP)
        assert (ev[d] - ev[0]) / (A(s) + B(s)) >= bound - 1e-10


def test_gap_lower_bound_is_tight_on_short_intervals_and_finds_a_crossing():
    m = 7
    bqm, _ = _star(m)
    HD, HP = naive.dense_parts(bqm)
    A, B = _SCHEDULES["linear"]
    gap = naive.dense_gap_function(bqm)[0]
    # away from the crossing, on an interval of 1e-3, the bound is within 1e-5 of the gap
    pa, pb = _level_point(HD, HP, A, B, 0.5, 1), _level_point(HD, HP, A, B, 0.501, 1)
    bound, _ = gap_lower_bound(pa, pb, 1)
    assert min(gap(0.5), gap(0.501)) - 1e-5 <= bound <= min(gap(0.5), gap(0.501))
    # an interval holding the crossing, with both ends gapped: the bound cannot clear it,
    # and it puts the split near the crossing (the midpoint would be 10 % of the interval off)
    ref_delta, ref_s = naive.dense_min_gap(gap, 401)
    lo, hi = ref_s - 0.03, ref_s + 0.02
    assert min(gap(lo), gap(hi)) > 100 * ref_delta
    bound, u_low = gap_lower_bound(_level_point(HD, HP, A, B, lo, 1),
                                   _level_point(HD, HP, A, B, hi, 1), 1)
    assert bound < ref_delta
    assert abs(u_low - ref_s) < 0.03 * (hi - lo)


def test_an_interval_left_uncertified_is_reported_with_a_warning():
    bqm = _issue_instances((237,))[237]
    with pytest.warns(RuntimeWarning, match="could not be certified"):
        result = spectral.min_gap(bqm, max_evaluations=0, coarse_points=5)
    assert not result.certified
    lo, hi, bound = result.uncertified[0]
    assert 0.0 <= lo < hi <= 1.0 and bound < result.delta_min


def test_min_gap_parameter_errors():
    bqm = _star(3)[0]
    for kw, match in (({"rtol": 0.0}, "rtol"), ({"certify_rtol": 1.5}, "certify_rtol"),
                      ({"max_candidates": 0}, "max_candidates"),
                      ({"max_evaluations": -1}, "max_evaluations")):
        with pytest.raises(spectral.SpectralError, match=match):
            spectral.min_gap(bqm, **kw)


def test_problem_families_reject_bad_parameters():
    with pytest.raises(ValueError, match="n >= 2"):
        perturbative_crossing_bqm(1)
    with pytest.raises(ValueError, match="0 < eps < 1"):
        perturbative_crossing_bqm(5, eps=1.0)
    a = rounded_ising_bqm(5, np.random.default_rng(3))
    b = rounded_ising_bqm(5, np.random.default_rng(3))
    assert a == b and a.num_variables == 5 and a.vartype is dimod.SPIN


@pytest.mark.parametrize("n, eps", [(10, 0.3), (10, 0.5), (12, 0.5), (14, 0.3)])
def test_reported_accuracy_covers_the_error_of_a_gap_near_the_rounding_floor(n, eps):
    # minimum gaps of 6e-6 to 2e-9 at s* = 0.94-0.98, |E| about 3: a computed gap is off by
    # several ulp of ||H|| there, more than the search's own error, and delta_rtol must say so
    m = n - 1
    bqm, params = _star(m, eps=eps)
    scale = naive.ising_scale(bqm)
    ref_delta, ref_s = _zoomed_min(lambda s: float(np.diff(_star_levels(m, s, params, scale))[0]))
    result = spectral.min_gap(bqm)
    assert result.degeneracy == 1 and result.certified
    assert result.s_star == pytest.approx(ref_s, abs=1e-6)
    # the reference's own rounding: eigvalsh on sector blocks of norm at most ||H(s*)||
    reference_error = 4 * np.finfo(float).eps * _norm_bound(bqm, ref_s, scale)
    assert abs(result.delta_min - ref_delta) <= result.delta_rtol * result.delta_min + reference_error


@pytest.mark.parametrize("n", [12, 14, 16])
def test_gap_at_s_star_is_the_exact_gap_there_to_rounding(n):
    # the sweep's solvers are warm-started from point to point, their projected matrices
    # updated through many restarts; the levels min_gap reports must still be those of H(s*)
    # to the rounding of one Rayleigh quotient, (2n + 1) ulp of ||H(s*)||, not to what the
    # solvers accumulated (several times that on this family)
    m = n - 1
    bqm, params = _star(m)
    scale = naive.ising_scale(bqm)
    result = spectral.min_gap(bqm)
    s = result.s_star
    exact = float(np.diff(_star_levels(m, s, params, scale))[0])
    ulp = np.finfo(float).eps * _norm_bound(bqm, s, scale)
    assert abs(result.delta_min - exact) <= (2 * n + 1) * ulp


@pytest.mark.parametrize("nbits", [12, 18])
def test_ritz_inner_products_round_as_a_pairwise_sum(nbits):
    # one term of 1 and 2^n - 1 terms below half an ulp of it: a sum that runs through them
    # in sequence, as a BLAS kernel's accumulators do, drops each; the floor of delta_rtol
    # allows n roundings of the largest partial sum, which a pairwise sum keeps to
    import math

    from spectral._levels import _pairwise_gram

    dim = 2**nbits
    tiny = 0.4 * np.finfo(float).eps
    x = np.full(dim, tiny)
    x[0] = 1.0
    X = np.stack([x, np.ones(dim)])
    exact = math.fsum([1.0, (dim - 1) * tiny])  # x . 1
    gram = _pairwise_gram(X, X)
    assert gram[0, 1] == gram[1, 0] and gram[1, 1] == dim
    assert abs(gram[0, 1] - exact) <= nbits * np.finfo(float).eps * exact
