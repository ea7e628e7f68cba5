"""Errors that a teacher can act on: each names the file, the line and the fix."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """A place in a source file, for messages of the form ``file:line``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class LabkitError(Exception):
    """Base class: every error labkit raises on purpose."""


class TopologyError(LabkitError):
    """A topology file is wrong. ``str()`` is one line: ``file:line: what (fix: how)``."""

    def __init__(self, where: Where | None, message: str, fix: str = ""):
        self.where = where
        self.message = message
        self.fix = fix
        text = f"{where}: {message}" if where else message
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)


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
    """Refused because lab traffic would leave the lab (see DESIGN.md, traffic safety)."""
