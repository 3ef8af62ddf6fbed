"""Datasets: the bundled digits and the local loaders, on tiny files in the real formats."""

import gzip
import struct

import numpy as np
import pytest
import torch

from encoding import (DataError, ImageDataset, load_digits_dataset, load_image_folder,
                      load_mnist, load_stl10)


def test_digits_are_the_bundled_set_scaled_to_unit_interval():
    from sklearn.datasets import load_digits

    ref = load_digits()
    d = load_digits_dataset()
    assert d.images.shape == (1797, 1, 8, 8) and d.images.dtype == torch.float32
    np.testing.assert_allclose(d.images[:, 0].numpy(), ref.images / 16.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(d.labels.numpy(), ref.target)
    assert d.classes == tuple(str(i) for i in range(10))
    assert load_digits_dataset(size=16).images.shape == (1797, 1, 16, 16)


def test_split_is_stratified_disjoint_and_seeded():
    d = load_digits_dataset()
    train, test = d.split(0.2, seed=3)
    assert len(train) + len(test) == len(d)
    counts = np.bincount(test.labels.numpy(), minlength=10) / len(test)
    np.testing.assert_allclose(counts, np.bincount(d.labels.numpy()) / len(d), atol=0.01)
    again = d.split(0.2, seed=3)[1]
    assert torch.equal(again.images, test.images)
    with pytest.raises(DataError, match="test_fraction"):
        d.split(1.5)


def test_dataset_rejects_bad_arrays():
    with pytest.raises(DataError, match="4-D"):
        ImageDataset(torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.int64), ("a",))
    with pytest.raises(DataError, match="floating point"):
        ImageDataset(torch.zeros(3, 1, 8, 8, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64),
                     ("a",))
    with pytest.raises(DataError, match="labels must lie"):
        ImageDataset(torch.zeros(3, 1, 8, 8), torch.tensor([0, 1, 2]), ("a", "b"))


def _stl10_files(root, split, images, labels):
    # STL-10 stores each channel column-major: write (N, C, W, H) in C order
    images.transpose(0, 1, 3, 2).astype(np.uint8).tofile(root / f"{split}_X.bin")
    (labels + 1).astype(np.uint8).tofile(root / f"{split}_y.bin")


def test_stl10_binary_reader(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 3, 96, 96), dtype=np.uint8)
    images[0, 0, 5, 70] = 255  # row 5, column 70: checks the column-major layout
    images[0, 0, 70, 5] = 0
    labels = np.array([0, 9, 4])
    _stl10_files(tmp_path, "test", images, labels)
    d = load_stl10(tmp_path, "test")
    assert d.images.shape == (3, 3, 96, 96)
    np.testing.assert_allclose(d.images.numpy(), images / 255.0, atol=1e-7)
    np.testing.assert_array_equal(d.labels.numpy(), labels)
    assert d.classes[0] == "airplane" and len(d.classes) == 10
    assert load_stl10(tmp_path, "test", limit=2, size=32).images.shape == (2, 3, 32, 32)


def test_stl10_errors_name_the_files(tmp_path):
    with pytest.raises(DataError, match="train_X.bin.*train_y.bin.*never downloads"):
        load_stl10(tmp_path, "train")
    (tmp_path / "train_X.bin").write_bytes(b"\0" * 100)
    (tmp_path / "train_y.bin").write_bytes(b"\1")
    with pytest.raises(DataError, match="not a multiple"):
        load_stl10(tmp_path, "train")


def _idx(path, magic, array, compress=False):
    header = struct.pack(">i", magic) + b"".join(struct.pack(">i", s) for s in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_reader(tmp_path, compress):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = np.array([3, 1, 4, 1, 5])
    _idx(tmp_path / "t10k-images-idx3-ubyte", 2051, images, compress)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", 2049, labels, compress)
    d = load_mnist(tmp_path, "test")
    assert d.images.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(d.images[:, 0].numpy(), images / 255.0, atol=1e-7)
    np.testing.assert_array_equal(d.labels.numpy(), labels)


def test_mnist_errors(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    _idx(tmp_path / "train-images-idx3-ubyte", 2049, np.zeros((2, 28, 28)))
    _idx(tmp_path / "train-labels-idx1-ubyte", 2049, np.zeros(2))
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        load_mnist(tmp_path)


def test_image_folder_reader(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    pixels = {}
    for cls in ("cat", "ant"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            arr = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"{i}.png")
            pixels[(cls, i)] = arr
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    d = load_image_folder(tmp_path, size=6)
    assert d.classes == ("ant", "cat")
    np.testing.assert_array_equal(d.labels.numpy(), [0, 0, 1, 1])
    np.testing.assert_allclose(d.images[2].permute(1, 2, 0).numpy(), pixels[("cat", 0)] / 255.0,
                               atol=1e-6)
    assert load_image_folder(tmp_path, size=4, mode="L").images.shape == (4, 1, 4, 4)
    with pytest.raises(DataError, match="one sub-folder per class"):
        load_image_folder(tmp_path / "missing", size=4)


def test_image_folder_bad_layouts_are_named(tmp_path):
    from PIL import Image

    def save(path, side):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((side, side, 3), dtype=np.uint8)).save(path)

    save(tmp_path / "one" / "only" / "a.png", 6)
    with pytest.raises(DataError, match=r"1 class sub-folder\(s\) \['only'\]: .* at least two"):
        load_image_folder(tmp_path / "one")
    save(tmp_path / "empty" / "a" / "x.png", 6)
    (tmp_path / "empty" / "b").mkdir()
    (tmp_path / "empty" / "b" / "readme.txt").write_text("no images")
    with pytest.raises(DataError, match=r"class folder .*/b' holds no image files"):
        load_image_folder(tmp_path / "empty")
    save(tmp_path / "mixed" / "a" / "x.png", 6)
    save(tmp_path / "mixed" / "b" / "y.png", 8)
    with pytest.raises(DataError, match=r"images differ in size: .*6x6.*8x8.*\[data\] size"):
        load_image_folder(tmp_path / "mixed")
    assert load_image_folder(tmp_path / "mixed", size=(5, 7)).images.shape == (2, 3, 5, 7)
