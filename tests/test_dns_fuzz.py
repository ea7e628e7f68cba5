"""1000 malformed DNS packets (scapy's fuzz() of the DNS layer, plus bit flips of a real
query) at the embedded server over loopback UDP; afterwards it must still answer."""
import random
import socket
import struct

import pytest
from dnslib import DNSRecord

from labkit.dns.client import tcp_exchange, udp_exchange
from labkit.dns.compare import build_query
from labkit.dns.testing import embedded_server

scapy_all = pytest.importorskip("scapy.all")


def fuzzed_packets(n: int, seed: int = 7) -> list[bytes]:
    from scapy.all import DNS, DNSQR, DNSRR, fuzz
    from scapy.layers.dns import DNSRROPT
    random.seed(seed)
    valid = bytes(build_query("www.exampledomain.ca", "A", ["edns"], 1))
    out: list[bytes] = []
    templates = [
        lambda: DNS(qd=DNSQR(qname="www.exampledomain.ca")),
        lambda: DNS(qd=DNSQR(qname="exampledomain.ca", qtype="MX"), ar=DNSRROPT()),
        lambda: DNS(qd=DNSQR(), an=DNSRR()),
        lambda: DNS(),
    ]
    while len(out) < n:
        kind = len(out) % 3
        if kind < 2:
            try:
                out.append(bytes(fuzz(random.choice(templates)())))
            except Exception:       # some random field combinations cannot be built
                continue
        else:
            b = bytearray(valid)
            for _ in range(random.randint(1, 8)):
                b[random.randrange(len(b))] ^= 1 << random.randrange(8)
            if random.random() < 0.3:
                b = b[: random.randrange(len(b))]
            out.append(bytes(b))
    return out


def test_survives_1000_fuzzed_packets():
    packets = fuzzed_packets(1000)
    assert len(packets) == 1000
    with embedded_server() as (addr, port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.005)
            for i, p in enumerate(packets):
                s.sendto(p, (addr, port))
                if i % 50 == 0:             # drain replies now and then
                    try:
                        while True:
                            s.recv(65535)
                    except OSError:
                        pass
        # junk over TCP too: a bogus length, then a close mid-message
        with socket.create_connection((addr, port), timeout=2) as t:
            t.sendall(struct.pack("!H", 300) + b"\xff" * 40)
        with socket.create_connection((addr, port), timeout=2) as t:
            t.sendall(struct.pack("!H", 12) + b"\x00" * 12)
            t.recv(100)
        for name, qtype, n_ans in [("www.exampledomain.ca", "A", 1), ("exampledomain.ca", "MX", 1)]:
            r = DNSRecord.parse(udp_exchange(bytes(build_query(name, qtype, [], 99)), addr, port))
            assert r.header.rcode == 0 and len(r.rr) == n_ans
        r = DNSRecord.parse(tcp_exchange(bytes(build_query("exampledomain.ca", "SOA", [], 98)), addr, port))
        assert r.header.aa and r.rr[0].rtype == 6


def test_no_internal_error_on_fuzzed_packets():
    """The server's catch-all (SERVFAIL on an internal exception) must not be what saves
    it: the answer logic itself handles every fuzzed packet."""
    from labkit.dns.authority import Authority
    from labkit.dns.zone import load_zone
    from labkit import paths
    auth = Authority([load_zone(paths.topology("ec2", "exampledomain.ca"), "exampledomain.ca")])
    for p in fuzzed_packets(1000, seed=11):
        for udp in (True, False):
            out = auth._respond(p, udp)
            assert out is None or len(out) >= 12


def test_resolver_survives_fuzzed_packets():
    """The ISP resolver too: after the fuzz it still answers (SERVFAIL here, since outside
    a lab namespace it may send only to loopback and its root hint is 198.41.0.4)."""
    from labkit.dns.testing import free_port, resolver_server
    from labkit.procs import wait_until
    port = free_port("127.0.0.41")
    with resolver_server("127.0.0.41", port) as p:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for pkt in fuzzed_packets(1000, seed=5):
                s.sendto(pkt, ("127.0.0.41", port))
        # like any client, retry: the server may still be working through the burst
        query = bytes(build_query("exampledomain.ca", "MX", ["rd"], 5))
        wire = wait_until(lambda: udp_exchange(query, "127.0.0.41", port, 2), 20, 0,
                          what="the resolver answering after the fuzz")
        r = DNSRecord.parse(wire)
        assert r.header.ra and r.header.rcode == 2
        assert p.poll() is None
