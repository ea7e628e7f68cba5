"""SDP offer/answer (RFC 3264) restricted to what the seed ACD supports: G.711 µ-law, PT 0.

Any offer without PCMU on its first audio stream is refused; callers turn that into ``488``.
"""
from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from labkit.digits import uint


class SdpError(ValueError):
    """Offer we cannot answer (no audio, no PCMU, unparsable)."""


@dataclass
class MediaDesc:
    media: str
    port: int
    proto: str
    formats: list[str]
    attrs: list[str] = field(default_factory=list)
    conn: str = ""

    @property
    def direction(self) -> str:
        for a in self.attrs:
            if a in ("sendrecv", "sendonly", "recvonly", "inactive"):
                return a
        return "sendrecv"


@dataclass
class Sdp:
    origin: str = ""
    conn: str = ""
    media: list[MediaDesc] = field(default_factory=list)

    @property
    def audio(self) -> MediaDesc | None:
        for m in self.media:
            if m.media == "audio":
                return m
        return None

    def rtp_addr(self) -> tuple[str, int]:
        """Where to send RTP for the audio stream (media-level c= beats session-level)."""
        a = self.audio
        if a is None:
            raise SdpError("no audio stream")
        host = a.conn or self.conn
        if not host:
            raise SdpError("no connection address (c=) for audio")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            # a name would be looked up for every packet in the RTP thread (or sent to DNS):
            # the ACD takes IPv4 addresses only (RFC 4566 allows names; no peer here needs them)
            raise SdpError(f"connection address {host[:40]!r} is not an IPv4 address") from None
        return host, a.port


def parse(body: bytes | str) -> Sdp:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    sdp = Sdp()
    cur: MediaDesc | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:].strip()
        if kind == "o":
            sdp.origin = value
        elif kind == "c":
            parts = value.split()
            addr = parts[2].split("/")[0] if len(parts) >= 3 else ""
            if cur is None:
                sdp.conn = addr
            else:
                cur.conn = addr
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4:
                raise SdpError(f"bad m= line {line[:60]!r}: media port proto formats")
            try:
                port = uint(parts[1].split("/")[0], 65535, "media port")
            except ValueError as exc:
                raise SdpError(f"bad m= line: {exc}") from None
            cur = MediaDesc(parts[0], port, parts[2], parts[3:])
            sdp.media.append(cur)
        elif kind == "a" and cur is not None:
            cur.attrs.append(value)
    return sdp


def address(body: bytes) -> tuple[str, int] | None:
    """Where an SDP wants its RTP sent, or None when it says nothing usable."""
    try:
        return parse(body).rtp_addr()
    except SdpError:
        return None


def accepts_pcmu(offer: Sdp) -> bool:
    """True when the first audio stream is RTP/AVP and lists payload type 0 (PCMU/8000)."""
    a = offer.audio
    if a is None or a.port == 0 or "RTP/AVP" not in a.proto.upper():
        return False
    if "0" in a.formats:
        return True
    # a dynamic PT mapped to PCMU is still µ-law; we only do static PT 0 on the wire though.
    return False


def check_offer(body: bytes) -> Sdp:
    """Parse an offer and insist on PCMU; raises :class:`SdpError` (the caller answers 488)."""
    if not body.strip():
        raise SdpError("empty offer")
    offer = parse(body)
    if not accepts_pcmu(offer):
        raise SdpError("offer lacks PCMU (payload type 0) on an RTP/AVP audio stream")
    offer.rtp_addr()
    return offer


_session_counter = int(time.time())


def build(addr: str, port: int, *, session_id: int | None = None, version: int = 1,
          direction: str = "sendrecv", user: str = "labkit") -> bytes:
    """An SDP with one PCMU audio stream: used both as offer and as answer."""
    global _session_counter
    if session_id is None:
        _session_counter += 1
        session_id = _session_counter
    lines = [
        "v=0",
        f"o={user} {session_id} {version} IN IP4 {addr}",
        "s=labkit",
        f"c=IN IP4 {addr}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "a=ptime:20",
        f"a={direction}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def reoffer(previous: bytes, addr: str, port: int) -> bytes:
    """A new offer for a session the peer already knows from ``previous`` (an SDP it got from
    us, or on our behalf): the same o= user and session id with the version one up, as RFC 3264
    8 asks of a changed session, and the media moved to ``addr:port``."""
    try:
        user, sess, version = parse(previous).origin.split()[:3]
        session_id, next_version = uint(sess, 2**63), uint(version, 2**63) + 1
    except (ValueError, SdpError):
        user, session_id, next_version = "acd", None, 2
    return build(addr, port, session_id=session_id, version=next_version, user=user)
