"""A layer of 256 maps, as a real network's layer3 has: QuboCAM explains every image (tabu
search beyond the exact solver's reach), and the XAI study of a factory model caps its
candidates and says so in the file."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from encoding import GroundStateSolver, QuboCAM, SelectionQubo, selections
from studies.config import load_config
from studies.runner import run_study
from studies.store import load_study

WIDE_NET = '''
import torch
from torch import nn


def make_model():
    """Conv(3 -> 256) + ReLU + average pool + Linear(256 -> 2): positive convolutions make
    every map grow with brightness, and the head's mixed-sign weights (positive on average)
    make class 1 the bright images, with candidates of both signs for both classes."""
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential()
    net.add_module("wide", nn.Conv2d(3, 256, 3, padding=1))
    net.add_module("relu", nn.ReLU())
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flat", nn.Flatten())
    net.add_module("head", nn.Linear(256, 2))
    with torch.no_grad():
        net.wide.weight.copy_(torch.rand(256, 3, 3, 3, generator=g) / 27)
        net.wide.bias.zero_()
        v = torch.randn(256, generator=g) + 0.6
        net.head.weight.copy_(torch.stack([-v, v]))
        level = float(v @ net.wide.weight.sum(dim=(1, 2, 3))) * 0.5
        net.head.bias.copy_(torch.tensor([level, -level]))
    return net
'''


def _folder(root, per_class=6, size=8):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, (low, high) in enumerate(((0.0, 0.35), (0.65, 1.0))):
        (root / f"c{label}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.uniform(low, high, (size, size, 3))
            Image.fromarray((pixels * 255).astype(np.uint8)).save(root / f"c{label}" / f"{i}.png")
    return root


@pytest.fixture
def wide_model(tmp_path, monkeypatch):
    (tmp_path / "widenets.py").write_text(WIDE_NET)
    monkeypatch.syspath_prepend(str(tmp_path))
    from widenets import make_model

    return make_model().eval()


def test_qubocam_explains_a_layer_of_256_maps_by_tabu_search(wide_model):
    torch.manual_seed(0)
    images = torch.rand(2, 3, 8, 8)
    with QuboCAM(wide_model, [wide_model.wide], formulation="cardinality") as cam:
        heat = cam(images)
        capture = cam.capture_
    assert heat.shape == (2, 8, 8) and np.isfinite(heat).all()
    assert not cam.solved_exactly_.any()  # beyond enumeration: the heuristic, and it says so
    for b, chosen in enumerate(cam.selections_):
        m = cam.qubos_[b]["m"]
        assert len(chosen) == m  # the proven penalty holds: a selection of m maps
        # the tabu answer is no worse than the best of many random selections of m maps
        qubo = SelectionQubo("cardinality").fit(capture.activations[b], capture.gradients[b])
        variables = list(qubo.bqm_.variables)
        rng = np.random.default_rng(b)
        random_best = min(qubo.bqm_.energy({v: int(v in set(rng.choice(variables, m, False)))
                                            for v in variables}) for _ in range(200))
        assert cam.energies_[b] <= random_best


def test_the_ground_state_solver_is_exact_where_it_enumerates_and_agrees_beyond():
    from studies.problems import random_selection_bqm

    bqm = random_selection_bqm(18, 4)
    exact = selections(GroundStateSolver().sample(bqm))
    forced = GroundStateSolver(exact_max=10).sample(bqm)  # tabu on a problem we can check
    assert forced.info["method"] == "tabu" and forced.info["reproduced"]
    assert selections(forced)[0] in exact


def test_the_xai_study_of_a_factory_model_on_256_maps_caps_and_records_it(tmp_path,
                                                                          wide_model):
    _folder(tmp_path / "images")
    config = tmp_path / "wide.toml"
    config.write_text(textwrap.dedent("""
        [data]
        source = "folder"
        path = "images"
        test_fraction = 0.5
        [model]
        factory = "widenets:make_model"
        layer = "wide"
        [images]
        per_class = 2
        [xai]
        n_boot = 10
        n_perm = 10
        methods = ["qubo-paper", "qubo-cardinality", "gradcam"]
        [problems]
        formulations = []
        [dynamics]
        enabled = false
    """))
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        summary = run_study(load_config(config), tmp_path / "wide.h5", workers=1,
                            threads_per_task=1, progress=False)
    finally:
        os.chdir(here)
    assert (summary.done, summary.failed) == (1, 0), summary.failures
    (xai,) = load_study(tmp_path / "wide.h5").of_kind("xai").values()
    assert xai["spec"]["max_qubits"] == 20
    for method in ("qubo-paper", "qubo-cardinality"):
        data = {k.split("/")[-1]: v for k, v in xai["data"].items()
                if k.startswith(f"xai/trained/{method}/")}
        assert data["selections"].shape[1] == 256
        assert data["solved_exactly"].all()  # capped at 20: enumerated, certified
        assert (data["candidates_dropped"] > 0).all()  # a layer of 256 maps: the cap bit
    from studies.report import write_report

    _, markdown = write_report(tmp_path / "wide.h5", tmp_path / "report")
    text = markdown.read_text()
    assert "QuboCAM chose among at most 20 candidate maps per image" in text
    assert "Every selection is a certified ground state" in text
