"""IosService without a lab: render() on a stand-in node (pure logic, no root needed)."""
from __future__ import annotations

from ipaddress import IPv4Interface
from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.ios.service import IosService
from labkit.lab.errors import ServiceError
from labkit.lab.model import Interface, ServiceSpec

ROOT = Path(__file__).resolve().parents[1]


class FakeNode:
    """Just what render() reads from a LabNode: name, spec, run_dir."""

    def __init__(self, tmp: Path, role: str, interfaces: dict[str, Interface]):
        self.name = "n1"
        self.spec = SimpleNamespace(role=role, interfaces=interfaces, configs={})
        self.run_dir = tmp
        self.lab = None


def _svc(tmp_path, role, interfaces, config: Path, **params):
    spec = ServiceSpec(kind="ios", name="ios", params={"config": config, **params}, where="topo.yaml:1")
    return IosService(FakeNode(tmp_path, role, interfaces), spec)


SWITCH_PORTS = {"fa0-1": Interface("fa0-1", [IPv4Interface("192.168.254.2/30")]),
                **{f"fa0-{n}": Interface(f"fa0-{n}", vlan=v) for n, v in [(2, 1), (3, 1), (4, 2), (5, 2), (6, 2)]}}


def test_render_writes_the_translation(tmp_path):
    svc = _svc(tmp_path, "l3switch", SWITCH_PORTS, ROOT / "topologies/sw3550.ios")
    svc.render()
    d = tmp_path / "ios"
    assert {p.name for p in d.iterdir()} >= {"apply.sh", "ruleset.nft", "dnsmasq.conf", "notes.txt"}
    assert "import all" in (d / "notes.txt").read_text()
    assert svc.lease_file == d / "dnsmasq.leases"


def test_negotiated_wan_address_comes_from_the_topology(tmp_path):
    ports = {"fa0-0": Interface("fa0-0", [IPv4Interface("192.168.254.1/30")]),
             "dialer1": Interface("dialer1", [IPv4Interface("100.64.0.2/30")])}
    svc = _svc(tmp_path, "router", ports, ROOT / "topologies/router.ios")
    svc.render()
    script = (tmp_path / "ios" / "apply.sh").read_text()
    assert "ip addr add 100.64.0.2/30 dev dialer1" in script
    svc2 = _svc(tmp_path, "router", ports, ROOT / "topologies/router.ios", wan={"Dialer1": "100.64.9.2/30"})
    svc2.render()
    assert "ip addr add 100.64.9.2/30 dev dialer1" in (tmp_path / "ios" / "apply.sh").read_text()


def test_config_errors_stop_render_with_line_numbers(tmp_path):
    bad = tmp_path / "bad.ios"
    bad.write_text("interface Vlan1\n ip address 10.0.0.1 255.0.255.0\nfrobnicate\n")
    svc = _svc(tmp_path, "l3switch", {}, bad)
    with pytest.raises(ServiceError) as ei:
        svc.render()
    assert "2 error(s) in bad.ios" in str(ei.value)
    assert f"{bad}:2:" in str(ei.value) and f"{bad}:3:" in str(ei.value)


def test_vlan_disagreement_with_the_topology_is_an_error(tmp_path):
    ports = dict(SWITCH_PORTS)
    ports["fa0-4"] = Interface("fa0-4", vlan=1)
    svc = _svc(tmp_path, "l3switch", ports, ROOT / "topologies/sw3550.ios")
    with pytest.raises(ServiceError, match=r"FastEthernet0/4 is an access port in VLAN 2, but the topology puts fa0-4 in VLAN 1"):
        svc.render()


def test_missing_config_parameter(tmp_path):
    spec = ServiceSpec(kind="ios", name="ios", params={}, where="topo.yaml:1")
    svc = IosService(FakeNode(tmp_path, "router", {}), spec)
    with pytest.raises(ServiceError, match="needs 'config: FILE.ios'"):
        svc.render()


def test_lint_lists_errors_warnings_and_notes(tmp_path):
    spec = ServiceSpec(kind="ios", name="ios", params={"config": ROOT / "topologies/router.ios"}, where="t:1")
    found = [str(f) for f in IosService.lint(spec)]   # Diagnostics, printed in the one format
    assert any("encapsulation ppp" in f for f in found)
    assert any("names an interface, not a next hop" in f and ":31: warning: " in f for f in found)
    bad = tmp_path / "bad.ios"
    bad.write_text("interface fa0/0\n switchport voice vlan 2\n")
    found = IosService.lint(ServiceSpec(kind="ios", name="ios", params={"config": bad}, where="t:1"))
    assert found and found[0].is_error and str(found[0]).startswith(f"{bad}:2: ")


def test_static_hosts_inside_a_pool_are_noted(tmp_path):
    svc = _svc(tmp_path, "l3switch", SWITCH_PORTS, ROOT / "topologies/sw3550.ios")
    phone = SimpleNamespace(name="phone1", interfaces={"eth0": Interface("eth0", [IPv4Interface("192.168.2.21/24")])})
    pc = SimpleNamespace(name="pc1", interfaces={"eth0": Interface("eth0", [IPv4Interface("192.168.1.10/24")])})
    svc.topology = SimpleNamespace(nodes={"phone1": phone, "pc1": pc})
    svc.render()
    notes = svc.notes
    assert any("phone1 has the static address 192.168.2.21" in n and "pool_vlan2" in n for n in notes)
    assert not any("pc1 has the static address" in n for n in notes)   # .10 is excluded in VLAN 1


# -- issue 13: the node expander fills trunks, sub-interfaces, spanning tree; role: switch ---------
from labkit.lab.errors import TopologyError  # noqa: E402
from labkit.lab.lint import lint_topology  # noqa: E402
from labkit.lab.loader import load as load_topology  # noqa: E402

ROS = """interface FastEthernet0/0
interface FastEthernet0/0.1
 encapsulation dot1Q 1 native
 ip address 192.168.1.1 255.255.255.0
interface FastEthernet0/0.2
 encapsulation dot1Q 2
 ip address 192.168.2.1 255.255.255.0
"""
SW3550 = """ip routing
vlan 2
 name voice
vlan 3
spanning-tree mode rapid-pvst
spanning-tree vlan 1-3 priority 4096
interface Vlan1
 ip address 192.168.1.2 255.255.255.0
interface fa0/1
 switchport trunk encapsulation dot1q
 switchport mode trunk
 switchport trunk allowed vlan 1,2
interface range fa0/7 - 8
 switchport trunk encapsulation dot1q
 switchport mode trunk
 spanning-tree cost 50
interface fa0/2
 switchport access vlan 3
 spanning-tree portfast
"""
SW2950 = """vlan 2
 name phones
interface Vlan1
 ip address 192.168.1.3 255.255.255.0
ip default-gateway 192.168.1.1
interface range fa0/1 - 2
 switchport mode trunk
interface fa0/5
 switchport access vlan 2
spanning-tree portfast default
"""
TOPO = """name: t13
vlans: {1: data}
nodes:
  router: {role: router, ios: ros.ios}
  sw3550: {role: l3switch, ios: sw3550.ios}
  sw2950: {role: switch, ios: sw2950.ios}
  pc: {role: host, interfaces: {eth0: 192.168.1.10/24}}
links:
  - router:fa0-0 -- sw3550:fa0-1
  - sw3550:fa0-7 -- sw2950:fa0-1
  - sw3550:fa0-8 -- sw2950:fa0-2
  - sw2950:fa0-3 -- pc:eth0
"""


def _lab(tmp_path, **files):
    texts = {"ros.ios": ROS, "sw3550.ios": SW3550, "sw2950.ios": SW2950, "t13.yaml": TOPO}
    texts.update({k.replace("_", "."): v for k, v in files.items()})
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    return load_topology(tmp_path / "t13.yaml")


def test_the_expander_makes_trunks_subinterfaces_and_spanning_tree(tmp_path):
    topo = _lab(tmp_path)
    r, l3, l2 = topo.nodes["router"], topo.nodes["sw3550"], topo.nodes["sw2950"]
    # router-on-a-stick: the port is a trunk of its sub-interfaces' VLANs; each is an internal port
    assert (r.interfaces["fa0-0"].trunk, r.interfaces["fa0-0"].native, r.interfaces["fa0-0"].internal) == ([1, 2], 1, False)
    sub = r.interfaces["fa0-0.2"]
    assert (sub.internal, sub.vlan, [str(a) for a in sub.addresses], str(sub.where)) == \
        (True, 2, ["192.168.2.1/24"], f"{tmp_path / 'ros.ios'}:5")
    assert r.switching == "ovs" and r.stp is None            # a router runs no spanning tree
    # the 3550: allowed list cut to its VLANs, all VLANs on fa0/7-8, portfast and cost
    assert (l3.interfaces["fa0-1"].trunk, l3.interfaces["fa0-1"].native) == ([1, 2], 1)
    assert (l3.interfaces["fa0-7"].trunk, l3.interfaces["fa0-7"].stp_cost) == ([1, 2, 3], 50)
    assert (l3.interfaces["fa0-2"].vlan, l3.interfaces["fa0-2"].stp_edge, l3.interfaces["fa0-2"].trunk) == (3, True, None)
    assert (l3.stp.mode, l3.stp.priority, str(l3.stp.where)) == ("rstp", 4096, f"{tmp_path / 'sw3550.ios'}:6")
    assert l3.switching == "ovs" and l3.svis == {1: [IPv4Interface("192.168.1.2/24")]}
    # a trunk that does not carry its native VLAN (1) tags every VLAN
    untagged = _lab(tmp_path, sw3550_ios=SW3550 + "interface fa0/3\n switchport trunk encapsulation dot1q\n"
                    " switchport mode trunk\n switchport trunk allowed vlan 2,3\n").nodes["sw3550"].interfaces["fa0-3"]
    assert (untagged.trunk, untagged.native) == ([2, 3], None)
    # the 2950: IOS's default pvst is 802.1D; portfast default reaches the access ports, links included
    assert (l2.stp.mode, l2.stp.priority) == ("stp", None)
    assert (l2.interfaces["fa0-5"].stp_edge, l2.interfaces["fa0-3"].stp_edge, l2.interfaces["fa0-3"].vlan) == (True, True, 1)
    assert (l2.interfaces["fa0-1"].trunk, l2.interfaces["fa0-1"].stp_edge) == ([1, 2], False)
    assert l2.svis == {1: [IPv4Interface("192.168.1.3/24")]} and not l2.forwards


def test_vlan_names_reach_the_topology(tmp_path):
    topo = _lab(tmp_path)
    names = {v.vid: v.name for v in topo.vlans.values()}
    assert names == {1: "data", 2: "phones", 3: "VLAN0003"}   # 2: the last config to name it
    (w,) = topo.warnings
    assert str(w) == (f"{tmp_path / 'sw2950.ios'}:1: warning: VLAN 2 is named 'voice' at {tmp_path / 'sw3550.ios'}:2 "
                      "but 'phones' here; the lab (and show vlan) calls it 'phones' (fix: give the VLAN one name "
                      "everywhere)")
    same = _lab(tmp_path, sw2950_ios=SW2950.replace("phones", "voice"))
    assert same.warnings == [] and same.vlans[2].name == "voice"
    # a VLAN no config names gets IOS's default name; VLAN 1's is 'default'
    bare = _lab(tmp_path, t13_yaml=TOPO.replace("vlans: {1: data}\n", ""))
    assert bare.vlans[1].name == "default" and bare.vlans[3].name == "VLAN0003"


def test_the_seed_still_switches_on_linux_bridges():
    from labkit import paths
    topo = load_topology(paths.topology("seed.yaml"))
    sw, r = topo.nodes["sw3550"], topo.nodes["router"]
    assert sw.switching == "bridge" and sw.stp is None and r.switching == "" and r.stp is None
    assert not any(i.trunk is not None or i.internal for n in topo.nodes.values() for i in n.interfaces.values())


@pytest.mark.parametrize("name,text,line,words", [
    ("sw2950.ios", SW2950 + "ip routing\n", 11, "a 2950-class access switch does not route"),
    ("sw2950.ios", SW2950 + "interface fa0/9\n switchport access vlan 7\n", 12, "VLAN 7, which is not defined"),
    ("ros.ios", ROS + "interface fa0/0.3\n ip address 10.3.0.1 255.255.255.0\n", 9, "IOS refuses an address"),
    ("sw3550.ios", SW3550 + "interface fa0/3.5\n encapsulation dot1Q 5\n", 20, "has no sub-interfaces"),
])
def test_config_errors_stop_the_topology_at_their_line(tmp_path, name, text, line, words):
    with pytest.raises(TopologyError) as ei:
        _lab(tmp_path, **{name.replace(".", "_"): text})
    assert str(ei.value).startswith(f"{tmp_path / name}:{line}: ") and words in str(ei.value)


def test_a_link_to_an_unconfigured_subinterface_is_refused(tmp_path):
    with pytest.raises(TopologyError, match=r"t13.yaml:\d+: interface router:fa0-0.9: FastEthernet0/0.9 is not "
                                            r"configured"):
        _lab(tmp_path, t13_yaml=TOPO + "  - router:fa0-0.9 -- pc:eth1\n")


def test_lint_reads_an_access_switch_as_one(tmp_path):
    topo = _lab(tmp_path, sw2950_ios=SW2950.replace("phones", "voice"))
    by_file = {}
    for d in lint_topology(topo):
        by_file.setdefault(d.file.rsplit("/", 1)[-1], []).append(d)
    assert by_file.get("sw2950.ios") is None, [str(d) for d in by_file["sw2950.ios"]]   # no 3550 warnings
    spec = next(s for s in topo.nodes["sw2950"].services if s.kind == "ios")
    assert spec.params["layer3"] is False
    assert "layer3" not in next(s for s in topo.nodes["sw3550"].services if s.kind == "ios").params


def test_render_of_an_access_switch_and_a_router_on_a_stick(tmp_path):
    cfg = tmp_path / "sw2950.ios"
    cfg.write_text(SW2950)
    ports = {"fa0-1": Interface("fa0-1", trunk=[1, 2], native=1), "fa0-2": Interface("fa0-2", trunk=[1, 2], native=1),
             "fa0-5": Interface("fa0-5", vlan=2)}
    svc = _svc(tmp_path, "switch", ports, cfg)
    svc.render()
    script = (tmp_path / "ios" / "apply.sh").read_text()
    assert "sysctl -qw net.ipv4.ip_forward=0" in script and "ip route replace default via 192.168.1.1" in script
    ros = tmp_path / "ros.ios"
    ros.write_text(ROS)
    ports = {"fa0-0": Interface("fa0-0", trunk=[1, 2], native=1),
             "fa0-0.1": Interface("fa0-0.1", vlan=1, internal=True), "fa0-0.2": Interface("fa0-0.2", vlan=2, internal=True)}
    svc = _svc(tmp_path, "router", ports, ros)
    svc.render()
    assert "ip addr add 192.168.2.1/24 dev fa0-0.2" in (tmp_path / "ios" / "apply.sh").read_text()


@pytest.mark.parametrize("ports,words", [
    ({"fa0-0": Interface("fa0-0"), "fa0-0.1": Interface("fa0-0.1", vlan=1, internal=True)},
     "FastEthernet0/0 is an 802.1Q trunk, but the topology does not make fa0-0 one"),
    ({"fa0-0": Interface("fa0-0", trunk=[1, 2]), "fa0-0.2": Interface("fa0-0.2", vlan=3, internal=True)},
     "FastEthernet0/0.2 is a sub-interface in VLAN 2, but the topology does not make fa0-0.2 an internal port tagged 2"),
])
def test_trunk_and_subinterface_disagreements_with_the_topology(tmp_path, ports, words):
    ros = tmp_path / "ros.ios"
    ros.write_text(ROS)
    with pytest.raises(ServiceError) as ei:
        _svc(tmp_path, "router", ports, ros).render()
    assert words in str(ei.value)


def test_an_access_port_the_topology_makes_a_trunk(tmp_path):
    ports = dict(SWITCH_PORTS)
    ports["fa0-4"] = Interface("fa0-4", trunk=[1, 2])
    with pytest.raises(ServiceError, match="FastEthernet0/4 is an access port in VLAN 2, but the topology makes fa0-4 a trunk"):
        _svc(tmp_path, "l3switch", ports, ROOT / "topologies/sw3550.ios").render()
