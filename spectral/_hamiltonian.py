"""The annealing Hamiltonian H(s) = A(s) H_D + B(s) H_P as a matrix-free operator."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import NamedTuple

import dimod
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from ._kernels import hamiltonian_matvec
from ._memory import check_memory
from ._problem import IsingProblem, ising_energies, ising_from_bqm
from ._schedule import Schedule, check_s, resolve_schedule
from .exceptions import SpectralError

__all__ = ["AnnealingHamiltonian", "KernelArguments"]

_SECTORS = {"full": 0.0, "even": 1.0, "odd": -1.0}
#: relative tolerance that decides which bitstrings belong to the ground manifold (docs/design.md)
GROUND_RTOL = 1e-9


class KernelArguments(NamedTuple):
    """The arguments of :mod:`spectral.kernels` for one Hamiltonian.

    Attributes
    ----------
    diag : (dim,) float64 ndarray
        H_P's scaled energies in the sector basis. Writeable for Numba's signatures, but
        shared with the Hamiltonian: never write into it.
    nbits : int
        Bits of the (sector) basis index.
    flip_sign : float
        0 in the full space, +1 / -1 in the even / odd sector.
    """

    diag: np.ndarray
    nbits: int
    flip_sign: float


class AnnealingHamiltonian:
    """``H(s) = A(s) * H_D + B(s) * H_P`` of a BQM, applied matrix-free.

    ``H_D = -sum_i X_i``; ``H_P`` is diagonal with ``H_P[b, b] = bqm.energy(x(b)) / scale``,
    bit ``i`` of ``b`` being variable ``variables[i]`` (least significant first; binary 1 <->
    spin +1). Energies are dimensionless (docs/design.md).

    Build it with :meth:`from_bqm`. In a symmetry sector (``"even"``/``"odd"``, only when
    ``H_P`` has no linear Ising terms) the basis is ``(|b> +- |~b>)/sqrt(2)`` for the
    ``2**(n-1)`` indices ``b`` whose top bit is 0; the initial state ``|+>^n`` is even.

    Attributes
    ----------
    n : int
        Number of qubits (variables).
    dim : int
        Dimension of the (sector) Hilbert space: ``2**n`` or ``2**(n-1)``.
    scale : float
        The divisor applied to the BQM's energies (1.0 for ``scale=None``).
    variables : tuple
        Variable labels in bit order.
    schedule : Schedule
        The schedule A(s), B(s).
    sector : str
        ``"full"``, ``"even"`` or ``"odd"``.
    matvecs : int
        Operator applications so far, counted by the operator itself: every vector that
        :meth:`matvec`, :meth:`apply` or a :meth:`bound_operator` is applied to, not
        :meth:`residual_norms` (a check, not solver work). A counter for benchmarks; reset it
        freely.
    """

    def __init__(self, problem: IsingProblem, schedule: Schedule, scale: float, sector: str,
                 diag: np.ndarray):
        self.problem = problem
        self.schedule = schedule
        self.scale = float(scale)
        self.sector = sector
        self._diag = diag  # kept writeable for the kernels; diagonal() hands out a read-only view
        self._driver_csr = None
        self._max_abs_diag = None
        self.matvecs = 0

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_bqm(
        cls,
        bqm: dimod.BinaryQuadraticModel,
        schedule=None,
        scale: str | float | None = "auto",
        *,
        sector: str = "full",
        memory_limit: float | None = None,
    ) -> "AnnealingHamiltonian":
        """Build the annealing Hamiltonian of ``bqm``.

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel
            Any BQM, SPIN or BINARY, any hashable labels. Not modified.
        schedule : Schedule, (callable, callable), path or None
            A(s), B(s); ``None`` is the linear schedule.
        scale : "auto", float or None
            ``"auto"`` divides energies by ``max(max|h_i|, max|J_ij|)`` of the Ising form
            (D-Wave's auto-scale); a positive number divides by that number; ``None`` keeps
            raw energies. The divisor is recorded in :attr:`scale`.
        sector : {"full", "even", "odd", "auto"}
            Spin-flip sector; ``"auto"`` is ``"even"`` when the Ising form has no linear
            terms (then H(s) commutes with the global flip), else ``"full"``.
        memory_limit : float or None
            Bytes allowed for the diagonal (see :func:`spectral._memory.check_memory`).
        """
        problem = ising_from_bqm(bqm)
        schedule = resolve_schedule(schedule)
        divisor = _scale_divisor(problem, scale)
        check_memory(8.0 * 2**problem.n, n=problem.n, what="the diagonal of H_P",
                     memory_limit=memory_limit)
        full = ising_energies(problem) / divisor
        sector = _resolve_sector(problem, sector)
        diag = full if sector == "full" else np.ascontiguousarray(full[: full.size // 2])
        return cls(problem, schedule, divisor, sector, diag)

    def in_sector(self, sector: str) -> "AnnealingHamiltonian":
        """The same Hamiltonian restricted to a spin-flip sector (or back to ``"full"``)."""
        sector = _resolve_sector(self.problem, sector)
        if sector == self.sector:
            return self
        full = ising_energies(self.problem) / self.scale
        diag = full if sector == "full" else np.ascontiguousarray(full[: full.size // 2])
        return type(self)(self.problem, self.schedule, self.scale, sector, diag)

    def with_schedule(self, schedule) -> "AnnealingHamiltonian":
        """The same problem under another schedule (the diagonal is shared, not recomputed)."""
        return type(self)(self.problem, resolve_schedule(schedule), self.scale, self.sector, self._diag)

    # --- attributes ---------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.problem.n

    @property
    def variables(self) -> tuple:
        return self.problem.variables

    @property
    def nbits(self) -> int:
        """Bits of the (sector) basis index: ``n`` or ``n - 1``."""
        return self.n if self.sector == "full" else self.n - 1

    @property
    def dim(self) -> int:
        return 1 << self.nbits

    @property
    def flip_sign(self) -> float:
        return _SECTORS[self.sector]

    def diagonal(self) -> np.ndarray:
        """H_P's energies (scaled) in this sector's basis, shape ``(dim,)``, read-only."""
        view = self._diag.view()
        view.setflags(write=False)
        return view

    def kernel_arguments(self) -> KernelArguments:
        """``(diag, nbits, flip_sign)`` for the kernels of :mod:`spectral.kernels`."""
        return KernelArguments(self._diag, self.nbits, self.flip_sign)

    def max_abs_energy(self) -> float:
        """``max |H_P|`` over the (sector) basis, scaled (computed once: one pass over ``dim``
        energies)."""
        if self._max_abs_diag is None:
            self._max_abs_diag = float(np.max(np.abs(self._diag)))
        return self._max_abs_diag

    def coefficients(self, s: float) -> tuple[float, float]:
        """``(A(s), B(s))``."""
        return self.schedule(float(s))

    def ground_states(self) -> np.ndarray:
        """Basis indices of H_P's minimum (within relative 1e-9 of E_min) in this sector."""
        diag = self._diag
        e_min = float(diag.min())
        tol = GROUND_RTOL * max(abs(e_min), 1.0)
        return np.flatnonzero(diag <= e_min + tol)

    @property
    def degeneracy(self) -> int:
        """Degeneracy d of H_P's minimum, counted in this sector."""
        return int(self.ground_states().size)

    # --- application --------------------------------------------------------------------
    def matvec(self, s: float, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``H(s) @ v`` for a vector ``(dim,)`` or a block ``(m, dim)`` of row vectors.

        float64 and complex128 are supported; other dtypes are converted to float64.
        """
        a, b = self.coefficients(s)
        return self._apply(a, b, v, out)

    def apply(self, a: float, b: float, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``(a H_D + b H_P) @ v`` for given coefficients (e.g. a Magnus combination of two
        times); shapes and dtypes as in :meth:`matvec`."""
        return self._apply(float(a), float(b), v, out)

    def _apply(self, a: float, b: float, v: np.ndarray, out: np.ndarray | None = None, *,
               count: bool = True) -> np.ndarray:
        v = np.asarray(v)
        if v.dtype not in (np.float64, np.complex128):
            v = v.astype(np.float64)
        if v.shape[-1] != self.dim or v.ndim not in (1, 2):
            raise SpectralError(
                f"v must have shape ({self.dim},) or (m, {self.dim}) for this Hamiltonian "
                f"(n = {self.n}, sector {self.sector!r}), got {v.shape}."
            )
        v = np.ascontiguousarray(v)
        if out is None:
            out = np.empty_like(v)
        elif out.shape != v.shape or out.dtype != v.dtype or not out.flags.c_contiguous:
            raise SpectralError(f"out must be a C-contiguous {v.dtype} array of shape {v.shape}.")
        elif np.shares_memory(out, v):
            raise SpectralError("out must not share memory with v.")
        rows_in = v.reshape(-1, self.dim)
        rows_out = out.reshape(-1, self.dim)
        for j in range(rows_in.shape[0]):
            hamiltonian_matvec(rows_in[j], self._diag, float(a), float(b), self.nbits,
                               self.flip_sign, 0.0, rows_out[j])
        if count:
            self.matvecs += rows_in.shape[0]
        return out

    def bound_operator(self, a: float, b: float) -> Callable[[np.ndarray, np.ndarray], None]:
        """``apply(x, out)``: ``out = (a H_D + b H_P) x`` for one C-contiguous float64 or
        complex128 vector, without the checks of :meth:`apply` (for a solver's inner loop; the
        caller owns the shapes). Each call adds one to :attr:`matvecs`."""
        a, b = float(a), float(b)
        diag, nbits, flip = self._diag, self.nbits, self.flip_sign

        def apply(x: np.ndarray, out: np.ndarray) -> None:
            hamiltonian_matvec(x, diag, a, b, nbits, flip, 0.0, out)
            self.matvecs += 1

        return apply

    def residual_norms(self, a: float, b: float, energies: np.ndarray,
                       rows: np.ndarray) -> np.ndarray:
        """``||(a H_D + b H_P) v_j - E_j v_j||`` of vectors given as rows ``(k, dim)``.

        A check, not solver work: not counted in :attr:`matvecs`.
        """
        rows = np.ascontiguousarray(np.atleast_2d(rows))
        hv = self._apply(float(a), float(b), rows, count=False)
        return np.linalg.norm(hv - np.asarray(energies)[:, None] * rows, axis=1)

    def as_linear_operator(self, s: float) -> LinearOperator:
        """``H(s)`` as a :class:`scipy.sparse.linalg.LinearOperator` (float64, symmetric)."""
        a, b = self.coefficients(s)

        def mv(x):
            return self._apply(a, b, np.ascontiguousarray(x, dtype=np.float64).ravel())

        def mm(X):
            return self._apply(a, b, np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)).T

        return LinearOperator((self.dim, self.dim), matvec=mv, rmatvec=mv, matmat=mm,
                              dtype=np.float64)

    def level_slopes(self, s: float, vectors: np.ndarray) -> np.ndarray:
        """Hellmann-Feynman slopes ``dE_j/ds = A'(s)<H_D>_j + B'(s)<H_P>_j``.

        ``vectors`` are normalised eigenvectors as rows, shape ``(k, dim)``.
        """
        da, db = self.schedule.derivative(float(s))
        hd, hp = self.level_expectations(vectors)
        return da * hd + db * hp

    def level_expectations(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(<H_D>_j, <H_P>_j)`` of normalised vectors given as rows ``(k, dim)``.

        They make the levels' slopes in any parametrisation of the anneal, e.g. ``dE_j/ds``
        (:meth:`level_slopes`) or ``d(E_j / (A + B))/du = <H_P>_j - <H_D>_j`` for
        ``u = B / (A + B)``.
        """
        vectors = np.atleast_2d(vectors)
        hd, hp = np.empty(vectors.shape[0]), np.empty(vectors.shape[0])
        dtype = np.complex128 if np.iscomplexobj(vectors) else np.float64
        hv = np.empty(self.dim, dtype=dtype)
        for j, v in enumerate(vectors):
            v = np.ascontiguousarray(v, dtype=dtype)
            # H_D v by the blocked matvec kernel (a = 1, b = 0): a gather per bit and state
            # re-read the far partners from memory, 4x slower at 22 qubits
            hamiltonian_matvec(v, self._diag, 1.0, 0.0, self.nbits, self.flip_sign, 0.0, hv)
            hd[j] = float(np.vdot(v, hv).real)
            hp[j] = float(np.dot(self._diag, np.abs(v) ** 2))
        return hd, hp

    # --- explicit matrices ----------------------------------------------------------------
    def driver_sparse(self) -> sp.csr_matrix:
        """``H_D = -sum_i X_i`` (plus the sector's flip term) as CSR, cached."""
        if self._driver_csr is None:
            check_memory(24.0 * self.dim * (self.nbits + 1), n=self.n, what="a sparse H_D",
                         memory_limit=None)
            idx = np.arange(self.dim)
            cols = [idx ^ (1 << i) for i in range(self.nbits)]
            vals = [-np.ones(self.dim) for _ in range(self.nbits)]
            if self.flip_sign != 0.0:
                cols.append(idx ^ (self.dim - 1))
                vals.append(np.full(self.dim, -self.flip_sign))
            rows = np.tile(idx, len(cols))
            mat = sp.coo_matrix((np.concatenate(vals), (rows, np.concatenate(cols))),
                                shape=(self.dim, self.dim))
            mat = mat.tocsr()
            mat.sum_duplicates()
            mat.sort_indices()
            self._driver_csr = mat
        return self._driver_csr

    def to_sparse(self, s: float) -> sp.csr_matrix:
        """``H(s)`` as a scipy CSR matrix (float64)."""
        a, b = self.coefficients(check_s(s).item())
        return (a * self.driver_sparse() + sp.diags(b * self._diag, format="csr")).tocsr()

    def to_dense(self, s: float, *, memory_limit: float | None = None) -> np.ndarray:
        """``H(s)`` as a dense ``(dim, dim)`` float64 array (small n only)."""
        check_memory(8.0 * self.dim**2, n=self.n, what="a dense H(s)", memory_limit=memory_limit)
        a, b = self.coefficients(check_s(s).item())
        eye = np.eye(self.dim)
        H = np.empty((self.dim, self.dim))
        for j in range(self.dim):
            hamiltonian_matvec(eye[j], self._diag, float(a), float(b), self.nbits,
                               self.flip_sign, 0.0, H[j])
        return H  # symmetric: rows equal columns

    def __repr__(self) -> str:
        return (f"AnnealingHamiltonian(n={self.n}, sector={self.sector!r}, dim={self.dim}, "
                f"scale={self.scale:g}, schedule={self.schedule!r})")


def _scale_divisor(problem: IsingProblem, scale) -> float:
    if scale is None:
        return 1.0
    if isinstance(scale, str):
        if scale != "auto":
            raise SpectralError(f"scale must be 'auto', a positive number or None, got {scale!r}.")
        m = problem.max_abs_bias
        return m if m > 0.0 else 1.0
    if isinstance(scale, numbers.Real) and np.isfinite(scale) and scale > 0:
        return float(scale)
    raise SpectralError(f"scale must be 'auto', a positive finite number or None, got {scale!r}.")


def _resolve_sector(problem: IsingProblem, sector: str) -> str:
    if sector == "auto":
        return "even" if problem.has_spin_flip_symmetry else "full"
    if sector not in _SECTORS:
        raise SpectralError(f"sector must be 'full', 'even', 'odd' or 'auto', got {sector!r}.")
    if sector != "full" and not problem.has_spin_flip_symmetry:
        raise SpectralError(
            f"sector {sector!r} needs the global spin-flip symmetry, but the Ising form has "
            "linear terms; use sector='full' (or 'auto')."
        )
    return sector
