"""Reading a config file of any topic: bytes -> text -> lines, one error for what is not text.

One decoder for every text format labkit reads (IOS configs, Asterisk's sip.conf and
extensions.conf, ...), so a file that is not UTF-8 gives the same one-line error
everywhere, never a UnicodeDecodeError, and line numbers match what an editor shows.

The rules:

- UTF-8 only. A UTF-8 byte-order mark is dropped. A UTF-16 file (with or without a
  BOM), a NUL byte or a byte that is not UTF-8 is one error naming the line and the
  byte offset.
- Lines are split at LF only; a CR before the LF (CRLF files) is dropped.

Errors are raised as `error([diagnostic])`: `labkit.diag.DiagnosticError` unless the
caller passes its own subclass (a topic's `...ConfigError`), so callers catch what they
always caught. This module imports nothing of labkit but the leaf `labkit.diag`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .diag import Diagnostic, DiagnosticError, Where, error as diag_error

ErrorFactory = Callable[[list[Diagnostic]], Exception]
AS_UTF8 = "save the file as UTF-8 (or plain ASCII) text"


def split_lines(text: str) -> list[str]:
    """The file's lines as an editor numbers them: split at LF only (CRLF ends a line too).

    str.splitlines() would also split at form feeds, \\x1c-\\x1e, NEL and U+2028, so the
    line numbers in messages would no longer match the file.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def decode(data: bytes, file: str, *, error: ErrorFactory = DiagnosticError,
           binary_fix: str = "give the path of a text file") -> str:
    """The text of a file: UTF-8 (a UTF-8 BOM is dropped), else `error([diagnostic])`.

    A file saved as UTF-16 (with or without a BOM) or in a legacy code page gets one
    line naming the byte offset. `binary_fix` is the fix shown for a NUL byte in a file
    that does not look like UTF-16 (the caller knows what file was expected).
    """
    def refuse(offset: int, what: str, fix: str) -> Exception:
        line = data.count(b"\n", 0, offset) + 1
        return error([diag_error(Where(file, line), f"{what} (byte offset {offset})", fix)])

    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise refuse(0, "the file is UTF-16 text, not UTF-8: it starts with a UTF-16 byte-order mark", AS_UTF8)
    nul = data.find(b"\x00")
    if nul >= 0:
        looks16 = data[1::2].count(0) > len(data) // 4 or data[0::2].count(0) > len(data) // 4
        raise refuse(nul, "the file looks like UTF-16 text, not UTF-8: NUL byte" if looks16 else
                     "NUL byte: this is not a text file", AS_UTF8 if looks16 else binary_fix)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise refuse(e.start, f"the file is not UTF-8 text: byte 0x{data[e.start]:02x}", AS_UTF8) from None
    return text[1:] if text.startswith("\ufeff") else text


def read(path: str | Path, *, error: ErrorFactory = DiagnosticError, what: str = "the file",
         fix: str = "check the path", binary_fix: str = "give the path of a text file") -> str:
    """The text of the file at `path`, decoded by decode().

    A file that cannot be read (missing, a directory, no permission) is one error at
    line 0 (the file as a whole): "cannot read WHAT: REASON (fix: FIX)".
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise error([diag_error(Where(str(p), 0), f"cannot read {what}: {e.strerror or e}", fix)]) from None
    return decode(data, str(p), error=error, binary_fix=binary_fix)
