"""Send one packet that the caller built, from inside a lab node, and bring back its answer.

This is how a lesson "shows the work": the notebook builds a packet with scapy and prints
it field by field (`pkt.show()`), the node sends exactly those bytes, and the answer comes
back as bytes for the notebook to take apart (`IP(answer).show()`):

    pkt = IP(src="192.168.2.10", dst="192.168.1.20") / TCP(sport=40001, dport=7, flags="A", seq=1000, ack=1)
    answer = lab.node("acd").call("labkit.probes.raw:exchange", bytes(pkt))

Give `src` (the node's address): left out, scapy would take it from the routing table of
the caller's process, which is not the node's.  It works at layer 3: the node's own
routing table picks the interface.  Only the lab node sends; the caller's process never
touches the wire.
"""
from __future__ import annotations


def exchange(packet: bytes, wait: float = 2.0) -> bytes | None:
    """Send the IPv4 packet `packet` and return the first packet that answers it (scapy's
    matching: the reply, or an ICMP error quoting it), or None after `wait` seconds (not
    `timeout`: node.call takes that one)."""
    from scapy.all import IP, sr1
    answer = sr1(IP(packet), timeout=wait, verbose=False)
    return bytes(answer) if answer is not None else None
