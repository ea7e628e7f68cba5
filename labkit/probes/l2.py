"""Layer-2 probes run inside a lab node (node.call("labkit.probes.l2:NAME", ...)).

    frames(iface, seconds)   capture what crosses one interface of the node: each frame's
                             802.1Q tag (VLAN ID and priority, or None when untagged),
                             MACs, and a one-line summary of what it carries

The kernel hands a packet socket the 802.1Q tag apart from the frame (VLAN offload);
scapy puts it back from the socket's aux data, so a tagged frame reads as Ether/Dot1Q
exactly as it was on the wire (tcpdump -e shows the same).
"""
from __future__ import annotations

from labkit.lab.safety import require_lab_netns


def frames(iface: str, seconds: float = 2.0, count: int = 0, bpf: str | None = None) -> list[dict]:
    """Frames seen on `iface` for `seconds` (or until `count` frames): dicts with vlan, prio,
    src, dst, and what: the summary of the payload (ARP, IP/ICMP ...)."""
    require_lab_netns("layer-2 capture")
    from scapy.all import ARP, IP, Dot1Q, Ether, conf, sniff

    conf.verb = 0
    out = []
    for pkt in sniff(iface=iface, timeout=seconds, count=count, filter=bpf):
        if not pkt.haslayer(Ether):
            continue
        tag = pkt[Dot1Q] if pkt.haslayer(Dot1Q) else None
        inner = pkt[Dot1Q].payload if tag is not None else pkt[Ether].payload
        if pkt.haslayer(IP):
            what = f"IP {pkt[IP].src} > {pkt[IP].dst} {pkt[IP].payload.name}"
        elif pkt.haslayer(ARP):
            what = f"ARP {'who-has' if pkt[ARP].op == 1 else 'is-at'} {pkt[ARP].pdst} from {pkt[ARP].psrc}"
        else:
            what = inner.name
        out.append({"vlan": int(tag.vlan) if tag is not None else None,
                    "prio": int(tag.prio) if tag is not None else None,
                    "src": pkt[Ether].src, "dst": pkt[Ether].dst, "what": what})
    return out
