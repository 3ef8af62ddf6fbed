"""Figures, in one consistent style (matplotlib, non-interactive backend)."""

from __future__ import annotations

from os import PathLike

import numpy as np

__all__ = ["plot_levels"]

_STYLE = {
    "figure.dpi": 150,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}


def plot_levels(result, path: str | PathLike, *, title: str | None = None) -> None:
    """Draw the lowest levels E_j(s) and the gap Delta(s), with Delta_min marked at s*.

    Parameters
    ----------
    result : spectral.MinGap
        Output of :func:`spectral.min_gap` (its coarse sweep and refined minimum).
    path : str or path
        Output file; the suffix picks the format (png, pdf, svg).
    title : str, optional
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = result.degeneracy
    with plt.rc_context(_STYLE):
        fig, (ax_e, ax_g) = plt.subplots(2, 1, figsize=(5.0, 5.2), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 2]})
        E = result.energies - result.energies[0]
        for j in range(E.shape[0]):
            role = "ground manifold" if j < d else ("gap level $E_d$" if j == d else None)
            ax_e.plot(result.s, E[j], lw=1.4 if j <= d else 0.9,
                      color="C0" if j < d else ("C3" if j == d else "0.55"),
                      label=role if (j == 0 or j == d) else None)
        ax_e.set_ylabel(r"$E_j(s) - E_0(s)$")
        ax_e.legend(loc="upper right")
        ax_g.plot(result.s, result.gaps, "o-", ms=2.5, lw=1.0, color="C3",
                  label=r"$\Delta(s)$ (coarse sweep)")
        ax_g.plot([result.s_star], [result.delta_min], "k*", ms=9,
                  label=rf"$\Delta_{{min}}$ = {result.delta_min:.4g} at $s^*$ = {result.s_star:.5f}")
        ax_g.axvline(result.s_star, color="k", lw=0.6, ls=":")
        if np.all(result.gaps > 0):
            ax_g.set_yscale("log")
        ax_g.set_xlabel("s")
        ax_g.set_ylabel(r"$\Delta(s) = E_d - E_0$")
        ax_g.legend(loc="best")
        head = f"n = {result.n}, sector {result.sector}, d = {d}"
        fig.suptitle(f"{title} — {head}" if title else head, fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
