"""Numba kernels of the annealing Hamiltonian (private; array-in, array-out, no validation).

Basis convention (docs/design.md): basis-state index ``b``; bit ``i`` of ``b`` is variable ``i``.
In a symmetry sector of the global spin flip, index ``b < 2**(n-1)`` stands for
``(|b> + sign * |~b>) / sqrt(2)`` with the top bit of ``b`` zero, and the driver term
``X_{n-1}`` becomes ``sign`` times the flip of all ``n - 1`` remaining bits.

The public wrappers live in :mod:`spectral._hamiltonian`; they validate shapes and dtypes.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import complex128, float64, int64, njit, prange, types, void
from numba.extending import intrinsic

from ._config import NJIT_FLAGS, NJIT_PARALLEL_FLAGS

#: log2 of the number of basis states handled as one cache block by the matvec kernel
#: (2**12 float64 = 32 KiB; with its accumulator the block stays in L2). Kept in this file:
#: Numba's cache keys on this file's source, so a constant imported from elsewhere could be
#: baked stale into a cached kernel.
BLOCK_BITS = 12

_V4 = ir.VectorType(ir.DoubleType(), 4)
_I32 = ir.IntType(32)


def _double_pointers(context, builder, signature, args, count):
    """The data of the first ``count`` array arguments of an intrinsic, as ``double*``."""
    dp = ir.DoubleType().as_pointer()
    return [builder.bitcast(context.make_array(signature.args[k])(context, builder,
                                                                  args[k]).data, dp)
            for k in range(count)]


@intrinsic
def _cube4_row(typingctx, x, y, r):  # pragma: no cover - compiled
    """``y[16 r + q] = (x[16 r + (q ^ 1)] + x[.. (q ^ 2)]) + (x[.. (q ^ 4)] + x[.. (q ^ 8)])``
    for q = 0..15 (the 4-cube of bits 0-3), in LLVM vector IR: four-double loads, lane
    shuffles for the partners inside a vector, the same additions in the same order as the
    scalar loop (bitwise equal results). Numba's loop vectoriser keeps that loop scalar. No
    bounds checks: row r must lie inside both arrays."""
    sig = types.void(x, y, r)
    width = 2 if isinstance(x.dtype, types.Complex) else 1  # doubles per element

    def codegen(context, builder, signature, args):
        xd, yd = _double_pointers(context, builder, signature, args, 2)
        base = builder.mul(args[2], ir.Constant(args[2].type, 16 * width))

        def vector(data, k):
            off = builder.add(base, ir.Constant(base.type, 4 * k))
            return builder.bitcast(builder.gep(data, [off]), _V4.as_pointer())

        def permute(v, lanes):
            return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 4), list(lanes)))

        xs = [builder.load(vector(xd, k), align=8) for k in range(4 * width)]
        for k in range(4 * width):
            if width == 2:  # vector k holds elements 2k, 2k + 1 (real, imaginary parts)
                p1, p2, p4, p8 = permute(xs[k], (2, 3, 0, 1)), xs[k ^ 1], xs[k ^ 2], xs[k ^ 4]
            else:  # vector k holds elements 4k .. 4k + 3
                p1, p2 = permute(xs[k], (1, 0, 3, 2)), permute(xs[k], (2, 3, 0, 1))
                p4, p8 = xs[k ^ 1], xs[k ^ 2]
            total = builder.fadd(builder.fadd(p1, p2), builder.fadd(p4, p8))
            builder.store(total, vector(yd, k), align=8)
        return context.get_dummy_value()

    return sig, codegen


def _make_radix(k: int):
    """An intrinsic ``(x, y, j, m)`` for ``k`` butterfly levels at once, in registers.

    For each of the ``2**k`` positions ``p_q = j + q * m`` (q = 0 .. 2**k - 1; ``m`` a power
    of two, at least one four-double vector), it adds to the four-double vector of ``y`` at
    ``p_q`` the sum of the vectors of ``x`` at ``p_(q ^ 2**i)``, i < k: the hypercube
    neighbours along bits ``log2(m) .. log2(m) + k - 1``. Each vector of ``x`` is loaded once
    for ``k`` levels, where a loop over views loads it once per level, with runtime alias
    checks that cost more than the work on short runs. Pair sums ``x_(q^1) + x_(q^2)`` are
    shared between ``q`` and ``q ^ 3`` (likewise for the next two levels). Elements are
    float64 or complex128 (two doubles; the sums act on real and imaginary parts alike).
    No bounds checks: every position must lie inside both arrays.
    """
    @intrinsic
    def radix(typingctx, x, y, j, m):  # pragma: no cover - compiled
        sig = types.void(x, y, j, m)
        width = 2 if isinstance(x.dtype, types.Complex) else 1  # doubles per element

        def codegen(context, builder, signature, args):
            xd, yd = _double_pointers(context, builder, signature, args, 2)
            j, m = args[2], args[3]

            def vector(data, q):
                pos = builder.add(j, builder.mul(m, ir.Constant(m.type, q)))
                off = builder.mul(pos, ir.Constant(pos.type, width))
                return builder.bitcast(builder.gep(data, [off]), _V4.as_pointer())

            xs = [builder.load(vector(xd, q), align=8) for q in range(1 << k)]
            sums = {}  # neighbour sets -> their sum, shared between positions

            def neighbour_sum(q, levels):
                key = frozenset(q ^ (1 << i) for i in levels)
                if key not in sums:
                    first, *rest = sorted(key)
                    total = xs[first]
                    for r in rest:
                        total = builder.fadd(total, xs[r])
                    sums[key] = total
                return sums[key]

            pairs = [range(i, min(i + 2, k)) for i in range(0, k, 2)]
            for q in range(1 << k):
                total = neighbour_sum(q, pairs[0])
                for levels in pairs[1:]:
                    total = builder.fadd(total, neighbour_sum(q, levels))
                ptr = vector(yd, q)
                builder.store(builder.fadd(builder.load(ptr, align=8), total), ptr, align=8)
            return context.get_dummy_value()

        return sig, codegen

    return radix


_radix1, _radix2, _radix3, _radix4 = (_make_radix(k) for k in (1, 2, 3, 4))


_MATVEC_SIGNATURES = [
    void(float64[::1], float64[::1], float64, float64, int64, float64, float64, float64[::1]),
    void(complex128[::1], float64[::1], float64, float64, int64, float64, float64,
         complex128[::1]),
]


@njit(inline="always")
def _apply_hamiltonian(v, diag, a, b, nbits, flip_sign, shift, out):
    """``out = (-a * (sum_i X_i + flip_sign * F) + b * diag + shift) @ v``.

    Parameters
    ----------
    v : (2**nbits,) float64 or complex128, C-contiguous
    diag : (2**nbits,) float64, the (scaled) problem energies
    a, b : float, schedule coefficients A(s), B(s)
    nbits : int, number of bits of the (sector) basis index
    flip_sign : float, 0 for the full space, +1 / -1 for the even / odd spin-flip sector;
        ``F`` flips all ``nbits`` bits.
    shift : float, a multiple of the identity added to H (0 for H itself; the propagators
        shift the spectrum to remove a fast global phase)
    out : same shape and dtype as ``v``; must not alias ``v``.

    Notes
    -----
    Blocks of ``2**BLOCK_BITS`` states (a single block for fewer bits) run in parallel, each
    chunk of contiguous blocks with one accumulator (see :func:`_apply_block`).
    """
    dim = v.shape[0]
    mask = dim - 1
    if nbits < 4:
        for j in range(dim):
            acc = v[j ^ 1] if nbits > 0 else v[j] * 0.0
            for i in range(1, nbits):
                acc += v[j ^ (1 << i)]
            if flip_sign != 0.0:
                acc += flip_sign * v[j ^ mask]
            out[j] = (b * diag[j] + shift) * v[j] - a * acc
        return
    kb = min(BLOCK_BITS, nbits)  # block bits
    nblocks = dim >> kb
    # 256 chunks balance up to 256 threads (numba.get_num_threads in the kernel, to have one
    # chunk per thread, would keep Numba from caching it)
    nchunks = min(nblocks, 256)
    for ch in prange(nchunks):
        # one accumulator per chunk of contiguous blocks, not per block
        acc = np.empty(1 << kb, dtype=v.dtype)
        for c in range(ch * nblocks // nchunks, (ch + 1) * nblocks // nchunks):
            _apply_block(v, diag, a, b, nbits, flip_sign, shift, out, c << kb, kb, acc)


@njit(inline="always")
def _partner_blocks4(v, base, i, bs):
    """The partner blocks of the block at ``base`` along bits ``i .. i + 3`` (views of v)."""
    p0 = base ^ (1 << i)
    p1 = base ^ (2 << i)
    p2 = base ^ (4 << i)
    p3 = base ^ (8 << i)
    return v[p0:p0 + bs], v[p1:p1 + bs], v[p2:p2 + bs], v[p3:p3 + bs]


@njit(inline="always")
def _apply_block(v, diag, a, b, nbits, flip_sign, shift, out, base, kb, acc):
    """The block of ``2**kb`` states from ``base`` of :func:`_apply_hamiltonian` (``acc``: a
    scratch array of ``2**kb`` elements).

    Bits 0-3 on rows of 16 (:func:`_cube4_row`, vector IR), then up to four butterfly levels
    per pass in registers (:func:`_make_radix`, fewer passes over the block than two levels
    per loop over views); bits above the block add whole partner blocks, four per pass, the last
    four in the pass that writes ``out`` (one pass over ``acc`` fewer), with one ``acc`` per
    chunk of blocks rather than per block. Every other inner loop runs over array *views*
    with indices from ``range(m)``: LLVM then knows they are non-negative, drops Numba's
    negative-index wraparound and vectorises (indexing ``v[base + t]`` directly keeps every
    loop scalar).
    """
    mask = v.shape[0] - 1
    step = 32 // v.itemsize  # elements per four-double vector
    bs = 1 << kb
    vb = v[base:base + bs]
    # bits 0-3: the 4-cube inside each row of 16
    for r in range(bs >> 4):
        _cube4_row(vb, acc, r)
    # bits 4 .. kb-1: up to four butterfly levels per pass, in registers
    i = 4
    while i < kb:
        m = 1 << i
        k = min(4, kb - i)
        if m * v.itemsize >= 4096:
            # rows 4 KiB apart share a set of the 8-way L1 cache: 16 rows of v and of
            # acc thrash it (complex128, bits 8 and up); 4 and 4 rows fit
            k = min(k, 2)
        for j0 in range(0, bs, m << k):
            for t in range(0, m, step):
                if k == 4:
                    _radix4(vb, acc, j0 + t, m)
                elif k == 3:
                    _radix3(vb, acc, j0 + t, m)
                elif k == 2:
                    _radix2(vb, acc, j0 + t, m)
                else:
                    _radix1(vb, acc, j0 + t, m)
        i += k
    # bits above the block: whole partner blocks, contiguous, four per pass; the last four
    # (where there are four) in the output pass below
    last = nbits - 4 if nbits - kb >= 4 else nbits
    i = kb
    while i + 3 < last:
        w0, w1, w2, w3 = _partner_blocks4(v, base, i, bs)
        for j in range(bs):
            acc[j] += (w0[j] + w1[j]) + (w2[j] + w3[j])
        i += 4
    while i < last:
        p0 = base ^ (1 << i)
        w0 = v[p0:p0 + bs]
        for j in range(bs):
            acc[j] += w0[j]
        i += 1
    if flip_sign != 0.0:
        p0 = (base ^ mask) & ~(bs - 1)  # the mirrored block, read backwards
        w0 = v[p0:p0 + bs]
        for j in range(bs):
            acc[j] += flip_sign * w0[bs - 1 - j]
    db = diag[base:base + bs]
    ob = out[base:base + bs]
    if last < nbits:
        w0, w1, w2, w3 = _partner_blocks4(v, base, last, bs)
        for j in range(bs):
            ob[j] = ((b * db[j] + shift) * vb[j]
                     - a * (acc[j] + ((w0[j] + w1[j]) + (w2[j] + w3[j]))))
    else:
        for j in range(bs):
            ob[j] = (b * db[j] + shift) * vb[j] - a * acc[j]


@njit(_MATVEC_SIGNATURES, **NJIT_PARALLEL_FLAGS)
def hamiltonian_matvec(v, diag, a, b, nbits, flip_sign, shift, out):
    """``out = (-a * (sum_i X_i + flip_sign * F) + b * diag + shift) @ v``, blocks in parallel
    (see ``_apply_hamiltonian`` for the arguments)."""
    _apply_hamiltonian(v, diag, a, b, nbits, flip_sign, shift, out)


@njit(_MATVEC_SIGNATURES, **NJIT_FLAGS)
def hamiltonian_matvec_serial(v, diag, a, b, nbits, flip_sign, shift, out):
    """The same on the calling thread. Faster up to ``2**BLOCK_BITS`` states, a single block,
    where starting the parallel region costs more than the work."""
    _apply_hamiltonian(v, diag, a, b, nbits, flip_sign, shift, out)


@njit(void(float64[::1], float64[:, ::1], float64[::1]), **NJIT_FLAGS)
def ising_block_energies(h, J, out):
    """Ising energies ``sum_i h_i s_i + sum_{i<j} J_ij s_i s_j`` of all ``2**len(h)`` states.

    ``J`` is strictly upper triangular; ``s_i = 2 * ((b >> i) & 1) - 1``. Used on blocks of at
    most ~12 bits; the full diagonal is assembled from blocks in numpy.
    """
    n = h.shape[0]
    for b in range(out.shape[0]):
        e = 0.0
        for i in range(n):
            si = 2.0 * ((b >> i) & 1) - 1.0
            e += h[i] * si
            for j in range(i + 1, n):
                e += J[i, j] * si * (2.0 * ((b >> j) & 1) - 1.0)
        out[b] = e
