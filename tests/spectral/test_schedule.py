"""Schedules: linear, callables, tables and CSV files; clear errors."""

import numpy as np
import pytest

import dimod
import spectral
from spectral import Schedule, ScheduleError
from tests import naive


def test_linear_default():
    sched = Schedule.linear()
    assert sched(0.25) == (0.75, 0.25)
    assert sched.derivative(0.5) == (-1.0, 1.0)


def test_from_functions_with_numeric_derivative():
    sched = Schedule.from_functions(lambda s: np.cos(np.pi * s / 2), lambda s: np.sin(np.pi * s / 2))
    da, db = sched.derivative(0.3)
    assert da == pytest.approx(-np.pi / 2 * np.sin(np.pi * 0.3 / 2), rel=1e-6)
    assert db == pytest.approx(np.pi / 2 * np.cos(np.pi * 0.3 / 2), rel=1e-6)


def test_scalar_only_callables_work():
    import math

    sched = Schedule.from_functions(lambda s: math.exp(-3 * s), lambda s: 1 - math.exp(-3 * s))
    a, b = sched(np.array([0.0, 0.5]))
    np.testing.assert_allclose(a, np.exp([-0.0, -1.5]))


def test_table_interpolates_and_csv_round_trip(tmp_path):
    s = np.linspace(0, 1, 11)
    A, B = (1 - s) ** 2, s**2
    sched = Schedule.from_table(s, A, B)
    assert sched(0.05) == pytest.approx((0.5 * (A[0] + A[1]), 0.5 * (B[0] + B[1])))
    assert sched.derivative(0.05)[0] == pytest.approx((A[1] - A[0]) / 0.1)
    path = tmp_path / "schedule.csv"
    path.write_text("s,A(s) (GHz),B(s) (GHz)\n" + "\n".join(f"{a},{b},{c}" for a, b, c in zip(s, A, B)))
    from_csv = Schedule.from_csv(path)
    assert from_csv(0.37) == pytest.approx(sched(0.37))


def test_tabulated_schedule_changes_the_gap_like_the_dense_reference():
    bqm = naive.random_bqm(np.random.default_rng(8), 4, dimod.BINARY)
    s = np.linspace(0, 1, 21)
    A, B = np.cos(np.pi * s / 2) ** 2, np.sin(np.pi * s / 2) ** 2
    sched = Schedule.from_table(s, A, B)
    sweep = spectral.gap_sweep(bqm, [0.33, 0.61], schedule=sched)
    for j, x in enumerate([0.33, 0.61]):
        H = naive.dense_hamiltonian(bqm, x, A=lambda t: np.interp(t, s, A), B=lambda t: np.interp(t, s, B))
        ev = np.linalg.eigvalsh(H)
        assert sweep.gaps[j] == pytest.approx(ev[1] - ev[0], abs=1e-9)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Schedule.from_functions(lambda s: 1 - s, lambda s: np.nan * s), "not finite"),
        (lambda: Schedule.from_functions(lambda s: s, lambda s: 1 - s), r"A\(0\) = 0 must be > 0"),
        (lambda: Schedule.from_functions(lambda s: 1 - 2 * s, lambda s: s), r"A\(s\) < 0 at s"),
        (lambda: Schedule.from_functions(lambda s: 1 - s, lambda s: 2 * s - 1), r"B\(s\) < 0 at s"),
        (lambda: Schedule.from_functions(lambda s: 1 - s, lambda s: s * (1 - s)),
         r"B\(1\) = 0 must be > 0"),
        (lambda: Schedule.from_table([0, 1], [1, 0], [0, -1]), r"B\(s\) < 0 at s = \[0\.005"),
        (lambda: Schedule.from_table([0, 0.5], [1, 0], [0, 1]), r"span s in \[0, 1\]"),
        (lambda: Schedule.from_table([0, 0.7, 0.5, 1], [1, 1, 1, 0], [0, 0, 0, 1]), "strictly increasing"),
        (lambda: Schedule.from_table([0, 1], [1, np.inf], [0, 1]), "non-finite"),
        (lambda: Schedule.from_table([0, 1], [1, 0], [0]), "equal length"),
    ],
)
def test_bad_schedules(make, match):
    with pytest.raises(ScheduleError, match=match):
        make()


def test_a_signed_sweep_evolves_but_has_no_certified_minimum_gap():
    import dimod

    from spectral import SpectralError, min_gap

    sweep = Schedule.from_functions(lambda s: 0.5 + 0 * s, lambda s: 2 * s - 1, signed=True)
    assert sweep(0.0) == (0.5, -1.0)
    with pytest.raises(ScheduleError, match="A\\(0\\) = 0 must be > 0"):
        Schedule.from_functions(lambda s: 0 * s, lambda s: s, signed=True)
    bqm = dimod.BinaryQuadraticModel({"q": 1.0}, {}, 0.0, "SPIN")
    with pytest.raises(SpectralError, match="signed=True"):
        min_gap(bqm, schedule=sweep)


@pytest.mark.parametrize("s", [-0.1, 1.5, float("nan")])
def test_s_outside_unit_interval(s):
    with pytest.raises(ScheduleError, match="s must"):
        Schedule.linear()(s)


def test_missing_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match="could not be read"):
        Schedule.from_csv(tmp_path / "nope.csv")


def test_schedule_argument_types():
    bqm = dimod.BinaryQuadraticModel({0: 1.0}, {}, 0.0, "SPIN")
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, (lambda s: 2 * (1 - s), lambda s: s))
    assert H.coefficients(0.5) == (1.0, 0.5)
    with pytest.raises(TypeError, match="schedule must be"):
        spectral.AnnealingHamiltonian.from_bqm(bqm, 42)
