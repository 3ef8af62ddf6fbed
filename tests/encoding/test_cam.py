"""GradCAM against captum, GradCAM++ against a direct computation of eq. 19, QuboCAM's
composition, and the heatmap rules."""

import dimod
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from encoding import (EncodingError, ExactGroundStateSolver, GapNet, GradCAM, GradCAMPlusPlus,
                      PaperNet, QuboCAM, SelectionQubo, capture, heatmaps_from_weights)


def _model(cls, seed=0):
    torch.manual_seed(seed)
    model = cls(n_maps=6)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def _minmax(x):
    """Min-max per map; a constant map becomes zeros (the documented rule)."""
    lo = x.amin(dim=(-2, -1), keepdim=True)
    span = x.amax(dim=(-2, -1), keepdim=True) - lo
    return torch.where(span > 0, (x - lo) / torch.where(span > 0, span, 1), 0.0)


@pytest.mark.parametrize("cls", [PaperNet, GapNet])
@pytest.mark.parametrize("size", [8, 13])
def test_gradcam_equals_captum_layer_gradcam(cls, size, images):
    from captum.attr import LayerAttribution, LayerGradCam

    model = _model(cls)
    x = F.interpolate(images, size=size, mode="bilinear") if size != 8 else images
    if size != 8:  # a model whose input differs from its maps' size
        model = _model(cls)
        model_in = nn.Sequential(nn.AdaptiveAvgPool2d(8), model).eval()
        layer = model_in[1].reduce
    else:
        model_in, layer = model, model.reduce
    targets = [0, 3, 9, 1, 4]
    ours = GradCAM(model_in, [layer])(x, targets=targets)
    attr = LayerGradCam(model_in, layer).attribute(x, target=targets, relu_attributions=True)
    ref = _minmax(LayerAttribution.interpolate(attr, (size, size), interpolate_mode="bilinear"))[:, 0]
    np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=0, atol=1e-5)
    assert (ours.max(axis=(1, 2)) == 1).sum() >= 2  # not only constant maps


def test_gradcam_plus_plus_equals_direct_eq19(images):
    model = _model(GapNet)
    cam = GradCAMPlusPlus(model, ["reduce"])
    heat = cam(images, targets=2)
    # direct: autograd per image, loops over channels and pixels, eq. 19
    for b in range(len(images)):
        with torch.no_grad():
            A = model.reduce(model.backbone(images[b:b + 1]))
        A.requires_grad_(True)
        (g,) = torch.autograd.grad(model.head(A)[0, 2], A)
        A, g = A[0].detach().double().numpy(), g[0].double().numpy()
        w = np.zeros(A.shape[0])
        for k in range(A.shape[0]):
            total = A[k].sum()
            for i in range(A.shape[1]):
                for j in range(A.shape[2]):
                    gij = g[k, i, j]
                    den = 2 * gij**2 + total * gij**3
                    alpha = gij**2 / den if den != 0 else 0.0
                    w[k] += alpha * max(gij, 0.0)
        np.testing.assert_allclose(cam.channel_vectors_[b], w, rtol=1e-5, atol=1e-9)  # float32 model
        L = np.maximum(np.tensordot(w, A, axes=1), 0)
        up = F.interpolate(torch.tensor(L)[None, None], size=(8, 8), mode="bilinear")[0, 0]
        np.testing.assert_allclose(heat[b], _minmax(up).numpy(), atol=1e-5)


class _AllOnes(dimod.Sampler):
    parameters, properties = {}, {}

    def sample(self, bqm, **kwargs):
        return dimod.SampleSet.from_samples_bqm(
            [{v: 1 for v in bqm.variables}], bqm)


def test_qubocam_with_every_map_selected_equals_gradcam(images):
    model = _model(GapNet)
    grad = GradCAM(model, "reduce")(images)
    qubo = QuboCAM(model, ["reduce"], formulation="cardinality", solver=_AllOnes())
    heat = qubo(images)
    np.testing.assert_allclose(heat, grad, atol=1e-12)
    assert all(sel == tuple(range(6)) for sel in qubo.selections_)


def test_qubocam_selection_is_the_exact_ground_state(images):
    model = _model(GapNet)
    cam = QuboCAM(model, ["reduce"], formulation="cardinality", m=2)
    heat = cam(images)
    cap = capture(model, images, "reduce")
    for b in range(len(images)):
        q = SelectionQubo("cardinality", m=2).fit(cap.activations[b], cap.gradients[b])
        ss = ExactGroundStateSolver().sample(q.bqm_)
        assert cam.selections_[b] == tuple(sorted(k for k, v in ss.first.sample.items() if v))
        assert cam.energies_[b] == pytest.approx(ss.first.energy)
        w = np.zeros(6)
        sel = list(cam.selections_[b])
        w[sel] = cap.gradients[b].mean(axis=(1, 2))[sel]
        np.testing.assert_allclose(cam.channel_vectors_[b], w, atol=1e-12)
    # the paper's per-channel ReLU form, directly
    paper = QuboCAM(model, ["reduce"], formulation="cardinality", m=2, per_channel_relu=True)
    ph = paper(images)
    for b in range(len(images)):
        w = paper.channel_vectors_[b]
        L = np.maximum(w[:, None, None] * cap.activations[b].astype(float), 0).sum(0)
        np.testing.assert_allclose(ph[b], (L - L.min()) / (L.max() - L.min()), atol=1e-6)
    assert heat.shape == (5, 8, 8)


def test_constant_and_empty_maps_give_zeros_flagged():
    A = np.ones((2, 3, 4, 4))
    w = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])  # empty selection; all-negative sum
    heat, constant = heatmaps_from_weights(A, w, (8, 8))
    assert np.array_equal(heat, np.zeros((2, 8, 8))) and constant.tolist() == [True, True]
    A2 = np.random.default_rng(0).random((1, 3, 4, 4))
    heat, constant = heatmaps_from_weights(A2, np.ones((1, 3)), (8, 8))
    assert heat.min() == 0 and heat.max() == pytest.approx(1) and not constant[0]


def test_paper_formulation_without_candidates_gives_empty_zero_heatmap(images):
    model = _model(PaperNet)
    with torch.no_grad():  # every class weight negative: alpha < 0 for all maps
        model.head[1].weight.copy_(-model.head[1].weight.abs())
    cam = QuboCAM(model, ["reduce"], formulation="paper")
    heat = cam(images)
    assert all(sel == () for sel in cam.selections_)
    assert np.array_equal(heat, np.zeros_like(heat)) and cam.constant_.all()
    assert all(q["empty"] for q in cam.qubos_)


def test_mixed_targets_match_single_calls_and_bad_targets(images):
    model = _model(GapNet)
    cam = GradCAM(model, ["reduce"])
    mixed = cam(images, targets=[1, 7, 1, 0, 9])
    for b, t in enumerate([1, 7, 1, 0, 9]):
        np.testing.assert_allclose(mixed[b], cam(images[b:b + 1], targets=t)[0], atol=1e-5)
    with pytest.raises(EncodingError, match="class indices in 0..9"):
        cam(images, targets=10)
    with pytest.raises(EncodingError, match="exactly one layer"):
        GradCAM(model, [])


def test_context_manager_releases(images):
    model = _model(GapNet)
    with GradCAM(model, ["reduce"]) as cam:
        cam(images)
        assert hasattr(cam, "capture_")
    assert not hasattr(cam, "capture_")
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())


class ClassifierOutputTarget:
    """pytorch-grad-cam's target object, as that package defines it (utils/model_targets.py):
    the score of one category of one image's output."""

    def __init__(self, category):
        self.category = category

    def __call__(self, model_output):
        if len(model_output.shape) == 1:
            return model_output[self.category]
        return model_output[:, self.category]


@pytest.mark.parametrize("cls", [PaperNet, GapNet])
def test_pytorch_grad_cam_target_objects_equal_class_indices(cls, images):
    model = _model(cls)
    targets = [3, 1, 4, 1, 5, 9][:len(images)]
    objects = [ClassifierOutputTarget(c) for c in targets]
    for cam_cls in (GradCAM, GradCAMPlusPlus, QuboCAM):
        with cam_cls(model, [model.target_layer]) as a, cam_cls(model, [model.target_layer]) as b:
            np.testing.assert_array_equal(a(images, objects), b(images, targets))
            np.testing.assert_array_equal(a.capture_.targets, targets)
    # the ablation relevance re-scores through the objects too
    with QuboCAM(model, [model.target_layer], relevance="ablation") as a, \
            QuboCAM(model, [model.target_layer], relevance="ablation") as b:
        np.testing.assert_array_equal(a(images, objects), b(images, targets))


def test_any_callable_target_is_differentiated(images):
    model = _model(GapNet)

    def margin(out):  # logit of class 2 over the mean logit: not a single class index
        return out[2] - out.mean()

    with GradCAM(model, [model.target_layer]) as cam:
        cam(images, [margin] * len(images))
        cap = cam.capture_
    assert (cap.targets == -1).all()
    # reference: autograd through the same layer, by hand
    store = {}
    handle = model.reduce.register_forward_hook(
        lambda m, i, o: store.__setitem__("A", o.detach().requires_grad_(True)) or store["A"])
    try:
        out = model.eval()(images)
    finally:
        handle.remove()
    score = (out[:, 2] - out.mean(1))
    (grad,) = torch.autograd.grad(score.sum(), store["A"])
    np.testing.assert_allclose(cap.gradients, grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(cap.scores, score.detach().numpy(), rtol=1e-6)
    with pytest.raises(EncodingError, match="one per image"):
        GradCAM(model, [model.target_layer])(images, [margin])
    with pytest.raises(EncodingError, match="to a scalar tensor"):
        GradCAM(model, [model.target_layer])(images, lambda out: out)
