"""Image datasets that hold images as stored and make model-size float tensors in batches,
and the bundled default: scikit-learn's digits (private).

A dataset keeps its images as they are stored -- uint8 pixels (in memory, or mapped from the
file) or image files decoded on demand -- with int64 labels and class names, and makes float32
``(B, C, H, W)`` tensors at the model's size only for the batch asked for. A split of 50 000
images at 224 px therefore costs its stored bytes (or nothing, for mapped and file-backed
sets), not 30 GB of float32. Nothing here downloads: the digits ship inside scikit-learn.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ._pixels import pixels
from .exceptions import DataError

__all__ = ["ImageDataset", "load_digits_dataset"]


def _size_pair(size) -> tuple[int, int] | None:
    if size is None:
        return None
    size = (int(size), int(size)) if np.isscalar(size) else tuple(int(x) for x in size)
    if len(size) != 2 or min(size) < 1:
        raise DataError(f"size must be a positive int or (height, width), got {size!r}.")
    return size


class _ArrayImages:
    """Images stored in one array ``(N, C, H, W)``: uint8 (divided by 255 on reading) or
    float (taken as they are), a torch tensor or a numpy array (a memory map included)."""

    def __init__(self, array, rows=None):
        self.array = array
        self.rows = np.arange(array.shape[0]) if rows is None else np.asarray(rows, np.int64)

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def stored_shape(self) -> tuple[int, int, int]:
        return tuple(int(x) for x in self.array.shape[1:])

    def subset(self, index: np.ndarray) -> _ArrayImages:
        return _ArrayImages(self.array, self.rows[index])

    def read(self, index: np.ndarray, size=None) -> torch.Tensor:
        """Float32 images at ``index``, resized to ``size`` (None: as stored)."""
        rows = self.rows[index]
        if isinstance(self.array, torch.Tensor):
            whole = rows.size == self.array.shape[0] and np.array_equal(
                rows, np.arange(rows.size))
            # every image in order: the stored tensor itself, no copy
            x = self.array if whole else self.array[torch.as_tensor(rows)]
        else:
            x = torch.from_numpy(np.ascontiguousarray(self.array[rows]))
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        elif x.dtype != torch.float32:
            x = x.float()
        return _resize(x, size)

    def stored_bytes(self) -> int:
        return 0 if isinstance(self.array, np.memmap) else int(
            self.array.nbytes if isinstance(self.array, np.ndarray)
            else self.array.element_size() * self.array.nelement())


class _FileImages:
    """Image files decoded on demand (``encoding._loaders.pixels``), all of one size or
    resized to one."""

    def __init__(self, paths, mode: str, stored_shape: tuple[int, int, int]):
        self.paths = np.asarray([str(p) for p in paths], dtype=object)
        self.mode = mode
        self.stored_shape = stored_shape

    def __len__(self) -> int:
        return int(self.paths.size)

    def subset(self, index: np.ndarray) -> _FileImages:
        return _FileImages(self.paths[index], self.mode, self.stored_shape)

    def read_one(self, i: int, size) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        path = self.paths[i]
        try:
            with Image.open(path) as im:
                arr = pixels(im, self.mode, path)
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"cannot read image {path!r}: {err}") from err
        t = torch.from_numpy(arr)
        t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
        if size is None and tuple(t.shape) != self.stored_shape:
            raise DataError(f"image {path!r} is {t.shape[-2]}x{t.shape[-1]}, the others "
                            f"{self.stored_shape[1]}x{self.stored_shape[2]}; give a size to "
                            "resize them to (config: [data] size = 224, or [h, w]).")
        return _resize(t[None], size)[0]

    def read(self, index: np.ndarray, size=None) -> torch.Tensor:
        """Float32 images at ``index``, decoded and resized to ``size`` (None: as stored)."""
        rows = np.arange(len(self))[index]
        if not rows.size:
            c, h, w = self.stored_shape
            return torch.zeros((0, c, *(size or (h, w))))
        return torch.stack([self.read_one(int(i), size) for i in rows])

    def stored_bytes(self) -> int:
        return 0


def _resize(images: torch.Tensor, size) -> torch.Tensor:
    if size is None or tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False)


def default_workers() -> int:
    """Decoding processes for file-backed images: one core is left to the model; none in a
    daemonic process (a Dask worker's), which may not start processes of its own."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 0
    return int(min(4, max(0, (os.cpu_count() or 1) - 1)))


class ImageDataset(torch.utils.data.Dataset):
    """Images with labels, stored as they are and read at the model's size.

    Parameters
    ----------
    images : (N, C, H, W) torch.Tensor or numpy array
        uint8 pixels (read as value / 255) or floats (read as they are; in [0, 1] for the
        bundled loaders). A numpy memory map is read only where it is indexed.
    labels : (N,) torch.Tensor, int64
        Class indices in ``0 .. len(classes) - 1``.
    classes : tuple of str
        Class names, indexed by label.
    name : str
        Where the data came from (recorded in checkpoint metadata).
    size : int or (int, int), optional
        Every image read is resized (bilinear, ``align_corners=False``) to this size.

    Notes
    -----
    ``dataset[i]`` is ``(image (C, H, W) float32, label int)``, so a dataset goes into a
    ``torch.utils.data.DataLoader`` as it is; :meth:`batches` does that with the right
    settings. :attr:`images` makes every image at once (for small sets and tests);
    :meth:`batch` makes the images at given positions.
    """

    def __init__(self, images, labels, classes, name: str = "custom", size=None, *,
                 _store=None):
        self.classes = tuple(classes)
        self.name = name
        self.size = _size_pair(size)
        if _store is None:
            _store = _ArrayImages(self._checked_array(images))
        self._store = _store
        if not isinstance(labels, torch.Tensor) or labels.shape != (len(_store),):
            raise DataError(
                f"labels must be a torch.Tensor of shape ({len(_store)},), got "
                f"{tuple(getattr(labels, 'shape', ()))}.")
        if labels.dtype != torch.int64:
            raise DataError(f"labels must be int64 class indices, got dtype {labels.dtype}.")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(self.classes)):
            raise DataError(
                f"labels must lie in 0..{len(self.classes) - 1} (one per class name), got "
                f"{int(labels.min())}..{int(labels.max())}.")
        self.labels = labels

    @staticmethod
    def _checked_array(images):
        if not isinstance(images, (torch.Tensor, np.ndarray)) or images.ndim != 4:
            raise DataError(
                "images must be a 4-D torch.Tensor or numpy array (N, C, H, W), got "
                f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}.")
        dtype = images.dtype
        ok = (dtype in (torch.uint8, np.uint8) or
              (images.is_floating_point() if isinstance(images, torch.Tensor)
               else np.issubdtype(dtype, np.floating)))
        if not ok:
            raise DataError(f"images must be uint8 pixels or floating point (scaled to [0, 1]), "
                            f"got dtype {dtype}; convert with images.float() / 255.")
        return images

    @classmethod
    def from_files(cls, paths, labels, classes, *, mode: str = "RGB", size=None,
                   stored_shape: tuple[int, int, int], name: str = "files") -> ImageDataset:
        """Image files decoded when they are read (see :func:`encoding.load_image_folder`)."""
        return cls(None, labels, classes, name, size,
                   _store=_FileImages(paths, mode, tuple(stored_shape)))

    def __len__(self) -> int:
        return len(self._store)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if not -len(self) <= int(i) < len(self):
            raise IndexError(f"image {i} of {len(self)}")
        return self.batch([int(i) % len(self)])[0], int(self.labels[int(i)])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images as read (at ``size``)."""
        c, h, w = self._store.stored_shape
        return (c, *self.size) if self.size is not None else (c, h, w)

    @property
    def stored_bytes(self) -> int:
        """Bytes of pixels this dataset holds in memory (0 for mapped and file-backed sets)."""
        return self._store.stored_bytes()

    def batch(self, index) -> torch.Tensor:
        """The images at ``index`` (positions or a boolean mask), float32 ``(B, C, H, W)``
        at the dataset's size."""
        return self._store.read(np.asarray(index), self.size)

    @property
    def images(self) -> torch.Tensor:
        """Every image, float32 ``(N, C, H, W)`` at the dataset's size (the whole set in
        memory: use :meth:`batches` or :meth:`batch` for large sets)."""
        return self.batch(np.arange(len(self)))

    def batches(self, batch_size: int, order=None, *, workers: int | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(images, labels)`` in batches of ``batch_size``, in ``order`` (positions;
        default all, in turn). File-backed images are decoded by ``workers`` processes
        (default: all cores but one, at most 4) ahead of the model."""
        order = np.arange(len(self)) if order is None else np.asarray(order, dtype=np.int64)
        batch_size = max(1, int(batch_size))
        if isinstance(self._store, _FileImages):
            workers = default_workers() if workers is None else int(workers)
            workers = min(workers, max(0, -(-order.size // batch_size) - 1))
            loader = torch.utils.data.DataLoader(
                self, batch_size=batch_size, sampler=order.tolist(), num_workers=workers,
                persistent_workers=False)
            yield from ((x, y.to(torch.int64)) for x, y in loader)
            return
        for i in range(0, order.size, batch_size):
            part = order[i:i + batch_size]
            yield self.batch(part), self.labels[torch.as_tensor(part)]

    def subset(self, index) -> ImageDataset:
        """The images at ``index`` (array of indices or a boolean mask), still as stored."""
        index = np.arange(len(self))[np.asarray(index)]
        return ImageDataset(None, self.labels[torch.as_tensor(index)], self.classes, self.name,
                            self.size, _store=self._store.subset(index))

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
    return ImageDataset(images, labels, tuple(str(c) for c in digits.target_names),
                        "sklearn-digits", size)
