"""Benchmark: from a CNN prediction to its selection QUBO and exact ground state(s).

On the bundled default model (PaperNet, 16 maps of 8 x 8, trained on the digits and cached)
and the held-out digits, this times in one run:

1. per image, CNN passes excluded: ``SelectionQubo("cardinality").fit`` over all 16 maps
   (n = 16 qubits, m = 4) plus ``ExactGroundStateSolver().sample`` (every ground state) --
   median and 90th percentile over the images. The same BQMs are solved by dimod's ``ExactSolver`` (the baseline, on the first
   ``--baseline-images``) and the ratio printed; the ground energies must agree.
2. the paper formulation (candidates with positive GradCAM weight), the same way.
3. end to end for ``--images`` images (default 200): ``capture`` (one batched forward and
   backward pass), then fit + exact solve per image.

Writes ``benchmarks/results/encoding.json``.

Run: ``python benchmarks/bench_encoding.py [--images 200] [--baseline-images 20] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import dimod  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import write_result  # noqa: E402
from encoding import (ExactGroundStateSolver, SelectionQubo, capture, default_model,  # noqa: E402
                      load_digits_dataset)


def _time_per_image(qubo: SelectionQubo, cap, solver, count: int):
    times, bqms, energies = [], [], []
    for i in range(count):
        t0 = time.perf_counter()
        q = qubo.fit(cap.activations[i], cap.gradients[i], image_id=i, target=int(cap.targets[i]))
        ss = solver.sample(q.bqm_)
        times.append(time.perf_counter() - t0)
        bqms.append(q.bqm_.copy())
        energies.append(ss.info["ground_energy"])
    return np.array(times), bqms, np.array(energies)


def _baseline(bqms):
    times, energies = [], []
    for bqm in bqms:
        t0 = time.perf_counter()
        ss = dimod.ExactSolver().sample(bqm)
        times.append(time.perf_counter() - t0)
        energies.append(ss.first.energy if len(ss) else bqm.offset)
    return np.array(times), np.array(energies)


def _row(name, times, base_times=None):
    med, p90 = np.median(times) * 1e3, np.percentile(times, 90) * 1e3
    line = f"{name:<34} median {med:8.2f} ms   p90 {p90:8.2f} ms"
    if base_times is not None:
        line += (f"   ExactSolver median {np.median(base_times) * 1e3:8.1f} ms   ratio "
                 f"{np.median(base_times) / np.median(times):6.1f}x")
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--baseline-images", type=int, default=20)
    ap.add_argument("--json", default=None, help="result file (default benchmarks/results/"
                    "encoding.json)")
    args = ap.parse_args()
    rows = []
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numba threads {numba.get_num_threads()}, torch threads {torch.get_num_threads()}")
    model, meta = default_model()
    print(f"model: {meta['config']['architecture']} ({meta['config']['n_maps']} maps), test "
          f"accuracy {meta['test_accuracy']:.4f}, checkpoint {meta['checkpoint']}")
    digits = load_digits_dataset()
    test = digits.subset(meta["test_indices"][:args.images])
    count = len(test)
    solver = ExactGroundStateSolver()
    cap = capture(model, test.images, model.target_layer)
    # warm up the Numba kernel (compilation is cached on disk, loading is not free)
    solver.sample(SelectionQubo("cardinality").fit(cap.activations[0], cap.gradients[0]).bqm_)

    nb = min(args.baseline_images, count)
    for name, qubo in [("cardinality, n = 16, m = 4", SelectionQubo("cardinality", m=4)),
                       ("paper (alpha > 0 candidates)", SelectionQubo("paper"))]:
        times, bqms, energies = _time_per_image(qubo, cap, solver, count)
        base_times, base_energies = _baseline(bqms[:nb])
        worst = float(np.max(np.abs(energies[:nb] - base_energies)))
        sizes = [b.num_variables for b in bqms]
        print(f"  qubits: min {min(sizes)}, median {int(np.median(sizes))}, max {max(sizes)}; "
              f"ground energies vs ExactSolver: max |diff| {worst:.1e}")
        _row(name, times, base_times)
        rows.append({"case": name, "qubits": f"{min(sizes)}–{max(sizes)} (median "
                     f"{int(np.median(sizes))})", "median_ms": np.median(times) * 1e3,
                     "p90_ms": np.percentile(times, 90) * 1e3,
                     "baseline_ms": np.median(base_times) * 1e3,
                     "ratio": np.median(base_times) / np.median(times)})
        if worst > 1e-9:
            raise SystemExit("ground energies disagree with dimod's ExactSolver")

    t0 = time.perf_counter()
    cap = capture(model, test.images, model.target_layer)
    t_capture = time.perf_counter() - t0
    qubo = SelectionQubo("cardinality", m=4)
    for i in range(count):
        solver.sample(qubo.fit(cap.activations[i], cap.gradients[i]).bqm_)
    total = time.perf_counter() - t0
    print(f"end to end, {count} images: {total:.2f} s ({total / count * 1e3:.2f} ms per image; "
          f"capture {t_capture:.3f} s)")
    rows.append({"case": f"end to end, {count} images (capture + cardinality fit + solve)",
                 "median_ms": total / count * 1e3})
    write_result(
        "encoding", title="From a prediction to its exact selection",
        what="Per held-out digit of the bundled default model (PaperNet, 16 maps): "
             "`SelectionQubo.fit` plus `ExactGroundStateSolver().sample` (every ground state), "
             "CNN passes excluded; and end to end with one batched capture.",
        baseline="dimod's `ExactSolver` on the same BQMs (ground energies must agree to 1e-9)",
        columns=[("case", "case"), ("qubits", "qubits"), ("median_ms", "median (ms)"),
                 ("p90_ms", "90th percentile (ms)"), ("baseline_ms", "ExactSolver (ms)"),
                 ("ratio", "speed-up")],
        rows=rows, path=args.json)


if __name__ == "__main__":
    main()
