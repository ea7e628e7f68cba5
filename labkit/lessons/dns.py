"""Notebook 02's helpers: the tables its cells print from DNS probes and lint findings.

Pure formatting, deterministic between runs (no timings, IDs or absolute paths), so the
notebook's outputs can be checked by nbval.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from labkit.diag import Diagnostic


def format_findings(findings: list[Diagnostic], base: str | Path | None = None) -> str:
    """One line per lint finding in diag's format, paths relative to ``base``."""
    out = []
    for f in findings:
        if base is not None and f.file:
            try:
                f = dataclasses.replace(f, file=str(Path(f.file).resolve().relative_to(Path(base).resolve())))
            except ValueError:  # not under base: keep the path as it is
                pass
        out.append(str(f))
    return "\n".join(out) if out else "no findings"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip() for r in rows)


def walk_table(steps: list[dict]) -> str:
    """A small fixed-width table of a ``walk`` result, for notebook cells (deterministic:
    no timings, no IDs). The last column holds the glue of a referral (``glue:``) and, for
    any other answer, the address records of its additional section (``additional:``):
    glue exists only in referrals (RFC 1034 4.2.1, RFC 9471)."""
    rows = [("step", "server", "rcode", "aa", "answer / referral", "glue / additional")]
    for i, s in enumerate(steps, start=1):
        what = ", ".join(s["answer"]) or ("-> " + ", ".join(s["referral"]) if s["referral"] else "")
        if s["glue"]:
            extra = "glue: " + ", ".join(s["glue"])
        elif s.get("additional"):
            extra = "additional: " + ", ".join(s["additional"])
        else:
            extra = ""
        rows.append((str(i), s["server"], str(s["rcode"]), "yes" if s["aa"] else "no", what, extra))
    return _table(rows)


def with_mx_target(zone_text: str, target: str) -> str:
    """The seed's zone text with its apex `IN MX 10 mail` pointed at ``target`` (e.g. an
    out-of-zone name, to see what named-checkzone -i full does with it). ValueError when
    the text has no such record, or more than one: the edit never fails silently."""
    lines = zone_text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.split() == ["IN", "MX", "10", "mail"]]
    if len(hits) != 1:
        raise ValueError(f"want exactly one 'IN MX 10 mail' line in the zone, found {len(hits)}")
    lines[hits[0]] = lines[hits[0]].replace("mail", target, 1)
    return "".join(lines)


def _name_end(raw: bytes, at: int) -> tuple[int, int | None]:
    """The offset just past the domain name that starts at ``at``, and where the name's
    compression pointer points (RFC 1035 4.1.4; None when it ends with a zero label)."""
    while True:
        if at >= len(raw):
            raise ValueError(f"DNS name runs past the end of the message ({len(raw)} bytes)")
        n = raw[at]
        if n == 0:
            return at + 1, None
        if n & 0xC0 == 0xC0:          # a pointer: two bytes, and the name ends there
            return at + 2, int.from_bytes(raw[at:at + 2], "big") & 0x3FFF
        at += 1 + n


def _hex(b: bytes, most: int = 6) -> str:
    shown = " ".join(f"{x:02x}" for x in b[:most])
    return shown + (f" ... ({len(b)} bytes)" if len(b) > most else "")


def message_fields(raw: bytes) -> str:
    """A DNS message as it is on the wire, one row per field: offset, the bytes (long ones
    cut), the field's name in RFC 1035 4.1 and its value as scapy decodes it. Deterministic
    for a fixed ID: no addresses, ports or timings."""
    import struct

    try:
        return _message_fields(raw)
    except (struct.error, AttributeError, IndexError, TypeError) as e:
        raise ValueError(f"not a DNS message this listing can read ({len(raw)} bytes): "
                         f"{type(e).__name__}: {e}") from None


def _message_fields(raw: bytes) -> str:
    from scapy.layers.dns import DNS, dnsclasses, dnsqtypes

    if len(raw) < 12:
        raise ValueError(f"a DNS message has a 12-byte header; this one has {len(raw)} bytes")
    d = DNS(raw)
    rows = [("offset", "bytes", "field", "value")]

    def row(start: int, end: int, name: str, value) -> None:
        rows.append((str(start), _hex(raw[start:end]), name, str(value)))

    flags = (f"QR={d.qr} OPCODE={d.opcode} AA={d.aa} TC={d.tc} RD={d.rd} RA={d.ra} "
             f"Z={d.z} AD={d.ad} CD={d.cd} RCODE={d.rcode}")
    row(0, 2, "ID", f"{d.id} (0x{d.id:04x})")
    row(2, 4, "flags", flags)
    for i, count in enumerate(("QDCOUNT", "ANCOUNT", "NSCOUNT", "ARCOUNT")):
        row(4 + 2 * i, 6 + 2 * i, count, getattr(d, count.lower()))
    at = 12
    for q in d.qd or []:
        end, _ = _name_end(raw, at)
        row(at, end, "QNAME", _s(q.qname))
        row(end, end + 2, "QTYPE", f"{q.qtype} ({dnsqtypes.get(q.qtype, '?')})")
        row(end + 2, end + 4, "QCLASS", f"{q.qclass} ({dnsclasses.get(q.qclass, '?')})")
        at = end + 4
    for section, rrs in (("answer", d.an), ("authority", d.ns), ("additional", d.ar)):
        for rr in rrs or []:
            end, pointer = _name_end(raw, at)
            where = "" if pointer is None else f" (ends in a pointer to offset {pointer})"
            row(at, end, f"{section}: NAME", _s(rr.rrname) + where)
            row(end, end + 4, "TYPE, CLASS", f"{dnsqtypes.get(rr.type, rr.type)} {dnsclasses.get(rr.rclass, rr.rclass)}")
            row(end + 4, end + 8, "TTL", rr.ttl)
            rdlen = int.from_bytes(raw[end + 8:end + 10], "big")
            if end + 10 + rdlen > len(raw):
                raise ValueError(f"the {section} record at offset {at} runs past the end of the "
                                 f"message ({len(raw)} bytes)")
            row(end + 8, end + 10, "RDLENGTH", rdlen)
            row(end + 10, end + 10 + rdlen, "RDATA", _rdata(rr))
            at = end + 10 + rdlen
    return _table(rows)


def _s(x) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else str(x)


def _rdata(rr) -> str:
    if rr.type == 15:
        return f"{rr.preference} {_s(rr.exchange)}"
    if rr.type == 6:
        return f"{_s(rr.mname)} {_s(rr.rname)} {rr.serial} {rr.refresh} {rr.retry} {rr.expire} {rr.minimum}"
    return _s(rr.rdata)


def security_group(topology: str, node: str = "ec2") -> list[str]:
    """The rules (`allow`) of ``node``'s secgroup service in a topology, e.g. "seed" (the
    post's group) or "seed-www" (the same with the web server's TCP 80)."""
    from labkit.lab import loader
    topo = loader.load(topology)
    for spec in topo.nodes[node].services:
        if spec.kind == "secgroup":
            return [str(a) for a in spec.params["allow"]]
    raise ValueError(f"topology {topology!r}: {node} has no secgroup service")


def set_security_group(lab, allow: list[str], node: str = "ec2") -> str:
    """Change the host's security group in a running lab, as one edits it in the EC2
    console: its secgroup service gets the rules ``allow`` and `Lab.restart` renders and
    loads its nftables table again (the table is replaced whole). Returns the rules."""
    svc = lab.service(node, "secgroup")
    svc.params["allow"] = list(allow)
    lab.restart(node, "secgroup")
    return ", ".join(svc.params["allow"])
