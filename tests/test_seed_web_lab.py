"""The seed's web server (needs root): the post wants www.exampledomain.ca -> 1.2.3.4 served
by the EC2 host, but its security group opens only TCP 25 and TCP/UDP 53.

- topologies/seed.yaml: the web server runs on ec2 (it answers on the host itself), all
  the seed's checks pass, among them `port_closed isp -> 1.2.3.4 80/tcp` (dropped by the
  group), and a GET from the home LAN gets nothing.
- topologies/seed-www.yaml: the group with TCP 80 added; the same GET gets the page.
- the same rules applied to a running seed lab (notebook 02's way): the page is served, and
  dropped again once the seed's group is back.
"""
from __future__ import annotations

import pytest

from labkit.lessons.dns import security_group, set_security_group

from labtest import running_lab

pytestmark = pytest.mark.lab
PAGE = "<h1>www.exampledomain.ca</h1>"


def get(lab, node: str) -> str:
    """An HTTP GET of www.exampledomain.ca (1.2.3.4) from inside ``node``: "200 <page>" or
    "no answer: ..." (labkit.dns.probes.http_get, what notebook 02 prints)."""
    return lab.node(node).call("labkit.dns.probes:http_get", "http://1.2.3.4/", "www.exampledomain.ca")


@pytest.fixture(scope="module")
def seed():
    yield from running_lab("seed.yaml", "lkweb")


@pytest.fixture(scope="module")
def www():
    yield from running_lab("seed-www.yaml", "lkwww")


def test_the_seeds_group_blocks_its_own_web_server(seed):
    report = seed.check()
    assert all(r.ok for r in report.results), str(report)
    web = [r for r in report.results if r.check.describe() == "port_closed isp -> 1.2.3.4 80/tcp"]
    assert len(web) == 1 and web[0].detail.endswith("no answer (dropped)"), str(report)
    # the server is there: it answers on the host itself (loopback is outside the group)...
    assert get(seed, "ec2") == f"200 {PAGE}"
    # ...and the internet, or the home LAN through PAT, gets no answer
    for node in ("isp", "pc1"):
        assert get(seed, node) == "no answer: timed out", node


def test_opening_tcp_80_live_serves_the_page_and_closing_it_drops_it_again(seed):
    """Notebook 02's live edit of the group (lessons.dns.set_security_group): seed-www.yaml's
    rules applied to the running seed lab, then the seed's own again."""
    assert set_security_group(seed, security_group("seed-www")) == "25/tcp, 53/tcp, 53/udp, 80/tcp"
    scan = seed.node("isp").call("labkit.dns.probes:scan_ports", "1.2.3.4", tcp=(80, 22), udp=())
    assert scan["tcp"] == {80: "open", 22: "filtered"}
    for node in ("isp", "pc1"):
        assert get(seed, node) == f"200 {PAGE}", node
    assert set_security_group(seed, security_group("seed")) == "25/tcp, 53/tcp, 53/udp"
    assert get(seed, "isp") == "no answer: timed out"
    report = seed.check()
    assert all(r.ok for r in report.results), str(report)


def test_opening_tcp_80_serves_the_page(www):
    report = www.check()
    assert all(r.ok for r in report.results), str(report)
    for node in ("isp", "pc1"):
        assert get(www, node) == f"200 {PAGE}", node
