"""Helpers to run the DNS servers on loopback for tests and benchmarks (no lab needed).

Files come from labkit.paths (the checkout or an installed copy); the processes are
started and stopped through labkit.procs, by the PIDs started here.
"""
from __future__ import annotations

import socket
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from labkit import paths
from labkit.procs import OwnProcesses, free_port as kernel_port, wait_until

from .bind import BindConfig, BindProcess
from .client import wait_udp_ready

SEED_NAMED_CONF = paths.topology("ec2", "named.conf")
TEST_ZONES = {"difftest.lab": paths.data("dns", "zones", "difftest.lab"),
              "other.lab": paths.data("dns", "zones", "other.lab")}


def free_port(addr: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on addr (a DNS server binds both)."""
    def both() -> int:
        port = kernel_port(socket.SOCK_DGRAM, addr)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind((addr, port))
            except OSError:
                return 0
        return port
    return wait_until(both, 5.0, 0.0, what=f"a port free for UDP and TCP on {addr}")


@contextmanager
def bind_server(run_dir: Path, named_conf: Path | None = SEED_NAMED_CONF, zones: dict | None = None,
                addr: str = "127.0.0.1", port: int | None = None):
    """named on loopback (BIND only listens on addresses configured on an interface, so
    127.0.0.1), stopped by the PID we started. Yields (addr, port)."""
    port = port or free_port(addr)
    cfg = BindConfig(Path(run_dir), listen=[addr], port=port)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    if named_conf:
        cfg.add_named_conf(named_conf)
    for origin, f in (zones or {}).items():
        cfg.add_zone(origin, f)
    with BindProcess(cfg):
        yield addr, port


def embedded_command(addr: str, port: int, named_conf: Path | None = None, zones: dict | None = None,
                     workers: int = 1, extra: list[str] | None = None) -> list[str]:
    """argv of ``python -m labkit.dns.serve`` for these zones on addr:port."""
    cmd = [sys.executable, "-m", "labkit.dns.serve", "--listen", addr, "--port", str(port),
           "--workers", str(workers), *(extra or [])]
    if named_conf:
        cmd += ["--named-conf", str(named_conf)]
    for origin, f in (zones or {}).items():
        cmd += ["--zone", f"{origin}={f}"]
    return cmd


@contextmanager
def dns_process(cmd: list[str], addr: str, port: int, what: str, timeout: float = 15.0):
    """Run a labkit DNS server (argv `cmd`) until it answers on addr:port; yields its Popen
    and stops it (by the PID started here) when the block ends."""
    with tempfile.TemporaryDirectory(prefix="lk-dns-") as tmp, OwnProcesses() as own:
        log = Path(tmp) / "server.log"
        proc = own.spawn(cmd, log=log)
        if not wait_udp_ready(addr, port, timeout, proc):
            err = log.read_text(errors="replace") if proc.poll() is not None else ""
            raise RuntimeError(f"{what} did not start on {addr}:{port}: {err}")
        yield proc


@contextmanager
def embedded_server(named_conf: Path | None = SEED_NAMED_CONF, zones: dict | None = None,
                    addr: str = "127.0.0.2", port: int | None = None, workers: int = 1,
                    extra: list[str] | None = None):
    """``python -m labkit.dns.serve`` on loopback, stopped by its PID. Yields (addr, port)."""
    port = port or free_port(addr)
    with dns_process(embedded_command(addr, port, named_conf, zones, workers, extra), addr, port,
                     "embedded server"):
        yield addr, port


@contextmanager
def resolver_server(addr: str, port: int | None = None, root_hints: tuple[str, ...] = (),
                    remap: dict[str, str] | None = None):
    """The ISP resolver (``python -m labkit.dns.resolve``) on loopback; yields its Popen.

    `remap` maps a lab address to the loopback ``IP:PORT`` that stands in for it."""
    port = port or free_port(addr)
    cmd = [sys.executable, "-m", "labkit.dns.resolve", "--listen", addr, "--port", str(port)]
    for r in root_hints:
        cmd += ["--root-hint", r]
    for lab_ip, lo in (remap or {}).items():
        cmd += ["--remap", f"{lab_ip}={lo}"]
    with dns_process(cmd, addr, port, "resolver") as proc:
        yield proc
