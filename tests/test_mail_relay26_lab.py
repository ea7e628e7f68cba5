"""The seed's Postfix as the author's 2.6 would answer a relay attempt (needs root).

swaks (a real SMTP client) runs inside lab nodes and asks the EC2 host's Postfix to relay
to yahoo.com:
- topologies/seed-postfix26.yaml (`compat: "2.6"`): from the internet (gmail's host,
  142.250.1.26) "554 5.7.1 <...>: Relay access denied"; from the EC2 subnet (1.2.3.1, the
  ISP edge's address there) the mail is accepted and relayed to yahoo's MX, because
  mynetworks_style = subnet puts all of 1.2.3.0/24 in mynetworks.
- topologies/seed.yaml (labkit's compatibility_level 3.6): the same attempts get
  "454 4.7.1" from both, since mynetworks_style = host trusts only the EC2 host itself.
"""
from __future__ import annotations

import pytest

from labkit.mail.flows import read_maildir
from labkit.procs import wait_until

from labtest import running_lab

pytestmark = pytest.mark.lab
RCPT = "someone@yahoo.com"


def swaks(lab, node: str, source: str, quit_after: str | None = "RCPT") -> tuple[int, str]:
    """swaks from ``node`` (bound to ``source``) to 1.2.3.4: (exit status, transcript)."""
    argv = ["swaks", "--server", "1.2.3.4", "--local-interface", source, "--helo", f"{node}.lab",
            "--from", f"probe@{node}.lab", "--to", RCPT, "--timeout", "20"]
    if quit_after:
        argv += ["--quit-after", quit_after]
    p = lab.node(node).run(argv, timeout=60)
    return p.returncode, p.stdout + p.stderr


def rcpt_reply(transcript: str) -> str:
    """The server's reply to RCPT TO (the `<~` or `<**` line after `~> RCPT TO`)."""
    lines = transcript.splitlines()
    i = next(i for i, ln in enumerate(lines) if "RCPT TO:" in ln)
    return next(ln for ln in lines[i + 1:] if ln.lstrip().startswith("<")).split(" ", 1)[1].strip()


@pytest.fixture(scope="module")
def pf26():
    yield from running_lab("seed-postfix26.yaml", "lkpf26")


@pytest.fixture(scope="module")
def seed():
    yield from running_lab("seed.yaml", "lkpf36")


def test_26_refuses_the_internet_with_554(pf26):
    rc, out = swaks(pf26, "gmail", "142.250.1.26")
    assert rc != 0, out
    assert rcpt_reply(out).startswith(f"554 5.7.1 <{RCPT}>: Relay access denied"), out


def test_26_relays_for_the_whole_ec2_subnet(pf26):
    rc, out = swaks(pf26, "isp", "1.2.3.1", quit_after=None)
    assert rc == 0, out
    assert rcpt_reply(out).startswith("250 2.1.5 Ok"), out
    # relayed: the yahoo host's MX (the lab's sink) got it
    sink = pf26.service("yahoo", "smtpsink")
    got = wait_until(lambda: list(read_maildir(sink.store / RCPT)), 60, what="relay to yahoo's MX")
    assert got[0]["From"] == "probe@isp.lab"
    # Postfix itself says why: 3.7's safety net logs the 2.x default it used
    pf = pf26.service("ec2", "postfix")
    assert ('using backwards-compatible default setting mynetworks_style=subnet to permit request '
            'from client "unknown[1.2.3.1]"') in pf.cfg.log_text()
    main_cf = (pf.conf_dir / "main.cf").read_text()
    assert "compatibility_level = 0" in main_cf
    assert "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" in main_cf


def test_labkit_default_defers_both_with_454(seed):
    for node, source in (("gmail", "142.250.1.26"), ("isp", "1.2.3.1")):
        rc, out = swaks(seed, node, source)
        assert rc != 0, out
        assert rcpt_reply(out).startswith(f"454 4.7.1 <{RCPT}>: Relay access denied"), (node, out)
