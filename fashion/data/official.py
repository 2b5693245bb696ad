"""Find, verify and load the official Fashion-MNIST IDX files.

The dataset is looked for in this order: $FASHION_MNIST_DIR, Debian's package
(`/usr/share/datasets/fashion-mnist`), the Keras cache, then a download from the official
mirror (README, "Data"); the caller can always ask which source was used
(`load().source`). Every file is checked against the SHA-256 of the official release's
decompressed content, so a truncated download or a Kaggle re-split can never be
mistaken for the real thing.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# SHA-256 of the decompressed official files (zalandoresearch/fashion-mnist release).
OFFICIAL_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
ENV_VAR = "FASHION_MNIST_DIR"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE_DIR = Path.home() / ".keras" / "datasets" / "fashion-mnist"
MIRROR_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# IDX element type codes (third byte of the magic number) -> numpy dtype, big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DatasetError(RuntimeError):
    """The dataset is missing, corrupt or not the official release."""


@dataclass(frozen=True)
class Split:
    """One split: uint8 images (N, 28, 28) and uint8 labels (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def as_float(self) -> np.ndarray:
        """Images as float32 in [0, 1] with a channel axis: (N, 28, 28, 1)."""
        return (self.images.astype(np.float32) / 255.0)[..., None]


@dataclass(frozen=True)
class Dataset:
    train: Split
    test: Split
    source: str  # human-readable: which of the four locations the files came from
    directory: str


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into a numpy array.

    Args:
        raw: the whole file content.
        name: used in error messages so the user knows which file is bad.

    Returns:
        An array with the shape and element type the header declares.

    Raises:
        DatasetError: the header is malformed or the data is shorter or longer than
            the header declares.
    """
    if len(raw) < 4:
        raise DatasetError(f"{name}: too short to be an IDX file ({len(raw)} bytes)")
    zero1, zero2, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero1 != 0 or zero2 != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise DatasetError(f"{name}: not an IDX file (bad magic number {raw[:4].hex()})")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(f"{name}: truncated header")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_len
    if actual != expected:
        raise DatasetError(
            f"{name}: header declares shape {shape} ({expected} data bytes) but the file "
            f"holds {actual} data bytes; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _read_member(directory: Path, stem: str) -> bytes:
    """Decompressed bytes of `stem` in `directory`, gzipped or plain."""
    gz, plain = directory / f"{stem}.gz", directory / stem
    if gz.exists():
        try:
            with gzip.open(gz, "rb") as fh:
                return fh.read()
        except (OSError, EOFError) as exc:
            raise DatasetError(
                f"{gz}: cannot be decompressed ({exc}); the file is corrupt"
            ) from exc
    if plain.exists():
        return plain.read_bytes()
    raise FileNotFoundError(gz)


def _has_all_files(directory: Path) -> bool:
    return all(
        (directory / f"{stem}.gz").exists() or (directory / stem).exists()
        for stem in OFFICIAL_SHA256
    )


def load_directory(directory: str | os.PathLike, verify: bool = True) -> tuple[Split, Split]:
    """Load the four IDX files from one folder, checking each against its SHA-256.

    Raises:
        DatasetError: a file is corrupt, truncated or not the official content.
        FileNotFoundError: a file is missing.
    """
    directory = Path(directory)
    arrays = {}
    for stem, sha in OFFICIAL_SHA256.items():
        raw = _read_member(directory, stem)
        if verify:
            digest = hashlib.sha256(raw).hexdigest()
            if digest != sha:
                raise DatasetError(
                    f"{directory / stem}: SHA-256 {digest} does not match the official "
                    f"release ({sha}); the file is corrupt, truncated or not the official "
                    "Fashion-MNIST"
                )
        arrays[stem] = parse_idx(raw, str(directory / stem))
    train = Split(arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"])
    test = Split(arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"])
    if len(train.images) != len(train.labels) or len(test.images) != len(test.labels):
        raise DatasetError(f"{directory}: image and label counts differ")
    return train, test


def _download(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stem in OFFICIAL_SHA256:
        target = directory / f"{stem}.gz"
        if target.exists():
            continue
        tmp = target.with_suffix(".gz.part")
        with urllib.request.urlopen(MIRROR_URL + f"{stem}.gz", timeout=30) as resp:
            tmp.write_bytes(resp.read())
        tmp.replace(target)


def _not_found_message(tried: list[str]) -> str:
    lines = [
        "Fashion-MNIST was not found. Any one of these works:",
        f"  1. set ${ENV_VAR} to a folder holding the four official *-ubyte.gz files;",
        "  2. on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist "
        f"(installs {DEBIAN_DIR});",
        f"  3. put the four files in the Keras cache, {KERAS_CACHE_DIR};",
        f"  4. allow a download from the official mirror, {MIRROR_URL}",
        "What was tried:",
    ]
    return "\n".join(lines + [f"  - {t}" for t in tried])


def find(download: bool = True) -> tuple[Path, str]:
    """Return (folder, source description) of the first location holding all four files."""
    tried: list[str] = []
    candidates: list[tuple[Path, str]] = []
    if os.environ.get(ENV_VAR):
        candidates.append((Path(os.environ[ENV_VAR]), f"${ENV_VAR}"))
    else:
        tried.append(f"${ENV_VAR}: not set")
    candidates += [
        (DEBIAN_DIR, "Debian package dataset-fashion-mnist"),
        (KERAS_CACHE_DIR, "Keras cache"),
    ]
    for directory, label in candidates:
        if _has_all_files(directory):
            return directory, f"{label} ({directory})"
        tried.append(f"{label}: {directory} does not hold all four files")
    if download:
        try:
            _download(KERAS_CACHE_DIR)
            return KERAS_CACHE_DIR, f"downloaded from {MIRROR_URL} into {KERAS_CACHE_DIR}"
        except OSError as exc:
            tried.append(f"download from {MIRROR_URL}: {exc}")
    else:
        tried.append("download: not attempted")
    raise DatasetError(_not_found_message(tried))


@functools.lru_cache(maxsize=1)
def load() -> Dataset:
    """The official dataset, verified, loaded once per process."""
    directory, source = find()
    train, test = load_directory(directory)
    return Dataset(train=train, test=test, source=source, directory=str(directory))


def test_set() -> Split:
    return load().test


def train_set() -> Split:
    return load().train


def train_val_split(train: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Stratified split of the training set; the test set is never used for choices."""
    rng = np.random.default_rng(seed)
    val_idx: list[np.ndarray] = []
    for label in np.unique(train.labels):
        idx = np.flatnonzero(train.labels == label)
        rng.shuffle(idx)
        val_idx.append(idx[: int(round(len(idx) * val_fraction))])
    val = np.sort(np.concatenate(val_idx)) if val_idx else np.array([], dtype=int)
    mask = np.ones(len(train), dtype=bool)
    mask[val] = False
    return (
        Split(train.images[mask], train.labels[mask]),
        Split(train.images[val], train.labels[val]),
    )


def model_splits(limit: int | None, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """The (fit, validation) splits a model is trained on: the first `limit` training
    images (all when None), then a stratified split. Training and calibration both call
    this, so calibration always fits on exactly the images training held out."""
    train = train_set()
    if limit:
        train = Split(train.images[:limit], train.labels[:limit])
    return train_val_split(train, val_fraction, seed)
