"""RTP packets (RFC 3550 fixed header, CSRCs, header extension, padding): build and parse.

Kept apart from the pacer so a capture check or a test can read and write packets
without starting a thread.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

PT_PCMU = 0
#: The 12-byte fixed header; the pacer packs it directly for speed.
HEADER = struct.Struct("!BBHII")
_HDR = HEADER


class RtpError(ValueError):
    """A datagram that is not a valid RTP packet; the message says which field and why."""


@dataclass
class RtpPacket:
    """An RTP packet. ``build()`` gives the wire bytes, ``RtpPacket.parse(b)`` reads them."""

    sequence: int = 0
    timestamp: int = 0
    ssrc: int = 0
    payload: bytes = b""
    payload_type: int = PT_PCMU
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None   # (profile id, data, a multiple of 4 bytes)
    padding: int = 0                             # number of padding bytes to add / found
    version: int = 2

    def build(self) -> bytes:
        if not 0 <= self.payload_type <= 127:
            raise RtpError(f"payload type {self.payload_type} is outside 0..127")
        if len(self.csrcs) > 15:
            raise RtpError(f"at most 15 CSRCs fit the header, got {len(self.csrcs)}")
        if not 0 <= self.padding <= 255:
            raise RtpError(f"padding {self.padding} is outside 0..255")
        b0 = (self.version << 6) | (0x20 if self.padding else 0) \
            | (0x10 if self.extension else 0) | len(self.csrcs)
        b1 = (0x80 if self.marker else 0) | self.payload_type
        parts = [_HDR.pack(b0, b1, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                           self.ssrc & 0xFFFFFFFF)]
        parts += [struct.pack("!I", c & 0xFFFFFFFF) for c in self.csrcs]
        if self.extension:
            profile, data = self.extension
            if len(data) % 4:
                raise RtpError(f"header extension length {len(data)} is not a multiple of 4")
            parts.append(struct.pack("!HH", profile, len(data) // 4) + data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        data = bytes(data)
        if len(data) < 12:
            raise RtpError(f"RTP needs a 12-byte header, got {len(data)} bytes")
        b0, b1, seq, ts, ssrc = _HDR.unpack_from(data)
        version = b0 >> 6
        if version != 2:
            raise RtpError(f"RTP version is {version}, expected 2 (not an RTP packet?)")
        cc = b0 & 0x0F
        pos = 12 + 4 * cc
        if len(data) < pos:
            raise RtpError(f"header says {cc} CSRCs but the packet is only {len(data)} bytes")
        csrcs = struct.unpack_from(f"!{cc}I", data, 12)
        extension = None
        if b0 & 0x10:
            if len(data) < pos + 4:
                raise RtpError("extension bit set but no extension header")
            profile, words = struct.unpack_from("!HH", data, pos)
            end = pos + 4 + 4 * words
            if len(data) < end:
                raise RtpError(f"extension of {words} words runs past the packet end")
            extension = (profile, data[pos + 4:end])
            pos = end
        end = len(data)
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or end - padding < pos:
                raise RtpError(f"padding count {padding} is impossible for this packet")
            end -= padding
        return cls(sequence=seq, timestamp=ts, ssrc=ssrc, payload=data[pos:end],
                   payload_type=b1 & 0x7F, marker=bool(b1 & 0x80), csrcs=tuple(csrcs),
                   extension=extension, padding=padding, version=version)
