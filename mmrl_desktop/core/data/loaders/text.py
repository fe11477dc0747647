"""Text: UTF-8 ``.txt`` files (a BOM is stripped); binary files are refused."""

from __future__ import annotations

import codecs
import os

from mmrl_desktop.core.data.loaders.base import UnreadableFile, open_regular

MAX_TEXT_BYTES = 16 * 1024 * 1024  # larger .txt files are not notes about one case


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) → str; ``UnreadableFile`` for binary or other encodings."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if b"\x00" in data:
        if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise UnreadableFile("text file is UTF-16, not UTF-8 (save it as UTF-8)")
        raise UnreadableFile("text file is binary, not text (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFile("text file is not UTF-8 (save it as UTF-8)") from None


def _read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes, never more than ``MAX_TEXT_BYTES`` read (even from a file that grows or
    whose size was misreported): a larger file is refused."""
    try:
        with open_regular(path) as fh:
            data = fh.read(MAX_TEXT_BYTES + 1)
    except OSError as err:
        raise UnreadableFile(f"file cannot be read ({err.strerror or err})") from None
    if len(data) > MAX_TEXT_BYTES:
        size = max(len(data), _size(path))
        raise UnreadableFile(
            f"text file is too large ({size / 1e6:.0f} MB; the limit is "
            f"{MAX_TEXT_BYTES / 1e6:.0f} MB)"
        )
    return data


def _size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def check_text(path: str | os.PathLike) -> dict:
    """Validate a text file for import (UTF-8, not binary, not empty or only white space: such
    an item would show nothing). Returns its length in characters."""
    text = decode_text(_read_bytes(path))
    if not text.strip():
        raise UnreadableFile("text file is empty")
    return {"chars": len(text)}


def load_text(path: str | os.PathLike | None = None, inline: str | None = None) -> str:
    """``inline`` when given (text from a manifest cell), else the decoded file."""
    if inline is not None:
        return inline
    if path is None:
        raise UnreadableFile("no text file and no inline text")
    return decode_text(_read_bytes(path))
