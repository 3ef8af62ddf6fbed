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

``--case xai224``: the XAI study's throughput at 224 px on the same network: its forward
passes per second (``forward_passes`` / ``seconds`` as the study records them, every method,
the trained weights) against the plain ``model(x)`` throughput of the model as given
(``torch.inference_mode``, the study's batch size, same run), with the study's user and kernel
(sys) CPU time.

``--case paper-stl10``: the shipped ``paper-stl10`` study end to end (``qaxai run``, its own
LocalCluster) on full-size synthetic STL-10 files (5000 training and 8000 test images of
96 x 96, class-tinted noise, so that a head on a random backbone learns them) and a random
ResNet-18 state_dict: wall time, the XAI study's forward passes, and peak memory of the
client (data, training, planning) and of the largest worker.

``--case folder224``: planning a study on an image folder of ``--files`` PNGs at 224 px (a
user's small CNN, trained on the streamed folder first): the peak memory of the planning
process, beside what the images would take as one float32 tensor.

Writes ``benchmarks/results/explain.json`` (or ``explain_<case>.json``).

Run: ``python benchmarks/bench_explain.py [--images 200] [--model PaperNet|GapNet]``,
``python benchmarks/bench_explain.py --case resnet224 [--images 16] [--train-images 128]``,
``python benchmarks/bench_explain.py --case xai224 [--images 20]``,
``python benchmarks/bench_explain.py --case folder224 [--files 3000]`` or
``python benchmarks/bench_explain.py --case paper-stl10 [--per-class 20]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import threading
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


def _paper_net():
    from encoding import PaperNet

    torch.manual_seed(0)
    model = PaperNet(backbone="resnet18", in_channels=3, image_size=224, n_maps=16,
                     mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]).eval()
    return model.requires_grad_(False)


def _cpu_times() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _xai224(args) -> dict:
    import numpy as np

    from encoding import ImageDataset, xai_study
    from encoding._allocator import auto_batch_size, hold_freed_memory

    model = _paper_net()
    n = args.images
    x = torch.rand(n, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    data = ImageDataset(x, torch.arange(n) % 2, ("a", "b"))
    u0, s0 = _cpu_times()
    study = xai_study(model, data, indices=np.arange(n), null=False, progress=False, k=1)
    u1, s1 = _cpu_times()
    passes = int(study.arrays["trained/forward_passes"])
    seconds = float(study.arrays["trained/seconds"])
    hold_freed_memory()  # as in the study
    batch = auto_batch_size(x)
    xb = x[:1].repeat(batch, 1, 1, 1)
    with torch.inference_mode():
        model(xb)
        reps = max(3, 200 // batch)
        t0 = time.perf_counter()
        for _ in range(reps):
            model(xb)
        plain = reps * batch / (time.perf_counter() - t0)
    out = {"case": "xai224", "images": n, "batch": batch, "forward_passes": passes,
           "seconds": seconds, "passes_per_s": passes / seconds, "plain_images_per_s": plain,
           "ratio": passes / seconds / plain, "user_s": u1 - u0, "sys_s": s1 - s0,
           "sys_fraction": (s1 - s0) / max(u1 - u0 + s1 - s0, 1e-9),
           "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    print(f"plain model(x), batch {batch}: {plain:.1f} images/s")
    print(f"XAI study, {n} images, trained weights: {passes} forward passes in {seconds:.1f} s = "
          f"{passes / seconds:.1f}/s, ratio {out['ratio']:.2f}; CPU user {u1 - u0:.1f} s, "
          f"sys {s1 - s0:.1f} s ({out['sys_fraction']:.1%})")
    return out


def _synthetic_stl10(root, seed: int = 0) -> None:
    """STL-10's binary layout, full size: class-tinted noise, labels 1..10."""
    import numpy as np

    rng = np.random.default_rng(seed)
    tints = rng.integers(40, 216, (10, 3))
    for split, count in (("train", 5000), ("test", 8000)):
        labels = np.arange(count) % 10
        with open(root / f"{split}_X.bin", "wb") as f:
            for start in range(0, count, 500):
                lab = labels[start:start + 500]
                noise = rng.integers(-40, 41, (lab.size, 3, 96, 96))
                f.write(np.clip(tints[lab][:, :, None, None] + noise, 0, 255)
                        .astype(np.uint8).tobytes())
        (labels + 1).astype(np.uint8).tofile(root / f"{split}_y.bin")


def _watch_children(peaks: dict, stop) -> None:
    """Largest resident set of each child process (the cluster's workers), polled."""
    import psutil

    me = psutil.Process()
    while not stop.wait(0.5):
        for child in me.children(recursive=True):
            try:
                peaks[child.pid] = max(peaks.get(child.pid, 0), child.memory_info().rss)
            except psutil.Error:
                pass


def _paper_stl10(args) -> dict:
    import json
    import tempfile
    from pathlib import Path

    import h5py

    from encoding import ResNet18
    from studies import load_config, run_study

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _synthetic_stl10(tmp)
        torch.manual_seed(0)
        torch.save(ResNet18().state_dict(), tmp / "resnet18.pth")
        config = load_config("builtin:paper-stl10", overrides=[
            f"data.path={str(tmp)!r}", f"model.weights={str(tmp / 'resnet18.pth')!r}",
            f"images.per_class={args.per_class}", f"study.out={str(tmp / 'study.h5')!r}"])
        peaks, stop = {}, threading.Event()
        watcher = threading.Thread(target=_watch_children, args=(peaks, stop), daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        summary = run_study(config, progress=False, device="cpu")
        wall = time.perf_counter() - t0
        stop.set()
        watcher.join()
        client_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        worker_gb = max(peaks.values(), default=0) / 2**30
        with h5py.File(tmp / "study.h5", "r") as f:
            xai = next(g for g in f["instances"].values() if g.attrs["kind"] == "xai")
            passes = {w: int(xai[f"xai/{w}/forward_passes"][()])
                      for w in ("trained", "re-initialised") if f"xai/{w}" in xai}
            xai_s = {w: float(xai[f"xai/{w}/seconds"][()]) for w in passes}
            accuracy = json.loads(xai.attrs["spec"])["model"].get("test_accuracy")
            problems = sum(1 for g in f["instances"].values() if g.attrs["kind"] == "problem")
    out = {"case": "paper-stl10", "per_class": args.per_class, "wall_s": wall,
           "instances": summary.done,
           "problems": problems, "forward_passes": sum(passes.values()),
           "xai_s": sum(xai_s.values()), "client_peak_gb": client_gb,
           "worker_peak_gb": worker_gb, "test_accuracy": accuracy}
    print(f"paper-stl10, per_class {args.per_class}: wall {wall:.0f} s; XAI {out['xai_s']:.0f} s "
          f"for {out['forward_passes']} forward passes; {problems} problems; peak memory "
          f"client {client_gb:.2f} GB, largest worker {worker_gb:.2f} GB; head accuracy "
          f"{accuracy}")
    return out


_TINTNET = """
from torch import nn


def build():
    # a user's small CNN: 32 maps of 28 x 28 at 224 px, global average pooling, a linear head
    return nn.Sequential(
        nn.Conv2d(3, 16, 5, stride=4, padding=2), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
"""


def _folder224(args) -> dict:
    """Plan a study on an image folder of ``args.files`` PNGs at 224 px (a user's model,
    trained here on the streamed folder first); the planning process's peak memory."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from encoding import load_image_folder, train

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = tmp / "images"
        rng = np.random.default_rng(0)
        tints = rng.integers(40, 216, (10, 3))
        for i in range(args.files):
            c = i % 10
            (root / f"class{c}").mkdir(parents=True, exist_ok=True)
            pixels = np.clip(tints[c] + rng.integers(-40, 41, (224, 224, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / f"class{c}" / f"{i}.png",
                                                          compress_level=1)
        (tmp / "tintnet.py").write_text(_TINTNET)
        sys.path.insert(0, str(tmp))
        import tintnet

        torch.manual_seed(0)
        model = tintnet.build()
        fit = train(model, load_image_folder(root, size=224), epochs=2, batch_size=32, lr=1e-2,
                    progress=False, cache_features=False)
        torch.save(model.state_dict(), tmp / "tintnet.pt")
        (tmp / "study.toml").write_text(f"""
[study]
name = "folder224"
out = {str(tmp / 'study.h5')!r}
[data]
source = "folder"
path = {str(root)!r}
size = 224
[model]
factory = "tintnet:build"
checkpoint = {str(tmp / 'tintnet.pt')!r}
layer = "2"
[images]
per_class = 20
[problems]
formulations = ["paper"]
qubits = [12]
[spectral]
max_qubits = 12
[dynamics]
max_qubits = 12
T = [10.0]
""")
        script = ("import resource, sys, time; from studies import load_config; "
                  "from studies._plan import plan; t = time.perf_counter(); "
                  f"n = len(plan(load_config({str(tmp / 'study.toml')!r}), progress=False, "
                  "device='cpu')); print(n, time.perf_counter() - t, "
                  "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)")
        base = subprocess.run([sys.executable, "-c", "import resource, studies, encoding, torch; "
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss "
                               "/ 2**20)"], capture_output=True, text=True, check=True)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, cwd=tmp)
    count, seconds, peak = done.stdout.split()[-3:]
    as_float = args.files * 3 * 224 * 224 * 4 / 2**30
    out = {"case": "folder224", "files": args.files, "instances": int(count),
           "seconds": float(seconds), "peak_gb": float(peak),
           "after_imports_gb": float(base.stdout.split()[-1]), "float32_split_gb": as_float,
           "train_accuracy": fit.history[-1]["train_accuracy"]}
    print(f"planned {count} instances from {args.files} PNGs at 224 px in {float(seconds):.0f} s:"
          f" peak memory {float(peak):.2f} GB ({out['after_imports_gb']:.2f} GB after imports); "
          f"the images as float32 would take {as_float:.2f} GB")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=["digits", "resnet224", "xai224", "paper-stl10",
                                       "folder224"],
                    default="digits")
    ap.add_argument("--files", type=int, default=3000, help="image files (folder224)")
    ap.add_argument("--per-class", type=int, default=20,
                    help="images explained per class (paper-stl10)")
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
    if args.case == "xai224":
        args.images = args.images or 20
        r = _xai224(args)
        write_result(
            "explain_xai224", title="The XAI study's forward passes at 224 px",
            what=f"The XAI study (every method, trained weights, {r['images']} random images) on "
                 "PaperNet with a ResNet-18 backbone to layer3 (random weights) at 224 × 224: "
                 "forward passes per second as the study records them, and its CPU time.",
            baseline=f"plain `model(x)` of the model as given under `torch.inference_mode`, "
                     f"batch {r['batch']} (the study's), same run",
            columns=[("forward_passes", "forward passes"), ("seconds", "study (s)"),
                     ("passes_per_s", "passes/s"), ("plain_images_per_s", "plain images/s"),
                     ("ratio", "passes/s / plain"), ("user_s", "user CPU (s)"),
                     ("sys_s", "sys CPU (s)"), ("sys_fraction", "sys / CPU"),
                     ("peak_gb", "peak memory (GB)")],
            rows=[r], path=args.json)
        return
    if args.case == "folder224":
        r = _folder224(args)
        write_result(
            "explain_folder224", title="Planning a study on an image folder at 224 px",
            what=f"Planning a study (reading the folder, the held-out predictions, the "
                 f"explained images' captures, fingerprints and problems) of a user's model (a "
                 f"small CNN given by `[model] factory` and a checkpoint trained on the streamed "
                 f"folder first) on {r['files']} PNG files of 224 × 224 in 10 class folders: "
                 "peak resident memory of the planning process.",
            baseline="none: the size the images would take as one float32 tensor is shown "
                     "beside it",
            columns=[("files", "files"), ("instances", "instances"), ("seconds", "plan (s)"),
                     ("after_imports_gb", "after imports (GB)"), ("peak_gb", "peak (GB)"),
                     ("float32_split_gb", "the images as float32 (GB)")],
            rows=[r], path=args.json)
        return
    if args.case == "paper-stl10":
        r = _paper_stl10(args)
        write_result(
            "explain_paper_stl10", title="The paper's setting end to end: paper-stl10",
            what=f"`qaxai run builtin:paper-stl10` at per_class = {r['per_class']} on full-size "
                 "synthetic STL-10 files (5000 + 8000 images of 96 × 96) with a random ResNet-18 "
                 "state_dict, on a LocalCluster of this machine: training, planning, every "
                 "problem and the XAI study with its null.",
            baseline="none in this run; `--case xai224` measures plain `model(x)` of the same "
                     "network, whose rate bounds the XAI forward passes",
            columns=[("per_class", "per class"), ("wall_s", "wall (s)"),
                     ("problems", "problems"), ("forward_passes", "XAI forward passes"),
                     ("xai_s", "XAI (s)"), ("client_peak_gb", "client peak (GB)"),
                     ("worker_peak_gb", "largest worker peak (GB)")],
            rows=[r], path=args.json)
        return
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
