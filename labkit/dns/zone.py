"""Zone files: a master-file parser that keeps line numbers, and the in-memory zone.

Why our own parser: lint needs ``file:line`` for every record, and the seed zone uses the
whole awkward subset of RFC 1035 syntax ($TTL, ``@``, blank owners that continue the
previous owner, an SOA split over lines by parentheses with ``;`` comments inside, relative
names, TTLs with units such as ``1H`` and ``1W``). dnslib's ZoneParser throws the line
numbers away, so here we tokenize ourselves and hand each record's rdata tokens to
dnslib's ``RD.fromZone`` classes for the wire format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import CLASS, QTYPE, RR, DNSLabel, A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT
from dnslib.dns import RDMAP, RD

from labkit.diag import Diagnostic, DiagnosticError

_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SourceError(DiagnosticError):
    """One diagnostic about a DNS source file (zone file, named.conf) that cannot be read.

    ``.path/.line/.message/.fix`` read that diagnostic; lint turns it into a finding.
    """

    def __init__(self, path: str, line: int, message: str, fix: str = ""):
        super().__init__([Diagnostic(path, line, message, fix, rule="parse")])

    path = property(lambda self: self.first.file)
    line = property(lambda self: self.first.line)
    message = property(lambda self: self.first.message)
    fix = property(lambda self: self.first.fix)


class ZoneError(SourceError):
    """A zone file that cannot be loaded."""


def parse_ttl(text: str) -> int:
    """BIND-style TTL: ``300``, ``1H``, ``1h30m``, ``1W``. Raises ValueError."""
    t = text.lower()
    if t.isdigit():
        return int(t)
    parts = re.fullmatch(r"((\d+)[smhdw])+", t)
    if not parts:
        raise ValueError(f"bad TTL {text!r}")
    return sum(int(n) * _TIME_UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", t))


def key(name) -> str:
    """Canonical dict key of a domain name: lower case, trailing dot."""
    s = str(name).lower()
    return s if s.endswith(".") else s + "."


@dataclass
class Record:
    """One RR as written in the file (with where it was written)."""

    name: str          # canonical key, e.g. "www.exampledomain.ca."
    rtype: int
    ttl: int
    rdata: RD
    line: int
    path: str
    owner_text: str = ""    # the owner as typed ("", "@", "ns", ...)
    rdata_tokens: tuple = ()
    display: str = ""       # the absolute owner in the file's case (BIND answers with it)

    def rr(self) -> RR:
        return RR(DNSLabel(self.display or self.name), self.rtype, CLASS.IN, self.ttl, self.rdata)

    @property
    def type_name(self) -> str:
        return QTYPE.get(self.rtype, f"TYPE{self.rtype}")


@dataclass
class Zone:
    """An authoritative zone: records grouped by owner name and type."""

    origin: str
    path: str = "<memory>"
    records: list[Record] = field(default_factory=list)
    nodes: dict[str, dict[int, list[Record]]] = field(default_factory=dict)
    directive_lines: dict[str, int] = field(default_factory=dict)

    def add(self, rec: Record) -> None:
        self.records.append(rec)
        rrsets = self.nodes.setdefault(rec.name, {})
        rrset = rrsets.setdefault(rec.rtype, [])
        # RRset TTLs must agree; BIND uses the first TTL for the whole set.
        if rrset:
            rec.ttl = rrset[0].ttl
        if not any(r.rdata == rec.rdata for r in rrset):
            rrset.append(rec)

    @property
    def soa(self) -> Record | None:
        rs = self.nodes.get(self.origin, {}).get(QTYPE.SOA)
        return rs[0] if rs else None

    def rrset(self, name: str, rtype: int) -> list[Record]:
        return self.nodes.get(key(name), {}).get(rtype, [])

    def contains(self, name: str) -> bool:
        """Is ``name`` at or below the origin (regardless of delegations)?"""
        k = key(name)
        return k == self.origin or k.endswith("." + self.origin) or self.origin == "."

    def check_loaded(self) -> None:
        """The checks BIND refuses to load a zone for; raise ZoneError."""
        if self.soa is None:
            raise ZoneError(self.path, 1, f"zone {self.origin} has no SOA record at its apex",
                            "add '@ IN SOA mname rname (serial refresh retry expire minimum)'")
        if not self.rrset(self.origin, QTYPE.NS):
            raise ZoneError(self.path, self.soa.line, f"zone {self.origin} has no NS records at its apex",
                            "add '@ IN NS ns.<zone>.' and an A record for it")
        for name, rrsets in self.nodes.items():
            if QTYPE.CNAME in rrsets and len(rrsets) > 1:
                rec = rrsets[QTYPE.CNAME][0]
                raise ZoneError(self.path, rec.line, f"{name} has a CNAME and other data",
                                "a CNAME owner may hold no other record; remove one of them")


# ---------------------------------------------------------------- tokenizer

@dataclass
class _Line:
    """One logical entry (parentheses joined) of a master file."""

    line: int            # first physical line
    blank_owner: bool    # the entry started with whitespace
    tokens: list[str]
    quoted: list[bool]


def _logical_lines(text: str, path: str):
    depth = 0
    cur: _Line | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        i, n = 0, len(raw)
        if depth == 0:
            cur = _Line(lineno, raw[:1] in (" ", "\t"), [], [])
        while i < n:
            c = raw[i]
            if c in " \t\r":
                i += 1
            elif c == ";":
                break
            elif c == "(":
                depth += 1
                i += 1
            elif c == ")":
                if depth == 0:
                    raise ZoneError(path, lineno, "')' without a matching '('", "remove the stray ')'")
                depth -= 1
                i += 1
            elif c == '"':
                j, buf = i + 1, []
                while j < n and raw[j] != '"':
                    if raw[j] == "\\" and j + 1 < n:
                        buf.append(raw[j:j + 2])
                        j += 2
                    else:
                        buf.append(raw[j])
                        j += 1
                if j >= n:
                    raise ZoneError(path, lineno, "unterminated quoted string", 'close the string with "')
                cur.tokens.append("".join(buf))
                cur.quoted.append(True)
                i = j + 1
            else:
                j = i
                while j < n and raw[j] not in " \t\r;()\"":
                    if raw[j] == "\\" and j + 1 < n:
                        j += 2
                    else:
                        j += 1
                cur.tokens.append(raw[i:j])
                cur.quoted.append(False)
                i = j
        if depth == 0 and cur.tokens:
            yield cur
    if depth:
        raise ZoneError(path, cur.line if cur else 1, "'(' is never closed", "add the missing ')'")


# ---------------------------------------------------------------- parser

def _absolute(name: str, origin: str) -> str:
    if name == "@":
        return origin
    if name.endswith("."):
        return name
    return name + ("." + origin if origin != "." else ".")


def _is_ttl(tok: str) -> bool:
    try:
        parse_ttl(tok)
        return True
    except ValueError:
        return False


def _rdata(rtype: str, toks: list[str], quoted: list[bool], origin: str) -> RD:
    lab = lambda t: DNSLabel(_absolute(t, origin))  # noqa: E731
    if rtype == "A":
        return A(toks[0])
    if rtype == "AAAA":
        return AAAA(toks[0])
    if rtype in ("NS", "CNAME", "PTR"):
        return {"NS": NS, "CNAME": CNAME, "PTR": PTR}[rtype](lab(toks[0]))
    if rtype == "MX":
        return MX(lab(toks[1]), int(toks[0]))
    if rtype == "SOA":
        if len(toks) != 7:
            raise ValueError(f"SOA needs 7 fields (mname rname serial refresh retry expire minimum), got {len(toks)}")
        return SOA(lab(toks[0]), lab(toks[1]), [int(toks[2])] + [parse_ttl(t) for t in toks[3:]])
    if rtype == "TXT":
        return TXT([t.encode() for t in toks])
    if rtype == "SRV":
        return SRV(int(toks[0]), int(toks[1]), int(toks[2]), lab(toks[3]))
    cls = RDMAP.get(rtype)
    if cls is None:
        raise ValueError(f"record type {rtype} is not supported")
    return cls.fromZone(list(toks), DNSLabel(origin))


def parse_zone_text(text: str, origin: str, path: str = "<memory>") -> Zone:
    """Parse master-file text into a Zone. Raises ZoneError naming file:line."""
    origin_display = origin if origin.endswith(".") else origin + "."
    origin = key(origin)
    zone = Zone(origin=origin, path=path)
    cur_origin = origin_display
    default_ttl: int | None = None
    last_owner: str | None = None
    last_display = ""
    last_ttl: int | None = None
    for ent in _logical_lines(text, path):
        toks, quoted = ent.tokens, ent.quoted
        head = toks[0].upper()
        if not ent.blank_owner and head.startswith("$"):
            if head == "$TTL" and len(toks) >= 2:
                try:
                    default_ttl = parse_ttl(toks[1])
                except ValueError:
                    raise ZoneError(path, ent.line, f"bad $TTL value {toks[1]!r}", "use seconds or units like 1H, 1D")
                zone.directive_lines["$TTL"] = ent.line
            elif head == "$ORIGIN" and len(toks) >= 2:
                cur_origin = _absolute(toks[1], cur_origin)
            else:
                raise ZoneError(path, ent.line, f"unsupported directive {toks[0]}",
                                "only $TTL and $ORIGIN are supported; inline $INCLUDE files")
            continue
        i = 0
        if ent.blank_owner:
            if last_owner is None:
                raise ZoneError(path, ent.line, "record has no owner and there is no previous owner",
                                "start the first record with an owner name (e.g. @)")
            owner_text, owner, display = "", last_owner, last_display
        else:
            owner_text = toks[0]
            display = _absolute(toks[0], cur_origin)
            owner = key(display)
            i = 1
        ttl = None
        rclass = "IN"
        for _ in range(2):
            if i < len(toks) and not quoted[i] and toks[i].upper() in ("IN", "CH", "HS", "CS"):
                rclass = toks[i].upper()
                i += 1
            elif i < len(toks) and not quoted[i] and _is_ttl(toks[i]) and ttl is None:
                ttl = parse_ttl(toks[i])
                i += 1
        if i >= len(toks):
            raise ZoneError(path, ent.line, "record has no type", "write: owner [ttl] [class] TYPE rdata")
        rtype = toks[i].upper()
        rd_toks, rd_quoted = toks[i + 1:], quoted[i + 1:]
        if rclass != "IN":
            raise ZoneError(path, ent.line, f"class {rclass} is not supported", "use class IN")
        if rtype not in QTYPE.reverse:
            raise ZoneError(path, ent.line, f"unknown record type {toks[i]!r}",
                            "check the spelling of the type (A, AAAA, NS, MX, CNAME, SOA, TXT, ...)")
        try:
            rdata = _rdata(rtype, rd_toks, rd_quoted, cur_origin)
        except (ValueError, IndexError, TypeError) as e:
            raise ZoneError(path, ent.line, f"bad {rtype} data {' '.join(rd_toks)!r}: {e}",
                            f"write the {rtype} record as in RFC 1035 master-file syntax")
        except Exception as e:  # dnslib raises its own error classes for bad addresses etc.
            raise ZoneError(path, ent.line, f"bad {rtype} data {' '.join(rd_toks)!r}: {e}",
                            f"write the {rtype} record as in RFC 1035 master-file syntax")
        if ttl is None:
            ttl = default_ttl if default_ttl is not None else last_ttl
        if ttl is None:
            if rtype == "SOA":
                ttl = rdata.times[4]
            else:
                raise ZoneError(path, ent.line, "no TTL for this record and no $TTL before it",
                                "add '$TTL 300' at the top of the file")
        if not (owner == origin or owner.endswith("." + origin) or origin == "."):
            raise ZoneError(path, ent.line, f"{owner} is outside the zone {origin}",
                            f"use a name ending in {origin} or a relative name")
        zone.add(Record(owner, QTYPE.reverse[rtype], ttl, rdata, ent.line, path,
                        owner_text, tuple(rd_toks), display))
        last_owner, last_ttl, last_display = owner, ttl, display
    return zone


def load_zone(path: str | Path, origin: str, check: bool = True) -> Zone:
    """Read and parse a zone file; ``check`` applies the load-time checks BIND applies."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ZoneError(str(p), 0, f"cannot read zone file: {e.strerror}", "check the path in the zone statement")
    zone = parse_zone_text(text, origin, str(p))
    if check:
        zone.check_loaded()
    return zone
