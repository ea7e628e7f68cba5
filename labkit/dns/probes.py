"""DNS probes that run INSIDE a lab host (``lab.node("client").call("labkit.dns.probes:walk", ...)``).

Each one refuses to run outside a labkit namespace (docs/traffic-safety.md), builds
its packets with scapy, and returns plain dicts/lists so the result pickles back to the
notebook. Used by notebook 02-dns-mx and tests/test_dns_lab.py.
"""
from __future__ import annotations

ROOT = "198.41.0.4"


def _require_lab() -> None:
    from labkit.lab.safety import require_lab_netns
    require_lab_netns("a DNS probe")


def _s(x) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else str(x)


def _rr_list(section) -> list[dict]:
    out = []
    for rr in section or []:
        if rr.type == 15:
            data = f"{rr.preference} {_s(rr.exchange)}"
        elif rr.type == 6:
            data = f"{_s(rr.mname)} {_s(rr.rname)} {rr.serial} {rr.refresh} {rr.retry} {rr.expire} {rr.minimum}"
        elif rr.type == 41:
            data = ""
        else:
            rdata = getattr(rr, "rdata", "")
            data = " ".join(_s(x) for x in rdata) if isinstance(rdata, list) else _s(rdata)
        out.append({"name": _s(rr.rrname), "type": _tname(rr.type), "ttl": getattr(rr, "ttl", 0), "data": data})
    return out


def _tname(t: int) -> str:
    return {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 15: "MX", 16: "TXT", 28: "AAAA", 41: "OPT"}.get(t, f"TYPE{t}")


def query(server: str, name: str, qtype: str = "A", rd: bool = False, timeout: float = 2.0) -> dict:
    """One UDP query with scapy; the reply as a dict (rcode, flags, the three sections)."""
    _require_lab()
    from scapy.all import DNS, DNSQR, ICMP, IP, UDP, RandShort, sr1
    pkt = IP(dst=server) / UDP(sport=RandShort(), dport=53) / DNS(rd=int(rd), qd=DNSQR(qname=name, qtype=qtype))
    ans, error = None, ""
    for _ in range(2):                      # one retry: a lab under load may drop a datagram
        try:
            ans = sr1(pkt, timeout=timeout, verbose=0)
        except OSError as e:                # e.g. no route: report it, do not crash the caller
            error = str(e)
        if ans is not None and ICMP in ans:  # an ICMP error quotes the query: it is no answer
            error = f"ICMP type {ans[ICMP].type} code {ans[ICMP].code} from {ans[IP].src}"
            ans = None
            break
        if ans is not None:
            break
    if ans is None or DNS not in ans:
        return {"server": server, "name": name, "type": qtype, "rcode": None, "answered": False,
                "aa": False, "ra": False, "tc": False, "answer": [], "authority": [], "additional": [],
                "error": error or "no answer"}
    d = ans[DNS]
    return {
        "server": server, "name": name, "type": qtype, "answered": True,
        "rcode": {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}.get(d.rcode, str(d.rcode)),
        "aa": bool(d.aa), "ra": bool(d.ra), "tc": bool(d.tc),
        "answer": _rr_list(d.an), "authority": _rr_list(d.ns),
        "additional": [r for r in _rr_list(d.ar) if r["type"] != "OPT"],
    }


def walk(name: str, qtype: str = "A", root: str = ROOT, max_steps: int = 8) -> list[dict]:
    """Follow the delegation from the lab root like a resolver does, one row per server:
    who was asked, what it said (answer / referral / negative).

    Glue exists only in referrals (RFC 1034 4.2.1, RFC 9471): the address records in the
    additional section of a referral are its ``glue``, and the walk follows them. The
    address records an answer carries in its additional section (the MX target's A, say)
    are ``additional`` data, not glue."""
    _require_lab()
    steps, server = [], root
    for _ in range(max_steps):
        r = query(server, name, qtype)
        ns = [x["data"] for x in r.get("authority", []) if x["type"] == "NS"]
        addrs = [f"{x['name']} {x['data']}" for x in r.get("additional", []) if x["type"] in ("A", "AAAA")]
        referral = bool(r.get("answered") and not r["answer"] and not r.get("aa") and ns)
        row = {"server": server, "rcode": r.get("rcode"), "aa": r.get("aa"),
               "answer": [f"{x['type']} {x['data']}" for x in r.get("answer", [])],
               "referral": ns if referral else [],
               "glue": addrs if referral else [], "additional": [] if referral else addrs}
        steps.append(row)
        if not referral:
            break
        glue = [x["data"] for x in r["additional"] if x["type"] == "A"]
        if not glue:
            row["note"] = "referral without glue: a resolver must look the NS address up first"
            break
        server = glue[0]
    return steps


def query_mx(domain: str, server: str, timeout: float = 3.0) -> dict:
    """MX of a domain through a forwarder/resolver (RD set), e.g. the router's dnsmasq."""
    r = query(server, domain, "MX", rd=True, timeout=timeout)
    r["mx"] = sorted((int(x["data"].split()[0]), x["data"].split()[1]) for x in r.get("answer", []) if x["type"] == "MX")
    return r


def scan_ports(host: str, tcp=(25, 53, 80, 22), udp=(53,), timeout: float = 1.0) -> dict:
    """What a security group lets through, as seen from outside: TCP SYN scan
    (open = SYN/ACK, closed = RST, filtered = silence) and UDP probes (53 gets a real
    DNS query; open = reply, closed = ICMP port unreachable, filtered = silence), plus
    whether the host answers ping."""
    _require_lab()
    from scapy.all import DNS, DNSQR, ICMP, IP, TCP, UDP, RandShort, sr1
    out: dict = {"host": host, "tcp": {}, "udp": {}}
    for port in tcp:
        a = sr1(IP(dst=host) / TCP(sport=RandShort(), dport=port, flags="S"), timeout=timeout, verbose=0)
        if a is None:
            state = "filtered"
        elif TCP in a and (a[TCP].flags & 0x12) == 0x12:
            state = "open"
        elif TCP in a and a[TCP].flags & 0x04:
            state = "closed"
        else:
            state = "filtered"
        out["tcp"][port] = state
    for port in udp:
        payload = DNS(rd=0, qd=DNSQR(qname="exampledomain.ca", qtype="SOA")) if port == 53 else b"probe"
        a = sr1(IP(dst=host) / UDP(sport=RandShort(), dport=port) / payload, timeout=timeout, verbose=0)
        if a is None:
            state = "filtered"
        elif ICMP in a and a[ICMP].type == 3:
            state = "closed"
        else:
            state = "open"
        out["udp"][port] = state
    out["ping"] = sr1(IP(dst=host) / ICMP(), timeout=timeout, verbose=0) is not None
    return out


def http_get(url: str, host: str | None = None, timeout: float = 3.0) -> str:
    """One HTTP GET from inside a lab host, to see what a security group lets through:
    "STATUS BODY" (the body's lines joined), or "no answer: WHY" when the connection
    fails (a dropped SYN times out, a closed port is refused)."""
    _require_lab()
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return f"{r.status} {' '.join(r.read().decode(errors='replace').split())}"
    except urllib.error.HTTPError as e:
        return f"{e.code} {e.reason}"
    except (urllib.error.URLError, OSError) as e:
        why = getattr(e, "reason", e)
        return f"no answer: {why}"
