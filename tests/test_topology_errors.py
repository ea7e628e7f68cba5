"""Bad topology files: each mistake gives one line with file:line, and nothing is started."""
from __future__ import annotations

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


def test_seed_topology_is_valid():
    topo = load("seed")
    assert topo.nodes["sw3550"].role == "l3switch"
    assert {1, 2} <= set(topo.vlans)
    assert str(topo.address_of("ec2")) == "1.2.3.4"
