"""Problems found in an IOS config, each tied to the file and line that caused it.

Errors stop a config from being applied; warnings list what labkit deliberately
ignored or translated differently from a real Cisco, so a student sees every
place where the lab is not the real thing.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IosIssue:
    file: str
    line: int
    text: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        tail = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}: {self.message}{tail}"


@dataclass(frozen=True)
class IosError(IosIssue):
    """A line labkit cannot accept: the config is rejected until it is fixed."""


@dataclass(frozen=True)
class IosWarning(IosIssue):
    """A line accepted but ignored or translated with a caveat."""


class IosConfigError(Exception):
    """Raised by load()/translate() when a config has errors; carries them all."""

    def __init__(self, errors: list[IosIssue]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors) or "invalid IOS config")
