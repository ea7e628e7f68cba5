"""The seed's web server (needs root): the post wants www.exampledomain.ca -> 1.2.3.4 served
by the EC2 host, but its security group opens only TCP 25 and TCP/UDP 53.

- topologies/seed.yaml: the web server runs on ec2 (it answers on the host itself), all
  the seed's checks pass, among them `port_closed isp -> 1.2.3.4 80/tcp` (dropped by the
  group), and a GET from the home LAN gets nothing.
- topologies/seed-www.yaml: the group with TCP 80 added; the same GET gets the page.
"""
from __future__ import annotations

import sys

import pytest


from labtest import running_lab

pytestmark = pytest.mark.lab
PAGE = "<h1>www.exampledomain.ca</h1>"
GET = ("import sys, urllib.request\n"
       "try:\n"
       "    r = urllib.request.urlopen(urllib.request.Request('http://1.2.3.4/', "
       "headers={'Host': 'www.exampledomain.ca'}), timeout=3)\n"
       "    print(r.status, r.read().decode().strip())\n"
       "except OSError as e:\n"
       "    print('error', type(e).__name__, e)\n")


def get(lab, node: str) -> str:
    """An HTTP GET of www.exampledomain.ca (1.2.3.4) from inside ``node``: "200 <page>" or "error ..."."""
    p = lab.node(node).run([sys.executable, "-c", GET], timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


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
        assert get(seed, node).startswith("error"), node


def test_opening_tcp_80_serves_the_page(www):
    report = www.check()
    assert all(r.ok for r in report.results), str(report)
    for node in ("isp", "pc1"):
        assert get(www, node) == f"200 {PAGE}", node
