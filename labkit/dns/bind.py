"""BIND backend: render named.conf around the seed's zone statement, check it, run named.

`BindConfig` is the one description of a named: what it renders into its run directory,
its dry run, its argv and its readiness probe. The lab's ``bind`` service
(labkit.dns.service) and the loopback rig `BindProcess` (tests, benchmarks) both run
named through it, so there is one way to run BIND.

The seed's zone statement is included verbatim; labkit only adds the ``options`` block
(private directory, pid file, listen addresses) and pins the options whose defaults make
BIND's answers depend on version or on luck, so that BIND and labkit's embedded server
give the same answers (see docs/notes/dns.md, "BIND options"):

- ``recursion no``            an authoritative server, as on the seed's EC2 host: RA clear,
                              REFUSED for names outside its zones.
- ``minimal-responses no-auth`` no NS RRset in the authority section of positive answers
                              (noise), but keep additional-section glue for NS/MX/SRV targets.
- ``minimal-any no``          ANY returns every RRset at the name (the minimal-any choice of
                              "one RRset" is not specified, so it could not be compared).
- ``send-cookie no; answer-cookie no;``  no DNS COOKIE option in answers.
- ``server-id none; version none; hostname none;``  no NSID/CHAOS identity answers.
- ``edns-udp-size 1232; max-udp-size 1232;``  the EDNS buffer we advertise and honour
                              (the DNS Flag Day 2020 value; also BIND 9.18's default).
- ``empty-zones-enable no``   no automatic RFC 1918 reverse zones (recursion is off anyway).
- ``allow-transfer { none; }; notify no;``  no zone transfers leave the host.
- ``dnssec-validation no``    nothing to validate on an authoritative-only server.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from labkit.procs import OwnProcesses, WaitTimeout, wait_until

from .client import answers
from .namedconf import ZoneStanza, load_zones

BIND_OPTIONS = """\
    recursion no;
    minimal-responses no-auth;
    minimal-any no;
    send-cookie no;
    answer-cookie no;
    server-id none;
    version none;
    hostname none;
    edns-udp-size 1232;
    max-udp-size 1232;
    empty-zones-enable no;
    allow-transfer { none; };
    notify no;
    dnssec-validation no;
"""


def render_named_conf(run_dir: Path, zone_texts: list[str], listen: list[str], port: int = 53) -> str:
    """named.conf text: labkit's options + the zone statements exactly as given."""
    run_dir = Path(run_dir)
    addrs = " ".join(f"{a};" for a in listen) or "any;"
    out = [
        "// Rendered by labkit (labkit/dns/bind.py). The zone statements below are included",
        "// verbatim from the topology's named.conf.",
        "options {",
        f'    directory "{run_dir}";',
        f'    pid-file "{run_dir}/named.pid";',
        f'    session-keyfile "{run_dir}/session.key";',
        f'    managed-keys-directory "{run_dir}";',
        f"    listen-on port {port} {{ {addrs} }};",
        "    listen-on-v6 { none; };",
        BIND_OPTIONS.rstrip("\n"),
        "};",
        "controls { };",
        "logging {",
        '    channel lk { file "named.log"; severity info; print-time yes; };',
        "    category default { lk; };",
        "    category lame-servers { null; };",
        "};",
        "",
    ]
    out += [t.rstrip() + "\n" for t in zone_texts]
    return "\n".join(out)


@dataclass
class BindConfig:
    """Everything needed to run one named: a run dir and the zone statements to serve."""

    run_dir: Path
    zone_texts: list[str] = field(default_factory=list)
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    port: int = 53

    @property
    def conf_path(self) -> Path:
        return Path(self.run_dir) / "named.conf"

    def add_named_conf(self, named_conf: str | Path) -> list[ZoneStanza]:
        """Include every zone statement of ``named_conf`` verbatim; copy their zone files."""
        named_conf = Path(named_conf)
        zones = load_zones(named_conf)
        for z in zones:
            self.zone_texts.append(z.text)
            if z.file and not os.path.isabs(z.file):
                src = named_conf.parent / z.file
                dst = Path(self.run_dir) / z.file
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        return zones

    def add_zone(self, origin: str, zone_file: str | Path) -> None:
        """Serve a zone file under a generated zone statement (tests, bench)."""
        name = Path(zone_file).name
        shutil.copyfile(zone_file, Path(self.run_dir) / name)
        self.zone_texts.append(f'zone "{origin.rstrip(".") or "."}" IN {{\n    type master;\n    file "{name}";\n}};')

    def render(self) -> Path:
        Path(self.run_dir).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(render_named_conf(Path(self.run_dir), self.zone_texts, self.listen, self.port))
        return self.conf_path

    def check_command(self) -> list[str]:
        """The dry run: named-checkconf with -z also loads every zone the config names."""
        return ["named-checkconf", "-z", str(self.conf_path)]

    def start_command(self) -> list[str]:
        # -f: foreground, so the PID we spawn is named; -4: the lab is IPv4-only.
        return ["named", "-f", "-4", "-c", str(self.conf_path)]

    def probe_address(self, default: str = "127.0.0.1") -> str:
        """Where to ask whether named is up: its listen address, or `default` for "any"."""
        first = self.listen[0] if self.listen else "any"
        return default if first == "any" else first

    def ready(self, ns: str | None = None, addr: str | None = None) -> bool:
        """The readiness probe: named answers a DNS query on its port (any rcode), asked
        from namespace `ns` (None: this one) at `addr` (default: probe_address())."""
        return answers(addr or self.probe_address(), self.port, ns)


class BindProcess:
    """A named run on loopback for tests and benchmarks, through the same BindConfig as
    the lab; stopped by the PID it started (labkit.procs)."""

    def __init__(self, config: BindConfig):
        self.config = config
        self.proc: subprocess.Popen | None = None
        self._own = OwnProcesses()

    @property
    def stderr_path(self) -> Path:
        return Path(self.config.run_dir) / "named.stderr"

    def start(self, timeout: float = 10.0) -> "BindProcess":
        cfg = self.config
        cfg.render()
        chk = subprocess.run(cfg.check_command(), capture_output=True, text=True)
        if chk.returncode != 0:
            raise RuntimeError(f"named-checkconf failed for {cfg.conf_path}:\n{chk.stdout}{chk.stderr}")
        self.proc = self._own.spawn(cfg.start_command(), log=self.stderr_path, cwd=cfg.run_dir)
        try:
            wait_until(lambda: self.proc.poll() is not None or cfg.ready(), timeout, 0.05,
                       what=f"named answering on {cfg.probe_address()}:{cfg.port}")
            up = self.proc.poll() is None
        except WaitTimeout:
            up = False
        if not up:
            out = self.stderr_path.read_text(errors="replace")
            self.stop()
            raise RuntimeError(f"named did not answer on {cfg.probe_address()}:{cfg.port}:\n{out}")
        return self

    def stop(self) -> None:
        self._own.stop()
        self._own = OwnProcesses()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
