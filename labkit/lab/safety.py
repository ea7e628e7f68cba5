"""The traffic-safety rule in code: lab packets are sent only from lab namespaces."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import SafetyError
from .netns import NETNS_DIR


def netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


#: the namespace a command was started in, named for a process that may not list NETNS_DIR
#: (a student's command on a class server: the lab broker sets it)
NETNS_ENV = "LABKIT_NETNS"


def lab_netns_inodes() -> set[int]:
    """The namespaces labkit made (named lk-*); stat on the bind mount gives the namespace inode.
    A process that may not list them finds the one named in LABKIT_NETNS, if it is a lab's:
    the name alone proves nothing, the inode it leads to must be this thread's."""
    named = os.environ.get(NETNS_ENV, "")
    extra = [Path(NETNS_DIR, named)] if named.startswith("lk-") and "/" not in named else []
    out = set()
    for p in [*Path(NETNS_DIR).glob("lk-*"), *extra]:
        try:
            out.add(os.stat(p).st_ino)
        except OSError:
            pass
    return out


def in_lab_netns() -> bool:
    return netns_inode() in lab_netns_inodes()


def require_lab_netns(what: str = "sending lab traffic") -> None:
    """Refuse unless this thread is inside a labkit namespace (docs/traffic-safety.md: never send from root)."""
    if not in_lab_netns():
        raise SafetyError(f"refused: {what} outside a lab namespace; "
                          "run it inside a lab node, e.g. lab.node('pc1').call('labkit.probes.icmp:ping', ...)")
