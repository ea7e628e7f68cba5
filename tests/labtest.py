"""Helpers for lab tests: the real CLI, and a scan for anything a lab left behind."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from labkit.lab.state import RUN_ROOT

ROOT = Path(__file__).resolve().parents[1]


def labkit_cli(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `labkit` command line (python -m labkit.cli) and capture its output."""
    p = subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError(f"labkit {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def leftovers(instance: str) -> list[str]:
    """Everything of a lab instance still visible on the machine: namespaces, state, processes."""
    out = []
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    out += [line.split()[0] for line in ns.splitlines() if line.startswith(f"lk-{instance}-")]
    if (RUN_ROOT / instance).exists():
        out.append(str(RUN_ROOT / instance))
    if Path("/etc/netns").exists():
        out += [str(p) for p in Path("/etc/netns").glob(f"lk-{instance}-*")]
    out += [f"pid {pid}: {what}" for pid, what in processes_of(instance)]
    return out


def running_lab(topology: str, instance: str):
    """For a module fixture (``yield from running_lab(...)``): topologies/<topology> up as
    ``instance``; torn down afterwards, and nothing of it may be left."""
    from labkit.lab import Lab
    lab = Lab.up(ROOT / "topologies" / topology, name=instance, replace=True)
    try:
        yield lab
    finally:
        lab.down()
        assert leftovers(instance) == []


def processes_of(instance: str) -> list[tuple[int, str]]:
    """Processes on the machine that still name the lab's run directory in their command
    line, environment or working directory (a daemon of the lab, wherever it runs)."""
    run = str(RUN_ROOT / instance)
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (d / "environ").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(d / "cwd")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        def names(text: str) -> bool:
            return any(tok == run or tok.startswith(run + "/") for tok in text.replace("=", " ").split())
        if names(cmdline) or any(names(e) for e in environ) or names(cwd):
            found.append((int(d.name), cmdline.strip()[:200]))
    return found


def root_veths() -> set[str]:
    """veth interfaces in the root namespace (a lab makes none: its links live in its nodes)."""
    out = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def grade_submissions(source: Path, submissions: dict[str, dict[str, str]], out: Path,
                      timeout: float = 3600) -> dict[str, dict[str, dict]]:
    """Grade students' copies of notebook `source` with the real `labkit grade`: submission NAME
    is the student edition (labkit.course) with each solution cell whose grade_id is in
    submissions[NAME] replaced by that text (the others keep nbgrader's stub). Returns
    {NAME: {grade_id: exercise report}}, after checking each was graded to the end (no reason to
    score it 0) and left no lab behind."""
    from labkit import course

    books = {}
    for name, answers in submissions.items():
        nb = course.student_edition(source)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and meta["grade_id"] in answers:
                cell.source = answers[meta["grade_id"]]
        books[name] = nb
    graded = {}
    for name, report in grade_notebooks(source, books, out, timeout).items():
        assert report["reason"] is None, f"{name}: {report['reason']}"
        assert report["leftovers"] == [] and all(leftovers(i) == [] for i in report["instances"]), name
        graded[name] = {e["grade_id"]: e for e in report["exercises"]}
    return graded


def grade_notebooks(source: Path, books: dict, out: Path, timeout: float = 3600) -> dict[str, dict]:
    """Write each notebook books[NAME] (an nbformat node) to OUT/NAME.ipynb and grade them all with
    one real `labkit grade` run against `source`'s folder; {NAME: its report (OUT/reports/NAME.json)}.
    A lab left behind is in a report's `leftovers` (the command's exit code is not checked)."""
    import json

    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    for name, nb in books.items():
        nbformat.write(nb, out / f"{name}.ipynb")
    run = labkit_cli("grade", *(str(out / f"{n}.ipynb") for n in books), "-o", str(out / "reports"),
                     "--source", str(source.parent), timeout=timeout, check=False)
    missing = [n for n in books if not (out / "reports" / f"{n}.json").exists()]
    assert not missing, f"labkit grade wrote no report for {missing}:\n{run.stdout}\n{run.stderr}"
    return {name: json.loads((out / "reports" / f"{name}.json").read_text()) for name in books}
