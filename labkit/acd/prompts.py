"""The ACD's side of media: one RTP port per call leg, prompts played by ``rtp.RtpScheduler``.

All RTP of the ACD goes through ONE scheduler thread (the seed's wish "use one thread only for
all RTP sessions").  With ``enabled=False`` (soak tests, signalling benchmarks) no socket is
opened and the SDP announces the discard port 9, so calls still set up normally.
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
    sid: int = 0


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

    def stop(self, h: MediaHandle | None) -> None:
        """Stop sending and release the port (closing waits a tick for the RTP thread)."""
        if h is None or h.sock is None:
            return
        if h.sid and self.sched is not None:
            self.sched.remove_stream(h.sid)
            h.sid = 0
        sock, h.sock = h.sock, None
        self._open.discard(id(h))
        try:
            asyncio.get_running_loop().call_later(0.1, sock.close)
        except RuntimeError:
            sock.close()

    def active(self) -> int:
        return len(self._open)
