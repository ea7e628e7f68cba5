"""The DNS labs for real (root, needs namespaces): topologies/internet/dns.yaml (BIND on
the EC2 host) and dns-embedded.yaml (labkit's server on it). Same checks pass, the EC2
host gives the same answers either way, the probes see the security group."""
import pytest

from labkit.lab import Lab

from labtest import ROOT, leftovers

pytestmark = pytest.mark.lab
QUERIES = [("exampledomain.ca", "MX"), ("exampledomain.ca", "NS"), ("exampledomain.ca", "SOA"),
           ("www.exampledomain.ca", "A"), ("www.exampledomain.ca", "MX"), ("nope.exampledomain.ca", "A"),
           ("gmail.com", "A")]


def run_lab(topology: str, instance: str) -> dict:
    lab = Lab.up(ROOT / "topologies" / "internet" / topology, name=instance, replace=True)
    try:
        report = lab.check()
        client = lab.node("client")
        answers = {q: client.call("labkit.dns.probes:query", "1.2.3.4", *q) for q in QUERIES}
        for a in answers.values():
            for sec in ("answer", "authority", "additional"):
                a[sec] = sorted((x["name"], x["type"], x["ttl"], x["data"]) for x in a[sec])
        walk = client.call("labkit.dns.probes:walk", "www.exampledomain.ca", "A")
        walk_mx = client.call("labkit.dns.probes:walk", "exampledomain.ca", "MX")
        scan = client.call("labkit.dns.probes:scan_ports", "1.2.3.4")
        mx = client.call("labkit.dns.probes:query_mx", "exampledomain.ca", "100.64.1.53")
        # labkit.dns.client.query from this process, its socket inside the client's namespace
        from labkit.dns.client import query
        ns_mx = {tcp: sorted(str(rr.rdata) for rr in query(client.netns, "1.2.3.4", "exampledomain.ca",
                                                            "MX", 2.0, tcp).rr)
                 for tcp in (False, True)}
        return {"report": report, "answers": answers, "walk": walk, "walk_mx": walk_mx, "scan": scan, "mx": mx, "ns_mx": ns_mx}
    finally:
        lab.down()
        assert leftovers(instance) == []


@pytest.fixture(scope="module")
def both():
    return run_lab("dns.yaml", "lkdnsb"), run_lab("dns-embedded.yaml", "lkdnse")


def test_all_checks_pass_with_either_backend(both):
    for r in both:
        assert all(res.ok for res in r["report"].results), str(r["report"])


def test_query_from_inside_a_namespace_over_udp_and_tcp(both):
    for r in both:
        assert r["ns_mx"] == {False: ["10 mail.exampledomain.ca."], True: ["10 mail.exampledomain.ca."]}


def test_backends_answer_alike(both):
    bind, emb = both
    assert bind["answers"] == emb["answers"]
    assert emb["answers"][("gmail.com", "A")]["rcode"] == "REFUSED"
    assert emb["answers"][("nope.exampledomain.ca", "A")]["rcode"] == "NXDOMAIN"


def test_delegation_walk(both):
    walk = both[1]["walk"]
    assert [s["server"] for s in walk] == ["198.41.0.4", "199.4.144.2", "1.2.3.4"]
    assert walk[0]["referral"] == ["any.ca-servers.ca."] and walk[1]["glue"] == ["ns.exampledomain.ca. 1.2.3.4"]
    assert walk[2]["aa"] and walk[2]["answer"] == ["A 1.2.3.4"]
    from labkit.lessons.dns import walk_table
    table = walk_table(walk).splitlines()
    assert table[1].split()[:5] == ["1", "198.41.0.4", "NOERROR", "no", "->"] and "A 1.2.3.4" in table[3]


def test_glue_only_in_referrals_additional_data_in_the_answer(both):
    """RFC 1034 4.2.1: glue is used only in referrals. The MX answer's address of its target
    is additional data, and the walk says so."""
    for r in both:
        mx = r["walk_mx"]
        assert [bool(s["referral"]) for s in mx] == [True, True, False]
        assert mx[0]["glue"] == ["any.ca-servers.ca. 199.4.144.2"] and mx[0]["additional"] == []
        assert mx[1]["glue"] == ["ns.exampledomain.ca. 1.2.3.4"] and mx[1]["additional"] == []
        assert mx[2]["answer"] == ["MX 10 mail.exampledomain.ca."] and mx[2]["aa"]
        assert mx[2]["glue"] == [] and mx[2]["additional"] == ["mail.exampledomain.ca. 1.2.3.4"]
        assert r["walk"][2]["glue"] == [] and r["walk"][2]["additional"] == []    # www A: nothing extra


def test_security_group_seen_from_outside(both):
    for r in both:
        s = r["scan"]
        assert s["tcp"][53] == "open" and s["udp"][53] == "open"
        assert s["tcp"][25] == "closed"          # allowed, nothing listens in this lab (RST)
        assert s["tcp"][22] == "filtered" and s["tcp"][80] == "filtered"
        assert s["ping"] is False                # no ICMP rule in the seed's security group


def test_mx_through_resolver(both):
    assert both[0]["mx"]["mx"] == [(10, "mail.exampledomain.ca.")] and both[0]["mx"]["ra"]
