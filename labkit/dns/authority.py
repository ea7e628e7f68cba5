"""The authoritative answer logic (RFC 1034 4.3.2), written to answer exactly like BIND 9.18.

dnslib only does the wire format here. Its ZoneResolver answers NXDOMAIN where NODATA is
right, leaves the SOA out of negative answers, sets RA, and knows no delegations or glue;
so the algorithm is ours. The BIND options labkit renders (labkit/dns/bind.py) pin the
behaviours this module copies; tests/test_dns_differential.py checks that both servers give
the same answers to a corpus of queries.

Entry point: ``Authority.respond(wire, udp=True) -> bytes | None``. It never raises: a
packet that cannot be parsed gets FORMERR (when its header is readable) or no answer.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from dnslib import CLASS, EDNS0, OPCODE, QTYPE, RCODE, RR, DNSBuffer, DNSLabel, DNSRecord
from dnslib.dns import EDNSOption

from .zone import Record, Zone, key

SERVER_UDP_SIZE = 1232        # edns-udp-size / max-udp-size in the rendered BIND options
MAX_CHAIN = 11                # BIND's max-restarts for CNAME chains
BADVERS = 16
T_A, T_AAAA, T_NS, T_MX, T_SRV, T_CNAME, T_SOA, T_DS, T_ANY = (
    QTYPE.A, QTYPE.AAAA, QTYPE.NS, QTYPE.MX, QTYPE.SRV, QTYPE.CNAME, QTYPE.SOA, QTYPE.DS, QTYPE.ANY)
T_OPT, T_AXFR, T_IXFR, T_MAILA, T_MAILB, T_RRSIG, T_NSEC = 41, 252, 251, 254, 253, 46, 47


@dataclass
class Result:
    """What the algorithm decided, before it is rendered into a message."""

    rcode: int = RCODE.NOERROR
    aa: bool = True
    answer: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[list[Record]] = field(default_factory=list)   # RRsets
    negative: bool = False
    referral: bool = False
    ede: tuple[int, str] | None = None


class _Buffer(DNSBuffer):
    """DNSBuffer that can undo the last record (for truncation). Name compression stays
    case-sensitive, as BIND's is: owners come back in the zone file's case."""

    def mark(self) -> int:
        return len(self.data)

    def rollback(self, mark: int) -> None:
        del self.data[mark:]
        self.offset = mark
        self.names = {k: v for k, v in self.names.items() if v < mark}


def _neg_soa(zone: Zone) -> Record:
    """The SOA for negative answers: TTL = min(SOA TTL, SOA minimum) (RFC 2308 section 3)."""
    neg = getattr(zone, "_neg_soa", None)
    if neg is None:
        soa = zone.soa
        ttl = min(soa.ttl, soa.rdata.times[4])
        neg = Record(soa.name, T_SOA, ttl, soa.rdata, soa.line, soa.path, display=soa.display)
        zone._neg_soa = neg
    return neg


_CHAOS_ZONES = ("version.bind.", "hostname.bind.", "authors.bind.", "id.server.")


class _ChaosRecord(Record):
    def rr(self) -> RR:
        return RR(DNSLabel(self.name), self.rtype, CLASS.CH, self.ttl, self.rdata)


def _chaos(qname: str) -> Result:
    """BIND's built-in CHAOS zones, emptied by ``version none; hostname none; server-id
    none;``: NODATA at their apex, NXDOMAIN below, REFUSED elsewhere."""
    from dnslib import SOA
    for z in _CHAOS_ZONES:
        if qname == z or qname.endswith("." + z):
            soa = SOA(DNSLabel(z), DNSLabel("hostmaster." + z), (0, 28800, 7200, 604800, 86400))
            res = Result(authority=[_ChaosRecord(z, T_SOA, 86400, soa, 0, "<builtin>")], negative=True)
            if qname != z:
                res.rcode = RCODE.NXDOMAIN
            return res
    return Result(rcode=RCODE.REFUSED, aa=False)


class Authority:
    """Answers for a set of zones, with no recursion."""

    def __init__(self, zones: list[Zone]):
        self.zones = {z.origin: z for z in zones}

    # ------------------------------------------------------------ lookup
    def zone_for(self, qname: str, qtype: int) -> Zone | None:
        """Deepest zone holding qname; a DS at a zone apex belongs to the parent zone."""
        labels = qname.split(".")[:-1]
        best = None
        for i in range(len(labels) + 1):
            cand = ".".join(labels[i:]) + "." if i < len(labels) else "."
            if cand in self.zones:
                if best is None:
                    best = self.zones[cand]
                    if not (qtype == T_DS and cand == qname and cand != "."):
                        return best
                else:
                    return self.zones[cand]
        return best

    @staticmethod
    def _cut(zone: Zone, name: str, qtype: int) -> str | None:
        """Highest delegation point between the apex (exclusive) and name (inclusive)."""
        if name == zone.origin:
            return None
        rel = name[: -len(zone.origin)] if zone.origin != "." else name
        labels = rel.rstrip(".").split(".")
        for i in range(len(labels) - 1, -1, -1):
            cand = ".".join(labels[i:]) + "." + (zone.origin if zone.origin != "." else "")
            node = zone.nodes.get(cand)
            if node and T_NS in node:
                if cand == name and qtype == T_DS:
                    return None     # the parent side of the cut answers DS
                return cand
        return None

    @staticmethod
    def _exists_below(zone: Zone, name: str) -> bool:
        """Does any name below ``name`` exist (so ``name`` is at least an empty non-terminal)?
        The set of such names is built once per zone: negative answers stay O(1)."""
        parents = zone.__dict__.get("_parents")
        if parents is None:
            parents = set()
            for n in zone.nodes:
                labels = n.split(".")
                for i in range(1, len(labels) - 1):
                    parents.add(".".join(labels[i:]))
                parents.add(".")
            zone.__dict__["_parents"] = parents
        return name in parents

    def _address_rrsets(self, zone: Zone, targets: list[str], glue_under: str | None) -> list[list[Record]]:
        """A then AAAA RRsets for targets (BIND renders A glue before AAAA glue)."""
        out: list[list[Record]] = []
        for t in (T_A, T_AAAA):
            for name in targets:
                if not zone.contains(name):
                    continue
                if glue_under is not None:
                    if not (name == glue_under or name.endswith("." + glue_under)):
                        continue
                elif self._cut(zone, name, t) is not None:
                    continue
                rs = zone.nodes.get(name, {}).get(t)
                if rs:
                    out.append(rs)
        return out

    def _wildcard(self, zone: Zone, name: str) -> dict[int, list[Record]] | None:
        """RFC 4592: the closest encloser's ``*`` child, its records re-owned by ``name``
        (in lower case, as BIND writes synthesized owners)."""
        labels = name.split(".")
        for i in range(1, len(labels)):
            enc = ".".join(labels[i:]) or "."
            if not zone.contains(enc):
                return None
            if enc in zone.nodes or enc == zone.origin or self._exists_below(zone, enc):
                src = zone.nodes.get("*." + enc if enc != "." else "*.")
                if src is None:
                    return None
                return {t: [Record(name, r.rtype, r.ttl, r.rdata, r.line, r.path, display=name)
                            for r in rs] for t, rs in src.items()}
        return None

    def lookup(self, qname: str, qtype: int) -> Result:
        res = Result()
        zone = self.zone_for(qname, qtype)
        if zone is None:
            res.rcode, res.aa = RCODE.REFUSED, False
            return res
        name = qname
        seen = {name}
        while True:
            cut = self._cut(zone, name, qtype)
            if cut is not None:
                ns = zone.nodes[cut][T_NS]
                res.authority = list(ns)
                res.referral = True
                res.additional = self._address_rrsets(zone, [key(r.rdata.label) for r in ns], cut)
                if not res.answer:
                    res.aa = False
                return res
            node = zone.nodes.get(name)
            if node is None:
                if self._exists_below(zone, name):          # empty non-terminal: NODATA
                    res.authority = [_neg_soa(zone)]
                    res.negative = True
                    return res
                node = self._wildcard(zone, name)
                if node is None:
                    res.rcode = RCODE.NXDOMAIN
                    res.authority = [_neg_soa(zone)]
                    res.negative = True
                    return res
            if qtype == T_ANY:
                for rs in node.values():
                    res.answer += rs
                return res
            if qtype in node:
                rs = node[qtype]
                res.answer += rs
                # BIND adds no addresses to the root's own NS answer (a priming query).
                if qtype in (T_NS, T_MX, T_SRV) and not (qtype == T_NS and name == "."):
                    targets = [key(r.rdata.label if qtype != T_SRV else r.rdata.target) for r in rs]
                    res.additional = self._address_rrsets(zone, targets, None)
                return res
            if T_CNAME in node and qtype not in (T_RRSIG, T_NSEC):   # BIND: no CNAME for these
                cn = node[T_CNAME][0]
                res.answer.append(cn)
                target = key(cn.rdata.label)
                if target in seen or len(seen) > MAX_CHAIN:
                    res.rcode = RCODE.SERVFAIL
                    res.ede = (0, "max. restarts reached")
                    return res
                seen.add(target)
                if not zone.contains(target):
                    return res
                name = target
                continue
            res.authority = [_neg_soa(zone)]
            res.negative = True
            return res

    # ------------------------------------------------------------ wire
    @staticmethod
    def _rr(rec: Record) -> RR:
        rr = rec.__dict__.get("_rr")
        if rr is None:
            rr = rec.__dict__["_rr"] = rec.rr()
        return rr

    def respond(self, data: bytes, udp: bool = True) -> bytes | None:
        """Answer one DNS message. Never raises."""
        try:
            return self._respond(data, udp)
        except Exception:   # a bug must cost one answer, never the server
            return self._error(data, RCODE.SERVFAIL)

    @staticmethod
    def _error(data: bytes, rcode: int) -> bytes | None:
        """Header-only answer (no question) for a message whose question cannot be read."""
        if len(data) < 12:
            return None
        ident, flags = struct.unpack("!HH", data[:4])
        if flags & 0x8000:
            return None
        out_flags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | (flags & 0x0010) | rcode
        return struct.pack("!HHHHHH", ident, out_flags, 0, 0, 0, 0)

    def _respond(self, data: bytes, udp: bool) -> bytes | None:
        if len(data) < 12:
            return None
        flags = struct.unpack("!H", data[2:4])[0]
        if flags & 0x8000:               # a response: never answer it (loops)
            return None
        opcode = (flags >> 11) & 0xF
        if opcode not in (OPCODE.QUERY, OPCODE.NOTIFY, OPCODE.UPDATE):
            return self._error(data, RCODE.NOTIMP)
        try:
            q = parse_query(data)
        except Exception:
            return self._error(data, RCODE.FORMERR)
        if q.qdcount != 1:
            return self._error(data, RCODE.FORMERR)
        if q.broken or q.n_opt > 1:     # BIND: FORMERR, question echoed, no OPT
            q.opt = None
            return self._reply(q, Result(rcode=RCODE.FORMERR, aa=False), udp)
        qtype, qclass = q.qtype, q.qclass
        if opcode != OPCODE.QUERY:       # NOTIFY/UPDATE: we are no secondary, take no updates
            rc = RCODE.REFUSED if qtype == T_SOA else RCODE.FORMERR
            return self._reply(q, Result(rcode=rc, aa=False), udp)
        if q.opt is not None and (q.opt[1] >> 16) & 0xFF != 0:
            return self._reply(q, Result(rcode=BADVERS, aa=False), udp)
        if qtype == T_OPT:
            return self._reply(q, Result(rcode=RCODE.FORMERR, aa=False), udp)
        if qclass in (254, 255):        # class NONE / ANY in a query: BIND says FORMERR
            return self._reply(q, Result(rcode=RCODE.FORMERR, aa=False), udp)
        if qclass == CLASS.CH:
            return self._reply(q, _chaos(key(q.qname)), udp)
        if qclass != CLASS.IN:          # HS: REFUSED (no such zones); unknown classes: NOTIMP
            rc = RCODE.REFUSED if qclass == 4 else RCODE.NOTIMP
            return self._reply(q, Result(rcode=rc, aa=False), udp)
        if qtype in (T_MAILA, T_MAILB):
            return self._reply(q, Result(rcode=RCODE.NOTIMP, aa=False), udp)
        if qtype in (T_AXFR, T_IXFR):
            return self._reply(q, Result(rcode=RCODE.REFUSED, aa=False), udp)
        res = self.lookup(key(q.qname), qtype)
        if res.rcode == RCODE.NXDOMAIN and qtype == T_SOA and res.authority:
            # BIND gives the SOA in an NXDOMAIN answer to an SOA query TTL 0.
            soa = res.authority[0]
            res.authority = [Record(soa.name, T_SOA, 0, soa.rdata, soa.line, soa.path, display=soa.display)]
        return self._reply(q, res, udp)

    def _reply(self, q: "Query", res: Result, udp: bool) -> bytes:
        opt = q.opt
        if opt is not None:
            limit = max(512, min(opt[0], SERVER_UDP_SIZE))
        else:
            limit = 512
        # BIND adds no optional additional data when the client advertises EDNS <= 512;
        # referral glue is still sent.
        # (Over UDP only; over TCP the additional data is always added.)
        no_additional = udp and opt is not None and opt[0] <= 512 and not res.referral
        if not udp:
            limit = 65535
        rcode = res.rcode
        buf = _Buffer()
        flags = 0x8000 | (q.opcode << 11) | (0x0400 if res.aa else 0) | (q.flags & 0x0100) | (q.flags & 0x0010) | (rcode & 0xF)
        buf.pack("!HHHHHH", q.id, flags, 0, 0, 0, 0)
        buf.encode_name(q.qname)     # same case as asked; later owners compress against it
        buf.pack("!HH", q.qtype, q.qclass)
        qd = 1
        opt_rr = None
        if opt is not None:
            do = "do" if (opt[1] >> 15) & 1 else ""
            eopts = [EDNSOption(15, struct.pack("!H", res.ede[0]) + res.ede[1].encode())] if res.ede else []
            opt_rr = EDNS0(udp_len=SERVER_UDP_SIZE, ext_rcode=rcode >> 4, flags=do, opts=eopts)
            reserve = len(_pack_alone(opt_rr))
        else:
            reserve = 0
        counts = [0, 0, 0]
        tc = False
        sections_start = buf.mark()
        for sec, recs in ((0, res.answer), (1, res.authority)):
            for rec in recs:
                m = buf.mark()
                self._rr(rec).pack(buf)
                if len(buf.data) + reserve > limit:
                    buf.rollback(m)
                    tc = True
                    break
                counts[sec] += 1
            if tc:
                break
        if not tc and not no_additional:
            present = {(r.name, r.rtype) for r in res.answer + res.authority}
            for rs in res.additional:
                if (rs[0].name, rs[0].rtype) in present:
                    continue
                m = buf.mark()
                for rec in rs:
                    self._rr(rec).pack(buf)
                if len(buf.data) + reserve > limit:
                    buf.rollback(m)
                    break
                present.add((rs[0].name, rs[0].rtype))
                counts[2] += len(rs)
        if opt_rr is not None:
            opt_rr.pack(buf)
            counts[2] += 1
        if tc:
            flags |= 0x0200
            if opt_rr is not None:
                # BIND re-renders a truncated EDNS answer with the question and OPT only.
                buf.rollback(sections_start)
                opt_rr.pack(buf)
                counts = [0, 0, 1]
            elif q.flags & 0x0020:
                flags |= 0x0020   # BIND echoes AD in a truncated non-EDNS answer
        struct.pack_into("!HHHHH", buf.data, 2, flags, qd, counts[0], counts[1], counts[2])
        return bytes(buf.data)


@dataclass
class Query:
    """The parts of a query the answer depends on."""

    id: int
    flags: int
    opcode: int
    qdcount: int
    qname: DNSLabel | None
    qtype: int
    qclass: int
    question_wire: bytes          # the question exactly as sent (echoed in the reply)
    opt: tuple[int, int] | None   # (udp payload size, ttl field) of the OPT record
    n_opt: int
    broken: bool = False          # the question parsed, a later section did not


def _skip_name(data: bytes, off: int) -> int:
    while True:
        if off >= len(data):
            raise ValueError("name runs past the end")
        n = data[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n & 0xC0:
            raise ValueError("bad label type")
        if n == 0:
            return off + 1
        off += 1 + n


def parse_query(data: bytes) -> Query:
    """Parse what an authoritative answer needs, checking every section's framing.

    Our own walk (not DNSRecord.parse) because a query's answer/authority sections are
    never used and BIND tolerates records there that dnslib cannot decode (an OPT in the
    answer section, for one). Raises ValueError/BufferError on a broken message."""
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    if qd != 1:
        return Query(ident, flags, (flags >> 11) & 0xF, qd, None, 0, 0, b"", None, 0)
    buf = DNSBuffer(data)
    buf.offset = 12
    qname = buf.decode_name()
    qtype, qclass = buf.unpack("!HH")
    qend = buf.offset
    off = qend
    opt = None
    n_opt = 0
    broken = False
    try:
        for i in range(an + ns + ar):
            start = off
            off = _skip_name(data, off)
            if off + 10 > len(data):
                raise ValueError("record header runs past the end")
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", data[off:off + 10])
            off += 10 + rdlen
            if off > len(data):
                raise ValueError("rdata runs past the end")
            if rtype == T_OPT:
                if i < an + ns or data[start] != 0:
                    raise ValueError("OPT outside the additional section or not owned by the root")
                n_opt += 1
                opt = (rclass, ttl)
    except (ValueError, IndexError, struct.error):
        broken, opt = True, None
    return Query(ident, flags, (flags >> 11) & 0xF, qd, qname, qtype, qclass, data[12:qend], opt, n_opt, broken)


def _pack_alone(rr: RR) -> bytes:
    b = DNSBuffer()
    rr.pack(b)
    return bytes(b.data)
