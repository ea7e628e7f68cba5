"""Daemon lifecycle on a node: render -> check -> start -> ready -> stop.

Borrowed from IPMininet's idea of daemons that render their own config and
dry-run it before starting: a broken config stops bring-up with the daemon's own
message, before any process has started.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from labkit.procs import WaitTimeout, run_gated, wait_until

from .errors import ServiceError
from .netns import open_socket

if TYPE_CHECKING:
    from .model import ServiceSpec, Topology
    from .node import LabNode


class Service:
    """Base class. Subclasses set `kind`, `ports` and override render/check/start.

    A service sees a narrow context: its node (namespace, run directory, addresses,
    record-a-PID) and the read-only topology model, never the running lab.
    """

    kind: ClassVar[str] = ""
    #: (protocol, port) pairs that must answer inside the node before the service is ready
    ports: ClassVar[Sequence[tuple[str, int]]] = ()
    ready_timeout: ClassVar[float] = 20.0
    #: services start in this order (then topology order): servers first, DHCP clients last
    order: ClassVar[int] = 50

    def __init__(self, node: "LabNode", spec: "ServiceSpec", topology: "Topology | None" = None):
        self.node = node
        self.topology = topology
        self.spec = spec
        self.params: dict[str, Any] = dict(spec.params)
        self.name = spec.name
        self.procs: list[subprocess.Popen] = []

    # -- helpers for subclasses -------------------------------------------
    @property
    def label(self) -> str:
        return f"{self.node.name}/{self.name} ({self.spec.where})"

    @property
    def run_dir(self) -> Path:
        d = self.node.run_dir / self.name
        d.mkdir(parents=True, exist_ok=True)
        return d

    @property
    def log_path(self) -> Path:
        return self.run_dir / f"{self.kind or self.name}.log"

    @property
    def python(self) -> str:
        """The interpreter of labkit's environment, for `python -m labkit...` servers."""
        return sys.executable

    def config_path(self, key: str) -> Path:
        """A file named in the topology (resolved and checked by the loader)."""
        value = self.params.get(key)
        if not isinstance(value, Path):
            raise ServiceError(self, f"needs '{key}: FILE' in the topology")
        return value

    def run_checked(self, argv: Sequence[str], inside: bool = False) -> str:
        """Run a dry-run tool; a non-zero exit raises ServiceError with its output.

        Inside the node, the namespace sweep of teardown finds it; outside, its PID is
        recorded before it may run (procs.run_gated), so a kill -9 of the controller
        cannot leave it unrecorded."""
        if inside:
            p = subprocess.run(self.node.argv(list(argv)), capture_output=True, text=True)
        else:
            p = run_gated(list(argv), lambda pid: self.node.record_pid(pid, f"{self.name}/tool"))
        if p.returncode != 0:
            raise ServiceError(self, f"'{' '.join(argv)}' failed (exit {p.returncode})", p.stdout + p.stderr)
        return p.stdout + p.stderr

    def spawn(self, argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a foreground daemon inside the node; its PID is recorded before we return.

        `ip netns exec` puts it in the node's namespace before argv runs, and the namespace
        was recorded before it existed: a daemon killed before its PID is recorded (or
        forked by the daemon) is still found and ended by teardown's namespace sweep."""
        log = open(self.log_path, "ab")
        proc = self.node.popen(list(argv), stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log.close()
        self.procs.append(proc)
        self.record_pid(proc.pid)
        return proc

    def record_pid(self, pid: int) -> None:
        self.node.record_pid(pid, self.name)

    def signal(self, sig: int) -> list[int]:
        """Send `sig` (e.g. SIGHUP: reload) to this service's daemons, by the PIDs the lab
        recorded for it, each checked against its recorded start time (never a reused PID),
        from this process or any other attached to the lab. Returns the PIDs signalled;
        ServiceError when none of them is running."""
        from .state import LabState

        state = LabState.load(self.node.run_dir.parent.name)
        live = [p for p in (state.procs if state else []) if p.what == f"{self.node.name}/{self.name}" and p.alive()]
        if not live:
            raise ServiceError(self, "is not running (no live process of it on the lab's record)")
        for p in live:
            os.kill(p.pid, sig)
        return [p.pid for p in live]

    # -- the lifecycle ------------------------------------------------------
    def render(self) -> None:
        """Write the daemon's config into self.run_dir."""

    def check(self) -> None:
        """Dry-run the rendered config; raise ServiceError with the tool's message."""

    def start(self) -> None:
        raise ServiceError(self, "has no start()")

    def ready(self) -> bool:
        """True once every port in `ports` answers inside the node."""
        return all(self.port_answers(proto, port) for proto, port in self.ports)

    def wait_ready(self) -> None:
        def ready_or_dead() -> bool:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise ServiceError(self, f"exited with status {proc.returncode} while starting",
                                       self.log_tail())
            return self.ready()

        try:
            wait_until(ready_or_dead, self.ready_timeout, poll=0.05, what="ready")
        except WaitTimeout:
            raise ServiceError(self, f"not ready after {self.ready_timeout:.0f} s "
                               f"(waiting for {', '.join(f'{p}/{q}' for q, p in self.ports)})",
                               self.log_tail()) from None

    def stop(self) -> None:
        """Stopping is by recorded PID, done for all services by the lab (state.kill_procs)."""

    # -- probes -----------------------------------------------------------------
    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def port_answers(self, proto: str, port: int) -> bool:
        if proto == "tcp":
            s = open_socket(socket.SOCK_STREAM, self.node.netns)
            s.settimeout(0.2)
            try:
                return s.connect_ex(("127.0.0.1" if self.listens_on_loopback() else self.address(), port)) == 0
            finally:
                s.close()
        out = self.node.run(["ss", "-Hlnu", f"sport = :{port}"]).stdout
        return bool(out.strip())

    def listens_on_loopback(self) -> bool:
        return self.address() is None

    def address(self) -> str | None:
        """The address the service listens on: `listen:` in the topology, else the node's first."""
        return str(self.params.get("listen") or self.node.ip() or "") or None
