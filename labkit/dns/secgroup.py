"""The EC2 security group of the seed, as an nftables ruleset applied inside the host.

The blog: "I needed to unblock TCP port 25 and 53 and also UDP port 53". An AWS
security group is stateful and its default egress rule allows everything, so the
faithful translation is an input chain with policy drop that accepts replies
(established/related), loopback, and exactly the listed ports. ICMP is NOT in the list,
so ``ping 1.2.3.4`` gets no answer in the lab -- as on the real EC2 host with that
security group. (Add ``icmp`` to ``allow`` to open it, like adding an ICMP rule in AWS.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TABLE = "labkit_secgroup"
SEED_ALLOW = ("25/tcp", "53/tcp", "53/udp")


@dataclass(frozen=True)
class Rule:
    proto: str          # "tcp" | "udp" | "icmp"
    port: int | None

    def nft(self) -> str:
        if self.proto == "icmp":
            return "meta l4proto icmp accept"
        return f"{self.proto} dport {self.port} accept"


def parse_allow(items) -> list[Rule]:
    """``["25/tcp", "53/udp", "80/tcp", "icmp"]`` -> rules; ValueError names the bad item."""
    out = []
    for item in items:
        s = str(item).strip().lower()
        if s == "icmp":
            out.append(Rule("icmp", None))
            continue
        m = re.fullmatch(r"(\d{1,5})/(tcp|udp)", s)
        if not m or not 0 < int(m.group(1)) < 65536:
            raise ValueError(f"security group entry {item!r} is not PORT/tcp, PORT/udp or icmp (e.g. 25/tcp)")
        out.append(Rule(m.group(2), int(m.group(1))))
    return out


def render_nft(allow=SEED_ALLOW) -> str:
    """The nft script (``nft -f``). It deletes and recreates its own table only."""
    rules = parse_allow(allow)
    lines = [
        f"# labkit security group: inbound {', '.join(str(a) for a in allow)}; everything else dropped.",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
        "    chain input {",
        "        type filter hook input priority 0; policy drop;",
        "        ct state established,related accept",
        '        iifname "lo" accept',
    ]
    lines += [f"        {r.nft()}" for r in rules]
    lines += ["    }", "}", ""]
    return "\n".join(lines)
