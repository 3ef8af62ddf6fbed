"""Numba kernels of the split-operator propagator (private; see ``_split.py``).

The state is held in chunks of four amplitudes: chunk j is eight consecutive doubles, the real
parts of amplitudes 4j .. 4j + 3, then their imaginary parts (bit i of an amplitude's index =
qubit i); at least 16 amplitudes (smaller states are padded by ``SplitPropagator``). The
building blocks are Numba intrinsics that emit LLVM vector IR over chunks (``<4 x double>``
loads and stores, ``llvm.fma``, lane shuffles): Numba's loop vectoriser does not vectorise the
rotations of qubits 0 and 1, whose partners lie in the same vector, nor pair whole chunks
without alias checks, so the scalar kernels would take about three times as long. They do
no bounds checks: the kernels pass offsets of whole chunks
inside the array. Rotation convention: ``(x, y) <- (c x + i s y, i s x + c y)``, the factor
``cos(theta) + i sin(theta) X`` of ``exp(-i theta H_D)``. A stage applies two factors in
place:

- the problem phase ``psi_b *= exp(-i beta E_b)`` (H_P is diagonal), with a branch-free
  polynomial sine/cosine that LLVM vectorises (fdlibm's kernel coefficients after Cody-Waite
  reduction: error <= 2.3e-16 for |beta E| <= 1e3, checked against numpy; numba's libm calls
  do not vectorise)
  into a small buffer, then applied chunk by chunk;
- the driver factor ``exp(-i theta H_D) = prod_i (cos theta + i sin theta X_i)`` for
  ``H_D = -sum_i X_i``: a rotation of every pair (b, b ^ 2^i). Qubits below ``low_bits`` are
  rotated inside cache-sized blocks of 2^low_bits amplitudes (one pass over the state, fused
  with the phase: qubits 0-3 on groups of four chunks in registers, then two qubits per
  sweep); the higher qubits in groups, tile by tile, so that each group costs one more pass.

``evolve_stages`` runs all stages of a call without returning to Python; a state of one block
runs its serial build (the parallel region's start cost more than the work).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._config import NJIT_FLAGS, NJIT_PARALLEL_FLAGS

#: fused multiply-adds (a contraction changes results at the rounding level only; the phase
#: stays within 1.1e-16 of numpy's exp)
_FLAGS = {**NJIT_FLAGS, "fastmath": {"contract"}}
_PARALLEL_FLAGS = {**NJIT_PARALLEL_FLAGS, "fastmath": {"contract"}}

# --- four-wide vector building blocks (LLVM vector IR; in this module so that Numba's
# cache, which tracks only the jitted function's own file, sees their changes) ---

_F64 = ir.DoubleType()
_V4 = ir.VectorType(_F64, 4)
_I32 = ir.IntType(32)
#: lane permutations that pair the amplitudes of qubit 0 and of qubit 1 inside a chunk
_SWAP_QUBIT0 = (1, 0, 3, 2)
_SWAP_QUBIT1 = (2, 3, 0, 1)


def _doubles(*arrays) -> bool:
    """Whether all are C-contiguous float64 arrays (else the intrinsic does not type)."""
    return all(isinstance(a, types.Array) and a.dtype == types.float64 and a.layout == "C"
               for a in arrays)


class _Chunks:
    """Vector IR over the data of one float64 array."""

    def __init__(self, context, builder, aryty, ary):
        self.builder = builder
        self.data = context.make_array(aryty)(context, builder, ary).data
        fnty = ir.FunctionType(_V4, [_V4, _V4, _V4])
        self._fma = cgutils.get_or_insert_function(builder.module, fnty, "llvm.fma.v4f64")

    def offset(self, base, k: int):
        return self.builder.add(base, ir.Constant(base.type, k))

    def load(self, off):
        ptr = self.builder.bitcast(self.builder.gep(self.data, [off]), _V4.as_pointer())
        return self.builder.load(ptr, align=8)

    def store(self, value, off) -> None:
        ptr = self.builder.bitcast(self.builder.gep(self.data, [off]), _V4.as_pointer())
        self.builder.store(value, ptr, align=8)

    def splat(self, x):
        v = self.builder.insert_element(ir.Constant(_V4, ir.Undefined), x, ir.Constant(_I32, 0))
        return self.permute(v, (0, 0, 0, 0))

    def permute(self, v, lanes):
        return self.builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 4), list(lanes)))

    def axpy(self, a, x, y):
        """``a x + y`` (one fused multiply-add)."""
        return self.builder.call(self._fma, [a, x, y])

    def cos_sin(self, c, s):
        """The splats ``(c, s, -s)`` of one rotation."""
        cv, sv = self.splat(c), self.splat(s)
        return cv, sv, self.builder.fneg(sv)

    def rotate(self, xr, xi, yr, yi, rot):
        """The pair ``(x, y)`` rotated: four vectors in, four out."""
        c, s, ms = rot
        b = self.builder
        return (self.axpy(c, xr, b.fmul(ms, yi)), self.axpy(c, xi, b.fmul(s, yr)),
                self.axpy(c, yr, b.fmul(ms, xi)), self.axpy(c, yi, b.fmul(s, xr)))

    def rotate_lanes(self, re, im, rot, lanes):
        """A qubit whose pairs lie inside the chunk: the partner of lane l is ``lanes[l]``."""
        c, s, ms = rot
        b = self.builder
        return (self.axpy(c, re, b.fmul(ms, self.permute(im, lanes))),
                self.axpy(c, im, b.fmul(s, self.permute(re, lanes))))


@intrinsic
def rotate_low4(typingctx, psi, p, c0, s0, c1, s1, c2, s2, c3, s3):  # pragma: no cover
    """Rotate qubits 0-3 of the four chunks at ``psi[p:p + 32]`` (16 amplitudes), qubit q by
    ``(c_q, s_q)``: each amplitude is loaded and stored once for the four rotations."""
    if not _doubles(psi):
        return None
    sig = types.void(psi, p, c0, s0, c1, s1, c2, s2, c3, s3)

    def codegen(context, builder, signature, args):
        v = _Chunks(context, builder, signature.args[0], args[0])
        p = args[1]
        rots = [v.cos_sin(args[2 + 2 * q], args[3 + 2 * q]) for q in range(4)]
        re = [v.load(v.offset(p, 8 * k)) for k in range(4)]
        im = [v.load(v.offset(p, 8 * k + 4)) for k in range(4)]
        for q, lanes in ((0, _SWAP_QUBIT0), (1, _SWAP_QUBIT1)):
            for k in range(4):
                re[k], im[k] = v.rotate_lanes(re[k], im[k], rots[q], lanes)
        for q, pairs in ((2, ((0, 1), (2, 3))), (3, ((0, 2), (1, 3)))):
            for a, b in pairs:
                re[a], im[a], re[b], im[b] = v.rotate(re[a], im[a], re[b], im[b], rots[q])
        for k in range(4):
            v.store(re[k], v.offset(p, 8 * k))
            v.store(im[k], v.offset(p, 8 * k + 4))
        return context.get_dummy_value()

    return sig, codegen


def _rotate_chunks(v: _Chunks, offsets, pairs, rot) -> None:
    """Load the chunks at ``offsets``, rotate the pairs of them in ``pairs`` (indices into
    ``offsets``, in order), store them back."""
    re = [v.load(x) for x in offsets]
    im = [v.load(v.offset(x, 4)) for x in offsets]
    for a, b in pairs:
        re[a], im[a], re[b], im[b] = v.rotate(re[a], im[a], re[b], im[b], rot)
    for k, x in enumerate(offsets):
        v.store(re[k], x)
        v.store(im[k], v.offset(x, 4))


@intrinsic
def rotate_pair(typingctx, psi, pa, pb, c, s):  # pragma: no cover - compiled
    """Rotate the chunk at ``psi[pa:pa + 8]`` with its partner at ``psi[pb:pb + 8]``."""
    if not _doubles(psi):
        return None

    def codegen(context, builder, signature, args):
        v = _Chunks(context, builder, signature.args[0], args[0])
        _rotate_chunks(v, args[1:3], ((0, 1),), v.cos_sin(args[3], args[4]))
        return context.get_dummy_value()

    return types.void(psi, pa, pb, c, s), codegen


@intrinsic
def rotate_quad(typingctx, psi, p, d, c, s):  # pragma: no cover - compiled
    """Rotate two qubits on the chunks at ``p, p + d, p + 2d, p + 3d`` (``d`` doubles: the
    lower qubit's partner distance): each is loaded and stored once for both rotations."""
    if not _doubles(psi):
        return None

    def codegen(context, builder, signature, args):
        v = _Chunks(context, builder, signature.args[0], args[0])
        p, d = args[1], args[2]
        offsets = [p, builder.add(p, d), builder.add(p, builder.add(d, d)),
                   builder.add(p, builder.mul(d, ir.Constant(d.type, 3)))]
        _rotate_chunks(v, offsets, ((0, 1), (2, 3), (0, 2), (1, 3)), v.cos_sin(args[3], args[4]))
        return context.get_dummy_value()

    return types.void(psi, p, d, c, s), codegen


@intrinsic
def phase_chunk(typingctx, psi, p, cos, sin, j):  # pragma: no cover - compiled
    """Multiply the chunk at ``psi[p:p + 8]`` by ``cos - i sin`` (``cos[j:j + 4]``,
    ``sin[j:j + 4]``)."""
    if not _doubles(psi, cos, sin):
        return None
    sig = types.void(psi, p, cos, sin, j)

    def codegen(context, builder, signature, args):
        v = _Chunks(context, builder, signature.args[0], args[0])
        co = _Chunks(context, builder, signature.args[2], args[2]).load(args[4])
        si = _Chunks(context, builder, signature.args[3], args[3]).load(args[4])
        p = args[1]
        re, im = v.load(p), v.load(v.offset(p, 4))
        v.store(v.axpy(co, re, builder.fmul(si, im)), p)
        v.store(v.axpy(co, im, builder.fmul(builder.fneg(si), re)), v.offset(p, 4))
        return context.get_dummy_value()

    return sig, codegen


# --- the kernels ---

_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11
_INVPIO2 = 6.36619772367581382433e-01
_PIO2_1, _PIO2_1T = 1.57079632673412561417e+00, 6.07710050650619224932e-11


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


#: amplitudes whose sine and cosine are buffered at a time (4 KiB, in L1)
SINCOS_BUFFER = 256
#: chunks per tile of the high-qubit pass (256 amplitudes)
TILE = 64
#: most high qubits rotated per pass (2^6 strided slices per tile)
GROUP_BITS = 6


@nb.njit(inline="always", **_FLAGS)
def _phase_block(psi, energies, beta, lo, length, cos, sin):  # pragma: no cover - compiled
    """Amplitudes ``lo .. lo + length - 1`` times ``exp(-i beta E)``."""
    for sub in range(lo, lo + length, SINCOS_BUFFER):
        m = min(SINCOS_BUFFER, lo + length - sub)
        for j in range(m):
            sin[j], cos[j] = sincos(beta * energies[sub + j])
        for j in range(0, m, 4):
            phase_chunk(psi, 2 * (sub + j), cos, sin, j)


@nb.njit(inline="always", **_FLAGS)
def _low_rotations(psi, lo, low_bits, c, s, active):  # pragma: no cover - compiled
    """Rotate qubits ``0 .. low_bits - 1`` of the block of amplitudes ``lo .. lo +
    2^low_bits - 1`` (qubits ``>= active`` are padding and stay as they are)."""
    p0, end = 2 * lo, 2 * (lo + (1 << low_bits))
    c0, s0 = (c, s) if active > 0 else (1.0, 0.0)
    c1, s1 = (c, s) if active > 1 else (1.0, 0.0)
    c2, s2 = (c, s) if active > 2 else (1.0, 0.0)
    c3, s3 = (c, s) if active > 3 else (1.0, 0.0)
    for p in range(p0, end, 32):
        rotate_low4(psi, p, c0, s0, c1, s1, c2, s2, c3, s3)
    q = 4
    while q < low_bits:
        d = 8 << (q - 2)  # doubles between a chunk and its partner
        if q + 1 < low_bits:
            for base in range(p0, end, 4 * d):
                for off in range(base, base + d, 8):
                    rotate_quad(psi, off, d, c, s)
            q += 2
        else:
            for base in range(p0, end, 2 * d):
                for off in range(base, base + d, 8):
                    rotate_pair(psi, off, off + d, c, s)
            q += 1


@nb.njit(inline="always", **_FLAGS)
def _phase_and_low(psi, energies, beta, c, s, active, low_bits):  # pragma: no cover
    """``psi <- R_low(c, s) exp(-i beta E) psi``, block by block (in parallel where compiled
    so). ``beta = 0`` skips the phase, ``s = 0`` the rotations."""
    length = 1 << low_bits
    for blk in nb.prange(energies.size >> low_bits):
        lo = blk * length
        if beta != 0.0:
            cos = np.empty(SINCOS_BUFFER)
            sin = np.empty(SINCOS_BUFFER)
            _phase_block(psi, energies, beta, lo, length, cos, sin)
        if s != 0.0:
            _low_rotations(psi, lo, low_bits, c, s, active)


@nb.njit(inline="always", **_FLAGS)
def _group_rotations(psi, c, s, first, count):  # pragma: no cover - compiled
    """Rotate qubits ``first .. first + count - 1`` (``2^first >= 4 TILE``): for each tile of
    ``TILE`` consecutive chunks of the other bits, the ``2^count`` strided slices are rotated
    while they sit in cache."""
    groups = 1 << count
    cbit = first - 2  # the qubit's bit in the chunk index
    stride = 8 << cbit
    low_mask = (1 << cbit) - 1
    for tile in nb.prange(((psi.size >> 3) >> count) // TILE):
        r0 = tile * TILE
        base = 8 * ((r0 & low_mask) | ((r0 >> cbit) << (cbit + count)))
        for q in range(count):
            step = 1 << q
            for g in range(groups):
                if g & step:
                    continue
                a = base + g * stride
                b = base + (g + step) * stride
                for t in range(0, 8 * TILE, 8):
                    rotate_pair(psi, a + t, b + t, c, s)


@nb.njit(inline="always", **_FLAGS)
def _stages(psi, energies, theta, beta, last, active, low_bits):  # pragma: no cover
    """The body of :func:`evolve_stages`: stage k is the phase ``beta_k`` and the rotation by
    ``theta_k``; a last phase without rotation follows."""
    nbits = int(round(math.log2(energies.size)))
    for k in range(theta.size + 1):
        if k < theta.size:
            c, s, b = math.cos(theta[k]), math.sin(theta[k]), beta[k]
        else:
            c, s, b = 1.0, 0.0, last
        _phase_and_low(psi, energies, b, c, s, active, low_bits)
        first = low_bits
        while s != 0.0 and first < nbits:
            count = min(GROUP_BITS, nbits - first)
            _group_rotations(psi, c, s, first, count)
            first += count


_STAGES_SIGNATURE = nb.void(nb.float64[::1], nb.float64[::1], nb.float64[::1], nb.float64[::1],
                            nb.float64, nb.int64, nb.int64)


@nb.njit(_STAGES_SIGNATURE, **_PARALLEL_FLAGS)
def evolve_stages(psi, energies, theta, beta, last, active, low_bits):  # pragma: no cover
    """``psi <- exp(-i last H_P) prod_k [exp(-i theta_k H_D) exp(-i beta_k H_P)] psi`` on the
    chunked state ``psi`` (``2 energies.size`` doubles, ``energies.size >= 16`` a power of 2)
    of ``active`` qubits (those above are padding; ``active >= 4`` unless the state is 16
    amplitudes), H_D = -sum_i X_i. Blocks of ``2^low_bits`` amplitudes run in parallel."""
    _stages(psi, energies, theta, beta, last, active, low_bits)


@nb.njit(_STAGES_SIGNATURE, **_FLAGS)
def evolve_stages_serial(psi, energies, theta, beta, last, active, low_bits):  # pragma: no cover
    """The same on the calling thread: for a state of one block (``2^low_bits`` amplitudes)
    the parallel region's start costs more than the work."""
    _stages(psi, energies, theta, beta, last, active, low_bits)
