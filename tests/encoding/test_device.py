"""Devices on the CNN side: which names are refused, and (where a GPU is found) that a model
on the GPU explains, measures and trains as on the CPU, with CPU images in and CPU arrays out,
as pytorch-grad-cam's calling shape promises."""

import numpy as np
import pytest
import torch

from encoding import (EncodingError, GradCAM, PaperNet, QuboCAM, capture, metrics,
                      model_device, resolve_device, train)
from encoding._data import ImageDataset

CUDA = torch.cuda.is_available()


def test_device_names_resolve_or_are_refused_with_what_torch_sees():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if CUDA else "cpu")
    assert resolve_device(None) == resolve_device("auto")
    with pytest.raises(EncodingError, match=r"device 'tpu' is not a torch device.*torch sees"):
        resolve_device("tpu")
    with pytest.raises(EncodingError, match=r"device 'cuda:99' is not available.*torch sees"):
        resolve_device("cuda:99")
    if not CUDA:
        with pytest.raises(EncodingError, match=r"'cuda' is not available: torch sees no CUDA"):
            resolve_device("cuda")


def test_model_device_is_where_the_parameters_are():
    assert model_device(PaperNet(n_maps=4, num_classes=3)) == torch.device("cpu")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")


def _net_and_images():
    torch.manual_seed(0)
    model = PaperNet(n_maps=6, num_classes=3, image_size=8).eval()
    return model, torch.rand(5, 1, 8, 8)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_a_model_on_the_gpu_explains_and_measures_as_on_the_cpu():
    model, images = _net_and_images()
    gpu = PaperNet(n_maps=6, num_classes=3, image_size=8).eval()
    gpu.load_state_dict(model.state_dict())
    gpu = gpu.cuda()
    a, b = capture(model, images, "reduce"), capture(gpu, images, "reduce")  # CPU images in
    assert isinstance(b.gradients, np.ndarray)
    np.testing.assert_allclose(b.gradients, a.gradients, rtol=1e-4, atol=1e-6)
    with GradCAM(model, [model.reduce]) as c, GradCAM(gpu, [gpu.reduce]) as g:
        np.testing.assert_allclose(g(images), c(images), atol=1e-4)
    with QuboCAM(gpu, [gpu.reduce], formulation="cardinality") as q:
        assert q(images).shape == (5, 8, 8)
    targets = a.predictions
    np.testing.assert_allclose(metrics.class_probabilities(gpu, images, targets),
                               metrics.class_probabilities(model, images, targets), atol=1e-5)
    heat = np.random.default_rng(0).random((5, 8, 8))
    np.testing.assert_allclose(metrics.deletion_auc(gpu, images, heat, targets),
                               metrics.deletion_auc(model, images, heat, targets), atol=1e-4)
    data = ImageDataset(torch.rand(12, 1, 8, 8), torch.arange(12) % 3, ("a", "b", "c"), "r")
    result = train(gpu, data, epochs=1, batch_size=4, progress=False)
    assert model_device(result.model).type == "cuda" and np.isfinite(result.history[0]["loss"])
