"""`dig` inside a lab node, and the two negative answers of RFC 2308 side by side.

RFC 2308 (section 1 and 2.2): a name that does not exist gets NXDOMAIN (rcode 3); a name
that exists but has no record of the asked type gets NODATA, which is no rcode of its own:
NOERROR with an empty answer section and the zone's SOA in the authority section (its
MINIMUM field and TTL bound how long a resolver caches the negative answer). Both carry
the SOA; only the rcode tells them apart.

    dig(node, server, name, qtype)           -> DigAnswer (rcode, flags, sections)
    parse_dig(text)                          the parser, for dig's default output
    negative_answers(node, server, queries)  one DigAnswer per (name, type), for the table
    DigAnswer.kind                           "answer" | "NODATA" | "NXDOMAIN" | the rcode

dig runs as a process in the node (``node.run``), so its query goes from the node's
namespace, never from the root namespace.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADER = re.compile(r";; ->>HEADER<<- opcode: (?P<opcode>\w+), status: (?P<status>\w+), id: \d+")
_FLAGS = re.compile(r";; flags:(?P<flags>[a-z ]*);")
_SECTION = re.compile(r";; (?P<name>QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:")
_RR = re.compile(r"^(?P<name>\S+)\s+(?P<ttl>\d+)\s+(?P<cls>IN|CH|HS)\s+(?P<type>[A-Z0-9]+)\s+(?P<data>.*)$")


class DigError(ValueError):
    """dig printed nothing this parser understands (no header line), or failed."""


@dataclass
class DigAnswer:
    name: str
    type: str
    rcode: str
    flags: tuple[str, ...]
    answer: list[tuple[str, int, str, str]] = field(default_factory=list)     # (name, ttl, type, data)
    authority: list[tuple[str, int, str, str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """RFC 2308's words: NXDOMAIN (no such name), NODATA (NOERROR, no answer, the SOA in
        authority), "answer" when the answer section holds records, else the rcode."""
        if self.rcode == "NXDOMAIN":
            return "NXDOMAIN"
        if self.rcode == "NOERROR" and self.answer:
            return "answer"
        if self.rcode == "NOERROR" and any(t == "SOA" for _, _, t, _ in self.authority):
            return "NODATA"
        return self.rcode

    def soa(self) -> str:
        """The SOA of the authority section ("" when there is none)."""
        return next((f"{n} {ttl} SOA {d}" for n, ttl, t, d in self.authority if t == "SOA"), "")


def parse_dig(text: str, name: str = "", qtype: str = "") -> DigAnswer:
    """dig's default output (header, flags, sections) -> DigAnswer; DigError without a header."""
    header = _HEADER.search(text)
    if not header:
        first = text.strip().splitlines()[:1]
        raise DigError(f"dig printed no answer header: {first[0][:200] if first else '(nothing)'}")
    flags = _FLAGS.search(text)
    out = DigAnswer(name, qtype, header.group("status"),
                    tuple(flags.group("flags").split()) if flags else ())
    section = ""
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            section = m.group("name")
            continue
        if not line.strip():
            section = ""
            continue
        rr = _RR.match(line.strip())
        if rr and section in ("ANSWER", "AUTHORITY"):
            row = (rr.group("name"), int(rr.group("ttl")), rr.group("type"), " ".join(rr.group("data").split()))
            (out.answer if section == "ANSWER" else out.authority).append(row)
    return out


def dig(node, server: str, name: str, qtype: str = "A", recurse: bool = False,
        timeout: float = 2.0, port: int = 53) -> DigAnswer:
    """`dig @server name qtype` run inside ``node`` (a lab node); +norecurse unless asked."""
    argv = ["dig", f"@{server}", name, qtype, f"+time={max(1, round(timeout))}", "+tries=2",
            "+recurse" if recurse else "+norecurse"] + (["-p", str(port)] if port != 53 else [])
    p = node.run(argv, timeout=timeout * 2 + 10)
    if p.returncode != 0:
        raise DigError(f"dig @{server} {name} {qtype} in {getattr(node, 'name', node)}: exit "
                       f"{p.returncode}: {(p.stdout + p.stderr).strip()[-300:]}")
    return parse_dig(p.stdout, name, qtype)


def negative_answers(node, server: str, queries: list[tuple[str, str]]) -> list[DigAnswer]:
    """dig for each (name, type) from ``node``: e.g. an existing name with a missing type
    (NODATA) and a missing name (NXDOMAIN), for `negative_table`."""
    return [dig(node, server, n, t) for n, t in queries]


def negative_table(answers: list[DigAnswer]) -> str:
    """A small deterministic table: question, rcode, answer count, SOA in authority, kind."""
    rows = [("question", "rcode", "answers", "authority", "RFC 2308")]
    for a in answers:
        soa = a.soa()
        rows.append((f"{a.name} {a.type}", a.rcode, str(len(a.answer)),
                     f"SOA {soa.split()[0]}" if soa else "-", a.kind))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip() for r in rows)
