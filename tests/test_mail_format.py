"""Maildir or mbox: the code that decides the mailbox format, without root or a lab.

virtual(8) delivers to a Maildir when the vmbox value ends in '/', to an mbox file
otherwise: the seed has `admin@ -> exampledomain.ca/admin/` (Maildir) and
`test@ -> exampledomain.ca/test` (mbox). labkit decides the same thing in three places:
when it writes a new map entry (both backends), when it imports the seed into SQLite,
and when it reads back what was delivered (loopback flows and the lab notebook). A swap
in any of them used to show only in the root lab tests; here each one is checked alone.
"""
from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.lessons import mail as lesson
from labkit.mail import flows
from labkit.mail.maps import FileMaps, mailbox_format, mailbox_path, read_map
from labkit.mail.postfix import SEED_DIR
from labkit.mail.sqlitemaps import SqliteMaps

ADMIN, TEST = "admin@exampledomain.ca", "test@exampledomain.ca"


def test_seed_map_says_admin_maildir_test_mbox():
    formats = {e.key: mailbox_format(e.value) for e in read_map(SEED_DIR / "vmbox")}
    assert formats[ADMIN] == "maildir" and formats[TEST] == "mbox"
    # the flows' expectations are the map's own answer
    expected = {f.rcpt: f.expect for f in flows.SEED_FLOWS}
    lab_expected = {f.rcpt: f.expect for f in lesson.SEED_LAB_FLOWS}
    for rcpt in (ADMIN, TEST):
        assert expected[rcpt] == lab_expected[rcpt] == formats[rcpt]


def test_mailbox_path_by_format():
    assert mailbox_path("bob", "example.net", "maildir") == "example.net/bob/"
    assert mailbox_path("bob", "example.net", "mbox") == "example.net/bob"
    assert mailbox_format(mailbox_path("x", "d.example", "maildir")) == "maildir"
    assert mailbox_format(mailbox_path("x", "d.example", "mbox")) == "mbox"
    with pytest.raises(ValueError):
        mailbox_path("bob", "example.net", "Maildir/")


def _conf(tmp_path: Path, backend: str) -> Path:
    conf = tmp_path / backend
    conf.mkdir()
    for name in ("vdomains", "vmbox", "valias"):
        (conf / name).write_text((SEED_DIR / name).read_text())
    (conf / "labkit-maps.json").write_text(json.dumps({"backend": backend}))
    return conf


def test_new_mailboxes_get_the_asked_format_in_both_backends(tmp_path):
    files = FileMaps(_conf(tmp_path, "hash"))
    files.add_mailbox("md@exampledomain.ca")
    files.add_mailbox("mb@exampledomain.ca", mbox=True)
    got = {e.key: e.value for e in files.entries("vmbox")}
    db = SqliteMaps(_conf(tmp_path, "sqlite"))
    db.create()
    db.import_text_maps(db.conf_dir)
    db.add_mailbox("md@exampledomain.ca")
    db.add_mailbox("mb@exampledomain.ca", mbox=True)
    rows = dict(db.rows("mailboxes"))
    for where in (got, rows):
        assert where["md@exampledomain.ca"] == "exampledomain.ca/md/"
        assert where["mb@exampledomain.ca"] == "exampledomain.ca/mb"
    # importing the seed keeps the trailing slash exactly as written
    assert rows[ADMIN] == "exampledomain.ca/admin/" and rows[TEST] == "exampledomain.ca/test"


def _message(subject: str, tag: str = "") -> EmailMessage:
    m = EmailMessage()
    m["Subject"] = subject
    if tag:
        m["X-Labkit-Tag"] = tag
    m.set_content("hi\n")
    return m


@pytest.fixture
def delivered_base(tmp_path):
    """A virtual_mailbox_base as virtual(8) leaves it for the seed: admin/ a Maildir,
    test an mbox file, nothing yet for anyone else."""
    base = tmp_path / "vhosts"
    dom = base / "exampledomain.ca"
    dom.mkdir(parents=True)
    mailbox.Maildir(dom / "admin", create=True).add(_message("to admin", "t1"))
    box = mailbox.mbox(dom / "test", create=True)
    box.add(_message("to test", "t1"))
    box.flush()
    box.close()
    return base


def test_read_delivered_tells_maildir_from_mbox(delivered_base):
    dom = delivered_base / "exampledomain.ca"
    fmt, msgs = flows.read_delivered(dom / "admin")
    assert fmt == "maildir" and [m["Subject"] for m in msgs] == ["to admin"]
    fmt, msgs = flows.read_delivered(dom / "test")
    assert fmt == "mbox" and [m["Subject"] for m in msgs] == ["to test"]
    assert flows.read_delivered(dom / "nobody") == ("", [])
    # each reader refuses the other format instead of guessing
    assert flows.read_maildir(dom / "test") == [] and flows.read_mbox(dom / "admin") == []


def test_loopback_flow_lookup_reports_the_format(delivered_base):
    pf = SimpleNamespace(mailbox_path=lambda rel: delivered_base / rel, sinks={})
    assert flows._found(pf, flows.Flow(ADMIN, "maildir"), "t1") == "maildir"
    assert flows._found(pf, flows.Flow(TEST, "mbox"), "t1") == "mbox"
    assert flows._found(pf, flows.Flow(TEST, "mbox"), "other-tag") == ""


def test_lab_notebook_lookup_reports_the_format(delivered_base, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    postfix = SimpleNamespace(cfg=SimpleNamespace(mailbox_base=delivered_base), conf_dir=conf)
    lab = SimpleNamespace(service=lambda node, name: postfix)
    fmt, msgs = lesson.delivered(lab, ADMIN)           # no vmbox: DOMAIN/LOCAL
    assert fmt == "maildir" and msgs[0]["Subject"] == "to admin"
    fmt, msgs = lesson.delivered(lab, TEST)
    assert fmt == "mbox" and msgs[0]["Subject"] == "to test"
    # the path the vmbox line gives wins (notebook 03's student picks it): here test@ reads admin/
    (conf / "vmbox").write_text("# a comment\nTest@exampledomain.ca  exampledomain.ca/admin/\n")
    assert lesson.vmbox_path(lab, TEST) == "exampledomain.ca/admin/" and lesson.vmbox_path(lab, ADMIN) is None
    fmt, msgs = lesson.delivered(lab, TEST)
    assert fmt == "maildir" and msgs[0]["Subject"] == "to admin"
