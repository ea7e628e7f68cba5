"""The lab internet's DNS on loopback: root (+com), ca. registry, the EC2 host with the
seed's zone, gmail/yahoo, and the ISP resolver iterating from the root.

Each server is a real process on its own 127.0.0.x address; the resolver's --remap
sends what would go to the lab address (198.41.0.4:53, ...) to that loopback server.
"""
from contextlib import ExitStack

import pytest
from dnslib import DNSRecord

from labkit import paths
from labkit.dns.client import udp_exchange
from labkit.dns.compare import build_query
from labkit.dns.testing import SEED_NAMED_CONF, embedded_server, free_port, resolver_server

NET = paths.topology("internet")
HOSTS = {  # lab address -> (loopback address, zones)
    "198.41.0.4": ("127.0.0.21", {".": NET / "root.zone", "com": NET / "com.zone"}),
    "199.4.144.2": ("127.0.0.22", {"ca": NET / "ca.zone"}),
    "1.2.3.4": ("127.0.0.23", None),     # the seed's named.conf
    "142.250.1.26": ("127.0.0.24", {"gmail.com": NET / "gmail.com.zone"}),
    "67.195.204.72": ("127.0.0.25", {"yahoo.com": NET / "yahoo.com.zone"}),
}


@pytest.fixture(scope="module")
def resolver():
    port = free_port("127.0.0.21")
    with ExitStack() as stack:
        remap = {}
        for lab_ip, (lo, zones) in HOSTS.items():
            if zones is None:
                stack.enter_context(embedded_server(named_conf=SEED_NAMED_CONF, addr=lo, port=port))
            else:
                stack.enter_context(embedded_server(named_conf=None, zones=zones, addr=lo, port=port))
            remap[lab_ip] = f"{lo}:{port}"
        rport = free_port("127.0.0.26")
        with resolver_server("127.0.0.26", rport, root_hints=("198.41.0.4",), remap=remap):
            yield "127.0.0.26", rport, port


def ask(server, name, qtype, *flags):
    wire = udp_exchange(bytes(build_query(name, qtype, ["rd", *flags], 4242)), server[0], server[1], timeout=5)
    return DNSRecord.parse(wire)


def test_root_and_registry_referrals(resolver):
    port = resolver[2]
    r = DNSRecord.parse(udp_exchange(bytes(build_query("exampledomain.ca", "MX", [], 1)), "127.0.0.21", port))
    assert not r.header.aa and [str(x.rdata) for x in r.auth] == ["any.ca-servers.ca."]
    assert [str(x.rdata) for x in r.ar] == ["199.4.144.2"]
    r = DNSRecord.parse(udp_exchange(bytes(build_query("www.exampledomain.ca", "A", [], 2)), "127.0.0.22", port))
    assert not r.header.aa and [str(x.rdata) for x in r.auth] == ["ns.exampledomain.ca."]
    assert [(str(x.rname), str(x.rdata)) for x in r.ar] == [("ns.exampledomain.ca.", "1.2.3.4")]


def test_resolver_finds_seed_mx_through_the_delegation(resolver):
    r = ask(resolver, "exampledomain.ca", "MX")
    assert r.header.ra and not r.header.aa and r.header.rcode == 0
    assert [str(x.rdata) for x in r.rr] == ["10 mail.exampledomain.ca."]
    r = ask(resolver, "mail.exampledomain.ca", "A")
    assert [str(x.rdata) for x in r.rr] == ["1.2.3.4"]


def test_resolver_gmail_and_yahoo_mx(resolver):
    assert [str(x.rdata) for x in ask(resolver, "gmail.com", "MX").rr] == ["5 gmail-smtp-in.gmail.com."]
    assert [str(x.rdata) for x in ask(resolver, "gmail-smtp-in.gmail.com", "A").rr] == ["142.250.1.26"]
    assert [str(x.rdata) for x in ask(resolver, "yahoo.com", "MX").rr] == ["1 mta5.yahoo.com."]


def test_resolver_negative_answers(resolver):
    r = ask(resolver, "nope.exampledomain.ca", "A")
    assert r.header.rcode == 3 and r.auth[0].rtype == 6
    r = ask(resolver, "www.exampledomain.ca", "MX")
    assert r.header.rcode == 0 and not r.rr
    r = ask(resolver, "no-such-tld", "A")
    assert r.header.rcode == 3


def test_seed_ns_dot_does_not_resolve(resolver):
    """The seed's apex NS is 'ns.': asking for it finds nothing (NXDOMAIN from the root)."""
    r = ask(resolver, "exampledomain.ca", "NS")
    assert [str(x.rdata) for x in r.rr] == ["ns."]
    assert ask(resolver, "ns.", "A").header.rcode == 3


def test_resolver_never_leaves_loopback_from_the_root_namespace():
    """Outside a lab namespace the resolver only sends to loopback: an unmapped lab
    address (here every root hint) gives SERVFAIL, and no packet leaves."""
    from labkit.dns.resolve import Resolver
    r = Resolver(["198.41.0.4"], timeout=0.2)
    assert r.in_lab is False
    res = r.resolve("exampledomain.ca", 15)
    assert res.rcode == 2 and res.trace == ["198.41.0.4: no answer"]


def test_resolver_tcp_fallback_and_cname_chains(tmp_path):
    """A root that delegates difftest.lab: answers over 1232 bytes come back over TCP,
    CNAME chains and CNAMEs that leave the zone are followed."""
    root = tmp_path / "root.zone"
    root.write_text("$TTL 3600\n@ IN SOA a.root. h.root. 1 1 1 1 60\n IN NS a.root.\na.root. IN A 10.99.0.1\n"
                    "difftest.lab. IN NS ns1.difftest.lab.\nns1.difftest.lab. IN A 10.99.0.2\n"
                    "other.lab. IN NS ns1.difftest.lab.\n")
    port = free_port("127.0.0.31")
    from labkit.dns.testing import TEST_ZONES
    with embedded_server(named_conf=None, zones={".": root}, addr="127.0.0.31", port=port), \
            embedded_server(named_conf=None, zones=TEST_ZONES, addr="127.0.0.32", port=port):
        from labkit.dns.resolve import Resolver
        # 10.0.0.53 is what difftest.lab itself says ns1 is (the root's glue says 10.99.0.2)
        r = Resolver(["10.99.0.1"], remap={"10.99.0.1": ("127.0.0.31", port), "10.99.0.2": ("127.0.0.32", port),
                                           "10.0.0.53": ("127.0.0.32", port)})
        huge = r.resolve("huge.difftest.lab", 16)
        assert huge.rcode == 0 and len(huge.answer) == 7
        chain = r.resolve("c1.difftest.lab", 1)
        assert [str(x.rdata) for x in chain.answer] == ["c2.difftest.lab.", "c3.difftest.lab.", "10.0.0.3"]
        back = r.resolve("back.other.lab", 1)     # other.lab -> difftest.lab: a second lookup
        assert [x.rtype for x in back.answer] == [5, 5, 5, 1]
        assert r.resolve("dangling.difftest.lab", 1).rcode == 3
        assert r.resolve("host.child.difftest.lab", 1).rcode == 2   # child servers do not exist


def test_servfail_is_cached_for_five_seconds(monkeypatch):
    """A failure is remembered briefly (5 s), not for the 30 s of an answer without records:
    the resolver must retry soon after a server comes back."""
    import types

    from labkit.dns import resolve
    clock = [1000.0]
    monkeypatch.setattr(resolve, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    r = resolve.Resolver(["198.41.0.4"], timeout=0.2)     # unmapped outside a lab: no answer, no packet
    first = r.resolve("exampledomain.ca", 15)
    assert first.rcode == 2 and first.trace == ["198.41.0.4: no answer"]
    clock[0] = 1004.9
    cached = r.resolve("exampledomain.ca", 15)
    assert cached.rcode == 2 and cached.trace == ["cache: exampledomain.ca. MX"]
    clock[0] = 1005.0
    assert r.resolve("exampledomain.ca", 15).trace == ["198.41.0.4: no answer"]
