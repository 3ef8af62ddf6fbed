"""docs/design.md's table "What qaxai refuses", run: one case per row, each the bad input as a
user gives it (through the CLI where the CLI takes it), checked for the exit status 2, no
traceback, the words the table promises, and no file left behind where a run is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from studies.cli import main

DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"


def _table() -> dict[str, list[str]]:
    """rule id -> the key words of its row (the backticked phrases of the last column)."""
    text = DESIGN.read_text()
    section = text[text.index("## What qaxai refuses"):]
    section = section[:section.index("\n## ", 5)]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = re.findall(r"`([^`]+)`", cells[2])
    return rows


def _cli(capsys, *argv) -> tuple[int, str]:
    """(exit status, standard error) of ``qaxai ARGV`` (argparse's refusals exit too)."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exit_:
        rc = exit_.code
    return rc, capsys.readouterr().err


def _api(call) -> tuple[int, str]:
    """An API refusal as the CLI would show it: (2, message)."""
    try:
        call()
    except ValueError as exc:
        return 2, str(exc)
    return 0, ""


RANDOM_ONLY = """
[study]
name = "r"
[xai]
enabled = false
[problems]
formulations = []
random_qubits = [3]
[dynamics]
enabled = false
"""

ONE_PROBLEM = """
[study]
name = "one"
[images]
per_class = 1
classes = [0]
[xai]
enabled = false
[problems]
formulations = ["cardinality"]
qubits = [4]
[spectral]
levels = 2
[dynamics]
enabled = false
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _mnist(folder: Path, test_labels) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, labels in (("train", np.arange(20) % 10), ("t10k", np.asarray(test_labels))):
        _idx(folder / f"{prefix}-images-idx3-ubyte", 2051,
             rng.integers(0, 255, (len(labels), 8, 8)))
        _idx(folder / f"{prefix}-labels-idx1-ubyte", 2049, labels)
    return folder


def _study_file(path: Path, config_text: str) -> Path:
    from studies.config import load_config
    from studies.store import StudyStore

    StudyStore(path, load_config("other.toml", text=config_text))
    return path


def _unchanged(path: Path, refuse):
    """``refuse()``'s result, checking that the file at ``path`` kept every byte."""
    before = path.read_bytes()
    result = refuse()
    assert path.read_bytes() == before, f"{path} was changed by a refused run"
    return result


def _nan_model():
    import torch

    from encoding import PaperNet

    torch.manual_seed(0)
    model = PaperNet(n_maps=4, num_classes=5, image_size=8).eval()
    with torch.no_grad():
        model.head[1].bias[3] = float("nan")
    return model


def _cases(tmp_path: Path, capsys, cache: Path, monkeypatch):
    """rule id -> a callable giving (exit status, message)."""
    t = tmp_path
    coo = _write(t / "spin.coo", "# vartype=SPIN\n0 0 1.0\n0 1 -1.0\n")
    mods = t / "mods"
    mods.mkdir()
    (mods / "nets.py").write_text(
        "def needs(width):\n    return None\n\n"
        "def broken():\n    raise RuntimeError('broken')\n")
    monkeypatch.syspath_prepend(str(mods))
    monkeypatch.setenv("QAXAI_CACHE_DIR", str(cache))

    def run(*extra, config="builtin:quick"):
        return _cli(capsys, "run", config, "--out", t / "never.h5", "--quiet", *extra)

    def resumed_with_other_weights():
        config = _write(t / "one.toml", ONE_PROBLEM)
        out = t / "one.h5"
        assert _cli(capsys, "run", config, "--out", out, "--workers", "1", "--quiet")[0] == 0
        with h5py.File(out, "r+") as f:  # as if the file had been computed by other weights
            for g in f["instances"].values():
                spec = json.loads(g.attrs["spec"])
                spec["weights_sha256"] = "0" * 64
                g.attrs["spec"] = json.dumps(spec)
        return _unchanged(out, lambda: _cli(capsys, "run", config, "--out", out, "--quiet"))

    def float_image():
        from PIL import Image

        from encoding import load_image_folder

        for name in ("a", "b"):
            (t / "imgs" / name).mkdir(parents=True)
            Image.fromarray(np.full((4, 4), 2.0, np.float32), "F").save(t / "imgs" / name / "x.tif")
        return _api(lambda: load_image_folder(t / "imgs", mode="L").images)

    def nan_scores():
        import torch

        from encoding import ImageDataset, select_correct

        data = ImageDataset(torch.rand(6, 1, 8, 8), torch.arange(6) % 5,
                            tuple("abcde"), "random")
        return _api(lambda: select_correct(_nan_model(), data, 1))

    from encoding import model_from_factory

    return {
        "config-key": lambda: run("--set", "spectral.max_qubit=3"),
        "config-range": lambda: run("--set", "spectral.max_qubits=-5"),
        "config-empty": lambda: run("--set", "data.path="),
        "config-finite": lambda: run("--set", "train.lr=inf"),
        "config-hardware-range": lambda: run("--set", "hardware.max_qubits=2"),
        "config-t99-range": lambda: run("--set", "dynamics.t99_max_qubits=13"),
        "config-utf8": lambda: (t / "bad.toml").write_bytes(b'[study]\nname = "\xff"\n')
        and _cli(capsys, "run", t / "bad.toml"),
        "config-classes": lambda: run("--set", "images.classes=[0, 99]"),
        "config-reach": lambda: run("--set", "hardware.min_qubits=20", "--set",
                                    "hardware.max_qubits=30"),
        "out-folder": lambda: _cli(capsys, "run", "builtin:quick", "--out", t),
        "out-under-file": lambda: _cli(capsys, "run", "builtin:quick", "--out",
                                       t / "spin.coo" / "x.h5"),
        "folder-is-file": lambda: _cli(capsys, "run", "builtin:quick", "--figures", coo),
        "out-foreign": lambda: h5py.File(t / "foreign.h5", "w").close() or _unchanged(
            t / "foreign.h5", lambda: _cli(capsys, "run", "builtin:quick", "--out",
                                           t / "foreign.h5")),
        "out-other-config": lambda: _unchanged(
            _study_file(t / "other.h5", RANDOM_ONLY),
            lambda: _cli(capsys, "run", "builtin:quick", "--out", t / "other.h5")),
        "resume-other-model": resumed_with_other_weights,
        "study-damaged": lambda: h5py.File(t / "d.h5", "w").attrs.update(
            {"format": "qaxai-study", "format_version": 1})
        or _cli(capsys, "inspect", t / "d.h5"),
        "study-unreadable": lambda: (t / "c.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
        and _cli(capsys, "report", t / "c.h5", "--out", t / "rep"),
        "device": lambda: run("--device", "cuda:99"),
        "scheduler": lambda: _cli(capsys, "run", _write(t / "r.toml", RANDOM_ONLY), "--out",
                                  t / "never.h5", "--scheduler", "tcp://127.0.0.1:9", "--quiet"),
        "problem-empty": lambda: _cli(capsys, "gap", _write(t / "e.txt", "")),
        "problem-json-array": lambda: _cli(capsys, "gap", _write(t / "a.json", "[[0, 1, 1.0]]")),
        "problem-linear": lambda: _cli(capsys, "gap", _write(
            t / "l.json", '{"vartype": "BINARY", "linear": [1, 2]}')),
        "problem-bias": lambda: _cli(capsys, "gap", _write(
            t / "b.json", '{"vartype": "BINARY", "linear": {"a": "x"}}')),
        "problem-serializable": lambda: _cli(capsys, "gap", _write(
            t / "s.json", '{"type": "BinaryQuadraticModel", "version": {"bqm_schema": "3.0.0"}}')),
        "problem-vartype": lambda: _cli(capsys, "gap", coo, "--vartype", "BINARY"),
        "problem-no-variables": lambda: _cli(capsys, "hardware", _write(
            t / "n.json", '{"vartype": "SPIN", "linear": {}}')),
        "schedule-sign": lambda: _cli(capsys, "gap", coo, "--schedule", _write(
            t / "a.csv", "s,A,B\n0,1,0\n0.5,-0.2,0.5\n1,0,1\n")),
        "schedule-ends": lambda: _cli(capsys, "gap", coo, "--schedule", _write(
            t / "b.csv", "s,A,B\n0,1,0\n0.5,0.5,0.5\n1,0,0\n")),
        "figure-path": lambda: _cli(capsys, "gap", coo, "--plot", t),
        "count": lambda: _cli(capsys, "explain", "--class", "1", "--count", "0", "--out",
                              t / "g.png"),
        "option-number": lambda: _cli(capsys, "hardware", coo, "--annealing-time", "inf"),
        "memory": lambda: _cli(capsys, "gap", coo, "--memory-limit", "10"),
        "image-range": float_image,
        "scores": nan_scores,
        "factory-arguments": lambda: _api(lambda: model_from_factory("nets:needs")),
        "factory-raises": lambda: _api(lambda: model_from_factory("nets:broken")),
        "splits": lambda: run("--set", 'data.source="mnist"', "--set",
                              f"data.path={_mnist(t / 'mnist', [0, 1, 12])}"),
        "gzip": lambda: _api(lambda: __import__("encoding").load_mnist(
            _gz_impostor(t / "gz"))),
    }


def _gz_impostor(folder: Path) -> Path:
    folder.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (folder / name).write_text("not gzip")
    return folder


def test_every_rule_of_the_table_has_a_case_and_every_case_a_rule(tmp_path, capsys,
                                                                   monkeypatch):
    cases = _cases(tmp_path, capsys, tmp_path, monkeypatch)
    assert set(_table()) == set(cases)


@pytest.mark.xdist_group("tiny-study")  # the trained default model, built once per worker
@pytest.mark.parametrize("rule", sorted(_table()))
def test_the_refusal_is_clear(rule, tmp_path, capsys, monkeypatch, trained_default_cache):
    rc, message = _cases(tmp_path, capsys, trained_default_cache, monkeypatch)[rule]()
    assert rc == 2, (rule, message)
    assert "Traceback" not in message, message
    for words in _table()[rule]:
        assert words in message, (rule, words, message)
    assert not (tmp_path / "never.h5").exists()  # a refused run leaves no file
