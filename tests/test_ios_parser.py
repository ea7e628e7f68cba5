"""labkit.ios parser: the seed's snippets verbatim, abbreviations, and bad lines with line numbers."""
from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from labkit.diag import Diagnostic
from labkit.ios import IosConfigError, linux_name, ios_name, load, parse, parse_ifname
from labkit.ios.names import InterfaceNameError

ROOT = Path(__file__).resolve().parents[1]

# The post's snippets, pasted unchanged (indentation and abbreviations included).
SEED_SVI = """! create SVI for VLAN 1
interface Vlan1
 ip address 192.168.1.1 255.255.255.0

! create SVI for VLAN 2
interface Vlan2
 ip address 192.168.2.1 255.255.255.0
"""
SEED_DHCP = """ip dhcp excluded-address 192.168.1.1 192.168.1.99
ip dhcp excluded-address 192.168.1.150 192.168.1.255
!
ip dhcp pool pool_vlan1
   import all
   network 192.168.1.0 255.255.255.0
   default-router 192.168.1.1
   dns-server 192.168.254.1
!
ip dhcp pool pool_vlan2
   import all
   network 192.168.2.0 255.255.255.0
   default-router 192.168.2.1
   dns-server 192.168.254.1
"""
SEED_ROUTED = """interface fast 0/1
 no switchport
 ip address 192.168.254.2 255.255.255.252
"""
SEED_ROUTER_ROUTES = """ip route 192.168.0.0 255.255.0.0 Fast0/0
ip route 0.0.0.0 0.0.0.0 Dialer1
"""
SEED_SWITCH_ROUTE = "ip route 0.0.0.0 0.0.0.0 Fast0/1\n"


@pytest.mark.parametrize("text", [SEED_SVI, SEED_DHCP, SEED_ROUTED, SEED_ROUTER_ROUTES, SEED_SWITCH_ROUTE,
                                  SEED_SVI + SEED_DHCP + SEED_ROUTED + SEED_SWITCH_ROUTE])
def test_seed_snippets_are_accepted(text):
    cfg = parse(text, "seed")
    assert cfg.errors == []


def test_seed_switch_parses_to_the_right_model():
    cfg = parse(SEED_SVI + SEED_DHCP + SEED_ROUTED + SEED_SWITCH_ROUTE, "seed")
    assert cfg.platform == "switch"
    assert list(cfg.interfaces) == ["Vlan1", "Vlan2", "FastEthernet0/1"]
    fa = cfg.interfaces["FastEthernet0/1"]
    assert fa.switchport is False and str(fa.addresses[0]) == "192.168.254.2/30"
    assert [(str(e.low), str(e.high)) for e in cfg.excluded] == [
        ("192.168.1.1", "192.168.1.99"), ("192.168.1.150", "192.168.1.255")]
    p1 = cfg.pools["pool_vlan1"]
    assert p1.network == IPv4Network("192.168.1.0/24") and p1.import_all
    assert p1.default_routers == [IPv4Address("192.168.1.1")]
    assert p1.dns_servers == [IPv4Address("192.168.254.1")] and p1.lease_seconds == 86400
    (r,) = cfg.routes
    assert r.network == IPv4Network("0.0.0.0/0") and r.interface.ios == "FastEthernet0/1"
    # `import all` is accepted with a note saying nothing is imported
    assert sum("import all" in w.message for w in cfg.warnings) == 2


def test_seed_router_routes_alone_warn_about_missing_interfaces():
    cfg = parse(SEED_ROUTER_ROUTES, "seed")
    assert cfg.errors == [] and cfg.platform == "router"
    assert [w.line for w in cfg.warnings] == [1, 2]
    assert "FastEthernet0/0" in cfg.warnings[0].message


@pytest.mark.parametrize("path", ["topologies/sw3550.ios", "topologies/router.ios"])
def test_lab_configs_load_cleanly(path):
    cfg = load(ROOT / path)
    assert cfg.errors == []


def test_sw3550_contains_the_seed_verbatim():
    text = (ROOT / "topologies/sw3550.ios").read_text()
    for snippet in (SEED_SVI, SEED_DHCP, SEED_ROUTED, SEED_SWITCH_ROUTE):
        assert snippet in text
    assert SEED_ROUTER_ROUTES in (ROOT / "topologies/router.ios").read_text()


def test_sw3550_model():
    cfg = load(ROOT / "topologies/sw3550.ios")
    assert cfg.interfaces["Vlan2"].acl_in == "102"
    acl = cfg.acls["102"]
    assert acl.kind == "extended" and [e.action for e in acl.entries] == ["permit", "deny", "permit"]
    assert acl.entries[0].established
    ports = {n: i.access_vlan for n, i in cfg.interfaces.items() if i.switchport}
    assert ports == {"FastEthernet0/2": 1, "FastEthernet0/3": 1, "FastEthernet0/4": 2,
                     "FastEthernet0/5": 2, "FastEthernet0/6": 2}


def test_router_model():
    cfg = load(ROOT / "topologies/router.ios")
    assert cfg.platform == "router"
    assert cfg.interfaces["Dialer1"].negotiated and cfg.interfaces["Dialer1"].nat == "outside"
    assert cfg.interfaces["FastEthernet0/0"].nat == "inside"
    assert [p.acl for p in cfg.nat_pat] == ["1"]
    assert [(s.protocol, str(s.local), s.local_port, s.global_port) for s in cfg.nat_static] == [
        ("tcp", "192.168.1.20", 80, 80), ("udp", "192.168.2.10", 5060, 5060),
        ("tcp", "192.168.2.10", 5060, 5060)]
    assert cfg.dns_server and cfg.name_servers == [IPv4Address("100.64.1.53")]


@pytest.mark.parametrize("spelling", ["fast 0/1", "Fast0/1", "FastEthernet0/1", "Fa0/1", "f0/1",
                                      "FASTETHERNET 0/1", "fa0/1"])
def test_interface_abbreviations(spelling):
    n = parse_ifname(spelling)
    assert n.ios == "FastEthernet0/1" and n.linux == "fa0-1" and n.short == "Fa0/1"


@pytest.mark.parametrize("ios,linux", [("Vlan2", "vlan2"), ("Dialer1", "dialer1"), ("Gi0/1", "gi0-1"),
                                       ("FastEthernet0/48", "fa0-48"), ("Ethernet0/0", "et0-0")])
def test_linux_names_round_trip(ios, linux):
    assert linux_name(ios) == linux
    assert ios_name(linux) == parse_ifname(ios).ios


@pytest.mark.parametrize("spelling,accepted", [("Vlan1", True), ("Vlan4094", True), ("Vlan0", False),
                                               ("Vlan4095", False)])
def test_vlan_interface_numbers_are_1_to_4094(spelling, accepted):
    if accepted:
        assert parse_ifname(spelling).ios == spelling
        return
    with pytest.raises(InterfaceNameError) as ei:
        parse_ifname(spelling)
    assert str(ei.value) == f"VLAN {spelling[4:]} is out of range"
    assert ei.value.fix == "use a VLAN from 1 to 4094"


def test_linux_names_are_at_most_15_characters():
    # IFNAMSIZ is 16 with the NUL: 15 characters is the longest name the kernel takes
    assert parse_ifname("Dialer123456789").linux == "dialer123456789"
    assert parse_ifname("Fa0/1/123456789").linux == "fa0-1-123456789"
    for spelling, linux in [("Dialer1234567890", "dialer1234567890"), ("Fa0/1/1234567890", "fa0-1-1234567890")]:
        with pytest.raises(InterfaceNameError) as ei:
            parse_ifname(spelling)
        assert f"maps to Linux name '{linux}', longer than 15 characters" in str(ei.value)
        assert ei.value.fix == "use a shorter port number"


@pytest.mark.parametrize("spelling,candidates", [("v1", "Vlan, Virtual-Template"),
                                                 ("t0/1", "TenGigabitEthernet, Tunnel"),
                                                 ("a1", "Async, ATM")])
def test_ambiguous_abbreviation_is_refused_not_guessed(spelling, candidates):
    with pytest.raises(InterfaceNameError) as ei:
        parse_ifname(spelling)
    assert str(ei.value) == f"ambiguous interface type '{spelling[0]}' (could be {candidates})"
    assert ei.value.fix == "type more letters of the interface type"
    # one more letter picks the type; an exact type name wins over its longer cousins
    assert parse_ifname("vl1").ios == "Vlan1" and parse_ifname("te0/1").ios == "TenGigabitEthernet0/1"
    assert parse_ifname("Ethernet0/0").ios == "Ethernet0/0"


def test_ambiguous_interface_in_a_config_names_its_line():
    cfg = parse("!\ninterface v2\n ip address 10.0.0.1 255.255.255.0\n", "sw.ios")
    assert [str(e).split(" (fix:")[0] for e in cfg.errors][:1] == [
        "sw.ios:2: ambiguous interface type 'v' (could be Vlan, Virtual-Template)"]
    assert "Vlan2" not in cfg.interfaces


def test_ios_name_of_non_ios_interfaces_is_none():
    assert ios_name("lo") is None and ios_name("eth0") is None


def test_keyword_abbreviations_and_flat_blocks():
    cfg = parse("vl 2\nint fa0/2\nsw mode acc\nsw acc vlan 2\nint vl2\nip add 10.0.0.1 255.255.255.0\n", "x")
    assert cfg.errors == []
    assert cfg.interfaces["FastEthernet0/2"].access_vlan == 2
    assert str(cfg.interfaces["Vlan2"].addresses[0]) == "10.0.0.1/24"


def test_issue_str_names_file_line_and_fix():
    cfg = parse("interface Vlan1\n ip address 192.168.1.1 255.255.0.255\n", "sw.ios")
    (e,) = cfg.errors
    assert isinstance(e, Diagnostic) and e.severity == "error" and e.line == 2 and e.text == "ip address 192.168.1.1 255.255.0.255"
    assert str(e).startswith("sw.ios:2: '255.255.0.255' is not a valid subnet mask")
    assert "(fix: " in str(e)


def test_load_raises_with_every_error(tmp_path):
    p = tmp_path / "bad.ios"
    p.write_text("interface Serial0\nip route 10.0.0.1 255.0.0.0 1.2.3.4\nfoo bar\n")
    with pytest.raises(IosConfigError) as ei:
        load(p)
    assert [e.line for e in ei.value.errors] == [1, 2, 3]
    assert f"{p}:3:" in str(ei.value)


def test_load_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(IosConfigError, match="cannot read the config"):
        load(tmp_path / "nope.ios")


# Each case: a small config, the line number that must be reported, error or warning,
# and a word the message must contain.  None may crash the loader.
BAD = [
    ("interface Serial0/0", 1, "error", "serial"),
    ("interface Loopback0", 1, "error", "loopback"),
    ("interface FastEthernet0/0.0", 1, "error", "sub-interface number"),
    ("interface Bogus1", 1, "error", "unknown interface type"),
    ("interface", 1, "error", "incomplete"),
    ("interface Vlan5000", 1, "error", "out of range"),
    ("interface Vlan1\n ip address 192.168.1.1 255.255.0.255", 2, "error", "subnet mask"),
    ("interface Vlan1\n ip address 192.168.1.300 255.255.255.0", 2, "error", "not an IPv4"),
    ("interface Vlan1\n ip address 192.168.1.0 255.255.255.0", 2, "error", "network address"),
    ("interface Vlan1\n ip address 192.168.1.1", 2, "error", "incomplete"),
    ("interface Vlan1\n ip adress 192.168.1.1 255.255.255.0", 2, "error", "unknown"),
    ("interface Vlan1\n ip address dhcp", 2, "error", "only emulated on the Dialer"),
    ("interface Vlan1\n ip address 10.0.0.1 255.255.255.0 secondary", 2, "error", "primary"),
    ("interface fa0/2\n switchport access vlan 9999", 2, "error", "VLAN"),
    ("interface fa0/2\n switchport mode dynamic desirable", 2, "error", "DTP"),
    ("interface fa0/2\n switchport voice vlan 2", 2, "error", "voice"),
    ("interface fa0/2\n switchport trunk allowed vlan 10-5", 2, "error", "backwards"),
    ("interface fa0/2\n switchport trunk encapsulation isl", 2, "error", "isl"),
    ("interface Vlan1\n switchport mode access", 2, "error", "not valid on Vlan1"),
    ("interface fa0/2\n switchport mode access\n ip address 10.0.0.1 255.255.255.0", 3, "error",
     "layer-2 switchport"),
    ("interface fa0/0\n encapsulation dot1Q 10", 2, "error", "802.1Q"),
    ("interface fa0/0\n ip access-group 250 in", 2, "error", "access-list number"),
    ("interface fa0/0\n ip nat enable", 2, "error", "NVI"),
    ("interface fa0/0\n speed 100", 2, "warning", "ignored"),
    ("interface fa0/0\n ip access-group 7 in", 2, "warning", "not defined"),   # the access-group line, not the header
    ("ip route 10.0.0.0 255.0.0.0", 1, "error", "incomplete"),
    ("ip route 10.0.0.1 255.0.0.0 1.2.3.4", 1, "error", "host bits"),
    ("ip route 10.0.0.0 255.0.0.0 1.2.3.4 999", 1, "error", "administrative distance"),
    ("ip route 10.0.0.0 255.0.0.0 Tunnel0", 1, "error", "tunnel"),
    ("ip dhcp excluded-address 192.168.1.99 192.168.1.1", 1, "error", "backwards"),
    ("ip dhcp excluded-address 192.168.1.x", 1, "error", "not an IPv4"),
    ("ip dhcp pool p\n network 192.168.1.5 255.255.255.0", 2, "error", "host bits"),
    ("ip dhcp pool p\n network 192.168.1.0 255.255.255.0\n lease 0", 3, "error", "lease"),
    ("ip dhcp pool p\n network 192.168.1.0 255.255.255.0\n hardware-address 0100.1111.2222", 3, "error",
     "manual"),
    ("ip dhcp pool p\n default-router 192.168.1.1", 1, "error", "no 'network'"),
    ("ip dhcp pool p\n network 192.168.1.0 255.255.255.0\n netbios-name-server 1.1.1.1", 3, "warning",
     "ignored"),
    ("access-list 100 permit tcp any any eq", 1, "error", "port"),
    ("access-list 100 permit tcp any any eq bogusport", 1, "error", "port"),
    ("access-list 100 permit ip any", 1, "error", "incomplete"),
    ("access-list 100 permit ip any host", 1, "error", "needs an address"),
    ("access-list 100 permit ip 10.0.0.0 any", 1, "error", "wildcard"),
    ("access-list 100 permit udp any any established", 1, "error", "established"),
    ("access-list 100 permit icmp any any eq 80", 1, "error", "only valid for tcp"),
    ("access-list 100 permit icmp any any bogus-type", 1, "error", "ICMP"),
    ("access-list 100 permit tcp any any range 20 10", 1, "error", "backwards"),
    ("access-list 100 permit ip any any dscp ef", 1, "error", "not emulated"),
    ("access-list 100 permit frob any any", 1, "error", "protocol"),
    ("access-list 500 permit any", 1, "error", "not an IP access list"),
    ("access-list 10 allow any", 1, "error", "action"),
    ("access-list 10 permit 10.0.0.0 255.255.255.0", 1, "warning", "subnet mask"),
    ("access-list 10 permit any log", 1, "warning", "log"),
    ("ip access-list extended 10", 1, "error", "standard number"),
    ("ip access-list extended WEB\n 10 permit tcp any any eq www\n 10 deny ip any any", 3, "error",
     "already used"),
    ("ip access-list extended WEB\n permit tcp any any eq www\n allow ip any any", 3, "error", "unknown"),
    ("ip nat inside source list 1 pool P overload", 1, "error", "pools"),
    ("ip nat outside source static 1.1.1.1 2.2.2.2", 1, "error", "not emulated"),
    ("ip nat inside source static tcp 192.168.1.10 80 1.2.3.4", 1, "error", "incomplete"),
    ("ip nat inside source static tcp 192.168.1.10 99999 1.2.3.4 80", 1, "error", "port"),
    ("ip nat inside source list 9 interface Dialer1 overload", 1, "error", "not defined"),
    ("ip dns server\n", 1, "warning", "name-server"),
    ("ip name-server dns.example", 1, "error", "not an IPv4"),
    ("router ospf 1", 1, "error", "dynamic routing"),
    ("no ip route 10.0.0.0 255.0.0.0 1.2.3.4", 1, "error", "removes configuration"),
    ("hostnam sw", 1, "error", "unknown command"),
    ("frobnicate", 1, "error", "unknown command"),
    ("service timestamps debug uptime", 1, "warning", "ignored"),
    ("line con 0\n password cisco\n login", 1, "warning", "ignored"),
    ("banner motd ^C\nWelcome\n^C\nfrobnicate", 4, "error", "unknown command"),
    ("   network 10.0.0.0 255.0.0.0", 1, "error", "no block is open"),
    ("spanning-tree mode pvst", 1, "warning", "a router does not run it"),
    ("interface fa0/1\n no switchport\n ip address 10.0.0.1 255.255.255.0\n"
     "interface fa0/2\n no switchport\n ip address 10.0.0.5 255.255.255.252", 6, "error", "overlaps"),
    ("interface Dialer1\n ip address negotiated\n ppp chap hostname x", 3, "warning", "PPP"),
    ("ipv6 unicast-routing", 1, "warning", "IPv4 only"),
    ("vlan 2\n name voice\n bogus", 3, "error", "unknown"),
    ("interface Vlan1\n# a shell-style comment", 2, "warning", "'!'"),
]


@pytest.mark.parametrize("text,line,level,word", BAD, ids=[b[0].splitlines()[-1][:40] for b in BAD])
def test_bad_lines_are_reported_with_their_line(text, line, level, word):
    cfg = parse(text, "bad.ios")
    issues = cfg.errors if level == "error" else cfg.warnings
    if level == "warning":
        assert cfg.errors == [], [str(e) for e in cfg.errors]
    hits = [i for i in issues if i.line == line and word.lower() in (i.message + i.fix).lower()]
    assert hits, f"expected a {level} on line {line} mentioning '{word}', got: " + \
        "; ".join(str(i) for i in cfg.errors + cfg.warnings)
    for i in hits:
        assert str(i).startswith(f"bad.ios:{line}: ")
        assert isinstance(i, Diagnostic) and i.severity == level
    assert "internal error" not in " ".join(str(i) for i in cfg.errors)


def test_at_least_thirty_bad_cases():
    assert len(BAD) >= 30


@pytest.mark.parametrize("junk", ["\x00\x01", "interface \u00e9\u00e9", "ip route " + "9" * 500,
                                  "access-list 1 permit " * 50, "!" * 10000, "\t\tinterface Vlan1\n\t ip address 1.1.1.1 255.255.255.0"])
def test_garbage_never_crashes(junk):
    cfg = parse(junk, "junk")
    assert all("internal error" not in e.message for e in cfg.errors)


def test_named_acl_sequence_numbers_and_remarks():
    cfg = parse("ip access-list extended WEB\n remark web only\n 20 permit tcp any host 10.0.0.5 eq www\n"
                " 10 deny ip host 10.0.0.66 any\n permit icmp any any echo\n", "x")
    assert cfg.errors == []
    acl = cfg.acls["WEB"]
    assert [(e.seq, e.action) for e in acl.entries] == [(10, "deny"), (20, "permit"), (30, "permit")]
    assert acl.entries[1].dst_port.ports == (80,)
    assert acl.entries[2].ios(False) == "permit icmp any any echo"


def test_unindented_subcommands_follow_ios_rules():
    # IOS keeps a line in the sub-mode when it is valid there, else tries global mode.
    cfg = parse("interface Vlan1\nip address 10.0.0.1 255.255.255.0\nip route 0.0.0.0 0.0.0.0 10.0.0.254\n", "x")
    assert cfg.errors == []
    assert cfg.interfaces["Vlan1"].addresses and len(cfg.routes) == 1


def test_interface_range():
    cfg = parse("vlan 2,10-11\ninterface range fa0/2 - 4 , Fa0/7\n switchport mode access\n switchport access vlan 2\n"
                " speed 100\ninterface range vlan 10-11\n shutdown\n", "x")
    assert cfg.errors == []
    assert {n: i.access_vlan for n, i in cfg.interfaces.items() if i.switchport} == {
        "FastEthernet0/2": 2, "FastEthernet0/3": 2, "FastEthernet0/4": 2, "FastEthernet0/7": 2}
    assert cfg.interfaces["Vlan11"].shutdown
    assert len(cfg.warnings) == 1   # 'speed' ignored: said once for the whole range


def test_interface_range_errors():
    cfg = parse("interface range fa0/5 - 2\n", "x")
    assert cfg.errors[0].line == 1 and "backwards" in cfg.errors[0].message


# -- issue 10: bad input is one clear line, never a traceback ----------------------------

@pytest.mark.parametrize("data,line,word", [
    (b"hostname r\ninterface fa0/0\n description caf\xe9\n", 3, "byte 0xe9 (byte offset 43)"),
    ("hostname r\n".encode("utf-16"), 1, "UTF-16"),
    ("hostname r\n".encode("utf-16-le"), 1, "UTF-16"),
    ("hostname r\n".encode("utf-16-be"), 1, "UTF-16"),
    (b"hostname r\n\x00\x01\x02", 2, "NUL byte"),
])
def test_undecodable_files_are_one_error_with_the_byte_offset(tmp_path, data, line, word):
    p = tmp_path / "bad.ios"
    p.write_bytes(data)
    with pytest.raises(IosConfigError) as ei:
        load(p)
    (d,) = ei.value.diagnostics
    assert d.line == line and word in d.message and str(d).startswith(f"{p}:{line}: ")


def test_utf8_with_a_bom_and_crlf_loads(tmp_path):
    p = tmp_path / "r.ios"
    p.write_bytes(b"\xef\xbb\xbfhostname r\r\ninterface fa0/0\r\n ip address 10.0.0.1 255.255.255.0\r\n")
    assert load(p).interfaces["FastEthernet0/0"].addresses


def test_messages_cut_long_tokens_and_escape_control_characters():
    cfg = parse("interface Vlan1\n ip address " + "9" * 200_000 + " 255.255.255.0\n"
                "\x1b[31mred\x1b[0m\n", "x")
    long_, esc = cfg.errors
    assert long_.line == 2 and len(str(long_)) < 400 and "more characters" in long_.message
    assert esc.line == 3 and "\x1b" not in str(esc) and "\\x1b[31mred" in esc.message


def test_form_feeds_and_nel_do_not_shift_line_numbers():
    cfg = parse("hostname a\x0cb\nip route 1.2.3.4 255.0.0.0 \x851.1.1.1\nfrobnicate\n", "x")
    assert [e.line for e in cfg.errors] == [2, 3]


def test_a_bad_wildcard_is_a_bad_address():
    cfg = parse("access-list 100 permit ip 10.0.0.0 0.0.0.256 any\naccess-list 1 permit 10.0.0.0 0.0.0.256\n", "x")
    assert [(e.line, "'0.0.0.256' is not an IPv4 wildcard" in e.message) for e in cfg.errors] == [(1, True), (2, True)]


@pytest.mark.parametrize("text,platform,line,word", [
    ("interface fa0/99\n switchport mode access", None, 1, "FastEthernet0/99: a Cisco 3550-24 switch"),
    ("interface range fa0/2 - 99\n switchport mode access", None, 1, "FastEthernet0/25 ... FastEthernet0/99"),
    ("interface Gi0/3\n no switchport", "switch", 1, "GigabitEthernet0/3"),
    ("interface Dialer1\n ip address negotiated", "switch", 1, "Dialer1"),
    ("interface fa0/2\n ip address 10.0.0.1 255.255.255.0", "router", 1, "Cisco 1841 router"),
    ("interface Vlan1\n ip address 10.0.0.1 255.255.255.0", "router", 1, "Vlan1"),
])
def test_only_the_platforms_interfaces(text, platform, line, word):
    cfg = parse("hostname x\n" + text, "x", platform)
    assert any(e.line == line + 1 and word in e.message for e in cfg.errors), [str(e) for e in cfg.errors]


def test_the_platforms_own_ports_are_accepted():
    sw = parse("interface range fa0/1 - 24 , gi0/1 - 2\n switchport mode access\ninterface Vlan4094\n", "x", "switch")
    rt = parse("interface fa0/0\ninterface fa0/1\ninterface Dialer0\ninterface Dialer255\n"
               "ip route 0.0.0.0 0.0.0.0 Null0\n", "x", "router")
    assert sw.errors == [] and rt.errors == []


def test_nothing_after_end_is_applied():
    cfg = parse("interface fa0/0\n ip address 10.0.0.1 255.255.255.0\nend\n!\n"
                "ip route 0.0.0.0 0.0.0.0 10.0.0.254\nfrobnicate\n", "x")
    assert cfg.errors == [] and cfg.routes == []
    (w,) = cfg.warnings
    assert w.line == 5 and "after 'end' on line 3" in w.message and "1 more line" in w.message


@pytest.mark.parametrize("text", ["", "\n\n", "! only\n!\n", "  \n! x\n", "end\n", "!\nend\nhostname x\n"])
def test_an_empty_config_is_an_error(tmp_path, text):
    p = tmp_path / "empty.ios"
    p.write_text(text)
    with pytest.raises(IosConfigError, match=r"empty\.ios:1: the config (is empty|has no commands)"):
        load(p)


def test_warnings_point_at_the_offending_line():
    cfg = parse("interface fa0/2\n switchport mode trunk\n description x\n switchport access vlan 2\n"
                "interface Vlan1\n ip address 10.0.0.1 255.255.255.0\n shutdown\n ip access-group 9 out\n"
                "ip dhcp pool p\n network 10.0.0.0 255.255.255.0\n dns-server 1.1.1.1\n default-router 10.9.9.9\n",
                "x")
    assert cfg.errors == []
    lines = {w.line for w in cfg.warnings}
    assert {4, 8, 12} <= lines and not lines & {1, 5, 9}, [str(w) for w in cfg.warnings]


# -- issue 13: sub-interfaces, trunks, VLAN definitions, spanning tree, the access switch ---------

ROS = """hostname router
interface FastEthernet0/0
 description trunk to the switch
interface FastEthernet0/0.1
 encapsulation dot1Q 1 native
 ip address 192.168.1.1 255.255.255.0
 ip nat inside
int fa0/0.20
 desc voice
 encap dot1q 20
 ip add 192.168.20.1 255.255.255.0
 ip access-group 120 in
 ip nat inside
 shutdown
"""


def _found(diags, line: int, words: str) -> bool:
    return any(d.line == line and words in d.message + " (fix: " + d.fix for d in diags)


def _show(cfg) -> str:
    return "\n".join(str(d) for d in cfg.errors + cfg.warnings)


def test_router_subinterfaces_in_any_spelling():
    cfg = parse(ROS, "r.ios")
    assert cfg.errors == [] and cfg.platform == "router"
    one, twenty = cfg.interfaces["FastEthernet0/0.1"], cfg.interfaces["FastEthernet0/0.20"]
    assert (one.linux, one.dot1q, one.dot1q_native, str(one.addresses[0]), one.nat) == \
        ("fa0-0.1", 1, True, "192.168.1.1/24", "inside")
    assert (twenty.linux, twenty.dot1q, twenty.dot1q_native, twenty.acl_in, twenty.shutdown, twenty.description) == \
        ("fa0-0.20", 20, False, "120", True, "voice")
    assert [i.name.ios for i in cfg.subinterfaces("FastEthernet0/0")] == ["FastEthernet0/0.1", "FastEthernet0/0.20"]
    n = parse_ifname("Fast 0/0.20")
    assert (n.ios, n.linux, n.short, n.subif, n.parent.ios) == ("FastEthernet0/0.20", "fa0-0.20", "Fa0/0.20", 20,
                                                                "FastEthernet0/0")
    assert ios_name("fa0-0.20") == "FastEthernet0/0.20" and ios_name("gi0-1.4094") == "GigabitEthernet0/1.4094"


def test_a_router_port_with_subinterfaces_needs_no_block_of_its_own():
    cfg = parse("interface fa0/1.5\n encapsulation dot1Q 5\n ip address 10.5.0.1 255.255.255.0\n", "r.ios")
    assert cfg.errors == [] and "FastEthernet0/1" in cfg.interfaces


def test_an_address_before_the_encapsulation_is_refused_as_ios_does():
    cfg = parse("interface fa0/0.10\n ip address 10.0.0.1 255.255.255.0\n encapsulation dot1Q 10\n", "r.ios")
    (e,) = cfg.errors
    assert (e.line, e.text) == (2, "ip address 10.0.0.1 255.255.255.0")
    assert str(e).startswith("r.ios:2: IOS refuses an address on FastEthernet0/0.10 before its VLAN is set")
    assert "put 'encapsulation dot1Q 10' above this line" in e.fix
    assert cfg.interfaces["FastEthernet0/0.10"].addresses == []


def test_one_subinterface_per_vlan_and_one_native_per_port():
    cfg = parse("interface fa0/0.10\n encapsulation dot1Q 10\ninterface fa0/0.11\n encapsulation dot1Q 10\n"
                "interface fa0/1.10\n encapsulation dot1Q 10\n"          # another port: fine
                "interface fa0/0.1\n encapsulation dot1Q 1 native\ninterface fa0/0.2\n encapsulation dot1Q 2 native\n",
                "r.ios")
    assert [(e.line, e.message.split(";")[0]) for e in cfg.errors] == [
        (4, "FastEthernet0/0.11 and FastEthernet0/0.10 both use VLAN 10 on FastEthernet0/0"),
        (10, "FastEthernet0/0.2 and FastEthernet0/0.1 are both 'native' on FastEthernet0/0")]


def test_subinterfaces_only_on_a_router():
    for platform in ("switch", None):
        cfg = parse("interface fa0/2\n switchport mode access\ninterface fa0/1.10\n encapsulation dot1Q 10\n",
                    "sw.ios", platform)
        assert _found(cfg.errors, 3, "FastEthernet0/1.10: a Cisco 3550-24 switch has no sub-interfaces"), _show(cfg)
        assert "and a trunk (switchport mode trunk)" in cfg.errors[0].fix


def test_an_address_on_the_port_of_subinterfaces_is_an_error():
    cfg = parse("interface fa0/0\n ip address 10.9.0.1 255.255.255.0\ninterface fa0/0.10\n encapsulation dot1Q 10\n"
                " ip address 10.10.0.1 255.255.255.0\n", "r.ios")
    (e,) = cfg.errors
    assert e.line == 2 and "an address on FastEthernet0/0, the port of sub-interfaces, is not emulated" in e.message
    assert "'encapsulation dot1Q N native'" in e.fix


def test_a_subinterface_without_encapsulation_is_warned_and_not_built():
    cfg = parse("interface fa0/0.10\n description nothing yet\n", "r.ios")
    assert cfg.errors == []
    assert _found(cfg.warnings, 1, "FastEthernet0/0.10 has no 'encapsulation dot1Q N'")


def test_vlan_1_tagged_on_a_router_disagrees_with_the_switch():
    cfg = parse("interface fa0/0.1\n encapsulation dot1Q 1\n ip address 10.1.0.1 255.255.255.0\n", "r.ios")
    assert cfg.errors == [] and _found(cfg.warnings, 2, "VLAN 1 tagged")
    assert "encapsulation dot1Q 1 native" in cfg.warnings[0].fix


@pytest.mark.parametrize("text,line,words", [
    ("interface fa0/0\n encapsulation dot1Q 10", 2, "belongs on an 802.1Q sub-interface, not on FastEthernet0/0"),
    ("interface fa0/2\n switchport mode access\n encapsulation dot1Q 10", 3, "switchport trunk encapsulation dot1q"),
    ("interface fa0/0.10\n encapsulation isl 10", 2, "'encapsulation isl' is not emulated"),
    ("interface fa0/0.10\n encapsulation ppp", 2, "'encapsulation ppp' is not emulated on FastEthernet0/0.10"),
    ("interface fa0/0.10\n encapsulation dot1Q 10 second-dot1q 20", 2, "QinQ"),
    ("interface fa0/0.10\n encapsulation dot1Q 4095", 2, "VLAN '4095' is not a number from 1 to 4094"),
    ("interface fa0/0.10\n encapsulation dot1Q", 2, "incomplete"),
    ("interface fa0/0.10\n encapsulation dot1Q 10 nativ extra", 2, "unexpected 'extra'"),
    ("interface fa0/0.10\n switchport mode trunk", 2, "'switchport' is not valid on FastEthernet0/0.10"),
    ("interface fa0/0.4294967295", 1, "longer than 15 characters"),
    ("interface fa0/0.0", 1, "bad sub-interface number '0'"),
    ("interface Vlan1.5", 1, "only Ethernet ports have sub-interfaces"),
    ("interface Dialer1.1", 1, "only Ethernet ports have sub-interfaces"),
    ("interface fa0/5.10\n encapsulation dot1Q 10", 1, "Cisco 1841 router has no such interface"),
])
def test_subinterface_mistakes_name_their_line(text, line, words):
    cfg = parse("hostname r\n" + text, "r.ios")
    assert _found(cfg.errors, line + 1, words), _show(cfg)
    assert all(str(e).startswith(f"r.ios:{e.line}: ") for e in cfg.errors)


def test_a_long_subinterface_name_says_which_is_shorter():
    with pytest.raises(InterfaceNameError) as ei:
        parse_ifname("Gi0/1/2.123456789")
    assert "'gi0-1-2.123456789', longer than 15 characters" in str(ei.value)
    assert ei.value.fix == "use a shorter sub-interface number, e.g. the VLAN's (GigabitEthernet0/1/2.10)"


# VLAN definitions

def test_an_access_port_in_an_undefined_vlan_is_an_error_with_the_fix():
    cfg = parse("interface fa0/2\n switchport access vlan 5\ninterface fa0/3\n switchport access vlan 1\n", "sw.ios")
    (e,) = cfg.errors
    assert str(e).startswith("sw.ios:2: FastEthernet0/2 is an access port in VLAN 5, which is not defined (fix: "
                             "add 'vlan 5' (with ' name NAME' under it) to the config")
    assert "vlan.dat" in e.fix


def test_vlans_may_be_defined_anywhere_and_trunks_need_no_definition():
    cfg = parse("interface fa0/2\n switchport access vlan 5\ninterface fa0/24\n switchport mode trunk\n"
                " switchport access vlan 7\nvlan 5,8-9\n name students\n", "sw.ios")
    assert cfg.errors == [], _show(cfg)
    assert cfg.vlans == {5: "students", 8: "students", 9: "students"} and cfg.vlan_lines == {5: 6, 8: 6, 9: 6}
    assert cfg.known_vlans() == {1, 5, 8, 9}


@pytest.mark.parametrize("text,line,words", [
    ("vlan 1\n name data", 2, "VLAN 1 is the default VLAN"),
    ("vlan 2\n name " + "x" * 33, 2, "is not 1 to 32 printable ASCII characters"),
    ("vlan 2\n name two words", 2, "unexpected 'words'"),
    ("vlan 0", 1, "VLAN '0' is not a number from 1 to 4094"),
])
def test_vlan_definition_mistakes(text, line, words):
    cfg = parse(text, "sw.ios")
    assert _found(cfg.errors, line, words), _show(cfg)


def test_an_svi_of_an_undefined_vlan_is_a_warning():
    cfg = parse("interface Vlan7\n ip address 10.7.0.1 255.255.255.0\ninterface Vlan1\n", "sw.ios")
    assert cfg.errors == [] and _found(cfg.warnings, 1, "Vlan7: VLAN 7 is not defined; IOS keeps the SVI down")
    assert len(cfg.warnings) == 1


# trunks

def test_trunk_allowed_lists_and_native_vlan():
    from labkit.ios import interface_plan
    cfg = parse("vlan 2-4\ninterface range fa0/20 - 24\n switchport trunk encapsulation dot1q\n switchport mode trunk\n"
                "interface fa0/21\n switchport trunk allowed vlan 2,3,99\n"
                "interface fa0/22\n switchport trunk allowed vlan except 3\n switchport trunk native vlan 2\n"
                "interface fa0/23\n switchport trunk allowed vlan 2\n switchport trunk allowed vlan add 4\n"
                "interface fa0/24\n switchport trunk allowed vlan none\n", "sw.ios")
    assert cfg.errors == [] and cfg.warnings == [], _show(cfg)
    plan = {p.linux: p for p in interface_plan(cfg)}
    assert (plan["fa0-20"].allowed_vlans, plan["fa0-20"].vlans, plan["fa0-20"].native) == (None, [1, 2, 3, 4], 1)
    assert (plan["fa0-21"].allowed_vlans, plan["fa0-21"].vlans, plan["fa0-21"].native) == ([2, 3, 99], [2, 3], None)
    assert (plan["fa0-22"].vlans, plan["fa0-22"].native_vlan, plan["fa0-22"].native) == ([1, 2, 4], 2, 2)
    assert (plan["fa0-23"].vlans, plan["fa0-23"].native) == ([2, 4], None)
    assert (plan["fa0-24"].allowed_vlans, plan["fa0-24"].vlans, plan["fa0-24"].native) == ([], [], None)
    assert {p.kind for p in plan.values()} == {"trunk"}


def test_a_3550_trunk_without_its_encapsulation_is_warned():
    text = "interface fa0/24\n switchport mode trunk\n"
    cfg = parse(text, "sw.ios", "switch")
    assert _found(cfg.warnings, 2, "a 3550 refuses 'switchport mode trunk' on FastEthernet0/24")
    assert parse(text, "sw.ios", "switch", layer3=False).warnings == []   # a 2950 speaks 802.1Q only


# spanning tree

TRUNKED = "vlan 2\ninterface fa0/24\n switchport trunk encapsulation dot1q\n switchport mode trunk\n"


@pytest.mark.parametrize("line,ios_mode,lab_mode", [("", "pvst", "stp"), ("spanning-tree mode pvst\n", "pvst", "stp"),
                                                    ("spanning-tree mode rapid-pvst\n", "rapid-pvst", "rstp"),
                                                    ("span mode rap\n", "rapid-pvst", "rstp"),
                                                    ("spanning-tree mode mst\n", "mst", "rstp")])
def test_spanning_tree_modes(line, ios_mode, lab_mode):
    cfg = parse(line + TRUNKED, "sw.ios")
    assert cfg.errors == [] and cfg.stp.run
    assert (cfg.stp.mode, cfg.stp.lab_mode, cfg.stp.priority) == (ios_mode, lab_mode, None)
    assert any("MST regions and instances are not emulated" in w.message for w in cfg.warnings) == (ios_mode == "mst")


def test_one_bridge_priority_the_lowest_asked_with_a_warning_per_other():
    cfg = parse(TRUNKED + "vlan 3\nspanning-tree vlan 1 priority 8192\nspanning-tree vlan 2 priority 4096\n", "sw.ios")
    assert cfg.errors == []
    assert (cfg.stp.priority, cfg.stp.priority_line) == (4096, 7)
    w6 = [w for w in cfg.warnings if w.line == 6]
    w7 = [w for w in cfg.warnings if w.line == 7]
    assert [w.message for w in w6] == ["OVS runs one spanning tree for all VLANs, so the bridge takes priority 4096 "
                                       "(the lowest asked, line 7) in every VLAN; IOS would give VLAN 1 priority 8192"]
    assert [w.message.split("; ")[1] for w in w7] == ["with no priority line, IOS gives VLAN 3 32768"]
    assert w6[0].fix == "give every VLAN the same priority: spanning-tree vlan 1-3 priority 4096"


def test_the_same_priority_everywhere_is_no_warning():
    cfg = parse(TRUNKED + "spanning-tree vlan 1 - 2 priority 24576\nspanning-tree vlan 1,2 hello-time 2\n", "sw.ios")
    assert cfg.errors == [] and cfg.warnings == [], _show(cfg)
    assert cfg.stp.priority == 24576


@pytest.mark.parametrize("text,level,words", [
    ("spanning-tree vlan 1 priority 4097", "error", "bridge priority 4097 is not a multiple of 4096"),
    ("spanning-tree vlan 1 priority 1024", "error", "bridge priority 1024 is not a multiple of 4096"),
    ("spanning-tree vlan 1 priority 65536", "error", "bridge priority '65536' is not a number from 0 to 61440"),
    ("spanning-tree vlan priority 4096", "error", "missing VLAN list"),
    ("spanning-tree vlan 1 forward-time 3", "error", "forward-time (seconds) '3' is not a number from 4 to 30"),
    ("spanning-tree vlan 1 forward-time 4", "warning", "'forward-time 4' is not emulated"),
    ("spanning-tree vlan 1 max-age 30", "warning", "'max-age 30' is not emulated"),
    ("spanning-tree vlan 1 root primary", "warning", "'root primary' is a macro"),
    ("spanning-tree mode stp", "error", "unknown spanning-tree mode 'stp'"),
    ("spanning-tree extend system-id", "warning", "no VLAN number"),
    ("spanning-tree loopguard default", "warning", "loop guard is not emulated"),
    ("spanning-tree portfast bpduguard default", "warning", "BPDU guard is not emulated"),
    ("spanning-tree portfast", "error", "incomplete"),
    ("spanning-tree bogus", "error", "unknown spanning-tree command"),
    ("no spanning-tree vlan 2", "warning", "spanning tree stays on for every VLAN"),
    ("spanning-tree mst configuration\n name region1\n instance 1 vlan 2", "warning", "MST regions are not emulated"),
    ("interface fa0/24\n spanning-tree bpduguard enable", "warning", "BPDU guard is not emulated"),
    ("interface fa0/24\n spanning-tree guard root", "warning", "root guard and loop guard are not emulated"),
    ("interface fa0/24\n spanning-tree port-priority 64", "warning", "port priority (128)"),
    ("interface fa0/24\n spanning-tree port-priority 999", "error", "port priority '999'"),
    ("interface fa0/24\n spanning-tree link-type point-to-point", "warning", "point-to-point"),
    ("interface fa0/24\n spanning-tree vlan 2 cost 4", "warning", "per-VLAN cost on FastEthernet0/24 applies to every"),
    ("interface fa0/24\n spanning-tree cost 0", "error", "path cost '0'"),
    ("interface fa0/24\n spanning-tree portfast bogus", "error", "unknown portfast option"),
])
def test_spanning_tree_lines_are_honoured_warned_or_refused_at_their_line(text, level, words):
    cfg = parse(text + "\n" + TRUNKED, "sw.ios")   # global lines first: after TRUNKED, fa0/24's block is open
    line = 2 if text.startswith("interface") else 1
    found = cfg.errors if level == "error" else cfg.warnings
    assert _found(found, line, words), _show(cfg)
    if level == "warning":
        assert cfg.errors == [], _show(cfg)


def test_the_mst_block_is_skipped_with_its_lines():
    cfg = parse(TRUNKED + "spanning-tree mst configuration\n name r1\n revision 2\n instance 1 vlan 2\n"
                "interface fa0/2\n switchport access vlan 2\n", "sw.ios")
    assert cfg.errors == [] and cfg.interfaces["FastEthernet0/2"].access_vlan == 2


def test_portfast_and_cost_reach_the_ports():
    from labkit.ios import interface_plan
    cfg = parse(TRUNKED + "spanning-tree portfast default\ninterface fa0/23\n sw trunk enc dot1q\n switchport mode trunk\n"
                " spanning-tree portfast trunk\n spanning-tree cost 100\n"
                "interface fa0/2\n switchport access vlan 2\n"
                "interface fa0/3\n spanning-tree portfast disable\n spanning-tree cost 5\n"
                "interface fa0/4\n spanning-tree portfast\nspanning-tree cost 7\n"   # unindented: still fa0/4
                "interface fa0/24\n spanning-tree portfast\n", "sw.ios")
    assert cfg.errors == [], _show(cfg)
    plan = {p.linux: p for p in interface_plan(cfg)}
    assert {k: (p.stp_edge, p.stp_cost) for k, p in plan.items()} == {
        "fa0-24": (False, None), "fa0-23": (True, 100), "fa0-2": (True, None), "fa0-3": (False, 5),
        "fa0-4": (True, 7)}
    assert cfg.stp.portfast_default
    (w,) = cfg.warnings
    assert w.line == 20 and "'spanning-tree portfast' has no effect on FastEthernet0/24, a trunk" in w.message
    assert w.fix == "write 'spanning-tree portfast trunk' to make a trunk an edge port"


@pytest.mark.parametrize("line,warned", [("no spanning-tree vlan 2", True), ("spanning-tree vlan 2", False),
                                         ("no spanning-tree vlan 1-2", True)])
def test_a_bare_spanning_tree_vlan_line_after_an_interface_is_global(line, warned):
    cfg = parse(TRUNKED + line + "\n", "sw.ios")      # fa0/24's block is open above it
    assert cfg.errors == [], _show(cfg)
    assert _found(cfg.warnings, 5, "spanning tree stays on for every VLAN") == warned
    assert cfg.interfaces["FastEthernet0/24"].stp_line == 0


def test_a_global_spanning_tree_line_under_an_interface_is_global():
    cfg = parse(TRUNKED + " spanning-tree vlan 1-2 priority 4096\n", "sw.ios")
    assert cfg.errors == [] and cfg.stp.priority == 4096
    assert cfg.interfaces["FastEthernet0/24"].stp_line == 0     # not taken as the port's


def test_spanning_tree_without_a_trunk_is_not_run_and_each_line_says_so():
    cfg = parse("vlan 2\nspanning-tree mode rapid-pvst\ninterface fa0/2\n switchport access vlan 2\n"
                " spanning-tree portfast\n", "sw.ios")
    assert cfg.errors == [] and not cfg.stp.run
    assert [w.line for w in cfg.warnings] == [2, 5]
    assert all("spanning tree is not run here: it runs only on switches with trunks" in w.message
               for w in cfg.warnings)


def test_a_router_ignores_spanning_tree():
    cfg = parse(ROS + "spanning-tree mode rapid-pvst\n", "r.ios")
    assert cfg.errors == [] and not cfg.stp.run
    assert _found(cfg.warnings, 15, "a router does not run it")


def test_spanning_tree_on_a_routed_port_is_ignored():
    cfg = parse(TRUNKED + "interface fa0/1\n no switchport\n spanning-tree portfast\n", "sw.ios")
    assert _found(cfg.warnings, 7, "ignored on FastEthernet0/1: it is not a switchport")


# the access switch (a 2950): layer 2 only

L2_OK = """hostname sw2950
vlan 2
 name voice
interface Vlan1
 ip address 192.168.1.3 255.255.255.0
interface Vlan2
ip default-gateway 192.168.1.1
no ip routing
interface fa0/1
 switchport mode trunk
interface fa0/2
 switchport access vlan 2
"""


def test_an_access_switch_config_loads(tmp_path):
    p = tmp_path / "sw2950.ios"
    p.write_text(L2_OK)
    cfg = load(p, platform="switch", layer3=False)
    assert (cfg.platform, cfg.layer3, cfg.ip_routing) == ("switch", False, False)
    assert cfg.warnings == [], _show(cfg)
    assert cfg.default_gateway == (IPv4Address("192.168.1.1"), 7)
    assert parse(L2_OK, "x", layer3=False).platform == "switch"    # layer 2 implies a switch
    with pytest.raises(ValueError, match="layer3=False is for platform 'switch' only"):
        parse(L2_OK, "x", "router", layer3=False)


@pytest.mark.parametrize("text,line,words", [
    ("ip routing", 1, "a 2950-class access switch does not route: 'ip routing' is not a command there"),
    ("ip route 0.0.0.0 0.0.0.0 192.168.1.1", 1, "a 2950-class access switch does not route: 'ip route'"),
    ("ip nat inside source list 1 interface Vlan1 overload", 1, "'ip nat'"),
    ("ip dns server", 1, "'ip dns'"),
    ("ip dhcp pool p\n network 192.168.1.0 255.255.255.0", 1, "has no DHCP server"),
    ("ip dhcp excluded-address 192.168.1.1", 1, "has no DHCP server"),
    ("interface fa0/1\n no switchport", 2, "its ports are all switchports"),
    ("interface Vlan1\n ip nat inside", 2, "has no NAT"),
    ("interface Vlan1\n ip address 10.1.0.1 255.255.255.0\ninterface Vlan2\n ip address 10.2.0.1 255.255.255.0", 4,
     "it has one management address, already on Vlan1 (line 3), so Vlan2 cannot have one"),
    ("interface fa0/25", 1, "FastEthernet0/25: a Cisco 2950T-24 switch has no such interface"),
    ("interface fa0/0.10\n encapsulation dot1Q 10", 1, "a Cisco 2950T-24 switch has no sub-interfaces"),
])
def test_an_access_switch_refuses_routing_at_its_line(text, line, words):
    cfg = parse("vlan 2\n" + text, "sw2950.ios", "switch", layer3=False)
    assert _found(cfg.errors, line + 1, words), _show(cfg)
    if "does not route" in words:
        assert "'role: l3switch'" in next(e.fix for e in cfg.errors if e.line == line + 1)


def test_ip_default_gateway_is_for_a_device_that_does_not_route():
    cfg = parse("ip routing\nip default-gateway 10.0.0.1\ninterface Vlan1\n ip address 10.0.0.2 255.255.255.0\n", "x")
    assert _found(cfg.warnings, 2, "'ip default-gateway' ignored: this device routes")
    cfg = parse("ip default-gateway 10.9.0.1\ninterface Vlan1\n ip address 10.0.0.2 255.255.255.0\n", "x",
                "switch", layer3=False)
    assert _found(cfg.warnings, 1, "default gateway 10.9.0.1 is on none of this device's subnets")
    assert _found(parse("ip default-gateway 10.0.0\n", "x").errors, 1, "not an IPv4 gateway address")
    assert _found(parse("no ip default-gateway\n", "x").errors, 1, "removes configuration")
