"""The remote-MX sink: stores every accepted message, survives bad input."""
import mailbox
import smtplib
import socket
import threading

import pytest

from labkit.mail.postfix import SinkProcess


@pytest.fixture
def sink(tmp_path):
    s = SinkProcess(tmp_path / "store", hostname="mx.gmail.com")
    yield s
    s.stop()


def test_one_maildir_per_recipient(sink):
    with smtplib.SMTP(sink.host, sink.port) as s:
        code, banner = s.ehlo()
        assert code == 250
        s.sendmail("a@example.org", ["User1@gmail.com", "user2@gmail.com"],
                   b"Subject: hi\r\n\r\nbody\r\n")
    for r in ("user1@gmail.com", "user2@gmail.com"):
        msgs = list(mailbox.Maildir(sink.store / r, create=False))
        assert len(msgs) == 1
        assert msgs[0]["Subject"] == "hi" and msgs[0]["Delivered-To"].lower() == r
        assert msgs[0]["Return-Path"] == "<a@example.org>"


def test_bad_input_is_refused_and_nothing_accepted_is_lost(sink):
    with socket.create_connection((sink.host, sink.port), timeout=5) as c:
        f = c.makefile("rwb")
        assert f.readline().startswith(b"220 mx.gmail.com")
        for junk in (b"\x00\xff\xfe garbage\r\n", b"RCPT TO:<x@y>\r\n", b"MAIL FROM:\r\n",
                     b"HELO\r\n"):
            f.write(junk)
            f.flush()
            assert f.readline()[:1] in (b"5",)
    with smtplib.SMTP(sink.host, sink.port) as s:
        s.ehlo()
        s.mail("a@example.org")
        assert s.rcpt("../../etc@x")[0] == 553       # cannot escape the store
        assert s.rcpt("ok@gmail.com")[0] == 250
        assert s.data(b"Subject: kept\r\n\r\nx\r\n")[0] == 250
    msgs = list(mailbox.Maildir(sink.store / "ok@gmail.com", create=False))
    assert [m["Subject"] for m in msgs] == ["kept"]
    assert not (sink.store.parent / "etc@x").exists()


def test_concurrent_clients(sink):
    def client(k):
        with smtplib.SMTP(sink.host, sink.port) as s:
            for i in range(20):
                s.sendmail("a@example.org", [f"c{k}@gmail.com"],
                           f"Subject: {k}-{i}\r\n\r\nx\r\n".encode())
    ts = [threading.Thread(target=client, args=(k,)) for k in range(5)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k in range(5):
        subs = sorted(m["Subject"] for m in mailbox.Maildir(sink.store / f"c{k}@gmail.com"))
        assert subs == sorted(f"{k}-{i}" for i in range(20))
