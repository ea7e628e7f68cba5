"""A running node: run commands and code inside its network namespace."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import LabkitError
from .model import Node


class NodeCommandError(LabkitError):
    pass


class LabNode:
    """One node of a running lab. Everything runs through ``ip netns exec``.

    That one path serves the process that built the lab and any later one
    (`labkit exec`, `labkit check`, a notebook that attached), so a command
    behaves the same wherever it is issued from.

    A node knows its own model, namespace and run directory, and how to record a
    process it starts; it never sees the lab it belongs to.
    """

    def __init__(self, spec: Node, netns: str, run_dir: Path, recorder: Callable[[int, str], None]):
        self.spec = spec
        self.name = spec.name
        self.netns = netns
        self._run_dir = run_dir
        self._record = recorder

    def __repr__(self) -> str:
        return f"<LabNode {self.name} ({self.spec.role}) netns={self.netns}>"

    @property
    def run_dir(self) -> Path:
        self._run_dir.mkdir(parents=True, exist_ok=True)
        return self._run_dir

    def record_pid(self, pid: int, what: str) -> None:
        """Record a process started inside this node in the lab's state, so down/clean stop it."""
        self._record(pid, f"{self.name}/{what}")

    def argv(self, command: str | Sequence[str]) -> list[str]:
        if isinstance(command, str):
            command = ["sh", "-c", command]
        return ["ip", "netns", "exec", self.netns, *command]

    def run(self, command: str | Sequence[str], check: bool = False, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run to completion inside the node; stdout and stderr captured separately."""
        return subprocess.run(self.argv(command), capture_output=True, text=True, check=check,
                              timeout=timeout, input=input)

    def cmd(self, command: str | Sequence[str], timeout: float = 60) -> str:
        """Mininet-style: run inside the node and return stdout+stderr as one string."""
        p = subprocess.run(self.argv(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        return p.stdout

    def popen(self, command: str | Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start a process inside the node. ``ip netns exec`` execs, so ``.pid`` is the process."""
        return subprocess.Popen(self.argv(command), **kwargs)

    def addresses(self) -> list[str]:
        return [str(a) for a in self.spec.addresses()]

    def live_ip(self) -> str | None:
        """The first global IPv4 address the node has right now (a DHCP lease included)."""
        import json
        out = self.run(["ip", "-j", "-4", "addr", "show", "scope", "global"]).stdout or "[]"
        for link in json.loads(out):
            for info in link.get("addr_info", []):
                return info["local"]
        return None

    def ip(self) -> str | None:
        """The node's first static address (like Mininet's ``node.IP()``)."""
        addrs = self.spec.addresses()
        return str(addrs[0].ip) if addrs else None

    def call(self, func: str, *args: Any, timeout: float = 60, **kwargs: Any) -> Any:
        """Run ``module:function(*args, **kwargs)`` in a child Python inside the node.

        The function must be importable (labkit.probes has the shared ones) and
        its result picklable; the child's exceptions are re-raised here with the
        child's traceback text, so a failing probe reads like a local one.
        """
        payload = pickle.dumps((func, args, kwargs))
        p = subprocess.run(self.argv([sys.executable, "-m", "labkit.lab.child"]), input=payload,
                           capture_output=True, timeout=timeout)
        try:
            ok, value = pickle.loads(p.stdout)
        except Exception:
            raise NodeCommandError(f"{self.name}: {func} did not return a result "
                                   f"(exit {p.returncode}): {p.stderr.decode(errors='replace')[-2000:]}") from None
        if not ok:
            raise NodeCommandError(f"{self.name}: {func} failed inside the node:\n{value}")
        return value

    scapy = call  # the name notebooks use when the function is a scapy probe

    def capture(self, iface: str = "any", duration: float | None = None, count: int | None = None,
                bpf: str | None = None, write: str | Path | None = None):
        """Capture with tcpdump inside this node until `duration` s or `count` packets (one is
        required; whichever comes first) and return the packets as a scapy PacketList.

        `iface` "any" is every interface of the node (Linux cooked frames); name one for its
        Ethernet headers and 802.1Q tags. `write` also keeps the pcap at that path. See
        labkit.lab.capture."""
        from .capture import capture
        return capture(self, iface, duration=duration, count=count, bpf=bpf, write=write)

    def capturing(self, iface: str = "any", bpf: str | None = None, count: int | None = None,
                  write: str | Path | None = None):
        """A capture that runs while you send traffic; it is listening when the block starts:

            with node.capturing("eth0", bpf="icmp") as cap:
                other.cmd("ping -c1 10.0.0.10")
            cap.packets
        """
        from .capture import Capture
        return Capture(self, iface, bpf=bpf, count=count, write=write)
