"""Declarative checks from the topology file, run inside lab nodes.

Kinds: ``reach`` / ``no_reach`` (ICMP echo, 2 tries), ``port_open`` / ``port_closed``
(TCP connect; for UDP a datagram that must draw a reply — a DNS query on port 53),
and ``dns`` (an answer whose records include `expect`). Every probe's socket is
created inside the source node's namespace, so nothing is sent from the root one.
"""
from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from dnslib import QTYPE, RCODE, DNSRecord

from labkit.dns.client import recv_exact

from .model import Check
from .netns import in_netns

if TYPE_CHECKING:
    from .runtime import Lab


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


def target_address(lab: "Lab", to: str) -> str:
    """A node's static address, or for a DHCP host the address it leased."""
    if to in lab.topo.nodes:
        addr = lab.topo.address_of(to)
        return str(addr) if addr else (lab.node(to).live_ip() or to)
    return to


def run_checks(lab: "Lab", progress: Callable[[str], None]) -> CheckReport:
    results = []
    for chk in lab.topo.checks:
        progress(f"check {chk.describe()}")
        results.append(run_check(lab, chk))
    return CheckReport(results)


def run_check(lab: "Lab", chk: Check) -> CheckResult:
    p = chk.params
    src = lab.node(str(p["from"]))
    if chk.kind in ("reach", "no_reach"):
        dst = target_address(lab, str(p["to"]))
        r = src.run(["ping", "-c", "2", "-i", "0.2", "-W", str(p.get("timeout", 1)), "-q", dst])
        got = r.returncode == 0
        want = chk.kind == "reach"
        detail = f"{dst} {'answers' if got else 'does not answer'} ping"
        return CheckResult(chk, got == want, detail)
    if chk.kind in ("port_open", "port_closed"):
        dst = target_address(lab, str(p["to"]))
        port, proto = str(p["port"]).split("/")
        got, how = probe_port(src.netns, dst, int(port), proto, float(p.get("timeout", 1.5)))
        return CheckResult(chk, got == (chk.kind == "port_open"), f"{dst} {port}/{proto} {how}")
    return dns_check(src.netns, chk)


def probe_port(ns: str, addr: str, port: int, proto: str, timeout: float) -> tuple[bool, str]:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with in_netns(ns):
        s = socket.socket(socket.AF_INET, kind)
    s.settimeout(timeout)
    try:
        if proto == "tcp":
            rc = s.connect_ex((addr, port))
            if rc == 0:
                return True, "accepts connections"
            if rc in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINPROGRESS):
                return False, "no answer (dropped)"
            return False, f"refused ({errno.errorcode.get(rc, rc)})"
        s.connect((addr, port))
        payload = DNSRecord.question("exampledomain.ca", "SOA").pack() if port == 53 else b"labkit probe\n"
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


def dns_query(ns: str, server: str, name: str, qtype: str = "A", timeout: float = 2.0,
              tcp: bool = False) -> DNSRecord:
    """One DNS query from inside namespace `ns` (dnslib for the wire format)."""
    q = DNSRecord.question(name, qtype)
    with in_netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.connect((server, 53))
        if tcp:
            data = q.pack()
            s.sendall(len(data).to_bytes(2, "big") + data)
            buf = recv_exact(s, int.from_bytes(recv_exact(s, 2), "big"))
        else:
            s.send(q.pack())
            buf = s.recv(65535)
        return DNSRecord.parse(buf)
    finally:
        s.close()


def dns_check(ns: str, chk: Check) -> CheckResult:
    p = chk.params
    qtype = str(p.get("type", "A")).upper()
    try:
        reply = dns_query(ns, str(p["server"]), str(p["name"]), qtype, float(p.get("timeout", 2)))
    except (OSError, socket.timeout) as exc:
        return CheckResult(chk, False, f"no answer from {p['server']}: {exc}")
    rcode = RCODE[reply.header.rcode]
    answers = sorted(str(rr.rdata) for rr in reply.rr if QTYPE[rr.rtype] == qtype)
    want_rcode = str(p.get("rcode", "NOERROR")).upper()
    if rcode != want_rcode:
        return CheckResult(chk, False, f"rcode {rcode}, expected {want_rcode}")
    expect = p.get("expect")
    if expect is None:
        return CheckResult(chk, True, f"{rcode} {', '.join(answers) or '(no records)'}")
    wanted = [str(e) for e in (expect if isinstance(expect, list) else [expect])]
    missing = [w for w in wanted if w not in answers]
    detail = f"{qtype} {', '.join(answers) or '(none)'}"
    return CheckResult(chk, not missing, detail + (f"; missing {', '.join(missing)}" if missing else ""))
