"""The seed's mail flows as one check that tests and notebooks share.

Each flow is sent from a client outside mynetworks (as mail from the internet would
be), then the delivered copy is looked up where the seed says it goes, with the stdlib
`mailbox` module. The result prints as a small deterministic table.
"""
from __future__ import annotations

import mailbox
import uuid
from dataclasses import dataclass
from pathlib import Path

from labkit.mail.postfix import INTERNET_CLIENT, LoopbackPostfix
from labkit.procs import WaitTimeout, wait_until


@dataclass
class Flow:
    rcpt: str
    expect: str          # what the seed implies: "maildir", "mbox", "forward", "550", "relay-denied"
    code: int = 0        # SMTP reply to RCPT TO
    outcome: str = ""    # what actually happened

    @property
    def ok(self) -> bool:
        return self.outcome == self.expect


SEED_FLOWS = (
    Flow("admin@exampledomain.ca", "maildir"),
    Flow("test@exampledomain.ca", "mbox"),
    Flow("user1@exampledomain.ca", "forward"),
    Flow("nobody@exampledomain.ca", "550"),
    Flow("victim@other.example", "relay-denied"),
)


def read_maildir(path: Path) -> list[mailbox.MaildirMessage]:
    """Messages of a Maildir, [] while it does not exist yet."""
    try:
        return list(mailbox.Maildir(path, create=False))
    except (OSError, mailbox.NoSuchMailboxError):  # missing yet, or an mbox file
        return []


def read_mbox(path: Path) -> list[mailbox.mboxMessage]:
    return list(mailbox.mbox(path, create=False)) if Path(path).is_file() else []


def read_delivered(box: Path) -> tuple[str, list[mailbox.Message]]:
    """(format, messages) of what virtual(8) wrote at `box`: a directory is a Maildir, a
    file an mbox (see maps.mailbox_format), nothing yet is ("", [])."""
    if box.is_dir():
        return "maildir", read_maildir(box)
    if box.is_file():
        return "mbox", read_mbox(box)
    return "", []


def refusal(code: int, text: str) -> str:
    """A refused RCPT TO as a flow outcome: "550" (unknown user), "relay-denied", or the code."""
    if code == 550 and "5.1.1" in text:
        return "550"
    return "relay-denied" if "Relay access denied" in text else str(code)


def _found(pf: LoopbackPostfix, flow: Flow, tag: str) -> str:
    local = flow.rcpt.split("@")[0]
    tagged = lambda msgs: [m for m in msgs if m["X-Labkit-Tag"] == tag]  # noqa: E731
    fmt, msgs = read_delivered(pf.mailbox_path(f"exampledomain.ca/{local}"))
    if fmt and tagged(msgs):
        return fmt
    if "gmail.com" in pf.sinks and tagged(read_maildir(pf.sink_maildir(f"{local}@gmail.com"))):
        return "forward"
    return ""


def check_seed_flows(pf: LoopbackPostfix, flows: tuple[Flow, ...] = SEED_FLOWS,
                     timeout: float = 30) -> list[Flow]:
    """Send one tagged message per flow, then see where (and if) each one landed."""
    tag = uuid.uuid4().hex
    results = [Flow(f.rcpt, f.expect) for f in flows]
    with pf.smtp(INTERNET_CLIENT) as s:
        for f in results:
            s.mail("student@example.org")
            code, text = s.rcpt(f.rcpt)
            f.code = code
            if code == 250:
                s.data(f"Subject: flow {f.rcpt}\r\nX-Labkit-Tag: {tag}\r\n\r\nhi\r\n".encode())
            else:
                s.rset()
                f.outcome = refusal(code, text.decode(errors="replace"))
    for f in results:
        if f.code == 250:
            try:
                f.outcome = wait_until(lambda: _found(pf, f, tag), timeout,
                                       what=f"delivery to {f.rcpt}")
            except WaitTimeout:
                f.outcome = "not delivered"
    return results


def flow_table(results: list) -> str:
    """The flows as a small fixed-width table; a "from" column when flows name the sending
    lab node (labkit.lessons.mail.LabFlow)."""
    lab = any(getattr(f, "sender_node", None) for f in results)
    head = f"{'from':<5} " if lab else ""
    rows = [f"{head}{'recipient':<26} {'expected':<13} {'RCPT':>4}  {'got':<13} ok"]
    rows += [(f"{f.sender_node:<5} " if lab else "") + f"{f.rcpt:<26} {f.expect:<13} {f.code:>4}  "
             f"{f.outcome:<13} {'yes' if f.ok else 'NO'}" for f in results]
    return "\n".join(rows)
