"""labkit.ios translation: DHCP range arithmetic, ACL/NAT -> nft, steps for the node."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from ipaddress import IPv4Address as A, IPv4Network as N
from pathlib import Path

import pytest

from labkit.ios import IosConfigError, bridge_vlans, interface_plan, load, parse, port_info, translate
from labkit.ios.dhcp import free_ranges, pool_ranges, pool_size
from labkit.ios.nft import match_expr, render_nft

ROOT = Path(__file__).resolve().parents[1]
ROOT_USER = os.geteuid() == 0


# -- DHCP ranges ---------------------------------------------------------------------
def test_free_range_of_the_seed_vlan1_pool():
    ex = [(A("192.168.1.1"), A("192.168.1.99")), (A("192.168.1.150"), A("192.168.1.255"))]
    assert free_ranges(N("192.168.1.0/24"), ex, [A("192.168.1.1")]) == [(A("192.168.1.100"), A("192.168.1.149"))]


def test_svi_address_is_cut_out_without_any_exclusion():
    assert free_ranges(N("192.168.2.0/24"), [], [A("192.168.2.1")]) == [(A("192.168.2.2"), A("192.168.2.254"))]
    assert free_ranges(N("10.0.0.0/29"), [], [A("10.0.0.3")]) == [(A("10.0.0.1"), A("10.0.0.2")),
                                                                   (A("10.0.0.4"), A("10.0.0.6"))]


def test_exclusions_split_and_overlap():
    ex = [(A("10.0.0.10"), A("10.0.0.20")), (A("10.0.0.15"), A("10.0.0.30")), (A("10.0.0.200"), A("10.0.0.200"))]
    assert free_ranges(N("10.0.0.0/24"), ex) == [(A("10.0.0.1"), A("10.0.0.9")), (A("10.0.0.31"), A("10.0.0.199")),
                                                 (A("10.0.0.201"), A("10.0.0.254"))]


def test_exclusions_outside_the_pool_are_ignored():
    assert free_ranges(N("10.0.1.0/30"), [(A("10.0.0.0"), A("10.0.0.255")), (A("10.0.2.0"), A("10.0.2.9"))]) == \
        [(A("10.0.1.1"), A("10.0.1.2"))]


def test_exhausted_pool_has_no_range():
    assert free_ranges(N("192.168.1.0/24"), [(A("192.168.1.0"), A("192.168.1.255"))]) == []
    assert free_ranges(N("10.0.0.0/30"), [(A("10.0.0.2"), A("10.0.0.2"))], [A("10.0.0.1")]) == []


def test_exhausted_pool_renders_no_dhcp_range_and_a_note(tmp_path):
    cfg = parse("interface Vlan1\n ip address 10.0.0.1 255.255.255.252\n"
                "ip dhcp excluded-address 10.0.0.2\nip dhcp pool p\n network 10.0.0.0 255.255.255.252\n", "x")
    t = translate(cfg, tmp_path)
    assert t.dnsmasq is None or "dhcp-range" not in t.dnsmasq.conf
    assert any("offers nothing" in n.message and n.line == 4 for n in t.notes)


def test_seed_pools_render_to_dnsmasq(tmp_path):
    t = translate(load(ROOT / "topologies/sw3550.ios"), tmp_path)
    conf = t.dnsmasq.conf
    assert "dhcp-range=set:pool_vlan1,192.168.1.100,192.168.1.149,255.255.255.0,86400" in conf
    assert "dhcp-range=set:pool_vlan2,192.168.2.2,192.168.2.254,255.255.255.0,86400" in conf
    assert "dhcp-option=tag:pool_vlan1,option:router,192.168.1.1" in conf
    assert "dhcp-option=tag:pool_vlan2,option:dns-server,192.168.254.1" in conf
    assert f"dhcp-leasefile={tmp_path / 'dnsmasq.leases'}" in conf
    assert "port=0" in conf                     # DHCP only: no DNS on the switch
    assert t.dnsmasq.argv[:2] == ["dnsmasq", "-k"]


def test_pool_size_counts_both_ends_of_each_range(tmp_path):
    assert pool_size([(A("10.0.0.5"), A("10.0.0.5"))]) == 1
    assert pool_size([(A("192.168.1.100"), A("192.168.1.149")), (A("10.0.0.1"), A("10.0.0.2"))]) == 52
    assert pool_size([]) == 0
    conf = translate(load(ROOT / "topologies/sw3550.ios"), tmp_path).dnsmasq.conf
    assert "# ip dhcp pool pool_vlan1 (line 76): 50 addresses" in conf.splitlines()
    assert "# ip dhcp pool pool_vlan2 (line 82): 253 addresses" in conf.splitlines()


def test_lease_and_multiple_ranges(tmp_path):
    cfg = parse("interface Vlan3\n ip address 10.3.0.1 255.255.255.0\n"
                "ip dhcp excluded-address 10.3.0.50 10.3.0.59\n"
                "ip dhcp pool p3\n network 10.3.0.0 /24\n lease 0 2 30\n domain-name lab.test\n", "x")
    conf = translate(cfg, tmp_path).dnsmasq.conf
    assert "dhcp-range=set:p3,10.3.0.2,10.3.0.49,255.255.255.0,9000" in conf
    assert "dhcp-range=set:p3,10.3.0.60,10.3.0.254,255.255.255.0,9000" in conf
    assert "option:domain-name,lab.test" in conf
    cfg = parse("ip dhcp pool p\n network 10.3.0.0 255.255.255.0\n lease infinite\n", "x")
    assert ",infinite" in translate(cfg, tmp_path).dnsmasq.conf


def test_pool_without_interface_gets_a_note(tmp_path):
    t = translate(parse("ip dhcp pool far\n network 10.9.0.0 255.255.255.0\n", "x"), tmp_path)
    assert any("no interface" in n.message for n in t.notes)


@pytest.mark.skipif(not shutil.which("dnsmasq"), reason="dnsmasq not installed")
@pytest.mark.parametrize("cfgfile", ["sw3550.ios", "router.ios"])
def test_rendered_dnsmasq_passes_its_own_check(tmp_path, cfgfile):
    t = translate(load(ROOT / "topologies" / cfgfile), tmp_path, wan={"Dialer1": "100.64.0.2/30"})
    t.write()
    p = subprocess.run(t.dnsmasq.test_argv, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_router_dns_forwarder_stays_off_the_wan(tmp_path):
    t = translate(load(ROOT / "topologies/router.ios"), tmp_path, wan={"Dialer1": "100.64.0.2/30"})
    conf = t.dnsmasq.conf
    assert "server=100.64.1.53" in conf and "interface=fa0-0" in conf
    assert "except-interface=dialer1" in conf and "port=0" not in conf and "dhcp-range" not in conf


# -- ACL and NAT -> nft -------------------------------------------------------------------
def _entry(line):
    cfg = parse(line, "x")
    assert cfg.errors == [], cfg.errors
    return next(iter(cfg.acls.values())).entries[0]


@pytest.mark.parametrize("line,expr", [
    ("access-list 101 deny ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255",
     "ip saddr 192.168.2.0/24 ip daddr 192.168.1.0/24"),
    ("access-list 101 permit ip any any", ""),
    ("access-list 101 permit tcp any host 1.2.3.4 eq 80 443", "ip protocol tcp ip daddr 1.2.3.4 tcp dport { 80, 443 }"),
    ("access-list 101 permit tcp any any eq smtp", "ip protocol tcp tcp dport 25"),
    ("access-list 101 permit udp any range 1000 2000 any gt 1024",
     "ip protocol udp udp sport 1000-2000 udp dport > 1024"),
    ("access-list 101 permit udp any any neq domain", "ip protocol udp udp dport != 53"),
    ("access-list 101 permit tcp any any lt 1024 established",
     "ip protocol tcp tcp dport < 1024 tcp flags & (ack | rst) != 0"),
    ("access-list 101 permit icmp any any echo-reply", "ip protocol icmp icmp type 0"),
    ("access-list 101 permit icmp any any 3 4", "ip protocol icmp icmp type 3 icmp code 4"),
    ("access-list 101 permit gre host 10.0.0.1 any", "ip protocol 47 ip saddr 10.0.0.1"),
    ("access-list 101 permit ip 10.0.1.0 0.0.255.0 any", "ip saddr & 255.255.0.255 == 10.0.0.0"),
    ("access-list 10 permit 192.168.1.77 0.0.0.255", "ip saddr 192.168.1.0/24"),
    ("access-list 10 deny host 192.168.1.5", "ip saddr 192.168.1.5"),
    ("access-list 10 permit 192.168.1.5", "ip saddr 192.168.1.5"),
])
def test_acl_entry_to_nft_match(line, expr):
    assert match_expr(_entry(line)) == expr


def test_acl_chain_order_counters_and_implicit_deny():
    cfg = load(ROOT / "topologies/sw3550.ios")
    nft = render_nft(cfg, {})
    chain = nft[nft.index("chain acl_102"):nft.index("chain forward")]
    rules = [l.strip() for l in chain.splitlines()[1:-1] if l.strip() != "}"]
    assert rules == [
        'ip protocol tcp ip saddr 192.168.2.0/24 ip daddr 192.168.1.0/24 tcp flags & (ack | rst) != 0 '
        'counter return comment "102 | 10 | permit tcp 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255 established"',
        'ip saddr 192.168.2.0/24 ip daddr 192.168.1.0/24 counter meta mark set 0x1305 return comment '
        '"102 | 20 | deny ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255"',
        'counter return comment "102 | 30 | permit ip any any"',
        'counter meta mark set 0x1305 return comment "102 | implicit | deny any"']
    # `in` on Vlan2: traffic routed from VLAN2, and traffic to the switch itself from VLAN2
    assert 'chain forward {' in nft and 'iifname "vlan2" jump acl_102' in nft
    fwd = nft[nft.index("chain forward"):]
    assert fwd.count('iifname "vlan2" jump acl_102') == 2   # forward and input hooks
    assert "oifname" not in nft


def test_acl_out_only_filters_routed_traffic():
    cfg = parse("interface Vlan1\n ip address 10.0.1.1 255.255.255.0\n ip access-group OUT out\n"
                "ip access-list standard OUT\n permit 10.0.2.0 0.0.0.255\n", "x")
    nft = render_nft(cfg, {})
    assert 'oifname "vlan1" jump acl_OUT' in nft
    assert "chain input" not in nft and "hook output" not in nft


def test_undefined_acl_permits_everything():
    cfg = parse("interface Vlan1\n ip address 10.0.1.1 255.255.255.0\n ip access-group 5 in\n", "x")
    assert render_nft(cfg, {}) == ""


def test_router_nat_rules():
    cfg = load(ROOT / "topologies/router.ios")
    nft = render_nft(cfg, {"dialer1": A("100.64.0.2")})
    assert 'iifname "dialer1" ip daddr 100.64.0.2 tcp dport 80 counter dnat to 192.168.1.20:80' in nft
    assert 'iifname "dialer1" ip daddr 100.64.0.2 udp dport 5060 counter dnat to 192.168.2.10:5060' in nft
    assert 'oifname "dialer1" ip saddr 192.168.1.20 tcp sport 80 counter snat to 100.64.0.2:80' in nft
    assert 'oifname "dialer1" jump nat_list_1_dialer1' in nft
    assert "ip saddr 192.168.0.0/16 counter masquerade" in nft
    assert "type nat hook prerouting priority dstnat" in nft
    assert "type nat hook postrouting priority srcnat" in nft


def test_pat_acl_deny_entries_skip_translation():
    cfg = parse("interface fa0/0\n ip address 10.0.0.1 255.255.255.0\n ip nat inside\n"
                "interface fa0/1\n ip address 1.1.1.2 255.255.255.252\n ip nat outside\n"
                "access-list 1 deny host 10.0.0.66\naccess-list 1 permit 10.0.0.0 0.0.0.255\n"
                "ip nat inside source list 1 interface fa0/1 overload\n", "x")
    nft = render_nft(cfg, {})
    assert nft.index("ip saddr 10.0.0.66 counter return") < nft.index("ip saddr 10.0.0.0/24 counter masquerade")


def _chain_rules(nft: str, chain: str) -> list[str]:
    body = nft[nft.index(f"chain {chain} {{"):]
    body = body[:body.index("\n\t}")]
    return [l.strip() for l in body.splitlines()[1:]]


ACL_VERDICTS = ("interface fa0/0\n ip address 10.0.0.1 255.255.255.0\n ip access-group 110 in\n ip nat inside\n"
                "interface fa0/1\n ip address 1.1.1.2 255.255.255.252\n ip nat outside\n"
                "access-list 110 deny udp any any eq 53\n"
                "access-list 110 deny tcp any any eq 25\n"
                "access-list 110 deny icmp any any echo\n"
                "access-list 110 deny ip host 10.0.0.66 any\n"
                "access-list 110 permit udp any any\n"
                "access-list 110 permit tcp any any\n"
                "access-list 110 permit icmp any any\n"
                "access-list 110 permit ip any any\n"
                "ip nat inside source list 110 interface fa0/1 overload\n")


def test_acl_entry_verdicts_for_every_protocol():
    """deny drops and permit returns (to the hook, where the next ACL or accept follows),
    whatever the protocol; in a PAT list deny skips translation and permit masquerades."""
    nft = render_nft(parse(ACL_VERDICTS, "x"), {})
    expected = [("udp", "udp dport 53"), ("tcp", "tcp dport 25"), ("icmp", "icmp type 8"),
                ("ip", "ip saddr 10.0.0.66")] * 2
    actions = ["deny"] * 4 + ["permit"] * 4
    for chain, verdict in (("acl_110", {"deny": "meta mark set 0x1305 return", "permit": "return"}),
                           ("nat_list_110_fa0_1", {"deny": "return", "permit": "masquerade"})):
        rules = _chain_rules(nft, chain)
        for rule, (proto, match), action in zip(rules, expected, actions):
            assert f'comment "110 | ' in rule and f" {action} {proto} " in rule, rule
            if proto != "ip":
                assert rule.startswith(f"ip protocol {proto} "), rule
            if action == "deny":
                assert match in rule, rule
            assert re.search(rf'(^| )counter {verdict[action]} comment "110 \| ', rule), (chain, rule)
        assert len(rules) == 8 + (chain == "acl_110")
    assert _chain_rules(nft, "acl_110")[-1] == 'counter meta mark set 0x1305 return comment "110 | implicit | deny any"'


def test_static_nat_forward_to_another_inside_port():
    """`static tcp L 8080 interface Dialer1 80`: outside port 80 goes to inside port 8080, and
    what the server sends from 8080 leaves from 80."""
    cfg = parse("interface fa0/0\n ip address 192.168.1.1 255.255.255.0\n ip nat inside\n"
                "interface Dialer1\n ip address negotiated\n ip nat outside\n"
                "ip nat inside source static tcp 192.168.1.20 8080 interface Dialer1 80\n"
                "ip nat inside source static udp 192.168.1.21 5070 203.0.113.9 5060\n", "x")
    assert cfg.errors == [], cfg.errors
    nft = render_nft(cfg, {"dialer1": A("100.64.0.2")})
    assert _chain_rules(nft, "prerouting")[1:] == [
        'iifname "dialer1" ip daddr 100.64.0.2 tcp dport 80 counter dnat to 192.168.1.20:8080 '
        'comment "static | tcp | 192.168.1.20:8080 | 100.64.0.2:80"',
        'iifname "dialer1" ip daddr 203.0.113.9 udp dport 5060 counter dnat to 192.168.1.21:5070 '
        'comment "static | udp | 192.168.1.21:5070 | 203.0.113.9:5060"']
    assert _chain_rules(nft, "postrouting")[1:] == [
        'oifname "dialer1" ip saddr 192.168.1.20 tcp sport 8080 counter snat to 100.64.0.2:80 '
        'comment "static-out | tcp | 192.168.1.20:8080 | 100.64.0.2:80"',
        'oifname "dialer1" ip saddr 192.168.1.21 udp sport 5070 counter snat to 203.0.113.9:5060 '
        'comment "static-out | udp | 192.168.1.21:5070 | 203.0.113.9:5060"']


@pytest.mark.skipif(not (ROOT_USER and shutil.which("nft")), reason="nft -c needs root")
@pytest.mark.parametrize("cfgfile", ["sw3550.ios", "router.ios"])
def test_rendered_ruleset_passes_nft_check(tmp_path, cfgfile):
    # `nft -c` only parses and validates against the kernel; it changes nothing
    t = translate(load(ROOT / "topologies" / cfgfile), tmp_path, wan={"Dialer1": "100.64.0.2/30"})
    t.write()
    p = subprocess.run(["nft", "-c", "-f", str(t.nft_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@pytest.mark.skipif(not (ROOT_USER and shutil.which("nft")), reason="nft -c needs root")
def test_every_acl_form_passes_nft_check(tmp_path):
    lines = ["interface Vlan1", " ip address 10.0.1.1 255.255.255.0", " ip access-group 101 in",
             " ip access-group 1 out"]
    lines += ["access-list 101 " + l.split(" ", 2)[2] for l, _ in [
        ("access-list 101 deny ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255", 0),
        ("access-list 101 permit tcp any host 1.2.3.4 eq 80 443 established", 0),
        ("access-list 101 permit udp any range 1000 2000 any gt 1024", 0),
        ("access-list 101 permit udp any any neq domain", 0),
        ("access-list 101 permit icmp any any 3 4", 0),
        ("access-list 101 permit gre host 10.0.0.1 any", 0),
        ("access-list 101 permit ip 10.0.1.0 0.0.255.0 any", 0)]]
    lines += ["access-list 1 permit 10.0.0.0 0.255.0.255"]
    t = translate(parse("\n".join(lines), "x"), tmp_path)
    t.write()
    p = subprocess.run(["nft", "-c", "-f", str(t.nft_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr + t.nft


# -- translation steps ---------------------------------------------------------------------------
def _shell(t):
    return [s.shell() for s in t.steps]


def test_switch_steps(tmp_path):
    t = translate(load(ROOT / "topologies/sw3550.ios"), tmp_path)
    sh = _shell(t)
    assert "sysctl -qw net.ipv4.ip_forward=1" in sh
    assert "ip addr add 192.168.1.1/24 dev vlan1" in sh and "ip addr add 192.168.2.1/24 dev vlan2" in sh
    assert "ip addr add 192.168.254.2/30 dev fa0-1" in sh
    assert "ip link set dev fa0-4 up" in sh
    # the seed's interface route stays an interface route (IOS ARPs for every destination),
    # every layer-3 interface answers proxy ARP at once, and a note says why and what to write
    assert "ip route replace default dev fa0-1 metric 1 proto static" in sh
    assert "sysctl -qw net.ipv4.conf.fa0-1.proxy_arp=1" in sh
    assert "sysctl -qw net.ipv4.neigh.fa0-1.proxy_delay=0" in sh
    assert any("proxy ARP" in n.message and "Null0" in n.fix for n in t.notes)
    assert sh[-1].startswith("nft -f ")
    # addresses before routes, routes before nft
    assert sh.index("ip addr add 192.168.254.2/30 dev fa0-1") < \
        sh.index("ip route replace default dev fa0-1 metric 1 proto static")


def test_peer_route_mode_resolves_the_interface_route(tmp_path):
    t = translate(load(ROOT / "topologies/sw3550.ios"), tmp_path, route_mode="peer")
    sh = _shell(t)
    # resolved to the only other address on the /30, with a note that says so
    assert "ip route replace default via 192.168.254.1 dev fa0-1 metric 1 proto static" in sh
    assert any("the only other address on 192.168.254.0/30" in n.message for n in t.notes)


def test_device_route_mode_keeps_the_ios_behaviour(tmp_path):
    t = translate(load(ROOT / "topologies/router.ios"), tmp_path, wan={"Dialer1": "100.64.0.2/30"})
    sh = _shell(t)
    assert "ip route replace 192.168.0.0/16 dev fa0-0 metric 1 proto static" in sh
    assert "sysctl -qw net.ipv4.conf.fa0-0.proxy_arp=1" in sh
    # Dialer1 is point-to-point on the real router: always sent to the ISP side
    assert "ip route replace default via 100.64.0.1 dev dialer1 metric 1 proto static" in sh


def test_negotiated_address_comes_from_the_topology(tmp_path):
    cfg = load(ROOT / "topologies/router.ios")
    with pytest.raises(IosConfigError, match="negotiated"):
        translate(cfg, tmp_path)
    t = translate(cfg, tmp_path, wan={"dialer1": "100.64.0.2/30"})
    assert "ip addr add 100.64.0.2/30 dev dialer1" in _shell(t)


def test_a_trunk_is_translated_and_carries_the_allowed_vlans_this_switch_has(tmp_path):
    cfg = parse("vlan 2,10\ninterface fa0/24\n switchport trunk encapsulation dot1q\n switchport mode trunk\n"
                " switchport trunk allowed vlan 1,2,10-12\n", "x")
    assert cfg.errors == []
    sh = _shell(translate(cfg, tmp_path))           # the builder makes the OVS port; the service sets it up
    assert "ip link set dev fa0-24 up" in sh and not any("fa0-24" in s and "addr" in s for s in sh)
    (p,) = interface_plan(cfg)
    assert p.kind == "trunk" and p.allowed_vlans == [1, 2, 10, 11, 12] and p.native_vlan == 1
    assert p.vlans == [1, 2, 10] and p.native == 1   # 11 and 12 do not exist on this switch


def test_shutdown_interface_routes_are_not_installed(tmp_path):
    cfg = parse("interface fa0/0\n ip address 10.0.0.1 255.255.255.252\n shutdown\n"
                "ip route 10.9.0.0 255.255.0.0 fa0/0\nip route 10.8.0.0 255.255.0.0 Null0\n", "x")
    sh = _shell(translate(cfg, tmp_path))
    assert "ip link set dev fa0-0 down" in sh
    assert not any("10.9.0.0" in s for s in sh)
    assert "ip route replace unreachable 10.8.0.0/16 metric 1 proto static" in sh   # IOS: ip unreachables on Null0


def test_recursive_next_hop_is_not_installed(tmp_path):
    cfg = parse("interface fa0/0\n ip address 10.0.0.1 255.255.255.0\n"
                "ip route 10.9.0.0 255.255.0.0 10.0.0.254 200\nip route 10.7.0.0 255.255.0.0 172.16.0.1\n", "x")
    t = translate(cfg, tmp_path)
    sh = _shell(t)
    assert "ip route replace 10.9.0.0/16 via 10.0.0.254 metric 200 proto static" in sh
    assert not any("10.7.0.0" in s for s in sh)
    assert any(n.line == 4 and "recursively" in n.message and n.text.startswith("ip route 10.7") for n in t.notes)


def test_interface_plan_for_the_builder():
    cfg = load(ROOT / "topologies/sw3550.ios")
    plan = {p.ios_name: p for p in interface_plan(cfg)}
    assert (plan["Vlan1"].linux, plan["Vlan1"].kind, plan["Vlan1"].vlan) == ("vlan1", "svi", 1)
    assert (plan["FastEthernet0/1"].linux, plan["FastEthernet0/1"].kind) == ("fa0-1", "routed")
    assert (plan["FastEthernet0/5"].linux, plan["FastEthernet0/5"].kind, plan["FastEthernet0/5"].vlan) == \
        ("fa0-5", "access", 2)
    assert bridge_vlans(cfg) == [1, 2]
    # a port the config never mentions is an access port in VLAN 1 on a switch
    p = port_info(cfg, "Fa0/30")
    assert (p.linux, p.kind, p.vlan) == ("fa0-30", "access", 1)
    rcfg = load(ROOT / "topologies/router.ios")
    kinds = {p.linux: p.kind for p in interface_plan(rcfg)}
    assert kinds == {"fa0-0": "routed", "dialer1": "wan"}


def test_translation_refuses_a_config_with_errors(tmp_path):
    with pytest.raises(IosConfigError):
        translate(parse("frobnicate\n", "x"), tmp_path)


def test_write_produces_readable_files(tmp_path):
    t = translate(load(ROOT / "topologies/sw3550.ios"), tmp_path)
    names = sorted(p.name for p in t.write())
    assert names == ["apply.sh", "dnsmasq.conf", "ruleset.nft"]
    script = (tmp_path / "apply.sh").read_text()
    assert "# line 94: ip route 0.0.0.0 0.0.0.0 FastEthernet0/1" in script


def test_no_ping_and_static_hosts_kept_out_of_offers(tmp_path):
    """dnsmasq does not ping (3 s per lease); the lab's static hosts are its conflict table."""
    t = translate(load(ROOT / "topologies/sw3550.ios"), tmp_path, in_use=["192.168.2.10", "192.168.2.22/24",
                                                                           "192.168.1.20", "1.2.3.4"])
    conf = t.dnsmasq.conf
    assert "no-ping" in conf.splitlines()
    assert "dhcp-range=set:pool_vlan2,192.168.2.2,192.168.2.9," in conf
    assert "dhcp-range=set:pool_vlan2,192.168.2.11,192.168.2.21," in conf
    assert "dhcp-range=set:pool_vlan2,192.168.2.23,192.168.2.254," in conf
    # 192.168.1.20 is excluded by IOS already: VLAN1's range is unchanged
    assert "dhcp-range=set:pool_vlan1,192.168.1.100,192.168.1.149," in conf


# -- issue 10: names the lab carries into nft and dnsmasq --------------------------------
@pytest.mark.parametrize("line,word", [
    ("ip access-list extended " + "A" * 41, "at most 40"),
    ("ip access-list extended caf\u00e9", "at most 40"),
    ("ip dhcp pool p\"q", "dhcp pool name"),
    ("interface fa0/0\n ip access-group x|y in", "access-list name"),
    ("ip dhcp pool p\n network 10.0.0.0 255.255.255.0\n domain-name a,b", "not a domain name"),
])
def test_names_nft_or_dnsmasq_cannot_carry_are_refused_at_parse(line, word):
    cfg = parse(line + "\n", "x", "router")
    assert any(word in e.message for e in cfg.errors), [str(e) for e in cfg.errors]


def test_acls_and_pools_whose_names_differ_get_their_own_chain_and_tag(tmp_path):
    from labkit.ios.dhcp import tag
    from labkit.ios.nft import chain_name
    assert len({chain_name("acl_", n) for n in ("a-b", "a_b", "a.b")}) == 3
    assert len({tag(n) for n in ("a-b", "a_b", "a.b")}) == 3
    assert chain_name("acl_", "WEB") == "acl_WEB" and tag("pool_vlan1") == "pool_vlan1"


@pytest.mark.skipif(not (ROOT_USER and shutil.which("nft")), reason="nft -c needs root")
def test_long_and_similar_acl_names_pass_nft_check(tmp_path):
    names = ["A" * 40, "a-b", "a_b", "a.b"]
    text = "interface fa0/0\n ip address 10.0.0.1 255.255.255.0\n ip access-group a-b in\n ip access-group a_b out\n"
    text += "interface fa0/1\n ip address 10.0.1.1 255.255.255.0\n ip access-group %s in\n ip access-group a.b out\n" % names[0]
    for n in names:
        text += f"ip access-list extended {n}\n permit tcp host 10.0.0.2 any eq www\n"
    t = translate(parse(text, "x", "router"), tmp_path)
    t.write()
    p = subprocess.run(["nft", "-c", "-f", str(t.nft_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


# -- issue 13: router-on-a-stick, trunks, the access switch ---------------------------------------
ROS = """hostname router
interface FastEthernet0/0
 description trunk to the switch
interface FastEthernet0/0.1
 encapsulation dot1Q 1 native
 ip address 192.168.1.1 255.255.255.0
 ip nat inside
interface FastEthernet0/0.2
 encapsulation dot1Q 2
 ip address 192.168.2.1 255.255.255.0
 ip access-group 102 in
 ip nat inside
interface Dialer1
 ip address negotiated
 ip nat outside
access-list 102 deny ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255
access-list 102 permit ip any any
access-list 1 permit 192.168.0.0 0.0.255.255
ip nat inside source list 1 interface Dialer1 overload
ip route 10.20.0.0 255.255.0.0 192.168.2.254
ip route 0.0.0.0 0.0.0.0 Dialer1
ip dns server
ip name-server 100.64.1.53
"""
WAN = {"Dialer1": "100.64.0.2/30"}


def test_router_on_a_stick_plan():
    plan = {p.linux: p for p in interface_plan(parse(ROS, "r.ios"))}
    trunk, one, two = plan["fa0-0"], plan["fa0-0.1"], plan["fa0-0.2"]
    assert (trunk.kind, trunk.vlans, trunk.native, trunk.allowed_vlans, trunk.native_vlan, trunk.addresses) == \
        ("trunk", [1, 2], 1, [1, 2], 1, [])
    assert (one.kind, one.vlan, one.parent, one.addresses, one.line) == ("subif", 1, "fa0-0", ["192.168.1.1/24"], 4)
    assert (two.kind, two.vlan, two.parent, two.addresses) == ("subif", 2, "fa0-0", ["192.168.2.1/24"])
    # without a `native` sub-interface every VLAN crosses the trunk tagged
    tagged = {p.linux: p for p in interface_plan(parse(ROS.replace("dot1Q 1 native", "dot1Q 1"), "r.ios"))}
    assert (tagged["fa0-0"].vlans, tagged["fa0-0"].native) == ([1, 2], None)


def test_router_on_a_stick_is_translated_like_routed_ports(tmp_path):
    t = translate(parse(ROS, "r.ios"), tmp_path, wan=WAN)
    sh = _shell(t)
    assert "ip addr add 192.168.1.1/24 dev fa0-0.1" in sh and "ip addr add 192.168.2.1/24 dev fa0-0.2" in sh
    # sysctl reads dots as separators: a dotted device name needs the '/' form
    assert "sysctl -qw net/ipv4/conf/fa0-0.2/proxy_arp=1" in sh and "sysctl -qw net.ipv4.conf.dialer1.proxy_arp=1" in sh
    assert "ip link set dev fa0-0 up" in sh and not any("addr" in s and s.endswith("dev fa0-0") for s in sh)
    assert "ip route replace 10.20.0.0/16 via 192.168.2.254 metric 1 proto static" in sh
    assert 'iifname "fa0-0.2" jump acl_102 comment "ip access-group 102 in on FastEthernet0/0.2"' in t.nft
    assert 'oifname "dialer1"' in t.nft and "masquerade" in t.nft
    assert "interface=fa0-0.1" in t.dnsmasq.conf and "interface=fa0-0.2" in t.dnsmasq.conf
    assert "except-interface=dialer1" in t.dnsmasq.conf and "interface=fa0-0\n" not in t.dnsmasq.conf


@pytest.mark.skipif(not (ROOT_USER and shutil.which("nft")), reason="nft -c needs root")
def test_router_on_a_stick_ruleset_passes_nft_check(tmp_path):
    t = translate(parse(ROS, "r.ios"), tmp_path, wan=WAN)
    t.write()
    p = subprocess.run(["nft", "-c", "-f", str(t.nft_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr + t.nft


def test_a_shut_port_takes_its_subinterfaces_down(tmp_path):
    cfg = parse(ROS.replace(" description trunk to the switch", " shutdown"), "r.ios")
    plan = {p.linux: p for p in interface_plan(cfg)}
    assert plan["fa0-0"].shutdown and plan["fa0-0.1"].shutdown and plan["fa0-0.2"].shutdown
    t = translate(cfg, tmp_path, wan=WAN)
    by = {s.shell(): s for s in t.steps}
    assert by["ip link set dev fa0-0.2 down"].why == "shutdown of FastEthernet0/0"
    assert by["ip link set dev fa0-0 down"].why == "shutdown"
    assert not any("10.20.0.0" in s for s in by)   # its next hop is no longer connected
    assert any(n.line == 20 and "recursively" in n.message for n in t.notes)


def test_routes_through_the_trunk_or_an_unbuilt_subinterface_are_not_installed(tmp_path):
    cfg = parse(ROS + "interface fa0/0.9\n description no vlan yet\n"
                "ip route 10.30.0.0 255.255.0.0 Fa0/0\nip route 10.40.0.0 255.255.0.0 Fa0/0.9\n"
                "ip route 10.50.0.0 255.255.0.0 Fa0/0.2\n", "r.ios")
    assert cfg.errors == []
    assert "FastEthernet0/0.9" not in {p.ios_name for p in interface_plan(cfg)}
    # a port whose only sub-interface has no VLAN stays a routed port (a trunk of nothing is no trunk)
    alone = {p.linux: p.kind for p in interface_plan(parse("interface fa0/1.9\n description later\n", "r.ios"))}
    assert alone == {"fa0-1": "routed"}
    t = translate(cfg, tmp_path, wan=WAN)
    sh = _shell(t)
    assert not any("10.30.0.0" in s or "10.40.0.0" in s or "fa0-0.9" in s for s in sh)
    assert "ip route replace 10.50.0.0/16 dev fa0-0.2 metric 1 proto static" in sh
    assert any(n.line == 26 and "only carries the 802.1Q trunk of its sub-interfaces" in n.message for n in t.notes)
    assert any(n.line == 27 and "it has no 'encapsulation dot1Q'" in n.message for n in t.notes)


def test_an_access_switch_does_not_route_and_uses_its_default_gateway(tmp_path):
    text = ("vlan 2\ninterface Vlan1\n ip address 192.168.1.3 255.255.255.0\nip default-gateway 192.168.1.1\n"
            "interface fa0/1\n switchport mode trunk\ninterface fa0/2\n switchport access vlan 2\n")
    t = translate(parse(text, "sw2950.ios", "switch", layer3=False), tmp_path)
    sh = _shell(t)
    assert sh[0] == "sysctl -qw net.ipv4.ip_forward=0"
    assert "ip route replace default via 192.168.1.1 metric 1 proto static" in sh
    assert next(s for s in t.steps if "default" in s.argv).line == 4
    # the same line on a layer-3 switch that routes is not used (the parser warned)
    assert not any("192.168.1.1" in s for s in _shell(translate(parse("ip routing\n" + text, "x"), tmp_path)))
    # ... and a 3550 with `no ip routing` uses it, as IOS does
    assert "ip route replace default via 192.168.1.1 metric 1 proto static" in \
        _shell(translate(parse("no ip routing\n" + text, "x"), tmp_path))
    # a gateway on no connected subnet gives no route
    far = text.replace("default-gateway 192.168.1.1", "default-gateway 10.9.9.9")
    assert not any("10.9.9.9" in s for s in _shell(translate(parse(far, "x", "switch", layer3=False), tmp_path)))


def test_port_info_refuses_an_unconfigured_subinterface():
    cfg = parse(ROS, "r.ios")
    assert port_info(cfg, "fa0/0.2").kind == "subif"
    with pytest.raises(ValueError, match="FastEthernet0/0.7 is not configured"):
        port_info(cfg, "fa0/0.7")
    sw = parse("spanning-tree portfast default\ninterface fa0/24\n switchport mode trunk\n", "sw.ios")
    assert port_info(sw, "Fa0/9").stp_edge and not port_info(sw, "Fa0/24").stp_edge
