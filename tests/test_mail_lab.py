"""The mail host inside a real lab (namespaces, engine services; needs root).

ec2 (1.2.3.4) runs the seed's Postfix (service `postfix`) plus a small authoritative DNS
for gmail.com (its node resolver is 127.0.0.1); gmail (142.250.1.26) runs the `smtpsink`;
client (1.2.3.10) is a sender on the internet, outside Postfix's mynetworks.
"""
from __future__ import annotations

import mailbox
import shutil
import textwrap
from pathlib import Path

import pytest

from labkit.lab import Lab
from labkit.mail.flows import read_maildir, read_mbox
from labkit.mail.postfix import SEED_DIR
from labkit.procs import wait_until

from labtest import leftovers

pytestmark = pytest.mark.lab

TOPO = """\
name: mailt
nodes:
  ec2:
    role: host
    interfaces: {eth0: 1.2.3.4/24, eth1: 142.250.1.1/24}
    services:
      - {type: authdns, zonefile: {gmail.com: gmail.com.zone}}
      - {type: postfix, config: ec2/main.cf}
  gmail:
    role: host
    interfaces: {eth0: 142.250.1.26/24}
    gateway: 142.250.1.1
    services:
      - {type: smtpsink, hostname: mx.gmail.com}
  client:
    role: host
    interfaces: {eth0: 1.2.3.10/24}
    gateway: 1.2.3.4
links:
  - ec2:eth0 -- client:eth0
  - ec2:eth1 -- gmail:eth0
"""
ZONE = """\
$TTL 300
@       IN SOA ns.gmail.com. hostmaster.gmail.com. (1 1H 15M 1W 1D)
        IN NS  ns.gmail.com.
        IN MX  10 mx.gmail.com.
ns      IN A   142.250.1.1
mx      IN A   142.250.1.26
"""

SEND = textwrap.dedent("""\
    import smtplib, sys
    s = smtplib.SMTP("1.2.3.4", 25, timeout=20)
    rc = {}
    for r in sys.argv[1:]:
        s.mail("someone@example.org")
        code, msg = s.rcpt(r)
        rc[r] = (code, msg.decode())
        if code == 250:
            s.data(b"Subject: lab\\r\\n\\r\\nhello " + r.encode() + b"\\r\\n")
        else:
            s.rset()
    s.quit()
    print(repr(rc))
""")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("maillab")
    (d / "ec2").mkdir()
    for name in ("main.cf", "vdomains", "vmbox", "valias"):
        shutil.copy(SEED_DIR / name, d / "ec2" / name)
    (d / "gmail.com.zone").write_text(ZONE)
    (d / "mailt.yaml").write_text(TOPO)
    lab = Lab.up(str(d / "mailt.yaml"), name="mailt", replace=True)
    pids = []
    try:
        pids.append(lab.service("ec2", "postfix").cfg.master_pid())
        yield lab
    finally:
        lab.down()
        assert leftovers("mailt") == []
        for pid in pids:   # master (and so every Postfix daemon) is gone
            assert not _is_postfix_master(pid)


def test_seed_flows_inside_the_lab(lab):
    import ast
    import sys
    out = lab.node("client").run([sys.executable, "-c", SEND, "admin@exampledomain.ca",
                                  "test@exampledomain.ca", "user1@exampledomain.ca",
                                  "nobody@exampledomain.ca", "victim@other.example"])
    assert out.returncode == 0, out.stderr
    rc = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert rc["admin@exampledomain.ca"][0] == 250
    assert rc["nobody@exampledomain.ca"][0] == 550 and rc["nobody@exampledomain.ca"][1].startswith("5.1.1")
    assert rc["victim@other.example"][0] in (454, 554)
    pf = lab.service("ec2", "postfix")
    base = pf.cfg.mailbox_base
    wait_until(lambda: len(list(read_maildir(base / "exampledomain.ca/admin"))) == 1, 60,
               what="admin Maildir delivery")
    # the mbox file exists as soon as virtual(8) creates it, before the message is in it
    wait_until(lambda: read_mbox(base / "exampledomain.ca/test"), 60, what="test mbox delivery")
    assert len(mailbox.mbox(base / "exampledomain.ca/test")) == 1
    # user1@ is forwarded to user1@gmail.com, found through the MX record in the lab DNS
    sink = lab.service("gmail", "smtpsink")
    got = wait_until(lambda: list(read_maildir(sink.store / "user1@gmail.com")), 60,
                     what="forward to the gmail sink")
    assert got[0]["Delivered-To"] == "user1@gmail.com"
    # smtp(8) logs the delivery after the sink's 250, i.e. after the sink stored it
    wait_until(lambda: "relay=mx.gmail.com[142.250.1.26]:25" in pf.cfg.log_text(), 10,
               what="the forward's relay= line in the maillog")


def _is_postfix_master(pid: int) -> bool:
    try:
        return "postfix/sbin/master" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return False
