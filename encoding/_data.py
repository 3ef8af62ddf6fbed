"""Image datasets held in memory, and the bundled default: scikit-learn's digits (private).

A dataset is a float32 image tensor ``(N, C, H, W)``, int64 labels ``(N,)`` and class names.
Nothing here downloads: the digits ship inside scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .exceptions import DataError

__all__ = ["ImageDataset", "load_digits_dataset"]


@dataclass(frozen=True)
class ImageDataset:
    """Images with labels.

    Attributes
    ----------
    images : (N, C, H, W) torch.Tensor, float32
        Pixel values, in [0, 1] for the bundled loaders.
    labels : (N,) torch.Tensor, int64
        Class indices in ``0 .. len(classes) - 1``.
    classes : tuple of str
        Class names, indexed by label.
    name : str
        Where the data came from (recorded in checkpoint metadata).
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str = "custom"

    def __post_init__(self):
        images, labels = self.images, self.labels
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise DataError(
                "images must be a 4-D torch.Tensor (N, C, H, W), got "
                f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}."
            )
        if not images.is_floating_point():
            raise DataError(
                f"images must be floating point (scaled to [0, 1]), got dtype {images.dtype}; "
                "convert with images.float() / 255."
            )
        if not isinstance(labels, torch.Tensor) or labels.shape != (images.shape[0],):
            raise DataError(
                f"labels must be a torch.Tensor of shape ({images.shape[0]},), got "
                f"{tuple(getattr(labels, 'shape', ()))}."
            )
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(self.classes)):
            raise DataError(
                f"labels must lie in 0..{len(self.classes) - 1} (one per class name), got "
                f"{int(labels.min())}..{int(labels.max())}."
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return tuple(int(x) for x in self.images.shape[1:])

    def subset(self, index) -> ImageDataset:
        """The images at ``index`` (array of indices or a boolean mask)."""
        index = torch.as_tensor(np.asarray(index))
        return ImageDataset(self.images[index], self.labels[index], self.classes, self.name)

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
        """A stratified, seeded train/test split."""
        train, test = split_indices(self.labels.numpy(), test_fraction, seed)
        return self.subset(train), self.subset(test)


def split_indices(labels: np.ndarray, test_fraction: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test indices of a stratified, seeded split of ``labels``."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                   random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


def resize_images(images: torch.Tensor, size: int | tuple[int, int] | None) -> torch.Tensor:
    """Bilinear resize of ``(N, C, H, W)`` images (``align_corners=False``); None: unchanged."""
    if size is None:
        return images
    size = (int(size), int(size)) if np.isscalar(size) else tuple(int(x) for x in size)
    if len(size) != 2 or min(size) < 1:
        raise DataError(f"size must be a positive int or (height, width), got {size!r}.")
    if tuple(images.shape[-2:]) == size:
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def load_digits_dataset(size: int | tuple[int, int] | None = None) -> ImageDataset:
    """scikit-learn's bundled handwritten digits: 1797 grey images of 8 x 8, 10 classes.

    Parameters
    ----------
    size : int or (int, int), optional
        Bilinear up-sampling to this size (e.g. 16 or 32); default: the original 8 x 8.

    Returns
    -------
    ImageDataset
        ``images`` (1797, 1, H, W) in [0, 1] (the original values 0..16 divided by 16).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    labels = torch.from_numpy(digits.target.astype(np.int64))
    return ImageDataset(resize_images(images, size), labels,
                        tuple(str(c) for c in digits.target_names), "sklearn-digits")
