"""IOS's ICMP behaviour on a running lab: ACL denies answered with type 3 code 13 at most
once per 500 ms, `no ip unreachables`, and the 192.168.3.x routing loop that next-hop
routes make and a Null0 route ends (needs root).

The home side of the seed lab, with the seed's own IOS files (topologies/router.ios and
topologies/sw3550.ios, unchanged): the router, the 3550, pc2 in VLAN 1 and phone2 in
VLAN 2. Both run in the default route_mode (device), as real IOS: an interface route ARPs
for every destination and the neighbour answers by proxy ARP.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from labtest import running_lab

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[1]
NAME = "iosicmp"
TOPO = f"""\
name: {NAME}
vlans: {{1: data, 2: voice}}
nodes:
  sw3550:
    role: l3switch
    svis: {{1: 192.168.1.1/24, 2: 192.168.2.1/24}}
    interfaces:
      fa0-1: 192.168.254.2/30
      fa0-3: {{vlan: 1}}
      fa0-5: {{vlan: 2}}
    services:
      - {{type: ios, config: sw3550.ios}}
  router:
    role: router
    interfaces:
      fa0-0: 192.168.254.1/30
      dialer1: 100.64.0.2/30
    services:
      - {{type: ios, config: router.ios, wan: {{Dialer1: 100.64.0.2/30}}}}
  isp:
    role: host
    interfaces: {{eth0: 100.64.0.1/30}}
  pc2:
    role: host
    interfaces: {{eth0: 192.168.1.20/24}}
    gateway: 192.168.1.1
  phone2:
    role: host
    interfaces: {{eth0: 192.168.2.22/24}}
    gateway: 192.168.2.1
links:
  - router:dialer1 -- isp:eth0
  - router:fa0-0 -- sw3550:fa0-1
  - sw3550:fa0-3 -- pc2:eth0
  - sw3550:fa0-5 -- phone2:eth0
"""
ADMIN_PROHIBITED = (3, 13)
HOST_UNREACHABLE = (3, 1)
TIME_EXCEEDED = (11, 0)


def _write(d: Path, sw_extra: str = "") -> Path:
    sw = (ROOT / "topologies/sw3550.ios").read_text().replace("\nend\n", "\n")
    (d / "sw3550.ios").write_text(sw + sw_extra)
    (d / "router.ios").write_text((ROOT / "topologies/router.ios").read_text())
    (d / f"{NAME}.yaml").write_text(TOPO)
    return d / f"{NAME}.yaml"   # absolute: running_lab's topologies/ prefix does not apply


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from running_lab(str(_write(tmp_path_factory.mktemp(NAME))), NAME)


def _answers(lab, node: str, dst: str, **kw) -> list[tuple[int, str, int, int, float]]:
    return lab.node(node).call("labkit.probes.icmp:answers", dst, **kw)


def _hop(lab, ttl: int, dst: str = "192.168.3.1", wait: float = 2) -> tuple[str, int, int] | None:
    """Who answers pc2's echo request to dst sent with this TTL, and with what."""
    got = _answers(lab, "pc2", dst, ttl=ttl, wait=wait)
    return (got[0][1], got[0][2], got[0][3]) if got else None


def _ios(lab, node: str):
    return lab.service(node, "ios")


def test_acl_deny_answers_administratively_prohibited_from_the_switch(lab):
    # phone2 (VLAN 2) -> pc2 (VLAN 1): ACL 102 line 20 on Vlan2 denies it
    got = _answers(lab, "phone2", "192.168.1.20", wait=2)
    assert [(src, t, c) for _, src, t, c, _ in got] == [("192.168.2.1", *ADMIN_PROHIBITED)]
    # what is permitted still gets its echo reply (VLAN 2 -> the router)
    assert [(src, t) for _, src, t, _, _ in _answers(lab, "phone2", "192.168.254.1")] == [("192.168.254.1", 0)]


def test_unreachables_are_rate_limited_to_one_per_500_ms(lab):
    # 60 denied probes 50 ms apart (3 s): a reject for every one without the limit
    got = _answers(lab, "phone2", "192.168.1.20", count=60, inter=0.05, wait=1)
    assert got and all((src, t, c) == ("192.168.2.1", *ADMIN_PROHIBITED) for _, src, t, c, _ in got)
    times = [a[4] for a in got]
    span = times[-1] - times[0]
    assert len(got) <= span / 0.5 + 1, got          # one per 500 ms from the first, no burst
    assert len(got) >= 4, got                         # it is a limit, not a wall
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.4, got


def test_no_ip_unreachables_answers_nothing(tmp_path):
    name = NAME + "n"
    path = _write(tmp_path, "interface Vlan2\n no ip unreachables\nend\n")
    path.write_text(path.read_text().replace(f"name: {NAME}", f"name: {name}"))
    with contextmanager(running_lab)(str(path), name) as lab:   # an absolute path: not under topologies/
        assert _answers(lab, "phone2", "192.168.1.20", count=3, inter=0.2, wait=2) == []
        assert _answers(lab, "phone2", "192.168.254.1")       # the lab itself works
        rules = lab.node("sw3550").cmd("nft list chain ip labkit_ios forward")
        assert "reject" not in rules and "denied on Vlan2, no ip unreachables" in rules


def test_interface_routes_with_proxy_arp_do_not_loop(lab):
    """The seed's `ip route 192.168.0.0 255.255.0.0 Fast0/0` and the 3550's default route out
    of Fa0/1: the switch ARPs for 192.168.3.1 on Fa0/1, the router's route for it points back
    out of Fa0/0, so the router does not proxy-ARP and the switch answers host unreachable."""
    assert "default dev fa0-1" in lab.node("sw3550").cmd("ip route show default")
    # TTL 2 would expire at the router if the switch sent it there; the ARP fails after 3 s
    for ttl in (2, 64):
        assert _hop(lab, ttl, wait=5) == ("192.168.1.1", *HOST_UNREACHABLE), ttl


def test_next_hop_routes_loop_until_a_null0_route(lab):
    router, sw = _ios(lab, "router"), _ios(lab, "sw3550")
    router.configure("no ip route 192.168.0.0 255.255.0.0 Fast0/0\n"
                     "ip route 192.168.0.0 255.255.0.0 192.168.254.2")
    sw.configure("no ip route 0.0.0.0 0.0.0.0 Fast0/1\nip route 0.0.0.0 0.0.0.0 192.168.254.1")
    try:
        # TTL exceeded alternately from the switch and the router: the packet bounces between them
        hops = [_hop(lab, ttl) for ttl in range(1, 7)]
        assert hops == [("192.168.1.1", *TIME_EXCEEDED), ("192.168.254.1", *TIME_EXCEEDED)] * 3, hops
        # Cisco's fix: the aggregate the router sends back, to Null0 on the switch; the
        # connected /24s are longer matches, so only the unused part of 192.168/16 goes there
        sw.configure("ip route 192.168.0.0 255.255.0.0 Null0")
        assert "unreachable 192.168.0.0/16" in lab.node("sw3550").cmd("ip route show 192.168.0.0/16")
        for ttl in (2, 5):   # the switch answers from Null0 instead of passing it on
            assert _hop(lab, ttl) == ("192.168.1.1", *HOST_UNREACHABLE), ttl
        assert _hop(lab, 5, "192.168.254.1") == ("192.168.254.1", 0, 0)   # what exists still answers
        assert _hop(lab, 5, "192.168.2.1") == ("192.168.2.1", 0, 0)       # so do the connected /24s
    finally:
        sw.configure("no ip route 192.168.0.0 255.255.0.0 Null0\nno ip route 0.0.0.0 0.0.0.0 192.168.254.1\n"
                     "ip route 0.0.0.0 0.0.0.0 Fast0/1")
        router.configure("no ip route 192.168.0.0 255.255.0.0 192.168.254.2\n"
                         "ip route 192.168.0.0 255.255.0.0 Fast0/0")


def test_a_raw_packet_built_outside_is_sent_by_the_node_and_its_answer_comes_back(lab):
    """labkit.probes.raw:exchange, as notebook 01 uses it: the bytes of a packet built in
    the caller, sent by phone2, and the switch's 3/13 quoting that very packet."""
    from scapy.all import ICMP, IP, IPerror
    pkt = IP(src="192.168.2.22", dst="192.168.1.20", id=4242) / ICMP(id=7, seq=1)
    raw = lab.node("phone2").call("labkit.probes.raw:exchange", bytes(pkt), wait=2)
    assert raw is not None
    ans = IP(raw)
    assert (ans.src, ans[ICMP].type, ans[ICMP].code) == ("192.168.2.1", *ADMIN_PROHIBITED)
    assert ans[IPerror].id == 4242 and ans[IPerror].dst == "192.168.1.20"
    # nothing answers a packet to an address nobody holds on a connected subnet
    none = IP(src="192.168.2.22", dst="192.168.2.99") / ICMP(id=7, seq=2)
    assert lab.node("phone2").call("labkit.probes.raw:exchange", bytes(none), wait=1) is None
