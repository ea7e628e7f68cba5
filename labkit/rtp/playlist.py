"""What one caller hears: prompts from data/acd and the welcome / music / announcement playlist."""
from __future__ import annotations

from pathlib import Path

from labkit import paths

from .ulaw import FRAME_SAMPLES, FRAME_SECONDS, ULAW_SILENCE

#: Where the lab's prompts live (found through labkit.paths).
PROMPT_DIR = paths.data("acd")


def load_prompt(name: str, directory: Path | str | None = None) -> bytes:
    """Raw µ-law bytes of ``data/acd/<name>.ulaw`` (or a path)."""
    path = Path(name)
    if path.suffix != ".ulaw":
        path = Path(directory or PROMPT_DIR) / f"{name}.ulaw"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such prompt; run `python -m "
                                f"labkit.acd.make_prompts` to (re)make data/acd/") from None


class Playlist:
    """What one caller hears, as a stream of 20 ms µ-law frames.

    ``welcome`` plays once; then ``music`` loops, and after every ``announce_every`` seconds
    of music the ``announcement`` plays in full and the music resumes where it stopped.
    Time is counted in frames, not wall-clock, so a playlist is deterministic.
    With no music the playlist ends after the welcome (``next_frame`` returns None):
    that is how a one-off prompt is played.
    """

    def __init__(self, welcome: bytes | None = None, music: bytes | None = None,
                 announcement: bytes | None = None, announce_every: float = 30.0):
        if announce_every <= 0:
            raise ValueError("announce_every must be > 0 seconds")
        self.welcome = bytes(welcome or b"")
        self.music = bytes(music or b"")
        self.announcement = bytes(announcement or b"")
        self.announce_frames = max(1, round(announce_every / FRAME_SECONDS))
        self._state = "welcome"
        self._pos = 0             # byte offset inside the welcome / announcement
        self._music_pos = 0       # byte offset inside the music (kept across announcements)
        self._music_frames = 0    # music frames since the last announcement
        self.current = "welcome" if self.welcome else "music"

    @classmethod
    def standard(cls, announce_every: float = 30.0,
                 directory: Path | str | None = None) -> Playlist:
        """The lab's queue playlist from data/acd/: welcome, music, announcement."""
        return cls(load_prompt("welcome", directory), load_prompt("music", directory),
                   load_prompt("announcement", directory), announce_every)

    def _clip(self, data: bytes) -> bytes | None:
        frame = data[self._pos:self._pos + FRAME_SAMPLES]
        if not frame:
            return None
        self._pos += FRAME_SAMPLES
        if len(frame) < FRAME_SAMPLES:
            frame += bytes([ULAW_SILENCE]) * (FRAME_SAMPLES - len(frame))
        return frame

    def next_frame(self) -> bytes | None:
        """The next 160-byte frame, or None when the playlist is over."""
        while True:
            if self._state == "welcome":
                frame = self._clip(self.welcome)
                if frame is not None:
                    self.current = "welcome"
                    return frame
                self._state, self._pos = "music", 0
            elif self._state == "announcement":
                frame = self._clip(self.announcement)
                if frame is not None:
                    self.current = "announcement"
                    return frame
                self._state, self._pos, self._music_frames = "music", 0, 0
            else:
                if not self.music:
                    self.current = "done"
                    return None
                if self.announcement and self._music_frames >= self.announce_frames:
                    self._state, self._pos = "announcement", 0
                    continue
                music, n, p = self.music, len(self.music), self._music_pos
                frame = music[p:p + FRAME_SAMPLES]
                while len(frame) < FRAME_SAMPLES:   # loop seamlessly
                    frame += music[:FRAME_SAMPLES - len(frame)]
                self._music_pos = (p + FRAME_SAMPLES) % n
                self._music_frames += 1
                self.current = "music"
                return frame

    def timeline(self, frames: int) -> list[tuple[str, int]]:
        """Run-length list of what plays in the next ``frames`` frames (for tests and
        notebooks): ``[("welcome", 150), ("music", 1500), ("announcement", 150), ...]``."""
        runs: list[tuple[str, int]] = []
        for _ in range(frames):
            if self.next_frame() is None:
                break
            if runs and runs[-1][0] == self.current:
                runs[-1] = (self.current, runs[-1][1] + 1)
            else:
                runs.append((self.current, 1))
        return runs
