"""Reading an IOS config file: bytes -> text -> lines, with one error for what is not text.

One reader for every caller (load(), the ios service's lint, render and replace_acl),
so a file that is not UTF-8 is the same one-line error everywhere, never a
UnicodeDecodeError, and line numbers match what an editor shows. The decoding itself
is labkit's one decoder, `labkit.textfile`; this module only says which error class
and which fixes an IOS config gets.
"""
from __future__ import annotations

from pathlib import Path

from labkit import textfile
from labkit.textfile import split_lines

from .errors import IosConfigError

__all__ = ["decode", "read", "split_lines"]
_NOT_TEXT = "give the path of an IOS text config"


def decode(data: bytes, file: str) -> str:
    """The text of a config file: UTF-8 (a UTF-8 BOM is dropped), else IosConfigError.

    IOS configs are ASCII; UTF-8 is accepted so descriptions may hold any letter.
    """
    return textfile.decode(data, file, error=IosConfigError, binary_fix=_NOT_TEXT)


def read(path: str | Path) -> str:
    """The text of a config file, decoded by decode(); IosConfigError when it cannot be read."""
    return textfile.read(path, error=IosConfigError, what="the config",
                         fix="check the path in the topology file", binary_fix=_NOT_TEXT)
