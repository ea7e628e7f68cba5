"""labkit.ios show commands, from canned `ip -j`, `nft -j`, lease-file and conntrack outputs."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from labkit.ios import show as S
from labkit.lab.ovs import OvsPaths

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


def test_sub_interfaces_sort_after_their_port():
    addr = json.dumps([{"ifname": n, "flags": ["UP", "LOWER_UP"], "addr_info": []}
                       for n in ("fa0-0.10", "fa0-1", "fa0-0.2", "fa0-0")])
    assert [b.interface for b in S.interfaces_brief(lambda c: addr)] == [
        "FastEthernet0/0", "FastEthernet0/0.2", "FastEthernet0/0.10", "FastEthernet0/1"]


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
    """IOS 12.4/15's header; a lease date in one word (ntc-templates reads no other)."""
    text = S.show_ip_dhcp_binding(runner, "/run/x/dnsmasq.leases")
    assert text == (
        "Bindings from all pools not associated with VRF:\n"
        "IP address      Client-ID/\t    Lease expiration        Type\n"
        "\t\t    Hardware address/\n"
        "\t\t    User name\n"
        "192.168.1.100    0102.aabb.ccdd.02       Infinite                Automatic\n"
        "192.168.1.101    0102.aabb.ccdd.01       Nov-27-2025-02:20AM     Automatic\n")
    b = S.dhcp_bindings(runner, "/run/x/dnsmasq.leases")
    assert b[1].mac == "02:aa:bb:cc:dd:01" and b[1].hostname == "pc1" and b[1].expires == 1764210000
    assert time.strptime("Nov-27-2025-02:20AM", "%b-%d-%Y-%I:%M%p")[:5] == time.gmtime(1764210000)[:5]


def test_show_ip_dhcp_binding_exact_dates_as_ios_prints_them():
    text = S.show_ip_dhcp_binding(runner, "/run/x/dnsmasq.leases", exact_dates=True)
    assert text.endswith("192.168.1.101    0102.aabb.ccdd.01       Nov 27 2025 02:20 AM    Automatic\n")


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
    assert S.show(runner, "sh ip dhcp bind", lease_file="/run/x/dnsmasq.leases").startswith("Bindings")


def test_tool_failure_is_a_clear_error():
    with pytest.raises(S.ShowError, match="did not return JSON"):
        S.routes(lambda c: "Cannot open netlink socket: Operation not permitted\n")


# -- layer 2 ------------------------------------------------------------------------------
# Recorded from a scratch pair of private Open vSwitches (userspace datapath, one bridge
# lkbr each, RSTP) in scratch namespaces: sw1 (the root, priority 4096) has Fa0/3 in VLAN 2
# and two trunks Gi0/1, Gi0/2 (allowed 1,2, native 1) to this switch, sw2, which has Fa0/4
# in VLAN 2 (an edge port) and blocks Gi0/1 as an alternate. Outputs are what these
# commands printed there: ovs-vsctl (ports, interfaces, bridge in one call), ovs-appctl
# fdb/show and rstp/show, ip -j link show.
OVS = OvsPaths(Path("/run/labkit/t/sw2/ovs"))
OVS_STATE = (
    '{"data":[["fa0-4",2,["set",[]],["set",[]],["map",[["rstp-port-admin-edge","true"],["rstp-port-auto-edge",'
    '"false"]]]],["lkbr",["set",[]],["set",[]],["set",[]],["map",[]]],["gi0-2",1,["set",[1,2]],"native-'
    'untagged",["map",[]]],["gi0-1",1,["set",[1,2]],"native-untagged",["map",[]]]],"headings":["name","ta'
    'g","trunks","vlan_mode","other_config"]}\n'
    '{"data":[["gi0-2",2,""],["gi0-1",3,""],["lkbr",65534,"internal"],["fa0-4",1,""]],"headings":["name",'
    '"ofport","type"]}\n'
    '{"data":[["lkbr",true,false,["map",[]]]],"headings":["name","rstp_enable","stp_enable","other_config"]}\n')
OVS_LINKS = json.dumps([
    {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "operstate": "UNKNOWN"},
    {"ifindex": 2, "ifname": "ovs-netdev", "flags": ["BROADCAST", "MULTICAST", "PROMISC"], "operstate": "DOWN"},
    {"ifindex": 3, "ifname": "lkbr", "flags": ["BROADCAST", "MULTICAST", "PROMISC"], "operstate": "DOWN"},
    {"ifindex": 4, "ifname": "fa0-4", "flags": ["BROADCAST", "MULTICAST", "PROMISC", "UP", "LOWER_UP"],
     "operstate": "UP"},
    {"ifindex": 5, "ifname": "gi0-1", "flags": ["BROADCAST", "MULTICAST", "PROMISC", "UP", "LOWER_UP"],
     "operstate": "UP"},
    {"ifindex": 6, "ifname": "gi0-2", "flags": ["BROADCAST", "MULTICAST", "PROMISC", "UP", "LOWER_UP"],
     "operstate": "UP"}])
OVS_FDB = (" port  VLAN  MAC                Age\n"
           "    2     2  3a:ca:96:59:87:4f   72\n"
           "    2     1  42:b5:f8:8f:55:8e   58\n"
           "    2     1  8e:17:24:24:d3:9a   52\n"
           "    1     2  fa:4c:f0:be:f3:cd   50\n"
           "LOCAL     1  be:7d:9e:99:21:47   40\n")
RSTP_SHOW = """---- lkbr ----
Root ID:
  stp-priority    4096
  stp-system-id   f2:e3:27:ae:76:44
  stp-hello-time  2s
  stp-max-age     20s
  stp-fwd-delay   15s
  root-port       gi0-2
  root-path-cost  2000

Bridge ID:
  stp-priority    32768
  stp-system-id   be:7d:9e:99:21:47
  stp-hello-time  2s
  stp-max-age     20s
  stp-fwd-delay   15s

  Interface  Role       State      Cost     Pri.Nbr 
  ---------- ---------- ---------- -------- -------
  fa0-4      Designated Forwarding 2000     128.1
  gi0-2      Root       Forwarding 2000     128.2
  gi0-1      Alternate  Discarding 2000     128.3

"""
STP_SHOW_802_1D = """---- lkbr ----
Root ID:
  stp-priority  4096
  stp-system-id   f2:e3:27:ae:76:44
  stp-hello-time  2s
  stp-max-age     20s
  stp-fwd-delay   15s
  root-port       gi0-2
  root-path-cost  2

Bridge ID:
  stp-priority  32768
  stp-system-id   be:7d:9e:99:21:47
  stp-hello-time  2s
  stp-max-age     20s
  stp-fwd-delay   15s

  Interface  Role       State      Cost  Pri.Nbr 
  ---------- ---------- ---------- ----- -------
  fa0-4      designated forwarding 2     128.1
  gi0-2      root       forwarding 2     128.2
  gi0-1      alternate  blocking   2     128.3

"""
NO_STP = "no such stp object\novs-appctl: /run/labkit/t/sw2/ovs/ovs-vswitchd.ctl: server returned an error\n"


def ovs_runner(state: str = OVS_STATE, stp: str = RSTP_SHOW, mode: str = "rstp", links: str = OVS_LINKS):
    """A fake OVS switch node: answers by the command's verb."""
    def run(cmd: str) -> str:
        assert "/run/labkit/t/sw2/ovs/" in cmd or cmd.startswith("ip ")
        if cmd == "ip -j link show":
            return links
        if " list port " in cmd:
            return state
        if "fdb/show" in cmd:
            return OVS_FDB
        if "rstp/show" in cmd:
            return (stp if mode == "rstp" else "") + "#stp/show\n" + (stp if mode == "stp" else NO_STP)
        raise AssertionError(f"unexpected command {cmd}")
    return run


# The seed's 3550 on Linux bridges (recorded in a scratch namespace: bridges vlan1, vlan2;
# fa0-2 in VLAN 1, fa0-3 in VLAN 2, fa0-1 routed; trimmed to the entries that matter).
BR_LINKS = json.dumps([
    {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "operstate": "UNKNOWN"},
    {"ifindex": 2, "ifname": "fa0-2", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "master": "vlan1",
     "operstate": "UP"},
    {"ifindex": 3, "ifname": "fa0-3", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "master": "vlan2",
     "operstate": "UP"},
    {"ifindex": 4, "ifname": "fa0-5", "flags": ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"], "master": "vlan2",
     "operstate": "DOWN"},
    {"ifindex": 5, "ifname": "fa0-1", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "operstate": "UP"},
    {"ifindex": 6, "ifname": "vlan1", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "operstate": "UP"},
    {"ifindex": 7, "ifname": "vlan2", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "operstate": "UP"}])
BR_FDB = json.dumps([
    {"mac": "06:32:5d:7c:d8:64", "ifname": "fa0-2", "flags": [], "master": "vlan1", "state": ""},
    {"mac": "02:22:1f:8b:bb:ba", "ifname": "fa0-2", "flags": [], "master": "vlan1", "state": "permanent"},
    {"mac": "01:00:5e:00:00:01", "ifname": "fa0-2", "flags": ["self"], "state": "permanent"},
    {"mac": "f6:0d:01:90:9a:65", "ifname": "fa0-3", "flags": [], "master": "vlan2", "state": ""},
    {"mac": "1e:ef:f9:04:5e:eb", "ifname": "fa0-3", "flags": [], "master": "vlan2", "state": "permanent"},
    {"mac": "33:33:00:00:00:01", "ifname": "vlan1", "flags": ["self"], "state": "permanent"},
    {"mac": "f2:aa:00:00:00:01", "ifname": "vlan1", "flags": ["self"], "state": "permanent"}])


def bridge_runner(cmd: str) -> str:
    return {"ip -j link show": BR_LINKS, "bridge -j fdb show": BR_FDB}[cmd]


def test_switch_state_from_ovs():
    st = S.switch_state(ovs_runner(), OVS)
    assert st.kind == "ovs" and st.stp == "rstp" and st.routed == []
    assert [(p.interface, p.mode, p.vlan, p.native, p.allowed, p.up, p.ofport, p.edge) for p in st.ports] == [
        ("FastEthernet0/4", "access", 2, None, [], True, 1, True),
        ("GigabitEthernet0/1", "trunk", None, 1, [1, 2], True, 3, False),
        ("GigabitEthernet0/2", "trunk", None, 1, [1, 2], True, 2, False)]


def test_switch_state_from_linux_bridges():
    st = S.switch_state(bridge_runner)
    assert st.kind == "bridge" and st.vlans == {1, 2} and st.routed == ["FastEthernet0/1"]
    assert [(p.interface, p.vlan, p.up) for p in st.ports] == [
        ("FastEthernet0/2", 1, True), ("FastEthernet0/3", 2, True), ("FastEthernet0/5", 2, False)]


def test_show_vlan_brief():
    assert S.show_vlan_brief(bridge_runner, vlan_names={2: "voice", 30: ""}) == (
        "VLAN Name                             Status    Ports\n"
        "---- -------------------------------- --------- -------------------------------\n"
        "1    default                          active    Fa0/2\n"
        "2    voice                            active    Fa0/3, Fa0/5\n"
        "30   VLAN0030                         active\n"
        "1002 fddi-default                     act/unsup\n"
        "1003 token-ring-default               act/unsup\n"
        "1004 fddinet-default                  act/unsup\n"
        "1005 trnet-default                    act/unsup\n")


def test_show_vlan_brief_wraps_ports_as_ios_does():
    links = json.dumps([{"ifname": f"fa0-{n}", "flags": ["UP", "LOWER_UP"], "master": "vlan1"}
                        for n in range(1, 11)] + [{"ifname": "vlan1", "flags": ["UP"]}])
    text = S.show_vlan_brief(lambda c: links)
    assert text.splitlines()[2:5] == [
        "1    default                          active    Fa0/1, Fa0/2, Fa0/3, Fa0/4,",
        " " * 48 + "Fa0/5, Fa0/6, Fa0/7, Fa0/8,",
        " " * 48 + "Fa0/9, Fa0/10"]


def test_show_interfaces_trunk():
    assert S.show_interfaces_trunk(ovs_runner(), OVS, {2: "voice"}) == (
        "\n"
        "Port        Mode         Encapsulation  Status        Native vlan\n"
        "Gi0/1       on           802.1q         trunking      1\n"
        "Gi0/2       on           802.1q         trunking      1\n"
        "\n"
        "Port        Vlans allowed on trunk\n"
        "Gi0/1       1-2\n"
        "Gi0/2       1-2\n"
        "\n"
        "Port        Vlans allowed and active in management domain\n"
        "Gi0/1       1-2\n"
        "Gi0/2       1-2\n"
        "\n"
        "Port        Vlans in spanning tree forwarding state and not pruned\n"
        "Gi0/1       none\n"
        "Gi0/2       1-2\n")


def test_a_bridge_switch_has_no_trunks_and_prints_nothing():
    assert S.trunks(bridge_runner) == []
    assert S.show_interfaces_trunk(bridge_runner) == ""


def test_show_mac_address_table_from_ovs():
    assert S.show_mac_address_table(ovs_runner(), OVS) == (
        "          Mac Address Table\n"
        "-------------------------------------------\n"
        "\n"
        "Vlan    Mac Address       Type        Ports\n"
        "----    -----------       --------    -----\n"
        "   1    42b5.f88f.558e    DYNAMIC     Gi0/2\n"
        "   1    8e17.2424.d39a    DYNAMIC     Gi0/2\n"
        "   2    3aca.9659.874f    DYNAMIC     Gi0/2\n"
        "   2    fa4c.f0be.f3cd    DYNAMIC     Fa0/4\n"
        "Total Mac Addresses for this criterion: 4\n")


def test_mac_address_table_from_linux_bridges_keeps_learned_entries_only():
    assert S.mac_address_table(bridge_runner) == [
        S.MacEntry(1, "06:32:5d:7c:d8:64", "DYNAMIC", "FastEthernet0/2"),
        S.MacEntry(2, "f6:0d:01:90:9a:65", "DYNAMIC", "FastEthernet0/3")]


def test_show_spanning_tree_vlan():
    assert S.show_spanning_tree(ovs_runner(), OVS, {2: "voice"}, vlan=2) == (
        "VLAN0002\n"
        "  Spanning tree enabled protocol rstp\n"
        "  Root ID    Priority    4096\n"
        "             Address     f2e3.27ae.7644\n"
        "             Cost        2000\n"
        "             Port        2 (GigabitEthernet0/2)\n"
        "             Hello Time   2 sec  Max Age 20 sec  Forward Delay 15 sec\n"
        "\n"
        "  Bridge ID  Priority    32768  (priority 32768 sys-id-ext 0)\n"
        "             Address     be7d.9e99.2147\n"
        "             Hello Time   2 sec  Max Age 20 sec  Forward Delay 15 sec\n"
        "             Aging Time 300\n"
        "\n"
        "Interface        Role Sts Cost      Prio.Nbr Type\n"
        "---------------- ---- --- --------- -------- --------------------------------\n"
        "Fa0/4            Desg FWD 2000      128.1    P2p Edge\n"
        "Gi0/1            Altn BLK 2000      128.3    P2p\n"
        "Gi0/2            Root FWD 2000      128.2    P2p\n"
        "\n")


def test_spanning_tree_one_instance_per_vlan_with_ports():
    inst = S.spanning_tree(ovs_runner(), OVS)
    assert [(i.vlan_id, [p.interface for p in i.ports]) for i in inst] == [
        (1, ["GigabitEthernet0/1", "GigabitEthernet0/2"]),
        (2, ["FastEthernet0/4", "GigabitEthernet0/1", "GigabitEthernet0/2"])]
    assert all(i.bridge is inst[0].bridge for i in inst)     # one tree for all VLANs


def test_spanning_tree_802_1d():
    state = OVS_STATE.replace('["lkbr",true,false,', '["lkbr",false,true,')
    inst = S.spanning_tree(ovs_runner(state, STP_SHOW_802_1D, "stp"), OVS)
    assert inst[0].bridge.protocol == "ieee" and inst[0].bridge.root_cost == 2
    assert [(p.interface, p.role, p.state, p.cost) for p in inst[0].ports] == [
        ("GigabitEthernet0/1", "Altn", "BLK", 2), ("GigabitEthernet0/2", "Root", "FWD", 2)]
    assert "Spanning tree enabled protocol ieee" in S.show_spanning_tree(
        ovs_runner(state, STP_SHOW_802_1D, "stp"), OVS)


def test_no_spanning_tree():
    assert S.show_spanning_tree(bridge_runner) == "No spanning tree instance exists.\n"
    off = OVS_STATE.replace('["lkbr",true,false,', '["lkbr",false,false,')
    assert S.show_spanning_tree(ovs_runner(off), OVS) == "No spanning tree instance exists.\n"
    assert S.show_spanning_tree(ovs_runner(), OVS, vlan=30) == \
        "Spanning tree instance(s) for vlan 30 does not exist.\n"


def test_a_down_port_leaves_the_tree_and_the_trunk_list():
    links = OVS_LINKS.replace('"gi0-1", "flags": ["BROADCAST", "MULTICAST", "PROMISC", "UP", "LOWER_UP"]',
                              '"gi0-1", "flags": ["NO-CARRIER", "BROADCAST", "MULTICAST", "PROMISC", "UP"]')
    stp = RSTP_SHOW.replace("gi0-1      Alternate  Discarding", "gi0-1      Disabled   Discarding")
    r = ovs_runner(stp=stp, links=links)
    assert [t.interface for t in S.trunks(r, OVS)] == ["GigabitEthernet0/2"]
    assert "Gi0/1" not in S.show_spanning_tree(r, OVS)


def test_show_interfaces_switchport():
    text = S.show_interfaces_switchport(bridge_runner, vlan_names={2: "voice"})
    blocks = text.split("\nName: ")
    assert blocks[0] == "Name: Fa0/1\nSwitchport: Disabled\n"
    assert blocks[2].startswith("Fa0/3\n") and "Access Mode VLAN: 2 (voice)" in blocks[2]
    assert "Operational Mode: static access" in blocks[2]
    assert blocks[3].startswith("Fa0/5\n") and "Operational Mode: down" in blocks[3]   # no carrier
    trunk = S.show_interfaces_switchport(ovs_runner(), OVS)
    assert "Name: Gi0/1\nSwitchport: Enabled\nAdministrative Mode: trunk\nOperational Mode: trunk\n" in trunk
    assert "Trunking VLANs Enabled: 1-2\n" in trunk


def test_switchport_wraps_long_vlan_lists():
    lines = S._switchport_vlans(list(range(2, 200, 2)), "Trunking VLANs Enabled: ")
    assert all(l.endswith(",") for l in lines[:-1]) and all(l.startswith("    ") for l in lines[1:])
    assert all(len(l.split(",")) <= 21 for l in lines) and max(map(len, lines)) <= 80
    assert S.parse_vlan_ranges("".join(l.strip() for l in lines).split(": ")[1]) == list(range(2, 200, 2))


def test_vlan_ranges():
    assert S.vlan_ranges([5, 1, 2, 3, 10, 11]) == "1-3,5,10-11"
    assert S.vlan_ranges([]) == "none"
    assert S.parse_vlan_ranges("1-3,5,10-11") == [1, 2, 3, 5, 10, 11]
    assert S.parse_vlan_ranges("ALL") == list(range(1, 4095))


@pytest.mark.parametrize("cmd,first", [("sh vlan br", "VLAN Name"), ("show vlan brief", "VLAN Name"),
                                       ("sh int tr", "\nPort"), ("show interfaces trunk", "\nPort"),
                                       ("sh int sw", "Name: Fa0/4"), ("sh mac add", "          Mac"),
                                       ("show mac-address-table", "          Mac"),
                                       ("sh span", "VLAN0001"), ("sh spanning-tree vl 2", "VLAN0002"),
                                       ("show spanning-tree vlan 1", "VLAN0001")])
def test_layer2_dispatch_with_abbreviations(cmd, first):
    assert S.show(ovs_runner(), cmd, ovs=OVS).startswith(first)


def test_a_router_has_no_layer2_commands():
    for cmd in ("sh vlan br", "sh int trunk", "sh mac add", "sh spanning-tree"):
        with pytest.raises(S.ShowError, match="switch command"):
            S.show(ovs_runner(), cmd, ovs=OVS, platform="router")
    assert S.show(runner, "sh ip ro", platform="router").startswith("Codes:")


def test_layer2_dispatch_errors():
    with pytest.raises(S.ShowError, match="unknown show command"):
        S.show(ovs_runner(), "show spanning-tree vlan 5000", ovs=OVS)
    with pytest.raises(S.ShowError, match="did not return JSON"):
        S.switch_state(lambda c: "[]" if c.startswith("ip ") else "ovs-vsctl: unix:/x: database connection failed",
                       OVS)


ARP_ADDR = json.dumps([
    {"ifname": "lo", "address": "00:00:00:00:00:00",
     "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
    {"ifname": "fa0-0@if3", "address": "02:00:00:00:01:00",
     "addr_info": [{"family": "inet", "local": "192.168.254.1", "prefixlen": 30},
                   {"family": "inet6", "local": "fe80::1", "prefixlen": 64}]},
    {"ifname": "dialer1@if5", "address": "02:00:00:00:02:00",
     "addr_info": [{"family": "inet", "local": "100.64.0.2", "prefixlen": 30}]},
])
ARP_NEIGH = json.dumps([
    # answered by the switch's proxy ARP: a host two hops away, with the switch's MAC
    {"dst": "192.168.1.20", "dev": "fa0-0", "lladdr": "02:00:00:00:0a:01", "confirmed": 130, "state": ["STALE"]},
    {"dst": "192.168.254.2", "dev": "fa0-0", "lladdr": "02:00:00:00:0a:01", "confirmed": 5, "state": ["REACHABLE"]},
    {"dst": "100.64.0.1", "dev": "dialer1", "lladdr": "02:00:00:00:0b:01", "confirmed": 59, "state": ["DELAY"]},
    {"dst": "192.168.3.1", "dev": "fa0-0", "confirmed": 3, "state": ["FAILED"]},        # nobody answered
    {"dst": "192.168.1.99", "dev": "fa0-0", "lladdr": "02:00:00:00:0a:02", "state": ["INCOMPLETE"]},
    {"dst": "10.9.9.9", "dev": "eth7", "lladdr": "02:00:00:00:0c:01", "state": ["REACHABLE"]},  # not IOS's
])


def arp_runner(cmd: str) -> str:
    return {"ip -j addr show": ARP_ADDR, "ip -4 -j -s neigh show": ARP_NEIGH}[cmd]


def test_show_ip_arp_text():
    assert S.show(arp_runner, "sh ip arp") == (
        "Protocol  Address          Age (min)  Hardware Addr   Type   Interface\n"
        "Internet  100.64.0.1               0  0200.0000.0b01  ARPA   Dialer1\n"
        "Internet  100.64.0.2               -  0200.0000.0200  ARPA   Dialer1\n"
        "Internet  192.168.1.20             2  0200.0000.0a01  ARPA   FastEthernet0/0\n"
        "Internet  192.168.254.1            -  0200.0000.0100  ARPA   FastEthernet0/0\n"
        "Internet  192.168.254.2            0  0200.0000.0a01  ARPA   FastEthernet0/0\n")
