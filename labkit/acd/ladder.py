"""SIP ladder diagrams and RTP checks from a capture (pcap), for notebook 04 and the tests.

scapy reads the packets (it has no SIP layer, so the UDP payloads go through labkit's own SIP
parser); matplotlib draws the ladder.  ``ladder_table`` is the deterministic text form that a
notebook prints (times are left out unless asked for, so nbval can compare it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from labkit import rtp
from .sip.message import SipParseError, parse


@dataclass
class LadderRow:
    time: float
    src: str
    dst: str
    label: str
    call_id: str
    is_request: bool


def _udp_packets(pcap: str | Path) -> Iterable[tuple[float, str, str, bytes]]:
    """(time, src, dst, payload) of every UDP datagram, IP fragments reassembled: a SIP
    message larger than the link's MTU (a PBX's dialog-info NOTIFY) arrives in pieces."""
    from scapy.layers.inet import IP, UDP
    from scapy.utils import PcapReader

    with PcapReader(str(pcap)) as reader:
        packets = list(reader)
    if any(IP in p and (p[IP].flags.MF or p[IP].frag) for p in packets):
        from scapy.layers.inet import defragment
        packets = list(defragment(packets))
    for pkt in packets:
        if IP in pkt and UDP in pkt and not pkt[IP].flags.MF and not pkt[IP].frag:
            ip, udp = pkt[IP], pkt[UDP]
            yield (float(pkt.time), f"{ip.src}:{udp.sport}", f"{ip.dst}:{udp.dport}", bytes(udp.payload))


def sip_packets(pcap: str | Path, call_id: str | None = None):
    """(time, src, dst, SipMessage) for every SIP message in the capture, in order."""
    for t, src, dst, payload in _udp_packets(pcap):
        if not payload[:1].isalpha():
            continue
        try:
            msg = parse(payload)
        except SipParseError:
            continue
        if call_id and msg.call_id != call_id:
            continue
        yield t, src, dst, msg


def row_of(t: float, src: str, dst: str, msg) -> LadderRow:
    """The ladder row of one message: method, or status with the CSeq method, plus body type."""
    if msg.is_request:
        label = msg.method
    else:
        label = f"{msg.status} {msg.reason}".strip() + f" ({msg.cseq[1]})"
    ctype = msg.content_type
    if ctype:
        label += f" [{ctype.split('/')[-1]}]"
    return LadderRow(t, src, dst, label, msg.call_id, msg.is_request)


def sip_rows(pcap: str | Path, call_id: str | None = None) -> list[LadderRow]:
    """Every SIP message in the capture, in order (optionally one call's only)."""
    return [row_of(*p) for p in sip_packets(pcap, call_id)]


def ladder_table(rows: list[LadderRow], names: dict[str, str] | None = None,
                 times: bool = False) -> str:
    """One line per message: ``caller -> acd  INVITE [sdp]``; names map ip:port (or ip) to a role."""
    names = names or {}

    def name(ep: str) -> str:
        return names.get(ep) or names.get(ep.rsplit(":", 1)[0]) or ep

    t0 = rows[0].time if rows else 0.0
    lines = []
    for r in rows:
        prefix = f"{(r.time - t0) * 1000:8.1f} ms  " if times else ""
        lines.append(f"{prefix}{name(r.src):>14} -> {name(r.dst):<14} {r.label}")
    return "\n".join(lines)


def plot_ladder(rows: list[LadderRow], names: dict[str, str] | None = None, ax=None,
                title: str = "SIP ladder"):
    """Draw the ladder: one vertical line per endpoint, one arrow per message, time downwards."""
    import matplotlib.pyplot as plt

    names = names or {}

    def name(ep: str) -> str:
        return names.get(ep) or names.get(ep.rsplit(":", 1)[0]) or ep

    order: list[str] = []
    for r in rows:
        for ep in (name(r.src), name(r.dst)):
            if ep not in order:
                order.append(ep)
    x = {ep: i for i, ep in enumerate(order)}
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 * max(2, len(order)), 0.35 * len(rows) + 1.5))
    n = len(rows)
    for ep, i in x.items():
        ax.plot([i, i], [0, n + 1], color="0.6", lw=1)
        ax.text(i, -0.3, ep, ha="center", va="bottom", fontsize=9, weight="bold")
    for k, r in enumerate(rows, start=1):
        a, b = x[name(r.src)], x[name(r.dst)]
        color = "tab:blue" if r.is_request else "tab:green"
        ax.annotate("", xy=(b, k), xytext=(a, k),
                    arrowprops={"arrowstyle": "->", "color": color, "lw": 1.2})
        ax.text((a + b) / 2, k - 0.12, r.label, ha="center", va="bottom", fontsize=7, color=color)
    ax.set_ylim(n + 1, -1)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.axis("off")
    ax.set_title(title)
    return ax


def rtp_check_pcap(pcap: str | Path, dst: str | None = None, **kw) -> rtp.RtpReport:
    """Check the RTP in a capture: PT 0 (PCMU), 20 ms spacing, consecutive sequence numbers.

    ``dst`` ("ip:port" or "ip") keeps one direction; SIP datagrams are skipped."""
    pkts = []
    for t, src, d, payload in _udp_packets(pcap):
        if dst and d != dst and d.rsplit(":", 1)[0] != dst:
            continue
        if len(payload) >= 12 and payload[0] >> 6 == 2:
            pkts.append((t, payload))
    return rtp.check_rtp(pkts, **kw)
