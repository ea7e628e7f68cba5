"""The campus lesson (the 3550 post), root side: what notebook 01 and the campus tests call.

These helpers only call into lab nodes; every packet is sent by the in-node probes of
labkit.probes.campus (scapy) from inside a lab host.

    acl_counts(lab)        {(ACL, seq): packets} from the live nft counters
    probe(lab, src, dst, what)   one probe and the ACL lines it moved (a ProbeRow)
    acl_matrix(lab)        the probes between VLAN1 and VLAN2 with the ACL counter deltas
    check_policy(lab)      the intended ACL behaviour (POLICY), PASS/FAIL per probe
    router_down/router_up  the seed's resilience claim
    icmp_from/syn_from     one probe from a node to a node or an address
    hops(lab, src, dst, ttls)    who answers an echo request sent with each TTL, and how
    forwards(lab, port)    the router's NAT translations of one inside port (outside port masked)
    note_text(note)        a labkit.ios note, wrapped for a notebook
"""
from __future__ import annotations

import json
import os
import textwrap
from contextlib import ExitStack
from dataclasses import dataclass

from labkit.ios import show
from labkit.probes.campus import EchoServer
from labkit.probes.icmp import describe
from labkit.procs import wait_until


def acl_counts(lab, node: str = "sw3550") -> dict[tuple[str, str], int]:
    """{(ACL, seq or "implicit"): packets} from the live nft counters."""
    return {(a.acl, "implicit" if a.seq is None else str(a.seq)): a.matches
            for a in show.access_lists(lab.node(node).cmd)}


@dataclass
class ProbeRow:
    src: str
    dst: str
    what: str
    result: str
    counted: dict[str, int]     # ACL entry -> packets it matched during this probe

    def line(self) -> str:
        moved = ", ".join(f"{k} +{v}" for k, v in self.counted.items()) or "-"
        return f"{self.src:>7} -> {self.dst:<13} {self.what:<10} {self.result:<20} {moved}"


def probe(lab, src: str, dst_node: str, what: str, port: int = 7, acl_node: str = "sw3550",
          acl: str = "102") -> ProbeRow:
    """Run one probe (icmp | tcp_syn | tcp_ack | udp | tcp_session) and see which ACL lines counted it."""
    dst = lab.node(dst_node).live_ip()
    before = acl_counts(lab, acl_node)
    args = (dst,) if what == "icmp" else (dst, port)
    result = lab.node(src).call(f"labkit.probes.campus:{what}", *args)
    after = acl_counts(lab, acl_node)
    counted = {f"{a} line {s}" if s != "implicit" else f"{a} implicit deny": after[(a, s)] - before.get((a, s), 0)
               for (a, s) in after if a == acl and after[(a, s)] != before.get((a, s), 0)}
    return ProbeRow(src, dst_node, what, result, counted)


def note_text(note: str, width: int = 92) -> str:
    """A labkit.ios note for a notebook: file name instead of the path, wrapped."""
    head, _, rest = note.partition(": ")
    return textwrap.fill(f"{os.path.basename(head)}: {rest}", width, subsequent_indent="    ")


def _addr(lab, dst: str) -> str:
    return dst if dst[:1].isdigit() else lab.node(dst).live_ip()


def icmp_from(lab, src: str, dst: str) -> str:
    """One scapy echo request from node `src` to a node (or an address)."""
    return lab.node(src).call("labkit.probes.campus:icmp", _addr(lab, dst))


def syn_from(lab, src: str, dst: str, port: int) -> str:
    """One scapy SYN from node `src` to a node (or an address)."""
    return lab.node(src).call("labkit.probes.campus:tcp_syn", _addr(lab, dst), port)


def hops(lab, src: str, dst: str, ttls, wait: float = 2.0) -> list[str]:
    """One echo request from node `src` to address `dst` per TTL: who answers it and with
    what ("ttl 2: 192.168.254.1 time exceeded", named by labkit.probes.icmp.describe), or
    "no answer" after `wait` seconds."""
    lines = []
    for ttl in ttls:
        got = lab.node(src).call("labkit.probes.icmp:answers", dst, ttl=ttl, wait=wait)
        what = f"{got[0][1]} {describe(got[0][2], got[0][3])}" if got else "no answer"
        lines.append(f"ttl {ttl}: {what}")
    return lines


def forwards(lab, port: int, node: str = "router") -> list[str]:
    """`show ip nat translations` rows of the router whose inside local port is `port`, as
    text: the static forward, and one row per session through it with the outside port
    shown as * (it is chosen by the outside host, so it differs on every run)."""
    rows = []
    for t in show.nat_translations(lab.node(node).cmd):
        if t.inside_local.endswith(f":{port}"):
            outside = [a if a == "---" else a.rsplit(":", 1)[0] + ":*" for a in (t.outside_local, t.outside_global)]
            rows.append(f"{t.protocol:<5}{t.inside_global:<22}{t.inside_local:<22}{outside[0]:<22}{outside[1]}")
    return sorted(set(rows))


def acl_matrix(lab, vlan1: str = "pc2", vlan2: str = "acd", port: int = 7) -> list[ProbeRow]:
    """ICMP, TCP SYN, UDP both ways between a VLAN1 and a VLAN2 host (echo servers on both)."""
    rows = []
    with EchoServer(lab.node(vlan1), port), EchoServer(lab.node(vlan2), port):
        for src, dst in ((vlan2, vlan1), (vlan1, vlan2)):
            for what in ("icmp", "tcp_syn", "udp"):
                rows.append(probe(lab, src, dst, what, port))
    return rows


# What the seed's ACL (with `established`) is meant to do, probe by probe.
POLICY: list[tuple[str, str, str, str]] = [
    # VLAN2 may not talk to VLAN1, cannot open a connection, nor send a datagram: the 3550
    # answers each with ICMP 3/13 from Vlan2 (IOS's `ip unreachables`, at most one per 500 ms)
    ("acd", "pc2", "icmp", "unreachable 3/13 (administratively prohibited) from 192.168.2.1"),
    ("acd", "pc2", "tcp_syn", "unreachable 3/13 (administratively prohibited) from 192.168.2.1"),
    ("acd", "pc2", "udp", "unreachable 3/13 (administratively prohibited) from 192.168.2.1"),
    ("pc2", "acd", "tcp_syn", "SYN-ACK"),      # VLAN1 opens TCP to VLAN2: the reply is "established"
    ("acd", "rootns", "icmp", "reply"),        # VLAN2 keeps the internet (a root server)
]


@dataclass
class PolicyResult:
    rows: list[tuple[ProbeRow, str]]     # (what happened, what the policy expects)

    @property
    def ok(self) -> bool:
        return all(r.result == want for r, want in self.rows)

    def __str__(self) -> str:
        return "\n".join(f"{'PASS' if r.result == want else 'FAIL'}  {r.src:>4} -> {r.dst:<6} "
                         f"{r.what:<8} {r.result:<9} (want {want})" for r, want in self.rows)

    def failures(self) -> str:
        """The failing probes as feedback: "acd -> pc2 icmp: reply (want no reply); ..."."""
        return "; ".join(f"{r.src} -> {r.dst} {r.what}: {r.result} (want {want})"
                         for r, want in self.rows if r.result != want)


def check_policy(lab, port: int = 7, policy: list[tuple[str, str, str, str]] = POLICY) -> PolicyResult:
    """Probe an intended ACL behaviour, (src, dst, probe, wanted result) rows (default POLICY),
    with echo servers on the nodes probed by TCP or UDP."""
    rows = []
    with ExitStack() as stack:
        for name in sorted({dst for _, dst, what, _ in policy if what != "icmp"}):
            stack.enter_context(EchoServer(lab.node(name), port))
        for src, dst, what, want in policy:
            rows.append((probe(lab, src, dst, what, port), want))
    return PolicyResult(rows)


def _links(node) -> list[dict]:
    return [l for l in json.loads(node.run(["ip", "-j", "link", "show"]).stdout or "[]")
            if l["ifname"] != "lo"]


def _ifaces(node) -> list[str]:
    return [l["ifname"].split("@")[0] for l in _links(node)]


def _gateways(node) -> list[str]:
    routes = json.loads(node.run(["ip", "-j", "route", "show", "table", "main"]).stdout or "[]")
    return sorted({r["gateway"] for r in routes if r.get("gateway")})


def _settled(node, answered: set[str]) -> bool:
    """Every link operationally up, and every next hop of the routing table answered once.

    `ip link set up` returns before the kernel's link watcher has marked the veth running on
    both sides; until it has, what is sent there is dropped, and the first ARP request of a
    probe can be lost (the retry comes a second later, after a one-packet probe gave up). A
    ping per next hop also leaves the neighbour entries resolved on both ends of each link.
    """
    if any(l.get("operstate") != "UP" for l in _links(node)):
        return False
    for gw in _gateways(node):
        if gw not in answered and node.run(["ping", "-n", "-c1", "-W1", gw]).returncode == 0:
            answered.add(gw)
    return answered >= set(_gateways(node))


def router_down(lab, node: str = "router") -> list[str]:
    """Power the router off as far as the network can tell: every interface down."""
    n = lab.node(node)
    names = _ifaces(n)
    for name in names:
        n.run(["ip", "link", "set", "dev", name, "down"], check=True)
    return names


def router_up(lab, node: str = "router", timeout: float = 15.0) -> list[str]:
    """Power it back on: interfaces up, the IOS config applied again (routes, NAT), and
    return once its links run and its next hops answer (raises WaitTimeout otherwise)."""
    n = lab.node(node)
    names = _ifaces(n)
    for name in names:
        n.run(["ip", "link", "set", "dev", name, "up"], check=True)
    lab.service(node, "ios").reapply()
    answered: set[str] = set()
    wait_until(lambda: _settled(n, answered), timeout, poll=0.1,
               what=f"{node}'s links up and its next hops answering after power-on")
    return names
