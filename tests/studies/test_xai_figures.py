"""The XAI figures draw from synthetic study output (values are checked elsewhere)."""

import numpy as np

from studies.figures import bhattacharyya_panels, explanation_gallery, metric_chart


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    explanation_gallery(rng.random((3, 1, 8, 8)), {"a": rng.random((3, 8, 8)),
                                                   "b": rng.random((3, 8, 8))},
                        tmp_path / "g.png", titles=["x", "y", "z"])
    M = rng.random((4, 4))
    bhattacharyya_panels({"a": (M + M.T) / 2, "b": np.eye(4)}, tmp_path / "b.png", title="t")
    table = [{"weights": w, "method": m, "space": "heatmap", "metric": "silhouette",
              "value": v, "low": v - 0.1, "high": v + 0.1, "p_value": 0.01, "better": "higher",
              "n": 10} for w in ("trained", "re-initialised") for m, v in (("a", 0.3), ("b", 0.5))]
    metric_chart(table, tmp_path / "m.png", weights=("trained", "re-initialised"))
    for name in ("g.png", "b.png", "m.png"):
        assert (tmp_path / name).stat().st_size > 5000
