"""Unscaled H_P twins (``[problems] scales``) and the fits of how the anneal scales with n:
the stored numbers against direct calls of spectral and simulate, and the fits against data
made by a known law."""

import numpy as np
import pytest

CONFIG = """
[study]
name = "scales"
seed = 1
[xai]
enabled = false
[problems]
formulations = []
random_qubits = [3, 4, 5]
random_seeds = [2, 4]
scales = ["auto", "none"]
[spectral]
levels = 3
[dynamics]
T = [5.0, 20.0]
t99 = true
t99_max_qubits = 3
t99_max_T = 20000.0
protocol = false
[hardware]
enabled = true
instances = 20
min_qubits = 3
max_qubits = 5
reads = 20
"""


@pytest.fixture(scope="module")
def scales_study(tmp_path_factory):
    from studies.config import load_config
    from studies.runner import run_study

    folder = tmp_path_factory.mktemp("scales")
    (folder / "scales.toml").write_text(CONFIG)
    summary = run_study(load_config(folder / "scales.toml"), folder / "scales.h5", workers=1,
                        threads_per_task=1, progress=False)
    assert summary.failed == 0
    return folder / "scales.h5"


def test_unscaled_twins_hold_what_spectral_and_simulate_give_without_scaling(scales_study):
    import simulate
    import spectral
    from studies.problems import _random_selection
    from studies.store import load_study

    problems = load_study(scales_study).of_kind("problem")
    assert len(problems) == 12
    twins = {iid: p for iid, p in problems.items() if iid.endswith("-unscaled")}
    assert len(twins) == 6 and all(p["spec"]["scale"] == "none" for p in twins.values())
    for iid, p in problems.items():
        unscaled = iid in twins
        spec, ga = p["spec"], p["group_attrs"]
        bqm = _random_selection(spec["n"], spec["seed"], "proven", 0.5)[0]
        scale = None if unscaled else "auto"
        H = spectral.AnnealingHamiltonian.from_bqm(bqm, scale=scale)
        assert ga["spectral"]["scale"] == H.scale
        assert ga["spectral"]["delta_min"] == pytest.approx(
            spectral.min_gap(H, levels=3).delta_min, rel=1e-6)
        edges = simulate.boundary_terms(H)
        assert ga["spectral"]["b0"] == pytest.approx(edges.b0, rel=1e-9)
        assert ga["spectral"]["b1"] == pytest.approx(edges.b1, rel=1e-9)
        p_stored = p["data"]["dynamics/p_success"]
        assert p_stored[0] == pytest.approx(
            simulate.success_probability(bqm, 5.0, scale=scale), abs=1e-5)
        # the QPU scales H_P itself: only scaled problems go to the hardware stand-in
        assert ("hardware" in ga) != unscaled
    scaled_gaps = {iid: p["group_attrs"]["spectral"]["delta_min"] for iid, p in problems.items()
                   if iid not in twins}
    # the raw energies of these problems exceed 1: unscaled gaps differ from the scaled ones
    assert any(twins[f"{iid}-unscaled"]["group_attrs"]["spectral"]["delta_min"]
               != pytest.approx(g, rel=1e-3) for iid, g in scaled_gaps.items())


def test_summary_and_report_state_the_scaling_per_kind(scales_study, tmp_path):
    from studies._summary import summarise
    from studies.report import write_report

    text = summarise(scales_study)
    assert "6 problems with H_P in the BQM's units" in text
    assert "scaling      random selection problems:" in text
    assert "scaling      random selection problems, H_P unscaled:" in text
    html_path, md_path = write_report(scales_study, tmp_path / "rep")
    page = html_path.read_text(encoding="utf-8")
    assert "Findings: scaling with the number of qubits" in page
    assert "Random selection problems, H_P unscaled (n = 3, 4, 5; 6 problems)" in page
    assert (tmp_path / "rep" / "figures" / "t99_unscaled.png").exists()
    assert "Over 6 problems (H_P scaled)" in page


def test_scaling_fit_recovers_the_law_that_made_the_data():
    from studies._findings import scaling_fit

    rng = np.random.default_rng(0)
    n = np.repeat(np.arange(6, 25, 2), 4)
    gap = 3.0 * np.exp(-0.2 * n) * np.exp(rng.normal(0, 0.1, n.size))
    exp_fit = scaling_fit(n, gap, "delta_min", "exponential")
    assert exp_fit.low < -0.2 < exp_fit.high and exp_fit.high - exp_fit.low < 0.05
    assert exp_fit.rms == pytest.approx(0.1 / np.log(10), rel=0.3)
    power = scaling_fit(n, gap, "delta_min", "power")
    assert power.rms > exp_fit.rms  # the exponential law made the data, and fits it better
    law = 5.0 * n**-1.5
    power = scaling_fit(n, law, "delta_min", "power")
    assert power.rate == pytest.approx(-1.5) and power.low == pytest.approx(-1.5)
    assert power.rms < 1e-12 < scaling_fit(n, law, "delta_min", "exponential").rms
    assert power.qubits == tuple(range(6, 25, 2)) and power.count == n.size
    line = scaling_fit(n, 0.9 - 0.01 * n, "s_star", "linear")
    assert line.rate == pytest.approx(-0.01) and "slope" in line.formula
    assert scaling_fit([6, 6, 8, 8], [1, 2, 3, 4], "delta_min", "power") is None  # two n
    with_gaps = scaling_fit([6, 8, 10, 12], [1.0, np.nan, 0.0, 0.5], "delta_min", "power")
    assert with_gaps is None  # NaN and non-positive values dropped: two n remain


def test_one_problem_per_n_gives_a_fit_without_an_interval():
    from studies._findings import scaling_fit

    n = np.array([6, 8, 10, 12])
    fit = scaling_fit(n, 2.0 * np.exp(-0.3 * n) * [1.1, 0.9, 1.05, 0.95], "delta_min",
                      "exponential")
    assert np.isnan(fit.low) and np.isnan(fit.high) and np.isfinite(fit.rate)
    assert "no interval: one problem per n" in fit.formula
    two = scaling_fit(np.repeat(n, 2), np.exp(-0.3 * np.repeat(n, 2)) * np.tile([1.1, 0.9], 4),
                      "delta_min", "exponential")
    assert two.low < two.rate < two.high
