"""The matvec-traffic benchmark's skeleton reads the partner blocks it claims to read."""

import numpy as np
import pytest

from spectral._kernels import BLOCK_BITS
from studies.benchmarks.bench_matvec_traffic import partner_reads


@pytest.mark.parametrize("extra_bits", [0, 1, 4, 6])
@pytest.mark.parametrize("own_only", [False, True])
@pytest.mark.parametrize("block_bits", [10, BLOCK_BITS])
def test_partner_reads_sums_the_partner_blocks(extra_bits, own_only, block_bits):
    nbits = block_bits + extra_bits
    rng = np.random.default_rng(extra_bits)
    v, diag = rng.standard_normal(1 << nbits), rng.standard_normal(1 << nbits)
    a, b, shift = 0.7, 1.3, 0.1
    out = np.empty_like(v)
    partner_reads(v, diag, a, b, shift, nbits, block_bits, own_only, out)
    x = np.arange(v.size)
    if own_only:
        acc = (1 + extra_bits) * v
    else:  # an independent sum over flipped bits, by index arithmetic
        acc = v + sum(v[x ^ (1 << i)] for i in range(block_bits, nbits))
    np.testing.assert_allclose(out, (b * diag + shift) * v - a * acc, rtol=1e-13, atol=1e-13)
