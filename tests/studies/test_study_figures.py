"""Figures and the inspect summary, from a study file alone; the run / figures commands."""

import shutil

import h5py
import numpy as np
import pytest

from studies.cli import main
from studies.store import load_study
from studies.study_figures import study_figures

EXPECTED = ["levels", "delta_min_histogram", "scaling", "p_success", "t99", "hardware",
            "gallery_papernet", "bhattacharyya_papernet", "metrics_papernet"]


@pytest.mark.xdist_group("tiny-study")  # one worker builds the study once
def test_every_figure_in_png_and_pdf(tiny_study, tmp_path):
    paths = study_figures(tiny_study[1], tmp_path)
    names = {p.name for p in paths}
    for stem in EXPECTED:
        for fmt in ("png", "pdf"):
            assert f"{stem}.{fmt}" in names
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG" if p.suffix == ".png" else b"%PDF"), p
        assert p.stat().st_size > 5000, p


@pytest.mark.xdist_group("tiny-study")  # one worker builds the study once
def test_figures_need_only_the_file_and_skip_what_it_lacks(tiny_study, tmp_path):
    copy = tmp_path / "copy.h5"
    shutil.copy(tiny_study[1], copy)
    with h5py.File(copy, "r+") as f:  # drop the hardware results and the XAI instance
        for g in f["instances"].values():
            if "hardware" in g:
                del g["hardware"]
        del f["instances/xai-PaperNet"]
    paths = study_figures(copy, tmp_path / "fig", formats=("png",))
    stems = {p.stem for p in paths}
    assert "hardware" not in stems and "gallery_papernet" not in stems
    assert {"levels", "p_success", "scaling"} <= stems


@pytest.mark.xdist_group("tiny-study")  # one worker builds the study once
def test_inspect_summarises_the_file(tiny_study, capsys):
    assert main(["inspect", str(tiny_study[1])]) == 0
    out = capsys.readouterr().out
    study = load_study(tiny_study[1])
    dm = [i["group_attrs"]["spectral"]["delta_min"] for i in study.instances.values()
          if "spectral" in i["group_attrs"]]
    assert f"median {np.median(dm):.4g}" in out
    assert f"complete     {len(study.instances) - 1} problem, 1 xai" in out
    assert "hardware     1 instances" in out


def test_inspect_and_figures_refuse_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    assert main(["inspect", str(bad)]) == 2
    assert "truncated or corrupted" in capsys.readouterr().err
    assert main(["figures", str(tmp_path / "missing.h5"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_command_rejects_a_bad_config_before_starting(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[problems]\nqubit = [4]\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'qubit' in [problems]" in err and "did you mean 'qubits'" in err
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_run_command_rejects_bad_worker_counts(tmp_path, capsys, workers):
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    with pytest.raises(SystemExit) as exit_:  # argparse: the usage and the rule, exit 2
        main(["run", str(cfg), "--workers", workers])
    assert exit_.value.code == 2
    assert f"--workers: must be >= 1, got {workers}" in capsys.readouterr().err
