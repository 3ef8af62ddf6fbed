"""The forward passes of the faithfulness metrics, shared between explanations (private).

Every faithfulness measure of a heatmap is a class probability of a perturbed image: the image
times its heatmap (Average Drop), the image with its most salient pixels set to 0 (deletion)
or a blurred copy with them put back (insertion, RISE). Several of these images do not depend
on the heatmap -- the unperturbed image (the deletion curve's first step and the insertion
curve's last), the blurred copy (the insertion curve's first step) and the all-zero image (the
deletion curve's last step, one forward pass for every image) -- and explanations of one image
by different methods are often equal. :class:`FaithfulnessProbe` runs each distinct perturbed
image once, in batches across images.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from ._allocator import auto_batch_size
from ._capture import _check_images, _eval_mode
from ._device import model_device
from .exceptions import EncodingError

__all__ = ["FaithfulnessProbe", "blur"]


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` images (radius ``ceil(3 sigma)``, edges
    replicated)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = images.shape[1]
    pad = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(pad, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


class FaithfulnessProbe:
    """Class probabilities of perturbed copies of fixed images, for any number of heatmaps.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning logits; run in eval mode on its own device.
    images : (N, C, H, W) tensor
    targets : int or (N,) array_like of int
        The class whose softmax probability is measured, per image.
    steps : int
        Deletion and insertion curves have ``steps + 1`` points, at pixel fractions
        ``linspace(0, 1, steps + 1)``.
    blur_sigma : float, optional
        The insertion curve's start (default a tenth of the image side, in pixels).
    batch_size : int, optional
        Perturbed images per forward pass (default :func:`encoding.metrics.auto_batch_size`).

    Attributes
    ----------
    probabilities : (N,) ndarray
        The class probability of each unperturbed image (Y of Average Drop).
    logits : (N, classes) ndarray
        The unperturbed images' logits.
    forward_passes : int
        Images run through the model so far.
    """

    def __init__(self, model, images, targets, steps: int = 16,
                 blur_sigma: float | None = None, batch_size: int | None = None):
        self.model = model
        self.images = _check_images(images)
        n, _, h, w = self.images.shape
        if int(steps) < 1:
            raise EncodingError(f"steps must be >= 1, got {steps!r}.")
        self.steps = int(steps)
        self.targets = np.broadcast_to(np.asarray(targets, dtype=np.int64), (n,)).copy()
        self.sigma = max(h, w) / 10.0 if blur_sigma is None else float(blur_sigma)
        self.batch_size = batch_size or auto_batch_size(self.images)
        self.fractions = np.linspace(0.0, 1.0, self.steps + 1)
        self.counts = np.round(self.fractions * h * w).astype(np.int64)
        self.forward_passes = 0
        self._blurred = None
        self._end_probabilities = {}
        self.logits = self._logits(self.images)
        self.probabilities = self._at_targets(self.logits, self.targets)

    # -- forward passes -----------------------------------------------------------------------
    @torch.no_grad()
    def _logits(self, batch: torch.Tensor) -> np.ndarray:
        device = model_device(self.model)
        out = []
        with _eval_mode(self.model):
            for i in range(0, batch.shape[0], self.batch_size):
                part = batch[i:i + self.batch_size].to(device)
                out.append(self.model(part).double().cpu())
                self.forward_passes += part.shape[0]
        return torch.cat(out).numpy() if out else np.zeros((0, 0))

    @staticmethod
    def _at_targets(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
        p = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
        return p[np.arange(len(targets)), targets]

    @property
    def blurred(self) -> torch.Tensor:
        """The blurred copies the insertion curves start from."""
        if self._blurred is None:
            self._blurred = blur(self.images, self.sigma)
        return self._blurred

    def _ends(self, which: str) -> np.ndarray:
        """Per image, the probability of its blurred copy (``"blurred"``) or of the all-zero
        image (``"zero"``; one forward pass for all images); each computed once."""
        if which not in self._end_probabilities:
            if which == "blurred":
                logits = self._logits(self.blurred)
            else:
                logits = np.repeat(self._logits(torch.zeros_like(self.images[:1])),
                                   len(self.targets), axis=0)
            self._end_probabilities[which] = self._at_targets(logits, self.targets)
        return self._end_probabilities[which]

    # -- the perturbed images of many heatmaps ------------------------------------------------
    def _check(self, heatmaps) -> np.ndarray:
        n, _, h, w = self.images.shape
        heat = np.asarray(heatmaps)  # float32 heatmaps stay float32: the same ranks
        if not np.issubdtype(heat.dtype, np.floating):
            heat = heat.astype(np.float64)
        if heat.shape != (n, h, w):
            raise EncodingError(f"heatmaps must have shape (N, H, W) = {(n, h, w)}, got "
                                f"{heat.shape}.")
        return heat

    def measure(self, heatmaps: dict,
                parts: tuple[str, ...] = ("confidence", "deletion", "insertion")) -> dict:
        """Probabilities of every heatmap's perturbed images.

        Parameters
        ----------
        heatmaps : dict of name -> (N, H, W) array_like
            One heatmap per image under each name (e.g. per explanation method).
        parts : tuple of str
            Which of the measures below to compute.

        Returns
        -------
        dict of name -> dict
            ``"confidence"`` (N,): the probability of image times heatmap (O of Average Drop);
            ``"deletion"`` and ``"insertion"`` (N, steps + 1): the RISE curves. Pixels are
            ranked by heatmap value, highest first, ties by pixel index.
        """
        n, c, h, w = self.images.shape
        heats = {name: self._check(v) for name, v in heatmaps.items()}
        # distinct (image, heatmap) rows: equal explanations share their forward passes
        rows, where = [], {}
        for name, heat in heats.items():
            slots = np.empty(n, dtype=np.int64)
            for i in range(n):
                key = (i, hashlib.sha256(heat[i].tobytes()).digest())
                if key not in where:
                    where[key] = len(rows)
                    rows.append((i, name))
                slots[i] = where[key]
            heats[name] = (heat, slots)
        unknown = set(parts) - {"confidence", "deletion", "insertion"}
        if unknown:
            raise EncodingError(f"parts must be among 'confidence', 'deletion', 'insertion'; "
                                f"got {sorted(unknown)}.")
        image_of = np.array([i for i, _ in rows], dtype=np.int64)
        found = {part: np.empty((len(rows),) if part == "confidence" else
                                (len(rows), self.steps - 1)) for part in parts}
        # a few rows at a time: their ranks and perturbed images, never all heatmaps at once
        group = max(1, (self.batch_size * 4) // max(1, 2 * self.steps - 1))
        for start in range(0, len(rows), group):
            g = np.arange(start, min(len(rows), start + group))
            stack = np.stack([heats[rows[j][1]][0][rows[j][0]] for j in g])
            img = image_of[g]
            if "confidence" in parts:
                found["confidence"][g] = self._run(img, lambda j: torch.as_tensor(
                    stack[j], dtype=self.images.dtype)[:, None] * self.images[img[j]])
            if "deletion" in parts or "insertion" in parts:
                order = np.argsort(-stack.reshape(len(g), -1), axis=1, kind="stable")
                rank = np.empty_like(order)
                rank[np.arange(len(g))[:, None], order] = np.arange(h * w)[None, :]
                for mode in ("deletion", "insertion"):
                    if mode in parts:
                        found[mode][g] = self._curve(img, rank, self.counts[1:-1], mode)
        out = {}
        for name, (_, slots) in heats.items():
            i = image_of[slots]
            y = self.probabilities[i]
            out[name] = {}
            if "confidence" in parts:
                out[name]["confidence"] = found["confidence"][slots]
            if "deletion" in parts:
                zero = self._ends("zero")[i]
                out[name]["deletion"] = np.column_stack([y, found["deletion"][slots], zero])
            if "insertion" in parts:
                blurred = self._ends("blurred")[i]
                out[name]["insertion"] = np.column_stack([blurred, found["insertion"][slots], y])
        return out

    def _run(self, image_of: np.ndarray, make) -> np.ndarray:
        """Target probabilities of ``make(rows)`` for every row, in batches."""
        out = np.empty(len(image_of))
        for start in range(0, len(image_of), self.batch_size):
            j = np.arange(start, min(len(image_of), start + self.batch_size))
            out[j] = self._at_targets(self._logits(make(j)), self.targets[image_of[j]])
        return out

    def _curve(self, image_of, rank, counts, mode) -> np.ndarray:
        """(rows, len(counts)) probabilities with the top ``counts`` pixels switched."""
        n, c, h, w = self.images.shape
        s = len(counts)
        if s == 0:
            return np.zeros((len(image_of), 0))
        job_row, job_step = np.divmod(np.arange(len(image_of) * s), s)
        rank_t = torch.as_tensor(rank)
        counts_t = torch.as_tensor(counts)

        def make(j):
            r = torch.as_tensor(job_row[j])
            img = torch.as_tensor(image_of[job_row[j]])
            switched = (rank_t[r] < counts_t[torch.as_tensor(job_step[j])][:, None])
            switched = switched.view(-1, 1, h, w)
            if mode == "deletion":
                return self.images[img].masked_fill(switched, 0.0)
            return torch.where(switched, self.images[img], self.blurred[img])

        probs = self._run(image_of[job_row], make)
        return probs.reshape(len(image_of), s)
