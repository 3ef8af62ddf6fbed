"""Benchmark: where the time of the matrix-free matvec goes at large n (the memory side).

``bench_spectral.py`` compares the matvec with the time to move its three vectors once
(read v, read diag, write out) at the bandwidth of a parallel triad. This script times, in
the same alternation of pairs, two skeletons of the matvec that keep its memory accesses and
drop its arithmetic, so that the gap to that bound can be split into what the access pattern
itself costs and what the arithmetic adds:

- ``reads``: the kernel's loop over blocks of ``2**BLOCK_BITS`` states, with every partner
  block (the states one flipped bit above the block away, four per pass over the
  accumulator) added into an accumulator and ``out = (b diag + shift) v - a acc``
  written; no in-block arithmetic (bits below the block). Its result is not H v.
- ``stream``: the same with every partner block replaced by the block itself, so that only
  v, diag and out cross the memory bus (once each) and the partner reads hit the caches: the
  cost of the passes over the accumulator alone.

Each is printed as milliseconds and as a multiple of the triad bound, medians of ``--pairs``
pairs (a triad, an untimed call, a timed call). If ``reads`` alone comes near the matvec,
the arithmetic is not what keeps the matvec from the bound, but the partner blocks: they are
read from the caches (``stream`` less the bound), and from memory again once a block and its
partner lie further apart than the caches hold (``reads`` less ``stream``).

Before timing, :func:`check_skeleton` verifies that the skeleton sums the partner blocks it
claims to (against an independent sum by index arithmetic). Writes
``benchmarks/results/matvec_traffic.json``.

Run: ``python benchmarks/bench_matvec_traffic.py [--n 20 22 24] [--pairs 9] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

import spectral  # noqa: E402
from spectral.kernels import BLOCK_BITS  # noqa: E402
from _common import Triad, time_against_triad, write_result  # noqa: E402
from studies.problems import random_selection_bqm  # noqa: E402


@njit(inline="always")
def _partner(v, base, i, bs, own_only):
    """The partner block of the block at ``base`` along bit ``i`` (the block itself where
    ``own_only``)."""
    p = base if own_only else base ^ (1 << i)
    return v[p:p + bs]


@njit(parallel=True, cache=True)
def partner_reads(v, diag, a, b, shift, nbits, block_bits, own_only, out):
    """The matvec's block loop with its partner-block reads and no in-block arithmetic.

    ``out = (b diag + shift) v - a acc`` with ``acc = v + sum_(i >= block_bits) v[x ^ 2**i]``
    (``acc = (1 + nbits - block_bits) v`` where ``own_only``), blocks of ``2**block_bits``
    states in parallel, the partner blocks four per pass over the accumulator. Needs
    ``nbits >= block_bits``. The block size is an argument, not the kernel module's
    ``BLOCK_BITS`` read as a global: Numba's cache of this function keys on this file only and
    would keep a stale value.
    """
    kb = block_bits
    bs = 1 << kb
    nblocks = v.shape[0] >> kb
    nchunks = min(nblocks, 256)
    for ch in prange(nchunks):
        acc = np.empty(bs)
        for c in range(ch * nblocks // nchunks, (ch + 1) * nblocks // nchunks):
            base = c << kb
            vb = v[base:base + bs]
            for j in range(bs):
                acc[j] = vb[j]
            i = kb
            while i + 3 < nbits:
                w0 = _partner(v, base, i, bs, own_only)
                w1 = _partner(v, base, i + 1, bs, own_only)
                w2 = _partner(v, base, i + 2, bs, own_only)
                w3 = _partner(v, base, i + 3, bs, own_only)
                for j in range(bs):
                    acc[j] += (w0[j] + w1[j]) + (w2[j] + w3[j])
                i += 4
            while i < nbits:
                w0 = _partner(v, base, i, bs, own_only)
                for j in range(bs):
                    acc[j] += w0[j]
                i += 1
            db = diag[base:base + bs]
            ob = out[base:base + bs]
            for j in range(bs):
                ob[j] = (b * db[j] + shift) * vb[j] - a * acc[j]


def check_skeleton() -> None:
    """``partner_reads`` against an independent sum over flipped bits (raises if it differs)."""
    for block_bits in (10, BLOCK_BITS):
        for extra_bits in (0, 1, 4, 6):
            for own_only in (False, True):
                nbits = block_bits + extra_bits
                rng = np.random.default_rng(extra_bits)
                v, diag = rng.standard_normal(1 << nbits), rng.standard_normal(1 << nbits)
                out = np.empty_like(v)
                partner_reads(v, diag, 0.7, 1.3, 0.1, nbits, block_bits, own_only, out)
                x = np.arange(v.size)
                acc = ((1 + extra_bits) * v if own_only else
                       v + sum(v[x ^ (1 << i)] for i in range(block_bits, nbits)))
                np.testing.assert_allclose(out, (1.3 * diag + 0.1) * v - 0.7 * acc,
                                           rtol=1e-13, atol=1e-13)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[20, 22, 24])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", default=None, help="result file (default benchmarks/results/"
                        "matvec_traffic.json)")
    args = parser.parse_args()
    check_skeleton()
    rows = []
    if min(args.n) <= BLOCK_BITS:
        parser.error(f"--n must exceed BLOCK_BITS = {BLOCK_BITS} (no partner blocks below it)")

    print(f"# {os.cpu_count()} cores, numba threads {numba.get_num_threads()}, block "
          f"{2 ** BLOCK_BITS} states")
    triad = Triad()
    bandwidth = triad.best()
    print(f"# {'n':>3} {'bound_ms':>9} {'matvec_ms':>10} {'reads_ms':>9} {'stream_ms':>10} "
          f"{'x_matvec':>9} {'x_reads':>8} {'x_stream':>9}", flush=True)
    for n in args.n:
        H = spectral.AnnealingHamiltonian.from_bqm(
            random_selection_bqm(n, args.seed + n, penalty="loose"))
        a, b = H.coefficients(0.5)
        diag = H.diagonal()
        v = np.random.default_rng(0).standard_normal(H.dim)
        out = np.empty_like(v)
        calls = {
            "matvec": lambda: H.matvec(0.5, v, out),
            "reads": lambda: partner_reads(v, diag, a, b, 0.0, n, BLOCK_BITS, False, out),
            "stream": lambda: partner_reads(v, diag, a, b, 0.0, n, BLOCK_BITS, True, out),
        }
        timed = time_against_triad(calls, triad, H.dim, args.pairs)
        t = {name: float(np.median(ts)) for name, (ts, _) in timed.items()}
        x = {name: float(np.median(ts / bs)) for name, (ts, bs) in timed.items()}
        bound = float(np.median(np.concatenate([bs for _, bs in timed.values()])))
        print(f"  {n:>3} {bound * 1e3:9.2f} {t['matvec'] * 1e3:10.2f} {t['reads'] * 1e3:9.2f} "
              f"{t['stream'] * 1e3:10.2f} {x['matvec']:9.2f} {x['reads']:8.2f} "
              f"{x['stream']:9.2f}", flush=True)
        rows.append({"n": n, "bound_ms": bound * 1e3, "matvec_ms": t["matvec"] * 1e3,
                     "reads_ms": t["reads"] * 1e3, "stream_ms": t["stream"] * 1e3,
                     "x_matvec": x["matvec"], "x_reads": x["reads"], "x_stream": x["stream"]})
    print("# bound: 3 x 8 x 2**n bytes at the triad's bandwidth (the median of the triads run "
          "before each call); x_*: the median over the pairs of time / bound. reads: the "
          "matvec's memory accesses without its in-block arithmetic; stream: the same with the "
          "partner blocks read from the caches.")
    write_result(
        "matvec_traffic", title="Where the matvec's time goes (memory side)",
        what="The matvec and two skeletons of it that keep its memory accesses: `reads` (every "
             "partner block read, no in-block arithmetic) and `stream` (partner blocks replaced "
             "by the block itself: only v, diag and out cross the memory bus), each as a "
             "multiple of the triad bound (medians of paired runs).",
        baseline="the time to move 3 × 8 × 2^n bytes at the bandwidth of a parallel triad run "
                 "just before each call",
        columns=[("n", "n"), ("bound_ms", "bound (ms)"), ("matvec_ms", "matvec (ms)"),
                 ("reads_ms", "reads (ms)"), ("stream_ms", "stream (ms)"),
                 ("x_matvec", "matvec / bound"), ("x_reads", "reads / bound"),
                 ("x_stream", "stream / bound")],
        rows=rows, bandwidth=bandwidth, path=args.json)


if __name__ == "__main__":
    main()
