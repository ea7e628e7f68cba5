"""Who is asking, from the kernel: peer credentials, and the instance prefix they map to."""
from __future__ import annotations

import pwd
import socket
import struct
from dataclasses import dataclass

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Caller:
    pid: int
    uid: int
    gid: int

    @property
    def user(self) -> str:
        """The login name, or "uid N" for a uid with no passwd entry."""
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return f"uid {self.uid}"

    @property
    def prefix(self) -> str:
        return prefix(self.uid)


def peer(sock: socket.socket) -> Caller:
    """The process at the other end of a connected Unix socket, as the kernel recorded it
    when it connected (SO_PEERCRED): what it says about itself is never asked."""
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return Caller(pid, uid, gid)


def prefix(uid: int) -> str:
    """A user's instance prefix: "u" + the uid in base 36 + "-" ("u" "rt" "-" for uid 1001),
    short enough to leave a lab name room under the engine's 12 characters (uids up to
    36**5 - 1 take at most 7 of them), and the same for the user every time, so the broker
    needs no table of its own to find a user's labs after a restart."""
    if uid < 0:
        raise ValueError(f"uid must be >= 0, not {uid}")
    digits = ""
    while True:
        uid, r = divmod(uid, 36)
        digits = DIGITS[r] + digits
        if not uid:
            return f"u{digits}-"


def uid_of(instance: str) -> int | None:
    """The uid whose prefix `instance` starts with, or None for a lab no student owns."""
    head, sep, _ = instance.partition("-")
    if not sep or len(head) < 2 or head[0] != "u" or any(c not in DIGITS for c in head[1:]):
        return None
    uid = int(head[1:], 36)
    return uid if prefix(uid) == head + "-" else None
