"""The one diagnostic type: a place in a file, a severity, what is wrong and how to fix it.

Every loader and linter in labkit (topologies, IOS configs, zone files, named.conf,
Postfix maps, assembly listings) reports through `Diagnostic`, and every diagnostic
prints in one format::

    FILE:LINE: MESSAGE (fix: FIX)              an error
    FILE:LINE: warning: MESSAGE (fix: FIX)     a warning

LINE 0 means the file as a whole and is left out. Text that came from the input is
made safe to print: control characters are escaped and very long runs are cut, so a
binary file or a 200 KB token cannot flood or repaint a terminal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

SEVERITIES = ("error", "warning")
MAX_SHOWN = 120  # characters of one quoted piece of input in a message


class LabkitError(Exception):
    """Base class: every error labkit raises on purpose."""


@dataclass(frozen=True)
class Where:
    """A place in a source file, for messages of the form ``file:line``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def printable(text: object, limit: int = MAX_SHOWN) -> str:
    """`text` as one safe line: control characters escaped, cut to `limit` characters."""
    s = str(text)
    if len(s) > limit:
        s = s[:limit] + f"... ({len(s) - limit} more characters)"
    out = []
    for ch in s:
        if ch == "\t":
            out.append(" ")
        elif ord(ch) < 32 or 127 <= ord(ch) < 160:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    message: str
    fix: str = ""
    severity: str = "error"
    rule: str = ""   # a short name for the kind of problem (lint rules use it), not printed
    text: str = ""   # the offending source line as written, when the reporter has it

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def where(self) -> Where:
        return Where(self.file, self.line)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        head = (f"{self.where}: " if self.file else "") + ("warning: " if self.severity == "warning" else "")
        tail = f" (fix: {printable(self.fix, 400)})" if self.fix else ""
        return head + printable(self.message, 400) + tail


class DiagnosticError(LabkitError):
    """Raised when input has errors; carries every diagnostic found, errors first.

    ``str()`` is the diagnostics, one per line, in the one format above.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: not d.is_error)
        super().__init__("\n".join(map(str, self.diagnostics)) or "invalid input")

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


def unknown_key_fix(key: object, allowed: Iterable[str]) -> str:
    """The fix for a misspelt key: the closest allowed one, else the list of them."""
    import difflib

    allowed = sorted(allowed)
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed) or 'none'}"


def error(where: Where | None, message: str, fix: str = "", **kw) -> Diagnostic:
    """A Diagnostic of severity error at `where` (None: no file is involved)."""
    w = where or Where("", 0)
    return Diagnostic(w.file, w.line, message, fix, **kw)


def warning(where: Where | None, message: str, fix: str = "", **kw) -> Diagnostic:
    w = where or Where("", 0)
    return Diagnostic(w.file, w.line, message, fix, severity="warning", **kw)
