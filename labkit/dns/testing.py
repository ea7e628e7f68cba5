"""Helpers to run the DNS servers on loopback for tests and benchmarks (no lab needed)."""
from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from .bind import BindConfig, BindProcess
from .client import wait_udp_ready

REPO = Path(__file__).resolve().parents[2]
SEED_NAMED_CONF = REPO / "topologies" / "ec2" / "named.conf"
TEST_ZONES = {"difftest.lab": REPO / "data" / "dns" / "zones" / "difftest.lab",
              "other.lab": REPO / "data" / "dns" / "zones" / "other.lab"}


def free_port(addr: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on addr."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((addr, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((addr, port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port")


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
    proc = BindProcess(cfg).start()
    try:
        yield addr, port
    finally:
        proc.stop()


@contextmanager
def embedded_server(named_conf: Path | None = SEED_NAMED_CONF, zones: dict | None = None,
                    addr: str = "127.0.0.2", port: int | None = None, workers: int = 1,
                    extra: list[str] | None = None):
    """``python -m labkit.dns.serve`` on loopback, stopped by its PID. Yields (addr, port)."""
    port = port or free_port(addr)
    cmd = [sys.executable, "-m", "labkit.dns.serve", "--listen", addr, "--port", str(port),
           "--workers", str(workers), *(extra or [])]
    if named_conf:
        cmd += ["--named-conf", str(named_conf)]
    for origin, f in (zones or {}).items():
        cmd += ["--zone", f"{origin}={f}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_udp_ready(addr, port, 15, proc):
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
            raise RuntimeError(f"embedded server did not start: {err}")
        yield addr, port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
