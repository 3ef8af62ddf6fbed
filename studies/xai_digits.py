"""The XAI study on the bundled digits, for both default models (PaperNet and GapNet).

Runs :func:`encoding.xai_study` (20 correctly classified held-out digits per class, every
method, bootstrap intervals, permutation p-values, the re-initialised null) and writes into
``--out``: ``{model}_table.txt`` and ``{model}_table.json`` (the metric table),
``{model}_gallery.png`` (one digit per class: image, QuboCAM, GradCAM, GradCAM++),
``{model}_bhattacharyya.png`` and ``{model}_metrics.png``.

Run: ``python -m studies.xai_digits --out xai_digits [--n-per-class 20] [--boot 200]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from encoding import default_model, load_digits_dataset, xai_study  # noqa: E402

from .figures import bhattacharyya_panels, explanation_gallery, metric_chart  # noqa: E402

KEY_METRICS = [("selection", "Bhattacharyya off-diag"), ("selection", "silhouette"),
               ("channels", "silhouette"), ("heatmap", "silhouette"),
               ("selection", "5-NN accuracy"), ("heatmap", "5-NN accuracy"),
               ("heatmap", "target sensitivity"), ("selection", "retained score"),
               ("heatmap", "average drop %"), ("heatmap", "deletion AUC"),
               ("heatmap", "insertion AUC"), ("heatmap", "increase in confidence %")]


def run(architecture: str, out: Path, n_per_class: int, n_boot: int, n_perm: int,
        progress: bool = True) -> dict:
    model, meta = default_model(architecture, progress=progress)
    digits = load_digits_dataset()
    test = digits.subset(meta["test_indices"])
    t0 = time.perf_counter()
    study = xai_study(model, test, n_per_class=n_per_class, n_boot=n_boot, n_perm=n_perm,
                      progress=progress)
    seconds = time.perf_counter() - t0
    name = architecture.lower()
    (out / f"{name}_table.txt").write_text(study.format_table() + "\n")
    (out / f"{name}_table.json").write_text(json.dumps(study.table, indent=1))
    labels = study.arrays["labels"]
    first = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    idx = study.arrays["indices"][first]
    explanation_gallery(
        test.images[idx].numpy(),
        {m: study.arrays[f"trained/{m}/heatmaps"][first]
         for m in ("qubo-paper", "qubo-cardinality", "gradcam", "gradcam++")},
        out / f"{name}_gallery.png", titles=[f"class {labels[i]}" for i in first])
    bhattacharyya_panels(
        {m: study.arrays[f"trained/{m}/bhattacharyya"]
         for m in ("qubo-paper", "qubo-cardinality", "top-m gradcam", "top-m gradcam++",
                   "top-m contribution", "random-m")},
        out / f"{name}_bhattacharyya.png", title=f"{architecture}: selected-map distributions")
    metric_chart(study.table, out / f"{name}_metrics.png", metrics=KEY_METRICS,
                 weights=("trained", "re-initialised"), title=architecture)
    return {"architecture": architecture, "seconds": seconds, "accuracy": meta["test_accuracy"],
            "images": int(labels.size)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="xai_digits")
    ap.add_argument("--n-per-class", type=int, default=20)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--perm", type=int, default=200)
    ap.add_argument("--models", nargs="+", default=["PaperNet", "GapNet"])
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for arch in args.models:
        info = run(arch, out, args.n_per_class, args.boot, args.perm)
        print(f"{arch}: {info['images']} images, study {info['seconds']:.1f} s -> {out}",
              flush=True)


if __name__ == "__main__":
    main()
