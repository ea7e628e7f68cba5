"""BIND and the embedded server, same zones, same queries: the answers must be equal.

Both run as real processes on loopback (BIND on 127.0.0.1, embedded on 127.0.0.2),
started here and stopped by PID. The corpus is data/dns/difftest.corpus (format in
labkit/dns/compare.py): the seed zone plus a test zone with CNAME chains, a delegated
child with glue, empty non-terminals, big RRsets for truncation, EDNS variants, case
variations, out-of-zone names, odd classes/opcodes and hand-made broken packets.
"""
import shutil

import pytest
from dnslib import DNSRecord

from labkit.dns.client import tcp_exchange, tcp_exchange_many, udp_exchange
from labkit.dns.compare import build_query, diff, load_corpus, normalize, random_corpus
from labkit import paths
from labkit.dns.testing import TEST_ZONES, bind_server, embedded_server

pytestmark = pytest.mark.skipif(shutil.which("named") is None, reason="BIND (named) not installed")
CORPUS = paths.data("dns", "difftest.corpus")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with bind_server(tmp_path_factory.mktemp("bind"), zones=TEST_ZONES) as b, \
            embedded_server(zones=TEST_ZONES) as e:
        yield b, e


def test_corpus_is_big_enough():
    assert len(load_corpus(CORPUS)) >= 200


def test_same_answers_for_whole_corpus(servers):
    (ba, bp), (ea, ep) = servers
    diffs = []
    for q in load_corpus(CORPUS):
        ex = udp_exchange if q.transport == "udp" else tcp_exchange
        d = diff(normalize(ex(q.wire, ba, bp)), normalize(ex(q.wire, ea, ep)))
        if d:
            diffs.append(f"line {q.line} {q.text}: " + "; ".join(d))
    assert diffs == []


def test_same_answers_for_seeded_random_queries(servers):
    """1500 seeded random queries over every name of the served zones."""
    from labkit.dns.testing import SEED_NAMED_CONF
    from labkit.dns.zone import load_zone
    (ba, bp), (ea, ep) = servers
    names = set()
    for origin, f in [*TEST_ZONES.items(), ("exampledomain.ca", SEED_NAMED_CONF.parent / "exampledomain.ca")]:
        names |= set(load_zone(f, origin).nodes)
    diffs = []
    for q in random_corpus(sorted(names), 1500, seed=2024):
        ex = udp_exchange if q.transport == "udp" else tcp_exchange
        d = diff(normalize(ex(q.wire, ba, bp)), normalize(ex(q.wire, ea, ep)))
        if d:
            diffs.append(f"#{q.line} {q.text}: " + "; ".join(d))
    assert diffs == []


def test_same_answers_for_the_lab_internet_zones(tmp_path):
    """Root (+com) and ca. as the lab serves them: referrals, glue, the root's NS."""
    net = paths.topology("internet")
    zones = {".": net / "root.zone", "com": net / "com.zone", "ca": net / "ca.zone"}
    corpus = load_corpus(paths.data("dns", "internet.corpus"))
    with bind_server(tmp_path, named_conf=None, zones=zones) as (ba, bp), \
            embedded_server(named_conf=None, zones=zones) as (ea, ep):
        diffs = []
        for q in corpus:
            ex = udp_exchange if q.transport == "udp" else tcp_exchange
            d = diff(normalize(ex(q.wire, ba, bp)), normalize(ex(q.wire, ea, ep)))
            if d:
                diffs.append(f"line {q.line} {q.text}: " + "; ".join(d))
    assert diffs == []


def test_several_queries_on_one_tcp_connection(servers):
    (ba, bp), (ea, ep) = servers
    qs = [bytes(build_query(n, t, [], 100 + i)) for i, (n, t) in enumerate(
        [("exampledomain.ca", "MX"), ("nope.exampledomain.ca", "A"), ("huge.difftest.lab", "TXT"),
         ("child.difftest.lab", "A"), ("www.google.com", "A")])]
    got_b, got_e = tcp_exchange_many(qs, ba, bp), tcp_exchange_many(qs, ea, ep)
    assert all(x is not None for x in got_e)
    for b, e in zip(got_b, got_e):
        assert diff(normalize(b), normalize(e)) == []
    huge = DNSRecord.parse(got_e[2])
    assert not huge.header.tc and len(huge.rr) == 7     # complete over TCP


def test_behaviours_the_brief_names(servers):
    """Spot checks on the embedded server alone, so a shared bug cannot hide."""
    _, (ea, ep) = servers
    ask = lambda n, t, f=(): DNSRecord.parse(udp_exchange(bytes(build_query(n, t, list(f), 7)), ea, ep))  # noqa: E731
    r = ask("exampledomain.ca", "MX")
    assert r.header.aa and not r.header.ra and str(r.ar[0].rname) == "mail.exampledomain.ca."
    r = ask("www.exampledomain.ca", "MX")                      # NODATA
    assert r.header.rcode == 0 and not r.rr and r.auth[0].rtype == 6 and r.auth[0].ttl == 300
    r = ask("nope.exampledomain.ca", "A")                      # NXDOMAIN, TTL = min(300, 1D)
    assert r.header.rcode == 3 and r.auth[0].rtype == 6 and r.auth[0].ttl == 300
    r = ask("host.child.difftest.lab", "A")                    # referral: AA clear, glue
    assert not r.header.aa and {str(x.rname) for x in r.ar} == {"ns1.child.difftest.lab.", "ns2.child.difftest.lab."}
    r = ask("c1.difftest.lab", "A")                            # CNAME chain
    assert [x.rtype for x in r.rr] == [5, 5, 1]
    r = ask("big.difftest.lab", "A")                           # > 512 without EDNS
    assert r.header.tc
    r = ask("big.difftest.lab", "A", ["edns"])                 # fits in 1232 with EDNS
    assert not r.header.tc and len(r.rr) == 40 and r.ar[-1].rtype == 41
    r = ask("www.google.com", "A")
    assert r.header.rcode == 5
