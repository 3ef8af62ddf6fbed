"""Numba kernels of the split-operator propagator (private; see ``_split.py``).

The state is held as two float64 vectors (real and imaginary parts) over the 2^n basis states
(bit i = qubit i), so that every loop runs over contiguous doubles. Two factors are applied in
place:

- the problem phase ``psi_b *= exp(-i beta E_b)`` (H_P is diagonal), with a branch-free
  polynomial sine/cosine that LLVM vectorises (fdlibm's kernel coefficients after Cody-Waite
  reduction: error <= 2.3e-16 for |beta E| <= 1e3, measured; numba's libm calls cost 4x more);
- the driver factor ``exp(-i theta H_D) = prod_i (cos theta + i sin theta X_i)`` for
  ``H_D = -sum_i X_i``: a rotation of every pair (b, b ^ 2^i). Qubits below ``low_bits`` are
  rotated inside cache-sized blocks of 2^low_bits amplitudes (one pass over the state, fused
  with the phase; inside a block qubits 0-2 in registers, then two qubits per sweep); the
  higher qubits in groups, tile by tile, so that each group costs one more pass. A state of
  one block runs the serial build (the parallel region's start cost more than the work).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._config import NJIT_FLAGS, NJIT_PARALLEL_FLAGS

#: fused multiply-adds (a contraction changes results at the rounding level only; the phase
#: stays within 1.1e-16 of numpy's exp, measured)
_FLAGS = {**NJIT_FLAGS, "fastmath": {"contract"}}
_PARALLEL_FLAGS = {**NJIT_PARALLEL_FLAGS, "fastmath": {"contract"}}

_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11
_INVPIO2 = 6.36619772367581382433e-01
_PIO2_1, _PIO2_1T = 1.57079632673412561417e+00, 6.07710050650619224932e-11

#: amplitudes per tile of the high-qubit pass
TILE = 256


@nb.njit(inline="always", **_FLAGS)
def sincos(x):  # pragma: no cover - compiled
    """``(sin x, cos x)``, branch-free (vectorisable); accurate to 1 ulp for |x| <= 1e5."""
    kf = np.rint(x * _INVPIO2)
    r = (x - kf * _PIO2_1) - kf * _PIO2_1T
    z = r * r
    s = r + r * z * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
    c = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    q = np.int64(kf) & 3
    swap = q & 1
    ss = s if swap == 0 else c
    cc = c if swap == 0 else s
    return (1.0 - 2.0 * ((q >> 1) & 1)) * ss, (1.0 - 2.0 * (((q + 1) >> 1) & 1)) * cc


@nb.njit(inline="always", **_FLAGS)
def _rotate(ar, ai, br, bi, c, s):  # pragma: no cover - compiled
    """``(a, b) <- (c a + i s b, i s a + c b)`` on real/imaginary slices of one length."""
    for t in range(ar.size):
        xr, xi, yr, yi = ar[t], ai[t], br[t], bi[t]
        ar[t] = c * xr - s * yi
        ai[t] = c * xi + s * yr
        br[t] = c * yr - s * xi
        bi[t] = c * yi + s * xr


@nb.njit(inline="always", **_FLAGS)
def _pair(xr, xi, yr, yi, c, s):  # pragma: no cover - compiled
    """One rotated pair, ``(c x + i s y, i s x + c y)``, as four reals."""
    return c * xr - s * yi, c * xi + s * yr, c * yr - s * xi, c * yi + s * xr


@nb.njit(inline="always", **_FLAGS)
def _rotate_two(r0, i0, r1, i1, r2, i2, r3, i3, c, s):  # pragma: no cover - compiled
    """Two qubits at once on four slices of one length (indices ``t``, ``t + 2^q``,
    ``t + 2^(q+1)``, ``t + 2^q + 2^(q+1)``): each amplitude is loaded and stored once for
    both rotations, half the memory operations of two passes of :func:`_rotate`."""
    for t in range(r0.size):
        a0, b0, a1, b1 = _pair(r0[t], i0[t], r1[t], i1[t], c, s)  # qubit q
        a2, b2, a3, b3 = _pair(r2[t], i2[t], r3[t], i3[t], c, s)
        a0, b0, a2, b2 = _pair(a0, b0, a2, b2, c, s)  # qubit q + 1
        a1, b1, a3, b3 = _pair(a1, b1, a3, b3, c, s)
        r0[t], i0[t], r1[t], i1[t] = a0, b0, a1, b1
        r2[t], i2[t], r3[t], i3[t] = a2, b2, a3, b3


@nb.njit(inline="always", **_FLAGS)
def _rotate_low3(vr, vi, c, s):  # pragma: no cover - compiled
    """Rotate qubits 0, 1, 2 (``vr.size`` a multiple of 8): each group of 8 amplitudes is
    loaded once and its 12 pairs rotated in registers. Runs of 1, 2 and 4 amplitudes do not
    vectorise in any layout tried; this is the fastest of three (10 us for 4096 amplitudes,
    against 11 us by index arithmetic, measured)."""
    for g in range(0, vr.size, 8):
        r = vr[g:g + 8]
        m = vi[g:g + 8]
        r0, r1, r2, r3, r4, r5, r6, r7 = r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
        m0, m1, m2, m3, m4, m5, m6, m7 = m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]
        r0, m0, r1, m1 = _pair(r0, m0, r1, m1, c, s)  # qubit 0
        r2, m2, r3, m3 = _pair(r2, m2, r3, m3, c, s)
        r4, m4, r5, m5 = _pair(r4, m4, r5, m5, c, s)
        r6, m6, r7, m7 = _pair(r6, m6, r7, m7, c, s)
        r0, m0, r2, m2 = _pair(r0, m0, r2, m2, c, s)  # qubit 1
        r1, m1, r3, m3 = _pair(r1, m1, r3, m3, c, s)
        r4, m4, r6, m6 = _pair(r4, m4, r6, m6, c, s)
        r5, m5, r7, m7 = _pair(r5, m5, r7, m7, c, s)
        r0, m0, r4, m4 = _pair(r0, m0, r4, m4, c, s)  # qubit 2
        r1, m1, r5, m5 = _pair(r1, m1, r5, m5, c, s)
        r2, m2, r6, m6 = _pair(r2, m2, r6, m6, c, s)
        r3, m3, r7, m7 = _pair(r3, m3, r7, m7, c, s)
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] = r0, r1, r2, r3, r4, r5, r6, r7
        m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7] = m0, m1, m2, m3, m4, m5, m6, m7


@nb.njit(inline="always", **_FLAGS)
def _phase_and_low(re, im, energies, beta, c, s, low_bits):  # pragma: no cover - compiled
    """The body of :func:`phase_and_low_rotations` (parallel over blocks where compiled so)."""
    length = 1 << low_bits
    nblocks = re.size >> low_bits
    do_phase = beta != 0.0
    do_rot = s != 0.0
    for blk in nb.prange(nblocks):
        lo, hi = blk * length, (blk + 1) * length
        vr, vi, e = re[lo:hi], im[lo:hi], energies[lo:hi]
        if do_phase:
            for j in range(length):
                sn, cs = sincos(beta * e[j])
                xr, xi = vr[j], vi[j]
                vr[j] = cs * xr + sn * xi
                vi[j] = cs * xi - sn * xr
        if do_rot:
            first = 0
            if low_bits >= 3:
                _rotate_low3(vr, vi, c, s)
                first = 3
            q = first
            while q < low_bits:
                step = 1 << q
                if step < 8:  # fewer than 3 qubits: index arithmetic, no slice objects
                    for k in range(length >> 1):
                        a = ((k >> q) << (q + 1)) | (k & (step - 1))
                        b = a + step
                        vr[a], vi[a], vr[b], vi[b] = _pair(vr[a], vi[a], vr[b], vi[b], c, s)
                    q += 1
                elif q + 1 < low_bits:  # two qubits per pass
                    for base in range(0, length, 4 * step):
                        b1, b2, b3 = base + step, base + 2 * step, base + 3 * step
                        _rotate_two(vr[base:b1], vi[base:b1], vr[b1:b2], vi[b1:b2],
                                    vr[b2:b3], vi[b2:b3], vr[b3:b3 + step], vi[b3:b3 + step],
                                    c, s)
                    q += 2
                else:
                    for base in range(0, length, 2 * step):
                        _rotate(vr[base:base + step], vi[base:base + step],
                                vr[base + step:base + 2 * step],
                                vi[base + step:base + 2 * step], c, s)
                    q += 1


_PHASE_SIGNATURE = nb.void(nb.float64[::1], nb.float64[::1], nb.float64[::1], nb.float64,
                           nb.float64, nb.float64, nb.int64)


@nb.njit(_PHASE_SIGNATURE, **_PARALLEL_FLAGS)
def phase_and_low_rotations(re, im, energies, beta, c, s, low_bits):  # pragma: no cover
    """``psi <- R_low(c, s) exp(-i beta E) psi`` with ``psi = re + i im``: the phase, then the
    rotation of every qubit below ``low_bits``, block by block in parallel. ``beta = 0``
    skips the phase, ``s = 0`` the rotations."""
    _phase_and_low(re, im, energies, beta, c, s, low_bits)


@nb.njit(_PHASE_SIGNATURE, **_FLAGS)
def phase_and_low_rotations_serial(re, im, energies, beta, c, s, low_bits):  # pragma: no cover
    """The same on the calling thread: for a state of one block (``low_bits = n``) the
    parallel region's start costs more than the work (measured at 12 qubits)."""
    _phase_and_low(re, im, energies, beta, c, s, low_bits)


@nb.njit(nb.void(nb.float64[::1], nb.float64[::1], nb.float64, nb.float64, nb.int64, nb.int64),
         **_PARALLEL_FLAGS)
def group_rotations(re, im, c, s, first, count):  # pragma: no cover - compiled
    """Rotate qubits ``first .. first + count - 1`` (``2^first >= TILE``): for each tile of
    ``TILE`` consecutive indices of the other bits, the ``2^count`` strided slices are rotated
    while they sit in cache."""
    groups = 1 << count
    stride = 1 << first
    low_mask = stride - 1
    ntiles = (re.size >> count) // TILE
    for tile in nb.prange(ntiles):
        r0 = tile * TILE
        base = (r0 & low_mask) | ((r0 >> first) << (first + count))
        for q in range(count):
            step = 1 << q
            for g in range(groups):
                if g & step:
                    continue
                a = base + g * stride
                b = base + (g + step) * stride
                _rotate(re[a:a + TILE], im[a:a + TILE], re[b:b + TILE], im[b:b + TILE], c, s)
