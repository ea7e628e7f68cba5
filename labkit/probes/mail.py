"""SMTP from inside a lab host, the way a mail client on that host would do it.

`send` resolves the recipient domain's MX through a DNS server (scapy, e.g. the home
router's forwarder 192.168.254.1), looks up the exchanger's address, then speaks SMTP
(smtplib) to it from the node's own namespace: from pc1 that connection crosses the
3550, the router's NAT and the ISP, as the seed's LAN mail would.

Run it with ``lab.node("pc1").call("labkit.probes.mail:send", "admin@exampledomain.ca",
dns="192.168.254.1")``. It refuses to run outside a lab namespace (docs/traffic-safety.md). The result
is a plain dict whose texts carry no queue IDs, so notebook cells print it deterministically.
"""
from __future__ import annotations

import re
import smtplib
import socket

from labkit.lab.safety import require_lab_netns

_QUEUE_ID = re.compile(r"queued as [0-9A-Za-z]+")


def clean_reply(text: bytes | str) -> str:
    """One line of an SMTP reply with what varies between runs (queue IDs) replaced."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return _QUEUE_ID.sub("queued as QUEUEID", " ".join(text.split()))


def resolve_mx(domain: str, dns: str) -> dict:
    """MX of ``domain`` through ``dns`` (RD set), then the A record of the best exchanger."""
    from labkit.dns.probes import query, query_mx
    mx = query_mx(domain, dns)
    out = {"domain": domain, "dns": dns, "rcode": mx.get("rcode"), "mx": mx.get("mx", []),
           "exchanger": None, "address": None}
    if mx.get("mx"):
        host = mx["mx"][0][1]
        out["exchanger"] = host
        a = query(dns, host, "A", rd=True)
        addrs = [x["data"] for x in a.get("answer", []) if x["type"] == "A"]
        out["address"] = addrs[0] if addrs else None
    return out


def message(sender: str, rcpt: str, subject: str, body: str = "hello from the lab\n") -> bytes:
    """A minimal RFC 5322 message without Date or Message-ID (Postfix adds them)."""
    return (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


def send(rcpt: str, sender: str = "student@lab.example", subject: str = "lab mail",
         dns: str | None = "192.168.254.1", host: str | None = None, port: int = 25,
         helo: str | None = None, timeout: float = 10.0) -> dict:
    """Deliver one message to ``rcpt``'s MX (or to ``host`` when given) and record each step.

    Returns {"rcpt", "mx", "server", "steps": [(command, code, text)], "accepted"}; a
    refused RCPT ends the session with QUIT (nothing is sent), as a client would.
    """
    require_lab_netns("SMTP probe")
    domain = rcpt.rsplit("@", 1)[-1]
    res = {"rcpt": rcpt, "mx": None, "server": host, "steps": [], "accepted": False}
    if host is None:
        if dns is None:
            raise ValueError("send(): give dns= (a resolver/forwarder) or host= (the SMTP server)")
        res["mx"] = resolve_mx(domain, dns)
        host = res["server"] = res["mx"]["address"]
        if host is None:
            res["steps"].append(("MX", 0, f"no MX/A for {domain} via {dns}"))
            return res
    steps = res["steps"]
    try:
        with smtplib.SMTP(timeout=timeout) as s:
            code, text = s.connect(host, port)
            steps.append(("connect", code, clean_reply(text)))
            code, _ = s.ehlo(helo or socket.gethostname())
            steps.append(("EHLO", code, ""))
            code, text = s.mail(sender)
            steps.append(("MAIL FROM", code, clean_reply(text)))
            code, text = s.rcpt(rcpt)
            steps.append(("RCPT TO", code, clean_reply(text)))
            if code in (250, 251):
                code, text = s.data(message(sender, rcpt, subject))
                steps.append(("DATA", code, clean_reply(text)))
                res["accepted"] = code == 250
    except (OSError, smtplib.SMTPException) as e:
        steps.append(("error", 0, f"{type(e).__name__}: {e}"))
    return res


def rcpt_code(rcpt: str, host: str, port: int = 25, sender: str = "probe@lab.example",
              timeout: float = 10.0) -> tuple[int, str]:
    """Only ask RCPT TO (no DATA): is this address accepted right now?"""
    require_lab_netns("SMTP probe")
    with smtplib.SMTP(host, port, timeout=timeout) as s:
        s.ehlo("probe.lab.example")
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        s.rset()
    return code, clean_reply(text)
