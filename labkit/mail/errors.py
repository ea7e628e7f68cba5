"""Errors of the mail part; messages name the file, the line and the fix."""


class MailError(Exception):
    """Base class for labkit.mail errors."""


class MailConfigError(MailError):
    """A config or map file that Postfix would reject or misread."""


class PostfixError(MailError):
    """Postfix (or postmap) failed; the message carries the tool's own output."""
