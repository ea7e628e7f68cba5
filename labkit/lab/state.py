"""What labkit created, recorded on disk *before* creating it.

`labkit clean` trusts only this record: it removes the namespaces, OVS bridges,
files and processes listed here and nothing else, so it is safe to run at any
time, including after the process that held the lab was killed with SIGKILL.
A PID is killed only if its start time still matches, so a recycled PID of an
unrelated process is never touched.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import netns

RUN_ROOT = Path(os.environ.get("LABKIT_RUN", "/run/labkit"))
_SAVE_LOCK = threading.Lock()  # services start in threads and record PIDs concurrently


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: when a live process started (ticks since boot); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie has finished; only its parent's wait() is missing
        return None
    return int(fields[19])


@dataclass
class Proc:
    pid: int
    start: int
    what: str


@dataclass
class LabState:
    instance: str
    topology: str
    status: str = "building"
    owner_pid: int = field(default_factory=os.getpid)
    owner_start: int | None = field(default_factory=lambda: start_time(os.getpid()))
    netns: list[str] = field(default_factory=list)
    ovs_bridges: list[str] = field(default_factory=list)
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
        with _SAVE_LOCK:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(self), indent=1))
            tmp.replace(self.path)

    def add(self, kind: str, item: str) -> None:
        """Record a namespace/bridge/file before it is made (write-ahead)."""
        getattr(self, kind).append(item)
        self.save()

    def add_proc(self, pid: int, what: str) -> None:
        st = start_time(pid)
        if st is not None:
            with _SAVE_LOCK:
                self.procs.append(Proc(pid, st, what))
            self.save()

    @classmethod
    def load(cls, instance: str) -> "LabState | None":
        path = RUN_ROOT / instance / "state.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        data["procs"] = [Proc(**p) for p in data.get("procs", [])]
        return cls(**data)

    @staticmethod
    def instances() -> list[str]:
        if not RUN_ROOT.is_dir():
            return []
        return sorted(p.parent.name for p in RUN_ROOT.glob("*/state.json"))

    def owner_alive(self) -> bool:
        """Is the process that brought the lab up still running (same PID *and* start time)?"""
        return self.owner_start is not None and start_time(self.owner_pid) == self.owner_start

    # --- teardown -------------------------------------------------------
    def alive_procs(self) -> list[Proc]:
        return [p for p in self.procs if start_time(p.pid) == p.start]

    def kill_procs(self, grace: float = 1.0) -> None:
        """SIGTERM the recorded processes, then SIGKILL what is left after `grace` s."""
        live = self.alive_procs()
        for p in live:
            _signal(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while live and time.monotonic() < deadline:
            time.sleep(0.02)
            live = self.alive_procs()
        for p in live:
            _signal(p.pid, signal.SIGKILL)
        for p in live:
            for _ in range(100):
                if start_time(p.pid) != p.start:
                    break
                time.sleep(0.01)

    def destroy(self) -> list[str]:
        """Remove everything recorded; return what could not be removed (empty = clean)."""
        self.kill_procs()
        problems: list[str] = []
        for br in self.ovs_bridges:
            subprocess.run(["ovs-vsctl", "--if-exists", "del-br", br], capture_output=True)
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


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
