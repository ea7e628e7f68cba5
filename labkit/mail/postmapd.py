"""The postmap scheduler: coalesce bursts of map edits into one postmap per map.

The seed's author wanted to "schedule the postmap instead of running it every time".
Writers (labkit.mail.maps) only append under a lock and touch a dirty flag. This runner
polls the flags; when the newest flag is older than `quiet` seconds (the burst is over),
or the oldest is older than `max_delay` (a never-ending trickle must not starve), it
takes the same lock, clears the flags and runs postmap once per dirty map.

Every postmap run is appended to `postmap.log` in the config directory as one JSON line
(map, wall time, CPU time of the child), which is how the tests count invocations and
how the experiment in notebook 03 measures CPU spent.

    python -m labkit.mail.postmapd --conf RUN/conf [--quiet 0.3] [--max-delay 5]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.mail.errors import PostfixError
from labkit.mail.maps import dirty_maps, locked

LOG_NAME = "postmap.log"


BUILD_DIR = ".build"


def run_postmap(conf_dir: Path, name: str) -> dict:
    """Rebuild NAME.db atomically; return a record with wall and CPU time.

    postmap rewrites a .db in place, and a Postfix daemon that reads it meanwhile can
    see a half-written file. So the table is built from a copy under .build/ and the new
    NAME.db renamed over the old one (DATABASE_README's advice). Daemons holding the old
    file see its link count drop to 0 and restart with the new one."""
    conf_dir = Path(conf_dir)
    build = conf_dir / BUILD_DIR
    build.mkdir(exist_ok=True)
    os.chmod(build, 0o755)
    src = build / name
    shutil.copyfile(conf_dir / name, src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(["postmap", "-c", str(conf_dir), str(src)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rec = {"map": name, "t": time.time(), "wall_s": round(wall, 6), "cpu_s": round(cpu, 6),
           "rc": proc.returncode, "pid": os.getpid()}
    # Record the run BEFORE the new table goes live: whoever sees the effect (a mailbox
    # that now answers 250) then also finds the run in the log, with no race.
    with open(conf_dir / LOG_NAME, "a") as f:
        f.write(json.dumps(rec) + "\n")
    if proc.returncode == 0:
        os.replace(build / f"{name}.db", conf_dir / f"{name}.db")
    if proc.returncode != 0:
        msg = proc.stderr.strip().replace(str(src), str(conf_dir / name))
        raise PostfixError(f"postmap {conf_dir / name} failed: {msg}; "
                           "fix the line it names and touch the map again")
    return rec


# Maps read by trivial-rewrite (address class of a domain). trivial-rewrite keeps
# persistent connections from smtpd/cleanup, so it notices a rebuilt table only when a
# client reconnects (seconds later, after ipc_idle). A `postfix reload` makes a new
# domain live at once; mailbox and alias maps are read by smtpd/cleanup/virtual, which
# restart between connections by themselves.
RELOAD_MAPS = {"vdomains"}


def reload_postfix(conf_dir: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(["postfix", "-c", str(conf_dir), "reload"], capture_output=True,
                          text=True)
    rec = {"reload": True, "t": time.time(), "wall_s": round(time.perf_counter() - t0, 6),
           "rc": proc.returncode}
    with open(Path(conf_dir) / LOG_NAME, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return rec


def run_pending(conf_dir: Path) -> list[dict]:
    """Clear all dirty flags and rebuild those maps, under the writers' lock."""
    conf_dir = Path(conf_dir)
    with locked(conf_dir):
        flags = dirty_maps(conf_dir)
        for flag in flags:
            flag.unlink()
        recs = [run_postmap(conf_dir, flag.name) for flag in flags]
    if RELOAD_MAPS & {f.name for f in flags}:
        reload_postfix(conf_dir)  # fails harmlessly (rc != 0) when Postfix is not running
    return recs


def read_log(conf_dir: Path, reloads: bool = False) -> list[dict]:
    """postmap runs recorded in postmap.log (and `postfix reload`s if asked)."""
    p = Path(conf_dir) / LOG_NAME
    if not p.exists():
        return []
    # only complete lines: a record being appended right now is read next time
    recs = [json.loads(line) for line in p.read_text().split("\n")[:-1] if line.strip()]
    return recs if reloads else [r for r in recs if not r.get("reload")]


@dataclass
class Scheduler:
    conf_dir: Path
    quiet: float = 0.3
    max_delay: float = 5.0
    poll: float = 0.02

    def due(self, now: float) -> bool:
        flags = dirty_maps(self.conf_dir)
        if not flags:
            return False
        newest = max(f.stat().st_mtime for f in flags)
        oldest = min(float(f.read_text() or now) for f in flags)
        return now - newest >= self.quiet or now - oldest >= self.max_delay

    def serve(self) -> None:
        running = True

        def stop(*_):
            nonlocal running
            running = False
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while running:
            try:
                if self.due(time.time()):
                    run_pending(self.conf_dir)
            except FileNotFoundError:
                pass  # a flag vanished between listing and reading: next round
            except PostfixError as e:
                print(f"postmapd: {e}", file=sys.stderr, flush=True)
            time.sleep(self.poll)
        if dirty_maps(self.conf_dir):   # do not lose edits made just before stop
            run_pending(self.conf_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.mail.postmapd", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conf", required=True, type=Path, help="config dir with main.cf and maps")
    ap.add_argument("--quiet", type=float, default=0.3,
                    help="seconds without edits before postmap runs (default 0.3)")
    ap.add_argument("--max-delay", type=float, default=5.0,
                    help="run anyway after this many seconds of continuous edits")
    a = ap.parse_args(argv)
    # the one line on stdout: tells a parent that waits for it that we are running
    print(f"postmapd: watching {a.conf} quiet={a.quiet}s", flush=True)
    Scheduler(a.conf, a.quiet, a.max_delay).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
