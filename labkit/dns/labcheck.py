"""The `dns` check kind: a query from a lab node whose answer must hold `expect`.

Moved here from the engine so the engine knows no protocol: the DNS plug-in declares
the kind, its typed parameters and the UDP payload that makes port 53 answer a
`port_open` check. The query's socket is made inside the source node's namespace.
"""
from __future__ import annotations

import socket
from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord

from labkit.diag import printable
from labkit.lab.errors import TopologyError

from .client import query


def qtype(value: Any, where, ctx) -> str:
    """A record type dnslib knows (A, MX, SOA, ...), upper-cased."""
    t = str(value).upper()
    if isinstance(value, (dict, list)) or t not in QTYPE.reverse:
        known = "A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT"
        raise TopologyError(where, f"'{printable(value, 60)}' is not a DNS record type", f"use one of: {known}")
    return t


def rcode(value: Any, where, ctx) -> str:
    r = str(value).upper()
    if isinstance(value, (dict, list)) or r not in RCODE.reverse:
        raise TopologyError(where, f"'{printable(value, 60)}' is not a DNS rcode", "e.g. NOERROR, NXDOMAIN, SERVFAIL")
    return r


def probe_payload() -> bytes:
    """A query any DNS server answers (an SOA question), so `port_open ... 53/udp` draws a reply."""
    return DNSRecord.question("labkit.probe", "SOA").pack()


def run(ctx: Any, p: dict[str, Any]) -> tuple[bool, str]:
    try:
        reply = query(ctx.node(p["from"]).netns, p["server"], p["name"], p["type"], p["timeout"])
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
