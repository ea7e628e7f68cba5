"""The traffic-safety rule in code: lab packets are sent only from lab namespaces."""
from __future__ import annotations

import os

from .errors import SafetyError


def netns_inode(pid: str = "thread-self") -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def in_root_netns() -> bool:
    """True when this thread shares the network namespace of PID 1 (the machine's own)."""
    return netns_inode() == netns_inode("1")


def require_lab_netns(what: str = "sending lab traffic") -> None:
    """Refuse to go on from the root namespace (DESIGN.md: never send from it)."""
    if in_root_netns():
        raise SafetyError(f"refused: {what} from the root network namespace; "
                          "run it inside a lab node, e.g. lab.node('pc1').scapy(...)")
