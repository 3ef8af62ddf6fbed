"""Your model, your images: `qaxai run` and `qaxai explain --config` end to end on MNIST IDX
files, an image folder with a factory model, and the paper's STL-10 setting (synthetic files
of the real formats, a random torchvision-format ResNet-18 weights file)."""

import gzip
import struct
import textwrap

import numpy as np
import pytest
import torch

from studies.cli import main
from studies.store import load_study
from tests.resnet_reference import torchvision_layout

SMALL = """
[images]
per_class = 2
[xai]
n_boot = 10
n_perm = 10
[problems]
formulations = ["paper"]
qubits = [5]
[dynamics]
T = [5.0]
protocol = false
[hardware]
enabled = false
"""


def _patterns(n_per_class, classes, shape, seed, colour=False):
    """Class c: a bright band at its own place (and, in colour, its own hue) on noise."""
    rng = np.random.default_rng(seed)
    h, w = shape
    images, labels = [], []
    for c in range(classes):
        for _ in range(n_per_class):
            img = 0.25 * rng.random((3 if colour else 1, h, w))
            band = slice(c * h // classes, (c + 1) * h // classes)
            if colour:
                img[c % 3, band, :] += 0.7
            else:
                img[0, band, :] += 0.7
            images.append(np.clip(img, 0, 1))
            labels.append(c)
    order = rng.permutation(len(labels))
    return np.asarray(images)[order], np.asarray(labels)[order]


def _write_idx(root, prefix, images, labels, compress):
    pix = (images[:, 0] * 255).astype(np.uint8)
    opener = gzip.open if compress else open
    ext = ".gz" if compress else ""
    with opener(root / f"{prefix}-images-idx3-ubyte{ext}", "wb") as f:
        f.write(struct.pack(">iiii", 2051, *pix.shape) + pix.tobytes())
    with opener(root / f"{prefix}-labels-idx1-ubyte{ext}", "wb") as f:
        f.write(struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def _write_stl10(root, split, images, labels):
    pix = (images * 255).astype(np.uint8).transpose(0, 1, 3, 2)  # column-major per channel
    (root / f"{split}_X.bin").write_bytes(np.ascontiguousarray(pix).tobytes())
    (root / f"{split}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())


def _run(tmp_path, config_path, *extra):
    out = tmp_path / "study.h5"
    code = main(["run", str(config_path), "--out", str(out), "--workers", "1",
                 "--threads-per-task", "1", "--quiet", "--figures", str(tmp_path / "fig"),
                 *extra])
    return code, out


def _check_study(out, figures, n_classes, layer):
    study = load_study(out)
    assert not study.failed, study.failed
    xai = study.of_kind("xai")
    assert len(xai) == 1
    (inst,) = xai.values()
    assert inst["spec"]["layer"] == layer
    labels = inst["data"]["xai/labels"]
    assert len(np.unique(labels)) == n_classes
    images = inst["data"]["xai/images"]
    heat = inst["data"]["xai/trained/gradcam/heatmaps"]
    assert heat.shape == (len(labels), *images.shape[-2:])  # at the image's resolution
    problems = study.of_kind("problem")
    assert problems and all(p["spec"]["layer"] == layer for p in problems.values())
    solved = [p for p in problems.values() if p["spec"]["n"] > 0]
    assert solved and all("spectral" in p["group_attrs"] for p in solved)
    assert (figures / f"gallery_{inst['spec']['architecture'].lower()}.png").is_file()
    return study, inst


@pytest.mark.slow
def test_mnist_idx_files_train_explain_and_write_a_study(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QAXAI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "mnist"
    root.mkdir()
    x, y = _patterns(60, 3, (28, 28), seed=0)
    _write_idx(root, "train", x, y, compress=True)
    x, y = _patterns(6, 3, (28, 28), seed=1)
    _write_idx(root, "t10k", x, y, compress=False)
    cfg = tmp_path / "mnist.toml"
    cfg.write_text(f'[data]\nsource = "mnist"\npath = "{root}"\n[train]\nepochs = 15\nbatch_size = 32\n'
                   + SMALL.replace("[images]\n", "[images]\nclasses = [0, 1, 2]\n"))
    code, out = _run(tmp_path, cfg)
    assert code == 0, capsys.readouterr()
    _check_study(out, tmp_path / "fig", 3, "reduce")
    png = tmp_path / "mnist.png"
    assert main(["explain", "--config", str(cfg), "--class", "1", "--count", "2",
                 "--out", str(png)]) == 0
    text = capsys.readouterr().out
    assert png.stat().st_size > 5000 and text.count("true 1") == 2
    # the cached model is reused: a second explain trains nothing (same checkpoint file)
    assert len(list((tmp_path / "cache").glob("mnist-papernet-*.pt"))) == 1


FACTORY = '''
import torch
from torch import nn


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.layer3 = nn.Sequential(nn.Conv2d(8, 12, 3, padding=1, stride=2), nn.ReLU())
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(self.layer3(self.layer1(x)).mean(dim=(2, 3)))


def make():
    return Small()


def not_a_model():
    return 42


class Pooled(Small):
    def forward(self, x):  # the pooled maps (B, 12), not the 3 class scores
        return self.layer3(self.layer1(x)).mean(dim=(2, 3))


def wrong_output():
    return Pooled()
'''


@pytest.fixture(scope="module")
def _folder_files(tmp_path_factory):
    """The image folder, the factory module and its trained checkpoint, made once."""
    import importlib.util

    from PIL import Image

    from encoding import load_image_folder, train

    root = tmp_path_factory.mktemp("folder")
    for name in ("cat", "dog", "fox"):
        (root / "images" / name).mkdir(parents=True)
    x, y = _patterns(14, 3, (24, 24), seed=2, colour=True)
    for i, (img, label) in enumerate(zip(x, y)):
        name = ("cat", "dog", "fox")[label]
        Image.fromarray((img.transpose(1, 2, 0) * 255).astype(np.uint8)).save(
            root / "images" / name / f"{i:03d}.png")
    (root / "mynets.py").write_text(FACTORY)
    # trained from a copy of the module loaded by path: "mynets" itself is never imported here
    spec = importlib.util.spec_from_file_location("mynets_for_training", root / "mynets.py")
    mynets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mynets)
    torch.manual_seed(0)
    model = mynets.make()
    train(model, load_image_folder(root / "images"), epochs=80, lr=1e-2, progress=False)
    torch.save(model.state_dict(), root / "small.pt")
    (root / "folder.toml").write_text(textwrap.dedent('''
        [data]
        source = "folder"
        path = "images"
        test_fraction = 0.3
        [model]
        factory = "mynets:make"
        checkpoint = "small.pt"
        layer = "layer3"
    ''') + SMALL)
    return root


@pytest.fixture
def folder_and_factory(_folder_files, tmp_path, monkeypatch):
    import shutil
    import sys

    shutil.copytree(_folder_files, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    # the module is not on sys.path: `qaxai run` finds it next to the config, and the
    # workers, started after, inherit that path (sys.path is restored after the test)
    monkeypatch.setattr(sys, "path", list(sys.path))
    sys.modules.pop("mynets", None)
    yield tmp_path, tmp_path / "folder.toml"
    sys.modules.pop("mynets", None)


@pytest.mark.slow
def test_an_image_folder_and_a_factory_model_run_end_to_end(folder_and_factory, capsys):
    tmp_path, cfg = folder_and_factory
    code, out = _run(tmp_path, cfg, "--set", "problems.qubits=[3]")
    assert code == 0, capsys.readouterr()
    study, inst = _check_study(out, tmp_path / "fig", 3, "layer3")
    assert inst["spec"]["architecture"] == "make"
    # 12 maps in layer3, capped at 3 qubits: the drop is recorded per problem and reported
    specs = [p["spec"] for p in study.of_kind("problem").values()]
    assert all(s["n_maps"] == 12 and s["n"] <= 3 for s in specs)
    assert any(s["candidates_dropped"] > 0 for s in specs)
    assert all(s["candidates_dropped"] == 0 for s in specs if s["n"] < 3)
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    assert "dropped maps at their qubit cap (of 12 maps in the layer" in capsys.readouterr().out
    assert main(["explain", "--config", str(cfg), "--class", "dog", "--count", "1",
                 "--out", str(tmp_path / "g.png")]) == 0
    assert "true dog" in capsys.readouterr().out


@pytest.mark.parametrize("override, match", [
    ("model.factory=mynets:nothing", "has no 'nothing'"),
    ("model.factory=nowhere.mod:make", "cannot import 'nowhere.mod'"),
    ("model.factory=mynets:not_a_model", "returned a int, not a torch.nn.Module"),
    ("model.factory=mynets:wrong_output", r"must return class scores \(B, 3\)"),
    ("model.layer=layr3", r"no layer 'layr3' \(did you mean 'layer3'"),
    ("model.checkpoint=mynets.py", "cannot read checkpoint"),
    ("data.path=nowhere", r"\[data\] path = 'nowhere': no such folder"),
    ("model.architectures=['PaperNet']", "describe the built-in architectures"),
    ("data.mean=[0.5]", r"\[data\] mean has 1 values; .* 3 channel"),
    ("data.sizes=3", r"--set data.sizes=3: unknown key 'sizes' in \[data\].*did you mean 'size'"),
    ("train.epochs=many", r"\[train\] epochs must be an integer >= 1, got str 'many'"),
])
def test_bad_models_and_data_stop_before_anything_is_written(folder_and_factory, capsys,
                                                             override, match):
    tmp_path, cfg = folder_and_factory
    if override.startswith("data.mean"):
        override_args = ["--set", override, "--set", "data.std=[0.5]"]
    else:
        override_args = ["--set", override]
    code, out = _run(tmp_path, cfg, *override_args)
    assert code == 2
    import re

    assert re.search(match, capsys.readouterr().err)
    assert not out.exists()


def test_a_checkpoint_that_does_not_fit_names_its_keys(folder_and_factory, capsys):
    tmp_path, cfg = folder_and_factory
    state = torch.load(tmp_path / "small.pt", weights_only=True)
    state["extra.weight"] = state.pop("fc.weight")
    torch.save(state, tmp_path / "bad.pt")
    code, out = _run(tmp_path, cfg, "--set", "model.checkpoint=bad.pt")
    assert code == 2
    err = capsys.readouterr().err
    assert "1 keys missing (first: ['fc.weight'])" in err and "['extra.weight']" in err
    assert not out.exists()


def test_paper_stl10_without_its_files_stops_at_once(tmp_path, capsys):
    assert main(["run", "builtin:paper-stl10", "--out", str(tmp_path / "no.h5")]) == 2
    err = capsys.readouterr().err
    assert "[data] path" in err and "train_X.bin" in err and "[model] weights" in err
    assert not (tmp_path / "no.h5").exists()
    assert main(["run", "builtin:paper-stl10", "--out", str(tmp_path / "no.h5"),
                 "--set", f"data.path={tmp_path}", "--set", "model.weights=none.pth"]) == 2
    err = capsys.readouterr().err
    assert "STL-10 binary files missing: ['train_X.bin'" in err
    assert "[model] weights = 'none.pth': no such file" in err
    assert not (tmp_path / "no.h5").exists()


@pytest.mark.slow
def test_paper_stl10_config_runs_on_synthetic_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QAXAI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "stl10_binary"
    root.mkdir()
    x, y = _patterns(12, 3, (96, 96), seed=3, colour=True)
    _write_stl10(root, "train", x, y)
    x, y = _patterns(4, 3, (96, 96), seed=4, colour=True)
    _write_stl10(root, "test", x, y)
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision_layout(), weights)
    sets = ["--set", f"data.path={root}", "--set", f"model.weights={weights}",
            # small enough for CI: 64 px (4 x 4 maps), few images, short anneals
            "--set", "data.size=64", "--set", "images.per_class=2",
            "--set", "images.classes=[0, 1, 2]", "--set", "train.epochs=40",
            "--set", "train.lr=0.01", "--set", "problems.qubits=[5]",
            "--set", "dynamics.T=[5.0]", "--set", "dynamics.protocol=false",
            "--set", "xai.n_boot=10", "--set", "xai.n_perm=10"]
    code, out = _run(tmp_path, "builtin:paper-stl10", *sets)
    assert code == 0, capsys.readouterr()
    study, inst = _check_study(out, tmp_path / "fig", 3, "reduce")
    assert study.attrs["config"].startswith("# effective config: paper-stl10.toml with --set")
    assert "size = 64" in study.attrs["config"]
    assert inst["data"]["xai/images"].shape[1:] == (3, 64, 64)
    assert main(["explain", "--config", "builtin:paper-stl10", *sets, "--class", "bird",
                 "--count", "1", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 5000
