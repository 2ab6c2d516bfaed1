"""MNIST as tensors, from the files shipped in resources/mnist or a torchvision-style folder.

The bundled `.gz` files hold MNIST's original bytes (recompressed). They are unpacked,
checked against the published SHA-256 of the decompressed files and parsed (IDX format)
straight into tensors. The unpacked bytes are kept in the user's cache folder (mnist_cache.py),
so that later starts read and hash them instead of gunzipping; the bundle stays the source.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import torch

from .. import lazy
from ..errors import ExplainedError
from ..training.dataset import MnistTensors, unit_float
from . import mnist_cache
from .reading import NotAFile, TooLarge, read_regular
from .resources import resource

BUNDLED_MNIST = resource("mnist")
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MAX_RAW_BYTES = 47_040_016  # the largest MNIST file; anything longer is not MNIST
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *]?(\S+)$")
_IDX_UBYTE = 0x08


class DataError(ExplainedError):
    """The MNIST files are missing, damaged or not MNIST; the message names the file."""


def expected_sums(bundle: Traversable = BUNDLED_MNIST) -> dict[str, str]:
    """The published SHA-256 of each decompressed file, from the bundle's SHA256SUMS."""
    sums_file = bundle / "SHA256SUMS"
    try:
        lines = sums_file.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {sums_file} ({_reason(exc)}); reinstall L1 Trainer") from exc
    sums = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        found = _SUM_LINE.match(line.strip())
        if not found:
            raise DataError(f"{sums_file} line {number} is not '<sha256>  <file name>'; "
                            "reinstall L1 Trainer")
        sums[found.group(2)] = found.group(1)
    missing = [name for name in RAW_FILES if name not in sums]
    if missing:
        raise DataError(f"{sums_file} lists no SHA-256 for {', '.join(missing)}; reinstall L1 Trainer")
    return sums


def load_mnist(
    device: torch.device | str = "cpu",
    data_dir: Path | None = None,
    download: bool = False,
    bundle: Traversable = BUNDLED_MNIST,
) -> MnistTensors:
    """Both MNIST splits as tensors on `device`, verified before anything is parsed.

    With no `data_dir` the bundled copy is used (offline); otherwise `data_dir` is a
    torchvision-style root (`MNIST/raw/...` inside), which torchvision may fill itself when
    `download` is set."""
    sums = expected_sums(bundle)
    sources: list[Traversable]
    if data_dir is None:
        sources = [bundle / f"{name}.gz" for name in RAW_FILES]
        read, advice = _gunzip, "reinstall L1 Trainer"
    else:
        root = Path(data_dir)
        if download:
            _download(root)
        sources = [root / "MNIST" / "raw" / name for name in RAW_FILES]
        read, advice = _read_raw, "replace it with MNIST's own file"

    def verified(name: str, source: Traversable) -> torch.Tensor:
        if data_dir is None and (cached := mnist_cache.read_cached(sums[name], MAX_RAW_BYTES)) is not None:
            return _parse_idx(cached, source)
        data = read(source)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sums[name]:
            raise DataError(
                f"{source} does not hold the original MNIST bytes: SHA-256 {actual[:16]}..., "
                f"expected {sums[name][:16]}... (file truncated or altered); {advice}"
            )
        if data_dir is None:
            mnist_cache.store(sums[name], data, set(sums.values()))
        return _parse_idx(data, source)

    # zlib and hashlib release the GIL: the four files unpack and verify side by side.
    with ThreadPoolExecutor(max_workers=len(RAW_FILES)) as pool:
        train_images, train_y, test_images, test_y = pool.map(verified, RAW_FILES, sources)
    return MnistTensors(
        train_images=_flat(train_images).to(device),
        train_y=train_y.long().to(device),
        test_x=unit_float(_flat(test_images).to(device)),
        test_y=test_y.long().to(device),
    )


def _download(root: Path) -> None:
    try:
        mnist = lazy.MNIST
    except ImportError as exc:  # the standalone app leaves torchvision out: it is only for this
        raise DataError(f"this copy of L1 Trainer has no torchvision, which --download needs; put MNIST's "
                        f"four files in {root / 'MNIST' / 'raw'} and leave out --download, or leave out "
                        "--data-dir to use the bundled copy") from exc
    try:
        mnist(str(root), train=True, download=True)
        mnist(str(root), train=False, download=True)
    except (OSError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())  # torchvision's message spans several lines
        raise DataError(f"downloading MNIST into {root} failed: {reason}") from exc


def _parse_idx(data: bytes | bytearray, source: Traversable) -> torch.Tensor:
    """An IDX file of unsigned bytes as a tensor of its declared shape (sharing a bytearray's
    memory; copied out of read-only bytes)."""
    ndim = data[3] if len(data) >= 4 else 0
    header = 4 + 4 * ndim
    if len(data) < header or data[:3] != bytes([0, 0, _IDX_UBYTE]):
        raise DataError(f"{source} is not an IDX file of bytes")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    if array.size != int(np.prod(shape)):
        raise DataError(f"{source} holds {array.size} values, its header says {shape}")
    return torch.from_numpy(array.reshape(shape) if array.flags.writeable else array.reshape(shape).copy())


def _flat(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) -> (N, 784), as the MLP takes them."""
    return images.reshape(images.shape[0], -1)


def _gunzip(path: Traversable) -> bytes:
    try:
        with path.open("rb") as raw, gzip.GzipFile(fileobj=raw) as fh:
            data = fh.read(MAX_RAW_BYTES + 1)
    except FileNotFoundError as exc:
        raise DataError(f"{path} is missing; reinstall L1 Trainer to restore the bundled MNIST") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is damaged or unreadable ({_reason(exc)}); reinstall L1 Trainer") from exc
    return data


def _read_raw(path: Traversable) -> bytes:
    """A file of a user's MNIST folder: a regular file no larger than MNIST's largest."""
    real = Path(str(path))  # the user's files are on disk (the bundle's are Traversables)
    try:
        return read_regular(real, MAX_RAW_BYTES)
    except NotAFile as exc:
        raise DataError(f"{exc}; put MNIST's {real.name} there") from exc
    except TooLarge as exc:
        raise DataError(f"{exc}, larger than any MNIST file") from exc
    except FileNotFoundError as exc:
        raise DataError(
            f"{real} is missing; expected torchvision's MNIST layout under {real.parents[2]} "
            "(use --download when online, or leave out --data-dir to use the bundled copy)"
        ) from exc
    except OSError as exc:
        raise DataError(f"cannot read {real} ({_reason(exc)}); check its permissions") from exc


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
