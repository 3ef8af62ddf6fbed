"""The annealing operator and a thick-restart Lanczos eigensolver on torch tensors: the
``"torch"`` backend (private; any torch device, a GPU where one is present).

The operator. ``H(s) v = A(s) H_D v + B(s) d * v`` with ``H_D = -sum_i X_i`` (plus
``-flip_sign`` times the flip of all bits in a spin-flip sector, as the Numba kernels:
:mod:`spectral.kernels`). The bit flips are applied in chunks of ``DRIVER_CHUNK_BITS`` bits:
the state is viewed as ``(..., 2**c, 2**lo)`` and the chunk's whole driver
``sum_{lo <= i < lo + c} X_i`` acts as one ``2**c x 2**c`` matrix multiplication, so that a
matvec is ``ceil(n / c)`` passes over the state instead of ``n``. Matrix multiplication runs on
every torch device and in float64 on every GPU that torch supports (no custom kernel to
compile and test on a machine without a GPU); the extra arithmetic, ``2**c`` multiply-adds
per amplitude and chunk, is cheap beside the memory traffic on a GPU.

The eigensolver is thick-restart Lanczos (Wu & Simon 2000) with full reorthogonalisation by
classical Gram-Schmidt done twice where needed (DGKS), the basis as rows of one tensor on the
device: each step is one matvec and two passes over the basis as matrix-vector products.
Its results are checked on the host by :func:`spectral.lowest_levels` with the Numba
operator, an independent implementation of the same H.
"""

from __future__ import annotations

import numpy as np

from ._hamiltonian import AnnealingHamiltonian
from ._lanczos import _CHECK_EVERY, _DGKS, ritz
from ._memory import check_memory
from .exceptions import ConvergenceError, MemoryGuardError, SpectralError

#: bits of one driver chunk: one pass applies the flips of this many qubits as a
#: (2**c x 2**c) matrix multiplication
DRIVER_CHUNK_BITS = 6


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency of the package
        raise SpectralError("the torch backend needs PyTorch: pip install torch.") from exc
    return torch


def resolve_device(device) -> "torch.device":  # noqa: F821 - torch is imported lazily
    """A torch device from a name ("cuda", "cuda:1", "cpu") or a ``torch.device``, checked to
    exist here."""
    torch = _torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise SpectralError(f"device must be a torch device such as 'cuda' or 'cpu', got "
                            f"{device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SpectralError(f"device {device!r} asked for, but torch sees no CUDA GPU here "
                            "(torch.cuda.is_available() is False); use device='cpu' or leave "
                            "device unset for the Numba backends.")
    if dev.type not in ("cpu", "cuda"):
        raise SpectralError(f"device type {dev.type!r} is not supported; use 'cuda' or 'cpu'.")
    return dev


def gpu_present() -> bool:
    """Whether torch is installed and sees a CUDA GPU."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the package
        return False
    return bool(torch.cuda.is_available())


def default_device() -> str:
    """"cuda" where torch sees a GPU, else "cpu"."""
    return "cuda" if _torch().cuda.is_available() else "cpu"


def check_device_memory(nbytes: float, n: int, what: str, device,
                        memory_limit: float | None = None) -> None:
    """Raise :class:`MemoryGuardError` for work that needs more than 90 % of the device's free
    memory, or ``memory_limit`` bytes (for a CPU device: the host's, as
    :func:`spectral.check_memory`)."""
    torch = _torch()
    dev = resolve_device(device)
    if dev.type != "cuda":
        check_memory(nbytes, n=n, what=what, memory_limit=memory_limit)
        return
    free, total = torch.cuda.mem_get_info(dev)
    limit = 0.9 * free if memory_limit is None else float(memory_limit)
    if nbytes > limit:
        raise MemoryGuardError(n, int(nbytes), int(limit),
                               f"{what} on {dev} ({free / 2**30:.1f} GiB free of "
                               f"{total / 2**30:.1f} GiB)")


def _driver_block(c: int) -> np.ndarray:
    """``sum_{i < c} X_i`` on ``c`` bits, as a dense ``(2**c, 2**c)`` matrix."""
    idx = np.arange(2**c)
    M = np.zeros((2**c, 2**c))
    for i in range(c):
        M[idx, idx ^ (1 << i)] = 1.0
    return M


class TorchOperator:
    """``H(s)`` of an :class:`AnnealingHamiltonian` on a torch device (float64).

    Parameters
    ----------
    H : AnnealingHamiltonian
        The Hamiltonian, in its sector; its diagonal is copied to the device once.
    device : str or torch.device
    """

    def __init__(self, H: AnnealingHamiltonian, device) -> None:
        torch = _torch()
        self.device = resolve_device(device)
        args = H.kernel_arguments()
        self.dim, self.nbits, self.flip_sign = H.dim, int(args.nbits), float(args.flip_sign)
        self.diag = torch.as_tensor(np.asarray(args.diag), dtype=torch.float64,
                                    device=self.device)
        self.chunks = []  # (lowest bit, bits, the chunk's driver block)
        lo = 0
        while lo < self.nbits:
            c = min(DRIVER_CHUNK_BITS, self.nbits - lo)
            block = torch.as_tensor(_driver_block(c), dtype=torch.float64, device=self.device)
            self.chunks.append((lo, c, block))
            lo += c
        self.matvecs = 0

    def driver(self, x):
        """``H_D x`` for ``x`` of shape ``(dim,)`` or ``(p, dim)``."""
        rows = x.reshape(-1, self.dim)
        p = rows.shape[0]
        out = None
        for lo, c, block in self.chunks:
            high = self.dim >> (lo + c)
            if lo == 0:
                term = (rows.view(p, high, 2**c) @ block).view(p, self.dim)
            else:
                term = (block @ rows.view(p, high, 2**c, 2**lo)).view(p, self.dim)
            out = term if out is None else out.add_(term)
        if out is None:  # no bits: a one-dimensional space
            out = rows.new_zeros(rows.shape)
        out.neg_()
        if self.flip_sign != 0.0:
            out.sub_(rows.flip(-1), alpha=self.flip_sign)  # index b -> ~b: all bits flipped
        return out.view(x.shape)

    def apply(self, a: float, b: float, x):
        """``(a H_D + b diag) x`` for ``x`` of shape ``(dim,)`` or ``(p, dim)``."""
        self.matvecs += 1 if x.dim() == 1 else x.shape[0]
        out = self.driver(x)
        if a != 1.0:
            out.mul_(a)
        return out.addcmul_(self.diag, x, value=b)


def thick_restart_lanczos_torch(apply, v0, k: int, tol: float, maxiter: int, ncv: int,
                                generator):
    """Lowest ``k`` eigenpairs of the symmetric operator ``apply`` (tensor in, tensor out).

    Returns ``(theta, X, estimates)``: ascending Ritz values (numpy), Ritz vectors as rows of
    a ``(k, dim)`` tensor, and the Lanczos residual estimates (numpy); see
    :func:`spectral._lanczos.thick_restart_lanczos` for the method, here with full
    reorthogonalisation.
    """
    torch = _torch()
    dim = v0.shape[0]
    m = min(ncv, dim)
    keep = min(m - 2, max(k + 6, m // 3))
    V = torch.empty((m + 1, dim), dtype=torch.float64, device=v0.device)
    T = np.zeros((m, m))
    V[0] = v0 / torch.linalg.vector_norm(v0)
    j0, beta = 0, 0.0
    for restart in range(maxiter + 1):
        for j in range(j0, m):
            w = apply(V[j])
            norm0 = float(torch.linalg.vector_norm(w))
            h = V[: j + 1] @ w
            w.sub_(h @ V[: j + 1])
            norm1 = float(torch.linalg.vector_norm(w))
            if j == j0 > 0 or norm1 < _DGKS * norm0:  # DGKS, and always after a restart
                h2 = V[: j + 1] @ w
                w.sub_(h2 @ V[: j + 1])
                h = h + h2
                norm1 = float(torch.linalg.vector_norm(w))
            T[: j + 1, j] = h.cpu().numpy()
            beta = norm1
            if beta <= 1e-14 * max(norm0, 1.0):  # invariant subspace: a fresh direction
                w = torch.randn(dim, dtype=torch.float64, device=v0.device,
                                generator=generator)
                for _ in range(2):
                    w.sub_((V[: j + 1] @ w) @ V[: j + 1])
                w.div_(torch.linalg.vector_norm(w))
                beta = 0.0
            else:
                w.div_(beta)
            V[j + 1] = w
            last = j + 1
            if last == m or (last >= k + 2 and (last - j0) % _CHECK_EVERY == 0):
                theta, Y, est = ritz(T, last, beta)
                if np.all(est[:k] <= tol) or (last == m and restart == maxiter):
                    Yk = torch.as_tensor(Y[:, :k].T.copy(), device=v0.device)
                    return theta[:k], Yk @ V[:last], est[:k]
        Yt = torch.as_tensor(Y[:, :keep].T.copy(), device=v0.device)
        V[:keep] = Yt @ V[:m]
        V[keep] = V[m]
        T[:] = 0.0
        T[np.arange(keep), np.arange(keep)] = theta[:keep]
        j0 = keep
    raise AssertionError("unreachable")  # pragma: no cover


#: Lanczos basis of the torch backend (vectors held on the device besides the k results)
TORCH_LANCZOS_BASIS = 24


def torch_lowest(H: AnnealingHamiltonian, s: float, k: int, v0, tol_abs: float, maxiter: int,
                 *, device="cpu", memory_limit: float | None = None, seed: int = 0):
    """The ``k`` lowest eigenpairs of ``H(s)`` on ``device``: ``(energies, rows)`` as numpy
    arrays (rows ``(k, dim)``), as a backend of :func:`spectral.lowest_levels` returns them.

    Raises :class:`ConvergenceError` when the Lanczos estimates stay above ``tol_abs``.
    """
    torch = _torch()
    dev = resolve_device(device)
    ncv = min(H.dim, max(2 * k + 10, TORCH_LANCZOS_BASIS))
    if dev.type == "cuda" and memory_limit is None:
        # a smaller basis (more restarts) where the full one does not fit on the GPU
        free = 0.9 * _torch().cuda.mem_get_info(dev)[0]
        ncv = max(min(ncv, int(free // (8.0 * H.dim)) - 4 - k), min(H.dim, 2 * k + 4))
    # the basis, the work vector and the chunk products, the results
    check_device_memory(8.0 * H.dim * (ncv + 4 + k), n=H.n, what="the torch eigensolver",
                        device=dev, memory_limit=memory_limit)
    op = TorchOperator(H, dev)
    a, b = H.coefficients(s)
    generator = torch.Generator(device=dev).manual_seed(seed)
    start = torch.randn(H.dim, dtype=torch.float64, device=dev, generator=generator)
    if v0 is not None:
        # the warm rows' sum, with a random part of the same norm: a single start vector
        # spans only the eigenvectors it overlaps, and a level that the warm rows miss (one
        # that crossed in from above, or one in a subspace that H leaves invariant) must
        # overlap it too
        warm = torch.as_tensor(np.asarray(v0[:k]).sum(axis=0), dtype=torch.float64,
                               device=dev)
        start.mul_(torch.linalg.vector_norm(warm) / torch.linalg.vector_norm(start))
        start.add_(warm)
    theta, X, est = thick_restart_lanczos_torch(lambda x: op.apply(a, b, x), start, k,
                                                0.5 * tol_abs, maxiter, ncv, generator)
    H.matvecs += op.matvecs  # the torch operator's applications of this H
    if np.any(est > 0.5 * tol_abs):
        raise ConvergenceError(
            f"torch Lanczos did not converge at s = {s} in {maxiter} restarts (estimates "
            f"{est})", s=s, residuals=est, tol=tol_abs)
    return theta, X.cpu().numpy()
