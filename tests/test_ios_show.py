"""labkit.ios show commands, from canned `ip -j`, `nft -j`, lease-file and conntrack outputs."""
from __future__ import annotations

import json

import pytest

from labkit.ios import show as S

ADDR = json.dumps([
    {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "operstate": "UNKNOWN",
     "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
    {"ifindex": 2, "ifname": "fa0-1@if7", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
     "operstate": "UP", "addr_info": [{"family": "inet", "local": "192.168.254.2", "prefixlen": 30}]},
    {"ifindex": 3, "ifname": "fa0-2@if9", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
     "operstate": "UP", "addr_info": []},
    {"ifindex": 4, "ifname": "fa0-10@if11", "flags": ["BROADCAST", "MULTICAST"], "operstate": "DOWN",
     "addr_info": []},
    {"ifindex": 5, "ifname": "vlan2", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
     "operstate": "UP", "addr_info": [{"family": "inet", "local": "192.168.2.1", "prefixlen": 24}]},
    {"ifindex": 6, "ifname": "vlan1", "flags": ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
     "operstate": "DOWN", "addr_info": [{"family": "inet", "local": "192.168.1.1", "prefixlen": 24}]},
])
ROUTE = json.dumps([
    {"dst": "default", "gateway": "192.168.254.1", "dev": "fa0-1", "protocol": "static", "metric": 1, "flags": []},
    {"dst": "10.8.0.0/16", "type": "blackhole", "protocol": "static", "metric": 1, "flags": []},
    {"dst": "192.168.1.0/24", "dev": "vlan1", "protocol": "kernel", "scope": "link", "prefsrc": "192.168.1.1",
     "flags": ["linkdown"]},
    {"dst": "192.168.2.0/24", "dev": "vlan2", "protocol": "kernel", "scope": "link", "prefsrc": "192.168.2.1",
     "flags": []},
    {"dst": "192.168.254.0/30", "dev": "fa0-1", "protocol": "kernel", "scope": "link", "prefsrc": "192.168.254.2",
     "flags": []},
    {"dst": "172.16.0.0/12", "gateway": "192.168.254.1", "dev": "fa0-1", "protocol": "static", "metric": 200,
     "flags": []},
])


def _rule(chain, comment, packets, verdict):
    return {"rule": {"family": "ip", "table": "labkit_ios", "chain": chain, "handle": 3, "comment": comment,
                     "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                         "right": {"prefix": {"addr": "192.168.2.0", "len": 24}}}},
                              {"counter": {"packets": packets, "bytes": packets * 84}}, {verdict: None}]}}


NFT = json.dumps({"nftables": [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
    {"table": {"family": "ip", "name": "labkit_ios", "handle": 1}},
    {"chain": {"family": "ip", "table": "labkit_ios", "name": "acl_102", "handle": 1}},
    _rule("acl_102", "102 | 10 | deny ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255", 4, "drop"),
    _rule("acl_102", "102 | 20 | permit ip any any", 120, "return"),
    _rule("acl_102", "102 | implicit | deny any", 0, "drop"),
    _rule("acl_WEB", "WEB | 10 | permit tcp any host 10.0.0.5 eq 80", 1, "return"),
    _rule("acl_WEB", "WEB | implicit | deny any", 2, "drop"),
    _rule("acl_1", "1 | 10 | permit 192.168.0.0, wildcard bits 0.0.255.255", 0, "return"),
    _rule("nat_list_1_dialer1", "1 | 10 | permit 192.168.0.0, wildcard bits 0.0.255.255", 7, "masquerade"),
    _rule("forward", "ip access-group 102 in on Vlan2", 124, "jump"),
    _rule("prerouting", "static | tcp | 192.168.1.20:80 | 100.64.0.2:80", 2, "dnat"),
    _rule("postrouting", "static-out | tcp | 192.168.1.20:80 | 100.64.0.2:80", 0, "snat"),
]})
LEASES = ("1764210000 02:aa:bb:cc:dd:01 192.168.1.101 pc1 01:02:aa:bb:cc:dd:01\n"
          "0 02:aa:bb:cc:dd:02 192.168.1.100 * *\n"
          "duid 00:01:00:01:2c:1f:00:00:02:aa:bb:cc:dd:ee\n")
CONNTRACK = (
    "ipv4     2 tcp      6 431999 ESTABLISHED src=192.168.1.10 dst=1.2.3.4 sport=43210 dport=25 "
    "src=1.2.3.4 dst=100.64.0.2 sport=25 dport=43210 [ASSURED] mark=0 zone=0 use=2\n"
    "ipv4     2 tcp      6 117 TIME_WAIT src=100.64.0.1 dst=100.64.0.2 sport=50000 dport=80 "
    "src=192.168.1.20 dst=100.64.0.1 sport=80 dport=50000 [ASSURED] mark=0 zone=0 use=2\n"
    "ipv4     2 icmp     1 29 src=192.168.2.21 dst=100.64.1.53 type=8 code=0 id=77 "
    "src=100.64.1.53 dst=100.64.0.2 type=0 code=0 id=77 mark=0 zone=0 use=2\n"
    "ipv4     2 udp      17 29 src=192.168.254.1 dst=100.64.1.53 sport=5353 dport=53 "
    "src=100.64.1.53 dst=192.168.254.1 sport=53 dport=5353 mark=0 zone=0 use=2\n")


def runner(cmd: str) -> str:
    """A fake node: canned output per command, as node.cmd would return it."""
    table = {"ip -j addr show": ADDR, "ip -j route show table main": ROUTE,
             "nft -j list table ip labkit_ios 2>&1": NFT,
             "cat /run/x/dnsmasq.leases 2>/dev/null": LEASES,
             "cat /proc/net/nf_conntrack 2>/dev/null": CONNTRACK}
    return table[cmd]


def test_show_ip_route_text():
    assert S.show_ip_route(runner) == (
        "Codes: C - connected, S - static, * - candidate default\n"
        "\n"
        "Gateway of last resort is 192.168.254.1 to network 0.0.0.0\n"
        "\n"
        "S*   0.0.0.0/0 [1/0] via 192.168.254.1\n"
        "S    10.8.0.0/16 is directly connected, Null0\n"
        "S    172.16.0.0/12 [200/0] via 192.168.254.1\n"
        "C    192.168.1.0/24 is directly connected, Vlan1\n"
        "C    192.168.2.0/24 is directly connected, Vlan2\n"
        "C    192.168.254.0/30 is directly connected, FastEthernet0/1\n")


def test_routes_data():
    r = S.routes(runner)
    assert r[0] == S.RouteEntry("S*", "0.0.0.0/0", "192.168.254.1", "FastEthernet0/1", 1, 0)
    assert [e.code for e in r] == ["S*", "S", "S", "C", "C", "C"]


def test_no_default_route():
    assert "Gateway of last resort is not set" in S.show_ip_route(lambda c: "[]")


def test_show_ip_interface_brief():
    assert S.show_ip_interface_brief(runner) == (
        "Interface              IP-Address      OK? Method Status                Protocol\n"
        "FastEthernet0/1        192.168.254.2   YES manual up                    up\n"
        "FastEthernet0/2        unassigned      YES unset  up                    up\n"
        "FastEthernet0/10       unassigned      YES unset  administratively down down\n"
        "Vlan1                  192.168.1.1     YES manual down                  down\n"
        "Vlan2                  192.168.2.1     YES manual up                    up\n")


def test_show_access_lists_with_hit_counts():
    assert S.show_access_lists(runner) == (
        "Standard IP access list 1\n"
        "    10 permit 192.168.0.0, wildcard bits 0.0.255.255 (7 matches)\n"
        "Extended IP access list 102\n"
        "    10 deny ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255 (4 matches)\n"
        "    20 permit ip any any (120 matches)\n"
        "Extended IP access list WEB\n"
        "    10 permit tcp any host 10.0.0.5 eq 80 (1 match)\n")


def test_access_lists_data_includes_the_implicit_deny():
    data = S.access_lists(runner)
    web = [a for a in data if a.acl == "WEB"]
    assert [(a.seq, a.matches) for a in web] == [(10, 1), (None, 2)]
    assert all(a.acl != "static" for a in data)


# Recorded with `nft -j list table ip labkit_ios` in a scratch namespace, from the ruleset
# render_nft makes for ACL 1 used both by `ip access-group 1 in` and by PAT (`nat inside source
# list 1`), loaded with preset counters: acl_1 has 3/40/1 packets, nat_list_1_fa0_1 has 2/9.
RECORDED_TWO_CHAINS = (
    '{"nftables":[{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_versio'
    'n":1}},{"table":{"family":"ip","name":"labkit_ios","handle":2}},{"chain":{"family":"ip","table":'
    '"labkit_ios","name":"acl_1","handle":1}},{"chain":{"family":"ip","table":"labkit_ios","name":"fo'
    'rward","handle":2,"type":"filter","hook":"forward","prio":0,"policy":"accept"}},{"chain":{"famil'
    'y":"ip","table":"labkit_ios","name":"input","handle":3,"type":"filter","hook":"input","prio":0,"'
    'policy":"accept"}},{"chain":{"family":"ip","table":"labkit_ios","name":"nat_list_1_fa0_1","handl'
    'e":4}},{"chain":{"family":"ip","table":"labkit_ios","name":"postrouting","handle":5,"type":"nat"'
    ',"hook":"postrouting","prio":100,"policy":"accept"}},{"rule":{"family":"ip","table":"labkit_ios"'
    ',"chain":"acl_1","handle":6,"comment":"1 | 10 | deny 10.0.0.66","expr":[{"match":{"op":"==","lef'
    't":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.0.0.66"}},{"counter":{"packets":3,"'
    'bytes":252}},{"drop":null}]}},{"rule":{"family":"ip","table":"labkit_ios","chain":"acl_1","handl'
    'e":7,"comment":"1 | 20 | permit 10.0.0.0, wildcard bits 0.0.0.255","expr":[{"match":{"op":"==","'
    'left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.0.0.0","len":2'
    '4}}}},{"counter":{"packets":40,"bytes":3360}},{"return":null}]}},{"rule":{"family":"ip","table":'
    '"labkit_ios","chain":"acl_1","handle":8,"comment":"1 | implicit | deny any","expr":[{"counter":{'
    '"packets":1,"bytes":84}},{"drop":null}]}},{"rule":{"family":"ip","table":"labkit_ios","chain":"f'
    'orward","handle":9,"comment":"ip access-group 1 in on FastEthernet0/0","expr":[{"match":{"op":"='
    '=","left":{"meta":{"key":"iifname"}},"right":"fa0-0"}},{"jump":{"target":"acl_1"}}]}},{"rule":{"'
    'family":"ip","table":"labkit_ios","chain":"input","handle":10,"comment":"ip access-group 1 in on'
    ' FastEthernet0/0","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"fa0-0"}'
    '},{"jump":{"target":"acl_1"}}]}},{"rule":{"family":"ip","table":"labkit_ios","chain":"nat_list_1'
    '_fa0_1","handle":11,"comment":"1 | 10 | deny 10.0.0.66","expr":[{"match":{"op":"==","left":{"pay'
    'load":{"protocol":"ip","field":"saddr"}},"right":"10.0.0.66"}},{"counter":{"packets":2,"bytes":1'
    '68}},{"return":null}]}},{"rule":{"family":"ip","table":"labkit_ios","chain":"nat_list_1_fa0_1","'
    'handle":12,"comment":"1 | 20 | permit 10.0.0.0, wildcard bits 0.0.0.255","expr":[{"match":{"op":'
    '"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.0.0.0","'
    'len":24}}}},{"counter":{"packets":9,"bytes":756}},{"masquerade":null}]}},{"rule":{"family":"ip",'
    '"table":"labkit_ios","chain":"postrouting","handle":13,"comment":"ip nat inside source list 1 in'
    'terface FastEthernet0/1 overload","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},'
    '"right":"fa0-1"}},{"jump":{"target":"nat_list_1_fa0_1"}}]}}]}')


def test_access_list_counters_in_two_chains_are_summed():
    """One IOS entry renders to a rule in every chain that uses the ACL; its hits are their sum."""
    data = S.access_lists(lambda cmd: RECORDED_TWO_CHAINS)
    assert [(a.acl, a.seq, a.matches) for a in data] == [("1", 10, 3 + 2), ("1", 20, 40 + 9), ("1", None, 1)]
    assert S.show_access_lists(lambda cmd: RECORDED_TWO_CHAINS) == (
        "Standard IP access list 1\n"
        "    10 deny 10.0.0.66 (5 matches)\n"
        "    20 permit 10.0.0.0, wildcard bits 0.0.0.255 (49 matches)\n")


def test_no_table_means_no_access_lists():
    msg = "Error: No such file or directory\nlist table ip labkit_ios\n"
    assert S.show_access_lists(lambda c: msg) == ""
    assert S.access_lists(lambda c: msg) == []


def test_show_ip_dhcp_binding():
    text = S.show_ip_dhcp_binding(runner, "/run/x/dnsmasq.leases")
    assert text == (
        "IP address       Hardware address        Lease expiration        Type\n"
        "192.168.1.100    0102.aabb.ccdd.02       Infinite                Automatic\n"
        "192.168.1.101    0102.aabb.ccdd.01       Nov 27 2025 02:20 AM    Automatic\n")
    b = S.dhcp_bindings(runner, "/run/x/dnsmasq.leases")
    assert b[1].mac == "02:aa:bb:cc:dd:01" and b[1].hostname == "pc1" and b[1].expires == 1764210000


def test_show_ip_nat_translations():
    assert S.show_ip_nat_translations(runner) == (
        "Pro  Inside global         Inside local          Outside local         Outside global\n"
        "tcp  100.64.0.2:80         192.168.1.20:80       ---                   ---\n"
        "tcp  100.64.0.2:43210      192.168.1.10:43210    1.2.3.4:25            1.2.3.4:25\n"
        "tcp  100.64.0.2:80         192.168.1.20:80       100.64.0.1:50000      100.64.0.1:50000\n"
        "icmp 100.64.0.2:77         192.168.2.21:77       100.64.1.53:77        100.64.1.53:77\n")


def test_nat_data_marks_static_entries():
    t = S.nat_translations(runner)
    assert [x.static for x in t] == [True, False, False, False]


@pytest.mark.parametrize("cmd,first", [("show ip route", "Codes:"), ("sh ip ro", "Codes:"),
                                       ("sh ip int br", "Interface"), ("show access-lists", "Standard"),
                                       ("sh ip nat tr", "Pro"), ("ip route", "Codes:")])
def test_show_dispatch_with_abbreviations(cmd, first):
    assert S.show(runner, cmd).startswith(first)


def test_show_dispatch_errors():
    with pytest.raises(S.ShowError, match="unknown show command"):
        S.show(runner, "show version")
    with pytest.raises(S.ShowError, match="lease file"):
        S.show(runner, "show ip dhcp binding")
    assert S.show(runner, "sh ip dhcp bind", lease_file="/run/x/dnsmasq.leases").startswith("IP address")


def test_tool_failure_is_a_clear_error():
    with pytest.raises(S.ShowError, match="did not return JSON"):
        S.routes(lambda c: "Cannot open netlink socket: Operation not permitted\n")
