"""The layer-2 campus of issue 13 on the wire, and every claim notebook 07 makes about it.

campus-trunk.yaml: the 3550 and a 2950-class access switch over two 802.1Q trunks (RSTP).
campus-ros.yaml:   router-on-a-stick, sub-interfaces on one trunk.
seed.yaml / seed-svi.yaml: the post's routed port against its SVI method.
Needs root (network namespaces).
"""
from __future__ import annotations

import time

import pytest

from labkit import ios
from labkit.ios.errors import IosConfigError
from labkit.lab import Lab
from labkit.lab.ovs import OvsPaths
from labkit.lessons import campus, trunks

from labtest import leftovers

pytestmark = pytest.mark.lab


def parse_show(svc, command: str) -> list[dict]:
    """What a Netmiko user's script gets: the live output parsed by ntc-templates."""
    from ntc_templates.parse import parse_output

    return parse_output(platform="cisco_ios", command=command, data=svc.show(command))


def _up(topology: str, name: str):
    lab = Lab.up(topology, name=name, replace=True)
    try:
        yield lab
    finally:
        assert lab.down() == []
        assert leftovers(name) == []


@pytest.fixture(scope="module")
def ct():
    yield from _up("campus-trunk", "tct")


def test_switches_with_trunks_use_ovs_and_the_seed_keeps_linux_bridges(ct):
    switching = {n["name"]: n["switching"] for n in ct.status()["nodes"]}
    assert switching["sw3550"] == switching["sw2950"] == "ovs"
    assert switching["router"] == switching["pc1"] == ""
    from labkit.lab import loader
    assert loader.load("seed").nodes["sw3550"].switching == "bridge"


def test_vlan2_crosses_the_trunk_tagged_and_vlan1_untagged(ct):
    def both():
        trunks.ping(ct, "pc2", "pc1")
        trunks.ping(ct, "phone2", "phone1")

    with ct.node("sw2950").capturing("fa0-1") as cap:
        both()
    rows = trunks.tag_table(cap.packets)
    icmp = [(vlan, prio, what) for vlan, prio, what in rows if "ICMP" in what]
    assert {vlan for vlan, _, what in icmp if "192.168.2." in what} == {"2"}, icmp
    assert {vlan for vlan, _, what in icmp if "192.168.1." in what} == {"-"}, icmp
    assert {prio for vlan, prio, _ in icmp if vlan == "2"} == {"0"}


def test_an_access_port_sees_nothing_of_the_other_vlan(ct):
    # phone2's ARP for an absent address floods VLAN 2: out of the uplink, tagged 2, and not
    # out of pc2's port (captured in the same window, so the flood was there to be seen)
    sw = ct.node("sw2950")
    with sw.capturing("fa0-3") as access, sw.capturing("fa0-1") as uplink:
        trunks.ping(ct, "phone2", "192.168.2.99", 0.3)
    seen = trunks.frame_tags(access.packets)
    assert [f for f in seen if "192.168.2." in f["what"]] == []
    assert ("2", "0", "ARP who-has 192.168.2.99 from 192.168.2.22") in trunks.tag_table(uplink.packets)


def test_the_root_is_the_3550_and_the_second_uplink_is_the_alternate(ct):
    assert trunks.stp_ports(ct, "sw2950")["fa0-1"] == ("Root", "Forwarding")


def test_traffic_crosses_at_once_after_restore_link_returns(ct):
    """After a re-plug the root's designated port may miss the agreement and wait out its
    timers (~20 s) while the access switch already forwards on its root port: restore_link
    waits for the whole tree, so traffic crosses as soon as it returns. Five re-plugs."""
    for _ in range(5):
        ct.node("sw2950").run(["ip", "link", "set", "dev", "fa0-1", "down"], check=True)
        ct.wait_spanning_tree(30)
        trunks.restore_link(ct, "sw2950", "fa0-1")
        assert trunks.stp_ports(ct, "sw3550")["fa0-7"] == ("Designated", "Forwarding")
        assert trunks.ping(ct, "pc2", "pc1", 2) and trunks.ping(ct, "phone2", "phone1", 2)
    assert trunks.stp_ports(ct, "sw2950")["fa0-2"] == ("Alternate", "Discarding")
    assert all(state == "Forwarding" for _, state in trunks.stp_ports(ct, "sw3550").values())


def test_ten_seconds_of_broadcasts_do_not_storm_round_the_loop(ct):
    nodes = ("sw3550", "sw2950")
    before = {n: trunks.rx_packets(ct, n) for n in nodes}
    end, sent = time.monotonic() + 10, 0
    while time.monotonic() < end:
        trunks.ping(ct, "pc1", "192.168.1.99", 0.2)      # ARP broadcasts flood VLAN 1...
        trunks.ping(ct, "phone1", "192.168.2.99", 0.2)   # ...and VLAN 2, across both trunks
        sent += 2
    after = {n: trunks.rx_packets(ct, n) for n in nodes}
    for n in nodes:
        for port, count in after[n].items():
            assert count - before[n][port] < 40 * sent, (n, port, count - before[n][port], sent)


def test_pulling_the_root_port_fails_over_and_the_tree_heals(ct):
    trunks.pull_link(ct, "sw2950", "fa0-1", "pc2", "pc1")
    try:
        assert trunks.stp_ports(ct, "sw2950")["fa0-2"] == ("Root", "Forwarding")
        assert trunks.ping(ct, "phone2", "phone1")
    finally:
        trunks.restore_link(ct, "sw2950", "fa0-1")
    assert trunks.stp_ports(ct, "sw2950")["fa0-1"] == ("Root", "Forwarding")


def _trunks_of(lab, node):
    n = lab.node(node)
    out = n.run(OvsPaths.of(n.run_dir).vsctl("--format=csv", "--no-headings", "--columns=name,trunks",
                                             "list", "port")).stdout
    return dict(line.split(",", 1) for line in out.splitlines())


def test_ping_waits_its_whole_time_through_errors(ct):
    """An address nobody has: the kernel answers the queued echo request with "host
    unreachable" once ARP gives up (about 3 s), and trunks.ping keeps asking until its time
    is up (`ping -c1 -w5` stopped at that first error)."""
    t0 = time.monotonic()
    assert not trunks.ping(ct, "phone2", "192.168.2.99", 5)
    assert 5 <= time.monotonic() - t0 < 7


def test_a_check_right_after_the_fix_sees_vlan2_cross(ct):
    """Notebook 07's exercise, cell by cell and without pauses: the failing ping leaves
    phone2's ARP for phone1 still failing when the fix lands, and the check's ping starts
    before that ARP gives up (the check that failed 1 run in 4 in nbval and CI)."""
    sw = ct.service("sw2950", "ios")
    trunks.tidied_up(sw)
    try:
        assert not trunks.ping(ct, "phone2", "phone1")
    finally:
        sw.configure("interface range FastEthernet0/1 - 2\n switchport trunk allowed vlan add 2")
    ct.wait_spanning_tree(60)
    assert trunks.ping(ct, "phone2", "phone1", 10)


def test_configure_retypes_a_trunk_live_and_refuses_bad_lines_untouched(ct):
    sw = ct.service("sw2950", "ios")
    before = _trunks_of(ct, "sw2950")
    with pytest.raises(IosConfigError) as err:
        sw.configure("interface FastEthernet0/1\n switchport trunk allowed vlan add 5000")
    assert "configure:2" in str(err.value)
    with pytest.raises(ValueError, match="only interface switchport lines"):
        sw.configure("int fa0/1\n ip address 10.0.0.1 255.0.0.0")
    assert _trunks_of(ct, "sw2950") == before                  # nothing changed by either
    trunks.tidied_up(sw)                                       # notebook 07's exercise
    try:
        assert not trunks.ping(ct, "phone2", "phone1")          # VLAN 2 stops at the trunks,
        assert trunks.ping(ct, "pc2", "pc1")                    # VLAN 1 still crosses
        rows = {r["interface"]: r for r in parse_show(sw, "show interfaces switchport")}
        assert [rows[p]["trunking_vlans"] for p in ("Fa0/1", "Fa0/2")] == [["1"], ["1"]]
        assert not trunks.carries(rows["Fa0/1"]["trunking_vlans"], 2)
    finally:   # the notebook's solution, abbreviated as a student types it, `end` included
        sw.configure("int range fa0/1 - 2\n sw tr all vl add 2\nend\nshow run")
    rows = {r["interface"]: r for r in parse_show(sw, "show interfaces switchport")}
    assert all(trunks.carries(rows[p]["trunking_vlans"], 2) for p in ("Fa0/1", "Fa0/2"))
    assert trunks.ping(ct, "phone2", "phone1")


def test_configure_shutdown_and_a_second_process_continue_the_running_config(ct):
    import subprocess
    import sys

    from labkit.procs import wait_until

    sw = ct.service("sw2950", "ios")
    sw.configure("interface FastEthernet0/3\n shutdown")
    assert not trunks.ping(ct, "pc2", "pc1")
    # another process attached to the lab sees the running config, not the file, and undoes it
    code = ("from labkit.lab import Lab\n"
            "print(Lab.attach('tct').service('sw2950', 'ios').configure('interface Fa0/3\\n no shutdown'))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stderr
    wait_until(lambda: trunks.ping(ct, "pc2", "pc1"), 10, 0.1, what="pc2 back after no shutdown")
    sw.configure("interface Fa0/3\n switchport access vlan 2")   # this process continues from it too
    try:
        assert _port_state(ct, "sw2950")["fa0-3"][0] == "2"
        assert not trunks.ping(ct, "pc2", "pc1")                  # pc2 now sits in VLAN 2
    finally:
        sw.configure("interface Fa0/3\n switchport access vlan 1")
    wait_until(lambda: trunks.ping(ct, "pc2", "pc1"), 10, 0.1, what="pc2 back in VLAN 1")


@pytest.fixture(scope="module")
def ros():
    yield from _up("campus-ros", "tros")


def test_router_on_a_stick_tags_on_its_trunk_routes_and_filters(ros):
    with ros.node("router").capturing("fa0-0") as cap:
        trunks.ping(ros, "phone1", "198.41.0.4")
    rows = trunks.tag_table(cap.packets)
    assert {vlan for vlan, _, what in rows if "192.168.2.21" in what} == {"2"}, rows
    assert not trunks.ping(ros, "pc1", "phone2")        # the echo reply meets ACL 102 on Fa0/0.2
    assert not trunks.ping(ros, "phone1", "pc1")
    assert trunks.ping(ros, "phone1", "phone2") and trunks.ping(ros, "pc1", "pc2")   # switched, no router
    with campus.EchoServer(ros.node("phone2")):           # VLAN 1 opens TCP to VLAN 2: routed, 'established'
        row = campus.probe(ros, "pc1", "phone2", "tcp_session", acl_node="router")
    assert row.result == "connected, echo ok"


def test_the_two_joins_look_the_same_from_the_hosts_and_the_router():
    """Notebook 07, section 4: the routed port (seed) against the SVI in VLAN 10 (seed-svi)."""
    routed = Lab.up("seed", name="tjrouted", replace=True)
    svi = None
    try:
        svi = Lab.up("seed-svi", name="tjsvi", replace=True)
        hops = {name: [h for _, h in l.node("pc2").call("labkit.probes.icmp:traceroute", "198.41.0.4")]
                for name, l in (("routed", routed), ("svi", svi))}
        assert hops["routed"] == hops["svi"] == ["192.168.1.1", "192.168.254.1", "100.64.0.1", "198.41.0.4"]
        table = {name: sorted((r.code, r.network) for r in ios.show.routes(l.node("router").cmd))
                 for name, l in (("routed", routed), ("svi", svi))}
        assert table["routed"] == table["svi"]
        for l in (routed, svi):
            assert [campus.icmp_from(l, "phone1", d) for d in ("192.168.254.1", "rootns", "pc2")] == \
                ["reply", "reply", "unreachable 3/13 (administratively prohibited) from 192.168.2.1"]   # the deny answers 3/13
        macs = parse_show(svi.service("sw3550", "ios"), "show mac address-table")
        router = trunks.macs(svi, "router")
        assert [(r["vlan_id"], r["destination_port"]) for r in macs if r["destination_address"] in router] \
            == [("10", ["Fa0/1"])]
    finally:
        routed.down()
        if svi is not None:
            svi.down()
    assert leftovers("tjrouted") == [] and leftovers("tjsvi") == []


def _port_state(lab, node) -> dict[str, tuple[str, str, str]]:
    n = lab.node(node)
    out = n.run(OvsPaths.of(n.run_dir).vsctl("--format=csv", "--no-headings", "--columns=name,tag,trunks,vlan_mode",
                                             "list", "port")).stdout
    import csv
    return {r[0]: tuple(r[1:]) for r in csv.reader(out.splitlines())}


def test_generated_configure_texts_apply_in_full_or_change_nothing():
    """A seeded generator of `configure terminal` input for the access switch: good and bad
    interface names, switchport modes, VLAN lists (add/remove/except/none/all, out of range,
    malformed), native VLANs, access VLANs, foreign commands and junk. Each call either
    raises ValueError/IosConfigError and leaves every OVS port as it was, or is applied
    in full: every port then carries exactly the VLANs the switch's model says."""
    import random

    from labkit.lab.ovs import port_columns

    rnd = random.Random(1313)
    names = ["FastEthernet0/1", "Fa0/2", "fast 0/3", "Fa0/5", "Fa0/4", "Fa0/99", "Gi0/1", "Vlan2", "Fa0/1.5", "eth0", "x"]
    lists = ["1", "2", "1,2", "1-2", "none", "all", "add 2", "remove 2", "except 1", "add 3", "1-4094", "0",
             "4095", "2-1", "1,,2", "a", "", "1 2"]

    def line() -> str:
        return rnd.choice([
            f" switchport mode {rnd.choice(['access', 'trunk', 'dynamic desirable', 'bogus'])}",
            f" switchport trunk allowed vlan {rnd.choice(lists)}",
            f" switchport trunk native vlan {rnd.choice(['1', '2', '3', '0', 'x'])}",
            f" switchport access vlan {rnd.choice(['1', '2', '3', '4095', 'x'])}",
            " description generated", " no switchport trunk allowed vlan", " shutdown",
            " ip address 10.9.9.9 255.255.255.0", " spanning-tree portfast", "!", " exit",
            "ip route 0.0.0.0 0.0.0.0 10.0.0.1", "\x00\x1b[31m", "interface " + rnd.choice(names)])

    lab = Lab.up("campus-trunk", name="tconf", replace=True)
    try:
        sw, spec = lab.service("sw2950", "ios"), lab.node("sw2950").spec
        applied = refused = 0
        for _ in range(300):
            text = "\n".join(["interface " + rnd.choice(names)] + [line() for _ in range(rnd.randint(0, 4))])
            before = _port_state(lab, "sw2950")
            try:
                sw.configure(text)
            except (ValueError, IosConfigError):
                refused += 1
                assert _port_state(lab, "sw2950") == before, text
                continue
            applied += 1
            now = _port_state(lab, "sw2950")
            for port in ("fa0-1", "fa0-2", "fa0-3", "fa0-5"):
                want = dict(c.split("=", 1) for c in port_columns(spec, port))
                tag, trunks_, mode = now[port]
                assert tag == want.get("tag", "[]"), (text, port, now[port], want)
                got = sorted(int(v) for v in trunks_.strip("[]").replace(",", " ").split()) if trunks_ != "[]" else []
                assert got == sorted(int(v) for v in want["trunks"].split(",")) if "trunks" in want else got == [], \
                    (text, port, now[port], want)
                assert mode == want.get("vlan_mode", "[]"), (text, port, now[port], want)
        assert applied > 30 and refused > 30, (applied, refused)
    finally:
        assert lab.down() == []
