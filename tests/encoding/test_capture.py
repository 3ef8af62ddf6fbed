"""capture(): activations and gradients equal autograd's; hooks always removed; clear errors."""

import numpy as np
import pytest
import torch
from torch import nn

from encoding import (EncodingError, GapNet, PaperNet, ablation_relevance, capture)


@pytest.fixture(scope="module")
def images():
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def _model(cls, seed=0):
    torch.manual_seed(seed)
    model = cls(n_maps=6)
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model


def test_paper_net_gradient_is_the_class_weight(images):
    model = _model(PaperNet)
    cap = capture(model, images, "reduce")
    W = model.head[1].weight.detach().numpy().reshape(10, 6, 8, 8)
    np.testing.assert_allclose(cap.gradients, W[cap.targets], rtol=0, atol=1e-7)
    np.testing.assert_array_equal(cap.targets, cap.logits.argmax(1))
    model.eval()  # capture ran in eval mode and restored train mode
    with torch.no_grad():
        A = model.reduce(model.backbone(images)).numpy()
    np.testing.assert_allclose(cap.activations, A, atol=1e-6)


@pytest.mark.parametrize("targets", [None, "runner-up", 3, [0, 1, 2, 3, 4, 5]])
def test_gap_net_gradients_equal_autograd_per_image(images, targets):
    model = _model(GapNet).eval()
    cap = capture(model, images, model.reduce, targets=targets)
    assert cap.layer == "reduce"
    for b in range(len(images)):
        with torch.no_grad():
            A = model.reduce(model.backbone(images[b:b + 1]))
        A.requires_grad_(True)
        y = model.head(A)[0]
        c = int(cap.targets[b])
        if targets == "runner-up":
            assert c == int(torch.topk(y, 2).indices[1])
        (g,) = torch.autograd.grad(y[c], A)
        np.testing.assert_allclose(cap.gradients[b], g[0].numpy(), rtol=1e-5, atol=1e-7)


def test_capture_restores_training_mode_and_leaves_no_hooks(images):
    model = _model(GapNet).train()
    capture(model, images, "reduce")
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


class _Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.unused = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        self.conv(x)
        raise RuntimeError("boom in forward")


def test_hooks_released_and_error_propagates_when_forward_raises(images):
    model = _Exploding()
    with pytest.raises(RuntimeError, match="boom in forward") as info:
        capture(model, images, "conv")
    assert "captured layer 'conv'" in info.value.__notes__[0]
    assert not model.conv._forward_hooks


def test_bad_layers_and_images(images):
    model = _model(PaperNet)
    with pytest.raises(EncodingError, match="no layer 'nope'; its top-level layers: backbone"):
        capture(model, images, "nope")
    with pytest.raises(EncodingError, match="do not depend on layer"):
        capture(_Detached(), images, "conv")
    with pytest.raises(EncodingError, match="not called in the forward pass"):
        capture(_Detached(), images, "unused")
    with pytest.raises(EncodingError, match="floating point"):
        capture(model, (images * 255).to(torch.uint8), "reduce")
    with pytest.raises(EncodingError, match="NaN or inf"):
        capture(model, images * float("nan"), "reduce")
    with pytest.raises(EncodingError, match=r"\(B, C, H, W\)"):
        capture(model, images[0, 0], "reduce")
    with pytest.raises(EncodingError, match="images have 3 channels.*takes 1"):
        capture(model, torch.rand(2, 3, 8, 8), "reduce")
    with pytest.raises(EncodingError, match="class indices in 0..9"):
        capture(model, images, "reduce", targets=10)


class _Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(64, 3)
        self.unused = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        self.conv(x)  # computed, but the logits do not use it
        return self.fc(x.flatten(1))


def test_gradients_vary_per_image_only_for_gap_net(images):
    # PaperNet: dy_c/dA = W_c for every image of a class (the reference paper's property);
    # GapNet's non-linear head makes them differ
    paper = capture(_model(PaperNet), images, "reduce", targets=4).gradients
    gap = capture(_model(GapNet), images, "reduce", targets=4).gradients
    assert np.array_equal(paper[0], paper[1])
    assert np.abs(gap[0] - gap[1]).max() > 1e-3 * np.abs(gap).max()


def test_ablation_equals_sum_of_gradient_times_map_for_a_linear_head(images):
    model = _model(PaperNet)
    cap = capture(model, images, "reduce")
    ab = ablation_relevance(model, images, "reduce", batch_size=7)
    np.testing.assert_allclose(ab, (cap.gradients * cap.activations).sum(axis=(2, 3)),
                               rtol=1e-4, atol=1e-5)


def test_ablation_matches_manual_zeroing_for_gap_net(images):
    model = _model(GapNet).eval()
    ab = ablation_relevance(model, images, "reduce", targets=2, channels=[1, 4])
    with torch.no_grad():
        A = model.reduce(model.backbone(images))
        base = model.head(A)[:, 2]
        for j, k in enumerate([1, 4]):
            Z = A.clone()
            Z[:, k] = 0
            np.testing.assert_allclose(ab[:, j], (base - model.head(Z)[:, 2]).numpy(),
                                       rtol=1e-5, atol=1e-6)
    assert all(not m._forward_hooks for m in model.modules())


def test_large_batches_are_captured_in_chunks_with_the_same_result(monkeypatch):
    import encoding._capture as C

    torch.manual_seed(0)
    model = GapNet(n_maps=5).eval()
    x = torch.rand(7, 1, 8, 8)
    whole = capture(model, x, "reduce", "runner-up")
    monkeypatch.setattr(C, "_chunk", lambda images: 3)  # 3 + 3 + 1 images
    for targets in ("runner-up", np.array(whole.targets), list(whole.targets)):
        parts = capture(model, x, "reduce", targets)
        for field in ("activations", "gradients", "logits", "targets", "target_scores"):
            np.testing.assert_allclose(getattr(parts, field), getattr(whole, field), rtol=1e-6,
                                       atol=1e-7)

    class Target:
        def __init__(self, c):
            self.category = c

        def __call__(self, out):
            return out[self.category]

    objects = [Target(int(c)) for c in whole.targets]
    parts = capture(model, x, "reduce", objects)
    np.testing.assert_allclose(parts.gradients, whole.gradients, rtol=1e-6, atol=1e-7)
    assert parts.target_objects == tuple(objects)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_score_is_refused_naming_the_image_and_the_class(images, value):
    # one class's bias NaN: its logit is NaN on every image while dy/dA stays finite, so only
    # the scores themselves show it; argmax would "predict" that class
    from encoding import check_classifier

    model = PaperNet(n_maps=4, num_classes=5, image_size=8)
    with torch.no_grad():
        model.head[1].bias[2] = value
    with pytest.raises(EncodingError, match=rf"explained image 0 is {value} at class 2"):
        capture(model, images[:3], "reduce")
    with pytest.raises(EncodingError, match=r"model 'm': .*blank test image 0 .* at class 2"):
        check_classifier(model, (1, 8, 8), 5, "reduce", what="model 'm'")
    with torch.no_grad():
        model.head[1].bias[2] = 0.0
    assert capture(model, images[:3], "reduce").logits.shape == (3, 5)
