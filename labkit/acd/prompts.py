"""The ACD's side of media: one RTP port per call leg, prompts played and calls relayed by
``rtp.RtpScheduler``.

All RTP of the ACD goes through ONE scheduler thread (the seed's wish "use one thread only for
all RTP sessions"): the welcome, music and announcements a caller hears, and the caller's and
agent's voices when the ACD carries a connected call's media itself (``relay``).  With
``enabled=False`` (soak tests, signalling benchmarks) no socket is opened and the SDP
announces the discard port 9, so calls still set up normally.
"""
from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from labkit import rtp

DISCARD_PORT = 9


@dataclass
class MediaHandle:
    sock: socket.socket | None
    port: int
    sid: int = 0          # the stream playing from this port (0: none) ...
    to: tuple | None = None   # ... and where it plays to
    relay: int = 0        # the relay reading this port (0: none)


class PromptPlayer:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.host = "127.0.0.1"
        self.sched: rtp.RtpScheduler | None = None
        self.prompts: dict[str, bytes] = {}
        self._open: set[int] = set()

    async def start(self, host: str) -> None:
        self.host = host
        if not self.enabled:
            return
        for name in ("welcome", "music", "announcement"):
            self.prompts[name] = rtp.load_prompt(name)
        self.sched = rtp.RtpScheduler().start()

    async def close(self) -> None:
        if self.sched is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.sched.stop)
            self.sched = None

    def open(self) -> MediaHandle:
        if not self.enabled:
            return MediaHandle(None, DISCARD_PORT)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.host, 0))
        s.setblocking(False)
        h = MediaHandle(s, s.getsockname()[1])
        self._open.add(id(h))
        return h

    def port(self, h: MediaHandle | None) -> int:
        return h.port if h else DISCARD_PORT

    def _play(self, h: MediaHandle | None, remote: tuple[str, int], pl: rtp.Playlist) -> None:
        if h is None or h.sock is None or self.sched is None:
            return
        if h.sid:
            self.sched.remove_stream(h.sid)
        h.sid = self.sched.add_stream(h.sock, remote, pl)
        h.to = tuple(remote)

    def play_queue(self, h: MediaHandle | None, remote: tuple[str, int], announce_every: float) -> None:
        """Welcome once, then music with an announcement every ``announce_every`` seconds."""
        if not self.enabled:
            return
        pl = rtp.Playlist(self.prompts["welcome"], self.prompts["music"],
                            self.prompts["announcement"], announce_every)
        self._play(h, remote, pl)

    def play_prompt(self, h: MediaHandle | None, remote: tuple[str, int], name: str) -> None:
        if not self.enabled:
            return
        self._play(h, remote, rtp.Playlist(welcome=self.prompts[name]))

    def duration(self, name: str) -> float:
        return len(self.prompts.get(name, b"")) / rtp.SAMPLE_RATE

    def silence(self, h: MediaHandle | None) -> None:
        """Stop what plays from ``h``; the port stays open (the far end keeps sending to it)."""
        if h is not None and h.sid and self.sched is not None:
            self.sched.remove_stream(h.sid)
            h.sid = 0

    def relay(self, src: MediaHandle | None, dst: MediaHandle | None,
              remote: tuple[str, int] | None) -> bool:
        """RTP arriving on ``src``'s port goes out of ``dst``'s port to ``remote``, renumbered
        so the receiver hears one stream of ours (what played to it stops; see
        ``RtpScheduler.add_relay``).  False when there is no media to carry (media off, a
        port gone, no address)."""
        if (self.sched is None or remote is None or src is None or dst is None
                or src.sock is None or dst.sock is None):
            return False
        src.relay = self.sched.add_relay(src.sock, dst.sock, tuple(remote))
        for h in (src, dst):
            if h.sid and h.to == tuple(remote):   # the relay took over from that stream
                h.sid = 0
        return True

    def retarget(self, h: MediaHandle | None, old: tuple | None, new: tuple | None) -> None:
        """The far end at ``old`` moved its media to ``new``: what ``h`` sends there follows."""
        if h is not None and h.sock is not None and self.sched is not None and old and new and old != new:
            self.sched.retarget(h.sock, old, new)
            if h.to == tuple(old):
                h.to = tuple(new)

    def unrelay(self, src: MediaHandle | None) -> None:
        """Stop relaying what arrives on ``src``'s port."""
        if src is not None and src.relay and self.sched is not None:
            self.sched.remove_relay(src.relay)
            src.relay = 0

    def stop(self, h: MediaHandle | None) -> None:
        """Stop sending and relaying on ``h`` and release its port (in the RTP thread)."""
        if h is None or h.sock is None:
            return
        sock, h.sock, h.sid, h.relay = h.sock, None, 0, 0
        self._open.discard(id(h))
        if self.sched is not None:
            self.sched.release(sock)
        else:
            sock.close()

    def active(self) -> int:
        return len(self._open)
