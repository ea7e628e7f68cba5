"""The campus of the 3550 post on the seed lab: DHCP pools, ACL 102, NAT, router outage.

Every packet is built by scapy inside a lab host (labkit.probes.dhcp / campus), driven by
the lesson's helpers (labkit.lessons.campus).
Needs root (network namespaces).
"""
from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from labkit.lab import Lab
from labkit.lessons import campus
from labkit.probes.dhcp import client_mac

from labtest import leftovers

pytestmark = pytest.mark.lab

INSTANCE = "tcampus"
VLAN1_FREE = (IPv4Address("192.168.1.100"), IPv4Address("192.168.1.149"))


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up("seed", name=INSTANCE, replace=True)
    try:
        yield lab
    finally:
        assert lab.down() == []
        assert leftovers(INSTANCE) == []


def _in(addr: str, lo_hi: tuple[IPv4Address, IPv4Address]) -> bool:
    return lo_hi[0] <= IPv4Address(addr) <= lo_hi[1]


def test_thirty_new_vlan1_clients_lease_only_from_100_to_149(lab):
    macs = [client_mac(f"t-vlan1-{i}") for i in range(30)]
    results = lab.node("pc2").call("labkit.probes.dhcp:many", macs, timeout=90)
    try:
        addrs = [r["address"] for r in results]
        assert None not in addrs, [r["messages"] for r in results if r["address"] is None]
        assert len(set(addrs)) == 30                       # one address per client
        assert all(_in(a, VLAN1_FREE) for a in addrs), addrs
        assert lab.node("pc1").live_ip() not in addrs       # pc1's lease is not handed out again
        assert {(r["router"], r["dns"], r["mask"]) for r in results} == {
            ("192.168.1.1", "192.168.254.1", "255.255.255.0")}
    finally:
        for r in results:
            if r["address"]:
                lab.node("pc2").call("labkit.probes.dhcp:release", r["mac"], r["address"], r["server"])


def test_a_client_asking_for_an_excluded_address_gets_one_from_the_pool(lab):
    for wanted in ("192.168.1.20", "192.168.1.99", "192.168.1.150", "192.168.1.1"):
        r = lab.node("pc2").call("labkit.probes.dhcp:dora", client_mac(f"t-ask-{wanted}"),
                                 requested=wanted, release=True)
        assert r["address"] != wanted and _in(r["address"], VLAN1_FREE), r


def test_vlan2_pool_never_leases_the_static_voice_hosts(lab):
    macs = [client_mac(f"t-vlan2-{i}") for i in range(12)]
    results = lab.node("acd").call("labkit.probes.dhcp:many", macs, release=True, timeout=60)
    addrs = {r["address"] for r in results}
    assert None not in addrs
    assert not addrs & {"192.168.2.1", "192.168.2.10", "192.168.2.22"}
    assert {r["router"] for r in results} == {"192.168.2.1"}


#: a probe ACL 102 denies on Vlan2: the switch answers ICMP 3/13 from its Vlan2 address
#: (ip unreachables, at most one per 500 ms: each probe is a new process, well apart)
DENIED = "unreachable 3/13 (administratively prohibited) from 192.168.2.1"


def test_acl_102_blocks_what_it_says_and_counts_it(lab):
    rows = {(r.src, r.dst, r.what): r for r in campus.acl_matrix(lab)}
    for what in ("icmp", "tcp_syn", "udp"):             # VLAN2 may not talk to VLAN1: IOS answers 3/13
        r = rows[("acd", "pc2", what)]
        assert r.result == DENIED and r.counted == {"102 line 20": 1}, r
    r = rows[("pc2", "acd", "tcp_syn")]                  # VLAN1 opens TCP: the SYN-ACK is established
    assert r.result == "SYN-ACK" and r.counted == {"102 line 10": 1}, r
    for what in ("icmp", "udp"):                         # stateless: VLAN2's replies die on the deny
        r = rows[("pc2", "acd", what)]
        assert r.result == "no reply" and r.counted == {"102 line 20": 1}, r
    assert campus.check_policy(lab).ok


def test_established_lets_a_bare_ack_through(lab):
    r = campus.probe(lab, "acd", "pc2", "tcp_ack", port=80)
    assert r.result == "RST" and r.counted == {"102 line 10": 1}


def test_retyped_acl_is_applied_and_a_typo_names_its_line(lab):
    from labkit.ios.errors import IosConfigError
    svc = lab.service("sw3550", "ios")
    with pytest.raises(IosConfigError, match="retyped"):
        svc.replace_acl("102", "access-list 102 permit tcp any any estabished\n")
    assert campus.syn_from(lab, "acd", "pc2", 80) == DENIED       # the old ACL still holds
    svc.replace_acl("102", "access-list 102 permit ip any any\n")
    try:
        assert campus.syn_from(lab, "acd", "pc2", 80) == "SYN-ACK"
    finally:
        original = [l for l in svc.ios_path().read_text().splitlines() if l.startswith("access-list 102 ")]
        svc.replace_acl("102", "\n".join(original))
    assert campus.syn_from(lab, "acd", "pc2", 80) == DENIED


def test_port_forward_from_the_wan_reaches_the_inside_web_server(lab):
    assert campus.syn_from(lab, "isp", "100.64.0.2", 80) == "SYN-ACK"    # static tcp 192.168.1.20 80
    # the SYN-ACK came from pc2's web server: the router holds a dynamic (conntrack) translation
    from labkit.ios import show
    nat = show.nat_translations(lab.node("router").cmd)
    assert any(not t.static and t.protocol == "tcp" and t.inside_local == "192.168.1.20:80"
               and t.outside_global.startswith("100.64.0.1:") for t in nat), nat


def _www(lab) -> dict:
    return lab.node("pc1").call("labkit.dns.probes:query", "192.168.254.1", "www.exampledomain.ca", "A", True)


def test_every_pat_reply_needs_the_routers_route_to_the_lan(lab):
    """The post keeps 192.168.0.0/16 on the router "because we are doing port forwarding";
    without it the LAN's own connections (PAT) lose their replies as well."""
    rt = lab.service("router", "ios")
    assert campus.syn_from(lab, "isp", "100.64.0.2", 80) == "SYN-ACK"
    assert campus.forwards(lab, 80) == [
        "tcp  100.64.0.2:80         192.168.1.20:80       ---                   ---",
        "tcp  100.64.0.2:80         192.168.1.20:80       100.64.0.1:*          100.64.0.1:*"]
    rt.configure("no ip route 192.168.0.0 255.255.0.0 Fast0/0")
    try:
        assert campus.icmp_from(lab, "pc1", "rootns") != "reply"
        assert campus.syn_from(lab, "isp", "100.64.0.2", 80) != "SYN-ACK"
    finally:
        rt.configure("ip route 192.168.0.0 255.255.0.0 Fast0/0")
    assert campus.icmp_from(lab, "pc1", "rootns") == "reply"


def test_the_router_reaches_the_lan_by_the_switchs_proxy_arp(lab):
    from labkit.ios import show
    assert campus.icmp_from(lab, "phone1", "rootns") == "reply"
    arp = {e.address: e for e in show.arp_entries(lab.node("router").cmd)}
    sw_mac = lab.node("sw3550").cmd("cat /sys/class/net/fa0-1/address").strip()
    assert arp[lab.node("phone1").live_ip()].mac == sw_mac            # two hops away, the switch's MAC
    assert arp[lab.node("phone1").live_ip()].interface == "FastEthernet0/0"


def test_without_ip_routing_nothing_is_routed_between_the_vlans(lab):
    sw = lab.node("sw3550")
    with campus.EchoServer(lab.node("acd")):
        sw.cmd("sysctl -qw net.ipv4.ip_forward=0")
        try:
            assert campus.icmp_from(lab, "pc1", "pc2") == "reply"            # inside VLAN1
            assert campus.syn_from(lab, "pc2", "acd", 7) == "no reply"       # VLAN1 -> VLAN2
            assert campus.icmp_from(lab, "pc1", "rootns") == "no reply"
        finally:
            sw.cmd("sysctl -qw net.ipv4.ip_forward=1")
        assert campus.syn_from(lab, "pc2", "acd", 7) == "SYN-ACK"


def test_a_bare_ack_from_vlan2_passes_established_and_gets_a_rst(lab):
    from scapy.all import IP, TCP
    ack = IP(src=lab.node("acd").live_ip(), dst=lab.node("pc2").live_ip()) / \
        TCP(sport=40001, dport=7, flags="A", seq=1000, ack=1)
    answer = IP(lab.node("acd").call("labkit.probes.raw:exchange", bytes(ack)))
    assert (answer.src, answer.ttl, str(answer[TCP].flags), answer[TCP].seq) == (ack.dst, 63, "R", 1)


def test_router_down_keeps_the_lan_and_loses_the_internet(lab):
    campus.router_down(lab)
    try:
        with campus.EchoServer(lab.node("acd")):
            assert campus.icmp_from(lab, "pc1", "pc2") == "reply"              # VLAN1
            assert campus.icmp_from(lab, "phone1", "acd") == "reply"           # VLAN2
            assert campus.syn_from(lab, "pc2", "acd", 7) == "SYN-ACK"         # inter-VLAN on the SVIs
            for host, tag in (("pc2", "t-down-1"), ("acd", "t-down-2")):      # DHCP on the switch
                r = lab.node(host).call("labkit.probes.dhcp:dora", client_mac(tag), release=True)
                assert r["address"] is not None, r
            assert campus.icmp_from(lab, "pc1", "rootns") != "reply"           # no internet
            # the switch's routed port has no carrier: no reply, or the SVI's "unreachable"
            assert campus.icmp_from(lab, "phone1", "192.168.254.1") != "reply"
            # names are lost too: the pools' DNS server is the router's forwarder
            dns = _www(lab)
            assert dns["rcode"] is None and not dns["answered"], dns
    finally:
        campus.router_up(lab)
    assert campus.icmp_from(lab, "pc1", "rootns") == "reply"
    assert [a["data"] for a in _www(lab)["answer"]] == ["1.2.3.4"]
    assert campus.syn_from(lab, "isp", "100.64.0.2", 80) == "SYN-ACK"
