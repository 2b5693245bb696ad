"""The IDX reader and the dataset finder, against files the tests write themselves."""

from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pytest

from fashion.data import official


def _idx_bytes(array: np.ndarray) -> bytes:
    # IDX: two zero bytes, a type code (0x08 = ubyte), the number of dims, then each dim
    # as a big-endian uint32, then the data.
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_parse_idx_reads_images_and_labels():
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    np.testing.assert_array_equal(official.parse_idx(_idx_bytes(images)), images)
    np.testing.assert_array_equal(official.parse_idx(_idx_bytes(labels)), labels)


def test_parse_idx_reads_big_endian_ints():
    values = np.array([1, -2, 70000], dtype=">i4")
    raw = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes()
    assert official.parse_idx(raw).tolist() == [1, -2, 70000]


def test_truncated_idx_is_a_clear_error():
    raw = _idx_bytes(np.zeros((10, 28, 28), np.uint8))[:-100]
    with pytest.raises(official.DatasetError, match="truncated or corrupt"):
        official.parse_idx(raw, "my-file")


@pytest.mark.parametrize("raw", [b"", b"\x00\x00", b"PK\x03\x04rest", b"\x00\x00\x99\x01abcd"])
def test_garbage_is_not_an_idx_file(raw):
    with pytest.raises(official.DatasetError):
        official.parse_idx(raw)


def _write_official_like(directory, corrupt: str | None = None):
    """Write four small IDX files; return the SHA table that makes them 'official'."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 4),
    }
    shas = {}
    for stem, arr in arrays.items():
        raw = _idx_bytes(arr)
        shas[stem] = hashlib.sha256(raw).hexdigest()
        if stem == corrupt:
            raw = raw[:-5]
        (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
    return arrays, shas


def test_load_directory_verifies_and_loads(tmp_path, monkeypatch):
    arrays, shas = _write_official_like(tmp_path)
    monkeypatch.setattr(official, "OFFICIAL_SHA256", shas)
    train, test = official.load_directory(tmp_path)
    np.testing.assert_array_equal(train.images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(test.labels, arrays["t10k-labels-idx1-ubyte"])
    assert train.as_float().shape == (6, 28, 28, 1)
    assert train.as_float().max() <= 1.0


def test_corrupted_file_names_the_file(tmp_path, monkeypatch):
    _, shas = _write_official_like(tmp_path, corrupt="t10k-images-idx3-ubyte")
    monkeypatch.setattr(official, "OFFICIAL_SHA256", shas)
    with pytest.raises(official.DatasetError, match="t10k-images-idx3-ubyte.*SHA-256"):
        official.load_directory(tmp_path)


def test_non_official_content_is_refused(tmp_path):
    # Valid IDX files, but not the official bytes: must never be used silently.
    _write_official_like(tmp_path)
    with pytest.raises(official.DatasetError, match="does not match the official release"):
        official.load_directory(tmp_path)


def test_broken_gzip_is_a_clear_error(tmp_path, monkeypatch):
    _, shas = _write_official_like(tmp_path)
    monkeypatch.setattr(official, "OFFICIAL_SHA256", shas)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(official.DatasetError, match="train-labels-idx1-ubyte.gz"):
        official.load_directory(tmp_path)


def test_env_var_takes_precedence(tmp_path, monkeypatch):
    _write_official_like(tmp_path)
    monkeypatch.setenv(official.ENV_VAR, str(tmp_path))
    directory, source = official.find(download=False)
    assert directory == tmp_path
    assert official.ENV_VAR in source


def test_nothing_found_lists_all_four_ways(tmp_path, monkeypatch):
    monkeypatch.delenv(official.ENV_VAR, raising=False)
    monkeypatch.setattr(official, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(official, "KERAS_CACHE_DIR", tmp_path / "keras")
    monkeypatch.setattr(official, "MIRROR_URL", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(official.DatasetError) as err:
        official.find()
    message = str(err.value)
    for way in (
        official.ENV_VAR,
        "apt-get install dataset-fashion-mnist",
        "Keras cache",
        "127.0.0.1",
    ):
        assert way in message


def test_official_dataset(dataset):
    assert dataset.train.images.shape == (60000, 28, 28)
    assert dataset.test.images.shape == (10000, 28, 28)
    assert dataset.train.images.dtype == np.uint8
    # The official split is balanced: 6,000 / 1,000 images per class.
    assert np.bincount(dataset.train.labels).tolist() == [6000] * 10
    assert np.bincount(dataset.test.labels).tolist() == [1000] * 10
    assert dataset.source


def test_validation_split_is_stratified_disjoint_and_seeded(dataset):
    fit, val = official.train_val_split(dataset.train, 0.1, seed=3)
    assert len(fit) == 54000 and len(val) == 6000
    assert np.bincount(val.labels).tolist() == [600] * 10
    fit2, val2 = official.train_val_split(dataset.train, 0.1, seed=3)
    np.testing.assert_array_equal(val.images, val2.images)
    _, val3 = official.train_val_split(dataset.train, 0.1, seed=4)
    assert not np.array_equal(val.images, val3.images)
