"""The private OVS's ovs-vsctl words and spanning-tree bookkeeping (pure logic, no lab)."""
from __future__ import annotations

from labkit.lab.model import Interface, Node, Stp
from labkit.lab.ovs import BRIDGE, PrivateOvs, config_words, port_columns, stp_settings


def switch(mode: str | None = "rstp", auto_edge: bool = True) -> Node:
    n = Node("sw", "switch", None)
    n.interfaces = {"fa0-10": Interface("fa0-10", trunk=[1, 2], native=1),
                    "fa0-2": Interface("fa0-2", vlan=2, stp_edge=True),
                    "fa0-9": Interface("fa0-9", vlan=1),
                    "fa0-1": Interface("fa0-1", addresses=[])}          # a routed port: no VLAN
    n.stp = Stp(mode=mode, auto_edge=auto_edge) if mode else None
    return n


def test_port_columns_by_kind():
    n = switch()
    assert port_columns(n, "fa0-10") == ["trunks=1,2", "tag=1", "vlan_mode=native-untagged"]
    assert port_columns(n, "fa0-2") == ["tag=2"]
    assert port_columns(n, "fa0-1") == []
    n.interfaces["fa0-10"].native = None
    n.interfaces["fa0-10"].trunk = []
    assert port_columns(n, "fa0-10") == ["trunks=4095"]       # a trunk of no VLAN carries nothing


def test_a_routed_port_is_never_a_bridge_port():
    words = config_words(switch(), {"fa0-10", "fa0-2", "fa0-9", "fa0-1"}, lambda i: "02:00:00:00:00:01")
    ports = [words[i + 2] for i, w in enumerate(words) if w == "add-port"]
    assert sorted(ports) == ["fa0-10", "fa0-2", "fa0-9"]


def test_stp_words_number_ports_in_panel_order_and_mark_edges():
    words = " ".join(stp_settings(switch(auto_edge=False), {"fa0-10", "fa0-2", "fa0-9"}))
    assert "set port fa0-2 other_config:rstp-port-num=1 other_config:rstp-port-admin-edge=true" in words
    assert "set port fa0-9 other_config:rstp-port-num=2 other_config:rstp-port-auto-edge=false" in words
    assert "set port fa0-10 other_config:rstp-port-num=3 other_config:rstp-port-auto-edge=false" in words
    assert f"set port {BRIDGE} other_config:rstp-enable=false" in words
    legacy = " ".join(stp_settings(switch("stp"), {"fa0-10", "fa0-2", "fa0-9"}))
    assert "set port fa0-2 other_config:stp-port-num=1 other_config:stp-enable=false" in legacy
    assert stp_settings(switch(None), {"fa0-10"}) == []


class Canned(PrivateOvs):
    def __init__(self, node, ports):
        self.spec, self.linked, self.ports = node, {"fa0-10", "fa0-2", "fa0-9"}, ports

    def stp_ports(self):
        return self.ports


def test_settled_means_forwarding_or_blocked_for_a_reason():
    fwd = ("Designated", "Forwarding")
    assert Canned(switch(), {"fa0-10": ("Alternate", "Discarding"), "fa0-2": fwd, "fa0-9": fwd}).stp_settled()
    assert not Canned(switch(), {"fa0-10": ("Designated", "Discarding"), "fa0-2": fwd, "fa0-9": fwd}).stp_settled()
    assert not Canned(switch(), {"fa0-10": ("Designated", "Learning"), "fa0-2": fwd, "fa0-9": fwd}).stp_settled()
    # 802.1D portfast: the port is out of the tree and has no state; it does not hold bring-up
    legacy = {"fa0-10": ("root", "forwarding"), "fa0-2": ("", ""), "fa0-9": ("designated", "forwarding")}
    assert Canned(switch("stp"), legacy).stp_settled()
    assert not Canned(switch("stp"), {**legacy, "fa0-9": ("designated", "listening")}).stp_settled()
