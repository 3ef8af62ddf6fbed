"""Figures, in one consistent style (matplotlib, non-interactive backend)."""

from __future__ import annotations

from os import PathLike

import numpy as np

__all__ = ["plot_levels", "explanation_gallery", "bhattacharyya_panels", "metric_chart"]

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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def explanation_gallery(images, heatmaps: dict, path: str | PathLike, *, titles=None,
                        alpha: float = 0.55) -> None:
    """One row per image: the image (in colour when it has 3 channels), then each method's
    heatmap over it (jet colour map, alpha-blended), at the image's resolution.

    Parameters
    ----------
    images : (N, C, H, W) array_like
        Pixel values in [0, 1]; C = 1 (grey) or 3 (RGB).
    heatmaps : dict of str -> (N, H, W) ndarray
        Method name -> heatmaps in [0, 1] (column order = dict order).
    titles : sequence of str, optional
        Row labels (e.g. "#21: 1").
    """
    plt = _pyplot()
    images = np.clip(np.asarray(images, dtype=float), 0.0, 1.0)
    n, _, h, w = images.shape
    methods = list(heatmaps)
    # a panel holds the image at its own resolution (one pixel per image pixel at 150 dpi,
    # at least 1.6 in); small images are drawn as blocks, large ones smoothed
    side = max(1.6, w / _STYLE["figure.dpi"])
    interpolation = "nearest" if max(h, w) < 64 else "antialiased"
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(n, 1 + len(methods),
                                 figsize=(side * (1 + len(methods)), side * n * h / w),
                                 squeeze=False)
        for i in range(n):
            img = images[i].transpose(1, 2, 0)
            img = img[..., 0] if img.shape[-1] == 1 else img
            cmap = "gray" if img.ndim == 2 else None
            axes[i, 0].imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation=interpolation)
            axes[i, 0].set_ylabel(titles[i] if titles is not None else f"image {i}")
            for j, m in enumerate(methods):
                ax = axes[i, j + 1]
                ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation=interpolation)
                ax.imshow(heatmaps[m][i], cmap="jet", alpha=alpha, vmin=0, vmax=1,
                          interpolation=interpolation)
            for ax in axes[i]:
                ax.set_xticks([])
                ax.set_yticks([])
        axes[0, 0].set_title("image")
        for j, m in enumerate(methods):
            axes[0, j + 1].set_title(m)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def bhattacharyya_panels(matrices: dict, path: str | PathLike, *, classes=None,
                         title: str | None = None) -> None:
    """The class x class Bhattacharyya matrices of several methods side by side (shared colour
    scale 0..1, mean off-diagonal in each panel's title)."""
    plt = _pyplot()
    from encoding.metrics import mean_off_diagonal

    names = list(matrices)
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names) + 0.8, 2.9),
                                 squeeze=False)
        for ax, name in zip(axes[0], names):
            M = np.asarray(matrices[name])
            im = ax.imshow(M, vmin=0, vmax=1, cmap="viridis")
            ax.set_title(f"{name}\nmean off-diag {mean_off_diagonal(M):.3f}")
            ticks = np.arange(M.shape[0])
            ax.set_xticks(ticks, classes if classes is not None else ticks)
            ax.set_yticks(ticks, classes if classes is not None else ticks)
        fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="Bhattacharyya coefficient")
        if any(np.isnan(np.asarray(m, float)).any() for m in matrices.values()):
            fig.text(0.5, -0.04, "blank row and column: no map was selected for that class",
                     ha="center", fontsize=8)
        if title:
            fig.suptitle(title)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)


def metric_chart(table: list, path: str | PathLike, *, metrics=None, weights=("trained",),
                 title: str | None = None) -> None:
    """Each metric's value per method with its 95 % interval (one panel per metric and space).

    ``table`` is :attr:`encoding.XaiStudy.table`; ``metrics`` a list of (space, metric) pairs
    (default: every pair in the table except "maps selected").
    """
    plt = _pyplot()
    rows = [r for r in table if r["weights"] in weights]
    if metrics is None:
        metrics = list(dict.fromkeys((r["space"], r["metric"]) for r in rows
                                     if r["metric"] != "maps selected"))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    ncol = 4
    nrow = int(np.ceil(len(metrics) / ncol))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 0.28 * len(methods) * nrow + 1.2 * nrow),
                                 squeeze=False)
        for ax, (space, metric) in zip(axes.ravel(), metrics):
            for wi, w in enumerate(weights):
                for mi, m in enumerate(methods):
                    r = next((r for r in rows if (r["weights"], r["method"], r["space"],
                                                   r["metric"]) == (w, m, space, metric)), None)
                    if r is None:
                        continue
                    y = mi + 0.3 * wi
                    ax.errorbar(r["value"], y, xerr=[[max(r["value"] - r["low"], 0)],
                                                     [max(r["high"] - r["value"], 0)]],
                                fmt="o" if wi == 0 else "s", ms=3.5, capsize=2,
                                color=colours[wi % len(colours)],
                                label=w if mi == 0 else None)
            better = next((r["better"] for r in rows if (r["space"], r["metric"]) == (space, metric)), "")
            ax.set_title(f"{metric} ({space}; {better} is better)", fontsize=8)
            ax.set_yticks(range(len(methods)), methods if ax in axes[:, 0] else [""] * len(methods))
            ax.invert_yaxis()
        for ax in axes.ravel()[len(metrics):]:
            ax.axis("off")
        if len(weights) > 1:
            axes[0, 0].legend(loc="best", fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout(rect=(0, 0, 1, 0.97) if title else None)
        fig.savefig(path)
        plt.close(fig)
