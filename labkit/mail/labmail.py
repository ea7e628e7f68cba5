"""The seed's mail flows in a running lab (notebook 03): send from lab hosts, then find
each message where the seed says it goes.

`flows.check_seed_flows` does the same against a loopback Postfix; this module drives the
lab's own Postfix on the EC2 node: messages leave a LAN host (through the router's NAT) or
an internet host, and deliveries are read from the run directories of the `postfix`
service (virtual mailboxes) and the gmail `smtpsink` service (forwarded mail) with the
stdlib `mailbox` module. Everything returned is plain and deterministic (no queue IDs,
dates or message-ids).
"""
from __future__ import annotations

import mailbox
import re
from dataclasses import dataclass
from pathlib import Path

from labkit.mail.flows import read_maildir, read_mbox
from labkit.mail.postfix import wait_until

MAIL_HOST = "1.2.3.4"
DOMAIN = "exampledomain.ca"


@dataclass
class LabFlow:
    rcpt: str
    sender_node: str
    expect: str            # "maildir", "mbox", "forward", "550", "relay-denied"
    code: int = 0          # reply to RCPT TO
    outcome: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == self.expect


SEED_LAB_FLOWS = (
    LabFlow("admin@exampledomain.ca", "pc1", "maildir"),
    LabFlow("test@exampledomain.ca", "pc1", "mbox"),
    LabFlow("user1@exampledomain.ca", "pc1", "forward"),
    LabFlow("nobody@exampledomain.ca", "pc1", "550"),
    LabFlow("victim@yahoo.com", "isp", "relay-denied"),
)


def mailbox_base(lab) -> Path:
    """virtual_mailbox_base of the lab's Postfix (the seed's /var/vhosts, moved to the run dir)."""
    return lab.service("ec2", "postfix").cfg.mailbox_base


def sink_store(lab, node: str = "gmail") -> Path:
    return lab.service(node, "smtpsink").store


def delivered(lab, rcpt: str) -> tuple[str, list[mailbox.Message]]:
    """(format, messages) for a local address, or ("forward", ...) for a gmail/yahoo copy."""
    local, domain = rcpt.split("@")
    if domain in ("gmail.com", "yahoo.com"):
        return "forward", read_maildir(sink_store(lab, domain.split(".")[0]) / rcpt)
    box = mailbox_base(lab) / domain / local
    if box.is_dir():
        return "maildir", read_maildir(box)
    if box.is_file():
        return "mbox", read_mbox(box)
    return "", []


def _forward_target(lab, rcpt: str) -> str | None:
    from labkit.mail import admin
    conf = lab.service("ec2", "postfix").conf_dir
    for key, target in admin.listing(conf)["valias"]:
        if key == rcpt:
            return target
    return None


def _where(lab, rcpt: str, subject: str) -> str:
    target = _forward_target(lab, rcpt)
    fmt, msgs = delivered(lab, target or rcpt)
    return fmt if any(m["Subject"] == subject for m in msgs) else ""


def run_flows(lab, flows: tuple[LabFlow, ...] = SEED_LAB_FLOWS, tag: str = "flow",
              timeout: float = 30) -> list[LabFlow]:
    """Send one message per flow from its node (MX through the node's DNS server for LAN
    hosts, straight to 1.2.3.4 for internet hosts), then wait for each accepted one."""
    results = []
    for f in flows:
        r = LabFlow(f.rcpt, f.sender_node, f.expect)
        subject = f"{tag} {f.rcpt}"
        node = lab.node(f.sender_node)
        dns = "192.168.254.1" if f.sender_node in ("pc1", "pc2") else None
        out = node.call("labkit.probes.mail:send", f.rcpt, subject=subject, dns=dns,
                        host=None if dns else MAIL_HOST, helo=f.sender_node)
        rcpt_step = [s for s in out["steps"] if s[0] == "RCPT TO"]
        r.code = rcpt_step[0][1] if rcpt_step else 0
        text = rcpt_step[0][2] if rcpt_step else ""
        if not out["accepted"]:
            r.outcome = ("550" if r.code == 550 and "5.1.1" in text else
                         "relay-denied" if "Relay access denied" in text else str(r.code))
        else:
            try:
                r.outcome = wait_until(lambda: _where(lab, f.rcpt, subject), timeout,
                                       what=f"delivery to {f.rcpt}")
            except TimeoutError:
                r.outcome = "not delivered"
        results.append(r)
    return results


def flow_table(results: list[LabFlow]) -> str:
    rows = [f"{'from':<5} {'recipient':<26} {'expected':<13} {'RCPT':>4}  {'got':<13} ok"]
    rows += [f"{f.sender_node:<5} {f.rcpt:<26} {f.expect:<13} {f.code:>4}  {f.outcome:<13} "
             f"{'yes' if f.ok else 'NO'}" for f in results]
    return "\n".join(rows)


_RECEIVED_FROM = re.compile(r"from (\S+) \(([^)]*)\)")


def hops(msg: mailbox.Message) -> list[str]:
    """The client each MTA saw, oldest hop first ("pc1 (unknown [100.64.0.2])"): the
    Received headers without their queue IDs and dates."""
    out = []
    for rec in reversed(msg.get_all("Received") or []):
        m = _RECEIVED_FROM.search(" ".join(rec.split()))
        if m:
            out.append(f"{m.group(1)} ({m.group(2)})")
    return out


def describe(msg: mailbox.Message) -> str:
    """Subject, To, and the hops it took, for a notebook line."""
    via = " -> ".join(hops(msg))
    return f"Subject: {msg['Subject']} | To: {msg['To']}" + (f" | received from {via}" if via else "")


def mailbox_listing(lab, rcpts: tuple[str, ...]) -> str:
    """Where each address's mail sits on disk and what it holds, paths relative to the
    lab's run dir (stable between runs)."""
    out = []
    run = Path(lab.service("ec2", "postfix").run_dir).parents[1]
    for rcpt in rcpts:
        target = _forward_target(lab, rcpt) or rcpt
        fmt, msgs = delivered(lab, target)
        local, domain = target.split("@")
        path = (sink_store(lab, domain.split(".")[0]) / target if fmt == "forward"
                else mailbox_base(lab) / domain / local)
        try:
            path = path.relative_to(run)
        except ValueError:
            pass
        out.append(f"{rcpt} -> {path} [{fmt or 'nothing'}], {len(msgs)} message(s)")
        out += sorted(f"    {describe(m)}" for m in msgs)
    return "\n".join(out)


def wait_live(lab, rcpt: str, node: str = "isp", timeout: float = 30) -> int:
    """Poll RCPT TO from a lab node until the address is accepted (a new mailbox in the
    files backend goes live after the postmap scheduler's next run)."""
    def ok():
        code, _ = lab.node(node).call("labkit.probes.mail:rcpt_code", rcpt, MAIL_HOST)
        return code if code == 250 else 0
    return wait_until(ok, timeout, poll=0.2, what=f"{rcpt} accepted")


def wait_delivered(lab, rcpt: str, subject: str, timeout: float = 30) -> tuple[str, list]:
    """Wait until a message with ``subject`` sits in ``rcpt``'s mailbox; (format, messages)."""
    def found():
        fmt, msgs = delivered(lab, _forward_target(lab, rcpt) or rcpt)
        return (fmt, msgs) if any(m["Subject"] == subject for m in msgs) else None
    return wait_until(found, timeout, what=f"{subject!r} delivered to {rcpt}")
