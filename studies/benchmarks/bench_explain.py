"""Benchmark: images per second of each explainer on the bundled default model.

On ``--images`` held-out digits (default 200) in one batch, best of ``--repeat`` runs: GradCAM,
GradCAM++, QuboCAM ("paper" and "cardinality" formulations, exact solver) and QuboCAM with
simulated annealing (dwave-samplers, 100 reads). The baseline, in the same run, is captum's
``LayerGradCam`` followed by bilinear up-sampling and min-max (the reference GradCAM is checked
against in the tests); the ratio is ours / captum's throughput.

Run: ``python studies/benchmarks/bench_explain.py [--images 200] [--model PaperNet|GapNet]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from encoding import (GradCAM, GradCAMPlusPlus, QuboCAM, default_model, get_sampler,  # noqa: E402
                      load_digits_dataset)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", choices=["PaperNet", "GapNet"], default="PaperNet")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}")
    model, meta = default_model(args.model)
    test = load_digits_dataset().subset(meta["test_indices"][:args.images])
    x, n = test.images, len(test)

    from captum.attr import LayerAttribution, LayerGradCam

    def captum_gradcam():
        with torch.no_grad():
            targets = model(x).argmax(1)
        attr = LayerGradCam(model, model.reduce).attribute(x, target=targets,
                                                           relu_attributions=True)
        up = LayerAttribution.interpolate(attr, tuple(x.shape[-2:]), interpolate_mode="bilinear")
        lo = up.amin(dim=(2, 3), keepdim=True)
        return (up - lo) / (up.amax(dim=(2, 3), keepdim=True) - lo + 1e-12)

    base = _best(captum_gradcam, args.repeat)
    print(f"{'captum LayerGradCam (baseline)':<40}{n / base:10.0f} images/s")
    sa = get_sampler("simulated-annealing")
    explainers = {
        "GradCAM": GradCAM(model, [model.reduce]),
        "GradCAM++": GradCAMPlusPlus(model, [model.reduce]),
        "QuboCAM paper, exact": QuboCAM(model, [model.reduce], "paper"),
        "QuboCAM cardinality (n=16), exact": QuboCAM(model, [model.reduce], "cardinality"),
        "QuboCAM cardinality, SA 100 reads": QuboCAM(model, [model.reduce], "cardinality",
                                                     solver=sa,
                                                     sample_kwargs={"num_reads": 100, "seed": 0}),
    }
    explainers["QuboCAM paper, exact"](x[:2])  # compile / load the Numba kernel
    for name, cam in explainers.items():
        t = _best(lambda cam=cam: cam(x), args.repeat if "SA" not in name else 1)
        print(f"{name:<40}{n / t:10.0f} images/s   ratio to captum {base / t:6.2f}", flush=True)


if __name__ == "__main__":
    main()
