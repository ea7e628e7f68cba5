"""`labkit.Lab` for a user who is not root, on a machine with a lab broker: the same calls.

    lab = labkit.Lab.up("seed")            the broker brings it up under the student's prefix
    lab.node("pc1").cmd("ping -c1 ...")    as the student, inside the node (labkit.broker.relay)
    lab.node("pc1").call("labkit.probes.icmp:ping", "1.2.3.4")
    print(lab.check())                     the broker runs the lab's checks
    lab.down()

The lab's record is root's alone to read: the broker describes it (`describe`), and the
lab is built from that and its topology, with the student's instance prefix, so names mean
what they mean to the broker. What needs root in
this process is not offered: a service's live changes (`lab.service(...).configure`) and the
lab's own capture helpers that write into the lab's run directory.
"""
from __future__ import annotations

import atexit
import os
import sys
from typing import Sequence

from labkit.lab.node import LabNode
from labkit.lab.runtime import Lab
from labkit.lab import loader
from labkit.lab.state import INSTANCE_PREFIX_ENV, LabState

from .client import describe, request
from .identity import prefix
from .protocol import BrokerError, Request


class RelayedNode(LabNode):
    """A node whose commands go through the broker, as the student."""

    def __init__(self, node: LabNode, lab: str):
        super().__init__(node.spec, node.netns, node._run_dir, lambda pid, what: None)
        self.lab = lab

    def argv(self, command: str | Sequence[str]) -> list[str]:
        if isinstance(command, str):
            command = ["sh", "-c", command]
        return [sys.executable, "-m", "labkit.broker.relay", self.lab, self.name, "--", *command]


class Report:
    """What the broker's `check` printed: the table, and whether every check passed."""

    def __init__(self, lines: list[str], ok: bool):
        self.lines, self.ok = lines, ok

    def table(self) -> str:
        return "\n".join(self.lines)

    __str__ = table


class StudentLab(Lab):
    def __init__(self, lab: Lab, name: str):
        super().__init__(lab.topo, lab.instance, lab.state)
        self.name = name
        self._nodes = {n: RelayedNode(node, name) for n, node in self._nodes.items()}

    @staticmethod
    def _scope() -> None:
        os.environ[INSTANCE_PREFIX_ENV] = prefix(os.getuid())

    @classmethod
    def up(cls, topology: str = "seed", name: str | None = None, keep: bool = False,
           **_ignored) -> "StudentLab":
        """As Lab.up: unless `keep`, the lab is this process's. It is taken down when the
        process exits, and the broker removes it once the process is gone however it ended
        (a kernel killed with SIGKILL)."""
        cls._scope()
        name = name or str(topology)
        lines: list[str] = []
        if request(Request(op="up", topology=str(topology), name=name, owned=not keep), show=lines.append) != 0:
            raise BrokerError(f"{name} did not come up: " + " | ".join(lines[-3:]))
        lab = cls.attach(name)
        if not keep:
            atexit.register(lab._down_at_exit)
        return lab

    @classmethod
    def attach(cls, name: str = "seed") -> "StudentLab":
        """The lab as the broker describes it (a lab's record is root's to read)."""
        cls._scope()
        info = describe(name)
        state = LabState(instance=info["instance"], topology=info["topology"], status=info["status"],
                         netns=list(info["netns"]))
        return cls(Lab(loader.load(state.topology), state.instance, state), name)

    def _down_at_exit(self) -> None:
        if self.state.status == "up":
            self.down()

    def check(self, progress=None) -> Report:      # type: ignore[override]
        lines: list[str] = []
        code = request(Request(op="check", name=self.name), show=lines.append)
        return Report(lines, code == 0)

    def down(self) -> list[str]:
        lines: list[str] = []
        code = request(Request(op="down", name=self.name), show=lines.append)
        self.state.status = "down"
        return [] if code == 0 else lines

    def service(self, *args, **kwargs):
        raise BrokerError("a service's live changes need root; through the broker they are not offered yet")
