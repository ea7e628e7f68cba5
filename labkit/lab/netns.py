"""Named network namespaces: create, enter (per thread), delete.

labkit uses named namespaces (``ip netns``) rather than Mininet's anonymous
ones so that a lab outlives the process that built it: `labkit up` returns,
and `labkit exec`, `check` and `down` find the lab again by name.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator

from labkit.procs import run_gated

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def add(name: str) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, text=True)


def add_many(names: list[str], record: Callable[[int], None] | None = None) -> None:
    """Create several namespaces with one `ip -batch` (one process instead of one each).

    With `record`, the `ip` process's PID is handed to it before `ip` may run (the
    root-namespace write-ahead of procs.run_gated), so a clean after a kill -9 cannot
    race an `ip` that goes on making namespaces."""
    if not names:
        return
    batch = "".join(f"netns add {n}\n" for n in names)
    if record is None:
        p = subprocess.run(["ip", "-batch", "-"], input=batch, capture_output=True, text=True)
    else:
        p = run_gated(["ip", "-batch", "-"], record, input=batch)
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, p.args, p.stdout, p.stderr)


def delete(name: str) -> None:
    if exists(name):
        subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True)


def pids_in(name: str) -> list[int]:
    """PIDs whose network namespace is `name` (what `ip netns pids` prints)."""
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the body with the calling *thread* inside namespace `name`.

    Sockets created in the body belong to the lab namespace for their whole life,
    so a notebook can probe a lab without a subprocess. Only this thread moves.
    """
    own = os.open(f"/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def open_socket(kind: int, ns: str | None = None):
    """An IPv4 socket of `kind` (SOCK_STREAM, SOCK_DGRAM) that belongs to namespace `ns`.

    A socket keeps the namespace it was made in, so probes and checks make theirs inside
    a lab node and use it from here; None makes it in the caller's own namespace.
    """
    import socket

    if ns is None:
        return socket.socket(socket.AF_INET, kind)
    with in_netns(ns):
        return socket.socket(socket.AF_INET, kind)
