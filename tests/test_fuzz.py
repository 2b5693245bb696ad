"""A small run of the upload fuzzer (benchmarks/fuzz_uploads.py runs >= 10,000 cases):
mutated PNG, JPEG, GIF, WebP and BMP files must each end in a valid 28x28 float32 image in
[0, 1] or in InputError; any other outcome fails the test."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from fashion.data.bad_files import FUZZ_FORMATS, fuzz_cases, fuzz_seeds
from fashion.data.preprocess import InputError, photo

CASES = 300


def test_every_seed_is_a_valid_image():
    # The mutations only mean something if they start from files the photo path accepts.
    seeds = fuzz_seeds()
    assert {name.split("-")[0] for name in seeds} == set(FUZZ_FORMATS)
    for name, data in seeds.items():
        assert photo(data).image.shape == (28, 28), name


def test_cases_are_deterministic_and_mutated():
    a, b = list(fuzz_cases(20, seed=5)), list(fuzz_cases(20, seed=5))
    assert a == b
    seeds = set(fuzz_seeds().values())
    assert sum(data not in seeds for _fmt, data in a) >= 18


# Absurd dimensions make Pillow warn before our own cap refuses the file: expected here.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_fuzzed_uploads_end_in_an_image_or_input_error(seed):
    outcomes: collections.Counter[str] = collections.Counter()
    for k, (fmt, data) in enumerate(fuzz_cases(CASES // 3, seed=seed)):
        try:
            image = photo(data).image
        except InputError as exc:
            assert str(exc), f"case {k} ({fmt}): InputError without a message"
            outcomes["refused"] += 1
            continue
        # Anything but InputError propagates and fails the test with its traceback.
        assert image.shape == (28, 28) and image.dtype == np.float32, (k, fmt)
        assert np.isfinite(image).all(), (k, fmt)
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0, (k, fmt)
        outcomes["accepted"] += 1
    # A fuzzer whose every case is refused (or accepted) at once tests nothing deep.
    assert outcomes["refused"] >= 10 and outcomes["accepted"] >= 10, outcomes
