"""What labkit created, recorded on disk *before* creating it.

`labkit clean` trusts only this record: it removes the namespaces,
files and processes listed here and nothing else, so it is safe to run at any
time, including after the process that held the lab was killed with SIGKILL.
A PID is killed only if its start time still matches, so a recycled PID of an
unrelated process is never touched.

Processes need no record of their own to be found: every daemon runs inside one of
the lab's namespaces (``ip netns exec``), and each namespace is recorded before it
exists, so teardown ends whatever a recorded namespace still holds (`ip netns pids`)
before deleting it. That covers a daemon the controller was killed before recording,
and the ones a daemon forks (Postfix's qmgr, pickup, ...). The few processes a lab
starts in the root namespace are recorded before they may run (procs.run_gated).
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from labkit.procs import Proc, WaitTimeout, start_time, stop

from . import cgroup, netns

__all__ = ["LabState", "Proc", "start_time", "RUN_ROOT", "INSTANCE_PREFIX_ENV", "scoped"]

RUN_ROOT = Path(os.environ.get("LABKIT_RUN", "/run/labkit"))
INSTANCE_PREFIX_ENV = "LABKIT_INSTANCE_PREFIX"


def scoped(instance: str) -> str:
    """The instance a name means in this process.

    With LABKIT_INSTANCE_PREFIX set (`labkit grade` sets it for a submission's kernel), a
    process lives in a scope: names are relative to the prefix (`tour` means `gab12-tour`),
    and only labs under the prefix exist for it, so `load`, `instances` and everything built
    on them (attach, down, clean, status) cannot reach another lab. Without it, names are
    taken as they are.
    """
    prefix = os.environ.get(INSTANCE_PREFIX_ENV, "")
    return instance if instance.startswith(prefix) else prefix + instance
_SAVE_LOCK = threading.Lock()  # services start in threads and record PIDs concurrently


@dataclass
class LabState:
    instance: str
    topology: str
    status: str = "building"      # "up" once every service is ready
    keep: bool = False            # made to outlive its owner (`labkit up`): only down/clean --lab remove it
    owner_pid: int = field(default_factory=os.getpid)
    owner_start: int | None = field(default_factory=lambda: start_time(os.getpid()))
    netns: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)   # made by labkit; removed if empty at the end
    procs: list[Proc] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return RUN_ROOT / self.instance

    @property
    def path(self) -> Path:
        return self.dir / "state.json"

    def save(self) -> None:
        """Write the record. It is root's alone (0600), and its directory can be passed
        through (a daemon that drops its privileges reaches its files under it) but not
        listed (0711): on a class server no student reads another's lab from it."""
        with _SAVE_LOCK:
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o711)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(asdict(self), indent=1))
            os.chmod(tmp, 0o600)        # a .tmp left by an older labkit keeps its mode through O_CREAT
            tmp.replace(self.path)

    def add(self, kind: str, item: str) -> None:
        """Record a namespace/bridge/file before it is made (write-ahead)."""
        getattr(self, kind).append(item)
        self.save()

    def add_proc(self, pid: int, what: str) -> None:
        proc = Proc.of(pid, what)
        if proc is not None:
            with _SAVE_LOCK:
                self.procs.append(proc)
            self.save()

    @classmethod
    def load(cls, instance: str) -> "LabState | None":
        path = RUN_ROOT / scoped(instance) / "state.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        data["procs"] = [Proc(**p) for p in data.get("procs", [])]
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # a record from an older labkit

    @staticmethod
    def instances() -> list[str]:
        if not RUN_ROOT.is_dir():
            return []
        prefix = os.environ.get(INSTANCE_PREFIX_ENV, "")
        return sorted(p.parent.name for p in RUN_ROOT.glob(f"{prefix}*/state.json"))

    def owner_alive(self) -> bool:
        """Is the process that brought the lab up still running (same PID *and* start time)?"""
        return self.owner_start is not None and start_time(self.owner_pid) == self.owner_start

    def cleanable(self) -> str | None:
        """Why a plain `labkit clean` may remove this lab, or None if it must stay.

        Ownership: the process that brought a lab up owns it. A lab made to outlive its
        owner (`labkit up`, keep=True) stays once it is up, until `labkit down`,
        `labkit clean --lab NAME` or `clean --force`. Otherwise a lab is abandoned, and
        plain clean removes it, when its owner is gone: a `Lab.up` holder that died
        (killed, crashed) without tearing down, or any bring-up that never finished.
        """
        if self.owner_alive():
            return None
        if self.status != "up":
            return "its bring-up never finished"
        if not self.keep:
            return f"its owner (pid {self.owner_pid}) is gone"
        return None

    # --- teardown -------------------------------------------------------
    def alive_procs(self) -> list[Proc]:
        return [p for p in self.procs if p.alive()]

    def kill_procs(self, grace: float = 1.0) -> list[str]:
        """SIGTERM the recorded processes (and their process groups), SIGKILL what is left
        after `grace` s; return the ones that would not die."""
        try:
            stop(self.procs, grace, group=True)
        except WaitTimeout:
            return [f"pid {p.pid} ({p.what}) survived SIGKILL" for p in self.procs if p.alive()]
        return []

    def sweep_netns(self, grace: float = 1.0, rounds: int = 3) -> list[str]:
        """End every process still inside a recorded namespace, recorded or not.

        A namespace outlives `ip netns del` while a process is in it, so this runs first.
        Several rounds, because a process may fork while it is being stopped."""
        for _ in range(rounds):
            live = [p for ns in self.netns if netns.exists(ns)
                    for p in (Proc.of(pid, f"{ns} pid {pid}") for pid in netns.pids_in(ns)) if p]
            if not live:
                return []
            try:
                stop(live, grace)
            except WaitTimeout:
                pass
        return [f"{ns} still holds pids {' '.join(map(str, pids))}"
                for ns in self.netns if netns.exists(ns) and (pids := netns.pids_in(ns))]

    def destroy(self) -> list[str]:
        """Remove everything recorded; return what could not be removed (empty = clean).
        The lab's cgroup goes first: what a student ran there may have left every other
        way of finding it (labkit.lab.cgroup)."""
        problems = cgroup.remove(self.instance)
        problems += self.kill_procs()
        problems += self.sweep_netns()
        for ns in self.netns:
            netns.delete(ns)
            if netns.exists(ns):
                problems.append(f"namespace {ns} is still there")
        for f in self.files:
            p = Path(f)
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()
        for d in self.dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems
