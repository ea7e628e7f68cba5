"""The engine's errors. Input errors are diagnostics (labkit.diag): file, line and fix."""
from __future__ import annotations

from labkit.diag import Diagnostic, DiagnosticError, LabkitError, Where, error

__all__ = ["Where", "LabkitError", "TopologyError", "ServiceError", "LabStateError", "SafetyError"]


class TopologyError(DiagnosticError):
    """A topology file is wrong. ``str()`` is one line: ``file:line: what (fix: how)``.

    Raised with one diagnostic by the loader (the first problem it meets), or with the
    diagnostics a plug-in's node expander reported for a config the node names.
    """

    def __init__(self, where: Where | None = None, message: str = "", fix: str = "",
                 diagnostics: list[Diagnostic] | None = None):
        super().__init__(diagnostics or [error(where, message, fix)])
        first = self.first
        self.where = first.where if first.file else None
        self.message = first.message
        self.fix = first.fix


class ServiceError(LabkitError):
    """A daemon's dry-run, start or readiness failed; carries the daemon's own output."""

    def __init__(self, service: object, message: str, output: str = ""):
        self.service = service
        self.output = output.strip()
        label = getattr(service, "label", str(service))
        text = f"{label}: {message}"
        if self.output:
            text += "\n" + "\n".join("    " + line for line in self.output.splitlines()[-30:])
        super().__init__(text)


class LabStateError(LabkitError):
    """The lab is not in the state the command needs (e.g. `labkit down` with no lab up)."""


class SafetyError(LabkitError):
    """Refused because lab traffic would leave the lab (docs/traffic-safety.md)."""
