"""Errors of the mail part; config errors are labkit.diag diagnostics (file, line, fix)."""
from __future__ import annotations

from labkit.diag import Diagnostic, DiagnosticError, LabkitError


class MailError(LabkitError):
    """Base class for labkit.mail errors."""


class MailConfigError(MailError, DiagnosticError):
    """A config or map file that Postfix would reject or misread: one diagnostic.

    `file` is "" (and `line` 0) for a bad value that came from no file (an address typed
    at `labkit mail add-mailbox`, say).
    """

    def __init__(self, file: str | object, line: int, message: str, fix: str = ""):
        DiagnosticError.__init__(self, [Diagnostic(str(file), line, message, fix)])


class PostfixError(MailError):
    """Postfix (or postmap) failed; the message carries the tool's own output."""
