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
