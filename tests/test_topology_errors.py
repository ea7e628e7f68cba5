"""Bad topology files: each mistake gives one line with file:line, and nothing is started."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from labkit.lab import TopologyError, load
from labkit.lab.state import LabState

GOOD = textwrap.dedent("""\
    name: tiny
    vlans:
      1: data
    nodes:
      r1:
        role: router
        interfaces:
          eth0: 10.0.0.1/24
          eth1: 10.0.1.1/24
      sw:
        role: l3switch
        svis: {1: 10.0.1.2/24}
        interfaces:
          up: {vlan: 1}
          p1: {vlan: 1}
      h1:
        role: host
        interfaces: {eth0: 10.0.0.10/24}
        gateway: 10.0.0.1
      h2:
        role: host
        interfaces: {eth0: 10.0.1.10/24}
        gateway: 10.0.1.1
    links:
      - r1:eth0 -- h1:eth0
      - r1:eth1 -- sw:up
      - sw:p1 -- h2:eth0
    checks:
      - reach: {from: h1, to: h2}
    """)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(text)
    return p


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in fixture")


def test_good_file_loads(tmp_path):
    topo = load(write(tmp_path, GOOD))
    assert set(topo.nodes) == {"r1", "sw", "h1", "h2"}
    assert topo.nodes["sw"].interfaces["p1"].vlan == 1
    assert str(topo.nodes["h1"].routes[0].via) == "10.0.0.1"


# (what to replace, replacement, text on the line the error must name, words the message must contain)
MISTAKES = [
    ("- r1:eth0 -- h1:eth0", "- r1:eth0 -- h9:eth0", "h9:eth0", "unknown node 'h9'"),
    ("eth1: 10.0.1.1/24", "eth1: 10.0.0.10/24", "eth0: 10.0.0.10/24", "used twice"),
    ("p1: {vlan: 1}", "p1: {vlan: 7}", "p1: {vlan: 7}", "VLAN 7 is not defined"),
    ("eth0: 10.0.0.1/24", "eth0: 10.0.0.1/33", "10.0.0.1/33", "bad address"),
    ("eth0: 10.0.0.10/24}", "eth0: 10.0.0.300/24}", "10.0.0.300", "bad address"),
    ("eth0: 10.0.0.10/24}", "eth0: 10.0.0.10}", "eth0: 10.0.0.10}", "no prefix length"),
    ("role: router", "role: firewall", "role: firewall", "role 'firewall'"),
    ("links:", "lnks:", "lnks:", "unknown key 'lnks'"),
    ("    gateway: 10.0.0.1", "    gateway: 10.9.9.1", "gateway: 10.9.9.1", "next hop 10.9.9.1"),
    ("- reach: {from: h1, to: h2}", "- reach: {from: h7, to: h2}", "from: h7", "unknown node 'h7'"),
    ("- reach: {from: h1, to: h2}", "- ping: {from: h1, to: h2}", "ping:", "unknown check 'ping'"),
    ("- sw:p1 -- h2:eth0", "- sw:p1 -- h2:eth0\n  - sw:p1 -- h1:eth1", "sw:p1 -- h1:eth1", "already used"),
    ("  r1:\n    role: router", "  r1:\n    role: router\n    ios: missing.ios", "missing.ios", "does not exist"),
    ("  h1:\n    role: host", "  h1:\n    role: host\n    services: [{type: nosuchd}]", "nosuchd", "unknown service type"),
    # typed parameters: what `up` or `check` would reject is refused at load, at its own line
    ("  h1:\n    role: host", "  h1:\n    role: host\n    services:\n      - {type: http,\n         port: 99999}",
     "port: 99999", "not a port number"),
    ("  h1:\n    role: host", "  h1:\n    role: host\n    services:\n      - {type: http,\n         port: eighty}",
     "port: eighty", "not a port number"),
    ("  h1:\n    role: host", "  h1:\n    role: host\n    services:\n      - {type: http,\n         prot: 80}",
     "prot: 80", "unknown key 'prot'"),
    ("- reach: {from: h1, to: h2}", "- port_open: {from: h1, to: h2,\n      port: 99999/tcp}", "port: 99999/tcp",
     "not NUMBER/tcp"),
    ("- reach: {from: h1, to: h2}", "- port_open: {from: h1, to: h2,\n      port: 25/tcpx}", "port: 25/tcpx",
     "not NUMBER/tcp"),
    ("- reach: {from: h1, to: h2}", "- reach: {from: h1, to: h2,\n      timeout: soon}", "timeout: soon",
     "not a time in seconds"),
    ("- reach: {from: h1, to: h2}", "- reach: {from: h1, to: h2,\n      timeout: .inf}", "timeout: .inf",
     "not a time in seconds"),
    ("- reach: {from: h1, to: h2}", "- reach: {to: h2,\n      from: [h1]}", "from: [h1]", "unknown node"),
    ("- reach: {from: h1, to: h2}", "- reach: {from: h1,\n      to: nowhere}", "to: nowhere",
     "neither a node nor an IPv4 address"),
    ("- reach: {from: h1, to: h2}", "- dns: {from: h1, server: 10.0.1.10, name: x.lab,\n      type: BOGUS}",
     "type: BOGUS", "not a DNS record type"),
    ("- reach: {from: h1, to: h2}", "- dns: {from: h1, name: x.lab}", "- dns:", "needs 'server'"),
    # an SVI that takes a host's address: named at the second use, with both owners
    ("svis: {1: 10.0.1.2/24}", "svis: {1: 10.0.1.10/24}", "interfaces: {eth0: 10.0.1.10/24}", "(sw and h2)"),
    ("  h1:\n    role: host", "  H_1:\n    role: host", "H_1:", "not a short lowercase name"),
    ("vlans:\n  1: data", "vlans:\n  1: data\n  1: again", "1: again", "appears twice"),
    ("  - reach: {from: h1, to: h2}", "  - reach: {from: h1, to: h2", "", "YAML syntax"),
    # names become namespaces (lk-LAB-NODE) and state directories: '_' is refused like uppercase
    ("name: tiny", "name: my_lab", "name: my_lab", "lab name 'my_lab' is not a short lowercase name"),
    ("  h1:\n    role: host", "  h_1:\n    role: host", "h_1:", "node name 'h_1' is not a short lowercase name"),
    ("vlans:\n  1: data", "vlans:\n  0: none\n  1: data", "0: none",
     "VLAN id '0' is not a number from 1 to 4094"),
    ("vlans:\n  1: data", "vlans:\n  1: data\n  4095: reserved", "4095: reserved",
     "VLAN id '4095' is not a number from 1 to 4094"),
    # a /30 has two host addresses; its network and broadcast addresses are no host's
    ("eth0: 10.0.0.1/24", "eth0: 10.0.0.0/30", "eth0: 10.0.0.0/30",
     "address '10.0.0.0/30' is the network or broadcast address of 10.0.0.0/30"),
    ("eth0: 10.0.0.1/24", "eth0: 10.0.0.3/30", "eth0: 10.0.0.3/30",
     "address '10.0.0.3/30' is the network or broadcast address of 10.0.0.0/30"),
    ("- reach: {from: h1, to: h2}", "- port_open: {from: h1, to: h2,\n      port: 0/tcp}", "port: 0/tcp",
     "port '0/tcp' is not NUMBER/tcp or NUMBER/udp (1-65535)"),
    ("- reach: {from: h1, to: h2}", "- port_open: {from: h1, to: h2,\n      port: 65536/udp}", "port: 65536/udp",
     "port '65536/udp' is not NUMBER/tcp or NUMBER/udp (1-65535)"),
    ("- reach: {from: h1, to: h2}", "- reach: {from: h1, to: h2,\n      timeout: 0}", "timeout: 0",
     "'0' is not a time in seconds"),
    ("  h1:\n    role: host", "  h1:\n    role: host\n    services:\n      - {type: http,\n         port: 0}",
     "port: 0}", "port '0' is not a port number"),
    # a device config only on the roles its expander builds (IOS: router, l3switch)
    ("  h1:\n    role: host", "  h1:\n    role: host\n    ios: missing.ios", "ios: missing.ios",
     "node 'h1' is a host; only a router or l3switch or switch takes 'ios:'"),
    # a key the node mapping lacks is reported at the mapping itself: its first line
    ("  h1:\n    role: host\n", "  h1:\n    label: PC\n", "label: PC", "node 'h1' has role 'None'"),
    # shapes: each field is checked for mapping / list / one value before it is read, at its own line
    ("interfaces:\n      eth0: 10.0.0.1/24\n      eth1: 10.0.1.1/24", "interfaces: [eth0, 1.2.3.4/24]",
     "interfaces: [eth0", "'interfaces' of node 'r1' must be a mapping, not a list"),
    ("interfaces:\n      eth0: 10.0.0.1/24\n      eth1: 10.0.1.1/24", "interfaces: eth0",
     "interfaces: eth0", "'interfaces' of node 'r1' must be a mapping, not 'eth0'"),
    ("    gateway: 10.0.1.1\n", "    gateway: 10.0.1.1\n    services: {type: http, port: 80}\n",
     "services: {type", "'services' of node 'h2' must be a list, not a mapping"),
    ("    gateway: 10.0.0.1\n", "    routes: default via 10.0.0.1\n", "routes: default",
     "'routes' of node 'h1' must be a list, not 'default via 10.0.0.1'"),
    ("    gateway: 10.0.0.1\n", "    routes:\n      - default via 10.0.0.1\n      - [10.0.0.0/8, via]\n",
     "[10.0.0.0/8, via]", "a route must be one value, not a list"),
    ("    gateway: 10.0.0.1\n", "    gateway: [10.0.0.1]\n", "gateway: [10.0.0.1]",
     "the gateway of node 'h1' must be one value, not a list"),
    ("  h1:\n    role: host\n    interfaces: {eth0: 10.0.0.10/24}",
     "  h1:\n    role: host\n    interfaces:\n      eth0: [10.0.0.10/24]", "eth0: [10.0.0.10/24]",
     "interface h1:eth0 is a list"),
    ("  h1:\n    role: host\n    interfaces: {eth0: 10.0.0.10/24}",
     "  h1:\n    role: host\n    interfaces: {eth0: true}", "eth0: true", "interface h1:eth0 is the boolean true"),
    ("  h1:\n    role: host\n    interfaces: {eth0: 10.0.0.10/24}",
     "  h1:\n    role: host\n    interfaces: {eth0: {address: 10.0.0.10/24,\n      dhcp: maybe}}", "dhcp: maybe",
     "'dhcp' of h1:eth0 must be true or false, not 'maybe'"),
    ("p1: {vlan: 1}", "p1: {vlan: [1]}", "p1: {vlan: [1]}", "a VLAN is a number, not a list"),
    ("up: {vlan: 1}", "up: {trunk: {a: 1}}", "up: {trunk", "a VLAN is a number, not a mapping"),
    ("vlans:\n  1: data", "vlans: [1, data]", "vlans: [1", "'vlans' must map VLAN numbers to names, not a list"),
    ("  h1:\n    role: host\n    interfaces: {eth0: 10.0.0.10/24}\n    gateway: 10.0.0.1\n", "  h1: 5\n", "h1: 5",
     "node 'h1' must be a mapping"),
    ("  h1:\n    role: host", "  h1:\n    role: [host]", "role: [host]", "node 'h1' has role '['host']'"),
    ("  h1:\n    role: host", "  h1:\n    role: host\n    pos: [true, 1]", "pos: [true", "'pos' must be [x, y]"),
    ("- r1:eth0 -- h1:eth0", "- 5", "- 5", "a link must be 'A -- B' or [A, B], not the number 5"),
    ("- r1:eth0 -- h1:eth0", "- r1:eth0 -- h1:eth0 -- sw:p9", "sw:p9", "a link must be 'A -- B' or [A, B]"),
    ("- r1:eth0 -- h1:eth0", "- [r1:eth0, [h1, eth0]]", "[r1:eth0", "a link end must be one value, not a list"),
    ("  r1:\n    role: router", "  r1:\n    role: router\n    ios: [missing.ios]", "ios: [missing",
     "a file name must be one value, not a list"),
    ("- reach: {from: h1, to: h2}", "- reach: [h1, h2]", "- reach: [h1", "check 'reach' needs a mapping of parameters, not a list"),
    ("name: tiny", "name: [tiny]", "name: [tiny]", "'name' must be one value, not a list"),
    # YAML itself: values its tags cannot hold, anchors and aliases
    ("name: tiny", "name: tiny\ntitle: 2001-02-30", "title: 2001-02-30", "'2001-02-30' is not a valid timestamp"),
    ("vlans:\n  1: data", "vlans:\n  1: &d data\n  2: *d", "1: &d data", "anchors ('&name') and aliases"),
]


@pytest.mark.parametrize("old,new,line_text,words", MISTAKES, ids=[m[3] for m in MISTAKES])
def test_mistake_names_file_and_line(tmp_path, old, new, line_text, words):
    assert old in GOOD, old
    text = GOOD.replace(old, new, 1)
    path = write(tmp_path, text)
    before = LabState.instances()
    with pytest.raises(TopologyError) as info:
        load(path)
    msg = str(info.value)
    assert "\n" not in msg, "errors are one line"
    assert msg.startswith(f"{path}:"), msg
    assert words in msg, msg
    assert "(fix:" in msg, msg
    if line_text:
        assert info.value.where.line == line_of(text, line_text), msg
    assert LabState.instances() == before, "a bad file must not start a lab"


@pytest.mark.parametrize("data,line,words", [
    (GOOD.replace("role: host", "role: h\xf4te", 1).encode("latin-1"), line_of(GOOD, "role: host"),
     "byte 0xf4 at byte offset"),
    (GOOD.encode("utf-16"), 1, "the file is UTF-16 (byte-order mark at byte offset 0), not UTF-8"),
    (GOOD.encode("utf-16-le"), 1, "NUL byte at byte offset 1: this is a binary file"),
    (b"\x7fELF\x02\x01\x01\x00\x00", 1, "NUL byte at byte offset 7"),
    (GOOD.replace("role: host", "role: \x1b[31mhost", 1).encode(), line_of(GOOD, "role: host"),
     "character U+001B"),
])
def test_bytes_that_are_not_utf8_text_name_their_offset(tmp_path, data, line, words):
    path = tmp_path / "tiny.yaml"
    path.write_bytes(data)
    with pytest.raises(TopologyError) as info:
        load(path)
    msg = str(info.value)
    assert "\n" not in msg and "\x1b" not in msg and msg.startswith(f"{path}:{line}: "), msg
    assert words in msg and "(fix:" in msg, msg


@pytest.mark.parametrize("data", [b"hostname r1\n\xe9\n", b"\x7fELF\x02\x01\x01\x00\x00\xd0\xff"])
def test_a_device_config_that_is_not_text_is_named_at_its_line(tmp_path, data):
    """Whatever the plug-in reading it raises on bad bytes, the error is one line at `ios:`."""
    (tmp_path / "r1.ios").write_bytes(data)
    text = GOOD.replace("  r1:\n    role: router", "  r1:\n    role: router\n    ios: r1.ios", 1)
    path = write(tmp_path, text)
    with pytest.raises(TopologyError) as info:
        load(path)
    msg = str(info.value)
    assert "\n" not in msg and "(fix:" in msg, msg
    named, line = msg.split(":")[:2]
    assert (named, int(line)) in ((str(path), line_of(text, "ios: r1.ios")), (str(tmp_path / "r1.ios"), 2), (str(tmp_path / "r1.ios"), 1)), msg


def test_a_link_to_a_port_the_device_config_cannot_name(tmp_path):
    topo = load("seed")
    text = topo.path.read_text().replace("  - sw3550:fa0-6 -- acd:eth0", "  - sw3550:fa0-6 -- acd:eth0\n  - router:vlan99999 -- acd:eth1")
    shutil.copytree(topo.path.parent, tmp_path / "t")
    path = tmp_path / "t" / "seed.yaml"
    path.write_text(text)
    with pytest.raises(TopologyError) as info:
        load(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line_of(text, 'router:vlan99999')}: interface router:vlan99999: "), msg
    assert "\n" not in msg and "(fix:" in msg, msg


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_bytes(GOOD.encode("utf-8-sig"))
    assert load(path).name == "tiny"


def test_seed_topology_is_valid():
    topo = load("seed")
    assert topo.nodes["sw3550"].role == "l3switch"
    assert {1, 2} <= set(topo.vlans)
    assert str(topo.address_of("ec2")) == "1.2.3.4"


@pytest.mark.parametrize("text", ["eth0: 10.0.0.0/31", "eth0: 10.0.0.1/31", "eth0: 10.0.0.1/30", "eth0: 10.0.0.2/30"])
def test_point_to_point_host_addresses_are_accepted(tmp_path, text):
    """Only below /31 are the first and last address reserved (a /31 link uses both, RFC 3021)."""
    topo = load(write(tmp_path, GOOD.replace("eth0: 10.0.0.1/24", text, 1)))
    assert str(topo.nodes["r1"].interfaces["eth0"].addresses[0]) == text.split()[1]


def test_lab_names_up_to_twelve_characters(tmp_path):
    assert load(write(tmp_path, GOOD.replace("name: tiny", "name: lab-abcdefgh"))).name == "lab-abcdefgh"
    with pytest.raises(TopologyError) as info:
        load(write(tmp_path, GOOD.replace("name: tiny", "name: lab-abcdefghi")))
    assert info.value.where.line == 1 and "lab name 'lab-abcdefghi'" in str(info.value)


def test_address_of_a_node_is_its_first_address(tmp_path):
    """`to: NODE` means the node's first static address: interfaces in file order, then SVIs."""
    topo = load(write(tmp_path, GOOD))
    assert str(topo.address_of("r1")) == "10.0.0.1"          # eth0 before eth1
    assert str(topo.address_of("sw")) == "10.0.1.2"          # only an SVI
    assert str(topo.address_of("h2")) == "10.0.1.10"
    topo = load(write(tmp_path, GOOD.replace("eth0: 10.0.0.1/24\n      eth1: 10.0.1.1/24",
                                             "eth1: 10.0.1.1/24\n      eth0: 10.0.0.1/24", 1)))
    assert str(topo.address_of("r1")) == "10.0.1.1"          # file order, not interface name


def test_extends_lays_a_file_over_its_base_and_names_bad_bases(tmp_path):
    (tmp_path / "base.yaml").write_text(GOOD)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\n"
                                         "nodes:\n  h2:\n    gateway: 10.0.1.2\n")
    topo = load(tmp_path / "child.yaml")
    assert topo.name == "child" and set(topo.nodes) == {"r1", "sw", "h1", "h2"}
    assert [str(r.via) for r in topo.nodes["h2"].routes] == ["10.0.1.2"]   # the child's gateway
    assert topo.nodes["h2"].role == "host"                                    # the base's role kept
    for text, words in [("extends: nope.yaml\n", "not a topology file beside"),
                        ("extends: ../base.yaml\n", "not a topology file beside"),
                        ("extends: [base.yaml]\n", "child.yaml:1"),
                        ("extends: child.yaml\n", "goes round in a circle")]:
        (tmp_path / "child.yaml").write_text(text + "name: child\n")
        with pytest.raises(TopologyError) as err:
            load(tmp_path / "child.yaml")
        assert words in str(err.value) and "child.yaml:1" in str(err.value), str(err.value)


def test_trunk_native_and_stp_keys(tmp_path):
    text = GOOD.replace("p1: {vlan: 1}", "p1: {vlan: 1}\n      t1: {trunk: [1], native: 1}")
    text = text.replace("role: l3switch", "role: l3switch\n    stp: rstp")
    text = text.replace("  - sw:p1 -- h2:eth0", "  - sw:p1 -- h2:eth0\n  - sw:t1 -- r1:eth2")
    text = text.replace("eth1: 10.0.1.1/24", "eth1: 10.0.1.1/24\n      eth2: 10.0.2.1/24")
    (tmp_path / "t.yaml").write_text(text)
    sw = load(tmp_path / "t.yaml").nodes["sw"]
    assert (sw.interfaces["t1"].trunk, sw.interfaces["t1"].native, sw.stp.mode, sw.switching) == ([1], 1, "rstp", "ovs")
    for old, new, words in [("native: 1}", "native: 3}", "VLAN 3 is not defined"),
                            ("{trunk: [1], native: 1}", "{vlan: 1, native: 1}", "has 'native' but no 'trunk'"),
                            ("stp: rstp", "stp: pvst", "'stp: pvst'")]:
        (tmp_path / "t.yaml").write_text(text.replace(old, new))
        with pytest.raises(TopologyError) as err:
            load(tmp_path / "t.yaml")
        assert words in str(err.value) and "t.yaml:" in str(err.value), str(err.value)


def test_a_link_to_a_sub_interface_is_refused_at_its_line(tmp_path):
    """A router-on-a-stick's sub-interface is an OVS internal port, not a cable end."""
    from labkit import paths

    src = paths.topology("campus-ros.yaml").parent
    shutil.copytree(src, tmp_path / "t")
    text = (tmp_path / "t" / "campus-ros.yaml").read_text()
    (tmp_path / "t" / "campus-ros.yaml").write_text(
        text.replace("  - sw2950:fa0-5 -- phone2:eth0", "  - sw2950:fa0-5 -- phone2:eth0\n  - router:fa0-0.2 -- inet:eth1"))
    with pytest.raises(TopologyError) as err:
        load(tmp_path / "t" / "campus-ros.yaml")
    assert "router:fa0-0.2 is a port the node makes itself" in str(err.value)
    assert "campus-ros.yaml:" in str(err.value)
