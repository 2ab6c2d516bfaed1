"""MNIST from the files shipped in resources/mnist, verified by SHA-256 and read by torchvision.

The bundled `.gz` files hold the original bytes but were recompressed, so torchvision's own
MD5 check of the archives would fail; we unpack them once into a per-user cache folder in
torchvision's `MNIST/raw` layout, verify the decompressed bytes, and let torchvision read them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from core.files import write_atomic

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
BUNDLED_MNIST = RESOURCES / "mnist"
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(RuntimeError):
    """The MNIST files are missing, damaged or not MNIST; the message names the file."""


@dataclass(frozen=True)
class MnistTensors:
    """Both splits as whole tensors on one device: images (N, 784) float in [0, 1], labels int64."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def to(self, device: torch.device | str, train_subset: int | None = None) -> MnistTensors:
        """The same data on `device`, keeping only the first `train_subset` training images."""
        n = train_subset or len(self.train_x)
        return MnistTensors(
            self.train_x[:n].to(device),
            self.train_y[:n].to(device),
            self.test_x.to(device),
            self.test_y.to(device),
        )


def expected_sums(bundle: Path = BUNDLED_MNIST) -> dict[str, str]:
    """The published SHA-256 of each decompressed file, from the bundle's SHA256SUMS."""
    sums_file = bundle / "SHA256SUMS"
    try:
        lines = sums_file.read_text().split("\n")
    except OSError as exc:
        raise DataError(f"cannot read {sums_file}: {exc.strerror}; reinstall L1 Trainer") from exc
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    missing = [name for name in RAW_FILES if name not in sums]
    if missing:
        raise DataError(f"{sums_file} lists no SHA-256 for {', '.join(missing)}")
    return sums


def default_cache_root() -> Path:
    """The per-user folder the bundled files are unpacked into (torchvision's `root`)."""
    override = os.environ.get("L1_TRAINER_CACHE")
    if override:
        return Path(override)
    import platformdirs  # only here: the CLI's --help should not pay for it

    return Path(platformdirs.user_cache_dir("l1-trainer"))


def prepare_bundled(cache_root: Path | None = None, bundle: Path = BUNDLED_MNIST) -> Path:
    """Unpack the bundled archives into `cache_root/MNIST/raw` unless a verified copy is there.

    Returns the torchvision root. Raises DataError naming the file when an archive is missing,
    truncated or holds other bytes than MNIST's."""
    root = cache_root or default_cache_root()
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    sums = expected_sums(bundle)
    for name in RAW_FILES:
        target = raw / name
        if target.exists() and _sha256_file(target) == sums[name]:
            continue
        data = _gunzip(bundle / f"{name}.gz")
        _check_sum(bundle / f"{name}.gz", hashlib.sha256(data).hexdigest(), sums[name])
        write_atomic(target, data)
    return root


def verify_raw(root: Path, bundle: Path = BUNDLED_MNIST) -> None:
    """Check the four files under `root/MNIST/raw` against the published SHA-256 sums."""
    sums = expected_sums(bundle)
    for name in RAW_FILES:
        path = root / "MNIST" / "raw" / name
        if not path.is_file():
            raise DataError(
                f"{path} is missing; expected torchvision's MNIST layout under {root} "
                "(use --download when online, or leave out --data-dir to use the bundled copy)"
            )
        _check_sum(path, _sha256_file(path), sums[name])


def load_mnist(
    device: torch.device | str = "cpu",
    data_dir: Path | None = None,
    download: bool = False,
) -> MnistTensors:
    """Both MNIST splits as tensors on `device`, verified before anything is read.

    With no `data_dir` the bundled copy is used (offline); otherwise `data_dir` is a
    torchvision-style root, which torchvision may fill itself when `download` is set."""
    from torchvision.datasets import MNIST  # heavy import, kept off the module's import path

    if data_dir is None:
        root = prepare_bundled()
    else:
        root = Path(data_dir)
        if download:
            try:
                MNIST(str(root), train=True, download=True)
                MNIST(str(root), train=False, download=True)
            except (OSError, RuntimeError) as exc:
                raise DataError(f"downloading MNIST into {root} failed: {exc}") from exc
        verify_raw(root)
    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    return MnistTensors(
        train_x=_as_float_images(train.data, device),
        train_y=train.targets.to(device),
        test_x=_as_float_images(test.data, device),
        test_y=test.targets.to(device),
    )


def _as_float_images(images: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    # Same values as torchvision's ToTensor (float, then / 255), flattened once for the MLP.
    return images.to(device).reshape(images.shape[0], -1).float().div_(255)


def _gunzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError as exc:
        raise DataError(f"{path} is missing; reinstall L1 Trainer to restore the bundled MNIST") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is damaged ({exc}); reinstall L1 Trainer") from exc


def _check_sum(path: Path, actual: str, expected: str) -> None:
    if actual != expected:
        raise DataError(
            f"{path} does not hold the original MNIST bytes: SHA-256 {actual[:16]}..., "
            f"expected {expected[:16]}... (file truncated or altered)"
        )


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()

