"""Problems found in an IOS config, each tied to the file and line that caused it.

Every problem is a `labkit.diag.Diagnostic` (the config's line as written in `text`).
Errors stop a config from being applied; warnings (severity "warning") list what
labkit deliberately ignored or translated differently from a real Cisco, so a
student sees every place where the lab is not the real thing.
"""
from __future__ import annotations

from labkit.diag import Diagnostic, DiagnosticError


def ios_error(file: str, line: int, text: str, message: str, fix: str = "") -> Diagnostic:
    """A line labkit cannot accept: the config is rejected until it is fixed."""
    return Diagnostic(file, line, message, fix, text=text)


def ios_warning(file: str, line: int, text: str, message: str, fix: str = "") -> Diagnostic:
    """A line accepted but ignored or translated with a caveat."""
    return Diagnostic(file, line, message, fix, severity="warning", text=text)


class IosConfigError(DiagnosticError):
    """Raised by load()/translate() when a config has errors; carries them all.

    `.diagnostics` is the list; `.errors` (from DiagnosticError) the errors among them.
    """

    def __init__(self, errors: list[Diagnostic]):
        super().__init__(errors)
        if not self.diagnostics:
            self.args = ("invalid IOS config",)
