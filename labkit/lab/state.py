"""What labkit created, recorded on disk *before* creating it.

`labkit clean` trusts only this record: it removes the namespaces,
files and processes listed here and nothing else, so it is safe to run at any
time, including after the process that held the lab was killed with SIGKILL.
A PID is killed only if its start time still matches, so a recycled PID of an
unrelated process is never touched.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from labkit.procs import Proc, start_time, stop

from . import netns

__all__ = ["LabState", "Proc", "start_time", "RUN_ROOT"]

RUN_ROOT = Path(os.environ.get("LABKIT_RUN", "/run/labkit"))
_SAVE_LOCK = threading.Lock()  # services start in threads and record PIDs concurrently


@dataclass
class LabState:
    instance: str
    topology: str
    status: str = "building"
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
        proc = Proc.of(pid, what)
        if proc is not None:
            with _SAVE_LOCK:
                self.procs.append(proc)
            self.save()

    @classmethod
    def load(cls, instance: str) -> "LabState | None":
        path = RUN_ROOT / instance / "state.json"
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
        return sorted(p.parent.name for p in RUN_ROOT.glob("*/state.json"))

    def owner_alive(self) -> bool:
        """Is the process that brought the lab up still running (same PID *and* start time)?"""
        return self.owner_start is not None and start_time(self.owner_pid) == self.owner_start

    # --- teardown -------------------------------------------------------
    def alive_procs(self) -> list[Proc]:
        return [p for p in self.procs if p.alive()]

    def kill_procs(self, grace: float = 1.0) -> None:
        """SIGTERM the recorded processes, then SIGKILL what is left after `grace` s."""
        stop(self.procs, grace)

    def destroy(self) -> list[str]:
        """Remove everything recorded; return what could not be removed (empty = clean)."""
        self.kill_procs()
        problems: list[str] = []
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
