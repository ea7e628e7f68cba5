"""The `dns` check kind: a query from a lab node whose answer must hold `expect`.

Moved here from the engine so the engine knows no protocol: the DNS plug-in declares
the kind, its typed parameters and the UDP payload that makes port 53 answer a
`port_open` check. The query's socket is made inside the source node's namespace.
"""
from __future__ import annotations

import socket
from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord

from labkit.lab.errors import TopologyError
from labkit.lab.netns import in_netns

from .client import recv_exact


def qtype(value: Any, where, ctx) -> str:
    """A record type dnslib knows (A, MX, SOA, ...), upper-cased."""
    t = str(value).upper()
    if isinstance(value, (dict, list)) or t not in QTYPE.reverse:
        known = "A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT"
        raise TopologyError(where, f"'{str(value)[:40]}' is not a DNS record type", f"use one of: {known}")
    return t


def rcode(value: Any, where, ctx) -> str:
    r = str(value).upper()
    if isinstance(value, (dict, list)) or r not in RCODE.reverse:
        raise TopologyError(where, f"'{str(value)[:40]}' is not a DNS rcode", "e.g. NOERROR, NXDOMAIN, SERVFAIL")
    return r


def probe_payload() -> bytes:
    """A query any DNS server answers (an SOA question), so `port_open ... 53/udp` draws a reply."""
    return DNSRecord.question("labkit.probe", "SOA").pack()


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


def run(ctx: Any, p: dict[str, Any]) -> tuple[bool, str]:
    try:
        reply = dns_query(ctx.node(p["from"]).netns, p["server"], p["name"], p["type"], p["timeout"])
    except (OSError, socket.timeout) as exc:
        return False, f"no answer from {p['server']}: {exc}"
    got = RCODE[reply.header.rcode]
    answers = sorted(str(rr.rdata) for rr in reply.rr if QTYPE[rr.rtype] == p["type"])
    if got != p["rcode"]:
        return False, f"rcode {got}, expected {p['rcode']}"
    if "expect" not in p:
        return True, f"{got} {', '.join(answers) or '(no records)'}"
    missing = [w for w in p["expect"] if w not in answers]
    detail = f"{p['type']} {', '.join(answers) or '(none)'}"
    return not missing, detail + (f"; missing {', '.join(missing)}" if missing else "")


def describe(p: dict[str, Any]) -> str:
    return f"dns {p['from']} -> {p['name']} {p['type']} via {p['server']}"
