"""The one description of the ACD daemon: its config, its command line, its ports, its readiness.

There is one way to run the ACD. The lab's ``acd`` service (labkit.acd.service), the loopback
rigs that spawn ``python -m labkit.acd.serve`` (the sipp tests, bench/acd.py), the daemon's own
entry point (labkit.acd.serve) and the in-process rig (labkit.acd.harness.AcdLab) all describe it
with an ``AcdDaemon`` and take from it what they need: ``argv()`` to start the process,
``load()`` for the checked configuration, ``build()`` / ``start()`` to run it inside the current
event loop,
``ports`` / ``answers()`` / ``wait_ready()`` to know it is up.
"""
from __future__ import annotations

import json
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from labkit import procs
from labkit.digits import uint

from .core import AcdConfig, ConfigError, config_from_dict, load_config

Addr = tuple[str, int]


def parse_addr(text: str, what: str) -> Addr:
    """``ADDR:PORT`` of a command-line option; SystemExit with an example when it is not."""
    host, _, port = text.rpartition(":")
    try:
        number = uint(port, 65535, "port")
    except ValueError:
        number = 0
    if not host or not number:
        raise SystemExit(f"--{what} {text!r}: expected ADDR:PORT with a port from 1 to 65535, "
                         "e.g. 127.0.0.1:5060")
    return host, number


@dataclass
class AcdDaemon:
    """The ACD with its config (a YAML file or the same mapping in memory), SIP on UDP ``sip``,
    REST on TCP ``http``; ``media``/``queue_log`` override the config's values."""

    config: Path | dict
    sip: Addr = ("127.0.0.1", 5060)
    http: Addr = ("127.0.0.1", 8242)
    queue_log: Path | str | None = None
    media: bool = True
    timer_scale: float = 1.0
    lag_stats: bool = False
    python: str = sys.executable
    pbx: Addr | None = None        # PBX mode: register there, reach agents through it

    # ---- config -------------------------------------------------------------------------
    @staticmethod
    def render(path: Path, data: dict) -> Path:
        """Write an ACD config mapping as the YAML file the daemon reads."""
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def load(self) -> AcdConfig:
        """The checked configuration with this description's overrides (ConfigError if bad)."""
        if isinstance(self.config, dict):
            cfg = config_from_dict(self.config, "<config>")
        else:
            cfg = load_config(self.config)
        if not self.media:
            cfg.media = False
        if self.queue_log:
            cfg.queue_log = str(self.queue_log)
        if self.pbx is not None and not cfg.pbx_secret:
            where = "<config>" if isinstance(self.config, dict) else str(self.config)
            raise ConfigError(f"{where}: pbx_secret is empty, but the ACD is to register with the "
                              f"PBX at {self.pbx[0]}:{self.pbx[1]} as {cfg.pbx_user!r} (fix: set "
                              "pbx_secret to that peer's password in the PBX)")
        return cfg

    # ---- as a process ---------------------------------------------------------------------
    def argv(self, wrapper: list[str] | None = None, python_args: list[str] | None = None) -> list[str]:
        """``python -m labkit.acd.serve ...``, after ``wrapper`` (e.g. taskset) and with
        ``python_args`` for the interpreter (e.g. ``-m cProfile -o FILE``) if given."""
        if isinstance(self.config, dict):
            raise ValueError("a daemon process reads its config from a file: render() it first")
        argv = [*(wrapper or []), self.python, *(python_args or []), "-m", "labkit.acd.serve",
                "--config", str(self.config),
                "--sip", f"{self.sip[0]}:{self.sip[1]}", "--http", f"{self.http[0]}:{self.http[1]}"]
        if self.queue_log:
            argv += ["--queue-log", str(self.queue_log)]
        if not self.media:
            argv.append("--no-media")
        if self.timer_scale != 1.0:
            argv += ["--timer-scale", str(self.timer_scale)]
        if self.lag_stats:
            argv.append("--lag-stats")
        if self.pbx is not None:
            argv += ["--pbx", f"{self.pbx[0]}:{self.pbx[1]}"]
        return argv

    @classmethod
    def from_args(cls, args) -> "AcdDaemon":
        """The description behind ``python -m labkit.acd.serve``'s parsed options."""
        return cls(config=Path(args.config), sip=parse_addr(args.sip, "sip"),
                   http=parse_addr(args.http, "http"), queue_log=args.queue_log or None,
                   media=not args.no_media, timer_scale=args.timer_scale, lag_stats=args.lag_stats,
                   pbx=parse_addr(args.pbx, "pbx") if args.pbx else None)

    @property
    def ports(self) -> list[tuple[str, int]]:
        """What the daemon listens on once ready: what a lab's readiness check probes."""
        return [("udp", self.sip[1]), ("tcp", self.http[1])]

    def rest_host(self) -> str:
        host = self.http[0]
        return "127.0.0.1" if host in ("0.0.0.0", "") else host

    def answers(self) -> bool:
        """The REST API answers ``GET /queues`` (seen from this process: loopback rigs)."""
        try:
            with urllib.request.urlopen(f"http://{self.rest_host()}:{self.http[1]}/queues",
                                        timeout=2) as r:
                return "queues" in json.load(r)
        except (OSError, ValueError):
            return False

    def wait_ready(self, timeout: float = 10.0, alive: Callable[[], bool] | None = None) -> None:
        """Wait until ``answers()``; with ``alive`` (e.g. the Popen's poll() is None), stop
        waiting as soon as the process is gone."""
        def up() -> bool:
            if alive is not None and not alive():
                raise RuntimeError("the ACD daemon exited before it was ready")
            return self.answers()
        procs.wait_until(up, timeout, 0.05, what="ACD REST API answering")

    # ---- in this process ------------------------------------------------------------------
    def build(self, timers=None, clock: Callable[[], float] = time.monotonic):
        """The ACD server and its REST API, not yet listening: (AcdServer, RestApi).
        ``timers`` (a sip Timers) overrides ``timer_scale``; ``clock`` is the server's clock."""
        from .rest import RestApi
        from .server import AcdServer
        from .sip.transaction import Timers

        acd = AcdServer(self.load(), timers=timers or Timers.scaled(self.timer_scale), clock=clock,
                        pbx=self.pbx)
        return acd, RestApi(acd)

    async def start(self, acd, api) -> None:
        """Listen: SIP on ``sip``, REST on ``http`` (port 0 picks a free one)."""
        await acd.start(*self.sip)
        await api.start(*self.http)


def udp_bound(host: str, port: int) -> bool:
    """Some process has bound UDP ``host:port`` (read from /proc/net/udp, so probing never
    takes the port itself): how a rig knows the sipp peer it started is listening."""
    want = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(line.split()[1] == want for line in lines if line.strip())
