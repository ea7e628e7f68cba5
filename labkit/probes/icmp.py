"""ICMP probes with scapy: echo and traceroute, run inside a lab node."""
from __future__ import annotations

from labkit.lab.safety import require_lab_netns

#: the ICMP messages a lesson meets, by type (RFC 792)
TYPES = {0: "echo reply", 3: "unreachable", 11: "time exceeded"}
#: destination-unreachable codes by number (RFC 792, RFC 1812 5.2.7.1)
UNREACHABLE = {0: "net", 1: "host", 3: "port", 13: "administratively prohibited"}


def describe(kind: int, code: int) -> str:
    """The one way labkit names an ICMP message: "echo reply", "time exceeded",
    "unreachable 3/13 (administratively prohibited)", "ICMP type 5 code 1"."""
    if kind == 3:
        return f"unreachable 3/{code}" + (f" ({UNREACHABLE[code]})" if code in UNREACHABLE else "")
    return TYPES[kind] if kind in TYPES else f"ICMP type {kind} code {code}"


def ping(dst: str, count: int = 3, timeout: float = 1.0) -> dict:
    """Send `count` echo requests with scapy; return what came back (picklable)."""
    require_lab_netns("scapy ping")
    from scapy.all import ICMP, IP, conf, sr

    conf.verb = 0
    ans, unans = sr(IP(dst=dst) / ICMP(id=0x4c4b, seq=(1, count)), timeout=timeout, retry=0)
    replies = sorted((int(r[ICMP].seq), r[IP].src, int(r[IP].ttl)) for _, r in ans if r.haslayer(ICMP) and r[ICMP].type == 0)
    return {"dst": dst, "sent": count, "received": len(replies), "replies": replies}


def traceroute(dst: str, max_ttl: int = 8, timeout: float = 1.0) -> list[tuple[int, str | None]]:
    """Hop list [(ttl, router address or None)], stopping at the destination."""
    require_lab_netns("scapy traceroute")
    from scapy.all import ICMP, IP, conf, sr1

    conf.verb = 0
    hops: list[tuple[int, str | None]] = []
    for ttl in range(1, max_ttl + 1):
        reply = sr1(IP(dst=dst, ttl=ttl) / ICMP(id=0x4c4b, seq=ttl), timeout=timeout)
        hop = reply[IP].src if reply is not None else None
        hops.append((ttl, hop))
        if hop == dst:
            break
    return hops


def answers(dst: str, count: int = 1, ttl: int = 64, inter: float = 0.0,
            wait: float = 1.0) -> list[tuple[int, str, int, int, float]]:
    """Send `count` echo requests `inter` seconds apart with TTL `ttl`; return every answer,
    echo replies and ICMP errors alike, as (seq, source, ICMP type, ICMP code, seconds after
    the first request was sent), in order of arrival, waiting `wait` s after the last
    request (not `timeout`: Node.call takes that one). An ACL reject is type 3 code 13, a
    Null0 route type 3 code 1, an expired TTL type 11."""
    require_lab_netns("scapy answers")
    from scapy.all import ICMP, IP, conf, sr

    conf.verb = 0
    probes = IP(dst=dst, ttl=ttl) / ICMP(id=0x4c4c, seq=(1, count))
    ans, _ = sr(probes, inter=inter, timeout=wait, retry=0)
    if not ans:
        return []
    start = min(s.sent_time for s, _ in ans) if all(s.sent_time for s, _ in ans) else ans[0][1].time
    out = [(int(s[ICMP].seq), r[IP].src, int(r[ICMP].type), int(r[ICMP].code), float(r.time - start))
           for s, r in ans if r.haslayer(ICMP)]
    return sorted(out, key=lambda a: a[4])
