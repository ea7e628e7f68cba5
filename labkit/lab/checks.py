"""Running the declarative checks of a topology, and the engine's own check kinds.

The engine's kinds are ``reach`` / ``no_reach`` (ICMP echo, 2 tries) and ``port_open`` /
``port_closed`` (a TCP connect; for UDP a datagram that must draw a reply — the payload
comes from the plug-in that owns the port, e.g. a DNS query for 53). Topics add their
own kinds through their plug-in. Every probe's socket is created inside the source
node's namespace, so nothing is sent from the root one.
"""
from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import Any, Callable

from labkit.diag import printable

from .model import Check
from .netns import open_socket
from .plugins import registry


@dataclass
class CheckResult:
    check: Check
    ok: bool
    detail: str

    @property
    def line(self) -> int:
        return self.check.where.line


@dataclass
class CheckReport:
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def table(self) -> str:
        rows = [("#", "check", "result", "detail")]
        rows += [(str(i + 1), r.check.describe(), "PASS" if r.ok else "FAIL", r.detail)
                 for i, r in enumerate(self.results)]
        widths = [max(len(row[c]) for row in rows) for c in range(3)]
        out = ["  ".join(cell.ljust(widths[c]) if c < 3 else cell for c, cell in enumerate(row)) for row in rows]
        passed = sum(r.ok for r in self.results)
        out.append(f"{passed}/{len(self.results)} checks passed")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.table())


def run_checks(ctx: Any, checks: list[Check], progress: Callable[[str], None]) -> CheckReport:
    """Run each check through its kind's declared runner; `ctx` is a plugins.CheckContext."""
    results = []
    for chk in checks:
        progress(f"check {chk.describe()}")
        try:
            ok, detail = registry().check(chk.kind).runner()(ctx, chk.params)
        except Exception as exc:  # one broken check (a plug-in's, say) fails alone; the rest still run
            ok, detail = False, f"the check itself failed: {type(exc).__name__}: {printable(exc)}"
        results.append(CheckResult(chk, ok, detail))
    return CheckReport(results)


# -- the engine's own check kinds -------------------------------------------------
def reach(ctx: Any, p: dict[str, Any], want: bool = True) -> tuple[bool, str]:
    dst = ctx.address(p["to"])
    r = ctx.node(p["from"]).run(["ping", "-c", "2", "-i", "0.2", "-W", f"{p['timeout']:g}", "-q", dst])
    got = r.returncode == 0
    return got == want, f"{dst} {'answers' if got else 'does not answer'} ping"


def no_reach(ctx: Any, p: dict[str, Any]) -> tuple[bool, str]:
    return reach(ctx, p, want=False)


def port_open(ctx: Any, p: dict[str, Any], want: bool = True) -> tuple[bool, str]:
    dst = ctx.address(p["to"])
    port, proto = p["port"].split("/")
    payload = ctx.udp_payload(int(port)) if proto == "udp" else b""
    got, how = probe_port(ctx.node(p["from"]).netns, dst, int(port), proto, p["timeout"], payload)
    return got == want, f"{dst} {port}/{proto} {how}"


def port_closed(ctx: Any, p: dict[str, Any]) -> tuple[bool, str]:
    return port_open(ctx, p, want=False)


def probe_port(ns: str, addr: str, port: int, proto: str, timeout: float,
               payload: bytes = b"labkit probe\n") -> tuple[bool, str]:
    """One TCP connect, or one UDP datagram that must draw a reply, from inside namespace `ns`."""
    s = open_socket(socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM, ns)
    s.settimeout(timeout)
    try:
        if proto == "tcp":
            rc = s.connect_ex((addr, port))
            if rc == 0:
                return True, "accepts connections"
            if rc in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINPROGRESS):
                return False, "no answer (dropped)"
            # refused: a RST came back; anything else (an ICMP error) is unreachable
            word = "refused" if rc == errno.ECONNREFUSED else "unreachable"
            return False, f"{word} ({errno.errorcode.get(rc, rc)})"
        s.connect((addr, port))
        s.send(payload)
        try:
            s.recv(4096)
            return True, "replies"
        except ConnectionRefusedError:
            return False, "port unreachable"
        except socket.timeout:
            return False, "no reply"
    finally:
        s.close()
