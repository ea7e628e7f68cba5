"""How much one user may have up at once, and the message a refused student reads.

Defaults: 2 labs and 40 nodes per user (the seed lab has 14 nodes, so two seed labs fit, or a
seed and a campus-trunk lab), and 512 processes: the RLIMIT_NPROC a student's command in a
node runs under, counted over all the student's processes (the notebook server and kernel
take about ten). The broker's config can change both; a limit below 1 is refused
when the broker starts, not when a student meets it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .protocol import BrokerError


@dataclass(frozen=True)
class Quota:
    labs: int = 2
    nodes: int = 40
    procs: int = 512

    def __post_init__(self) -> None:
        for what in ("labs", "nodes", "procs"):
            value = getattr(self, what)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"quota: {what} per user must be a whole number of at least 1, not {value!r}")

    def admit(self, user: str, up: dict[str, int], name: str, nodes: int) -> None:
        """Return if `user`, whose labs now up are `up` (lab name -> nodes), may bring up lab
        `name` of `nodes` nodes; else raise BrokerError saying which limit and what to do."""
        if name in up:
            raise BrokerError(f"{user}: you already have a lab named '{name}' up; "
                              f"take it down first (labkit down --lab {name}) or pick another name")
        if len(up) + 1 > self.labs:
            raise BrokerError(f"{user}: quota reached: {len(up)} labs up ({', '.join(sorted(up))}), "
                              f"at most {self.labs} per user; take one down first (labkit down --lab NAME)")
        used = sum(up.values())
        if used + nodes > self.nodes:
            raise BrokerError(f"{user}: quota reached: '{name}' has {nodes} nodes and your labs up have "
                              f"{used}, at most {self.nodes} per user; take a lab down first (labkit down --lab NAME)")
