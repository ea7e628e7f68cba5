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

`PostfixConfig` is the one description of a Postfix instance: the run directory it
renders, its dry run (`check_command`), its argv (`start_command`, and the map scheduler's
`postmapd_command`), its master PID and its readiness probe (`ready`: smtpd greets with
220). The lab's `postfix` service (labkit.mail.service) runs it inside the EC2 node;
`LoopbackPostfix` runs the same description in the root namespace on 127.0.0.1:<free
port> for tests, benchmarks and notebooks before (or without) a lab. Processes are
started and stopped through labkit.procs, by the PIDs started here.
"""
from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit import paths
from labkit.lab.netns import open_socket
from labkit.mail import mainconf
from labkit.mail.errors import PostfixError
from labkit.mail.maps import MAP_NAMES, VMAIL_ID, ensure_mailbox_parent, read_map
from labkit.mail.sqlitemaps import SqliteMaps
from labkit.procs import OwnProcesses, Proc, WaitTimeout, free_port, stop, wait_until

SEED_DIR = paths.topology("ec2")   # the seed's main.cf, vdomains, vmbox, valias

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
        # data_directory must belong to postfix (docs/machine.md). `postfix set-permissions`
        # would fix it too, but it also re-chmods every installed Postfix file listed in
        # postfix-files; a chown of our own directory is the narrower fix.
        import pwd
        pw = pwd.getpwnam(mainconf.as_dict(self.seed_params()).get("mail_owner", "postfix"))
        os.chown(run / "data", pw.pw_uid, pw.pw_gid)
        os.chmod(run / "data", 0o700)

    def check_command(self) -> list[str]:
        """The dry run: `postfix check` on the rendered config directory."""
        return ["postfix", "-c", str(self.conf_dir), "check"]

    def check(self) -> list[str]:
        """Run the dry run here. Returns its warnings; raises PostfixError on failure."""
        out = self.run_checked(self.check_command())
        return [ln for ln in out.splitlines() if "warning" in ln]

    def start_command(self) -> list[str]:
        return ["postfix", "-c", str(self.conf_dir), "start-fg"]

    def postmapd_command(self, python: str = sys.executable, quiet: float = 0.3) -> list[str]:
        """argv of the map scheduler that runs postmap after edits (hash backend only)."""
        return [python, "-m", "labkit.mail.postmapd", "--conf", str(self.conf_dir),
                "--quiet", str(quiet)]

    def _live_master(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if Proc.of(pid) else None

    def master_pid(self, timeout: float = 10.0) -> int:
        """master's PID from its pid file. `postfix start-fg` keeps a shell as parent
        (postfix-script execs master only when it is PID 1), so the engine must record
        this PID too: SIGTERM to master stops the whole instance."""
        try:
            return wait_until(self._live_master, timeout, what=f"master's pid in {self.pid_file}")
        except WaitTimeout:
            raise PostfixError(f"{self.pid_file}: master did not write its pid within {timeout}s; "
                               f"see {self.log_file}") from None

    def ready(self, host: str = "127.0.0.1", ns: str | None = None, timeout: float = 0.5) -> bool:
        """The readiness probe: smtpd on host:port greets with 220 (asked from namespace
        `ns`, None: this one)."""
        try:
            with open_socket(socket.SOCK_STREAM, ns) as s:
                s.settimeout(timeout)
                s.connect((host, self.port))
                return s.recv(512).startswith(b"220")
        except OSError:
            return False

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    @staticmethod
    def run_checked(cmd: list[str]) -> str:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise PostfixError(f"{' '.join(cmd)} failed (exit {p.returncode}):\n"
                               f"{p.stdout}{p.stderr}".rstrip())
        return p.stdout + p.stderr


def spawn_announcing(own: OwnProcesses, argv: list[str], log: Path, prefix: str,
                     timeout: float = 15.0) -> tuple[subprocess.Popen, str]:
    """Start a labkit helper that prints one line starting with `prefix` once it is
    serving (the sink, postmapd); wait for that line in its log and return it."""
    proc = own.spawn(argv, log=log)

    def announced() -> str | None:
        text = log.read_text(errors="replace") if log.exists() else ""
        line = next((ln for ln in text.splitlines() if ln.startswith(prefix)), None)
        return line or (text.strip() or "exited" if proc.poll() is not None else None)
    try:
        line = wait_until(announced, timeout, what=f"{argv[2] if len(argv) > 2 else argv[0]} starting")
    except WaitTimeout:
        line = "no answer"
    if not line.startswith(prefix):
        raise PostfixError(f"{' '.join(argv[:3])} did not start: {line[-2000:]}")
    return proc, line


class SinkProcess:
    """`python -m labkit.mail.sink` on loopback; the remote MX of gmail.com / yahoo.com."""

    def __init__(self, store: Path, host: str = "127.0.0.1", port: int = 0,
                 hostname: str = "mx.sink.example"):
        self.store = Path(store)
        self.store.parent.mkdir(parents=True, exist_ok=True)
        self._own = OwnProcesses()
        argv = [sys.executable, "-m", "labkit.mail.sink", "--listen", f"{host}:{port}",
                "--store", str(self.store), "--hostname", hostname]
        log = self.store.parent / f"{self.store.name}.sink.log"
        try:
            self.proc, line = spawn_announcing(self._own, argv, log, "listening on ")
        except BaseException:
            self._own.stop()
            raise
        self.host, port_s = line.split()[-1].rsplit(":", 1)
        self.port = int(port_s)

    def stop(self) -> None:
        self._own.stop()


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
        self._own = OwnProcesses()
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
            self.proc = self._own.spawn(self.cfg.start_command())
            self.master = self.cfg.master_pid()
            try:
                wait_until(lambda: self.cfg.ready(self.host), 10, what=f"smtpd on {self.host}:{self.port}")
            except WaitTimeout as e:
                raise PostfixError(f"{e}\n{self.cfg.log_file}:\n{self.log_text()[-2000:]}") from None
            if self.want_postmapd:
                self.postmapd, _ = spawn_announcing(self._own, self.cfg.postmapd_command(quiet=self.quiet),
                                                    self.tmp / "postmapd.log", "postmapd: watching")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # the scheduler first (its last postmap run still finds Postfix up), then master
        # (it stops its own children), then the rest of what this rig spawned
        for pid, grace in ((self.postmapd.pid if self.postmapd else None, 5), (self.master, 10)):
            rec = Proc.of(pid) if pid else None
            if rec:
                stop([rec], grace=grace)
        self.master = None
        self._own.stop()
        self.proc = self.postmapd = None
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

    def smtp(self, source: str | None = None, timeout: float = 30) -> smtplib.SMTP:
        kw = {"source_address": (source, 0)} if source else {}
        s = smtplib.SMTP(self.host, self.port, timeout=timeout, **kw)
        s.ehlo("client.lab")
        return s

    def rcpt_status(self, rcpt: str, sender: str = "probe@example.org",
                    source: str | None = INTERNET_CLIENT, timeout: float = 30) -> tuple[int, str]:
        """(code, text) of RCPT TO on a fresh connection: is this address live now?

        Asked from 127.0.0.2, outside mynetworks: from 127.0.0.1 Postfix would relay for
        (and so accept) any address of a domain it does not know yet."""
        with self.smtp(source, timeout) as s:
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
