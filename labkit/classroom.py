"""`labkit class`: one lab per student on one server, brought up, watched and torn down together.

    labkit class up --students N [TOPOLOGY]       N practice seats s01..sNN (no Unix users needed)
    labkit class up --config FILE [TOPOLOGY]      one seat per Unix user named in FILE, one per line
    labkit class status                           each seat's lab: up or not, its processes alive
    labkit class down                             every seat's lab, whatever happened to them

A seat is a student and the instance prefix their labs live under. For a Unix user it is the
lab broker's prefix (labkit.broker.identity), so the student sees and uses that lab as their
own through the broker (`labkit status`, `labkit exec --lab seed ...`). The roster is recorded
(/run/labkit/class.json) before the first lab is made, so `class status` and `class down` find
every seat however `class up` ended. Each lab is brought up by the engine as `labkit up` would,
with the seat's prefix, and is kept until `class down` or the student's `labkit down`.

Decisions: a config file is checked in full (every name a user, no repeats) before anything
starts; its errors name the file and line. `class up` goes on past a seat that fails and
reports it, so one broken seat does not cost the class its labs.
"""
from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.diag import DiagnosticError, LabkitError, Where, error
from labkit.lab.loader import NAME_RE
from labkit.lab.state import INSTANCE_PREFIX_ENV, RUN_ROOT, LabState

from .broker.identity import prefix as user_prefix

ROSTER = RUN_ROOT / "class.json"
MAX_SEATS = 999


@dataclass(frozen=True)
class Seat:
    student: str
    prefix: str
    ours: bool = True     # False: the student had a lab of that name already; the class leaves it alone


def practice_seats(n: int) -> list[Seat]:
    if not 1 <= n <= MAX_SEATS:
        raise LabkitError(f"--students must be 1 to {MAX_SEATS}, not {n}")
    width = len(str(n))
    return [Seat(f"s{i:0{width}d}", f"s{i:0{width}d}-") for i in range(1, n + 1)]


def roster_from(path: Path) -> list[Seat]:
    """One seat per user named in `path` (blank lines and # comments skipped), checked in full."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise LabkitError(f"{path}: cannot read the class list: {e}") from None
    seats, errors, seen = [], [], {}
    for no, raw in enumerate(text.splitlines(), 1):
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            errors.append(error(Where(str(path), no), f"'{name}' is not a user on this machine",
                                "create the user first (useradd), or take the line out"))
            continue
        if uid == 0:
            errors.append(error(Where(str(path), no), f"'{name}' is root, not a student",
                                "list the students' own accounts"))
            continue
        if name in seen:
            errors.append(error(Where(str(path), no), f"'{name}' is listed twice (first on line {seen[name]})",
                                "keep one line per student"))
            continue
        seen[name] = no
        seats.append(Seat(name, user_prefix(uid)))
    if errors:
        raise DiagnosticError(errors)
    if not seats:
        raise LabkitError(f"{path}: the class list names no student (one user name per line)")
    return seats


def _engine(seat: Seat, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, INSTANCE_PREFIX_ENV: seat.prefix}
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], env=env, capture_output=True, text=True)


def record(seats: list[Seat], topology: str, name: str) -> None:
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    tmp = ROSTER.with_suffix(".tmp")
    tmp.write_text(json.dumps({"topology": topology, "name": name, "seats": [asdict(s) for s in seats]}, indent=1))
    tmp.replace(ROSTER)


def recorded() -> tuple[list[Seat], str]:
    """The class on record (seats, lab name); ([], "") when there is none."""
    try:
        data = json.loads(ROSTER.read_text())
        return [Seat(**s) for s in data["seats"]], data["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return [], ""


def up(seats: list[Seat], topology: str, progress=print) -> list[str]:
    """Bring up one lab per seat; return the seats that failed, each with the engine's reason.

    Refused while a class is on record (one class at a time: `class down` first). A student
    who already has a lab of that name (their own `labkit up`) keeps it: the seat is recorded
    as not the class's, reported, and left alone by `class down`."""
    name = topology if NAME_RE.match(topology) else "lab"
    old, _ = recorded()
    if old:
        raise LabkitError(f"a class of {len(old)} seats is up ({ROSTER}); take it down first: labkit class down")
    seats = [Seat(s.student, s.prefix, LabState.load(s.prefix + name) is None) for s in seats]
    record(seats, topology, name)          # before anything exists: class down finds every lab it made
    failed, t0 = [], time.perf_counter()
    for i, seat in enumerate(seats, 1):
        if not seat.ours:
            progress(f"[{i}/{len(seats)}] {seat.student}: has a lab '{name}' of their own; left as it is")
            continue
        t = time.perf_counter()
        p = _engine(seat, "up", topology, "--lab", name)
        took = time.perf_counter() - t
        if p.returncode == 0:
            progress(f"[{i}/{len(seats)}] {seat.student}: {seat.prefix}{name} up ({took:.1f} s)")
        else:
            why = (p.stderr.strip().splitlines() or ["no message"])[-1]
            failed.append(f"{seat.student}: {why}")
            progress(f"[{i}/{len(seats)}] {seat.student}: FAILED ({why})")
    made = len(seats) - len(failed) - sum(not s.ours for s in seats)
    progress(f"class up: {made} of {len(seats)} labs up in {time.perf_counter() - t0:.1f} s")
    return failed


def status() -> list[dict]:
    seats, name = recorded()
    rows = []
    for seat in seats:
        if not seat.ours:
            rows.append({"student": seat.student, "lab": seat.prefix + name, "status": "their own",
                         "processes": "-", "healthy": None})
            continue
        state = LabState.load(seat.prefix + name)
        daemons = [p for p in state.procs if not p.what.endswith(("/shell", "/tool"))] if state else []
        alive = sum(p.alive() for p in daemons)          # one-shot tools are recorded too, and end
        procs = len(daemons)
        rows.append({"student": seat.student, "lab": seat.prefix + name,
                     "status": state.status if state else "not up", "processes": f"{alive}/{procs}",
                     "healthy": bool(state) and state.status == "up" and alive == procs})
    return rows


def down(progress=print) -> list[str]:
    """Tear down every seat's lab; forget the class once nothing is left. Returns what is left."""
    seats, name = recorded()
    left = []
    for i, seat in enumerate(seats, 1):
        if not seat.ours:
            progress(f"[{i}/{len(seats)}] {seat.student}: their own lab, left as it is")
            continue
        if LabState.load(seat.prefix + name) is None:
            progress(f"[{i}/{len(seats)}] {seat.student}: no lab")
            continue
        p = _engine(seat, "clean", "--force", "--lab", name)
        if LabState.load(seat.prefix + name) is not None:
            left.append(f"{seat.student}: {(p.stderr.strip() or p.stdout.strip())[-300:]}")
        progress(f"[{i}/{len(seats)}] {seat.student}: {'down' if not left or not left[-1].startswith(seat.student) else 'LEFT'}")
    if not left:
        ROSTER.unlink(missing_ok=True)
    return left
