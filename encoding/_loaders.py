"""Readers for image datasets kept on local disk (private). None of them downloads.

- STL-10's binary release (``stl10_binary/``): ``{split}_X.bin`` holds uint8 images of
  3 x 96 x 96 stored column-major per channel, ``{split}_y.bin`` uint8 labels 1..10,
  ``class_names.txt`` one name per line.
- MNIST's IDX files: ``{train,t10k}-images-idx3-ubyte`` (big-endian int32 magic 2051, count,
  rows, cols, then uint8 pixels) and ``{train,t10k}-labels-idx1-ubyte`` (magic 2049, count,
  uint8 labels), optionally gzip-compressed (``.gz``).
- An image folder: one sub-folder per class, image files (PNG, JPEG, BMP, ...) inside; class
  indices follow the sorted sub-folder names.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ._data import ImageDataset
from ._pixels import IMAGE_SUFFIXES as _IMAGE_SUFFIXES
from .exceptions import DataError

__all__ = ["load_stl10", "load_mnist", "load_image_folder", "missing_data_files"]

STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship",
                 "truck")


def _check_split(split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise DataError(f"split must be one of {allowed}, got {split!r}.")


def _missing(root: Path, what: str, names: list[str]) -> DataError:
    return DataError(
        f"{what} not found in {str(root)!r}: expected the files {names}. qaxai never downloads "
        "data; place the files there (or pass the folder that holds them)."
    )


def load_stl10(root, split: str = "train", size: int | tuple[int, int] | None = None,
               limit: int | None = None) -> ImageDataset:
    """STL-10 from its binary release folder (``stl10_binary``).

    Parameters
    ----------
    root : path
        The folder holding ``train_X.bin``, ``train_y.bin``, ``test_X.bin``, ``test_y.bin``
        (``class_names.txt`` is used when present).
    split : {"train", "test"}
    size : int or (int, int), optional
        Bilinear resize (the reference paper uses 224).
    limit : int, optional
        Read only the first ``limit`` images.

    Returns
    -------
    ImageDataset
        Images (N, 3, 96, 96) (or ``size``) in [0, 1], read from a memory map of the file;
        labels 0..9.
    """
    _check_split(split, ("train", "test"))
    root = Path(root)
    x_path, y_path = root / f"{split}_X.bin", root / f"{split}_y.bin"
    if not (x_path.is_file() and y_path.is_file()):
        raise _missing(root, f"STL-10 {split} split", [x_path.name, y_path.name])
    side = 96
    per_image = 3 * side * side
    nbytes = x_path.stat().st_size
    if nbytes % per_image:
        raise DataError(
            f"{str(x_path)!r} has {nbytes} bytes, not a multiple of one 3x96x96 image "
            f"({per_image} bytes): not an STL-10 binary file."
        )
    labels = np.fromfile(y_path, dtype=np.uint8)
    count = nbytes // per_image
    if labels.size != count:
        raise DataError(f"{str(x_path)!r} holds {count} images but {str(y_path)!r} "
                        f"{labels.size} labels.")
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise DataError(f"STL-10 labels must be 1..10, {str(y_path)!r} has "
                        f"{labels.min()}..{labels.max()}.")
    count = count if limit is None else min(count, int(limit))
    # mapped, not read: pages are read when their images are (column-major per channel:
    # (N, C, W, H) in the file -> (N, C, H, W))
    images = np.memmap(x_path, dtype=np.uint8, mode="r", shape=(count, 3, side, side))
    names_file = root / "class_names.txt"
    classes = STL10_CLASSES
    if names_file.is_file():
        classes = tuple(line.strip() for line in names_file.read_text().splitlines() if line.strip())
    return ImageDataset(images.transpose(0, 1, 3, 2),
                        torch.from_numpy(labels[:count].astype(np.int64) - 1), classes,
                        f"stl10-{split}", size)


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError, OSError) as err:
        raise DataError(f"{str(path)!r} cannot be read{' as gzip' if path.suffix == '.gz' else ''}"
                        f" ({type(err).__name__}: {err}): a damaged or mis-named file? Give the "
                        "IDX file plain, or gzip-compressed with the .gz suffix.") from err
    header = 4 * (1 + ndim)
    if len(data) < header:
        raise DataError(f"{str(path)!r} is too short for an IDX header ({len(data)} bytes).")
    fields = np.frombuffer(data[:header], dtype=">i4")
    if fields[0] != magic:
        raise DataError(f"{str(path)!r} has IDX magic number {int(fields[0])}, expected {magic} "
                        "(2051: images, 2049: labels).")
    shape = tuple(int(x) for x in fields[1:])
    body = np.frombuffer(data, dtype=np.uint8, offset=header)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{str(path)!r} declares shape {shape} but holds {body.size} values.")
    return body.reshape(shape)


def _find(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (root / name).is_file():
            return root / name
    return None


def missing_data_files(source: str, root) -> list[str]:
    """The files of both splits that the folder ``root`` lacks for ``source`` ("stl10": the
    binary release's four ``.bin`` files; "mnist": the four IDX files, plain or ``.gz``);
    empty when every file is there. Other sources have no fixed files: always empty."""
    root = Path(root)
    if source == "stl10":
        return [f for f in ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin")
                if not (root / f).is_file()]
    if source == "mnist":
        return [s for s in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
                if not root.is_dir() or _find(root, s) is None]
    return []


def load_mnist(root, split: str = "train", size: int | tuple[int, int] | None = None,
               limit: int | None = None) -> ImageDataset:
    """MNIST (or Fashion-MNIST, or any IDX-format set of the same names) from local files.

    Parameters
    ----------
    root : path
        Folder holding ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (split
        "train") or the ``t10k-`` pair (split "test"), plain or ``.gz``.
    split : {"train", "test"}
    size : int or (int, int), optional
        Bilinear resize.
    limit : int, optional
        Keep only the first ``limit`` images.

    Returns
    -------
    ImageDataset
        Images (N, 1, 28, 28) (or ``size``) in [0, 1], held as uint8; classes "0".."9".
    """
    _check_split(split, ("train", "test"))
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    stems = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    paths = [_find(root, s) for s in stems]
    if None in paths:
        raise _missing(root, f"MNIST {split} split", stems + [s + ".gz" for s in stems])
    images = _read_idx(paths[0], 2051, 3)
    labels = _read_idx(paths[1], 2049, 1)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{paths[0].name} holds {images.shape[0]} images but {paths[1].name} "
                        f"{labels.shape[0]} labels.")
    count = images.shape[0] if limit is None else min(images.shape[0], int(limit))
    n_classes = max(10, int(labels.max()) + 1) if labels.size else 10
    return ImageDataset(np.ascontiguousarray(images[:count, None]),
                        torch.from_numpy(labels[:count].astype(np.int64)),
                        tuple(str(c) for c in range(n_classes)), f"mnist-{split}", size)


def load_image_folder(root, size: int | tuple[int, int] | None = None, mode: str = "RGB"
                      ) -> ImageDataset:
    """Images from ``root/<class name>/<file>``.

    Parameters
    ----------
    root : path
        One sub-folder per class (at least two), each holding at least one image; labels follow
        the sorted folder names.
    size : int or (int, int), optional
        Resize every image (bilinear) to this size. Required when the images differ in size.
    mode : {"RGB", "L"}
        Colour (3 channels) or grey (1 channel).

    Returns
    -------
    ImageDataset
        File-backed: only the file names are held; each image is decoded (``pixels``) when
        it is read. Every file's header is read here, so an unreadable file or, without
        ``size``, a file of another size is refused at once.
    """
    from PIL import Image, UnidentifiedImageError

    if mode not in ("RGB", "L"):
        raise DataError(f"mode must be 'RGB' or 'L', got {mode!r}.")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist: expected one sub-folder per "
                        "class holding image files.")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{str(root)!r} has {len(classes)} class sub-folder(s) "
                        f"{classes}: a classifier's explanations need at least two classes "
                        "(root/<class>/<image>.png, one sub-folder per class).")
    paths, labels, first = [], [], None
    channels = 3 if mode == "RGB" else 1
    for label, name in enumerate(classes):
        files = [p for p in sorted((root / name).iterdir())
                 if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()]
        if not files:
            raise DataError(f"class folder {str(root / name)!r} holds no image files "
                            f"({', '.join(sorted(_IMAGE_SUFFIXES))}); remove it or add images.")
        for path in files:
            try:  # the header only: pixels are decoded when the image is read
                with Image.open(path) as im:
                    shape = (im.height, im.width)
            except (UnidentifiedImageError, OSError) as err:
                raise DataError(f"cannot read image {str(path)!r}: {err}") from err
            if first is None:
                first = (path, shape)
            elif size is None and shape != first[1]:
                raise DataError(
                    f"images differ in size: {str(first[0])!r} is {first[1][0]}x{first[1][1]}, "
                    f"{str(path)!r} is {shape[0]}x{shape[1]}; give a size to resize "
                    "them to (config: [data] size = 224, or [h, w]).")
            paths.append(path)
            labels.append(label)
    return ImageDataset.from_files(paths, torch.tensor(labels, dtype=torch.int64),
                                   tuple(classes), mode=mode, size=size,
                                   stored_shape=(channels, *first[1]),
                                   name=f"folder:{root.name}")
