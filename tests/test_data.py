import errno
import gzip
import os
import shutil

import pytest
import torch

from l1_trainer.core.files import mnist_cache
from l1_trainer.core.files.data import BUNDLED_MNIST, RAW_FILES, DataError, expected_sums, load_mnist
from l1_trainer.core.files.mnist_cache import CACHE_ENV
from l1_trainer.core.training.dataset import unit_float


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty cache folder of this test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture()
def bundle(tmp_path, cache):
    """A writable copy of the bundled files, to damage one at a time (with a cache that does
    not hold them yet)."""
    target = tmp_path / "bundle"
    target.mkdir()
    for name in [*(f"{f}.gz" for f in RAW_FILES), "SHA256SUMS"]:
        (target / name).write_bytes((BUNDLED_MNIST / name).read_bytes())
    return target


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory):
    """A torchvision-style MNIST root holding the decompressed files, as --data-dir takes."""
    root = tmp_path_factory.mktemp("mnist-root")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES:
        (raw / name).write_bytes(gzip.decompress((BUNDLED_MNIST / f"{name}.gz").read_bytes()))
    return root


def test_bundled_splits_have_mnist_shapes_and_tensors_like_to_tensor(mnist, raw_root):
    assert mnist.train_images.shape == (60_000, 784) and mnist.test_x.shape == (10_000, 784)
    assert mnist.train_images.dtype == torch.uint8 and mnist.test_x.dtype == torch.float32
    assert mnist.train_y.dtype == torch.int64
    assert 0 == mnist.train_images.min().item() and mnist.train_images.max().item() == 255
    assert set(mnist.train_y.unique().tolist()) == set(range(10))

    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    for train, x, y in ((True, unit_float(mnist.train_images), mnist.train_y), (False, mnist.test_x, mnist.test_y)):
        reference = MNIST(str(raw_root), train=train, transform=ToTensor())
        assert torch.equal(reference.targets, y)
        for i in (0, 1234, 9999):
            image, label = reference[i]
            assert torch.equal(image.flatten(), x[i]) and label == y[i].item()


def test_truncated_archive_names_the_file(bundle):
    archive = bundle / "t10k-labels-idx1-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:1000])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is damaged.*reinstall"):
        load_mnist(bundle=bundle)


def test_altered_bytes_fail_the_checksum(bundle):
    archive = bundle / "train-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(archive.read_bytes()))
    data[100] = (data[100] + 1) % 10  # one label changed: still a valid IDX file
    archive.write_bytes(gzip.compress(bytes(data)))
    expected = r"train-labels-idx1-ubyte.gz does not hold the original MNIST bytes.*expected 65a50cbbf4e906d7"
    with pytest.raises(DataError, match=expected):
        load_mnist(bundle=bundle)


def test_missing_archive_names_the_file(bundle):
    (bundle / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is missing; reinstall"):
        load_mnist(bundle=bundle)


def test_archive_replaced_by_a_folder_names_the_file(bundle):
    archive = bundle / "train-labels-idx1-ubyte.gz"
    archive.unlink()
    archive.mkdir()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz is damaged or unreadable"):
        load_mnist(bundle=bundle)


@pytest.mark.parametrize("damage", [
    lambda text: text.replace("  train-images", " train-images\tx"),
    lambda text: "not a checksum line\n" + text,
    lambda text: text[:40] + text[41:],
])
def test_malformed_checksum_list_names_its_line(bundle, damage):
    sums = bundle / "SHA256SUMS"
    sums.write_text(damage(sums.read_text()))
    with pytest.raises(DataError, match=r"SHA256SUMS line \d is not '<sha256>  <file name>'"):
        load_mnist(bundle=bundle)


def test_checksum_list_missing_or_incomplete(bundle):
    sums = bundle / "SHA256SUMS"
    sums.write_text("".join(sums.read_text().splitlines(keepends=True)[:3]))
    with pytest.raises(DataError, match="lists no SHA-256 for t10k-labels-idx1-ubyte"):
        load_mnist(bundle=bundle)
    sums.unlink()
    with pytest.raises(DataError, match="cannot read .*SHA256SUMS"):
        load_mnist(bundle=bundle)


def test_user_data_dir_is_verified(tmp_path, raw_root):
    raw = tmp_path / "mine" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES:
        os.symlink(raw_root / "MNIST" / "raw" / name, raw / name)
    data = load_mnist("cpu", data_dir=tmp_path / "mine")
    assert data.test_x.shape == (10_000, 784)

    images = raw / "t10k-images-idx3-ubyte"
    images.unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is missing; expected torchvision's"):
        load_mnist("cpu", data_dir=tmp_path / "mine")
    images.write_bytes(b"\0" * 16)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte does not hold the original.*replace it"):
        load_mnist("cpu", data_dir=tmp_path / "mine")


@pytest.mark.parametrize("kind", ["folder", "fifo", "huge"])
def test_user_data_dir_odd_files_fail_at_once(tmp_path, raw_root, kind):
    root = tmp_path / "odd"
    shutil.copytree(raw_root, root)
    labels = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.unlink()
    if kind == "folder":
        labels.mkdir()
    elif kind == "fifo":
        os.mkfifo(labels)  # reading it would block for ever
    else:
        with labels.open("wb") as fh:
            fh.truncate(2**33)  # sparse: 8 GB long, no disk used
    expected = "is 8,589,934,592 bytes, larger than any MNIST file" if kind == "huge" else "is not a regular file"
    with pytest.raises(DataError, match=f"train-labels-idx1-ubyte {expected}"):
        load_mnist("cpu", data_dir=root)


def test_subset_and_device_copy(mnist):
    small = mnist.to("cpu", train_subset=100)
    assert small.train_images.shape == (100, 784) and small.train_y.shape == (100,)
    assert torch.equal(small.train_images, mnist.train_images[:100])
    assert small.test_x.shape == (10_000, 784)


def _same(a, b):
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("train_images", "train_y", "test_x", "test_y"))


def test_a_start_after_the_first_reads_the_unpacked_cache(bundle, cache, mnist):
    sums = expected_sums(bundle)
    assert _same(load_mnist(bundle=bundle), mnist)
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{sums[n]}.idx" for n in RAW_FILES)
    for name in RAW_FILES:  # the bundle gone: the cache alone gives the same tensors
        (bundle / f"{name}.gz").write_bytes(b"")
    assert _same(load_mnist(bundle=bundle), mnist)


def test_a_damaged_cache_file_is_not_used_but_replaced(bundle, cache, mnist):
    load_mnist(bundle=bundle)
    damaged = cache / f"{expected_sums(bundle)['train-labels-idx1-ubyte']}.idx"
    data = bytearray(damaged.read_bytes())
    data[100] = (data[100] + 1) % 10  # one label changed
    damaged.write_bytes(bytes(data))
    assert _same(load_mnist(bundle=bundle), mnist)
    assert damaged.read_bytes() != bytes(data)  # written afresh from the bundle


def test_links_in_the_cache_are_not_followed(bundle, cache, tmp_path, mnist):
    load_mnist(bundle=bundle)
    name = f"{expected_sums(bundle)['t10k-labels-idx1-ubyte']}.idx"
    elsewhere = tmp_path / "elsewhere.idx"
    (cache / name).rename(elsewhere)
    (cache / name).symlink_to(elsewhere)  # the right bytes, behind a link
    (bundle / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is missing"):
        load_mnist(bundle=bundle)  # the link was not read
    shutil.copy(BUNDLED_MNIST / "t10k-labels-idx1-ubyte.gz", bundle)
    assert _same(load_mnist(bundle=bundle), mnist)
    assert not (cache / name).is_symlink() and elsewhere.read_bytes() == (cache / name).read_bytes()


def test_a_cache_folder_that_is_a_link_is_neither_read_nor_written(bundle, cache, tmp_path, mnist):
    real = tmp_path / "real"
    real.mkdir()
    cache.symlink_to(real)
    assert _same(load_mnist(bundle=bundle), mnist)
    assert list(real.iterdir()) == []


def test_a_full_disk_under_the_cache_costs_nothing_but_time(bundle, cache, mnist, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(mnist_cache, "write_private", full)
    assert _same(load_mnist(bundle=bundle), mnist)
    assert list(cache.iterdir()) == []


def test_files_of_another_bundle_are_removed(bundle, cache):
    cache.mkdir()
    stale = cache / f"{'0' * 64}.idx"
    stale.write_bytes(b"old")
    load_mnist(bundle=bundle)
    assert not stale.exists() and len(list(cache.iterdir())) == len(RAW_FILES)
