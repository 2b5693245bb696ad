"""Rewrite one section of benchmarks/RESULTS.md, leaving the others untouched.

Each benchmark owns the text between `<!-- section:NAME -->` and `<!-- /section:NAME -->`,
so several scripts can record their figures in one file without clobbering each other.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(text: str, name: str, markdown: str) -> str:
    """Return `text` with the body of section `name` replaced by `markdown`.

    Args:
        text: the whole RESULTS.md content.
        name: section name, as in `<!-- section:NAME -->`.
        markdown: the new body (surrounding blank lines are normalised).

    Returns:
        The new file content.

    Raises:
        KeyError: if the section markers are missing or out of order; a benchmark should
            not invent sections silently.
    """
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < 0 or j < i:
        raise KeyError(f"section {name!r} markers not found in RESULTS.md")
    body = markdown.strip("\n")
    return text[: i + len(start)] + "\n" + body + ("\n" if body else "") + text[j:]


def write_section(name: str, markdown: str, path: Path = RESULTS) -> None:
    """Replace the body of section `name` in RESULTS.md with `markdown`."""
    # Locking the folder serialises read-modify-write, so two benchmarks finishing together
    # cannot lose each other's section (the file itself is replaced, so it cannot hold the
    # lock); write-then-rename never leaves a half-written file.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        new = replace_section(path.read_text(encoding="utf-8"), name, markdown)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".RESULTS.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        os.chmod(tmp, path.stat().st_mode & 0o777)  # mkstemp makes 0600; keep the old mode
        os.replace(tmp, path)
    finally:
        os.close(dir_fd)  # closing releases the lock


def add_no_write_flag(parser: argparse.ArgumentParser) -> None:
    """The one print-only flag every benchmark script takes."""
    parser.add_argument("--no-write", action="store_true", help="print only; keep RESULTS.md")


def publish(name: str, markdown: str, write: bool, path: Path = RESULTS) -> None:
    """Print a benchmark's section and, unless told not to, record it in RESULTS.md."""
    print(markdown, flush=True)
    if write:
        write_section(name, markdown, path)
