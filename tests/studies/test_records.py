"""Every stored result type's record fits the study layout, and the layout refuses what it
does not describe."""

import json

import dimod
import numpy as np
import pytest

import simulate
import spectral
from studies._layout import DYNAMICS, HARDWARE, LAYOUT, SPECTRAL, XAI, in_group, read_group
from studies.problems import random_selection_bqm


def test_min_gap_and_success_curve_records_fit_the_layout():
    bqm = random_selection_bqm(4, 0)
    gap = spectral.min_gap(bqm, levels=3)
    datasets, attrs = in_group(SPECTRAL, gap.to_record())
    assert set(datasets) == {f"spectral/{k}" for k in ("s", "energies", "gaps", "residuals")}
    assert attrs["delta_min"] == gap.delta_min and attrs["certified"] == gap.certified
    assert json.loads(attrs["uncertified"]) == [list(u) for u in gap.uncertified]
    as_dict = gap.to_dict()  # the JSON form is the record's, arrays as lists
    assert as_dict["gaps"] == gap.gaps.tolist() and as_dict["s_star"] == gap.s_star
    curve = simulate.success_curve(bqm, [2.0, 8.0], t99=True, T_max=400.0)
    datasets, attrs = in_group(DYNAMICS, curve.to_record())
    assert set(datasets) == {"dynamics/T", "dynamics/p_success"}
    np.testing.assert_allclose(datasets["dynamics/p_success"],
                               [simulate.success_probability(bqm, T) for T in (2.0, 8.0)])
    # a gap of 0.03: T_99 is far beyond 400, so NaN with the reason
    assert attrs["method"] == "split" and np.isnan(attrs["t99"])
    assert "up to T_max = 400" in attrs["t99_note"]
    assert read_group(datasets, DYNAMICS).keys() == {"T", "p_success"}
    easy = dimod.BinaryQuadraticModel({0: -1.0, 1: 0.5}, {(0, 1): 0.8}, 0.0, "BINARY")
    _, attrs = simulate.success_curve(easy, [1.0], t99=True).to_record()
    assert attrs["t99"] == simulate.time_to_target(easy, 0.99) and "t99_note" not in attrs


def test_hardware_sweep_and_xai_records_fit_the_layout():
    from encoding import XaiStudy
    from simulate.dwave import hardware_sweep

    bqm = random_selection_bqm(3, 1)
    sweep = hardware_sweep(bqm, [1.0, 2.0], num_reads=50, seed=0)
    datasets, attrs = in_group(HARDWARE, sweep.to_record())
    assert all(v.shape == (2,) for v in datasets.values())
    assert set(datasets) == {f"hardware/{c}" for c in sweep.COLUMNS}
    np.testing.assert_array_equal(datasets["hardware/p_ground"],
                                  [r.p_ground for r in sweep.runs])
    assert attrs["reads"] == 50
    row = {"weights": "trained", "method": "gradcam", "space": "heatmap", "metric": "m",
           "better": "lower", "value": 1.0, "low": 0.5, "high": 1.5, "p_value": 0.1, "n": 4}
    study = XaiStudy(table=[row], arrays={"labels": np.arange(4),
                                          "trained/gradcam/heatmaps": np.zeros((4, 2, 2))})
    datasets, _ = in_group(XAI, study.to_record())
    assert datasets["xai/table/method"] == ["gradcam"]
    assert datasets["xai/table/value"].tolist() == [1.0]


def test_the_layout_refuses_what_it_does_not_describe():
    with pytest.raises(KeyError, match="not in the study layout"):
        in_group(SPECTRAL, ({"eigenvectors": np.zeros(2)}, {}))
    with pytest.raises(KeyError, match="unknown group"):
        in_group("misc", ({}, {}))
    groups = {pattern.split("/")[0] for pattern in LAYOUT}
    from studies._layout import GROUPS
    assert groups == set(GROUPS)  # every group of the layout has its record named


def test_t99_fits_recover_the_model_that_made_the_data():
    from studies._findings import t99_fits

    rng = np.random.default_rng(0)
    gap = rng.uniform(0.05, 1.0, 30)
    tb = rng.uniform(5.0, 500.0, 30)
    fits = {f.name: f for f in t99_fits(3.0 / gap**2, gap, tb)}
    assert fits["gap"].rms_log10 < 1e-12 and fits["gap"].coefficients[0] == pytest.approx(3.0)
    assert fits["boundary"].rms_log10 > 0.1  # T_boundary is unrelated here
    mixed = 2.0 / gap**2 + 0.5 * tb
    fits = {f.name: f for f in t99_fits(mixed, gap, tb)}
    assert fits["combined"].coefficients == pytest.approx((2.0, 0.5))
    assert fits["combined"].worst_factor == pytest.approx(1.0)
    assert fits["combined"].rms_log10 < min(fits["gap"].rms_log10, fits["boundary"].rms_log10)
    assert t99_fits([1.0, np.nan], [1.0, 1.0], [1.0, 1.0]) == []  # fewer than two problems
