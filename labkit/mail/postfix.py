"""A private Postfix instance built from the seed: render, check, start, stop.

`PostfixConfig.render()` lays out one run directory:

    RUN/conf/main.cf       the seed main.cf, path parameters moved here (see mainconf.py)
    RUN/conf/master.cf     Debian's services with chroot off (the run dir is not a chroot jail)
    RUN/conf/vdomains ...  the seed maps + .db (hash backend) or maps.sqlite + *.cf (sqlite)
    RUN/conf/aliases       postmaster -> root, for the seed's alias_maps
    RUN/queue RUN/data     queue_directory, data_directory (owned by postfix)
    RUN/vhosts             virtual_mailbox_base, owned by 4000:4000 numerically
    RUN/maillog            maillog_file

No /etc/postfix file is read or changed: every command gets `-c RUN/conf`. As root,
`postfix -c DIR` needs no `alternate_config_directories` (that check applies only to the
set-gid programs postdrop/postqueue run by other users), and the sqlite map type is still
found through /etc/postfix/dynamicmaps.cf (meta_directory).

User 4000 does not need a passwd entry: virtual(8) takes numeric ids from
virtual_uid_maps/virtual_gid_maps, so the mailbox base is chowned 4000:4000 numerically
instead of running the seed's `useradd`.

`LoopbackPostfix` runs such an instance in the root namespace on 127.0.0.1:<free port>
for tests, benchmarks and notebooks before (or without) a lab; inside a lab the same
render runs in the EC2 node (labkit.mail.service).
"""
from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit.mail import mainconf
from labkit.mail.errors import PostfixError
from labkit.mail.maps import MAP_NAMES, ensure_mailbox_parent, read_map
from labkit.mail.sqlitemaps import SqliteMaps

REPO = Path(__file__).resolve().parents[2]
SEED_DIR = REPO / "topologies" / "ec2"
VMAIL_ID = 4000  # the seed's virtual_uid_maps/virtual_gid_maps

MASTER_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

TRANSPORT_TEST_ONLY_HEADER = """\
# TEST-ONLY transport map, written by labkit.mail.postfix for loopback runs.
# In the lab Postfix finds gmail.com / yahoo.com through MX records in the lab's DNS;
# on loopback there is no such DNS, so these lines send the mail to local sinks.
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def render_master_cf(port: int, listen: str | None = None) -> str:
    svc = "smtp" if port == 25 else str(port)
    if listen:
        svc = f"{listen}:{svc}"
    return ("# written by labkit.mail.postfix: Debian's master.cf services, chroot column = n\n"
            "# service type  private unpriv  chroot  wakeup  maxproc command\n"
            f"{svc:<9} inet  n       -       n       -       -       smtpd\n"
            + MASTER_SERVICES)


@dataclass
class PostfixConfig:
    """Everything needed to render one Postfix instance from the seed files."""

    run_dir: Path
    seed_dir: Path = SEED_DIR           # main.cf, vdomains, vmbox, valias
    backend: str = "hash"               # "hash" (files + postmap) or "sqlite"
    port: int = 25
    listen: str | None = None           # None: keep the seed's inet_interfaces = all
    myhostname: str = "mail.exampledomain.ca"
    extra: dict[str, str] = field(default_factory=dict)       # more overrides/additions
    transport_test_only: dict[str, str] = field(default_factory=dict)  # domain -> nexthop

    @property
    def conf_dir(self) -> Path:
        return Path(self.run_dir) / "conf"

    @property
    def log_file(self) -> Path:
        return Path(self.run_dir) / "maillog"

    @property
    def pid_file(self) -> Path:
        return Path(self.run_dir) / "queue" / "pid" / "master.pid"

    @property
    def mailbox_base(self) -> Path:
        return Path(self.run_dir) / "vhosts"

    def seed_params(self) -> list[mainconf.Param]:
        return mainconf.load_main_cf(Path(self.seed_dir) / "main.cf")

    def main_cf_text(self) -> str:
        params = self.seed_params()
        overrides = mainconf.lab_overrides(params, self.run_dir, self.backend)
        additions = mainconf.lab_additions(self.run_dir, self.myhostname)
        if self.listen:
            overrides["inet_interfaces"] = self.listen
            if ":" not in self.listen:
                overrides["inet_protocols"] = "ipv4"
        if self.transport_test_only:
            additions["transport_maps"] = f"hash:{self.conf_dir / 'transport-test-only'}"
        overrides.update(self.extra)
        quirks = "\n".join(f"#   {q.param} ({f'seed line {q.line}' if q.line else 'not set'}): "
                           f"{q.note}" for q in mainconf.seed_quirks(params))
        header = (f"# Rendered by labkit.mail from {Path(self.seed_dir) / 'main.cf'}.\n"
                  "# Every seed parameter is kept; path parameters point into the run dir.\n"
                  f"# Seed quirks found:\n{quirks}\n")
        return mainconf.render_main_cf(params, overrides, additions, header)

    def render(self) -> None:
        run = Path(self.run_dir)
        conf = self.conf_dir
        for d in (run, conf, run / "queue", run / "data", self.mailbox_base):
            d.mkdir(parents=True, exist_ok=True)
        for parent in run.resolve().parents:
            if not parent.stat().st_mode & 0o001:
                raise PostfixError(f"{parent}: mode {parent.stat().st_mode & 0o777:o} keeps the "
                                   "postfix user and uid 4000 out of the run directory; "
                                   f"chmod o+x {parent} or render elsewhere")
        # Postfix daemons run as `postfix` and virtual(8) as 4000: they must traverse run/.
        os.chmod(run, 0o755)
        os.chmod(conf, 0o755)
        os.chown(self.mailbox_base, VMAIL_ID, VMAIL_ID)
        os.chmod(self.mailbox_base, 0o750)
        (conf / "main.cf").write_text(self.main_cf_text())
        (conf / "master.cf").write_text(render_master_cf(self.port))
        # Postfix commands pause ~1-2 s when main.cf changed within the last seconds (seen with
        # postmap/postalias 3.7 here); the files are new, so date them back instead of waiting.
        past = time.time() - 5
        for f in ("main.cf", "master.cf"):
            os.utime(conf / f, (past, past))
        spool = run / "spool-local"   # local(8) mail for postmaster/root stays in the run dir
        spool.mkdir(exist_ok=True)
        os.chmod(spool, 0o1777)
        (conf / "aliases").write_text("# seed alias_maps, moved here\npostmaster: root\n")
        self.run_checked(["postalias", "-c", str(conf), str(conf / "aliases")])
        for name in MAP_NAMES:
            src = Path(self.seed_dir) / name
            read_map(src)  # fail early, with file:line, on a malformed seed map
            shutil.copyfile(src, conf / name)
        for e in read_map(conf / "vmbox"):   # see maps.ensure_mailbox_parent
            ensure_mailbox_parent(conf, e.value)
        if self.backend == "sqlite":
            db = SqliteMaps(conf)
            db.create()
            db.import_text_maps(conf)
        else:
            for name in MAP_NAMES:
                self.run_checked(["postmap", "-c", str(conf), str(conf / name)])
        if self.transport_test_only:
            lines = [f"{d} {nh}" for d, nh in self.transport_test_only.items()]
            (conf / "transport-test-only").write_text(TRANSPORT_TEST_ONLY_HEADER
                                                      + "\n".join(lines) + "\n")
            self.run_checked(["postmap", "-c", str(conf), str(conf / "transport-test-only")])
        (conf / "labkit-maps.json").write_text(f'{{"backend": "{self.backend}"}}\n')
        # data_directory must belong to postfix (DESIGN.md). `postfix set-permissions`
        # would fix it too, but it also re-chmods every installed Postfix file listed in
        # postfix-files; a chown of our own directory is the narrower fix.
        import pwd
        pw = pwd.getpwnam(mainconf.as_dict(self.seed_params()).get("mail_owner", "postfix"))
        os.chown(run / "data", pw.pw_uid, pw.pw_gid)
        os.chmod(run / "data", 0o700)

    def check(self) -> list[str]:
        """`postfix check`: the dry run. Returns its warnings; raises on failure."""
        out = self.run_checked(["postfix", "-c", str(self.conf_dir), "check"])
        return [ln for ln in out.splitlines() if "warning" in ln]

    def start_command(self) -> list[str]:
        return ["postfix", "-c", str(self.conf_dir), "start-fg"]

    def master_pid(self, timeout: float = 10.0) -> int:
        """master's PID from its pid file. `postfix start-fg` keeps a shell as parent
        (postfix-script execs master only when it is PID 1), so the engine must record
        this PID too: SIGTERM to master stops the whole instance."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                pid = int(self.pid_file.read_text().split()[0])
                os.kill(pid, 0)
                return pid
            except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
                time.sleep(0.02)
        raise PostfixError(f"{self.pid_file}: master did not write its pid within {timeout}s; "
                           f"see {self.log_file}")

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    @staticmethod
    def run_checked(cmd: list[str]) -> str:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise PostfixError(f"{' '.join(cmd)} failed (exit {p.returncode}):\n"
                               f"{p.stdout}{p.stderr}".rstrip())
        return p.stdout + p.stderr


def wait_until(predicate, timeout: float = 60.0, poll: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value (returned), or raise TimeoutError.

    Deliveries are asynchronous (queue manager -> virtual/smtp), so callers wait for the
    effect rather than sleeping a fixed time."""
    end = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > end:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(poll)


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise PostfixError(f"nothing listens on {host}:{port} after {timeout}s")


def stop_pid(proc_or_pid, timeout: float = 5.0) -> None:
    """SIGTERM, wait, then SIGKILL: only for a PID this process started."""
    pid = proc_or_pid.pid if hasattr(proc_or_pid, "pid") else int(proc_or_pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if hasattr(proc_or_pid, "poll"):
            if proc_or_pid.poll() is not None:
                return
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if hasattr(proc_or_pid, "wait"):
        proc_or_pid.wait()


class SinkProcess:
    """`python -m labkit.mail.sink` on loopback; the remote MX of gmail.com / yahoo.com."""

    def __init__(self, store: Path, host: str = "127.0.0.1", port: int = 0,
                 hostname: str = "mx.sink.example"):
        self.store = Path(store)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labkit.mail.sink", "--listen", f"{host}:{port}",
             "--store", str(self.store), "--hostname", hostname],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO))
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise PostfixError(f"sink did not start: {line}")
        self.host, port_s = line.split()[-1].rsplit(":", 1)
        self.port = int(port_s)

    def stop(self) -> None:
        stop_pid(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()


# Loopback-only settings (never used in the lab, where the EC2 node has its own netns
# and the lab's DNS). Traffic safety: a Postfix in the root namespace must not query the
# machine's real resolver or connect to the internet.
LOOPBACK_ONLY = {
    # no PTR lookups of clients (127.0.0.2 has no /etc/hosts entry -> real DNS query)
    "smtpd_peername_lookup": "no",
    # anything not in the test-only transport map fails at once instead of going out
    "default_transport": "error:5.7.1 loopback test run: mail to the internet is disabled",
    "relay_transport": "error:5.7.1 loopback test run: mail to the internet is disabled",
    # and the SMTP client never asks DNS (nexthops in the transport map are [IP]:port)
    "smtp_dns_support_level": "disabled",
}

INTERNET_CLIENT = "127.0.0.2"  # source address of "a client on the internet" (not mynetworks)


class LoopbackPostfix:
    """A real Postfix on 127.0.0.1:<free port> in a temp dir; a context manager.

    Loopback-only settings, each a deliberate departure from the lab:
    * inet_interfaces = 127.0.0.1 (the only address on lo; Postfix refuses 127.0.0.x
      that no interface carries, and labkit never adds addresses in the root namespace);
    * remote domains (gmail.com, yahoo.com) reach local sinks through a TEST-ONLY
      transport map instead of DNS MX records;
    * mynetworks = 127.0.0.1/32 is Postfix's own default here (mynetworks_style = host at
      compatibility_level 3.6), so a client bound to 127.0.0.2 is "the internet" for the
      relay test.
    """

    def __init__(self, backend: str = "hash", sinks: tuple[str, ...] = ("gmail.com", "yahoo.com"),
                 extra: dict[str, str] | None = None, seed_dir: Path = SEED_DIR,
                 quiet: float = 0.3, postmapd: bool = True):
        self.tmp = Path(tempfile.mkdtemp(prefix="lk-mail-"))
        os.chmod(self.tmp, 0o755)  # postfix (uid 102) and uid 4000 must traverse it
        self.sink_domains = sinks
        self.sinks: dict[str, SinkProcess] = {}
        self.quiet = quiet
        self.want_postmapd = postmapd and backend == "hash"
        self.proc: subprocess.Popen | None = None
        self.postmapd: subprocess.Popen | None = None
        self.master: int | None = None
        self.cfg = PostfixConfig(run_dir=self.tmp / "run", backend=backend,
                                 port=free_port(), listen="127.0.0.1",
                                 extra={**LOOPBACK_ONLY, **(extra or {})}, seed_dir=seed_dir)
        self.host = "127.0.0.1"
        self.port = self.cfg.port

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> "LoopbackPostfix":
        try:
            for d in self.sink_domains:
                self.sinks[d] = SinkProcess(self.tmp / "sinks" / d, hostname=f"mx.{d}")
            self.cfg.transport_test_only = {d: f"smtp:[{s.host}]:{s.port}"
                                            for d, s in self.sinks.items()}
            self.cfg.render()
            self.warnings = self.cfg.check()
            self.proc = subprocess.Popen(self.cfg.start_command(), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            self.master = self.cfg.master_pid()
            try:
                wait_port(self.host, self.port)
            except PostfixError as e:
                raise PostfixError(f"{e}\n{self.cfg.log_file}:\n{self.log_text()[-2000:]}")
            if self.want_postmapd:
                self.postmapd = subprocess.Popen(
                    [sys.executable, "-m", "labkit.mail.postmapd", "--conf",
                     str(self.cfg.conf_dir), "--quiet", str(self.quiet)],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                    cwd=str(REPO))
                first = self.postmapd.stdout.readline()   # "postmapd: watching ..." = ready
                self.postmapd.stdout.close()
                if not first.startswith("postmapd: watching"):
                    raise PostfixError(f"postmapd did not start: {first.strip()}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.postmapd:
            stop_pid(self.postmapd)
            self.postmapd = None
        if self.master:
            stop_pid(self.master, timeout=10)
            self.master = None
        if self.proc:
            stop_pid(self.proc)
            self.proc = None
        for s in self.sinks.values():
            s.stop()
        self.sinks.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "LoopbackPostfix":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for tests, bench and notebooks ---------------------------------------
    @property
    def conf_dir(self) -> Path:
        return self.cfg.conf_dir

    def smtp(self, source: str | None = None) -> smtplib.SMTP:
        kw = {"source_address": (source, 0)} if source else {}
        s = smtplib.SMTP(self.host, self.port, timeout=30, **kw)
        s.ehlo("client.lab")
        return s

    def rcpt_status(self, rcpt: str, sender: str = "probe@example.org",
                    source: str | None = INTERNET_CLIENT) -> tuple[int, str]:
        """(code, text) of RCPT TO on a fresh connection: is this address live now?

        Asked from 127.0.0.2, outside mynetworks: from 127.0.0.1 Postfix would relay for
        (and so accept) any address of a domain it does not know yet."""
        with self.smtp(source) as s:
            s.mail(sender)
            code, msg = s.rcpt(rcpt)
            s.rset()
        return code, msg.decode(errors="replace")

    def mailbox_path(self, rel: str) -> Path:
        return self.cfg.mailbox_base / rel

    def sink_maildir(self, rcpt: str) -> Path:
        domain = rcpt.rsplit("@", 1)[1]
        return self.sinks[domain].store / rcpt.lower()

    def flush_queue(self) -> None:
        self.cfg.run_checked(["postqueue", "-c", str(self.conf_dir), "-f"])

    def log_text(self) -> str:
        return self.cfg.log_text()
