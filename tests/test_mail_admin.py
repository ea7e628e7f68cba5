"""The seed's automation section: locked file edits + batched postmap, or SQLite."""
import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.mail import admin
from labkit.mail.errors import MailConfigError
from labkit.mail.maps import FileMaps, check_address, dirty_maps, mark_dirty, read_map
from labkit.mail.postfix import SEED_DIR, LoopbackPostfix
from labkit.mail.postmapd import Scheduler, read_log, run_pending
from labkit.mail.sqlitemaps import SqliteMaps
from labkit.procs import wait_until

REPO = Path(__file__).resolve().parents[1]   # the checkout: cwd of `python -m labkit...`

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="Postfix needs root")


def make_conf(tmp_path: Path, backend: str) -> Path:
    """A config dir with the seed maps, without a running Postfix."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.cf").write_text("")
    for name in ("vdomains", "vmbox", "valias"):
        (conf / name).write_text((SEED_DIR / name).read_text())
    (conf / "labkit-maps.json").write_text(json.dumps({"backend": backend}))
    if backend == "sqlite":
        db = SqliteMaps(conf)
        db.create()
        db.import_text_maps(conf)
    return conf


def _worker(conf: str, k: int, n: int) -> None:
    for i in range(n):
        admin.add_mailbox(Path(conf), f"u{k}x{i}@exampledomain.ca", mbox=(i % 2 == 1))
        if i % 5 == 0:
            admin.add_alias(Path(conf), f"a{k}x{i}@exampledomain.ca", f"u{k}x{i}@gmail.com")


@pytest.mark.parametrize("backend", ["hash", "sqlite"])
def test_20_processes_x_25_additions_lose_nothing(tmp_path, backend):
    conf = make_conf(tmp_path, backend)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(str(conf), k, 25)) for k in range(20)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 20
    want = {f"u{k}x{i}@exampledomain.ca" for k in range(20) for i in range(25)}
    want_alias = {f"a{k}x{i}@exampledomain.ca" for k in range(20) for i in range(0, 25, 5)}
    rows = admin.listing(conf)
    boxes = [k for k, _ in rows["vmbox"]]
    aliases = [k for k, _ in rows["valias"]]
    assert len(boxes) == len(set(boxes)) == 502            # + the seed's admin@ and test@
    assert want <= set(boxes) and want_alias <= set(aliases)
    assert len(aliases) == len(set(aliases)) == 102         # + user1@ and user2@
    if backend == "hash":
        # well-formed: every line parses, one entry per line, the file ends with a newline
        text = (conf / "vmbox").read_text()
        assert text.endswith("\n")
        assert all(len(ln.split()) == 2 for ln in text.splitlines()
                   if ln.strip() and not ln.startswith("#"))
        run_pending(conf)
        dump = subprocess.run(["postmap", "-c", str(conf), "-s", f"hash:{conf}/vmbox"],
                              capture_output=True, text=True, check=True).stdout
        assert {ln.split()[0] for ln in dump.splitlines()} == set(boxes)
        assert dirty_maps(conf) == []


def test_validation_errors_name_file_and_fix(tmp_path):
    conf = make_conf(tmp_path, "hash")
    m = FileMaps(conf)
    with pytest.raises(MailConfigError, match=r"vdomains: domain nowhere.example is not listed"
                                              r".*add-domain nowhere.example first"):
        m.add_mailbox("bob@nowhere.example")
    with pytest.raises(MailConfigError, match="bad address"):
        m.add_mailbox("bob smith@exampledomain.ca")
    with pytest.raises(MailConfigError, match=r"vmbox:2: admin@exampledomain.ca is already"):
        m.add_mailbox("admin@exampledomain.ca", "elsewhere/")
    assert m.add_mailbox("admin@exampledomain.ca", "exampledomain.ca/admin/") is False
    with pytest.raises(MailConfigError, match="relative"):
        m.add_mailbox("eve@exampledomain.ca", "../../etc/")
    assert dirty_maps(conf) == []   # nothing was written


def test_addresses_are_lowercased_like_postmap_does(tmp_path):
    # postmap lowercases keys; a key written with capitals would never match a lookup
    assert check_address("  Bob.Smith@ExampleDomain.CA ") == ("bob.smith", "exampledomain.ca")
    conf = make_conf(tmp_path, "hash")
    m = FileMaps(conf)
    assert m.add_mailbox("Carol@ExampleDomain.ca") is True
    assert m.add_alias("Dave@EXAMPLEDOMAIN.CA", "Dave@Gmail.com") is True
    assert [(e.key, e.value) for e in read_map(conf / "vmbox")][-1] == (
        "carol@exampledomain.ca", "exampledomain.ca/carol/")
    assert read_map(conf / "valias")[-1].key == "dave@exampledomain.ca"
    # the seed's admin@ written with capitals is the same mailbox, not a second line
    assert m.add_mailbox("ADMIN@exampledomain.ca", "exampledomain.ca/admin/") is False


@pytest.mark.parametrize("address", ["bob", "bob@b@exampledomain.ca", "@@exampledomain.ca"])
def test_an_address_needs_exactly_one_at(address):
    with pytest.raises(MailConfigError) as err:
        check_address(address)
    assert [(d.message, d.fix) for d in err.value.diagnostics] == [
        (f"bad address {address!r}", "write local@domain")]


def _dirty_flag(conf: Path, first: float, newest: float) -> None:
    """A vmbox flag as the writers leave it, first made at FIRST and last touched at NEWEST."""
    mark_dirty(conf, "vmbox")
    flag = conf / ".dirty" / "vmbox"
    flag.write_text(f"{first:.6f}\n")
    os.utime(flag, (newest, newest))


def test_scheduler_waits_for_a_quiet_default_of_0_3_s(tmp_path):
    conf = make_conf(tmp_path, "hash")
    s = Scheduler(conf)                      # the defaults: quiet 0.3 s, max_delay 5 s
    assert s.due(1000.0) is False            # nothing dirty
    _dirty_flag(conf, 1000.0, 1000.0)        # one edit at t=1000
    assert s.due(1000.2) is False            # 0.2 s later: the burst may go on
    assert s.due(1000.35) is True            # 0.35 s of quiet: run postmap


def test_scheduler_runs_a_never_pausing_trickle_after_max_delay(tmp_path):
    conf = make_conf(tmp_path, "hash")
    s = Scheduler(conf)
    _dirty_flag(conf, 1000.0, 1004.9)        # edits since t=1000, the latest at 1004.9
    assert s.due(1004.95) is False           # neither quiet nor overdue yet
    assert s.due(1005.05) is True            # 5 s since the first edit, though never quiet


def test_cli(tmp_path):
    conf = make_conf(tmp_path, "sqlite")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "labkit.mail.admin", "--conf", str(conf),
                               *args], capture_output=True, text=True, cwd=REPO)
    assert cli("add-domain", "example.net").returncode == 0
    r = cli("add-mailbox", "bob@example.net", "--mbox")
    assert r.returncode == 0 and r.stdout.strip() == "added"
    assert cli("add-mailbox", "bob@example.net", "--mbox").stdout.strip().startswith("already")
    r = cli("add-alias", "carol@nowhere.example", "c@gmail.com")
    assert r.returncode == 2 and "add-domain nowhere.example first" in r.stderr
    listing = cli("list").stdout
    assert "vmbox\tbob@example.net\texample.net/bob" in listing.splitlines()


@root_only
def test_burst_of_additions_runs_postmap_once_and_goes_live():
    with LoopbackPostfix(backend="hash", sinks=(), quiet=1.0) as pf:
        n = 60
        for i in range(n):
            admin.add_mailbox(pf.conf_dir, f"burst{i}@exampledomain.ca")
        # not live before the scheduler ran: the .db still has the old content
        last = f"burst{n - 1}@exampledomain.ca"
        wait_until(lambda: pf.rcpt_status(last)[0] == 250, 30, what="burst live")
        assert all(pf.rcpt_status(f"burst{i}@exampledomain.ca")[0] == 250 for i in (0, 17, 42))
        runs = read_log(pf.conf_dir)
        assert [r["map"] for r in runs] == ["vmbox"]     # one postmap for 60 additions
        assert runs[0]["rc"] == 0
        # a new domain + alias also coalesce: one postmap per dirty map, then live
        admin.add_domain(pf.conf_dir, "example.net")
        admin.add_alias(pf.conf_dir, "bob@example.net", "bob@yahoo.com")
        wait_until(lambda: pf.rcpt_status("bob@example.net")[0] == 250, 30, what="alias live")
        assert sorted(r["map"] for r in read_log(pf.conf_dir)[1:]) == ["valias", "vdomains"]


@root_only
def test_sqlite_mailbox_is_live_at_once():
    with LoopbackPostfix(backend="sqlite", sinks=()) as pf:
        assert pf.rcpt_status("fresh@exampledomain.ca")[0] == 550
        admin.add_mailbox(pf.conf_dir, "fresh@exampledomain.ca")
        assert pf.rcpt_status("fresh@exampledomain.ca")[0] == 250   # no postmap, no wait
        admin.add_domain(pf.conf_dir, "example.net")
        admin.add_mailbox(pf.conf_dir, "bob@example.net", mbox=True)
        assert pf.rcpt_status("bob@example.net")[0] == 250
        with pf.smtp() as s:
            s.sendmail("a@example.org", ["bob@example.net"], b"Subject: db\r\n\r\nhi\r\n")
        box = pf.mailbox_path("example.net/bob")
        wait_until(box.exists, 30, what="mbox delivery")
        assert not (pf.conf_dir / "vmbox.db").exists()


@root_only
def test_burst_experiment_returns_data_and_plots():
    import matplotlib
    matplotlib.use("Agg")
    from labkit.mail.experiment import burst_experiment
    from labkit.lessons.mail import burst_table, plot_bursts
    rows = burst_experiment(bursts=(1, 20), quiet=0.2)
    assert [(r["design"], r["burst"]) for r in rows] == [
        ("files", 1), ("files", 20), ("sqlite", 1), ("sqlite", 20), ("sqlite-batch", 1), ("sqlite-batch", 20)]
    assert [r["postmap_runs"] for r in rows] == [1, 1, 0, 0, 0, 0]
    assert all(r["live_ms"] >= r["write_ms"] >= 0 and r["cpu_ms"] >= r["write_cpu_ms"] >= 0 for r in rows)
    assert len(burst_table(rows).splitlines()) == 7
    fig = plot_bursts(rows)
    assert len(fig.axes) == 3 and [len(ax.lines) for ax in fig.axes] == [3, 3, 3]


def test_sqlite_batch_is_one_transaction_all_or_nothing(tmp_path):
    conf = make_conf(tmp_path, "sqlite")
    statements: list[str] = []

    class Traced(SqliteMaps):   # the real SQLite, every statement it runs recorded
        def connect(self):
            con = super().connect()
            con.set_trace_callback(statements.append)
            return con
    db = Traced(conf)
    new = [f"u{i}@exampledomain.ca" for i in range(50)]
    assert db.add_mailboxes(new) == 50
    assert statements.count("COMMIT") == 1 and statements.count("BEGIN IMMEDIATE") == 1
    assert sum(st.startswith("INSERT") for st in statements) == 50
    statements.clear()
    for address in new[:3]:                                # row by row: a transaction each
        assert db.add_mailbox(address.replace("u", "v")) is True
    assert statements.count("COMMIT") == 3
    assert db.add_mailboxes(new) == 0                      # the same rows again: nothing changes
    assert ("u7@exampledomain.ca", "exampledomain.ca/u7/") in db.rows("mailboxes")
    # a conflict (admin@ is a Maildir already) or an unknown domain rolls the whole batch back
    with pytest.raises(MailConfigError, match="admin@exampledomain.ca is already in table mailboxes"):
        db.add_mailboxes(["x1@exampledomain.ca", "admin@exampledomain.ca"], mbox=True)
    with pytest.raises(MailConfigError, match="add-domain example.net first"):
        db.add_mailboxes(["x2@exampledomain.ca", "bob@example.net"])
    keys = {k for k, _ in db.rows("mailboxes")}
    assert "x1@exampledomain.ca" not in keys and "x2@exampledomain.ca" not in keys
    with pytest.raises(ValueError, match="a path is for one address"):
        db.add_mailboxes(["a@exampledomain.ca", "b@exampledomain.ca"], path="exampledomain.ca/ab")


@root_only
def test_a_stalled_probe_is_retried_and_counted():
    from labkit.mail.experiment import PROBE_TIMEOUT, measure_burst
    with LoopbackPostfix(backend="sqlite", sinks=()) as pf:
        real, asked = pf.rcpt_status, []

        def first_one_stalls(rcpt, **kw):   # the real Postfix, but the first probe gets no answer
            asked.append(kw.get("timeout"))
            if len(asked) == 1:
                raise TimeoutError("timed out")
            return real(rcpt, **kw)
        pf.rcpt_status = first_one_stalls
        row = measure_burst(pf, 3, "stall", batch=True)
        assert (row.stalls, row.design, asked[:2]) == (1, "sqlite-batch", [PROBE_TIMEOUT, PROBE_TIMEOUT])
        assert real("stall2@exampledomain.ca")[0] == 250


@root_only
def test_sqlite_batch_goes_live_at_its_commit():
    with LoopbackPostfix(backend="sqlite", sinks=()) as pf:
        new = [f"batch{i}@exampledomain.ca" for i in range(100)]
        assert pf.rcpt_status(new[-1])[0] == 550
        assert SqliteMaps(pf.conf_dir).add_mailboxes(new) == 100
        assert [pf.rcpt_status(a)[0] for a in (new[0], new[57], new[-1])] == [250, 250, 250]
