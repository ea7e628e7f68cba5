"""Relaying RTP from one call leg to another, renumbered as the relaying side's own stream.

A back-to-back user agent that carries media between two legs must not pass the far end's
numbering through: each leg's receiver saw (or will see) the relay's SSRC, sequence numbers
and timestamps, and a jump in them reads as loss or a clock fault.  ``Renumber`` rewrites
each forwarded packet onto ONE outgoing numbering per leg (RFC 3550 5.1, 8.1):

- its SSRC is the leg's, not the source's;
- sequence numbers continue from the last packet the leg received from us (the music the
  caller heard, say), and keep the source's gaps, so the receiver still sees real loss;
- timestamps continue from ours, moved on by the wall time that passed, so a receiver's
  jitter buffer sees no clock jump;
- the first packet of each new source carries the marker bit (a new talkspurt);
- only G.711 µ-law (payload type 0) passes: the seed's ACD speaks nothing else.  CSRCs,
  header extensions and padding are the source's business and are dropped.

Pure logic over bytes and a clock value, so tests run it without sockets; the thread that
moves the packets is ``RtpScheduler`` (its ``add_relay``).
"""
from __future__ import annotations

import struct

from .packet import HEADER, PT_PCMU
from .ulaw import SAMPLE_RATE

_EXT = struct.Struct("!HH")


class Renumber:
    """The outgoing numbering of one relayed direction.

    ``ssrc``/``seq``/``ts`` are what the next packet we send should carry, and ``due`` the
    clock time at which that timestamp is "now" (for a stream that was playing, its next
    deadline).  ``packet(data, now)`` returns the rewritten packet, or None for a datagram
    that is not PCMU RTP (counted in ``dropped``).
    """

    __slots__ = ("ssrc", "next_seq", "next_ts", "due", "source", "seq_off", "ts_off",
                 "relayed", "dropped")

    def __init__(self, ssrc: int, seq: int, ts: int, due: float) -> None:
        self.ssrc = ssrc & 0xFFFFFFFF
        self.next_seq = seq & 0xFFFF
        self.next_ts = ts & 0xFFFFFFFF
        self.due = due
        self.source: int | None = None     # the SSRC we are relaying now
        self.seq_off = 0
        self.ts_off = 0
        self.relayed = 0
        self.dropped = 0

    def packet(self, data: bytes, now: float) -> bytes | None:
        if len(data) < 12:
            self.dropped += 1
            return None
        b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
        if b0 >> 6 != 2 or b1 & 0x7F != PT_PCMU:
            self.dropped += 1
            return None
        start = 12 + 4 * (b0 & 0x0F)
        end = len(data)
        if b0 & 0x10:                              # header extension: skip it
            if end < start + 4:
                self.dropped += 1
                return None
            start += 4 + 4 * _EXT.unpack_from(data, start)[1]
        if b0 & 0x20:                              # padding: the last byte counts it
            end -= data[-1]
        if start > end:
            self.dropped += 1
            return None
        marker = b1 & 0x80
        if ssrc != self.source:
            # a new source (the first packet, or the far end restarted its stream): carry on
            # from our own numbering, the timestamp moved on by the time that passed
            late = max(0, round((now - self.due) * SAMPLE_RATE))
            self.seq_off = (self.next_seq - seq) & 0xFFFF
            self.ts_off = (self.next_ts + late - ts) & 0xFFFFFFFF
            self.source = ssrc
            marker = 0x80
        out_seq = (seq + self.seq_off) & 0xFFFF
        out_ts = (ts + self.ts_off) & 0xFFFFFFFF
        payload = data[start:end]
        if (out_seq - self.next_seq) & 0xFFFF < 0x8000:   # newest so far (not a late one)
            self.next_seq = (out_seq + 1) & 0xFFFF
            self.next_ts = (out_ts + len(payload)) & 0xFFFFFFFF   # 1 byte = 1 µ-law sample
            self.due = now + len(payload) / SAMPLE_RATE
        self.relayed += 1
        return HEADER.pack(0x80, marker | PT_PCMU, out_seq, out_ts, self.ssrc) + payload
