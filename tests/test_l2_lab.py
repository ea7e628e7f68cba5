"""802.1Q trunks and spanning tree, built by the engine alone (no IOS): the private Open
vSwitch per node (labkit.lab.ovs) on the wire.

tests/topologies/trunk-pair.yaml: two switches over one trunk (VLAN 1 native, VLAN 2 tagged).
tests/topologies/trunk-loop.yaml: the same with two trunks, a loop that RSTP must break.
Needs root (network namespaces).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from labkit.lab import Lab
from labkit.lab.ovs import OvsPaths
from labkit.lessons import trunks
from labkit.procs import wait_until

from labtest import leftovers

pytestmark = pytest.mark.lab

TOPO = Path(__file__).parent / "topologies"


def ping(lab: Lab, src: str, dst: str) -> bool:
    return trunks.ping(lab, src, dst)


@pytest.fixture(scope="module")
def pair():
    lab = Lab.up(TOPO / "trunk-pair.yaml", name="tpair", replace=True)
    try:
        yield lab
    finally:
        assert lab.down() == []
        assert leftovers("tpair") == []


def test_switches_with_trunks_are_built_with_ovs_and_hosts_are_not(pair):
    assert {n["name"]: n["switching"] for n in pair.status()["nodes"]} == {
        "sw1": "ovs", "sw2": "ovs", "h1": "", "h2": "", "h3": "", "h4": ""}
    # each switch runs its own OVS inside its namespace; none of it is in the machine's OVS
    for sw in ("sw1", "sw2"):
        out = pair.node(sw).run(OvsPaths.of(pair.node(sw).run_dir).vsctl("list-ports", "lkbr")).stdout
        assert set(out.split()) == {"eth1", "eth2", "eth3"}


def test_trunk_carries_vlan2_tagged_and_vlan1_untagged(pair):
    with pair.node("sw2").capturing("eth3") as cap:
        ping(pair, "h2", "10.0.2.2")
        ping(pair, "h1", "10.0.1.2")
    frames = trunks.frame_tags(cap.packets)
    v2 = [f for f in frames if "10.0.2." in f["what"]]
    v1 = [f for f in frames if "10.0.1." in f["what"]]
    assert v2 and v1, frames
    assert {f["vlan"] for f in v2} == {2}, v2          # VLAN 2 crosses the trunk tagged 2
    assert {f["vlan"] for f in v1} == {None}, v1       # VLAN 1 is the native VLAN: untagged
    assert {f["prio"] for f in v2} == {0}


def test_access_port_sees_none_of_another_vlans_traffic(pair):
    # h2 asks for an address nobody has: ARP broadcasts flood VLAN 2, and only VLAN 2.
    # Both of sw2's access ports are captured during the same ping, so the flood reaching
    # VLAN 2's port shows the window held it.
    sw2 = pair.node("sw2")
    with sw2.capturing("eth1") as vlan1_port, sw2.capturing("eth2") as vlan2_port:
        ping(pair, "h2", "10.0.2.99")
    frames = trunks.frame_tags(vlan1_port.packets)
    assert [f for f in frames if "10.0.2." in f["what"]] == []
    flooded = trunks.frame_tags(vlan2_port.packets)
    assert any("who-has 10.0.2.99" in f["what"] and f["vlan"] is None for f in flooded), flooded


def test_tcp_crosses_the_trunk(pair):
    """TX offload stays on at OVS ports (userspace TSO): a bulk TCP transfer must complete."""
    srv = pair.node("h3").popen(["python3", "-c", "import socket,sys\n"
                                 "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                 "s.bind(('10.0.1.2', 9000)); s.listen(1); c,_=s.accept(); n=0\n"
                                 "while True:\n d=c.recv(65536)\n if not d: break\n n+=len(d)\n"
                                 "print(n)"], stdout=__import__("subprocess").PIPE, text=True)
    try:
        wait_until(lambda: ":9000" in pair.node("h3").cmd("ss -Hltn"), 10, 0.05, what="listener")
        p = pair.node("h1").run(["python3", "-c", "import socket\n"
                                 "c=socket.create_connection(('10.0.1.2', 9000), timeout=10)\n"
                                 "c.sendall(b'x' * 20_000_000); c.close()"], timeout=30)
        assert p.returncode == 0, p.stderr
        assert srv.communicate(timeout=30)[0].strip() == "20000000"
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


@pytest.fixture(scope="module")
def loop():
    lab = Lab.up(TOPO / "trunk-loop.yaml", name="tloop", replace=True)
    try:
        yield lab
    finally:
        assert lab.down() == []
        assert leftovers("tloop") == []


def stp(lab: Lab, node: str) -> dict[str, tuple[str, str]]:
    return trunks.stp_ports(lab, node)


def test_rstp_blocks_exactly_one_trunk_and_broadcasts_do_not_storm(loop):
    states = {(sw, port): rs for sw in ("sw1", "sw2") for port, rs in stp(loop, sw).items()
              if port in ("eth3", "eth4")}
    blocked = [k for k, (role, state) in states.items() if state == "Discarding"]
    assert len(blocked) == 1 and states[blocked[0]][0] == "Alternate", states

    before = {sw: trunks.rx_packets(loop, sw) for sw in ("sw1", "sw2")}
    # 10 s of broadcasts on both VLANs: ARP for absent addresses floods every VLAN port
    end = time.monotonic() + 10
    sent = 0
    while time.monotonic() < end:
        ping(loop, "h1", "10.0.1.99")
        ping(loop, "h2", "10.0.2.99")
        sent += 2
    after = {sw: trunks.rx_packets(loop, sw) for sw in ("sw1", "sw2")}
    # Without STP each broadcast would circle the loop for ever (millions of frames in 10 s).
    # With it, each ARP request (ping tries ~1/s, a few per attempt) crosses each link once.
    for sw in before:
        for port, n in after[sw].items():
            assert n - before[sw][port] < 40 * sent, (sw, port, n - before[sw][port], sent)


def test_pulling_the_forwarding_trunk_fails_over_to_the_blocked_one(loop):
    roles = {sw: stp(loop, sw) for sw in ("sw1", "sw2")}
    nonroot = next(sw for sw, ports in roles.items() if any(r == "Root" for r, _ in ports.values()))
    root_port = next(p for p, (r, _) in roles[nonroot].items() if r == "Root")
    other = "eth4" if root_port == "eth3" else "eth3"
    assert ping(loop, "h1", "10.0.1.2")
    try:
        took = trunks.pull_link(loop, nonroot, root_port, "h1", "10.0.1.2")
        assert ping(loop, "h2", "10.0.2.2")
        assert stp(loop, nonroot)[other] == ("Root", "Forwarding")
        print(f"failover took {took:.2f} s")
    finally:
        trunks.restore_link(loop, nonroot, root_port)
    assert stp(loop, nonroot)[root_port] == ("Root", "Forwarding")   # the better port takes over again
