"""Safe decoding of untrusted image bytes (uploads, CLI files) into a loaded PIL image.

A public demo receives whatever the internet sends, so content is checked, never names:
Streamlit's `type=` list only looks at the file name, and Pillow, left to itself, opens
dozens of formats (some with a history of decoder bugs) and only *warns* about
decompression bombs below 2x `Image.MAX_IMAGE_PIXELS`. Here:

- the byte size is capped before anything is parsed;
- obvious non-images (text, HTML, SVG, PHP, PDF, HEIC, ...) get a message naming them;
- Pillow may only try an explicit allow-list of formats;
- the size the header declares is checked against our own pixel cap *before* decoding;
- bomb warnings are errors; decoding happens fully inside one try, so a truncated or
  corrupt file becomes an `InputError`, never a traceback;
- animations are reduced to their first frame.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

# The same cap `.streamlit/config.toml` sets with `server.maxUploadSize = 5` (Streamlit
# counts that in MiB); checking it here too protects the CLI and any other caller.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# 25 M pixels holds any phone photo up to 24 MP; Pillow's own limit (~89 M) is far too
# generous for a 2-core demo server (25 M RGBA pixels are already 100 MB decoded).
MAX_PIXELS = 25_000_000
# The formats a browser or phone produces for a photo. TIFF, PSD, ICO, EPS, FITS, ...
# are left out on purpose: nobody needs them here and they widen the attack surface.
# MPO (what many phone cameras write) must not be listed: Pillow has no opener by that
# name (the JPEG plugin opens MPO files), and listing it made every file that is not a
# PNG/JPEG/GIF/BMP fail with KeyError('MPO') instead of being identified (a test found it).
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
# The file-name endings upload widgets offer: one per allowed format (JPEG has two).
FILE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp", "bmp")
# Images are decoded at no more than this longest side (JPEG can do it while decoding,
# via draft()); 28 px is the target, the margin keeps the crop to the garment accurate.
WORK_SIZE = 512

# Turn Pillow's bomb warning into an exception for this process. The explicit pixel cap
# below is the real guard (it is far below Pillow's threshold), so the filter being reset
# (pytest does that per test) never opens a hole; it only changes which error is raised.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class InputError(ValueError):
    """Unusable input; str(exc) is a message a user can act on (shown in the app/CLI)."""


_SUPPORTED = "Please upload a PNG, JPEG, GIF, WebP or BMP photo."

# (prefix, what it is): checked after stripping leading whitespace and a UTF-8 BOM.
_KNOWN_NON_IMAGES: tuple[tuple[bytes, str], ...] = (
    (b"<?php", "a PHP script"),
    (b"<?xml", "an XML document (an SVG drawing?)"),
    (b"<svg", "an SVG drawing"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"%pdf", "a PDF document"),
    (b"pk\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"ii*\x00", "a TIFF image (not supported)"),
    (b"mm\x00*", "a TIFF image (not supported)"),
    (b"8bps", "a Photoshop file (not supported)"),
    (b"{", "a JSON document"),
)


def _sniff_non_image(data: bytes) -> str | None:
    """A short description if `data` is recognisably not a supported image, else None."""
    head = data[:512]
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    for prefix, what in _KNOWN_NON_IMAGES:
        if stripped.startswith(prefix):
            return what
    if stripped.startswith(b"<"):
        return "an HTML or XML document"
    # ISO-BMFF brands: HEIC/HEIF/AVIF from phones, or a video.
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("latin-1").lower()
        if brand.startswith(("hei", "hev", "mif", "msf")):
            return "a HEIC/HEIF photo (not supported: export it as JPEG)"
        if brand.startswith("avi"):
            return "an AVIF image (not supported: export it as JPEG or PNG)"
        return "a video or other media file"
    # Printable ASCII/UTF-8 throughout: a text file (no image format starts like that).
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "a text file"
    return None


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def check_size(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse declared dimensions that are empty or larger than our pixel cap.

    Raises:
        InputError: the image is empty or too large to decode safely.
    """
    if width <= 0 or height <= 0:
        raise InputError(f"The image declares an empty size ({width}x{height}). {_SUPPORTED}")
    if width * height > max_pixels:
        raise InputError(
            f"The image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels. Please upload a smaller photo."
        )


def decode(
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    work_size: int = WORK_SIZE,
) -> Image.Image:
    """Decode untrusted bytes into a loaded, upright PIL image no larger than `work_size`.

    Args:
        data: the whole file content.
        max_bytes: refuse larger inputs without parsing them.
        max_pixels: refuse images whose header declares more pixels than this.
        work_size: the decoded image is shrunk (keeping its aspect ratio) so its longest
            side is at most this; 0 keeps the full size.

    Returns:
        A loaded image (first frame for animations), EXIF orientation applied, in the
        mode the file had (the caller converts modes explicitly).

    Raises:
        InputError: with a message naming the problem (empty, too big, not an image,
            unsupported format, damaged).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"Expected the bytes of an image file, got {type(data).__name__}.")
    data = bytes(data)
    if not data:
        raise InputError(f"The file is empty (0 bytes). {_SUPPORTED}")
    if len(data) > max_bytes:
        raise InputError(
            f"The file is {_mib(len(data))}; the limit is {_mib(max_bytes)}. "
            "Please upload a smaller photo."
        )
    what = _sniff_non_image(data)
    if what is not None:
        raise InputError(f"This file is {what}, not a photo. {_SUPPORTED}")
    try:
        im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.UnidentifiedImageError:
        raise InputError(f"This file is not an image in a supported format. {_SUPPORTED}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"The image declares an absurd size (a 'decompression bomb'); the limit is "
            f"{max_pixels / 1e6:.0f} megapixels."
        ) from None
    except Exception as exc:  # a corrupt header can raise almost anything inside Pillow
        raise InputError(f"This image file is damaged and cannot be read. {_SUPPORTED}") from exc
    with im:
        # Never above Pillow's own limit either: between it and twice it, Pillow only
        # warns, and a warning filter is process-wide state that pytest or an embedding
        # app may reset. Refusing here makes the warning's fate irrelevant.
        cap = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        check_size(*im.size, max_pixels=cap)
        try:
            if work_size and im.format in ("JPEG", "MPO"):
                # JPEG can decode at 1/2, 1/4 or 1/8 scale: much less memory and time.
                im.draft(None, (work_size, work_size))
            im.load()  # first frame only: seek() is never called
            out = im.copy()  # detaches from the file and from any further frames
            out = ImageOps.exif_transpose(out)
            if work_size and max(out.size) > work_size:
                out.thumbnail((work_size, work_size), Image.Resampling.LANCZOS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputError(
                f"The image is too large to decode safely; the limit is "
                f"{max_pixels / 1e6:.0f} megapixels."
            ) from None
        except MemoryError:
            raise InputError("The image is too large to decode on this server.") from None
        except Exception as exc:  # truncated data, bad chunks, broken EXIF, ...
            raise InputError(
                f"This image file is damaged or truncated and cannot be decoded. {_SUPPORTED}"
            ) from exc
    return out
