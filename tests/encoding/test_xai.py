"""The XAI study on the bundled default model: structure, equal-m baselines, the null."""

import numpy as np
import pytest

from encoding import METHODS, EncodingError, explain, load_digits_dataset, select_correct, xai_study


@pytest.fixture(scope="module")
def held_out(trained_default):
    model, meta = trained_default
    return model, load_digits_dataset().subset(meta["test_indices"])


def test_select_correct_draws_correct_images_per_class(held_out):
    model, test = held_out
    idx = select_correct(model, test, n_per_class=3, seed=1)
    labels = test.labels[idx].numpy()
    assert np.bincount(labels, minlength=10).tolist() == [3] * 10
    pred = model(test.images[idx]).argmax(1).numpy()
    np.testing.assert_array_equal(pred, labels)


def test_equal_m_baselines_have_the_reference_sizes(held_out):
    model, test = held_out
    x = test.images[:12]
    ex = explain(model, x, "reduce", methods=METHODS, reference="qubo-paper", seed=2)
    sizes = ex["qubo-paper"].selections.sum(1)
    for method in ("top-m gradcam", "top-m gradcam++", "top-m contribution", "random-m"):
        np.testing.assert_array_equal(ex[method].selections.sum(1), sizes)
        w = ex[method].channel_vectors
        assert np.all((w != 0) <= ex[method].selections)
    # top-m by GradCAM weight at m = all positive-weight maps is the paper QUBO's candidate set
    gw = ex["gradcam"].channel_vectors
    for i in range(len(x)):
        top = set(np.argsort(-gw[i], kind="stable")[:sizes[i]])
        assert set(np.flatnonzero(ex["top-m gradcam"].selections[i])) == top
    assert ex["gradcam"].selections is None
    with pytest.raises(EncodingError, match="unknown methods"):
        explain(model, x, "reduce", methods=["lime"])


def test_study_table_and_arrays(held_out):
    model, test = held_out
    st = xai_study(model, test, n_per_class=3, n_boot=20, n_perm=20, progress=False,
                   methods=("qubo-paper", "gradcam", "top-m gradcam", "random-m"))
    rows = st.table
    assert {r["weights"] for r in rows} == {"trained", "re-initialised"}
    for r in rows:
        assert r["n"] == 30
        if r["metric"] in ("silhouette", "5-NN accuracy", "Bhattacharyya off-diag"):
            assert 0 < r["p_value"] <= 1
        if np.isfinite(r["value"]) and r["better"] != "-" and r["metric"] != "Bhattacharyya off-diag":
            assert r["low"] <= r["value"] + 1e-9 and r["value"] <= r["high"] + 1e-9, r
    # PaperNet: GradCAM's channel vectors are constant within a class (dy/dA = W_c), so
    # their silhouette is 1 even with re-initialised weights -- the artefact the study exposes
    sil = {(r["weights"], r["method"]): r["value"] for r in rows
           if r["space"] == "channels" and r["metric"] == "silhouette"}
    assert sil[("trained", "gradcam")] == pytest.approx(1.0)
    assert sil[("re-initialised", "gradcam")] == pytest.approx(1.0)
    assert st.arrays["trained/qubo-paper/heatmaps"].shape == (30, 8, 8)
    assert st.arrays["trained/qubo-paper/selections"].dtype == bool
    assert st.arrays["trained/qubo-paper/bhattacharyya"].shape == (10, 10)
    assert "trained/gradcam/selections" not in st.arrays
    assert "re-initialised/random-m/channel_vectors" in st.arrays
    assert "silhouette" in st.format_table()


def test_shared_forward_passes_give_each_metric_as_its_own_function_does(held_out):
    """The study runs the images every method has in common once; its numbers equal each
    metric function called on its own, and it records the passes it made."""
    from encoding import metrics as M

    model, test = held_out
    idx = select_correct(model, test, n_per_class=2, seed=3)
    calls = []
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    try:
        st = xai_study(model, test, indices=idx, null=False, n_boot=5, n_perm=5, k=1,
                       steps=4, progress=False, methods=("qubo-paper", "gradcam", "top-m gradcam"))
    finally:
        handle.remove()
    passes = int(st.arrays["trained/forward_passes"])
    assert passes <= sum(calls) <= passes + 2  # and the layout check: one image, twice
    assert st.arrays["trained/seconds"] > 0
    x, labels = test.batch(idx), test.labels[idx].numpy()
    value = {(r["method"], r["metric"]): r["value"] for r in st.table}
    for method in ("qubo-paper", "gradcam", "top-m gradcam"):
        heat = st.arrays[f"trained/{method}/heatmaps"]
        for metric, want in (
                ("deletion AUC", M.deletion_auc(model, x, heat, labels, steps=4)),
                ("insertion AUC", M.insertion_auc(model, x, heat, labels, steps=4)),
                ("average drop %", M.average_drop(model, x, heat, labels))):
            assert value[(method, metric)] == pytest.approx(np.nanmean(want), rel=1e-5, abs=1e-9)
        if method != "gradcam":
            keep = st.arrays[f"trained/{method}/selections"]
            assert value[(method, "retained score")] == pytest.approx(
                M.retained_score(model, "reduce", x, labels, keep).mean(), rel=1e-5)


def test_the_fast_layout_copy_keeps_the_numbers_and_falls_back_where_it_cannot():
    import torch
    from torch import nn

    from encoding._xai import _channels_last

    class Viewing(nn.Module):  # flattens a feature map with view: fails on channels-last
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 6 * 6, 2)

        def forward(self, x):
            a = self.conv(x)
            return self.fc(a.view(a.size(0), -1))

    class Flattening(Viewing):
        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))

    torch.manual_seed(0)
    x = torch.rand(2, 3, 6, 6)
    viewing, flattening = Viewing().eval(), Flattening().eval()
    assert _channels_last(viewing, x) is viewing
    fast = _channels_last(flattening, x)
    assert fast is not flattening
    assert fast.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert flattening.conv.weight.is_contiguous()  # the model given is left as it is
    with torch.no_grad():
        torch.testing.assert_close(fast(x), flattening(x), rtol=1e-5, atol=1e-6)
