"""The private OVS's ovs-vsctl words and spanning-tree bookkeeping (pure logic, no lab)."""
from __future__ import annotations

import pytest

from labkit.lab.errors import TopologyError
from labkit.lab.model import Interface, Node, Stp
from labkit.lab.ovs import (BRIDGE, OvsPaths, PrivateOvs, accepting, config_words, port_columns,
                            stp_settings, wait_for_db)


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


# -- waiting for ovsdb-server: a connection accepted, not a socket file ------------------------
class Running:
    """A stand-in for ovsdb-server's Popen: running until `returncode` is set."""

    returncode = None

    def poll(self):
        return self.returncode


def test_a_socket_file_is_not_a_server_until_it_listens(tmp_path):
    # ovsdb-server binds (the file appears) before it listens: a client in between is refused,
    # which is how `ovs-vsctl (bridge and ports)` failed at bring-up now and then
    import socket

    paths = OvsPaths.of(tmp_path)
    paths.dir.mkdir()
    node = switch()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(str(paths.db_sock))
        assert paths.db_sock.exists() and not accepting(paths.db_sock)
        with pytest.raises(TopologyError) as exc:
            wait_for_db(paths, Running(), node, timeout=0.2)
        msg = str(exc.value)
        assert "sw: ovsdb-server did not accept connections" in msg
        assert str(paths.dir / "ovsdb-server.log") in msg and "\n" not in msg
        srv.listen(1)
        assert accepting(paths.db_sock)
        wait_for_db(paths, Running(), node, timeout=0.2)      # returns: a connection is accepted


def test_an_ovsdb_server_that_exits_is_named_with_its_log(tmp_path):
    paths = OvsPaths.of(tmp_path)
    dead = Running()
    dead.returncode = 1
    with pytest.raises(TopologyError, match=r"sw: ovsdb-server exited \(1\).*ovsdb-server\.log"):
        wait_for_db(paths, dead, switch(), timeout=5)
    assert not accepting(paths.db_sock)      # no file at all: not accepting either

