"""Models, training, checkpoints and the cached default model."""

import json

import pytest
import torch

from encoding import (EncodingError, GapNet, PaperNet, build_model, default_model, evaluate,
                      load_checkpoint, load_digits_dataset, save_checkpoint, train)


@pytest.mark.parametrize("cls", [PaperNet, GapNet])
def test_models_shapes_and_config_roundtrip(cls):
    model = cls(n_maps=12, image_size=8)
    x = torch.rand(5, 1, 8, 8)
    assert model(x).shape == (5, 10)
    assert model.reduce(model.backbone(x)).shape == (5, 12, 8, 8)
    clone = build_model(json.loads(json.dumps(model.config)))
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    assert torch.equal(model(x), clone(x))


def test_frozen_backbone_keeps_weights_and_statistics():
    torch.manual_seed(0)
    model = PaperNet(freeze_backbone=True)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    data = load_digits_dataset().subset(range(64))
    train(model, data, epochs=1, progress=False)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_bad_model_arguments():
    with pytest.raises(EncodingError, match="backbone must be one of"):
        PaperNet(backbone="vgg")
    with pytest.raises(EncodingError, match="n_maps must be a positive int"):
        PaperNet(n_maps=0)
    with pytest.raises(EncodingError, match="architecture"):
        build_model({"architecture": "Nope"})


def test_training_is_seeded():
    data = load_digits_dataset().subset(range(200))
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = PaperNet()
        runs.append(train(model, data, epochs=2, seed=5, progress=False).history)
    assert runs[0] == runs[1]


def test_default_model_accuracy_and_cache(tmp_path):
    model, meta = default_model(cache=tmp_path, progress=False)
    assert meta["test_accuracy"] >= 0.95
    digits = load_digits_dataset()
    test = digits.subset(meta["test_indices"])
    assert evaluate(model, test) == pytest.approx(meta["test_accuracy"])
    again, meta2 = default_model(cache=tmp_path, progress=False)  # loaded, not retrained
    assert meta2["checkpoint"] == meta["checkpoint"]
    for (k, v), (_, w) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(v, w), k


def test_checkpoint_roundtrip_uses_weights_only(tmp_path, monkeypatch):
    model = GapNet(n_maps=8)
    path = save_checkpoint(model, tmp_path / "ck", {"note": "x"})
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded, meta = load_checkpoint(path)
    assert calls == [True]
    assert meta["note"] == "x" and meta["config"]["architecture"] == "GapNet"
    x = torch.rand(2, 1, 8, 8)
    model.eval()
    assert torch.equal(model(x), loaded(x))
    path.with_suffix(".json").unlink()
    with pytest.raises(EncodingError, match="incomplete"):
        load_checkpoint(path)


def test_default_model_survives_a_read_only_cache(tmp_path, monkeypatch):
    import encoding._train as tr

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(tr, "save_checkpoint", refuse)
    monkeypatch.setitem(tr.DEFAULT_RECIPE, "epochs", 1)
    with pytest.warns(UserWarning, match="could not cache the trained model"):
        model, meta = default_model(cache=tmp_path / "ro", progress=False)
    assert meta["checkpoint"] is None and model(torch.rand(1, 1, 8, 8)).shape == (1, 10)
