"""A lab's own cgroup (v2), for the commands the lab broker runs there for a student.

A command a student runs in a node may leave the lab's namespace and process group
(`setsid`, then `unshare -Un`), where neither the record of PIDs nor the namespace sweep
would find it. The cgroup follows it: every process it forks stays in it, and teardown
ends them all at once (`cgroup.kill`).

The cgroup's path is derived from the instance name, `<cgroup2 mount>/labkit/<instance>`,
so the lab's record is its record too: `LabState.destroy`, and so `labkit clean`, finds it
however the broker or the engine died, and `labkit clean` removes one whose lab is gone.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from labkit.procs import WaitTimeout, wait_until

from .errors import LabStateError

MOUNTS = Path("/proc/self/mounts")
#: the directory under the cgroup v2 mount that holds the labs' cgroups
TOP = "labkit"


def hierarchy() -> Path | None:
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid
    host), from the mount table; None on a host without it."""
    try:
        lines = MOUNTS.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1].replace("\\040", " "))
    return None


def path(instance: str) -> Path | None:
    root = hierarchy()
    return root / TOP / instance if root else None


def join(instance: str, pid: int) -> None:
    """Put process `pid` in the lab's cgroup, made if need be; LabStateError if this host
    cannot (no cgroup v2, or not ours to write): the caller must then not run it."""
    p = path(instance)
    if p is None:
        raise LabStateError("this host has no cgroup v2 hierarchy: a student's command could not be "
                            "contained, so it is not run")
    try:
        p.mkdir(parents=True, exist_ok=True)
        (p / "cgroup.procs").write_text(f"{pid}\n")
    except OSError as e:
        raise LabStateError(f"cannot put pid {pid} in {p}: {e.strerror}; the command is not run") from None


def members(instance: str) -> list[int]:
    p = path(instance)
    try:
        return [int(x) for x in (p / "cgroup.procs").read_text().split()] if p else []
    except OSError:
        return []


def remove(instance: str, timeout: float = 5.0) -> list[str]:
    """End every process in the lab's cgroup and remove it; return what could not be."""
    p = path(instance)
    if p is None or not p.is_dir():
        return []
    kill = p / "cgroup.kill"
    try:
        wait_until(lambda: _kill_all(kill, instance), timeout, 0.05, what=f"the processes of {p}")
        p.rmdir()
    except (WaitTimeout, OSError) as e:
        left = " ".join(map(str, members(instance)))
        return [f"cgroup {p} is still there ({left or e})"]
    return []


def _kill_all(kill: Path, instance: str) -> bool:
    """One round of killing; True once the cgroup is empty."""
    if kill.exists():                       # Linux >= 5.14: the kernel kills them all, forks too
        kill.write_text("1\n")
    else:
        for pid in members(instance):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return not members(instance)


def orphans(recorded: set[str], prefix: str = "") -> list[str]:
    """Instances under `prefix` with a cgroup but no record (a lab removed by root while the
    broker was starting a command in it)."""
    root = hierarchy()
    top = root / TOP if root else None
    if top is None or not top.is_dir():
        return []
    return sorted(d.name for d in top.iterdir()
                  if d.is_dir() and d.name.startswith(prefix) and d.name not in recorded)
