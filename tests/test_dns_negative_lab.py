"""NODATA next to NXDOMAIN (RFC 2308) from the seed's BIND, asked with dig from a lab node
(needs root): www.exampledomain.ca exists but has no MX record -> NOERROR, empty answer,
the zone's SOA in authority; nope.exampledomain.ca does not exist -> NXDOMAIN, the SOA too. Also on the same lab:
notebook 02's raw exchange, and a BIND resolver that trusts the child's `NS ns.` (RFC 2181).
"""
from __future__ import annotations

import subprocess

import pytest

from labkit.dns.dig import DigError, dig, negative_answers, negative_table

from labtest import running_lab

pytestmark = pytest.mark.lab
SOA = ("exampledomain.ca.", 300, "SOA",
       "exampledomain.ca. www.exampledomain.ca. 2012220104 3600 900 604800 86400")


@pytest.fixture(scope="module")
def seed():
    yield from running_lab("seed.yaml", "lkneg")


def test_nodata_and_nxdomain_from_the_seeds_bind(seed):
    nodata, nxdomain = negative_answers(seed.node("pc1"), "1.2.3.4",
                                        [("www.exampledomain.ca", "MX"), ("nope.exampledomain.ca", "A")])
    assert (nodata.rcode, nodata.answer, nodata.authority, nodata.kind) == ("NOERROR", [], [SOA], "NODATA")
    assert "aa" in nodata.flags
    assert (nxdomain.rcode, nxdomain.answer, nxdomain.authority, nxdomain.kind) == ("NXDOMAIN", [], [SOA], "NXDOMAIN")
    assert negative_table([nodata, nxdomain]).splitlines() == [
        "question                 rcode     answers  authority              RFC 2308",
        "www.exampledomain.ca MX  NOERROR   0        SOA exampledomain.ca.  NODATA",
        "nope.exampledomain.ca A  NXDOMAIN  0        SOA exampledomain.ca.  NXDOMAIN",
    ]
    # the same name with a type it has is an answer, not a negative one
    www = dig(seed.node("pc1"), "1.2.3.4", "www.exampledomain.ca", "A")
    assert (www.kind, www.answer) == ("answer", [("www.exampledomain.ca.", 300, "A", "1.2.3.4")])


def test_one_query_and_its_reply_on_the_wire(seed):
    """Notebook 02's raw exchange: a query built with scapy (fixed ID) sent from pc1, BIND's
    reply listed field by field: the ID copied, QR/AA/RD set, RA clear (recursion no), the
    answer's name compressed to a pointer at the question."""
    from scapy.layers.dns import DNS, DNSQR

    from labkit.lessons.dns import message_fields
    query = bytes(DNS(id=0x2A2A, rd=1, qd=DNSQR(qname="exampledomain.ca", qtype="MX")))
    reply = seed.node("pc1").call("labkit.dns.client:udp_ask", query, "1.2.3.4", 53)
    assert reply[:4] == bytes.fromhex("2a2a8500") and reply[12:34] == query[12:34]
    rows = {r.split()[0]: r for r in message_fields(reply).splitlines()[1:]}
    assert rows["2"].endswith("QR=1 OPCODE=0 AA=1 TC=0 RD=1 RA=0 Z=0 AD=0 CD=0 RCODE=0")
    assert [rows[o].split()[-1] for o in ("4", "6", "8", "10")] == ["1", "1", "0", "1"]
    assert rows["34"].endswith("exampledomain.ca. (ends in a pointer to offset 12)")
    assert rows["46"].endswith("10 mail.exampledomain.ca.") and rows["67"].split()[-1] == "1.2.3.4"


RESOLVER_CONF = """\
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    listen-on port 5353 {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion yes;
    allow-query {{ 127.0.0.1; }};
    dnssec-validation no;
}};
controls {{ }};
zone "." {{ type hint; file "{d}/root.hint"; }};
"""


def test_a_resolver_that_trusts_the_childs_ns_set_servfails(seed, tmp_path):
    """RFC 2181 5.4.1: the child's apex NS (answer section, authoritative) outranks the parent's
    referral. BIND 9.18 as a resolver (recursion yes, the lab root as its hint) resolves the
    zone through the ca. referral; once it has asked for the zone's NS set it holds `ns.`,
    and the next name in the zone it has not cached gets SERVFAIL."""
    from labkit.procs import wait_until
    (tmp_path / "root.hint").write_text(". 3600000 NS a.root-servers.net.\n"
                                        "a.root-servers.net. 3600000 A 198.41.0.4\n")
    (tmp_path / "named.conf").write_text(RESOLVER_CONF.format(d=tmp_path))
    node = seed.node("resolver")

    def ask(name: str, qtype: str):
        return dig(node, "127.0.0.1", name, qtype, recurse=True, timeout=3, port=5353)

    def ready() -> bool:
        try:
            return ask(".", "NS").rcode == "NOERROR"
        except DigError:            # not listening yet
            return False
    with open(tmp_path / "named.log", "w") as log:
        named = node.popen(["named", "-g", "-4", "-c", str(tmp_path / "named.conf")],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(ready, 15, poll=0.2, what="BIND resolver answers")
        www = ask("www.exampledomain.ca", "A")           # through the ca. referral
        assert (www.rcode, [a[3] for a in www.answer]) == ("NOERROR", ["1.2.3.4"])
        ns = ask("exampledomain.ca", "NS")               # the child's NS set, now cached
        assert (ns.rcode, [a[3] for a in ns.answer]) == ("NOERROR", ["ns."])
        assert ask("mail.exampledomain.ca", "A").rcode == "SERVFAIL"
        assert ask("exampledomain.ca", "MX").rcode == "SERVFAIL"
        assert ask("www.exampledomain.ca", "A").rcode == "NOERROR"     # still cached
    finally:
        named.terminate()
        named.wait(timeout=10)
