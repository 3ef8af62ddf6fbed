"""ResNet-18 without torchvision: torchvision's key layout loads key for key, and the outputs
are those of an independent functional forward pass written from the state_dict alone."""

import pytest
import torch

from encoding import (EncodingError, PaperNet, ResNet18, ResNet18Features,
                      load_resnet18_state_dict, train)
from encoding._data import ImageDataset
from tests.resnet_reference import functional_resnet18 as _functional_resnet18
from tests.resnet_reference import torchvision_layout as _torchvision_layout


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("r18") / "resnet18.pth"
    torch.save(_torchvision_layout(), path)
    return path


def test_torchvision_keys_load_key_for_key_and_outputs_match(weights_file):
    state = torch.load(weights_file, weights_only=True)
    net = ResNet18()
    assert set(net.state_dict()) == set(state)
    load_resnet18_state_dict(net, weights_file)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), _functional_resnet18(state, x),
                                   rtol=1e-5, atol=1e-5)
        body = ResNet18Features()
        load_resnet18_state_dict(body, weights_file)  # layer4.* and fc.* are cut away
        torch.testing.assert_close(body.eval()(x), _functional_resnet18(state, x, upto=3),
                                   rtol=1e-5, atol=1e-5)


def test_same_outputs_as_torchvision_where_it_is_installed(weights_file):
    torchvision = pytest.importorskip("torchvision")
    ref = torchvision.models.resnet18(weights=None)
    ref.load_state_dict(torch.load(weights_file, weights_only=True))
    net = ResNet18()
    load_resnet18_state_dict(net, weights_file)
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), ref.eval()(x), rtol=1e-5, atol=1e-5)


def test_mismatched_files_name_the_keys(tmp_path, weights_file):
    state = torch.load(weights_file, weights_only=True)
    broken = dict(state)
    del broken["layer2.0.downsample.0.weight"]
    broken["layer2.0.extra.weight"] = torch.zeros(1)
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(EncodingError, match=r"1 keys missing \(first: \['layer2\.0\.downsample"
                                            r"\.0\.weight'\]\), 1 unexpected \(first: "
                                            r"\['layer2\.0\.extra\.weight'\]"):
        load_resnet18_state_dict(ResNet18Features(), tmp_path / "broken.pth")
    shaped = dict(state)
    shaped["conv1.weight"] = torch.zeros(64, 1, 7, 7)
    torch.save(shaped, tmp_path / "shaped.pth")
    with pytest.raises(EncodingError, match=r"conv1\.weight has shape \(64, 1, 7, 7\)"):
        load_resnet18_state_dict(ResNet18Features(), tmp_path / "shaped.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(EncodingError, match="does not hold a state_dict"):
        load_resnet18_state_dict(ResNet18Features(), tmp_path / "list.pth")
    with pytest.raises(EncodingError, match="never downloads"):
        load_resnet18_state_dict(ResNet18Features(), tmp_path / "missing.pth")
    # saved from DataParallel, or wrapped in a training checkpoint: both read
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}},
               tmp_path / "wrapped.pth")
    net = ResNet18Features()
    load_resnet18_state_dict(net, tmp_path / "wrapped.pth")
    assert torch.equal(net.layer3[1].bn2.running_var, state["layer3.1.bn2.running_var"])


def test_papernet_on_resnet18_is_frozen_and_normalises_inside(weights_file):
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    model = PaperNet(backbone="resnet18", in_channels=3, image_size=64, weights=str(weights_file),
                     mean=mean, std=std).eval()
    assert model.map_size == (4, 4)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    state = torch.load(weights_file, weights_only=True)
    x = torch.rand(2, 3, 64, 64)
    z = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        torch.testing.assert_close(model.features(x), _functional_resnet18(state, z, upto=3),
                                   rtol=1e-5, atol=1e-5)
    assert model.config["mean"] == pytest.approx(mean)
    with pytest.raises(EncodingError, match="one value per channel"):
        PaperNet(backbone="resnet18", in_channels=3, image_size=64, mean=[0.5], std=[0.5])


def test_cached_backbone_features_train_the_same_model(weights_file):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(24, 3, 32, 32, generator=g)
    labels = torch.arange(24) % 3
    data = ImageDataset(images, labels, ("a", "b", "c"))
    models = []
    for cache in (True, False):
        torch.manual_seed(0)
        model = PaperNet(backbone="resnet18", in_channels=3, image_size=32, num_classes=3,
                         n_maps=4, weights=str(weights_file))
        train(model, data, epochs=2, batch_size=8, progress=False, cache_features=cache)
        models.append(model.state_dict())
    for key in models[0]:
        torch.testing.assert_close(models[0][key], models[1][key], rtol=1e-4, atol=1e-5)
