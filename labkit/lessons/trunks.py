"""The trunks lesson (notebook 07), root side: what the notebook and the layer-2 tests call.

Frames are captured with the engine's capture (tcpdump inside the node:
``with lab.node(NODE).capturing(IFACE) as cap: ...``, then ``cap.packets``); the helpers
here only read those packets. Traffic is plain ping from lab hosts. Nothing here knows
IOS: spanning-tree state comes from the node's private Open vSwitch (labkit.lab.ovs), so
the same helpers serve IOS and plain topologies.

    frame_tags(packets)                        each Ethernet frame's 802.1Q tag and what it carries
    tag_table(packets)                         (VLAN, priority, what) rows, one per flow
    stp_ports(lab, node)                       port -> (role, state) of the node's tree
    pull_link(lab, node, iface, src, dst)      take a link down; seconds until src reaches dst
    restore_link(lab, node, iface)             put it back; return once the tree settled
    macs(lab, node)                            the node's MAC addresses, in Cisco's dotted form
    rx_packets(lab, node)                      frames each of the node's ports has received
    tidied_up(svc)                             the exercise's broken change: VLAN 2 off both uplinks
    carries(vlan_list, vid)                    whether a parsed `trunking_vlans` list includes a VLAN
    switchports(svc)                           `show interfaces switchport` parsed by ntc-templates, by port
    campus(lab)                                the campus as its config files have it (a section's set-up)
    down(*labs)                                tear down those of the labs that are up
"""
from __future__ import annotations

import json
import time

from labkit.lab.ovs import PrivateOvs
from labkit.procs import WaitTimeout, wait_until


def ping(lab, src: str, dst: str, wait: float = 2.0) -> bool:
    """Does a lab node reach an address (or a node's address) within `wait` seconds? One echo
    request at a time (`ping -c1 -W1`), again until one is answered or the time is up; the
    last try may end up to a second later. An error does not end the wait. `ping -c1 -wN`
    would stop at the first one: an ARP still failing from an earlier ping (the kernel
    answers the queued request with "host unreachable" about 3 s after that ping began)
    made a check right after a fix give up within a second. One lost probe is not an answer
    either: the first frame after a port is re-tagged, or while an ARP is pending, may be
    lost (about 1 in 10 right after `configure`)."""
    addr = lab.address(dst) if not dst[0].isdigit() else dst
    node = lab.node(src)
    per_try = max(0.2, min(1.0, wait))
    try:
        return wait_until(lambda: node.run(["ping", "-n", "-c1", f"-W{per_try:g}", addr]).returncode == 0,
                          wait, 0.05, what=f"{src} reaching {addr}")
    except WaitTimeout:
        return False


def frame_tags(packets) -> list[dict]:
    """Each Ethernet frame of a capture on a named port (``cap.packets``): a dict with vlan
    and prio (the 802.1Q tag's VLAN ID and priority, None when untagged), src, dst, and
    what: a one-line summary of what it carries (ARP, IP/ICMP ...). Frames without an
    Ethernet header (a capture on "any" is Linux cooked) are left out.

    libpcap puts back the tag the kernel hands apart from a received frame (VLAN offload),
    so a tagged frame reads as Ether/Dot1Q exactly as it was on the wire."""
    from scapy.all import ARP, IP, Dot1Q, Ether   # reading packets: nothing is sent

    out = []
    for pkt in packets:
        if not pkt.haslayer(Ether):
            continue
        tag = pkt[Dot1Q] if pkt.haslayer(Dot1Q) else None
        if pkt.haslayer(IP):
            what = f"IP {pkt[IP].src} > {pkt[IP].dst} {pkt[IP].payload.name}"
        elif pkt.haslayer(ARP):
            what = f"ARP {'who-has' if pkt[ARP].op == 1 else 'is-at'} {pkt[ARP].pdst} from {pkt[ARP].psrc}"
        else:
            what = (tag.payload if tag is not None else pkt[Ether].payload).name
        out.append({"vlan": int(tag.vlan) if tag is not None else None,
                    "prio": int(tag.prio) if tag is not None else None,
                    "src": pkt[Ether].src, "dst": pkt[Ether].dst, "what": what})
    return out


def tag_table(packets) -> list[tuple[str, str, str]]:
    """One row per distinct (tag, priority, what) of a capture's frames, with the IP addresses
    kept: what a student compares with the VLAN plan. Untagged frames show VLAN '-' (the
    native VLAN)."""
    rows = []
    for f in frame_tags(packets):
        what = f["what"].replace("echo-request", "echo").replace("echo-reply", "echo")
        row = ("-" if f["vlan"] is None else str(f["vlan"]), "-" if f["prio"] is None else str(f["prio"]), what)
        if row not in rows:
            rows.append(row)
    return sorted(rows)


def stp_ports(lab, node: str) -> dict[str, tuple[str, str]]:
    """Spanning tree as the node's Open vSwitch has it: port -> (role, state)."""
    n = lab.node(node)
    return {p: rs for p, rs in PrivateOvs.of(n).stp_ports().items() if p in n.spec.interfaces}


def pull_link(lab, node: str, iface: str, src: str, dst: str, timeout: float = 30.0) -> float:
    """Take node:iface down (as if its cable were pulled: the peer loses carrier too) and
    return the seconds until `src` reaches `dst` again (WaitTimeout after `timeout`)."""
    t0 = time.monotonic()
    lab.node(node).run(["ip", "link", "set", "dev", iface, "down"], check=True)
    wait_until(lambda: ping(lab, src, dst, 0.2), timeout, 0.02, what=f"{src} reaching {dst} again")
    return time.monotonic() - t0


def restore_link(lab, node: str, iface: str, timeout: float = 60.0) -> None:
    """Plug node:iface back in; return once the lab's spanning tree has settled again, on
    both ends of every trunk (the far switch's designated port may wait out its timers)."""
    lab.node(node).run(["ip", "link", "set", "dev", iface, "up"], check=True)
    lab.wait_spanning_tree(timeout)


def macs(lab, node: str) -> set[str]:
    """Every MAC address of a node's interfaces, as IOS prints them (aabb.ccdd.eeff)."""
    from labkit.ios.show import dotted_mac

    links = json.loads(lab.node(node).run(["ip", "-j", "link", "show"]).stdout or "[]")
    return {dotted_mac(l["address"]) for l in links if l.get("address") and l["ifname"] != "lo"}


def rx_packets(lab, node: str) -> dict[str, int]:
    """Frames received so far on each of a node's linked interfaces (the kernel's counters)."""
    n = lab.node(node)
    stats = json.loads(n.run(["ip", "-s", "-j", "link", "show"]).stdout or "[]")
    linked = {i.name for i in n.spec.interfaces.values() if not i.internal}
    return {s["ifname"]: s["stats64"]["rx"]["packets"] for s in stats if s["ifname"] in linked}


def tidied_up(svc) -> list[str]:
    """Notebook 07's exercise: a colleague's "tidy-up" that drops VLAN 2 from both of the access
    switch's uplinks (kept here so the notebook does not print the answer)."""
    return svc.configure("interface range FastEthernet0/1 - 2\n switchport trunk allowed vlan 1")


def carries(vlan_list: list[str], vid: int) -> bool:
    """`['1-2', '5']` (ntc-templates' TRUNKING_VLANS) carries VLAN 2: ranges, ALL, NONE."""
    for item in vlan_list:
        if item.upper() == "ALL":
            return True
        lo, _, hi = item.partition("-")
        if lo.isdigit() and int(lo) <= vid <= int(hi or lo):
            return True
    return False


def switchports(svc) -> dict[str, dict]:
    """`show interfaces switchport` parsed with ntc-templates (cisco_ios), as a Netmiko script
    parses a real switch's: one row per port, by its short name (Fa0/1)."""
    from ntc_templates.parse import parse_output

    return {row["interface"]: row for row in parse_output(
        platform="cisco_ios", command="show interfaces switchport", data=svc.show("show interfaces switchport"))}


def campus(lab=None, name: str = "trunks", topology: str = "campus-trunk"):
    """Notebook 07's campus as its config files have it, for a section that needs it whatever
    ran before: `lab` itself if it is up and no switch's running config differs from its file
    (nothing was changed with configure()), else the topology brought up afresh under `name`
    (replace=True; up to ~25 s while spanning tree settles)."""
    from labkit.ios.source import read, split_lines
    from labkit.lab import Lab

    def as_filed(svc) -> bool:
        return svc.running_config() == "\n".join(split_lines(read(svc.ios_path()))) + "\n"

    if (lab is not None and lab.state.status == "up" and lab.topo.path.stem == topology
            and all(as_filed(svc) for svc in lab.services if svc.kind == "ios")):
        return lab
    return Lab.up(topology, name=name, replace=True)


def down(*labs) -> list[str]:
    """Tear down each of `labs` that is still up (a section run again finds some down
    already); what could not be removed (empty: clean)."""
    return [left for lab in labs if lab.state.status == "up" for left in lab.down()]
