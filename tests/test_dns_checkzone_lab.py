"""named-checkzone -i full inside a lab node (needs root): it asks DNS for out-of-zone MX
targets, and BIND 9.18 flags one that has no address; the apex `NS ns.` is never looked up.

Lab: `ns` serves other.example (mx.other.example has an address; gone.other.example does
not exist); `chk` uses it as its resolver and runs the real named-checkzone on the seed's
exampledomain.ca zone with its MX pointed out of the zone.
"""
from __future__ import annotations

import pytest

from labkit.dns.lint import run_named_checkzone
from labkit.lab import Lab
from labkit.lab.capture import Capture
from labkit.lessons.dns import with_mx_target

from labtest import ROOT, leftovers

pytestmark = pytest.mark.lab

TOPO = """\
name: czt
nodes:
  ns:
    role: host
    interfaces: {eth0: 10.53.0.53/24}
    services:
      - {type: authdns, zonefile: {other.example: other.example.zone}}
  chk:
    role: host
    interfaces: {eth0: 10.53.0.10/24}
    dns: 10.53.0.53
links:
  - ns:eth0 -- chk:eth0
"""
OTHER = """\
$TTL 300
@   IN SOA ns.other.example. hostmaster.other.example. (1 1H 15M 1W 1D)
    IN NS  ns.other.example.
ns  IN A   10.53.0.53
mx  IN A   10.53.0.25
"""


def questions(cap: Capture) -> set[str]:
    """The names asked in the DNS queries the capture saw."""
    from scapy.layers.dns import DNS
    return {q.qname.decode() for p in cap.packets if p.haslayer(DNS) and p[DNS].qr == 0 for q in p[DNS].qd}


def seed_zone_with_mx(target: str) -> str:
    """The seed's zone file, its `MX 10 mail` replaced by `MX 10 <target>` (notebook 02's edit)."""
    return with_mx_target((ROOT / "topologies" / "ec2" / "exampledomain.ca").read_text(), target)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("czlab")
    (d / "czt.yaml").write_text(TOPO)
    (d / "other.example.zone").write_text(OTHER)
    lab = Lab.up(str(d / "czt.yaml"), name="czt", replace=True)
    try:
        yield lab, d
    finally:
        lab.down()
        assert leftovers("czt") == []


def test_full_flags_an_out_of_zone_mx_without_address_and_asks_dns_for_it(lab):
    lab, d = lab
    zone = d / "exampledomain.ca"
    zone.write_text(seed_zone_with_mx("mx.gone.other.example."))
    chk = lab.node("chk")
    with Capture(chk, "eth0", "udp port 53") as cap:
        full = run_named_checkzone(zone, "exampledomain.ca", integrity="full", node=chk)
    msgs = [f.message for f in full]
    assert any("exampledomain.ca/MX 'mx.gone.other.example' (out of zone) has no addresses records (A or AAAA)" in m for m in msgs), msgs
    # a warning on the MX record's line: the zone still loads (named-checkzone says OK, exit 0)
    assert [(f.line, f.severity) for f in full] == [(11, "warning")], [str(f) for f in full]
    # the wire: named-checkzone's getaddrinfo asked the node's resolver for the MX target...
    asked = questions(cap)
    assert "mx.gone.other.example." in asked, asked
    # ...and never for the apex NS target `ns.`: apex NS records are not checked
    assert "ns." not in asked, asked
    assert not any("'ns'" in m or "NS 'ns.'" in m for m in msgs), msgs
    # -i local checks in-zone names only: the same zone passes, and sends nothing
    with Capture(chk, "eth0", "udp port 53") as cap:
        local = run_named_checkzone(zone, "exampledomain.ca", integrity="local", node=chk)
    assert local == [], [f.message for f in local]
    assert questions(cap) == set()


def test_full_accepts_an_out_of_zone_mx_that_resolves(lab):
    lab, d = lab
    zone = d / "exampledomain.ca"
    zone.write_text(seed_zone_with_mx("mx.other.example."))
    assert run_named_checkzone(zone, "exampledomain.ca", integrity="full", node=lab.node("chk")) == []


def test_full_refuses_to_run_in_the_root_namespace():
    with pytest.raises(ValueError, match="lab node"):
        run_named_checkzone(ROOT / "topologies" / "ec2" / "exampledomain.ca", "exampledomain.ca",
                            integrity="full")
