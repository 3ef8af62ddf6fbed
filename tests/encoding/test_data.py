"""Datasets: the bundled digits and the local loaders, on tiny files in the real formats."""

import gzip
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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
    with pytest.raises(DataError, match="uint8 pixels or floating point"):
        ImageDataset(torch.zeros(3, 1, 8, 8, dtype=torch.int16), torch.zeros(3, dtype=torch.int64),
                     ("a",))
    with pytest.raises(DataError, match="labels must lie"):
        ImageDataset(torch.zeros(3, 1, 8, 8), torch.tensor([0, 1, 2]), ("a", "b"))


@given(st.integers(1, 9), st.integers(1, 4), st.sampled_from([None, 5, (3, 7)]),
       st.integers(0, 2**31 - 1))
def test_stored_pixels_are_read_at_the_model_size_batch_by_batch(n, batch, size, seed):
    """uint8 pixels are kept as they are and read as value / 255, resized per batch: the same
    numbers as resizing the whole float set at once, in any order and batch size."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n, 2, 6, 4), dtype=np.uint8)
    labels = torch.as_tensor(rng.integers(0, 3, n))
    d = ImageDataset(pixels, labels, ("a", "b", "c"), size=size)
    whole = torch.from_numpy(pixels).float() / 255.0
    if size is not None:
        whole = torch.nn.functional.interpolate(
            whole, size=(size, size) if np.isscalar(size) else size, mode="bilinear",
            align_corners=False)
    assert d.stored_bytes == pixels.nbytes
    assert d.image_shape == tuple(whole.shape[1:])
    torch.testing.assert_close(d.images, whole, rtol=0, atol=0)
    order = rng.permutation(n)
    got = list(d.batches(batch, order))
    assert [len(x) for x, _ in got] == [len(order[i:i + batch]) for i in range(0, n, batch)]
    torch.testing.assert_close(torch.cat([x for x, _ in got]), whole[order], rtol=0, atol=0)
    assert torch.equal(torch.cat([y for _, y in got]), labels[order])
    sub = d.subset(order[: max(1, n // 2)])
    torch.testing.assert_close(sub.images, whole[order[: max(1, n // 2)]], rtol=0, atol=0)
    x, y = d[n - 1]
    torch.testing.assert_close(x, whole[n - 1], rtol=0, atol=0)
    assert y == int(labels[n - 1])


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
    assert d.stored_bytes == 0  # mapped from the file, read where indexed
    np.testing.assert_allclose(d.batch([2, 0]).numpy(), images[[2, 0]] / 255.0, atol=1e-7)
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
    # file-backed: the names are held, pixels decoded when read, by worker processes too
    assert d.stored_bytes == 0
    for workers in (0, 1):
        got = list(d.batches(3, [3, 1, 2, 0], workers=workers))
        torch.testing.assert_close(torch.cat([x for x, _ in got]), d.images[[3, 1, 2, 0]],
                                   rtol=0, atol=0)
        assert torch.cat([y for _, y in got]).tolist() == [1, 0, 1, 0]
    (tmp_path / "ant" / "x.png").write_bytes(b"truncated")
    with pytest.raises(DataError, match=r"cannot read image .*x\.png"):
        load_image_folder(tmp_path, size=6)
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


def _folder_of(tmp_path, save):
    """A two-class folder whose class "a" holds the one image ``save(path)`` writes and class
    "b" a plain 8-bit grey image of the same size."""
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    save(tmp_path / "a")
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(tmp_path / "b" / "zero.png")
    return tmp_path


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_a_16_bit_png_is_read_by_its_bit_depth_not_clipped(seed):
    # PIL's convert("L") clips 16-bit values at 255: the class would load as white
    import tempfile
    from pathlib import Path

    from PIL import Image

    values = np.random.default_rng(seed).integers(0, 65536, (5, 7)).astype(np.uint16)
    with tempfile.TemporaryDirectory() as tmp:
        root = _folder_of(Path(tmp), lambda d: Image.fromarray(values).save(d / "x.png"))
        with Image.open(root / "a" / "x.png") as im:
            assert im.mode in ("I;16", "I")  # what PIL makes of a 16-bit grey PNG
        for mode, channels in (("L", 1), ("RGB", 3)):
            data = load_image_folder(root, mode=mode)
            got = data.images[data.labels == 0][0].numpy()
            assert got.shape == (channels, 5, 7)
            np.testing.assert_allclose(got, np.broadcast_to(values / 65535.0, got.shape),
                                       atol=1e-7)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_an_image_with_alpha_is_composited_over_black(tmp_path, mode):
    from PIL import Image

    rgba = np.zeros((5, 7, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = np.linspace(0, 255, 7).astype(np.uint8)[None, :]
    source = Image.fromarray(rgba, "RGBA").convert(mode)
    root = _folder_of(tmp_path, lambda d: source.save(d / "x.png"))
    data = load_image_folder(root, mode="RGB")
    got = data.images[data.labels == 0][0].numpy()
    back = np.asarray(source.convert("RGBA"), dtype=np.float64) / 255.0
    expected = (back[..., :3] * back[..., 3:]).transpose(2, 0, 1)  # over black: rgb * alpha
    np.testing.assert_allclose(got, expected, atol=1.5 / 255)
    assert got[:, :, 0].max() == 0.0  # fully transparent reads as 0, not its stored colour


def test_a_float_image_in_the_unit_interval_is_taken_as_it_is_and_beyond_it_refused(tmp_path):
    from PIL import Image

    values = np.linspace(0, 1, 35, dtype=np.float32).reshape(5, 7)
    root = _folder_of(tmp_path, lambda d: Image.fromarray(values, "F").save(d / "x.tif"))
    data = load_image_folder(root, mode="L")
    np.testing.assert_array_equal(data.images[data.labels == 0][0, 0].numpy(), values)
    Image.fromarray(values * 3, "F").save(root / "a" / "x.tif")
    with pytest.raises(DataError, match=r"x\.tif.*mode 'F'.*values 0\.\.3"):
        load_image_folder(root, mode="L").images  # decoded, and refused, when read


def test_a_palette_image_with_a_transparent_index_reads_that_index_as_black(tmp_path):
    from PIL import Image

    index = (np.arange(35).reshape(5, 7) % 2).astype(np.uint8)
    source = Image.fromarray(index, "P")
    source.putpalette([200, 100, 50, 10, 20, 30] + [0] * 762)
    root = _folder_of(tmp_path, lambda d: source.save(d / "x.png", transparency=0))
    data = load_image_folder(root, mode="RGB")
    got = data.images[data.labels == 0][0].numpy()
    colour = np.array([10, 20, 30])[:, None, None] / 255.0
    np.testing.assert_allclose(got, np.where(index[None] == 1, colour, 0.0), atol=1e-7)
