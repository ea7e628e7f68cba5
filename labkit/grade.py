"""`labkit grade`: run each student's notebook in a lab of its own and score its exercises.

For each submission, one after the other:

1. **Its source.** The teacher's notebook it came from: the one of the same file name in the
   source folder (this checkout's `notebooks/`, or `--source DIR`), else the one whose
   nbgrader cells (grade_ids) it shares most. None: the submission is refused (score 0).
2. **The checks put back.** nbgrader's own `OverwriteCells` restores every graded cell from
   the source by grade_id, hidden tests included, and re-adds deleted ones
   (`add_missing_cells`); a student's edit to a check cannot change what is graded. It needs
   nbgrader's gradebook database, so one temporary SQLite gradebook per run is filled from the
   source notebooks with `ComputeChecksums` + `SaveCells`, as `generate_assignment` would
   (nbgrader's `autograde` itself is not used: it cannot give each submission a lab).
3. **Visible and hidden parts.** A check cell with `### BEGIN HIDDEN TESTS` is split in two
   cells, the visible part and the hidden part (what follows the marker), run one after the
   other and scored on their own. Points: the hidden part gets half the cell's points,
   rounded down, but at least 1 (and never more than the cell has); the visible part the
   rest. A cell without hidden tests is one visible part worth all its points.
4. **A lab of its own.** The notebook runs in a fresh `labkit` kernel (nbclient,
   `allow_errors`, so every exercise is scored even after a failing cell) whose environment
   has `LABKIT_INSTANCE_PREFIX=gXXXX-`, a prefix no recorded lab has: `Lab.up(...,
   name="trunks")` makes `gXXXX-trunks`, so submissions never meet each other's labs or a
   notebook someone runs meanwhile. Each cell has a time limit (`cell_timeout`) and the whole
   submission one (`timeout`); over either, the kernel is killed and the submission scored 0
   with the reason. A kernel that dies (a crash) is scored 0 the same way.
5. **The lab's checks.** Right after the last graded cell, every lab of the submission that is
   up gets its topology's checks (`labkit check`'s table goes into the report).
6. **Teardown, guaranteed.** After the kernel is gone, every lab recorded under the prefix
   (`/run/labkit/<prefix>*/state.json`) is removed as `labkit clean --lab` does (forced: the
   kernel that held them is ours, and dead), and the grader then looks for anything left
   (records, namespaces `lk-<prefix>*`); what it finds goes in the report as `leftovers`.

7. **Fenced** (labkit.sandbox). Before anything runs, a submission whose code reaches for
   namespaces outside the lab API (`ip netns`, `nsenter`, /run/netns, ...) or touches
   LABKIT_INSTANCE_PREFIX is refused: score 0, the reason names cell and line. The kernel
   runs in a network namespace of its own whose only way out is a counted dead end: a cell
   that sends from the notebook's own process (not from a lab node) stops the submission,
   scored 0 with "sent N packet(s) from outside its labs". Under its prefix the kernel
   sees only its own labs (state.scoped), so attaching to, taking down or cleaning another
   lab fails with "no lab ... is up".

A part passes when its cell raises no error; the feedback for a failing part is the error's
message (an AssertionError's text). Reports: OUT/NAME.json, OUT/NAME.html, and the executed
notebook OUT/NAME.graded.ipynb. A report's `restored` lists the graded cells the submission
had edited or deleted (put back from the source, as every graded cell is).
"""
from __future__ import annotations

import copy
import html
import json
import logging
import math
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from labkit import sandbox
from labkit.course import HIDDEN_BEGIN, HIDDEN_END
from labkit.lab.errors import LabkitError
from labkit.lab.runtime import INSTANCE_PREFIX_ENV, Lab, clean
from labkit.lab.state import LabState

Progress = Callable[[str], None]
_QUIET = logging.getLogger("labkit.grade.nbgrader")
_QUIET.setLevel(logging.ERROR)


class GradeError(LabkitError):
    """A submission that cannot be graded at all (no source notebook, not a notebook)."""


def split_points(points: int, hidden: bool) -> tuple[int, int]:
    """(visible, hidden) points of a check cell: the hidden part half, rounded down, at least 1."""
    if not hidden:
        return points, 0
    h = min(points, max(1, points // 2))
    return points - h, h


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_ids(path: Path) -> set[str]:
    import nbformat

    return {m["grade_id"] for c in nbformat.read(path, as_version=4).cells
            if (m := _nbgrader(c)).get("grade_id") and (m.get("grade") or m.get("solution"))}


def find_source(submission: Path, nb, sources: dict[Path, set[str]]) -> Path:
    """The source notebook of a submission: same file name, else the most grade_ids shared."""
    for src in sources:
        if src.name == submission.name:
            return src
    ids = {m["grade_id"] for c in nb.cells if (m := _nbgrader(c)).get("grade_id")}
    best = max(sources, key=lambda s: len(sources[s] & ids), default=None)
    if best is None or not sources[best] & ids:
        raise GradeError(f"{submission.name}: no source notebook has its graded cells "
                         f"({', '.join(sorted(ids)) or 'it has no nbgrader cells'}); "
                         f"sources: {', '.join(s.name for s in sources) or 'none'}")
    return best


@contextmanager
def _venv_path() -> Iterator[None]:
    """nbgrader's Gradebook runs the `alembic` command: find it beside this interpreter."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{old}"
    try:
        yield
    finally:
        os.environ["PATH"] = old


class Gradebook:
    """A temporary nbgrader gradebook (SQLite) holding the source notebooks' cells, for
    nbgrader's OverwriteCells."""

    ASSIGNMENT = "labkit"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="labkit-grade-"))
        self.url = f"sqlite:///{self.dir / 'gradebook.db'}"
        self.saved: set[Path] = set()
        from nbgrader.api import Gradebook as NbGradebook

        with _venv_path(), NbGradebook(self.url) as gb:
            gb.update_or_create_assignment(self.ASSIGNMENT)

    def _resources(self, source: Path) -> dict:
        return {"nbgrader": {"notebook": source.stem, "assignment": self.ASSIGNMENT, "db_url": self.url}}

    def overwrite(self, nb, source: Path):
        """The submission with every graded cell as the source has it (hidden tests included)."""
        import nbformat
        from nbgrader.preprocessors import ComputeChecksums, OverwriteCells, SaveCells

        with _venv_path():
            if source not in self.saved:
                src = nbformat.read(source, as_version=4)
                for pre in (ComputeChecksums(log=_QUIET), SaveCells(log=_QUIET)):
                    src, _ = pre.preprocess(src, self._resources(source))
                self.saved.add(source)
            nb, _ = OverwriteCells(add_missing_cells=True, log=_QUIET).preprocess(nb, self._resources(source))
        return nb

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def split_checks(nb) -> list[dict]:
    """Split each check cell with hidden tests into a visible and a hidden cell (in place);
    return the parts: {grade_id, part, points, cell} in notebook order."""
    import nbformat

    parts: list[dict] = []
    cells = []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if not (cell.cell_type == "code" and meta.get("grade")):
            cells.append(cell)
            continue
        text = cell.source
        hidden = HIDDEN_BEGIN in text
        vis_pts, hid_pts = split_points(int(meta.get("points", 0)), hidden)
        cells.append(cell)
        parts.append({"grade_id": meta["grade_id"], "part": "visible", "points": vis_pts, "cell": cell})
        if hidden:
            before, _, after = text.partition(HIDDEN_BEGIN)
            cell.source = before.rstrip("\n")
            hid = nbformat.v4.new_code_cell(after.replace(HIDDEN_END, "").strip("\n"))
            hid.metadata["labkit_grade"] = {"grade_id": meta["grade_id"], "part": "hidden"}
            cells.append(hid)
            parts.append({"grade_id": meta["grade_id"], "part": "hidden", "points": hid_pts, "cell": hid})
    nb.cells = cells
    return parts


def _error(cell) -> str | None:
    """The error a cell raised, as its message (the AssertionError's text), or None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("evalue") or out.get("ename") or "error"
    return None


def new_prefix() -> str:
    taken = LabState.instances()
    while True:
        p = "g" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(4)) + "-"
        if not any(i.startswith(p) for i in taken):
            return p


def labs_of(prefix: str) -> list[str]:
    """The labs recorded under a submission's prefix (/run/labkit/<prefix>*/state.json)."""
    return [inst for inst in LabState.instances() if inst.startswith(prefix)]


def _lab_checks(prefix: str) -> dict[str, dict]:
    out = {}
    for inst in labs_of(prefix):
        state = LabState.load(inst)
        if state is not None and state.status == "up":
            try:
                report = Lab.attach(inst).check()
                out[inst] = {"ok": report.ok, "table": report.table()}
            except Exception as exc:   # a lab half torn down by the notebook: say so, grade on
                out[inst] = {"ok": False, "table": f"checks could not run: {type(exc).__name__}: {exc}"}
    return out


def teardown(prefix: str) -> list[str]:
    """Remove every lab recorded under the prefix; return what is still there."""
    for inst in labs_of(prefix):
        clean(force=True, instance=inst)
    left = [f"lab record {inst}" for inst in labs_of(prefix)]
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left += [f"namespace {line.split()[0]}" for line in ns.splitlines() if line.startswith(f"lk-{prefix}")]
    return left


def _describe(cell, index: int, quote: bool = True) -> str:
    """cell 23 (solution trunk-fix: import time; time.sleep(...)), for a reason or feedback."""
    meta = _nbgrader(cell) or {}
    role = ("check" if meta.get("grade") else "solution" if meta.get("solution") else
            "hidden test" if cell.metadata.get("labkit_grade") else "")
    line = next((x.strip() for x in cell.source.splitlines() if x.strip() and not x.startswith("###")), "")
    line = line if len(line) <= 50 else line[:47] + "..."
    what = f"{role} {meta.get('grade_id') or cell.metadata.get('labkit_grade', {}).get('grade_id', '')}" if role else ""
    if not quote:
        return f"cell {index}" + (f" ({what})" if what else "")
    return f"cell {index} ({what}{': ' if what else ''}{line})"


def _kernel_manager(sockets: Path):
    """A manager (asynchronous, as nbclient's own) for a fenced `labkit` kernel of *this* environment.

    The machine-wide `labkit` kernelspec names whichever checkout ran the set-up last; the
    grader must run the labkit it is itself (the one that honours LABKIT_INSTANCE_PREFIX and
    tears down what it made). The kernel runs in a network namespace of its own
    (labkit.sandbox), so it talks to us over Unix sockets in `sockets` (the `ipc` transport).
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    specs = Path(tempfile.mkdtemp(prefix="labkit-kernel-"))
    (specs / "labkit").mkdir()
    (specs / "labkit" / "kernel.json").write_text(json.dumps({
        "argv": sandbox.kernel_argv(), "display_name": "Python (labkit, fenced)", "language": "python"}))
    km = AsyncKernelManager(kernel_name="labkit", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]),
                            transport="ipc", ip=str(sockets / "kernel"))
    km.kernel_spec   # read now: the directory goes at once
    shutil.rmtree(specs, ignore_errors=True)
    return km


class _Escaped(Exception):
    """The kernel sent packets from its own namespace, i.e. from outside every lab node."""


def _execute(nb, parts: list[dict], cwd: Path, prefix: str, timeout: float, cell_timeout: float,
             report: dict, log: Path) -> None:
    """Run the notebook cell by cell under both limits; fill report's reason/lab_checks."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    sockets = Path(tempfile.mkdtemp(prefix="labkit-grade-"))
    client = NotebookClient(nb, km=_kernel_manager(sockets), allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    last_graded = max((nb.cells.index(p["cell"]) for p in parts), default=-1)
    deadline = time.monotonic() + timeout
    env = {**os.environ, INSTANCE_PREFIX_ENV: prefix}
    try:
        with open(log, "w") as kernel_out, client.setup_kernel(env=env, cleanup_kc=True, stdout=kernel_out,
                                                                stderr=subprocess.STDOUT):
            try:
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise CellTimeoutError(f"over the submission's {timeout:g} s limit before cell {index}")
                    client.timeout = max(1, math.ceil(min(cell_timeout, left)))
                    try:
                        client.execute_cell(cell, index)
                    except CellTimeoutError:
                        limit = (f"its {cell_timeout:g} s limit per cell" if cell_timeout <= left
                                 else f"the submission's {timeout:g} s limit")
                        raise CellTimeoutError(f"{_describe(cell, index)} ran over {limit}") from None
                    report["instances"] = sorted(set(report["instances"]) | set(labs_of(prefix)))
                    sent = sandbox.escaped(client.km.provisioner.pid)
                    if sent:
                        raise _Escaped(f"{_describe(cell, index, quote=False)} sent {sent} packet(s), ARP lookups "
                                       "included, from outside its labs (from the notebook's own process, not a lab "
                                       "node; send from a node: lab.node(...).call/cmd)")
                    if index == last_graded:
                        report["lab_checks"] = _lab_checks(prefix)
            except (CellTimeoutError, DeadKernelError, _Escaped):
                client.shutdown_kernel = "immediate"
                raise
    except _Escaped as exc:
        report["reason"] = f"refused: {exc}"
    except CellTimeoutError as exc:
        report["reason"] = f"timed out: {exc}"
    except DeadKernelError as exc:
        report["reason"] = f"crashed: the kernel died ({exc})"
    except Exception as exc:   # the kernel did not start, the notebook is malformed, ...
        report["reason"] = f"crashed: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def grade_one(path: Path, name: str, sources: dict[Path, set[str]], gradebook: Gradebook, out: Path,
              timeout: float, cell_timeout: float, progress: Progress) -> dict:
    """Grade one submission; the executed notebook (hidden tests and all) goes to OUT/graded/."""
    import nbformat

    report: dict = {"submission": str(path), "name": name, "source": None, "graded": False, "score": 0,
                    "max_score": 0, "exercises": [], "restored": [], "reason": None, "errors": [],
                    "lab_checks": {}, "instances": [], "leftovers": []}
    started = time.monotonic()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        report["reason"] = f"unreadable: not a notebook nbformat can read ({type(exc).__name__}: {exc})"
        report["seconds"] = round(time.monotonic() - started, 1)
        return report
    try:
        source = find_source(path, nb, sources)
    except GradeError as exc:
        report["reason"] = f"unreadable: {exc}"
        report["seconds"] = round(time.monotonic() - started, 1)
        return report
    report["source"], report["graded"] = source.name, True
    before = {m["grade_id"]: c.source for c in nb.cells if (m := _nbgrader(c)).get("grade") and m.get("grade_id")}
    nb = gradebook.overwrite(nb, source)
    for cell in nb.cells:                        # cells nbgrader put back have no id (nbformat 4.5)
        cell.setdefault("id", secrets.token_hex(8))
    report["restored"] = [m["grade_id"] for c in nb.cells if (m := _nbgrader(c)).get("grade")   # the student's
                          and (before.get(m["grade_id"]) or "").strip() not in   # edition has no hidden tests
                          (c.source.strip(), c.source.split(HIDDEN_BEGIN)[0].strip())]
    parts = split_checks(nb)
    for part in parts:
        part["cell"].outputs, part["cell"].execution_count = [], None
    report["max_score"] = sum(p["points"] for p in parts)
    graded = out / "graded"
    graded.mkdir(exist_ok=True)
    escapes = sandbox.scan(nb.cells)
    if escapes:   # checked before anything runs: there is nothing to tear down
        report["reason"] = f"refused: it reaches outside its labs: {'; '.join(escapes)}"
    else:
        prefix = new_prefix()
        progress(f"source {source.name}, {len(parts)} graded parts, labs {prefix}*")
        try:
            _execute(nb, parts, source.parent, prefix, timeout, cell_timeout, report, graded / f"{name}.kernel.log")
        finally:
            report["instances"] = sorted(set(report["instances"]) | set(labs_of(prefix)))
            if not report["lab_checks"]:   # stopped before its last graded cell: the labs as they are
                report["lab_checks"] = _lab_checks(prefix)
            report["leftovers"] = teardown(prefix)
    report["exercises"], report["errors"] = _score(nb, parts, report["reason"])
    report["score"] = 0 if report["reason"] else sum(e["points"] for e in report["exercises"])
    report["seconds"] = round(time.monotonic() - started, 1)
    nbformat.write(nb, graded / f"{name}.graded.ipynb")
    return report


def _score(nb, parts: list[dict], reason: str | None) -> tuple[list[dict], list[str]]:
    """Points and feedback per exercise, and the errors of the notebook's other cells.

    A failing check's feedback also names the errors of the cells before it (back to the
    previous graded cell: the exercise's own cells), so a typo in a solution reads as one.
    """
    by_cell = {id(p["cell"]): p for p in parts}
    by_id: dict[str, dict] = {}
    errors, since = [], []
    for index, cell in enumerate(nb.cells):
        part = by_cell.get(id(cell))
        if part is None:
            err = _error(cell) if cell.cell_type == "code" else None
            if err:
                line = f"{_describe(cell, index)}: {err}"
                errors.append(line)
                since.append(line)
            continue
        ex = by_id.setdefault(part["grade_id"], {"grade_id": part["grade_id"], "points": 0, "max_points": 0,
                                                 "visible": None, "hidden": None, "feedback": ""})
        ex["max_points"] += part["points"]
        if reason:                                # refused, timed out or crashed: said once, not per part
            ex[part["part"]], ex["feedback"] = "fail", reason
            continue
        err = _error(cell) if cell.get("execution_count") is not None else "not run"
        ex[part["part"]] = "fail" if err else "pass"
        if err:
            label = "visible check" if part["part"] == "visible" else "hidden test"
            found = [f"{label}: {err}"] + ([f"an earlier cell failed: {'; '.join(since)}"]
                                          if since and part["part"] == "visible" else [])
            ex["feedback"] = "; ".join(filter(None, [ex["feedback"], *found]))
        else:
            ex["points"] += part["points"]
        if part["part"] == "visible":
            since = []
    return list(by_id.values()), errors


def report_names(paths: list[Path]) -> list[str]:
    """One report name per submission: the file's stem, with its folder's name before it when
    stems repeat (a class hands in many `07-trunks.ipynb`: alice-07-trunks, bob-07-trunks), and a
    number after it when even that repeats."""
    stems = [p.stem for p in paths]
    names = [f"{p.parent.name}-{p.stem}" if stems.count(p.stem) > 1 and p.parent.name else p.stem
             for p in paths]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if names.count(n) == 1 else f"{n}-{seen[n]}")
    return out


def write_reports(out: Path, report: dict, page: str) -> None:
    (out / f"{report['name']}.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / f"{report['name']}.html").write_text(page)


def write_index(out: Path, reports: list[dict]) -> None:
    """OUT/summary.csv (one row per submission) and OUT/index.html (the same, with links to
    each report). Shared with labkit.rubric's config grading."""
    import csv

    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "submission", "score", "max_score", "reason"])
        for r in reports:
            w.writerow([r["name"], r["submission"], r["score"], r["max_score"], r["reason"] or ""])
    e = html.escape
    rows = "".join(f"<tr><td><a href=\"{e(r['name'])}.html\">{e(r['name'])}</a></td><td>{r['score']} / {r['max_score']}</td>"
                   f"<td>{e(r['reason'] or '')}</td></tr>" for r in reports)
    (out / "index.html").write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>labkit grades</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.3em .6em;text-align:left}}</style></head>
<body><h1>Grades: {len(reports)} submission(s)</h1>
<table><tr><th>submission</th><th>score</th><th>scored 0 because</th></tr>
{rows}</table></body></html>
""")


def grade(submissions: list[Path], out: Path, source: Path | None = None, timeout: float = 900,
          cell_timeout: float = 300, progress: Progress = print) -> list[dict]:
    """Grade each submission in turn; write OUT/NAME.json, OUT/NAME.html, OUT/graded/NAME.graded.ipynb
    (for the teacher: it holds the hidden tests), OUT/summary.csv and OUT/index.html; return the reports."""
    from labkit import paths
    from labkit.course import notebooks

    src_dir = Path(source) if source else paths.find("notebooks")
    sources = {s.resolve(): ids for s in notebooks(src_dir) if (ids := grade_ids(s))}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    submissions = [Path(s) for s in submissions]
    gradebook = Gradebook()
    reports = []
    try:
        for i, (path, name) in enumerate(zip(submissions, report_names(submissions)), 1):
            tag = f"[{i}/{len(submissions)}] {name}"
            report = grade_one(path, name, sources, gradebook, out, timeout, cell_timeout,
                               progress=lambda m: progress(f"{tag}: {m}"))
            write_reports(out, report, to_html(report))
            progress(f"{tag}: {summary(report)}")
            reports.append(report)
            write_index(out, reports)
    finally:
        gradebook.close()
    return reports


def summary(report: dict) -> str:
    return summary_line(report, ", ".join(f"{e['grade_id']}: visible {e['visible']}"
                                          + (f", hidden {e['hidden']}" if e["hidden"] else "")
                                          for e in report["exercises"]))


def summary_line(report: dict, results: str) -> str:
    """A graded submission in one line: score/max (why it scored 0, else `results`), then anything
    its labs left behind. Shared with labkit.rubric's config grading."""
    line = f"{report['score']}/{report['max_score']} ({report['reason'] or results})"
    if report["leftovers"]:
        line += f"; LEFT BEHIND: {', '.join(report['leftovers'])}"
    return line


def to_html(report: dict) -> str:
    return html_page(report, f"Submission {report['submission']}; source notebook {report['source'] or '-'}",
                     ("exercise", "points", "visible check", "hidden test", "feedback"),
                     [(x["grade_id"], f"{x['points']}/{x['max_points']}", x["visible"] or "", x["hidden"] or "-",
                       x["feedback"]) for x in report["exercises"]],
                     [("Checks put back from the teacher's notebook (the submission had edited or deleted them)",
                       report["restored"]),
                      ("Errors in the notebook's other cells", report["errors"])])


def html_page(report: dict, about: str, head: tuple[str, ...], rows: list[tuple[str, ...]],
              notes: list[tuple[str, list[str]]] = ()) -> str:
    """A report as one page: the score, `about` (what was graded), why it scored 0, what was left
    behind, a table (`head` and `rows`, plain text), each lab's `labkit check` table, then `notes`
    (a heading and its lines each). Shared with labkit.rubric's config grading."""
    e = html.escape
    cells = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    checks = "".join(f"<h2>labkit check: {e(inst)} ({'pass' if c['ok'] else 'FAIL'})</h2><pre>{e(c['table'])}</pre>"
                     for inst, c in report["lab_checks"].items()) or "<p>No lab was up to check.</p>"
    reason = f"<p class=reason><b>Scored 0:</b> {e(report['reason'])}</p>" if report["reason"] else ""
    left = (f"<p class=reason><b>Left behind:</b> {e(', '.join(report['leftovers']))}</p>"
            if report["leftovers"] else "")
    more = "".join(f"\n<h2>{e(title)}</h2><ul>{''.join(f'<li>{e(x)}</li>' for x in lines)}</ul>"
                   for title, lines in notes if lines)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{e(report['name'])}: {report['score']}/{report['max_score']}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.3em .6em;text-align:left}} .reason{{color:#a00}}</style></head>
<body><h1>{e(report['name'])}: {report['score']} / {report['max_score']}</h1>
<p>{e(about)};
graded in {report.get('seconds', 0)} s.</p>{reason}{left}
<table><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr>
{cells}</table>
{checks}{more}
</body></html>
"""
