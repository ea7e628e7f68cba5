"""Mutation run: do the unit tests notice the bugs we could plausibly write?

Each mutant in tests/mutants.yaml is one small, realistic bug (a flipped comparison, an
off-by-one, a swapped verdict, a unit mistake, a wrong default): a file, an exact
snippet that must occur there exactly once, its replacement, and the unit test files
that ought to catch it. For each mutant this script

1. applies it to a temporary copy of the tree (the working tree is never touched),
2. runs only the unit tests (``-m "not lab"``) of the listed files on that copy,
3. calls the mutant *killed* if they fail, *survived* if they pass, *stale* if the
   snippet is no longer in the file exactly once (the code moved: update the list).

It first runs the same test files on the unmutated copy; a red baseline stops the run,
since every mutant would look killed. The score is killed / (killed + survived). The
team's bar before closing an issue is 90% (see CONTRIBUTING.md, "Mutation run").

    python scripts/mutate.py                 # every mutant
    python scripts/mutate.py --only dns      # mutants whose id or file contains "dns"
    python scripts/mutate.py --list          # show the mutants and whether each applies; run nothing
    python scripts/mutate.py --min 0.9       # exit 1 below this score (default 0.9)
    python scripts/mutate.py --tree ../main  # mutate a copy of another checkout, with this list
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LIST = ROOT / "tests" / "mutants.yaml"


@dataclass
class Mutant:
    id: str
    file: str
    find: str
    replace: str
    tests: list[str]
    why: str = ""
    outcome: str = ""                  # killed | survived | stale
    detail: str = ""
    seconds: float = 0.0

    @classmethod
    def from_yaml(cls, item: dict, where: str) -> "Mutant":
        missing = [k for k in ("id", "file", "find", "replace", "tests") if k not in item]
        if missing:
            raise SystemExit(f"{where}: mutant {item.get('id', '?')} lacks {', '.join(missing)}")
        tests = item["tests"] if isinstance(item["tests"], list) else [item["tests"]]
        return cls(str(item["id"]), item["file"], item["find"], item["replace"], tests, item.get("why", ""))


def load(path: Path) -> list[Mutant]:
    items = yaml.safe_load(path.read_text()) or []
    mutants = [Mutant.from_yaml(it, str(path)) for it in items]
    ids = [m.id for m in mutants]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SystemExit(f"{path}: duplicate mutant ids: {', '.join(dup)}")
    return mutants


def tree_files(root: Path) -> list[str]:
    """Tracked and new (not ignored) files: what a clone with your changes would hold."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=root, capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (root / f).is_file()]


def copy_tree(root: Path, dest: Path) -> None:
    for rel in tree_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def pytest(copy: Path, tests: list[str], timeout: float) -> tuple[int, str]:
    """Unit tests of `tests` on the copy; (exit code, last line of output)."""
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    env.pop("LABKIT_PATH", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not lab",
           "--no-header", "-o", "addopts=", *tests]
    # As root, the run gets a PID namespace of its own (with its own /proc): when it ends or
    # is killed, the kernel ends every process in it, servers in sessions of their own
    # included, so a mutant that hangs a server leaves nothing behind. A mutant that hangs
    # gets SIGINT first: pytest then runs its fixtures' teardown, which stops the servers
    # the tests started by their recorded PIDs. Only if that does not end it is the run killed.
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", *cmd]
    p = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGINT)
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
        return -1, f"timed out after {timeout:.0f} s"
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)   # leftovers of a run that ended (the group is ours)
        except ProcessLookupError:
            pass
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return p.returncode, lines[-1] if lines else ""


def run_one(m: Mutant, copy: Path, timeout: float) -> None:
    path = copy / m.file
    if not path.is_file():
        m.outcome, m.detail = "stale", f"{m.file}: no such file"
        return
    original = path.read_text()
    n = original.count(m.find)
    if n != 1:
        m.outcome, m.detail = "stale", f"snippet found {n} times in {m.file} (must be exactly once)"
        return
    path.write_text(original.replace(m.find, m.replace))
    t0 = time.perf_counter()
    try:
        rc, last = pytest(copy, m.tests, timeout)
    finally:
        path.write_text(original)
        m.seconds = time.perf_counter() - t0
    if rc == 0:
        m.outcome, m.detail = "survived", last
    elif rc == 5:                       # pytest: no tests collected
        m.outcome, m.detail = "stale", "no unit tests collected from " + " ".join(m.tests)
    else:
        m.outcome, m.detail = "killed", last


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", type=Path, default=DEFAULT_LIST, help="YAML list (default: tests/mutants.yaml)")
    ap.add_argument("--only", action="append", default=[], help="run mutants whose id or file contains this")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    ap.add_argument("--min", type=float, default=0.9, help="exit 1 when the score is below this")
    ap.add_argument("--timeout", type=float, default=120,
                    help="seconds per mutant's test run; a run that hangs counts as killed (default 120)")
    ap.add_argument("--tree", type=Path, default=ROOT,
                    help="the checkout to copy and mutate (default: this one), e.g. another worktree")
    ap.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = ap.parse_args(argv)

    mutants = load(args.mutants)
    if args.only:
        mutants = [m for m in mutants if any(s in m.id or s in m.file for s in args.only)]
    if args.list:
        for m in mutants:
            path = args.tree / m.file
            n = path.read_text().count(m.find) if path.is_file() else 0
            state = "ok" if n == 1 else f"STALE (found {n} times)"
            print(f"{m.id:32} {m.file:30} {state:8} {' '.join(m.tests)}")
        return 0
    if not mutants:
        print("no mutants selected", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="labkit-mutate-") as tmp:
        copy = Path(tmp) / "tree"
        copy_tree(args.tree.resolve(), copy)
        suites = sorted({t for m in mutants for t in m.tests})
        print(f"baseline: {len(suites)} test file(s) on the unmutated copy ...", file=sys.stderr, flush=True)
        rc, last = pytest(copy, suites, args.timeout * 2)
        if rc != 0:
            print(f"baseline is not green ({last}); fix the tests before a mutation run", file=sys.stderr)
            return 2
        for i, m in enumerate(mutants, 1):
            run_one(m, copy, args.timeout)
            print(f"[{i}/{len(mutants)}] {m.outcome:8} {m.id} ({m.seconds:.1f} s)", file=sys.stderr, flush=True)

    width = max(len(m.id) for m in mutants)
    print(f"{'mutant'.ljust(width)}  outcome   file / detail")
    for m in mutants:
        note = m.detail if m.outcome != "killed" else ""
        print(f"{m.id.ljust(width)}  {m.outcome:8}  {m.file}{'  ' + note if note else ''}")
    killed = sum(m.outcome == "killed" for m in mutants)
    survived = sum(m.outcome == "survived" for m in mutants)
    stale = sum(m.outcome == "stale" for m in mutants)
    score = killed / (killed + survived) if killed + survived else 0.0
    print(f"\nkilled {killed}, survived {survived}, stale {stale}: score {score:.0%} (bar {args.min:.0%})")
    for m in mutants:
        if m.outcome == "survived":
            print(f"  survived: {m.id}: {m.why or m.replace!r}")
    if args.json:
        args.json.write_text(json.dumps({"score": score, "killed": killed, "survived": survived, "stale": stale,
                                         "mutants": [m.__dict__ for m in mutants]}, indent=1))
    if stale:
        print(f"  {stale} stale mutant(s): the code moved; update {args.mutants.name}")
    return 0 if score >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
