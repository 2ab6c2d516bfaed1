import gzip
import os
import shutil

import pytest
import torch

from core.data import BUNDLED_MNIST, RAW_FILES, DataError, load_mnist, prepare_bundled, verify_raw


@pytest.fixture()
def bundle(tmp_path):
    """A writable copy of the bundled files, to damage one at a time."""
    target = tmp_path / "bundle"
    target.mkdir()
    for name in [*(f"{f}.gz" for f in RAW_FILES), "SHA256SUMS"]:
        shutil.copy(BUNDLED_MNIST / name, target / name)
    return target


def test_bundled_splits_have_mnist_shapes_and_tensors_like_to_tensor(mnist):
    assert mnist.train_x.shape == (60_000, 784) and mnist.test_x.shape == (10_000, 784)
    assert mnist.train_x.dtype == torch.float32
    assert 0.0 == mnist.train_x.min().item() and mnist.train_x.max().item() == 1.0
    assert set(mnist.train_y.unique().tolist()) == set(range(10))

    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    root = prepare_bundled()
    reference = MNIST(str(root), train=False, transform=ToTensor())
    for i in (0, 1234, 9999):
        image, label = reference[i]
        assert torch.equal(image.flatten(), mnist.test_x[i])
        assert label == mnist.test_y[i].item()


def test_unpacks_once_and_reuses_the_verified_copy(tmp_path, bundle):
    root = prepare_bundled(tmp_path / "cache", bundle)
    raw = root / "MNIST" / "raw"
    stamps = {f: (raw / f).stat().st_mtime_ns for f in RAW_FILES}
    prepare_bundled(tmp_path / "cache", bundle)
    assert stamps == {f: (raw / f).stat().st_mtime_ns for f in RAW_FILES}


def test_damaged_cache_copy_is_replaced_from_the_bundle(tmp_path, bundle):
    root = prepare_bundled(tmp_path / "cache", bundle)
    labels = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    good = labels.read_bytes()
    labels.write_bytes(good[:100])
    prepare_bundled(tmp_path / "cache", bundle)
    assert labels.read_bytes() == good


def test_truncated_archive_names_the_file(tmp_path, bundle):
    archive = bundle / "t10k-labels-idx1-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:1000])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is damaged"):
        prepare_bundled(tmp_path / "cache", bundle)
    assert not (tmp_path / "cache" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()


def test_altered_bytes_fail_the_checksum(tmp_path, bundle):
    archive = bundle / "train-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(archive.read_bytes()))
    data[100] = (data[100] + 1) % 10  # one label changed: still a valid IDX file
    archive.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz does not hold the original MNIST bytes.*expected 65a50cbbf4e906d7"):
        prepare_bundled(tmp_path / "cache", bundle)
    assert not (tmp_path / "cache" / "MNIST" / "raw" / "train-labels-idx1-ubyte").exists()


def test_missing_archive_names_the_file(tmp_path, bundle):
    (bundle / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is missing"):
        prepare_bundled(tmp_path / "cache", bundle)


def test_user_data_dir_is_verified(tmp_path):
    source = prepare_bundled() / "MNIST" / "raw"
    raw = tmp_path / "mine" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES:
        os.symlink(source / name, raw / name)
    data = load_mnist("cpu", data_dir=tmp_path / "mine")
    assert data.test_x.shape == (10_000, 784)

    (raw / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is missing"):
        load_mnist("cpu", data_dir=tmp_path / "mine")

    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\0" * 16)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte does not hold the original"):
        verify_raw(tmp_path / "mine")


def test_subset_and_device_copy(mnist):
    small = mnist.to("cpu", train_subset=100)
    assert small.train_x.shape == (100, 784) and small.train_y.shape == (100,)
    assert torch.equal(small.train_x, mnist.train_x[:100])
    assert small.test_x.shape == (10_000, 784)
