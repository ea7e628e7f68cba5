"""Checking a capture of RTP: per SSRC payload type, sequence, timestamps, spacing, jitter.

Notebooks feed it scapy packets from a lab capture; tests feed it (time, bytes) pairs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .packet import PT_PCMU, RtpError, RtpPacket
from .ulaw import FRAME_MS, SAMPLE_RATE


@dataclass
class StreamReport:
    """Checks of one SSRC. Spacing is arrival-to-arrival; jitter is how far each arrival
    is from where its RTP timestamp puts it (relative to the median), so a packet that
    is late and its catching-up successor show as jitter, not as drift."""

    ssrc: int
    packets: int
    payload_types: list[int]
    marker_first: bool
    seq_gaps: int          # places where the sequence number did not go up by 1
    ts_errors: int         # places where the timestamp did not go up by 160 per seq step
    mean_spacing_ms: float
    max_jitter_ms: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RtpReport:
    """Result of ``check_rtp``. ``ok`` is True when every stream passed; ``problems`` says
    what failed in plain words; ``str(report)`` is a small table for a notebook."""

    packets: int
    undecodable: int
    streams: list[StreamReport]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.streams)

    def table(self, timings: bool = False) -> str:
        """One line per stream. Without ``timings`` the text is deterministic (nbval)."""
        head = "ssrc        packets  pt  marker  seq_gaps  ts_errors  ok"
        if timings:
            head += "   spacing_ms  jitter_ms"
        lines = [head]
        for s in self.streams:
            line = (f"0x{s.ssrc:08x}  {s.packets:7d}  {','.join(map(str, s.payload_types)):>2}"
                    f"  {'yes' if s.marker_first else 'no':>6}  {s.seq_gaps:8d}  "
                    f"{s.ts_errors:9d}  {'yes' if s.ok else 'NO'}")
            if timings:
                line += f"   {s.mean_spacing_ms:10.2f}  {s.max_jitter_ms:9.2f}"
            lines.append(line)
        return "\n".join(lines)

    def __str__(self) -> str:
        text = self.table()
        if self.problems:
            text += "\n" + "\n".join("problem: " + p for p in self.problems)
        return text


def check_rtp(packets: Iterable, payload_type: int = PT_PCMU,
              spacing_ms: float = FRAME_MS, spacing_tolerance_ms: float = 1.0,
              jitter_tolerance_ms: float = 10.0, require_marker: bool = False) -> RtpReport:
    """Check captured RTP: ``packets`` is ``[(arrival_time_seconds, rtp_bytes), ...]``
    (e.g. ``[(p.time, bytes(p[UDP].payload)) for p in capture]``), or scapy packets
    straight from ``sniff()`` / ``rdpcap()``: their UDP payload and ``time`` are used, and
    packets without UDP (ARP, ICMP...) are left out.

    Per SSRC, in arrival order: payload type is ``payload_type`` everywhere; sequence
    numbers go up by one (mod 2^16); timestamps go up by 160 per sequence step (mod 2^32),
    except at a packet with the marker bit, which starts a talkspurt and may leap forward;
    within talkspurts the mean spacing is ``spacing_ms`` ± ``spacing_tolerance_ms`` and no
    packet arrives more than ``jitter_tolerance_ms`` away from where its timestamp says. ``require_marker`` also
    demands the marker bit on the first packet (true when the capture starts with the call).
    """
    by_ssrc: dict[int, list[tuple[float, RtpPacket]]] = {}
    undecodable = 0
    total = 0
    for item in packets:
        if isinstance(item, tuple):
            arrival, data = item
        else:   # a scapy packet
            udp = item.getlayer("UDP") if hasattr(item, "getlayer") else None
            if udp is None:
                continue
            arrival, data = item.time, bytes(udp.payload)
        total += 1
        try:
            pkt = RtpPacket.parse(data)
        except RtpError:
            undecodable += 1
            continue
        by_ssrc.setdefault(pkt.ssrc, []).append((float(arrival), pkt))
    problems: list[str] = []
    if undecodable:
        problems.append(f"{undecodable} of {total} packets are not RTP")
    if not by_ssrc:
        problems.append("no RTP packets")
    streams = []
    samples_per_frame = round(spacing_ms * SAMPLE_RATE / 1000)
    for ssrc, items in by_ssrc.items():
        items.sort(key=lambda it: it[0])
        sp: list[str] = []
        pts = sorted({p.payload_type for _, p in items})
        bad_pt = sum(1 for _, p in items if p.payload_type != payload_type)
        if bad_pt:
            sp.append(f"{bad_pt} packets with payload type other than {payload_type}")
        gaps = ts_err = 0
        for (_, a), (_, b) in zip(items, items[1:]):
            step = (b.sequence - a.sequence) & 0xFFFF
            if step != 1:
                gaps += 1
            # a marked packet starts a talkspurt: its timestamp may leap over the silence
            # before it (RFC 3551 4.1), so only unmarked steps must be 160 per packet
            if step and not b.marker and (b.timestamp - a.timestamp) & 0xFFFFFFFF != \
                    (samples_per_frame * step) & 0xFFFFFFFF:
                ts_err += 1
        if gaps:
            sp.append(f"{gaps} sequence number jumps (lost, duplicated or reordered packets)")
        if ts_err:
            sp.append(f"{ts_err} timestamp steps that are not {samples_per_frame} per packet")
        marker_first = items[0][1].marker
        if require_marker and not marker_first:
            sp.append("the first packet has no marker bit")
        mean_spacing = jitter = 0.0
        spurts = _talkspurts(items)
        steps = [b[0] - a[0] for spurt in spurts for a, b in zip(spurt, spurt[1:])]
        if steps:
            mean_spacing = sum(steps) / len(steps) * 1e3
            jitter = max(_jitter(spurt) for spurt in spurts) * 1e3
            if abs(mean_spacing - spacing_ms) > spacing_tolerance_ms:
                sp.append(f"mean spacing {mean_spacing:.2f} ms, expected {spacing_ms} "
                          f"± {spacing_tolerance_ms} ms")
            if jitter > jitter_tolerance_ms:
                sp.append(f"a packet is {jitter:.1f} ms off its timestamp's time "
                          f"(tolerance {jitter_tolerance_ms} ms)")
        streams.append(StreamReport(ssrc, len(items), pts, marker_first, gaps, ts_err,
                                    round(mean_spacing, 3), round(jitter, 3), sp))
        problems += [f"ssrc 0x{ssrc:08x}: {p}" for p in sp]
    streams.sort(key=lambda s: s.ssrc)
    return RtpReport(total, undecodable, streams, problems)


def _talkspurts(items: list[tuple[float, RtpPacket]]) -> list[list[tuple[float, RtpPacket]]]:
    """A stream cut where a packet carries the marker bit (the start of a talkspurt: a relay
    taking over from music, a phone resuming after silence).  Spacing and jitter are measured
    inside talkspurts; the silence between two is not a late packet."""
    out: list[list[tuple[float, RtpPacket]]] = []
    for it in items:
        if not out or it[1].marker:
            out.append([])
        out[-1].append(it)
    return out


def _jitter(spurt: list[tuple[float, RtpPacket]]) -> float:
    """How far the farthest packet arrives from where its timestamp puts it, in seconds,
    relative to the median packet of the talkspurt."""
    t0, p0 = spurt[0]
    offsets = sorted((t - t0) - ((p.timestamp - p0.timestamp) & 0xFFFFFFFF) / SAMPLE_RATE
                     for t, p in spurt)
    median = offsets[len(offsets) // 2]
    return max(abs(o - median) for o in offsets)
