"""`labkit grade --configs DIR... --rubric RUBRIC [--lab TOPOLOGY]`: grade config-only assignments.

Many networking courses hand in configs, not notebooks ("make VLAN 2 unable to reach VLAN 1
but keep its internet"). Here each student's folder of files is run in the topology in place
of the topology's own files, and a rubric scores what the running lab does.

**The rubric** is a YAML file (`data/rubrics/NAME.yaml`, or any path)::

    title: VLAN 2 may not reach VLAN 1, and keeps its internet   # optional
    lab: seed                  # the topology (a name in topologies/ or a path); --lab overrides it
    files: [sw3550.ios]        # optional: what a submission must hold; without it, any file below
    checks:                    # a topology's checks (same kinds, same syntax) with points and feedback
      - no_reach: {from: phone1, to: pc1}
        points: 3
        feedback: VLAN 2 still reaches VLAN 1 ...   # shown when the check fails
        name: vlan2-not-vlan1                       # optional, unique: the check's id in reports

Each check is validated by the topology loader itself (labkit.lab.loader, the kinds' typed
parameters), and run by labkit.lab.checks, so a rubric can use every check kind a topology
can, plug-ins' too. Every mistake in a rubric is one line, `rubric.yaml:LINE: what (fix: how)`.

**Which files a student may hand in**: the topology's IOS configs (`ios:` of a node, `*.ios`),
zone files (named in a `named.conf` zone statement, or an `authdns` service's `zonefile:`) and
Postfix `main.cf` files (a `postfix` service's `config:`). **How a student's file is matched**:
by its path in the folder, relative to the topology's own folder (`ec2/main.cf`), else by its
file name alone (`sw3550.ios`, `exampledomain.ca`, `main.cf`) when exactly one of those files of
the topology has that name. A file that matches nothing, or a file the rubric's `files:` does
not name, is reported (the report's `unmatched`, and the HTML page) and not used; a symbolic
link is never read. Refused (scored 0 before anything starts): a file `files:` names that is
missing, two files for one of the topology's files, a name several of its files share (hand
it in at its path instead), a file over 1 MB.

**Folders**: each `--configs DIR` is one submission, unless it holds folders and none of its
own files is one the assignment takes: then it is a class folder and each of its folders is
one submission (graded in name order, with `[2/30] NAME: ...` progress). A report is named
after its folder (OUT/NAME.json, OUT/NAME.html).

**Nothing starts before everything is valid.** The topology's files the lab reads are copied
to a scratch folder, the student's files in place of the ones they replace, and each student
file is checked as its daemon would: an IOS config by the IOS plug-in's lint (parse and
translation, every error), a zone file by labkit's zone parser and `named-checkzone`, a
`main.cf` by labkit.mail's parser; then the copied topology is loaded. An error is reported
as the student's own `FILE:LINE: what (fix: how)`, every check scores 0 with that as its
feedback, and no lab is started. Findings that do not stop a daemon (the DNS lint's
`NS ns.`, an IOS warning) are listed in the report's `lint` and do not change the score.

**The lab** then runs under an instance name no recorded lab has (`gXXXX-seed`, labkit.grade's
prefix), the rubric's checks run, and the lab is torn down whatever happens (a failed
bring-up, an error, Ctrl-C or SIGTERM; a second Ctrl-C cannot cut the teardown short), then
looked for: anything left is the report's `leftovers` (and `labkit grade` exits 1).

**Reports**, written with labkit.grade's writers: OUT/NAME.json has `score`, `max_score`,
`checks` (each: `id`, `check`, `line` in the rubric, `points`, `max_points`, `passed`,
`feedback` (the rubric's text when it failed), `detail` (what the probe saw)), `files`
(student file -> the topology's file it replaced), `unmatched`, `errors`, `lint`, `reason`
(why it scored 0), `lab_checks` (the check table), `instances`, `leftovers`, `seconds`;
OUT/NAME.html shows the same.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from labkit import grade, paths, textfile
from labkit.diag import Diagnostic, DiagnosticError, LabkitError, Where, error, printable, unknown_key_fix
from labkit.lab import loader
from labkit.lab.checks import CheckReport, run_checks
from labkit.lab.errors import TopologyError
from labkit.lab.loader import Loader, sequence, unknown_keys, value_of, shape
from labkit.lab.model import Check, ServiceSpec, Topology
from labkit.lab.plugins import registry
from labkit.lab.runtime import Lab
from labkit.lab.yamlpos import YMap, load_yaml, read

Progress = Callable[[str], None]

KINDS = {"ios": "IOS config", "zone": "zone file", "main.cf": "Postfix main.cf"}
RUBRIC_KEYS = {"title", "lab", "files", "checks"}
ITEM_KEYS = {"points", "feedback", "name"}
MAX_POINTS = 1000
MAX_FILE = 1 << 20           # bytes of one student file
MAX_COPY = 64 << 20          # bytes of the topology's files copied for one submission
EXAMPLE = "start from data/rubrics/campus-acl.yaml"


# -- the files a student may hand in ---------------------------------------------------------

@dataclass
class Slot:
    """One file of the topology that a student's file may replace."""

    kind: str                 # ios | zone | main.cf (KINDS)
    path: Path                # the topology's file
    rel: str                  # its path relative to the topology's folder, as a student would place it
    used_by: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)          # zone: the zones it is loaded as
    specs: list[ServiceSpec] = field(default_factory=list)    # ios: the services that apply it

    @property
    def name(self) -> str:
        return self.path.name

    def __hash__(self) -> int:
        return hash(self.path)


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def slots(topo: Topology) -> list[Slot]:
    """The IOS configs, zone files and main.cf files the topology's services read, in topology order."""
    from labkit.dns.namedconf import load_zones

    found: dict[Path, Slot] = {}

    def add(kind: str, path: Path, use: str, origin: str = "", spec: ServiceSpec | None = None) -> None:
        path = Path(path).resolve()
        slot = found.setdefault(path, Slot(kind, path, _rel(path, topo.base)))
        if use not in slot.used_by:
            slot.used_by.append(use)
        if origin and origin not in slot.origins:
            slot.origins.append(origin)
        if spec is not None:
            slot.specs.append(spec)

    for node in topo.nodes.values():
        for spec in node.services:
            params = spec.params
            if spec.kind == "ios":
                add("ios", params["config"], f"{node.name}'s IOS config", spec=spec)
            elif spec.kind == "postfix":
                add("main.cf", params["config"], f"{node.name}'s Postfix")
            elif spec.kind in ("bind", "authdns"):
                conf = params.get("config")
                if isinstance(conf, Path):
                    for st in load_zones(conf):
                        if st.file and not os.path.isabs(st.file):
                            add("zone", conf.parent / st.file, f"zone {st.name} on {node.name}", st.name)
                for origin, zfile in (params.get("zonefile") or {}).items():
                    add("zone", zfile, f"zone {origin} on {node.name}", str(origin))
    return list(found.values())


def match(rel: str, candidates: list[Slot]) -> Slot | list[Slot] | None:
    """The slot a file at `rel` (relative to the student's folder) replaces: the one at that very
    path, else the only one with that file name; several with that name: all of them."""
    for slot in candidates:
        if slot.rel == rel:
            return slot
    named = [s for s in candidates if s.name == Path(rel).name]
    return named[0] if len(named) == 1 else (named or None)


def _names(candidates: list[Slot]) -> str:
    return ", ".join(s.rel for s in candidates) or "none"


# -- the rubric ------------------------------------------------------------------------------

@dataclass
class RubricCheck:
    check: Check
    points: int
    feedback: str
    name: str


@dataclass
class Rubric:
    path: Path
    title: str
    topology: Topology
    slots: list[Slot]
    files: list[Slot]           # what a submission must hold (empty: any slot, none required)
    checks: list[RubricCheck]

    @property
    def max_score(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def takes(self) -> list[Slot]:
        """The files a submission may hand in."""
        return self.files or self.slots


def resolve(spec: str | Path) -> Path:
    """`campus-acl` -> the first data/rubrics/campus-acl.yaml on the search path; else a path."""
    p = Path(spec)
    if p.suffix not in (".yaml", ".yml") and not loader.safely(p.exists):
        p = paths.data("rubrics", f"{spec}.yaml")
    return p


def load_rubric(spec: str | Path, lab: str | Path | None = None) -> Rubric:
    """Read and validate a rubric; its topology is `lab`, else the rubric's `lab:`."""
    path = resolve(spec)
    if not loader.safely(path.is_file):
        known = ", ".join(sorted(p.stem for p in paths.data("rubrics").glob("*.yaml")))
        raise TopologyError(None, f"no rubric file {path}", f"pick one of: {known or 'none found'}")
    data = load_yaml(read(path, str(path)), str(path))
    top = Where(str(path), 1)
    if not isinstance(data, YMap):
        raise TopologyError(top, f"a rubric must be a mapping with 'checks', not {shape(data)}", EXAMPLE)
    if lab is None:
        if data.get("lab") is None:
            raise TopologyError(top, "the rubric names no topology", "add 'lab: seed' (or give --lab TOPOLOGY)")
        lab = value_of(data["lab"], data.at("lab"), "'lab'", "e.g. 'lab: seed'")
        try:
            topo = loader.load(lab)
        except TopologyError as exc:
            if exc.where is not None:
                raise
            raise TopologyError(data.at("lab"), exc.message, exc.fix) from None
    else:
        topo = loader.load(lab)
    return parse_rubric(path, data, topo)


def parse_rubric(path: Path, data: Any, topo: Topology) -> Rubric:
    """A rubric's YAML (labkit.lab.yamlpos) validated against the topology it runs on."""
    top = Where(str(path), 1)
    if not isinstance(data, YMap):
        raise TopologyError(top, f"a rubric must be a mapping with 'checks', not {shape(data)}", EXAMPLE)
    unknown_keys(data, RUBRIC_KEYS, "the rubric")
    title = "" if data.get("title") is None else value_of(data["title"], data.at("title"), "'title'", "e.g. 'title: ACLs'")
    if data.get("lab") is not None:
        value_of(data["lab"], data.at("lab"), "'lab'", "e.g. 'lab: seed'")
    every = slots(topo)
    files: list[Slot] = []
    listed = sequence(data.get("files"), data.at("files"), "'files'", "e.g. 'files: [sw3550.ios]'")
    for item, where in zip(listed, listed.item_where):
        rel = value_of(item, where, "a file in 'files'", "e.g. 'files: [sw3550.ios]'")
        slot = match(rel, every)
        if slot is None:
            raise TopologyError(where, f"'{printable(rel, 80)}' is none of the files of {topo.name} a student may "
                                "hand in (IOS configs, zone files, main.cf)", f"use one of: {_names(every)}")
        if isinstance(slot, list):
            raise TopologyError(where, f"several files of {topo.name} are named '{printable(rel, 80)}'",
                                f"name it by its path: {_names(slot)}")
        if slot in files:
            raise TopologyError(where, f"'{printable(rel, 80)}' is listed twice", "list each file once")
        files.append(slot)
    items = sequence(data.get("checks"), data.at("checks"), "'checks'",
                      "write each check on a line starting with '- '")
    if not items:
        raise TopologyError(data.at("checks"), "the rubric has no checks", "add 'checks:' with at least one; " + EXAMPLE)
    ctx = Loader(topo.path, None)   # the loader's own check validation, against this topology
    ctx.topo = topo
    checks: list[RubricCheck] = []
    for item, where in zip(items, items.item_where):
        checks.append(_check(ctx, topo, item, where, checks))
    return Rubric(path=path, title=title, topology=topo, slots=every, files=files, checks=checks)


def _check(ctx: Loader, topo: Topology, item: Any, where: Where, before: list[RubricCheck]) -> RubricCheck:
    kinds = sorted(registry().checks)
    example = "e.g. '- reach: {from: pc1, to: pc2}' with 'points: 2' and 'feedback: ...' under it"
    if not isinstance(item, YMap):
        raise TopologyError(where, f"a rubric check is a mapping (a check, points: and feedback:), not {shape(item)}",
                            example)
    others = [k for k in item if k not in ITEM_KEYS]
    for key in others:
        if key not in registry().checks:
            raise TopologyError(item.at(key), f"unknown check or key '{printable(key, 60)}'",
                                unknown_key_fix(key, set(kinds) | ITEM_KEYS))
    if len(others) != 1:
        raise TopologyError(where, f"a rubric check has one check kind, not {len(others)}"
                            + (f" ({', '.join(map(str, others))})" if others else ""),
                            f"write one of {', '.join(kinds)} per '- ' item")
    kind = others[0]
    one = YMap({kind: item[kind]})
    one.where, one.key_where = where, {kind: item.at(kind)}
    check = ctx.check(topo, one, item.at(kind))
    points = item.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise TopologyError(item.at("points"), f"'points' must be a whole number from 1 to {MAX_POINTS}, "
                            f"not {shape(points)}", "e.g. 'points: 2'")
    if item.get("feedback") is None:
        raise TopologyError(where, "the check has no 'feedback' (what a student reads when it fails)",
                            "add e.g. 'feedback: VLAN 2 still reaches VLAN 1'")
    feedback = value_of(item["feedback"], item.at("feedback"), "'feedback'", "write it as one line of text").strip()
    if not feedback:
        raise TopologyError(item.at("feedback"), "'feedback' is empty", "say what the student should fix")
    name = check.describe()
    if item.get("name") is not None:
        name = value_of(item["name"], item.at("name"), "'name'", "e.g. 'name: vlan2-not-vlan1'")
        if any(c.name == name for c in before):
            raise TopologyError(item.at("name"), f"two checks are named '{printable(name, 60)}'",
                                "give each check its own name")
    return RubricCheck(check=check, points=points, feedback=feedback, name=name)


# -- submissions -----------------------------------------------------------------------------

@dataclass
class Submission:
    name: str
    folder: Path
    files: dict[Slot, Path] = field(default_factory=dict)    # the topology's file -> the student's
    unmatched: list[str] = field(default_factory=list)       # reported, not used
    problems: list[Diagnostic] = field(default_factory=list)  # each refuses the submission


def submission(folder: Path, rubric: Rubric, name: str | None = None) -> Submission:
    """Match every file under `folder` to the topology's files (see the module docstring)."""
    sub = Submission(name or folder.name, folder)
    takes = rubric.takes
    seen: dict[Slot, str] = {}
    for rel in _listing(folder):
        path = folder / rel
        if path.is_symlink():
            sub.unmatched.append(f"{rel}: a symbolic link, not read (hand in the file itself)")
            continue
        found = match(rel, rubric.slots)
        if isinstance(found, list):
            sub.problems.append(error(Where(str(path), 0), f"several files of {rubric.topology.name} have "
                                      f"this name ({_names(found)})", "put it at one of those paths in the folder"))
        elif found is None:
            sub.unmatched.append(f"{rel}: none of the files of {rubric.topology.name} a student may hand in "
                                 f"({_names(takes)}); not used")
        elif found not in takes:
            sub.unmatched.append(f"{rel}: {found.rel} is not part of this assignment (it takes "
                                 f"{_names(takes)}); not used")
        elif found in seen:
            sub.problems.append(error(Where(str(path), 0), f"{folder / seen[found]} is {found.rel} too",
                                      "hand in one file for each"))
        else:
            seen[found] = rel
            if path.stat().st_size > MAX_FILE:
                sub.problems.append(error(Where(str(path), 0), f"{path.stat().st_size} bytes, more than the "
                                          f"{MAX_FILE} a config file may have", "hand in the config itself"))
            else:
                sub.files[found] = path
    for slot in rubric.files:
        if slot not in seen:
            sub.problems.append(error(Where(str(folder), 0), f"no {slot.rel} in the folder",
                                      f"the assignment asks for it: hand in your {KINDS[slot.kind]} {slot.name}"))
    return sub


def _listing(folder: Path) -> list[str]:
    """Every file and symbolic link under `folder`, relative to it, in name order (links not followed)."""
    out = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        out += [_rel(base / d, folder) for d in dirs if (base / d).is_symlink()]
        out += [_rel(base / f, folder) for f in files]
        dirs[:] = sorted(d for d in dirs if not (base / d).is_symlink())
    return sorted(out)


def find_submissions(folders: list[Path], rubric: Rubric, progress: Progress = print) -> list[Submission]:
    """Each folder is a submission, or a class folder of them (see the module docstring)."""
    found: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise LabkitError(f"--configs {folder}: not a folder (fix: give a student's folder of configs, "
                              "or a class folder holding one folder per student)")
        own = sorted(p for p in folder.iterdir() if not p.is_dir() or p.is_symlink())
        subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        if subdirs and not any(isinstance(match(p.name, rubric.takes), Slot) for p in own):
            found += subdirs
            for p in own:
                progress(f"{folder}: {p.name} is not a submission (in a class folder, each folder is one); not used")
        else:
            found.append(folder)
    names: dict[str, int] = {}
    subs = []
    for folder in found:
        name = folder.name
        if name in names:   # two students' folders of one name, from two class folders
            names[name] += 1
            name = f"{name}-{names[name]}"
        names.setdefault(name, 1)
        subs.append(submission(folder, rubric, name))
    return subs


# -- the scratch copy of the topology, and validation ---------------------------------------

def _read_by(topo: Topology, every: list[Slot]) -> set[Path]:
    """Every file the topology names (its own, node configs, service files, zone files)."""
    out = {topo.path.resolve()} | {s.path for s in every}

    def walk(value: Any) -> None:
        if isinstance(value, Path):
            out.add(value.resolve())
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for node in topo.nodes.values():
        walk(list(node.configs.values()))
        for spec in node.services:
            walk(spec.params)
    return out


class Workspace:
    """A scratch copy of the folders holding the topology's files (their files, not their
    subfolders), with the student's files in place of the ones they replace. Services read
    files beside the ones named (named.conf's zone files, main.cf's maps), so whole folders go."""

    def __init__(self, topo: Topology, every: list[Slot], replace: dict[Slot, Path]):
        dirs = sorted({p.parent for p in _read_by(topo, every)})
        self.src = Path(os.path.commonpath([str(d) for d in dirs]))
        self.root = Path(tempfile.mkdtemp(prefix="labkit-rubric-")).resolve()
        self.shown: dict[str, str] = {}   # a copied file -> the name messages give it
        try:
            os.chmod(self.root, 0o755)    # daemons that drop root read their files from here
            total = 0
            for d in dirs:
                into = self.root / d.relative_to(self.src)
                into.mkdir(parents=True, exist_ok=True)
                for f in sorted(d.iterdir()):
                    if f.is_file():
                        total += f.stat().st_size
                        if total > MAX_COPY:
                            raise LabkitError(f"{topo.path}: the folders of its files hold more than {MAX_COPY} "
                                              "bytes (fix: keep a topology's configs in small folders beside it)")
                        shutil.copyfile(f, into / f.name)
            for slot, student in replace.items():
                shutil.copyfile(student, self.here(slot.path))
                self.shown[str(self.here(slot.path))] = str(student)
        except BaseException:
            self.close()
            raise
        self.topology = self.here(topo.path)

    def here(self, path: Path) -> Path:
        return self.root / Path(path).relative_to(self.src)

    def show(self, text: str) -> str:
        """`text` with scratch paths put back: a student's file by its own path, others by the topology's."""
        for copy in sorted(self.shown, key=len, reverse=True):
            text = text.replace(copy, self.shown[copy])
        return text.replace(str(self.root), str(self.src))

    def shown_as(self, d: Diagnostic) -> Diagnostic:
        return dataclasses.replace(d, file=self.show(d.file), message=self.show(d.message), fix=self.show(d.fix))

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def check_file(slot: Slot, path: Path) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(errors that would stop the lab, findings that would not) for a student's file at `path`
    standing in for `slot`, checked as its daemon would check it."""
    try:
        textfile.read(path, what=f"the {KINDS[slot.kind]}")
    except DiagnosticError as exc:
        return exc.errors, []
    if slot.kind == "ios":
        ios = registry().service("ios").load()
        found: list[Diagnostic] = []
        for spec in slot.specs:
            found += [d for d in ios.lint(dataclasses.replace(spec, params={**spec.params, "config": path}))
                      if d not in found]
        return [d for d in found if d.is_error], [d for d in found if not d.is_error]
    if slot.kind == "zone":
        from labkit.dns.lint import lint_zone, run_named_checkzone
        from labkit.dns.zone import SourceError, load_zone

        errors: list[Diagnostic] = []
        notes: list[Diagnostic] = []
        for origin in slot.origins:
            try:
                load_zone(path, origin)
            except SourceError as exc:
                errors += exc.errors
                continue
            bind = [d for d in run_named_checkzone(path, origin) if d.is_error]
            errors += bind
            if not bind:
                notes += [d for d in lint_zone(path, origin) if d not in notes]
        return errors, notes
    from labkit.mail.errors import MailConfigError
    from labkit.mail.mainconf import load_main_cf

    try:
        load_main_cf(path)
    except MailConfigError as exc:
        return exc.errors, []
    return [], []


def validate(ws: Workspace, sub: Submission) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(errors, notes) for a submission in its workspace, named by the student's files: each
    student file as its daemon checks it, then the topology loaded with them."""
    errors: list[Diagnostic] = []
    notes: list[Diagnostic] = []
    for slot in sub.files:
        bad, fine = check_file(slot, ws.here(slot.path))
        errors += bad
        notes += fine
    if not errors:
        try:
            loader.load(ws.topology)
        except DiagnosticError as exc:
            errors += exc.errors
    return [ws.shown_as(d) for d in errors], [ws.shown_as(d) for d in notes]


# -- grading -----------------------------------------------------------------------------------

def _uninterrupted(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) with Ctrl-C held back until it returns (so a second Ctrl-C cannot cut a teardown
    short); a Ctrl-C that came meanwhile is raised afterwards. Only the main thread gets signals."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    came: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        return fn(*args)
    finally:
        signal.signal(signal.SIGINT, old)
        if came:
            raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends grading as Ctrl-C does: through the teardown."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _run_lab(ws: Workspace, rubric: Rubric, report: dict, progress: Progress) -> CheckReport | None:
    """Bring the copied topology up under a prefix of its own, run the rubric's checks, tear down."""
    prefix = grade.new_prefix()
    instance = (prefix + rubric.topology.name)[:12].rstrip("-")
    progress(f"bring-up of {rubric.topology.name} as lab {instance}")
    try:
        lab = Lab.up(ws.topology, name=instance)
        report["instances"] = [lab.instance]
        result = run_checks(lab, [c.check for c in rubric.checks], progress)
        report["lab_checks"] = {lab.instance: {"ok": result.ok, "table": result.table()}}
        return result
    except Exception as exc:   # a daemon refused its config, a DHCP lease never came, ...
        said = str(exc) if isinstance(exc, LabkitError) else f"{type(exc).__name__}: {exc}"
        report["reason"] = f"the lab did not come up: {ws.show(said)}"
        return None
    finally:
        report["instances"] = sorted(set(report["instances"]) | set(grade.labs_of(prefix)))
        report["leftovers"] = _uninterrupted(grade.teardown, prefix)


def grade_submission(sub: Submission, rubric: Rubric, progress: Progress = print) -> dict:
    """Validate, run and score one submission; the report (see the module docstring)."""
    started = time.monotonic()
    report: dict = {"submission": str(sub.folder), "name": sub.name, "rubric": str(rubric.path),
                    "title": rubric.title, "lab": str(rubric.topology.path), "score": 0,
                    "max_score": rubric.max_score, "checks": [],
                    "files": {str(p): s.rel for s, p in sub.files.items()}, "unmatched": list(sub.unmatched),
                    "errors": [], "lint": [], "reason": None, "lab_checks": {},
                    "instances": [], "leftovers": []}
    for line in sub.unmatched:
        progress(f"not used: {line}")
    result = None
    errors, notes = list(sub.problems), []
    if not errors:
        ws = Workspace(rubric.topology, rubric.slots, sub.files)
        try:
            progress("files: " + (", ".join(f"{p.name} -> {s.rel}" for s, p in sub.files.items()) or
                                  "none (the topology's own)"))
            errors, notes = validate(ws, sub)
            if not errors:
                result = _run_lab(ws, rubric, report, progress)
        finally:
            _uninterrupted(ws.close)
            if ws.root.exists():
                report["leftovers"].append(f"scratch folder {ws.root}")
    report["errors"], report["lint"] = [str(d) for d in errors], [str(d) for d in notes]
    not_run = "not run: the lab did not come up (see the reason)"
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        report["reason"] = f"refused, nothing was started: {errors[0]}{more}"
        not_run = f"not run, nothing was started: {errors[0].where} has an error (see the reason)"
    for i, rc in enumerate(rubric.checks):
        ran = result.results[i] if result is not None else None
        ok = bool(ran and ran.ok)
        report["checks"].append({
            "id": rc.name, "check": rc.check.describe(), "line": rc.check.where.line,
            "points": rc.points if ok else 0, "max_points": rc.points, "passed": ok,
            "feedback": "" if ok else rc.feedback if ran else not_run,
            "detail": ran.detail if ran else ""})
    report["score"] = sum(c["points"] for c in report["checks"])
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def summary(report: dict) -> str:
    return grade.summary_line(report, ", ".join(f"{c['id']}: {'pass' if c['passed'] else 'FAIL'}"
                                                for c in report["checks"]))


def to_html(report: dict) -> str:
    about = (f"Configs {report['submission']}; rubric {report['rubric']}"
             + (f" ({report['title']})" if report["title"] else "") + f" on {report['lab']}")
    rows = [(c["id"], f"{c['points']}/{c['max_points']}", "pass" if c["passed"] else "FAIL", c["feedback"], c["detail"])
            for c in report["checks"]]
    notes = [("Errors (nothing was started)", report["errors"]),
             ("The submission's files", [f"{student} replaced {rel}" for student, rel in report["files"].items()]),
             ("Not used", report["unmatched"]),
             ("Lint (does not change the score)", report["lint"])]
    return grade.html_page(report, about, ("check", "points", "result", "feedback", "detail"), rows, notes)


def grade_configs(folders: list[Path], rubric: str | Path, lab: str | Path | None = None,
                  out: Path = Path("grades"), progress: Progress = print) -> list[dict]:
    """Grade each submission folder in turn; write OUT/NAME.json, OUT/NAME.html, OUT/summary.csv and
    OUT/index.html (grade.write_reports, grade.write_index); return the reports.

    The rubric is validated (and the folders found) before any submission is graded."""
    rb = load_rubric(rubric, lab)
    subs = find_submissions([Path(f) for f in folders], rb, progress)
    if not subs:
        raise LabkitError(f"no submission in {', '.join(map(str, folders))} (fix: give students' folders)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    with _sigterm_as_interrupt():
        for i, (sub, name) in enumerate(zip(subs, grade.report_names([s.folder for s in subs])), 1):
            tag = f"[{i}/{len(subs)}] {name}"
            report = grade_submission(sub, rb, progress=lambda m: progress(f"{tag}: {m}"))
            report["name"] = name
            grade.write_reports(out, report, to_html(report))
            progress(f"{tag}: {summary(report)}")
            reports.append(report)
            grade.write_index(out, reports)
    return reports
