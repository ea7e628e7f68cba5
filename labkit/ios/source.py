"""Reading an IOS config file: bytes -> text -> lines, with one error for what is not text.

One reader for every caller (load(), the ios service's lint, render and replace_acl),
so a file that is not UTF-8 is the same one-line error everywhere, never a
UnicodeDecodeError, and line numbers match what an editor shows.
"""
from __future__ import annotations

from pathlib import Path

from .errors import IosConfigError, ios_error


def split_lines(text: str) -> list[str]:
    """The config's lines as an editor numbers them: split at LF only (CRLF ends a line too).

    str.splitlines() would also split at form feeds, \\x1c-\\x1e, NEL and U+2028, so the
    line numbers in messages would no longer match the file.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def decode(data: bytes, file: str) -> str:
    """The text of a config file: UTF-8 (a UTF-8 BOM is dropped), else IosConfigError.

    IOS configs are ASCII; UTF-8 is accepted so descriptions may hold any letter. A
    file saved as UTF-16 (with or without a BOM) or in a legacy code page gets one
    line naming the byte offset, never a UnicodeDecodeError.
    """
    def refuse(offset: int, what: str, fix: str) -> IosConfigError:
        line = data.count(b"\n", 0, offset) + 1
        return IosConfigError([ios_error(file, line, "", f"{what} (byte offset {offset})", fix)])

    utf16 = "save the file as UTF-8 (or plain ASCII) text"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise refuse(0, "the file is UTF-16 text, not UTF-8: it starts with a UTF-16 byte-order mark", utf16)
    nul = data.find(b"\x00")
    if nul >= 0:
        looks16 = data[1::2].count(0) > len(data) // 4 or data[0::2].count(0) > len(data) // 4
        raise refuse(nul, "the file looks like UTF-16 text, not UTF-8: NUL byte" if looks16 else
                     "NUL byte: this is not a text file", utf16 if looks16 else "give the path of an IOS text config")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise refuse(e.start, f"the file is not UTF-8 text: byte 0x{data[e.start]:02x}",
                     "save the file as UTF-8 (or plain ASCII) text") from None
    return text[1:] if text.startswith("\ufeff") else text


def read(path: str | Path) -> str:
    """The text of a config file, decoded by decode(); IosConfigError when it cannot be read."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise IosConfigError([ios_error(str(p), 0, "", f"cannot read the config: {e.strerror}",
                                        "check the path in the topology file")]) from None
    return decode(data, str(p))
