"""Files a public demo must survive: broken, hostile or absurd uploads, and fuzz mutations.

Deterministic (seeded) bytes, shared by the upload tests, the fuzz test and the fuzz
benchmark, so each can say exactly what it fed to the decoder.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import numpy as np
from PIL import Image

from fashion.data.renders import boot_mask, encode, paint, shirt_mask


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC (of type + data)."""
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def bomb_png(width: int = 20000, height: int = 20000, full: bool = False) -> bytes:
    """A 1-bit PNG that declares width x height pixels in a few KB.

    With full=False the pixel data is only the first rows (a real bomb needs ~50 KB of
    deflate for 400 M pixels; what matters is that the header alone gets it refused).
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    rows = height if full else min(height, 64)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(rows)) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def animated_gif(frames: list[np.ndarray]) -> bytes:
    """A GIF animation of the given (H, W) uint8 frames."""
    ims = [Image.fromarray(f).convert("P") for f in frames]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=100, loop=0)
    return buf.getvalue()


def bad_files(max_upload_bytes: int) -> dict[str, tuple[str, bytes, str]]:
    """The curated corpus of unusable uploads (issue 5).

    Returns:
        {case: (file name as uploaded, bytes, a word the error message must contain)}.
    """
    good_png = encode(paint(shirt_mask(), 30, 230))
    good_jpeg = encode(paint(shirt_mask(), 30, 230), "JPEG", quality=90)
    svg = (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" '
        b'height="100"><rect width="100" height="100" fill="red"/></svg>\n'
    )
    return {
        "zero-bytes": ("empty.png", b"", "empty"),
        "text": ("notes.png", b"Just some notes about shirts.\nNot an image.\n", "text"),
        "html": ("page.jpg", b"<!DOCTYPE html><html><body><h1>Hi</h1></body></html>", "HTML"),
        "svg": ("drawing.svg", svg, "SVG"),
        "svg-no-prolog": ("drawing.png", svg.split(b"\n", 1)[1], "SVG"),
        "php-renamed-png": ("shell.png", b"<?php system($_GET['c']); ?>\n", "PHP"),
        "truncated-png": ("cut.png", good_png[: len(good_png) // 2], "damaged"),
        "truncated-jpeg": ("cut.jpg", good_jpeg[: len(good_jpeg) // 2], "damaged"),
        "bomb-20000x20000": ("bomb.png", bomb_png(), "megapixels"),
        "oversize": ("huge.png", good_png + b"\x00" * max_upload_bytes, "limit"),
        "tiff": ("scan.png", encode(paint(shirt_mask(), 30, 230), "TIFF"), "TIFF"),
        "garbage": (
            "noise.png",
            bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8)),
            "format",
        ),
    }


FUZZ_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")


def fuzz_seeds() -> dict[str, bytes]:
    """One small valid file per format a user may upload: the fuzzer's starting points."""
    rgb = paint(boot_mask(60, 80), (30, 40, 90), (240, 238, 230))
    seeds = {
        "PNG": encode(rgb),
        "JPEG": encode(rgb, "JPEG", quality=85),
        "GIF": encode(Image.fromarray(rgb).convert("P"), "GIF"),
        "WEBP": encode(rgb, "WEBP", quality=80),
        "BMP": encode(rgb, "BMP"),
    }
    alpha = np.where(boot_mask(60, 80), 255, 0).astype(np.uint8)
    seeds["PNG-RGBA"] = encode(np.dstack([rgb, alpha]))
    seeds["PNG-16"] = encode(Image.fromarray(rgb[..., 0].astype(np.uint16) * 257))
    return seeds


# Where each format stores its width and height: (offset, struct format). Overwriting
# them makes "absurd dimension" cases: a valid file that lies about its size.
_DIMENSION_FIELDS = {
    "PNG": [(16, ">I"), (20, ">I")],
    "GIF": [(6, "<H"), (8, "<H")],
    "BMP": [(18, "<i"), (22, "<i")],
    "WEBP": [(26, "<H"), (28, "<H")],
}


_ABSURD = [0, 1, 2, 7, 65535, 2**16 + 1, 2**31 - 1, 2**32 - 1, 100_000, 20_000]


def _absurd_dimensions(data: bytes, fmt: str, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    if fmt == "JPEG":
        # The SOF0/SOF2 marker holds height then width, 2 bytes each, 5 bytes after it.
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            i = data.find(marker)
            if i >= 0 and i + 9 <= len(data):
                for off in (i + 5, i + 7):
                    out[off : off + 2] = struct.pack(">H", int(rng.choice(_ABSURD)) & 0xFFFF)
        return bytes(out)
    for off, fmt_s in _DIMENSION_FIELDS.get(fmt.split("-")[0], []):
        size = struct.calcsize(fmt_s)
        if off + size <= len(out):
            value = int(rng.choice(_ABSURD))
            lo, hi = (
                (-(2 ** (8 * size - 1)), 2 ** (8 * size - 1) - 1)
                if fmt_s[-1].islower()
                else (0, 2 ** (8 * size) - 1)
            )
            value = int(np.clip(value if rng.random() < 0.9 else -value, lo, hi))
            out[off : off + size] = struct.pack(fmt_s, value)
    return bytes(out)


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every PNG chunk CRC that fits in `data`.

    Without this, Pillow refuses nearly every mutated PNG at the first CRC check and the
    mutation never reaches the size check or the decoder, which is where bugs hide.
    """
    out = bytearray(data)
    pos = 8  # after the signature
    while pos + 12 <= len(out):
        (length,) = struct.unpack(">I", out[pos : pos + 4])
        end = pos + 8 + length
        if end + 4 > len(out):
            break
        out[end : end + 4] = struct.pack(">I", zlib.crc32(out[pos + 4 : end]) & 0xFFFFFFFF)
        pos = end + 4
    return bytes(out)


def mutate(data: bytes, fmt: str, rng: np.random.Generator, others: list[bytes]) -> bytes:
    """One random mutation of a valid file: truncate, flip bytes, splice, absurd sizes."""
    kind = int(rng.integers(6))
    n = len(data)
    if kind == 0:  # truncate anywhere, often inside the header
        cut = int(rng.integers(0, n)) if rng.random() < 0.5 else int(rng.integers(0, min(n, 64)))
        return data[:cut]
    if kind == 1:  # flip a few random bytes
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(n))
            out[i] ^= int(rng.integers(1, 256))
        return bytes(out)
    if kind == 2:  # flip bytes in the header only, where the parsers make decisions
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(min(n, 64)))
            out[i] = int(rng.integers(256))
        return bytes(out)
    if kind == 3:  # splice: one file's header on another file's body
        other = others[int(rng.integers(len(others)))]
        cut = int(rng.integers(1, max(2, min(n, 128))))
        return data[:cut] + other[int(rng.integers(0, len(other))) :]
    if kind == 4:
        return _absurd_dimensions(data, fmt, rng)
    # Insert or delete a random run of bytes: misaligns every chunk after it.
    i = int(rng.integers(n))
    if rng.random() < 0.5:
        return data[:i] + bytes(rng.integers(0, 256, int(rng.integers(1, 64)), np.uint8)) + data[i:]
    return data[:i] + data[i + int(rng.integers(1, 64)) :]


def fuzz_cases(count: int, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """`count` (seed format, mutated bytes) pairs, deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    seeds = fuzz_seeds()
    names = sorted(seeds)
    values = [seeds[k] for k in names]
    for _ in range(count):
        name = names[int(rng.integers(len(names)))]
        data = seeds[name]
        # Mostly one mutation; sometimes stack two or three.
        for _ in range(1 if rng.random() < 0.7 else int(rng.integers(2, 4))):
            data = mutate(data, name, rng, values) if data else data
        if name.startswith("PNG") and rng.random() < 0.7:
            data = fix_png_crcs(data)
        yield name, data
