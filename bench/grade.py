"""`labkit grade` against plain nbval on the same notebook: copies of one submission, one run.

The submission is a correct one: the teacher's notebook itself (notebooks/07-trunks.ipynb,
the notebook with an nbgrader exercise), copied as student01.ipynb, student02.ipynb, ...
Each round grades one copy with `labkit.grade.grade` (a fresh fenced kernel, its own labs,
the checks put back by nbgrader, the hidden test, the lab's `labkit check`, teardown, the
JSON and HTML reports) and runs plain nbval on the same notebook (`pytest --nbval`, the
sanitizer and kernel name `./run test` uses), the order alternating round by round
(bench/stats.py), so machine noise hits both alike. Each grading must score full marks and
each nbval run must pass; the counts are in the figures.

Both run this checkout's labkit: grading starts its own kernel from this interpreter, and
nbval gets a `labkit` kernelspec pointing at this interpreter (JUPYTER_PATH), whatever the
machine-wide one names. The grader's labs carry a prefix of their own (`gXXXX-trunks`);
nbval's cannot: the stored outputs hold MAC-derived values (DHCP leases, bridge IDs) of the
instance names the notebook chose, so nbval runs under those names (`trunks`, `routed`,
`svi`), and waits (up to 30 min) while a live process holds a lab of one of those names,
rather than replace it.

    grade_s_per_submission   seconds per graded submission (one call of grade() per copy, so
                             its once-per-run set-up, the gradebook and the source scan, is
                             paid each time); target <= 30
    grade_vs_nbval           per round: grading time / nbval time; target <= 1.5

Where grading spends its time is taken by wrapping labkit.grade's steps and nbclient's
kernel start, cells and shutdown (labkit.grade is not changed), next to nbval's per-cell
durations. Progress goes to stderr; the last line is one JSON object; exit 0 whether the
targets are met or not.

    .venv/bin/python bench/grade.py [--rounds 10] [--notebook notebooks/07-trunks.ipynb]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stats import finish, interleaved, median, ratios, show, spread, target  # noqa: E402

NOTEBOOK = REPO / "notebooks" / "07-trunks.ipynb"
SANITIZE = REPO / "tests" / "nbval_sanitize.cfg"
GOALS = {"grade_s_per_submission": 30.0, "grade_vs_nbval": 1.5}

# The steps of one grading, in the order they happen. "other" is the rest of grade()'s time.
PHASES = ["sources", "gradebook create", "gradebook overwrite", "scan", "kernel start", "cells",
          "fence counters", "lab checks", "kernel stop", "teardown", "other"]
HOLD_WAIT = 1800.0   # seconds nbval waits for another process's lab of the same name to go


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Profile:
    """Seconds per grading step, by wrapping the functions that do them (nothing is changed
    but their timing is recorded). A step whose function is missing is named in `missing`."""

    def __init__(self) -> None:
        self.now: dict[str, float] = defaultdict(float)
        self.cells: list[tuple[str, str, float]] = []   # (label, first line, seconds) of this grading
        self.missing: list[str] = []

    def reset(self) -> None:
        self.now = defaultdict(float)
        self.cells = []

    def _wrap(self, owner, attr: str, phase: str, on_call=None) -> None:
        orig = getattr(owner, attr, None)
        if orig is None:
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{attr} ({phase})")
            return

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return orig(*args, **kwargs)
            finally:
                took = time.perf_counter() - t0
                self.now[phase] += took
                if on_call:
                    on_call(took, *args, **kwargs)

        setattr(owner, attr, timed)

    def install(self) -> None:
        from nbclient import NotebookClient

        import labkit.grade as grade
        from labkit import sandbox

        self._wrap(grade, "grade_ids", "sources")
        self._wrap(grade.Gradebook, "__init__", "gradebook create")
        self._wrap(grade.Gradebook, "overwrite", "gradebook overwrite")
        self._wrap(grade.Gradebook, "close", "gradebook create")
        self._wrap(sandbox, "scan", "scan")
        self._wrap(grade, "_kernel_manager", "kernel start")
        self._wrap(NotebookClient, "start_new_kernel", "kernel start")
        self._wrap(NotebookClient, "start_new_kernel_client", "kernel start")
        self._wrap(NotebookClient, "execute_cell", "cells", on_call=self._cell)
        self._wrap(sandbox, "escaped", "fence counters")
        self._wrap(grade, "_lab_checks", "lab checks")
        self._wrap(NotebookClient, "_cleanup_kernel", "kernel stop")
        self._wrap(grade, "teardown", "teardown")

    def _cell(self, took: float, client, cell, cell_index, *args, **kwargs) -> None:
        code = [c for c in client.nb.cells[:cell_index] if c.cell_type == "code"]
        ordinal = sum(1 for c in code if not c.metadata.get("labkit_grade"))
        label = f"{ordinal - 1}h" if cell.metadata.get("labkit_grade") else str(ordinal)
        self.cells.append((label, first_line(cell.source), took))


def first_line(source: str) -> str:
    line = next((x.strip() for x in source.splitlines() if x.strip() and not x.startswith("###")), "")
    return line if len(line) <= 48 else line[:45] + "..."


def kernelspec_dir(root: Path) -> Path:
    """A Jupyter data dir whose `labkit` kernel is this interpreter (for nbval)."""
    spec = root / "jupyter" / "kernels" / "labkit"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (labkit, bench)", "language": "python"}))
    return root / "jupyter"


_DURATION = re.compile(r"^([\d.]+)s\s+(setup|call|teardown)\s+\S+::Cell (\d+)\s*$")
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped)\b")


def lab_names(notebook: Path) -> list[str]:
    """The instance names the notebook's code gives Lab.up (name="...")."""
    import nbformat

    code = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    return sorted(set(re.findall(r"Lab\.up\([^)]*?\bname=[\"']([a-z0-9-]+)[\"']", code)))


def held(names: list[str]) -> list[str]:
    """Those of `names` that a live process holds (or `labkit up` keeps): not ours to replace."""
    from labkit.lab.state import LabState

    return [n for n in names if (s := LabState.load(n)) is not None and (s.keep or s.owner_alive())]


def run_nbval(notebook: Path, jupyter: Path, names: list[str], i: int, rounds: int) -> dict:
    """Plain nbval over the notebook, as `./run test` runs it: wall time, result, per-cell times."""
    from labkit.procs import wait_until

    if held(names):
        log(f"  nbval {i}/{rounds}: waiting for another process's lab {', '.join(held(names))} to go")
        wait_until(lambda: not held(names), HOLD_WAIT, 5.0, what=f"labs {', '.join(names)} free for nbval")
    argv = [sys.executable, "-m", "pytest", "--nbval", str(notebook), "--nbval-kernel-name", "labkit",
            "--nbval-sanitize-with", str(SANITIZE), "-p", "no:cacheprovider", "-q",
            "--durations=0", "--durations-min=0"]
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_INSTANCE_PREFIX"}
    env["JUPYTER_PATH"] = str(jupyter)
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    took = time.perf_counter() - t0
    counts = {kind: int(n) for n, kind in _SUMMARY.findall(p.stdout.splitlines()[-1] if p.stdout else "")}
    cells: dict[int, dict[str, float]] = defaultdict(dict)
    for line in p.stdout.splitlines():
        m = _DURATION.match(line.strip())
        if m:
            cells[int(m.group(3))][m.group(2)] = float(m.group(1))
    ok = p.returncode == 0
    log(f"  nbval {i}/{rounds}: {'passed' if ok else 'FAILED'} "
        f"({', '.join(f'{n} {k}' for k, n in counts.items()) or 'no summary'}) in {took:.1f} s")
    if not ok:   # what failed, in full, without the durations list
        log("\n".join(l for l in p.stdout.splitlines() if not _DURATION.match(l.strip())))
    return {"seconds": took, "ok": ok, "cells": dict(cells)}


def run_grade(copy: Path, source_dir: Path, out: Path, profile: Profile, i: int, rounds: int) -> dict:
    from labkit.grade import grade

    profile.reset()
    t0 = time.perf_counter()
    reports = grade([copy], out, source=source_dir, progress=lambda m: log(f"  grade {i}/{rounds} {m}"))
    took = time.perf_counter() - t0
    r = reports[0]
    full = r["reason"] is None and r["max_score"] > 0 and r["score"] == r["max_score"] and not r["leftovers"]
    phases = dict(profile.now)
    phases["other"] = max(0.0, took - sum(phases.values()))
    return {"seconds": took, "ok": full, "score": f"{r['score']}/{r['max_score']}", "reason": r["reason"],
            "leftovers": r["leftovers"], "phases": phases, "cells": list(profile.cells)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="copies graded, and nbval runs (default 10)")
    ap.add_argument("--notebook", type=Path, default=NOTEBOOK, help="the teacher's notebook (default: 07)")
    a = ap.parse_args()
    notebook = a.notebook.resolve()
    profile = Profile()
    profile.install()
    work = Path(tempfile.mkdtemp(prefix="lk-bench-grade-"))
    try:
        source_dir, subs, out = work / "source", work / "submissions", work / "reports"
        for d in (source_dir, subs, out):
            d.mkdir()
        shutil.copy(notebook, source_dir / notebook.name)
        copies = [subs / f"student{n:02d}.ipynb" for n in range(1, a.rounds + 1)]
        for c in copies:
            shutil.copy(notebook, c)
        jupyter = kernelspec_dir(work)
        next_copy = iter(enumerate(copies, 1))

        def grade_round() -> dict:
            i, copy = next(next_copy)
            return run_grade(copy, source_dir, out, profile, i, a.rounds)

        names = lab_names(notebook)
        nbval_count = iter(range(1, a.rounds + 1))
        runs = interleaved(a.rounds, {"grade": grade_round,
                                      "nbval": lambda: run_nbval(notebook, jupyter, names, next(nbval_count),
                                                                 a.rounds)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(a, notebook, runs, profile)
    return 0


def report(a, notebook: Path, runs: dict, profile: Profile) -> None:
    grade_s = [r["seconds"] for r in runs["grade"]]
    nbval_s = [r["seconds"] for r in runs["nbval"]]
    per_round = ratios(grade_s, nbval_s)
    full = sum(r["ok"] for r in runs["grade"])
    passed = sum(r["ok"] for r in runs["nbval"])
    load = os.getloadavg()[0]
    print(f"{notebook.name}: {a.rounds} copies graded, {a.rounds} nbval runs, interleaved "
          f"(load average {load:.1f} on {os.cpu_count()} cores); median (IQR, range):")
    print(f"labkit grade, per submission   {show(grade_s, '.1f')} s   full marks {full}/{a.rounds}")
    print(f"plain nbval, same notebook     {show(nbval_s, '.1f')} s   passed {passed}/{a.rounds}")
    print(f"grade / nbval per round        {show(per_round, '.2f')}")
    for r in runs["grade"]:
        if not r["ok"]:
            print(f"  a grading missed full marks: {r['score']} ({r['reason']}; left: {r['leftovers']})")

    print("\nround by round (s; the slowest cell of each run in brackets):")
    for i, (g, n) in enumerate(zip(runs["grade"], runs["nbval"]), 1):
        gl, _, gs = max(g["cells"], key=lambda c: c[2], default=("-", "", 0.0))
        nl, ns = max(((k, v.get("setup", 0.0) + v.get("call", 0.0)) for k, v in n["cells"].items()),
                     key=lambda c: c[1], default=("-", 0.0))
        print(f"  {i:2d}  grade {g['seconds']:5.1f} (cell {gl}: {gs:4.1f}) {g['score']}   "
              f"nbval {n['seconds']:5.1f} (cell {nl}: {ns:4.1f}) {'passed' if n['ok'] else 'FAILED'}   "
              f"ratio {g['seconds'] / n['seconds']:.2f}")

    print("\nwhere grading spends its time (median per submission):")
    phase_med = {ph: median([r["phases"].get(ph, 0.0) for r in runs["grade"]]) for ph in PHASES}
    total = median(grade_s) or 1.0
    for ph in PHASES:
        print(f"  {ph:<20} {phase_med[ph]:7.2f} s  {100 * phase_med[ph] / total:5.1f} %")
    if profile.missing:
        print(f"  not timed (not found in labkit.grade): {', '.join(profile.missing)}")
    once = median([r["phases"].get("gradebook create", 0.0) + r["phases"].get("sources", 0.0) for r in runs["grade"]])
    print(f"  of which once per grade() call, however many submissions it grades (gradebook, sources): "
          f"{once:.2f} s")

    # nbval: collector set-up (the kernel start) is in Cell 0's setup, its shutdown in the last teardown
    nb_cells = [r["cells"] for r in runs["nbval"] if r["cells"]]
    nb_call = {n: [c[n].get("call", 0.0) for c in nb_cells if n in c]
               for n in sorted({n for c in nb_cells for n in c})}
    nb_setup = median([sum(v.get("setup", 0.0) for v in c.values()) for c in nb_cells])
    nb_teardown = median([sum(v.get("teardown", 0.0) for v in c.values()) for c in nb_cells])
    nb_cells_s = median([sum(v.get("call", 0.0) for v in c.values()) for c in nb_cells])
    nb_other = median([r["seconds"] - sum(sum(v.values()) for v in r["cells"].values())
                       for r in runs["nbval"] if r["cells"]])
    print("\nplain nbval (median per run):")
    print(f"  kernel start (setup) {nb_setup:7.2f} s   cells {nb_cells_s:7.2f} s   "
          f"kernel stop (teardown) {nb_teardown:7.2f} s   pytest itself {nb_other:7.2f} s")

    gr_cells: dict[str, list[float]] = defaultdict(list)
    lines: dict[str, str] = {}
    for r in runs["grade"]:
        for label, line, took in r["cells"]:
            gr_cells[label].append(took)
            lines[label] = line
    print("\ncells, seconds, grading against nbval ('Nh': cell N's hidden test, run by grading only):")
    print(f"  {'cell':>4} {'grade median':>12} {'max':>6} {'nbval median':>12} {'max':>6}  first line")
    order = sorted(gr_cells, key=lambda s: (int(s.rstrip("h")), s.endswith("h")))
    for label in order:
        g = gr_cells[label]
        n = nb_call.get(int(label), []) if not label.endswith("h") else []
        nb = f"{median(n):12.2f} {max(n):6.2f}" if n else f"{'':12} {'':6}"
        print(f"  {label:>4} {median(g):12.2f} {max(g):6.2f} {nb}  {lines[label]}")

    finish({"grade_s_per_submission": target(median(grade_s), GOALS["grade_s_per_submission"], "lower"),
            "grade_vs_nbval": target(median(per_round), GOALS["grade_vs_nbval"], "lower")},
           spreads={"grade_s_per_submission": spread(grade_s), "grade_vs_nbval": spread(per_round),
                    "nbval_s": spread(nbval_s)},
           grade_phases_s={ph: round(v, 3) for ph, v in phase_med.items()},
           nbval_parts_s={"kernel_start": round(nb_setup, 3), "cells": round(nb_cells_s, 3),
                          "kernel_stop": round(nb_teardown, 3), "pytest": round(nb_other, 3)},
           once_per_run_s=round(once, 3), graded_full_marks=full, nbval_passed=passed, rounds=a.rounds, notebook=notebook.name,
           loadavg=round(load, 2))


if __name__ == "__main__":
    sys.exit(main())
