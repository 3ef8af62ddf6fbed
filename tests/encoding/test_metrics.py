"""Explanation metrics against hand computations, scikit-learn / scipy, and naive loops."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import trapezoid
from scipy.spatial.distance import jaccard as scipy_jaccard
from scipy.stats import spearmanr
from sklearn.metrics import silhouette_samples as sk_silhouette_samples
from torch import nn

from encoding import EncodingError, GapNet, capture
from encoding import metrics as M
from encoding import _allocator


def test_bhattacharyya_by_hand():
    # class a selects map 0 twice and map 1 once; class b maps 1 and 2; class c map 3
    S = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)
    labels = np.array(["a", "a", "b", "c"])
    B = M.bhattacharyya_matrix(S, labels)
    pa, pb = np.array([2, 1, 0, 0]) / 3, np.array([0, 1, 1, 0]) / 2
    assert B[0, 1] == pytest.approx(np.sum(np.sqrt(pa * pb)))
    assert B[0, 2] == 0 and np.allclose(np.diag(B), 1)
    assert M.mean_off_diagonal(B) == pytest.approx(2 * B[0, 1] / 6)
    empty = M.bhattacharyya_matrix(np.zeros((2, 3), bool), [0, 1])
    assert np.isnan(empty).all() and np.isnan(M.mean_off_diagonal(empty))


@given(st.integers(5, 30), st.integers(2, 4), st.integers(0, 2**31 - 1),
       st.sampled_from(["cosine", "jaccard"]))
def test_silhouette_samples_equal_scikit_learn(n, groups, seed, metric):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % groups
    rng.shuffle(labels)
    X = rng.random((n, 6)) > 0.5 if metric == "jaccard" else rng.standard_normal((n, 6))
    X[0] = 0  # a zero vector: the documented distance rule
    D = M.pairwise_distances(X, metric)
    np.testing.assert_allclose(M.silhouette_samples(D, labels),
                               sk_silhouette_samples(D, labels, metric="precomputed"), atol=1e-12)


def test_pairwise_distances_against_scipy_and_zero_rule():
    rng = np.random.default_rng(0)
    X = rng.random((6, 5)) > 0.4
    X[0], X[1] = False, False
    D = M.pairwise_distances(X, "jaccard")
    for i in range(2, 6):
        for j in range(2, 6):
            assert D[i, j] == pytest.approx(scipy_jaccard(X[i], X[j]))
    assert D[0, 1] == 0 and D[0, 3] == 1 and D[3, 0] == 1
    Y = rng.standard_normal((4, 3))
    C = M.pairwise_distances(Y, "cosine")
    assert C[1, 2] == pytest.approx(1 - Y[1] @ Y[2] / np.linalg.norm(Y[1]) / np.linalg.norm(Y[2]))


def _knn_naive(D, labels, k):
    out = []
    for i in range(len(labels)):
        others = sorted((D[i, j], j) for j in range(len(labels)) if j != i)[:k]
        votes = {}
        for _, j in others:
            votes[labels[j]] = votes.get(labels[j], 0) + 1
        top = max(votes.values())
        vote = next(labels[j] for _, j in others if votes[labels[j]] == top)
        out.append(vote == labels[i])
    return np.array(out)


@given(st.integers(5, 25), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_knn_correct_equals_naive_loop(n, k, seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, (n, 3)).astype(float)  # many distance ties
    labels = rng.integers(0, 3, n)
    D = M.pairwise_distances(X + 0.1, "cosine")
    np.testing.assert_array_equal(M.knn_correct_from_distances(D, labels, k),
                                  _knn_naive(D, labels, k))


def test_target_sensitivity():
    a = np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0]], bool)
    b = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 0]], bool)
    np.testing.assert_allclose(M.target_sensitivity(a, b, "jaccard"), [1 - 1 / 3, 0, 0])
    rng = np.random.default_rng(1)
    h1, h2 = rng.random((2, 4, 4)), rng.random((2, 4, 4))
    h2[1] = 0.5
    out = M.target_sensitivity(h1, h2, "spearman")
    assert out[0] == pytest.approx(1 - spearmanr(h1[0].ravel(), h2[0].ravel()).statistic)
    assert np.isnan(out[1])
    with pytest.raises(EncodingError, match="one shape"):
        M.target_sensitivity(a, b[:2], "jaccard")


class _SumModel(nn.Module):
    """logits = (w * sum of pixels, 0): class-0 probability = sigmoid(w * sum)."""

    def __init__(self, w=0.1):
        super().__init__()
        self.w = w

    def forward(self, x):
        s = self.w * x.sum(dim=(1, 2, 3))
        return torch.stack([s, torch.zeros_like(s)], dim=1)


def test_average_drop_and_increase_by_hand():
    x = torch.ones(2, 1, 2, 2)
    heat = np.array([np.full((2, 2), 0.5), np.full((2, 2), 1.0)])
    model = _SumModel(1.0)
    Y = 1 / (1 + np.exp(-4.0))
    O = np.array([1 / (1 + np.exp(-2.0)), Y])
    np.testing.assert_allclose(M.average_drop(model, x, heat, [0, 0]),
                               100 * np.maximum(0, Y - O) / Y)
    np.testing.assert_allclose(M.increase_in_confidence(model, -x, heat, [0, 0]), [100, 0])


def test_deletion_and_insertion_curves_by_hand():
    model = _SumModel(0.5)
    x = torch.arange(1, 5, dtype=torch.float32).view(1, 1, 2, 2)  # pixels 1, 2, 3, 4
    heat = x[:, 0].numpy()  # most salient = largest pixel
    f, p = M.deletion_curves(model, x, heat, [0], "deletion", steps=4)
    sums = np.array([10, 6, 3, 1, 0])  # remove 4, then 3, then 2, then 1
    np.testing.assert_allclose(f, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(p[0], 1 / (1 + np.exp(-0.5 * sums)), rtol=1e-6)
    f, p = M.deletion_curves(model, x, heat, [0], "insertion", steps=4, blur_sigma=1.0)
    assert p[0, -1] == pytest.approx(1 / (1 + np.exp(-5.0)), rel=1e-6)
    auc = M.deletion_auc(model, x, heat, [0], steps=4)
    assert auc[0] == pytest.approx(trapezoid(1 / (1 + np.exp(-0.5 * sums)), f), rel=1e-6)


def test_retained_score_matches_manual_zeroing():
    torch.manual_seed(0)
    model = GapNet(n_maps=5).eval()
    x = torch.rand(3, 1, 8, 8)
    keep = np.array([[1, 1, 1, 1, 1], [1, 0, 0, 1, 0], [0, 0, 0, 0, 0]], bool)
    t = capture(model, x, "reduce").targets
    got = M.retained_score(model, "reduce", x, t, keep)
    with torch.no_grad():
        A = model.reduce(model.backbone(x))
        full = torch.softmax(model.head(A), 1)[torch.arange(3), t]
        kept = torch.softmax(model.head(A * torch.tensor(keep, dtype=A.dtype)[:, :, None, None]), 1)
        want = (kept[torch.arange(3), t] / full).double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[0] == pytest.approx(1.0)


def test_bootstrap_and_permutation():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 1.0, 400)
    lo, hi = M.bootstrap_interval(lambda idx: x[idx].mean(), x.size, n_boot=2000, seed=1)
    assert lo < 2.0 < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.15)
    labels = np.repeat([0, 1], 50)
    separated = np.where(labels == 0, 0.0, 5.0) + rng.normal(0, 0.1, 100)
    stat = lambda lab: abs(separated[lab == 0].mean() - separated[lab == 1].mean())  # noqa: E731
    assert M.permutation_pvalue(stat, labels, n_perm=199) == pytest.approx(1 / 200)
    noise = rng.normal(0, 1, 100)
    stat2 = lambda lab: abs(noise[lab == 0].mean() - noise[lab == 1].mean())  # noqa: E731
    assert M.permutation_pvalue(stat2, labels, n_perm=199) > 0.05
    lo, hi = M.bootstrap_interval(lambda idx: x[idx].mean(), x.size, n_boot=500, method="basic")
    assert lo < x.mean() < hi


def test_metrics_of_large_images_go_through_in_batches_with_the_same_numbers(monkeypatch):
    torch.manual_seed(0)
    model = GapNet(n_maps=5).eval()
    x = torch.rand(7, 1, 8, 8)
    heat = torch.rand(7, 8, 8).numpy()
    t = capture(model, x, "reduce").targets
    keep = np.random.default_rng(0).random((7, 5)) < 0.5
    whole = [M.deletion_auc(model, x, heat, t), M.insertion_auc(model, x, heat, t),
             M.retained_score(model, "reduce", x, t, keep), M.class_probabilities(model, x, t)]
    monkeypatch.setattr(_allocator, "_BATCH_VALUES", 3 * 64)  # three 8 x 8 images per pass
    assert M.auto_batch_size(x) == 3
    calls = []
    handle = model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        parts = [M.deletion_auc(model, x, heat, t), M.insertion_auc(model, x, heat, t),
                 M.retained_score(model, "reduce", x, t, keep), M.class_probabilities(model, x, t)]
    finally:
        handle.remove()
    assert max(calls) <= 3  # perturbed images in batches of three, never the whole set
    for a, b in zip(whole, parts):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def _probability(model, x, target):
    with torch.no_grad():
        return float(torch.softmax(model(x[None]).double(), 1)[0, target])


@given(st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_the_probe_shares_forward_passes_and_gives_each_curve_point_by_definition(seed, steps):
    """Every point of every curve equals the class probability of the perturbed image built
    by hand; images that do not depend on the heatmap, and equal heatmaps of one image, are
    run once."""
    from encoding._faithfulness import FaithfulnessProbe, blur

    torch.manual_seed(seed % 1000)
    model = GapNet(n_maps=3).eval()
    rng = np.random.default_rng(seed)
    n = 3
    x = torch.as_tensor(rng.random((n, 1, 8, 8)), dtype=torch.float32)
    t = rng.integers(0, 10, n)
    a = rng.random((n, 8, 8)).round(1)  # ties: broken by pixel index
    b = a.copy()
    b[1] = rng.random((8, 8))  # image 1 differs, images 0 and 2 equal between a and b
    calls = []
    handle = model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        probe = FaithfulnessProbe(model, x, t, steps=steps, blur_sigma=1.0)
        got = probe.measure({"a": a, "b": b})
    finally:
        handle.remove()
    distinct = n + 1
    assert sum(calls) == probe.forward_passes == n + n + 1 + distinct * (1 + 2 * (steps - 1))
    blurred = blur(x, 1.0)
    counts = np.round(np.linspace(0, 1, steps + 1) * 64).astype(int)
    for name, heat in (("a", a), ("b", b)):
        for i in range(n):
            order = sorted(range(64), key=lambda p: (-heat[i].ravel()[p], p))
            assert got[name]["confidence"][i] == pytest.approx(
                _probability(model, x[i] * torch.as_tensor(heat[i], dtype=torch.float32), t[i]),
                rel=1e-5)
            for j, c in enumerate(counts):
                top = torch.zeros(64, dtype=torch.bool)
                top[order[:c]] = True
                top = top.view(8, 8)
                deleted = torch.where(top, torch.zeros_like(x[i]), x[i])
                inserted = torch.where(top, x[i], blurred[i])
                assert got[name]["deletion"][i, j] == pytest.approx(
                    _probability(model, deleted, t[i]), rel=1e-5)
                assert got[name]["insertion"][i, j] == pytest.approx(
                    _probability(model, inserted, t[i]), rel=1e-5)
