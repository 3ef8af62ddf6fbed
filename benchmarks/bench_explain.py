"""Benchmark: images per second of each explainer on the bundled default model.

On ``--images`` held-out digits (default 200) in one batch, best of ``--repeat`` runs: GradCAM,
GradCAM++, QuboCAM ("paper" and "cardinality" formulations, exact solver) and QuboCAM with
simulated annealing (dwave-samplers, 100 reads). The baseline, in the same run, is captum's
``LayerGradCam`` followed by bilinear up-sampling and min-max (the reference GradCAM is checked
against in the tests); the ratio is ours / captum's throughput.

``--case resnet224``: the reference paper's setting at 224 x 224 -- PaperNet on a ResNet-18
backbone cut after layer3 (random weights: timing only), N_f = 16 maps. GradCAM images/s
against pytorch-grad-cam's GradCAM where it is importable, else captum's LayerGradCam (same
run); QuboCAM (paper formulation, exact solver) per image; and one training epoch of the
head with the frozen backbone's maps cached (computed once, timed apart) against recomputing
the backbone every epoch.

Writes ``benchmarks/results/explain.json`` (or ``explain_resnet224.json``).

Run: ``python benchmarks/bench_explain.py [--images 200] [--model PaperNet|GapNet]`` or
``python benchmarks/bench_explain.py --case resnet224 [--images 16] [--train-images 128]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from _common import write_result  # noqa: E402
from encoding import (GradCAM, GradCAMPlusPlus, QuboCAM, default_model, get_sampler,  # noqa: E402
                      load_digits_dataset)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _resnet224(args) -> dict:
    from encoding import ImageDataset, PaperNet, train

    torch.manual_seed(0)
    model = PaperNet(backbone="resnet18", in_channels=3, image_size=224, n_maps=16,
                     mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]).eval()
    x = torch.rand(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    n = len(x)
    with torch.no_grad():
        targets = model(x).argmax(1)
    out = {"case": "resnet224", "images": n}
    try:
        from pytorch_grad_cam import GradCAM as PgcGradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        def baseline():
            with PgcGradCAM(model, [model.reduce]) as cam:
                return cam(x, [ClassifierOutputTarget(int(c)) for c in targets])

        out["baseline"] = "pytorch-grad-cam GradCAM"
    except ImportError:
        from captum.attr import LayerAttribution, LayerGradCam

        def baseline():
            attr = LayerGradCam(model, model.reduce).attribute(x, target=targets,
                                                               relu_attributions=True)
            up = LayerAttribution.interpolate(attr, (224, 224), interpolate_mode="bilinear")
            lo = up.amin(dim=(2, 3), keepdim=True)
            return (up - lo) / (up.amax(dim=(2, 3), keepdim=True) - lo + 1e-12)

        out["baseline"] = "captum LayerGradCam (pytorch-grad-cam not installed)"
    base = _best(baseline, args.repeat)
    ours = _best(lambda: GradCAM(model, [model.reduce])(x, targets), args.repeat)
    qubo = QuboCAM(model, [model.reduce], "paper")
    qubo(x[:1], targets[:1])  # load the Numba kernel
    t_qubo = _best(lambda: qubo(x, targets), 1)
    out.update(baseline_images_per_s=n / base, gradcam_images_per_s=n / ours,
               gradcam_ratio=base / ours, qubocam_paper_s_per_image=t_qubo / n,
               qubocam_mean_qubits=float(sum(len(q["candidates"]) for q in qubo.qubos_) / n))
    print(f"{out['baseline'] + ' (baseline)':<52}{n / base:8.2f} images/s")
    print(f"{'GradCAM':<52}{n / ours:8.2f} images/s   ratio {base / ours:5.2f}")
    print(f"{'QuboCAM paper, exact':<52}{t_qubo / n:8.3f} s/image "
          f"({out['qubocam_mean_qubits']:.1f} qubits on average)")

    m = args.train_images
    data = ImageDataset(torch.rand(m, 3, 224, 224, generator=torch.Generator().manual_seed(2)),
                        torch.arange(m) % 10, tuple(str(c) for c in range(10)))
    per_epoch, epochs = {}, 3
    for cache in (True, False):
        torch.manual_seed(0)
        net = PaperNet(backbone="resnet18", in_channels=3, image_size=224, n_maps=16)
        result = train(net, data, epochs=epochs, progress=False, cache_features=cache)
        per_epoch[cache] = (result.seconds - result.feature_seconds) / epochs
        if cache:
            out["train_feature_cache_s"] = result.feature_seconds
    out.update(train_images=m, epoch_s_cached=per_epoch[True], epoch_s_uncached=per_epoch[False],
               epoch_ratio=per_epoch[False] / per_epoch[True])
    print(f"train epoch ({m} images at 224 px): {per_epoch[True]:.3f} s with the layer3 maps "
          f"cached ({out['train_feature_cache_s']:.1f} s once to compute them), "
          f"{per_epoch[False]:.2f} s recomputing them: {out['epoch_ratio']:.0f}x")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=["digits", "resnet224"], default="digits")
    ap.add_argument("--images", type=int, default=None,
                    help="images explained (default 200 digits, 16 at 224 px)")
    ap.add_argument("--train-images", type=int, default=128,
                    help="images of the training-epoch timing (resnet224)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", choices=["PaperNet", "GapNet"], default="PaperNet")
    ap.add_argument("--json", default=None, metavar="FILE",
                    help="result file (default benchmarks/results/explain[_resnet224].json)")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}")
    if args.case == "resnet224":
        args.images = args.images or 16
        r = _resnet224(args)
        rows = [{"case": f"GradCAM, {r['images']} images", "value": r["gradcam_images_per_s"],
                 "unit": "images/s", "baseline": r["baseline_images_per_s"],
                 "ratio": r["gradcam_ratio"]},
                {"case": "QuboCAM, paper formulation, exact solver",
                 "value": r["qubocam_paper_s_per_image"], "unit": "s/image"},
                {"case": f"training epoch, {r['train_images']} images, layer3 maps cached",
                 "value": r["epoch_s_cached"], "unit": "s",
                 "baseline": r["epoch_s_uncached"], "ratio": r["epoch_ratio"]},
                {"case": "computing the cached maps once", "value": r["train_feature_cache_s"],
                 "unit": "s"}]
        write_result(
            "explain_resnet224", title="Explanations at 224 px: ResNet-18 to layer3, N_f = 16",
            what="PaperNet on a ResNet-18 backbone (random weights: timing only) at 224 × 224: "
                 "GradCAM throughput, QuboCAM per image, and one training epoch of the head with "
                 "the frozen backbone's layer3 maps cached against recomputing them.",
            baseline=f"{r['baseline']} (GradCAM rows), the uncached epoch (training row)",
            columns=[("case", "case"), ("value", "ours"), ("unit", "unit"),
                     ("baseline", "baseline"), ("ratio", "baseline / ours")],
            rows=rows, path=args.json)
        return
    args.images = args.images or 200
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
    rows = [{"case": "captum LayerGradCam + up-sampling", "images_per_s": n / base}]
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
        rows.append({"case": name, "images_per_s": n / t, "ratio": base / t})
    write_result(
        "explain", title="Explainers on the bundled digits",
        what=f"Images per second of each explainer on {n} held-out digits in one batch (best of "
             f"{args.repeat}), {args.model} with 16 maps of 8 × 8.",
        baseline="captum's `LayerGradCam` followed by bilinear up-sampling and min-max, same run",
        columns=[("case", "method"), ("images_per_s", "images/s"),
                 ("ratio", "captum time / ours")],
        rows=rows, path=args.json)


if __name__ == "__main__":
    main()
