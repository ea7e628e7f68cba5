"""The seed's mail flows on a real Postfix (loopback, private config dir).

admin@ -> Maildir, test@ -> mbox, user1@ -> forwarded to the gmail.com sink, unknown
user -> 550 5.1.1, relay from a client outside mynetworks -> refused. Then 500 messages
from 10 concurrent clients, each delivered exactly once to the right mailbox.
"""
import os
import smtplib
import threading
import uuid
from collections import Counter

import pytest

from labkit.mail import puzzle
from labkit.mail.flows import read_maildir, read_mbox
from labkit.mail.postfix import INTERNET_CLIENT, LoopbackPostfix
from labkit.procs import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Postfix needs root")

ADMIN, TEST, USER1 = ("admin@exampledomain.ca", "test@exampledomain.ca",
                      "user1@exampledomain.ca")


@pytest.fixture(scope="module")
def pf():
    with LoopbackPostfix() as p:
        yield p


def tagged(msgs, tag):
    return [m for m in msgs if m["X-Labkit-Tag"] == tag]


def boxes(pf):
    """recipient -> reader of its delivered messages."""
    return {
        ADMIN: lambda: read_maildir(pf.mailbox_path("exampledomain.ca/admin")),
        TEST: lambda: read_mbox(pf.mailbox_path("exampledomain.ca/test")),
        USER1: lambda: read_maildir(pf.sink_maildir("user1@gmail.com")),
    }


def send(pf, rcpts, tag, n=0, source=None):
    body = (f"From: tester@example.org\r\nTo: {', '.join(rcpts)}\r\nSubject: seq {n}\r\n"
            f"X-Labkit-Tag: {tag}\r\nX-Labkit-Seq: {n}\r\n\r\nhello {n}\r\n").encode()
    with pf.smtp(source) as s:
        return s.sendmail("tester@example.org", rcpts, body)


def test_admin_gets_maildir_test_gets_mbox_user1_forwarded(pf):
    tag = uuid.uuid4().hex
    assert send(pf, [ADMIN, TEST, USER1], tag, source=INTERNET_CLIENT) == {}
    read = boxes(pf)
    for rcpt in (ADMIN, TEST, USER1):
        msgs = wait_until(lambda: tagged(read[rcpt](), tag), 30, what=f"delivery to {rcpt}")
        assert len(msgs) == 1 and msgs[0]["Subject"] == "seq 0"
    # the map entry's trailing slash decides the format
    assert (pf.mailbox_path("exampledomain.ca/admin") / "new").is_dir()
    assert pf.mailbox_path("exampledomain.ca/test").is_file()
    fwd = tagged(read[USER1](), tag)[0]
    assert fwd["Delivered-To"] == "user1@gmail.com"
    st = pf.mailbox_path("exampledomain.ca/test").stat()
    assert (st.st_uid, st.st_gid) == (4000, 4000)


def test_unknown_user_is_550_5_1_1(pf):
    code, text = pf.rcpt_status("nobody@exampledomain.ca")
    assert code == 550 and text.startswith("5.1.1")
    assert "User unknown in virtual mailbox table" in text
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send(pf, ["nobody@exampledomain.ca"], "x", source=INTERNET_CLIENT)
    assert e.value.recipients["nobody@exampledomain.ca"][0] == 550


def test_no_open_relay_for_clients_outside_mynetworks(pf):
    code, text = pf.rcpt_status("victim@other.example", source=INTERNET_CLIENT)
    # Postfix 3.x answers 454 (defer_unauth_destination in smtpd_relay_restrictions)
    assert code in (454, 554) and "Relay access denied" in text
    # smtpd writes its log line through postlogd, after the reply: wait for it (bounded)
    wait_until(lambda: "Relay access denied" in pf.log_text(), 10, what="the relay refusal in the maillog")


def test_500_messages_from_10_clients_each_delivered_exactly_once(pf):
    tag = uuid.uuid4().hex
    rcpts = [ADMIN, TEST, USER1]
    expected = {n: rcpts[n % 3] for n in range(500)}
    errors = []

    def client(k):
        try:
            with pf.smtp(INTERNET_CLIENT if k % 2 else None) as s:
                for n in range(k, 500, 10):
                    body = (f"Subject: seq {n}\r\nX-Labkit-Tag: {tag}\r\nX-Labkit-Seq: {n}\r\n"
                            f"\r\nmessage {n}\r\n").encode()
                    refused = s.sendmail("bulk@example.org", [expected[n]], body)
                    assert refused == {}
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    read = boxes(pf)
    want = Counter(expected.values())

    def got():
        seen = {r: [int(m["X-Labkit-Seq"]) for m in tagged(read[r](), tag)] for r in rcpts}
        return seen if all(len(seen[r]) >= want[r] for r in rcpts) else None

    seen = wait_until(got, 120, 0.2, what="500 deliveries")
    for r in rcpts:
        assert sorted(seen[r]) == sorted(n for n, rr in expected.items() if rr == r), r
        assert len(seen[r]) == len(set(seen[r])), f"duplicate delivery to {r}"


def test_puzzle_domain_in_both_lists_breaks_mailboxes():
    both = puzzle.run(both=True)
    assert both.replies["admin@exampledomain.ca"][0] == 550
    assert "User unknown in virtual alias table" in both.replies["admin@exampledomain.ca"][1]
    assert both.replies["test@exampledomain.ca"][0] == 550
    assert both.replies["user1@exampledomain.ca"][0] == 250   # aliases still resolve
    assert any("in BOTH virtual_alias_domains and virtual_mailbox_domains" in w
               for w in both.warnings)
    seed = puzzle.run(both=False)
    assert seed.replies["admin@exampledomain.ca"][0] == 250
    assert "virtual mailbox table" in seed.replies["nobody@exampledomain.ca"][1]
    assert seed.warnings == []


def test_puzzle_the_posts_slip_taken_literally(tmp_path):
    # "only list the domains in virtual_mailbox_maps": with the domain in vmbox and not in the
    # seed's virtual_mailbox_domains (vdomains), Postfix is not its final destination
    seed = puzzle.slipped_seed(tmp_path)
    assert "exampledomain.ca exampledomain.ca" in (seed / "vmbox").read_text().splitlines()
    assert not [ln for ln in (seed / "vdomains").read_text().splitlines() if ln.startswith("exampledomain.ca")]
    slip = puzzle.run(both=False, slip=True)
    for rcpt in ("admin@exampledomain.ca", "test@exampledomain.ca", "user1@exampledomain.ca"):
        code, text = slip.replies[rcpt]
        assert (code, text) == (454, f"4.7.1 <{rcpt}>: Relay access denied"), rcpt


def test_seed_flow_check_for_notebooks(pf):
    from labkit.mail.flows import check_seed_flows, flow_table
    results = check_seed_flows(pf)
    table = flow_table(results)
    assert all(f.ok for f in results), table
    assert table.splitlines()[1].split() == ["admin@exampledomain.ca", "maildir", "250",
                                             "maildir", "yes"]
    assert [f.code for f in results] == [250, 250, 250, 550, 454]
