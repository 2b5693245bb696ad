"""Hostile and broken uploads (issue 5): every bad file the tests write is refused with
an InputError whose message says what is wrong, and nothing dangerous is decoded."""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from fashion.data import preprocess, uploads
from fashion.data.bad_files import animated_gif, bad_files, bomb_png
from fashion.data.renders import boot_mask, encode, paint, shirt_mask
from fashion.data.uploads import MAX_UPLOAD_BYTES, InputError

CORPUS = bad_files(MAX_UPLOAD_BYTES)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)
    assert preprocess.InputError is InputError  # the app imports it from either module


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_bad_file_is_refused_with_a_clear_message(case):
    _name, data, word = CORPUS[case]
    with pytest.raises(InputError) as info:
        preprocess.photo(data)
    message = str(info.value)
    assert word.lower() in message.lower(), message
    # A message for a person: a full sentence, no Python internals dumped on them.
    assert len(message) > 20 and "Traceback" not in message and "\n" not in message


def test_bomb_is_refused_before_decoding(monkeypatch):
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda self: loads.append(self.size) or real_load(self)
    )
    data = bomb_png()
    assert len(data) < 20_000  # "a few KB" that declares 400 M pixels
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="megapixels"):
        uploads.decode(data)
    assert time.perf_counter() - t0 < 2.0
    assert loads == [], "pixel data was decoded before the size was checked"


def test_complete_bomb_is_refused_too():
    # All 20000 rows present (~50 KB of deflate): a real bomb, not just a lying header.
    with pytest.raises(InputError, match="megapixels"):
        uploads.decode(bomb_png(full=True))


@pytest.mark.parametrize(
    "size",
    [
        (6000, 5000),  # over our 25 MP cap, under Pillow's 89 MP warning threshold
        (12000, 10000),  # between Pillow's warning and error thresholds: only a warning
    ],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_our_pixel_cap_applies_below_pillows(size):
    with pytest.raises(InputError, match="megapixels"):
        uploads.decode(bomb_png(*size))


def test_pillow_bomb_warning_is_an_error_even_with_a_raised_cap():
    # A caller raising max_pixels must not open the gap where Pillow only warns.
    data = bomb_png(12000, 10000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as if someone silenced warnings process-wide
        with pytest.raises(InputError, match="megapixels"):
            uploads.decode(data, max_pixels=10**10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError):
            uploads.decode(data, max_pixels=10**10)


def test_oversize_bytes_are_refused_without_parsing(monkeypatch):
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("parsed an oversize file"))
    with pytest.raises(InputError, match="limit"):
        uploads.decode(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_UPLOAD_BYTES)


def test_size_cap_is_the_streamlit_one():
    # .streamlit/config.toml's server.maxUploadSize is in MiB; both must agree.
    from pathlib import Path

    config = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"
    if not config.exists():
        pytest.skip("no .streamlit/config.toml")
    text = config.read_text()
    assert f"maxUploadSize = {MAX_UPLOAD_BYTES // 2**20}" in text.replace("  ", " ")


def test_animated_gif_uses_the_first_frame():
    shirt = np.where(shirt_mask(120, 160), 20, 235).astype(np.uint8)
    boot = np.where(boot_mask(120, 160), 20, 235).astype(np.uint8)
    data = animated_gif([shirt, boot])
    with Image.open(io.BytesIO(data)) as im:
        assert getattr(im, "n_frames", 1) == 2  # the test file really is animated
    decoded = np.asarray(uploads.decode(data).convert("L"))
    assert decoded.shape == shirt.shape
    assert np.abs(decoded.astype(int) - shirt).mean() < 3
    got = preprocess.photo(data).image
    want = preprocess.photo(encode(shirt)).image
    assert np.abs(got - want).mean() < 0.02


def test_file_name_does_not_matter_only_content():
    # A real PNG named .php is fine; a PHP script named .png is not (see the corpus).
    png = encode(paint(shirt_mask(), 30, 230))
    assert preprocess.photo(png).image.shape == (28, 28)


def test_disallowed_format_is_refused_even_if_pillow_can_read_it():
    im = Image.fromarray(paint(shirt_mask(), 30, 230))
    for fmt, params in [("PPM", {}), ("PCX", {}), ("TGA", {}), ("ICO", {"sizes": [(64, 64)]})]:
        with pytest.raises(InputError, match="supported"):
            uploads.decode(encode(im, fmt, **params))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
def test_each_allowed_format_decodes(fmt):
    im = Image.fromarray(paint(shirt_mask(150, 200), (30, 40, 90), (240, 240, 235)))
    out = uploads.decode(encode(im if fmt != "GIF" else im.convert("P"), fmt))
    assert out.size == (200, 150)


def test_large_photo_is_decoded_small():
    # A 2 MP JPEG decodes at <= WORK_SIZE: cheap in memory and time on a 2-core server.
    big = Image.fromarray(paint(shirt_mask(1200, 1600), 30, 230))
    out = uploads.decode(encode(big, "JPEG", quality=80))
    assert max(out.size) <= uploads.WORK_SIZE
    assert abs(out.size[0] / out.size[1] - 4 / 3) < 0.02  # aspect ratio kept


def test_tiny_image_is_refused_as_too_small():
    with pytest.raises(InputError, match="too small"):
        preprocess.photo(encode(np.zeros((4, 4), np.uint8)))


def test_flat_image_has_no_garment():
    with pytest.raises(InputError, match="No garment"):
        preprocess.photo(encode(np.full((100, 100, 3), 200, np.uint8)))


@pytest.mark.parametrize("value", [None, "a string", 3, [1, 2, 3]])
def test_non_bytes_input_is_an_input_error(value):
    with pytest.raises(InputError):
        uploads.decode(value)  # type: ignore[arg-type]


def test_already_opened_pil_image_is_size_checked_too():
    # The app may hand photo() a PIL image it opened itself; the pixel cap still applies.
    with pytest.raises(InputError, match="megapixels"):
        preprocess.photo(Image.new("1", (6000, 5000)))
