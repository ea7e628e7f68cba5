"""Helpers behind notebooks 02-dns-mx and 03-mail: the walk table, the wire listing of a DNS
message, the zone variant and the security groups (labkit.lessons.dns); the SMTP probe
(labkit.probes.mail), the lab mail flows and the experiment summary (labkit.lessons.mail).

Pure formatting is tested without a lab; the probes are tested in a real seed lab
(`lab` mark): real namespaces, BIND, dnsmasq, NAT, Postfix and the gmail sink.
"""
from __future__ import annotations

import email

import pytest

from labkit.lab.errors import SafetyError
from labkit.lessons import mail as labmail
from labkit.lessons.dns import message_fields, security_group, walk_table, with_mx_target
from labkit.lessons.mail import burst_facts, burst_table
from labkit.probes import mail as mailprobe

from labtest import ROOT, leftovers

INSTANCE = "nbhelp"


# ---- pure logic ---------------------------------------------------------------------

# ---- notebook 02's helpers (labkit.lessons.dns) -------------------------------------

# BIND 9.18's reply to `exampledomain.ca MX` (ID 0x2a2a, RD) from the seed lab, as captured
BIND_MX_REPLY = bytes.fromhex(
    "2a2a85000001000100000001" "0d6578616d706c65646f6d61696e0263610000" "0f0001"
    "c00c000f00010000012c0009000a046d61696cc00c" "c030000100010000012c000401020304")


def test_walk_table_shows_glue_for_referrals_and_additional_data_for_answers():
    steps = [{"server": "198.41.0.4", "rcode": "NOERROR", "aa": False, "answer": [],
              "referral": ["a.ns.t."], "glue": ["a.ns.t. 10.0.0.1"], "additional": []},
             {"server": "10.0.0.1", "rcode": "NOERROR", "aa": True, "answer": ["MX 10 mail.t."],
              "referral": [], "glue": [], "additional": ["mail.t. 10.0.0.2"]},
             {"server": "10.0.0.1", "rcode": "NXDOMAIN", "aa": True, "answer": [],
              "referral": [], "glue": [], "additional": []}]
    rows = walk_table(steps).splitlines()
    assert rows[0].split()[-3:] == ["glue", "/", "additional"]
    assert rows[1].split()[4:] == ["->", "a.ns.t.", "glue:", "a.ns.t.", "10.0.0.1"]
    assert rows[2].split()[4:] == ["MX", "10", "mail.t.", "additional:", "mail.t.", "10.0.0.2"]
    assert rows[3].split() == ["3", "10.0.0.1", "NXDOMAIN", "yes"]


def test_with_mx_target_edits_the_one_mx_record_or_says_why_not():
    seed = (ROOT / "topologies" / "ec2" / "exampledomain.ca").read_text()
    out = with_mx_target(seed, "mail.exampledomain.com.")
    changed = [(a, b) for a, b in zip(seed.splitlines(), out.splitlines()) if a != b]
    assert changed == [("            IN MX 10 mail", "            IN MX 10 mail.exampledomain.com.")]
    for bad in (seed.replace("IN MX 10 mail\n", "IN MX 20 mail\n"), seed + "            IN MX 10 mail\n"):
        with pytest.raises(ValueError, match="exactly one 'IN MX 10 mail'"):
            with_mx_target(bad, "x.example.")


def test_message_fields_lists_the_query_scapy_builds():
    from scapy.layers.dns import DNS, DNSQR
    rows = message_fields(bytes(DNS(id=0x2A2A, rd=1, qd=DNSQR(qname="exampledomain.ca", qtype="MX")))).splitlines()
    assert [r.split()[0] for r in rows[1:]] == ["0", "2", "4", "6", "8", "10", "12", "30", "32"]
    assert rows[1].split()[1:5] == ["2a", "2a", "ID", "10794"]
    assert "QR=0 OPCODE=0 AA=0 TC=0 RD=1 RA=0" in rows[2]
    assert rows[3].split()[-2:] == ["QDCOUNT", "1"] and rows[4].split()[-2:] == ["ANCOUNT", "0"]
    assert rows[7].split()[-2:] == ["QNAME", "exampledomain.ca."] and "(18 bytes)" in rows[7]
    assert rows[8].split()[-3:] == ["QTYPE", "15", "(MX)"] and rows[9].split()[-3:] == ["QCLASS", "1", "(IN)"]


def test_message_fields_follows_bind_s_compressed_names():
    rows = message_fields(BIND_MX_REPLY).splitlines()
    assert "QR=1 OPCODE=0 AA=1 TC=0 RD=1 RA=0" in rows[2] and rows[2].split()[1:3] == ["85", "00"]
    by_offset = {r.split()[0]: r for r in rows[1:]}
    assert by_offset["34"].split()[1:3] == ["c0", "0c"]
    assert by_offset["34"].endswith("answer: NAME      exampledomain.ca. (ends in a pointer to offset 12)")
    assert by_offset["40"].split()[-2:] == ["TTL", "300"] and by_offset["44"].split()[-2:] == ["RDLENGTH", "9"]
    assert by_offset["46"].endswith("RDATA             10 mail.exampledomain.ca.")
    assert by_offset["55"].endswith("mail.exampledomain.ca. (ends in a pointer to offset 48)")
    assert by_offset["67"].split()[-2:] == ["RDATA", "1.2.3.4"] and len(rows) == 20


def test_message_fields_reads_or_refuses_mutated_messages():
    """Seeded mutations of the BIND reply: a listing or a ValueError, never another error."""
    import logging
    import random
    logging.getLogger("scapy").setLevel(logging.ERROR)      # scapy warns about pointer loops
    rng, listed, refused = random.Random(15), 0, 0
    for _ in range(1500):
        b = bytearray(BIND_MX_REPLY)
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(3)
            if op == 0:
                b[rng.randrange(len(b))] = rng.randrange(256)
            elif op == 1:
                del b[rng.randrange(len(b)):]
            else:
                b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
            if not b:
                b = bytearray(b"\x00")
        try:
            assert message_fields(bytes(b)).startswith("offset")
            listed += 1
        except ValueError as e:
            assert str(e), bytes(b).hex()
            refused += 1
    assert listed > 100 and refused > 100
    with pytest.raises(ValueError, match="12-byte header"):
        message_fields(b"\x2a\x2a\x01")
    longer = bytearray(BIND_MX_REPLY)
    longer[66] = 5                       # the A record's RDLENGTH one more than its 4 bytes
    with pytest.raises(ValueError, match=r"the additional record at offset 55 runs past the end of the message \(71 bytes\)"):
        message_fields(bytes(longer))


def test_security_groups_of_the_seed_and_its_www_variant():
    assert security_group("seed") == ["25/tcp", "53/tcp", "53/udp"]
    assert security_group("seed-www") == ["25/tcp", "53/tcp", "53/udp", "80/tcp"]
    with pytest.raises(ValueError, match="pc1 has no secgroup"):
        security_group("seed", "pc1")


# ---- notebook 03's helpers -------------------------------------------------------------

def test_clean_reply_hides_queue_id():
    assert mailprobe.clean_reply(b"2.0.0 Ok: queued as 4XyZ12Ab") == "2.0.0 Ok: queued as QUEUEID"
    assert mailprobe.clean_reply("5.1.1 <a@b>:\n  Recipient") == "5.1.1 <a@b>: Recipient"


def test_message_has_no_varying_headers():
    msg = email.message_from_bytes(mailprobe.message("s@x.example", "r@y.example", "hi"))
    assert msg["Subject"] == "hi" and msg["To"] == "r@y.example"
    assert msg["Date"] is None and msg["Message-ID"] is None


def test_steps_table():
    r = {"mx": {"domain": "d.example", "dns": "10.0.0.1", "mx": [(10, "mx.d.example.")],
                "exchanger": "mx.d.example.", "address": "10.0.0.2"},
         "steps": [("connect", 220, "mx ESMTP"), ("RCPT TO", 550, "5.1.1 unknown")]}
    out = labmail.steps_table(r).splitlines()
    assert out[0] == "MX d.example via 10.0.0.1: 10 mx.d.example. -> 10.0.0.2"
    assert out[2].split() == ["RCPT", "TO", "550", "5.1.1", "unknown"]


def test_hops_and_describe_drop_ids_and_dates():
    raw = (b"Received: from mail.x (mail.x [1.2.3.4])\r\n\tby mx (sink) with SMTP id AAA;"
           b" Thu, 1 Jan 2026 00:00:00 +0000\r\n"
           b"Received: from pc1 (unknown [100.64.0.2])\r\n\tby mail.x (Postfix) with ESMTP id"
           b" 4ABC; Thu, 1 Jan 2026 00:00:00 +0000\r\nSubject: s\r\nTo: t@x\r\n\r\nbody\r\n")
    msg = email.message_from_bytes(raw)
    assert labmail.hops(msg) == ["pc1 (unknown [100.64.0.2])", "mail.x (mail.x [1.2.3.4])"]
    d = labmail.describe(msg)
    assert "4ABC" not in d and "2026" not in d and d.startswith("Subject: s | To: t@x")


def test_flow_table_marks_failures():
    rows = [labmail.LabFlow("a@x", "pc1", "maildir", 250, "maildir"),
            labmail.LabFlow("b@x", "pc1", "550", 250, "not delivered")]
    lines = labmail.flow_table(rows).splitlines()
    assert lines[1].endswith("yes") and lines[2].endswith("NO")


def test_burst_facts_has_no_timings():
    rows = [dict(design=d, burst=n, write_ms=1.5, write_cpu_ms=1.25, live_ms=300.25, lag_ms=2.0, cpu_ms=7.75,
                 postmap_runs=(1 if d == "files" else 0))
            for d in ("sqlite-batch", "files", "sqlite") for n in (1, 10)]
    out = burst_facts(rows)
    assert "300" not in out and "7.75" not in out and "1.25" not in out
    assert [ln.split(":")[0] for ln in out.splitlines() if not ln.startswith(" ")] == ["files", "sqlite", "sqlite-batch"]
    assert "  bursts of 1, 10: 11 mailboxes added" in out
    assert "sqlite: one transaction (one commit) per mailbox" in out
    assert "sqlite-batch: one transaction for the whole burst" in out
    assert "at most 2 per burst" in out and out.count("none (live at the commit)") == 2
    next(r for r in rows if r["design"] == "files")["postmap_runs"] = 5   # not batched: the real count
    assert "postmap runs: 6" in burst_facts(rows)


def test_burst_table_says_when_a_probe_stalled():
    row = dict(design="files", burst=10, write_ms=5.0, write_cpu_ms=3.0, live_ms=5330.0, lag_ms=5325.0,
               cpu_ms=8.0, postmap_runs=1, stalls=0)
    lines = burst_table([row]).splitlines()
    assert len(lines) == 2 and lines[1].split() == ["files", "10", "5.0", "3.0", "2.0", "5330.0", "8.0", "1"]
    assert burst_table([{**row, "stalls": 1}]).splitlines()[-1].endswith("(retried, the wait is in live ms): files 10: 1")


def test_show_packet_hides_only_the_random_fields():
    from scapy.all import DNS, DNSQR, IP, UDP, Ether
    pkt = Ether(bytes(Ether() / IP(src="192.168.1.100", dst="192.168.254.1") / UDP(sport=40000, dport=53)
                      / DNS(rd=1, qd=DNSQR(qname="exampledomain.ca", qtype="MX"))))
    out = labmail.show_packet(pkt)
    udp = out[out.index("###[ UDP ]###"):out.index("###[ DNS ]###")]
    assert "sport     = (random)" in udp and "chksum    = (random)" in udp and "40000" not in out
    assert "dport     = domain" in udp
    ip = out[out.index("###[ IP ]###"):out.index("###[ UDP ]###")]
    assert f"chksum    = {hex(pkt[IP].chksum)}" in ip          # the IP checksum is the same every run
    assert "qtype     = MX" in out and "rd        = 1" in out and "id        = 0" in out
    other = Ether(bytes(pkt)[:34] + bytes(UDP(sport=40001, dport=53) / pkt[DNS]))
    assert labmail.show_packet(other) == out


def test_rcpt_reply_reads_the_refusal_of_a_swaks_transcript():
    transcript = ("=== Connected to 1.2.3.4.\n<-  220 mail.exampledomain.ca ESMTP Postfix\n"
                  " -> RCPT TO:<someone@yahoo.com>\n<** 554 5.7.1 <someone@yahoo.com>: Relay access denied\n"
                  " -> QUIT\n<-  221 2.0.0 Bye\n")
    assert labmail.rcpt_reply(transcript) == "554 5.7.1 <someone@yahoo.com>: Relay access denied"
    with pytest.raises(ValueError, match="no RCPT TO"):
        labmail.rcpt_reply("=== Trying 1.2.3.4:25...\n*** Error connecting")


def test_use_compat_names_the_choices():
    with pytest.raises(ValueError, match="knows 2.6, 3.6"):
        labmail.use_compat(None, "2.10")


def test_probe_refuses_outside_a_lab():
    """Traffic safety: from the root namespace the probe sends nothing and says why."""
    with pytest.raises(SafetyError):
        mailprobe.send("admin@exampledomain.ca", host="127.0.0.1")
    with pytest.raises(SafetyError):
        mailprobe.rcpt_code("admin@exampledomain.ca", "127.0.0.1")


# ---- in a real seed lab ---------------------------------------------------------------

@pytest.fixture(scope="module")
def lab():
    import labkit
    lab = labkit.Lab.up("seed", name=INSTANCE, replace=True)
    try:
        yield lab
    finally:
        lab.down()
        assert leftovers(INSTANCE) == []


@pytest.mark.lab
def test_resolve_mx_through_forwarder(lab):
    mx = lab.node("pc1").call("labkit.probes.mail:resolve_mx", "exampledomain.ca", "192.168.254.1")
    assert mx["rcode"] == "NOERROR"
    assert mx["mx"] == [(10, "mail.exampledomain.ca.")]
    assert mx["address"] == "1.2.3.4"


@pytest.mark.lab
def test_send_from_lan_crosses_nat(lab):
    r = lab.node("pc1").call("labkit.probes.mail:send", "admin@exampledomain.ca",
                             subject="probe test", helo="pc1")
    assert r["accepted"] and r["server"] == "1.2.3.4"
    assert ("DATA", 250, "2.0.0 Ok: queued as QUEUEID") in [tuple(s) for s in r["steps"]]
    fmt, msgs = labmail.wait_delivered(lab, "admin@exampledomain.ca", "probe test")
    assert fmt == "maildir"
    mine = [m for m in msgs if m["Subject"] == "probe test"]
    assert labmail.hops(mine[0]) == ["pc1 (unknown [100.64.0.2])"]   # the router's NAT address


@pytest.mark.lab
def test_seed_flows_in_the_lab(lab):
    results = labmail.run_flows(lab, tag="test")
    assert [(f.rcpt, f.outcome) for f in results if not f.ok] == []
    codes = {f.rcpt: f.code for f in results}
    assert codes["nobody@exampledomain.ca"] == 550 and codes["victim@yahoo.com"] == 454
    listing = labmail.mailbox_listing(lab, ("test@exampledomain.ca", "user1@exampledomain.ca"))
    assert "[mbox]" in listing and "gmail/smtpsink/maildirs/user1@gmail.com [forward]" in listing
    assert labmail.ensure_flows(lab, tag="test") is False            # every delivered flow is there
    assert labmail.ensure_flows(lab, tag="again") is True and labmail.ensure_flows(lab, tag="again") is False


@pytest.mark.lab
def test_the_mx_query_on_the_wire(lab):
    from scapy.all import DNS, IP, UDP
    r, dns = labmail.send_captured(lab, "admin@exampledomain.ca", "wire test", node="pc2")
    assert r["accepted"]
    asked = [(p[IP].src, p[IP].dst, p[DNS].qd[0].qname, p[DNS].qd[0].qtype) for p in dns if p[DNS].qr == 0]
    assert asked == [("192.168.1.20", "192.168.254.1", b"exampledomain.ca.", 15),
                     ("192.168.1.20", "192.168.254.1", b"mail.exampledomain.ca.", 1)]
    q = dns[0]
    assert (q[IP].id, q[UDP].dport, q[DNS].id, q[DNS].rd) == (1, 53, 0, 1)
    shown = labmail.show_packet(q)
    assert "sport     = (random)" in shown and "qtype     = MX" in shown


@pytest.mark.lab
def test_postfix_26_answers_554_and_relays_for_its_subnet(lab):
    """The seed as the author's Postfix 2.6 answered (compat "2.6", in the running lab), then
    labkit's 3.6 again: 554 against 454, and the EC2 subnet's 1.2.3.1 relays under 2.6 only."""
    rcpt = "someone@yahoo.com"
    try:
        assert labmail.use_compat(lab, "2.6") is True and labmail.use_compat(lab, "2.6") is False
        rc, out = labmail.swaks(lab, "gmail", "142.250.1.26", rcpt)
        assert rc != 0 and labmail.rcpt_reply(out) == f"554 5.7.1 <{rcpt}>: Relay access denied", out
        assert "250-SMTPUTF8" not in out                      # level 0: no SMTPUTF8, as 2.6 had none
        rc, out = labmail.swaks(lab, "isp", "1.2.3.1", rcpt, quit_after=None, subject="from the subnet")
        assert rc == 0 and labmail.rcpt_reply(out) == "250 2.1.5 Ok", out
        fmt, msgs = labmail.wait_delivered(lab, rcpt, "from the subnet", timeout=60)
        assert fmt == "forward" and msgs[0]["From"] == "probe@isp.lab"   # at yahoo's MX
        assert labmail.compat_log(lab) == [   # Postfix's own word for the 2.x defaults it used
            'using backwards-compatible default setting mynetworks_style=subnet to permit request from client '
            '"unknown[1.2.3.1]"',
            'using backwards-compatible default setting smtpd_relay_before_recipient_restrictions=no to reject '
            f'recipient "{rcpt}" from client "unknown[142.250.1.26]"']
        assert trusted(lab) == "mynetworks_style = subnet\nmynetworks = 127.0.0.0/8 1.2.3.0/24"
        main_cf = (lab.service("ec2", "postfix").conf_dir / "main.cf").read_text()
        assert "compatibility_level = 0" in main_cf
        assert "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" in main_cf
    finally:
        labmail.use_compat(lab, "3.6")
    for node, source in (("gmail", "142.250.1.26"), ("isp", "1.2.3.1")):
        rc, out = labmail.swaks(lab, node, source, rcpt)
        assert rc != 0 and labmail.rcpt_reply(out) == f"454 4.7.1 <{rcpt}>: Relay access denied", (node, out)
    assert "250-SMTPUTF8" in out
    assert trusted(lab) == "mynetworks_style = host\nmynetworks = 127.0.0.1/32 1.2.3.4/32"


def trusted(lab) -> str:
    """What Postfix on the EC2 node computes as its trusted networks (postconf inside the node)."""
    conf = lab.service("ec2", "postfix").conf_dir
    return lab.node("ec2").run(["postconf", "-c", str(conf), "-x", "mynetworks_style", "mynetworks"],
                               check=True).stdout.strip()


@pytest.mark.lab
def test_new_mailbox_goes_live_and_receives(lab):
    from labkit.mail import admin
    addr = "fresh@exampledomain.ca"
    code, text = lab.node("isp").call("labkit.probes.mail:rcpt_code", addr, "1.2.3.4")
    assert code == 550 and "5.1.1" in text
    assert admin.add_mailbox(lab.service("ec2", "postfix").conf_dir, addr)
    assert labmail.wait_live(lab, addr) == 250
    r = lab.node("pc2").call("labkit.probes.mail:send", addr, subject="fresh", helo="pc2")
    assert r["accepted"]
    fmt, _ = labmail.wait_delivered(lab, addr, "fresh")
    assert fmt == "maildir"
