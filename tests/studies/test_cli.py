"""The qaxai command line and problem files."""

import json
import subprocess
import sys

import dimod
import numpy as np
import pytest

import spectral
from studies import builtin_problems, load_bqm
from studies.cli import main


def test_builtin_example_is_a_choose_3_of_12_selection():
    assert "selection12" in builtin_problems()
    bqm = load_bqm("builtin:selection12")
    assert bqm.num_variables == 12
    ground = dimod.ExactSolver().sample(bqm).lowest()
    # the cardinality penalty makes every minimiser choose exactly m = 3 maps
    assert all(sum(sample.values()) == 3 for sample in ground.samples())


def test_gap_json_matches_library(capsys):
    assert main(["gap", "builtin:selection12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = spectral.min_gap(load_bqm("builtin:selection12"))
    assert out["delta_min"] == pytest.approx(ref.delta_min, abs=1e-9)
    assert out["s_star"] == pytest.approx(ref.s_star, abs=1e-6)
    assert out["n"] == 12 and out["sector"] == "full" and out["degeneracy"] == 1
    assert out["delta_min_bqm_units"] == pytest.approx(out["delta_min"] * out["scale"])
    assert set(out["timings"]) >= {"load_s", "build_s", "min_gap_s"}
    assert out["certified"] is True and out["uncertified"] == []
    assert out["delta_rtol"] == pytest.approx(ref.delta_rtol, rel=1e-3) and out["delta_rtol"] < 1e-6


@pytest.mark.parametrize("fmt", ["bqm", "json-dimod", "json-plain", "coo"])
def test_gap_reads_every_file_format(tmp_path, capsys, fmt):
    bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -0.5, "c": 0.2}, {("a", "b"): 0.8, ("b", "c"): -1.1}, 0.3, "SPIN")
    path = tmp_path / "problem"
    if fmt == "bqm":
        path.write_bytes(bqm.to_file().read())
    elif fmt == "json-dimod":
        path.write_text(json.dumps(bqm.to_serializable()))
    elif fmt == "json-plain":
        path.write_text(json.dumps({"vartype": "SPIN", "linear": dict(bqm.linear),
                                    "quadratic": [[u, v, b] for (u, v), b in bqm.quadratic.items()],
                                    "offset": bqm.offset}))
    else:
        bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -0.5, 2: 0.2}, {(0, 1): 0.8, (1, 2): -1.1}, 0.0, "SPIN")
        path.write_text("# vartype=SPIN\n0 0 1.0\n1 1 -0.5\n2 2 0.2\n0 1 0.8\n1 2 -1.1\n")
    loaded = load_bqm(path)
    assert loaded.vartype is bqm.vartype
    ref = spectral.min_gap(bqm)
    assert main(["gap", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["delta_min"] == pytest.approx(ref.delta_min, abs=1e-9)


def test_gap_plot_writes_a_png(tmp_path, capsys):
    png = tmp_path / "levels.png"
    assert main(["gap", "builtin:selection12", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "Delta_min" in text and "s*" in text and str(png) in text


@pytest.mark.parametrize(
    "content, extra, match",
    [
        (None, [], "does not exist"),
        ("{not json", [], "does not parse"),
        ('{"linear": {}}', [], "lacks"),
        ("0 1 0.5\n", [], "vartype"),
        ('{"vartype": "SPIN", "linear": {"a": 1.0}}', ["--scale", "-3"], "scale"),
    ],
)
def test_gap_errors_are_clear_and_exit_2(tmp_path, capsys, content, extra, match):
    path = tmp_path / "bad.txt"
    if content is not None:
        path.write_text(content)
    assert main(["gap", str(path), *extra]) == 2
    assert match in capsys.readouterr().err


def test_unknown_builtin(capsys):
    assert main(["gap", "builtin:nope"]) == 2
    assert "selection12" in capsys.readouterr().err


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "studies.cli", "gap", "builtin:selection12", "--json",
                           "--coarse-points", "9"], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["n"] == 12


def test_schedule_csv_option(tmp_path, capsys):
    s = np.linspace(0, 1, 51)
    path = tmp_path / "sched.csv"
    path.write_text("s,A,B\n" + "\n".join(f"{x},{np.cos(np.pi * x / 2) ** 2},{np.sin(np.pi * x / 2) ** 2}" for x in s))
    bqm_path = tmp_path / "p.json"
    bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -0.5}, {(0, 1): 0.8}, 0.0, "SPIN")
    bqm_path.write_text(json.dumps(bqm.to_serializable()))
    assert main(["gap", str(bqm_path), "--schedule", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = spectral.min_gap(bqm, schedule=spectral.Schedule.from_csv(path))
    assert out["delta_min"] == pytest.approx(ref.delta_min, abs=1e-12)
    assert "table of 51 points" in out["schedule"]


def test_shipped_selection_problem_chooses_exactly_m_maps():
    from encoding import ExactGroundStateSolver, selections

    bqm = load_bqm("builtin:selection12")
    info = builtin_problems()
    assert "digit" in info["selection12"]
    ground = selections(ExactGroundStateSolver().sample(bqm))
    assert ground and all(len(sel) == 3 for sel in ground)


def test_explain_command_draws_a_gallery(tmp_path, monkeypatch, capsys, trained_default_cache):
    monkeypatch.setenv("QAXAI_CACHE_DIR", str(trained_default_cache))
    png = tmp_path / "gallery.png"
    assert main(["explain", "--class", "3", "--count", "2", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert png.stat().st_size > 5000 and out.count("true 3") == 2 and "qubo-paper maps" in out
    assert main(["explain", "--index", "100000", "--out", str(png)]) == 2
    assert "--index must be in 0.." in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0 1 nan", "1 2 x", "0 1", "0 1 2 3", "-1 2 0.5", "0 1 inf"])
def test_coo_lines_that_do_not_parse_are_errors_with_their_line_number(tmp_path, bad):
    path = tmp_path / "problem.coo"
    path.write_text(f"# vartype=SPIN\n0 0 0.5\n0 1 -1.0\n{bad}\n")
    with pytest.raises(ValueError, match=r"problem.coo, line 4: .* is not 'i j bias'"):
        load_bqm(path)


def test_coo_reads_linear_quadratic_and_repeated_terms(tmp_path):
    path = tmp_path / "problem.coo"
    path.write_text("# vartype=BINARY\n0 0 0.5\n\n0 1 -1.0\n1 0 0.25\n2 2 -2e-1\n")
    bqm = load_bqm(path)
    assert bqm == dimod.BinaryQuadraticModel({0: 0.5, 1: 0.0, 2: -0.2}, {(0, 1): -0.75}, 0.0,
                                             "BINARY")


def test_a_negative_number_after_an_option_is_its_value(tmp_path, capsys):
    # argparse takes "-1e-3" for an option of its own ("expected one argument")
    coo = tmp_path / "p.coo"
    coo.write_text("# vartype=SPIN\n0 0 1.0\n0 1 -1.0\n")
    with pytest.raises(SystemExit) as exit_:
        main(["gap", str(coo), "--s-tol", "-1e-3"])
    assert exit_.value.code == 2
    assert "argument --s-tol: must be a finite number > 0, got -1e-3" in capsys.readouterr().err
    assert main(["gap", str(coo), "--s-tol", "1e-5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["s_tol"] == 1e-5


def test_a_memory_refusal_names_the_cli_flag_and_small_sizes_in_bytes(tmp_path, capsys):
    coo = tmp_path / "p.coo"
    coo.write_text("# vartype=SPIN\n0 0 1.0\n0 1 -1.0\n")
    assert main(["gap", str(coo), "--memory-limit", "10"]) == 2
    err = capsys.readouterr().err
    assert "needs about 32 bytes, but only 10 bytes" in err
    assert "--memory-limit BYTES" in err and "memory_limit=" not in err


@pytest.mark.parametrize("argv, words", [
    (["hardware", "P", "--seed", "-4"], "argument --seed: must be >= 0, got -4"),
    (["hardware", "P", "--annealing-time", "nan"], "argument --annealing-time: must be a finite"),
    (["gap", "P", "--rtol", "x"], "argument --rtol: must be a number > 0, got 'x'"),
])
def test_number_options_name_the_option_and_the_rule(tmp_path, capsys, argv, words):
    coo = tmp_path / "p.coo"
    coo.write_text("# vartype=SPIN\n0 0 1.0\n0 1 -1.0\n")
    with pytest.raises(SystemExit) as exit_:
        main([str(coo) if a == "P" else a for a in argv])
    assert exit_.value.code == 2 and words in capsys.readouterr().err


def test_memory_limit_inf_lifts_the_guard(tmp_path, capsys):
    coo = tmp_path / "p.coo"
    coo.write_text("# vartype=SPIN\n0 0 1.0\n0 1 -1.0\n")
    assert main(["gap", str(coo), "--memory-limit", "inf", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["delta_min"] > 0
