"""The ISP's recursive resolver: iterates from the lab's root server, caches, answers with RA.

``python -m labkit.dns.resolve --root-hint 198.41.0.4 [--listen ADDR] [--port 53]``

Why our own: the lab has its own root, so the resolver must start from the lab's root
hints, never from the real ones, and students should be able to read every step (the
``trace`` of a resolution is returned by ``Resolver.resolve`` and printed by the probes).

It is parent-centric: it follows the NS records and glue of referrals. That is why the
seed's broken apex ``NS ns.`` does not stop resolution of exampledomain.ca -- the ca.
registry's delegation to ns.exampledomain.ca (1.2.3.4) is what resolvers use -- and why
only a lint (or a resolver that re-queries the child's NS set) notices it.

``--remap IP=ADDR:PORT`` sends what would go to IP:53 to ADDR:PORT instead: tests run the
whole lab internet on loopback with it. Lab hosts never need it.
"""
from __future__ import annotations

import argparse
import random
import socket
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass, field

from dnslib import EDNS0, QTYPE, RCODE, RR, DNSHeader, DNSQuestion, DNSRecord

from .client import recv_exact

MAX_STEPS = 24
MAX_DEPTH = 6


@dataclass
class Resolution:
    rcode: int
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)


class Resolver:
    def __init__(self, root_hints: list[str], remap: dict[str, tuple[str, int]] | None = None,
                 timeout: float = 1.0):
        self.roots = list(root_hints)
        self.remap = remap or {}
        self.timeout = timeout
        self.cache: dict[tuple[str, int], tuple[float, Resolution]] = {}
        self.delegations: dict[str, tuple[float, list[str]]] = {}
        self.lock = threading.Lock()
        self.in_lab = _in_lab_netns()

    # -------------------------------------------------------------- transport
    def _ask(self, server: str, qname: str, qtype: int) -> DNSRecord | None:
        q = DNSRecord(DNSHeader(id=random.randrange(65536), rd=0), q=DNSQuestion(qname, qtype))
        q.add_ar(EDNS0(udp_len=1232))
        addr = self.remap.get(server, (server, 53))
        if not self.in_lab and not addr[0].startswith("127."):
            # Traffic safety (docs/traffic-safety.md): outside a lab namespace only loopback is allowed,
            # so an unmapped lab address is never sent to from the root namespace.
            return None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(self.timeout)
            try:
                s.sendto(q.pack(), addr)
                while True:
                    data, _ = s.recvfrom(65535)
                    r = DNSRecord.parse(data)
                    if r.header.id == q.header.id:
                        break
            except (OSError, Exception):
                return None
        if r.header.tc:   # retry over TCP
            try:
                with socket.create_connection(addr, timeout=self.timeout) as t:
                    wire = q.pack()
                    t.sendall(struct.pack("!H", len(wire)) + wire)
                    n = struct.unpack("!H", recv_exact(t, 2))[0]
                    r = DNSRecord.parse(recv_exact(t, n))
            except (OSError, Exception):
                return None
        return r

    # -------------------------------------------------------------- cache
    def _cached(self, k):
        with self.lock:
            hit = self.cache.get(k)
            if hit and hit[0] > time.monotonic():
                return hit[1]
        return None

    def _store(self, k, res: Resolution) -> None:
        ttls = [rr.ttl for rr in res.answer + res.authority]
        ttl = min(ttls) if ttls else 30
        if res.rcode == RCODE.SERVFAIL:
            ttl = 5
        with self.lock:
            self.cache[k] = (time.monotonic() + ttl, res)

    def _closest_servers(self, qname: str) -> tuple[str, list[str]]:
        labels = qname.rstrip(".").split(".")
        now = time.monotonic()
        with self.lock:
            for i in range(len(labels)):
                zone = ".".join(labels[i:]) + "."
                hit = self.delegations.get(zone)
                if hit and hit[0] > now and hit[1]:
                    return zone, hit[1]
        return ".", self.roots

    # -------------------------------------------------------------- iteration
    def resolve(self, qname: str, qtype: int, depth: int = 0) -> Resolution:
        qname = qname.lower() if qname.endswith(".") else qname.lower() + "."
        k = (qname, qtype)
        hit = self._cached(k)
        if hit is not None:
            return Resolution(hit.rcode, list(hit.answer), list(hit.authority), [f"cache: {qname} {QTYPE.get(qtype)}"])
        res = self._iterate(qname, qtype, depth)
        self._store(k, res)
        return res

    def _iterate(self, qname: str, qtype: int, depth: int) -> Resolution:
        trace: list[str] = []
        if depth > MAX_DEPTH:
            return Resolution(RCODE.SERVFAIL, trace=["too deep"])
        zone, servers = self._closest_servers(qname)
        for _ in range(MAX_STEPS):
            resp, used = None, None
            for srv in servers:
                resp = self._ask(srv, qname, qtype)
                if resp is not None:
                    used = srv
                    break
                trace.append(f"{srv}: no answer")
            if resp is None:
                return Resolution(RCODE.SERVFAIL, trace=trace)
            rc = resp.header.rcode
            trace.append(f"{used} ({zone}): {RCODE.get(rc)} aa={resp.header.aa} "
                         f"an={len(resp.rr)} ns={len(resp.auth)} ar={len(resp.ar)}")
            if rc not in (RCODE.NOERROR, RCODE.NXDOMAIN):
                return Resolution(RCODE.SERVFAIL, trace=trace)
            answers = [rr for rr in resp.rr]
            if rc == RCODE.NXDOMAIN or (not answers and resp.header.aa):
                soa = [rr for rr in resp.auth if rr.rtype == QTYPE.SOA]
                return Resolution(rc, answers, soa, trace)
            if answers:
                own = [rr for rr in answers if str(rr.rname).lower() == qname and rr.rtype == qtype]
                if own or qtype in (QTYPE.CNAME, QTYPE.ANY):
                    return Resolution(RCODE.NOERROR, answers, [], trace)
                cname = [rr for rr in answers if rr.rtype == QTYPE.CNAME]
                if cname:
                    # follow the chain from the last CNAME the server gave us
                    target = str(cname[-1].rdata.label).lower()
                    sub = self.resolve(target, qtype, depth + 1)
                    return Resolution(sub.rcode, cname + sub.answer, sub.authority, trace + sub.trace)
                return Resolution(RCODE.NOERROR, answers, [], trace)
            ns = [rr for rr in resp.auth if rr.rtype == QTYPE.NS]
            if not ns:
                return Resolution(RCODE.SERVFAIL, trace=trace + ["no answer and no referral"])
            child = str(ns[0].rname).lower()
            if not (qname == child or qname.endswith("." + child)) or len(child) <= len(zone) and zone != ".":
                return Resolution(RCODE.SERVFAIL, trace=trace + [f"lame referral to {child}"])
            names = [str(rr.rdata.label).lower() for rr in ns]
            glue = [str(rr.rdata) for rr in resp.ar if rr.rtype == QTYPE.A and str(rr.rname).lower() in names]
            if not glue:
                for n in names:
                    sub = self.resolve(n, QTYPE.A, depth + 1)
                    glue += [str(rr.rdata) for rr in sub.answer if rr.rtype == QTYPE.A]
                    if glue:
                        break
            if not glue:
                return Resolution(RCODE.SERVFAIL, trace=trace + [f"no address for any NS of {child}"])
            ttl = min(rr.ttl for rr in ns)
            with self.lock:
                self.delegations[child] = (time.monotonic() + ttl, glue)
            trace.append(f"referral to {child}: {', '.join(names)} -> {', '.join(glue)}")
            zone, servers = child, glue
        return Resolution(RCODE.SERVFAIL, trace=trace + ["too many steps"])

    # -------------------------------------------------------------- server side
    def answer(self, data: bytes, udp: bool = True) -> bytes | None:
        if len(data) < 12 or data[2] & 0x80:
            return None
        try:
            q = DNSRecord.parse(data)
        except Exception:
            hdr = bytearray(data[:12])
            hdr[2] = 0x80 | (hdr[2] & 0x79)
            hdr[3] = 0x80 | RCODE.FORMERR
            hdr[4:12] = b"\0" * 8
            return bytes(hdr)
        opt = [r for r in q.ar if r.rtype == 41]
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, rd=q.header.rd, ra=1, opcode=q.header.opcode))
        if q.questions:
            r.add_question(q.questions[0])
        if q.header.opcode != 0 or len(q.questions) != 1:
            r.header.rcode = RCODE.NOTIMP if q.header.opcode else RCODE.FORMERR
        else:
            qn = q.questions[0]
            res = self.resolve(str(qn.qname), qn.qtype)
            r.header.rcode = res.rcode
            for rr in res.answer:
                r.add_answer(rr)
            for rr in res.authority:
                r.add_auth(rr)
        if opt:
            r.add_ar(EDNS0(udp_len=1232))
        wire = r.pack()
        limit = 65535 if not udp else (max(512, min(opt[0].rclass, 1232)) if opt else 512)
        if len(wire) > limit:
            r.rr, r.auth = [], []
            r.header.tc = 1
            wire = r.pack()
        return wire


def _in_lab_netns() -> bool:
    try:
        from labkit.lab.safety import in_lab_netns
        return in_lab_netns()
    except Exception:
        return False




def serve(resolver: Resolver, addr: str, port: int) -> None:
    class UDP(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            try:
                out = resolver.answer(data, udp=True)
            except Exception:
                out = None
            if out:
                sock.sendto(out, self.client_address)

    class TCP(socketserver.StreamRequestHandler):
        timeout = 10

        def handle(self):
            try:
                while True:
                    hdr = self.rfile.read(2)
                    if len(hdr) < 2:
                        return
                    data = self.rfile.read(struct.unpack("!H", hdr)[0])
                    out = resolver.answer(data, udp=False)
                    if out:
                        self.wfile.write(struct.pack("!H", len(out)) + out)
            except Exception:
                return

    socketserver.ThreadingUDPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    u = socketserver.ThreadingUDPServer((addr, port), UDP)
    t = socketserver.ThreadingTCPServer((addr, port), TCP)
    u.daemon_threads = t.daemon_threads = True
    u.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)   # ride out bursts
    threading.Thread(target=t.serve_forever, daemon=True).start()
    print(f"labkit.dns.resolve: on {addr}:{port}, roots {resolver.roots}", file=sys.stderr, flush=True)
    u.serve_forever()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.dns.resolve", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root-hint", "--root-hints", action="append", default=[], dest="roots",
                    help="address of a root server (repeatable; default 198.41.0.4)")
    ap.add_argument("--listen", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--remap", action="append", default=[], help="IP=ADDR:PORT (tests on loopback)")
    a = ap.parse_args(argv)
    remap = {}
    for m in a.remap:
        ip, _, dst = m.partition("=")
        h, _, p = dst.partition(":")
        remap[ip] = (h, int(p or 53))
    roots = [x for r in a.roots for x in r.split(",")] or ["198.41.0.4"]
    serve(Resolver(roots, remap), a.listen, a.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
