"""`labkit grade --configs`: rubrics, student folders and config grading (labkit.rubric).

Unit tests: the shipped rubrics load; every mistake in a rubric is one line naming the rubric's
file and line (a table of mistakes, then seeded text mutations and hypothesis-built documents:
a Rubric or one clear error, never another exception, never a hang); a student's files are
matched to the topology's by path or name, and what matches nothing is reported; a broken file
comes back as the student's FILE:LINE with every check at 0 and nothing started.

Lab tests grade the prepared folders of both shipped rubrics with the real CLI and check every
check's points and feedback, and that nothing is left; Ctrl-C and SIGTERM in the middle of a
grading leave nothing either.
"""
from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from labkit import paths, rubric
from labkit.diag import DiagnosticError
from labkit.lab.errors import TopologyError
from labkit.lab.state import LabState
from labkit.procs import wait_until

from labtest import ROOT, labkit_cli, leftovers

SEED = paths.topology("seed.yaml")
CAMPUS = paths.data("rubrics", "campus-acl.yaml")
DNS = paths.data("rubrics", "dns-mx.yaml")
SUBMISSIONS = paths.data("submissions")
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
HANG_LIMIT = 10   # seconds one rubric may take to load (a normal one: ~20 ms)

GOOD = """\
lab: seed
checks:
  - reach: {from: pc1, to: pc2}
    points: 2
    feedback: VLAN 1 is broken
"""


def write(tmp_path: Path, text: str, name: str = "rubric.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# -- the shipped rubrics ------------------------------------------------------------------------

def test_the_shipped_rubrics_load_with_their_points_files_and_feedback():
    acl = rubric.load_rubric("campus-acl")
    assert acl.path == CAMPUS and acl.topology.name == "seed"
    assert [s.rel for s in acl.files] == ["sw3550.ios"] and acl.max_score == 10
    assert [(c.name, c.points, c.check.describe()) for c in acl.checks] == [
        ("vlan2-not-vlan1", 3, "no_reach phone1 -> pc1"),
        ("vlan2-no-tcp-to-vlan1", 1, "port_closed phone1 -> pc2 80/tcp"),
        ("vlan2-internet", 2, "reach phone1 -> 198.41.0.4"),
        ("vlan2-router", 1, "reach phone1 -> 192.168.254.1"),
        ("vlan2-dns", 1, "dns phone1 -> www.exampledomain.ca A via 192.168.254.1"),
        ("vlan1-internet", 1, "reach pc1 -> 198.41.0.4"),
        ("vlan1-opens-tcp-to-vlan2", 1, "port_open pc1 -> acd 242/tcp")]
    assert acl.checks[2].feedback.startswith("VLAN 2 lost the internet: every ACL ends in an implicit 'deny any'")
    assert acl.checks[0].check.where.line == 14
    dns = rubric.load_rubric(DNS)
    assert [s.rel for s in dns.files] == ["ec2/exampledomain.ca"] and dns.max_score == 10
    assert [c.name for c in dns.checks] == ["mx", "mail-address", "apex-ns", "ns-address", "www", "nxdomain"]


def test_the_topology_files_a_student_may_replace():
    topo = rubric.load_rubric("campus-acl").topology
    found = {s.rel: (s.kind, s.origins) for s in rubric.slots(topo)}
    assert found == {"ec2/exampledomain.ca": ("zone", ["exampledomain.ca"]), "ec2/main.cf": ("main.cf", []),
                     "internet/root.zone": ("zone", ["."]), "internet/com.zone": ("zone", ["com"]),
                     "internet/ca.zone": ("zone", ["ca"]), "internet/gmail.com.zone": ("zone", ["gmail.com"]),
                     "internet/yahoo.com.zone": ("zone", ["yahoo.com"]), "router.ios": ("ios", []),
                     "sw3550.ios": ("ios", [])}


# -- a rubric's mistakes, each one line with its file and line ------------------------------------

MISTAKES = [
    ("- a list\n", 1, "a rubric must be a mapping with 'checks', not a list"),
    ("lab: seed\nchekcs: []\n", 2, "unknown key 'chekcs' in the rubric (fix: did you mean 'checks'?)"),
    ("checks:\n  - reach: {from: pc1, to: pc2}\n", 1, "the rubric names no topology"),
    ("lab: nosuch\nchecks: []\n", 1, "no topology file"),
    ("lab: seed\nchecks: []\n", 2, "the rubric has no checks"),
    ("lab: seed\nchecks:\n  - reach pc1 pc2\n", 3, "a rubric check is a mapping"),
    ("lab: seed\nchecks:\n  - rech: {from: pc1, to: pc2}\n    points: 1\n    feedback: x\n", 3,
     "unknown check or key 'rech' (fix: did you mean 'reach'?)"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    feedbak: x\n    points: 1\n", 4,
     "unknown check or key 'feedbak' (fix: did you mean 'feedback'?)"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    no_reach: {from: pc1, to: pc2}\n"
     "    points: 1\n    feedback: x\n", 3, "a rubric check has one check kind, not 2 (reach, no_reach)"),
    ("lab: seed\nchecks:\n  - points: 1\n    feedback: x\n", 3, "a rubric check has one check kind, not 0"),
    ("lab: seed\nchecks:\n  - reach: {from: pcx, to: pc2}\n    points: 1\n    feedback: x\n", 3,
     "unknown node 'pcx'"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    feedback: x\n", 3,
     "'points' must be a whole number from 1 to 1000, not nothing (null)"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    points: 0\n    feedback: x\n", 4,
     "'points' must be a whole number from 1 to 1000, not the number 0"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    points: yes\n    feedback: x\n", 4,
     "not the boolean true"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    points: 2.5\n    feedback: x\n", 4,
     "not the number 2.5"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    points: 1\n", 3, "the check has no 'feedback'"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    points: 1\n    feedback: '  '\n", 5,
     "'feedback' is empty"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    points: 1\n    feedback: [a, b]\n", 5,
     "'feedback' must be one value, not a list"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2}\n    points: 1\n    feedback: x\n    name: a\n"
     "  - reach: {from: pc2, to: pc1}\n    points: 1\n    feedback: y\n    name: a\n", 10,
     "two checks are named 'a'"),
    ("lab: seed\nfiles: [sw2950.ios]\nchecks: []\n", 2,
     "'sw2950.ios' is none of the files of seed a student may hand in (IOS configs, zone files, main.cf) "
     "(fix: use one of: ec2/exampledomain.ca, ec2/main.cf"),
    ("lab: seed\nfiles: [sw3550.ios, sw3550.ios]\nchecks: []\n", 2, "'sw3550.ios' is listed twice"),
    ("lab: seed\nfiles: sw3550.ios\nchecks: []\n", 2, "'files' must be a list, not 'sw3550.ios'"),
    ("lab: seed\nchecks:\n  - reach: {from: pc1, to: pc2\n", 4, "YAML syntax"),
    ("lab: seed\ntitle: {a: b}\nchecks: []\n", 2, "'title' must be one value, not a mapping"),
]


@pytest.mark.parametrize("text,line,words", MISTAKES, ids=[m[2][:40] for m in MISTAKES])
def test_each_mistake_in_a_rubric_is_one_line_with_its_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(TopologyError) as exc:
        rubric.load_rubric(path)
    said = str(exc.value)
    assert "\n" not in said and said.startswith(f"{path}:{line}: "), said
    assert words in said


def test_lab_given_on_the_command_line_wins_over_the_rubrics(tmp_path):
    path = write(tmp_path, GOOD.replace("lab: seed", "lab: nosuch"))
    assert rubric.load_rubric(path, lab="seed").topology.name == "seed"
    with pytest.raises(TopologyError, match=rf"^{re.escape(str(path))}:1: no topology file"):
        rubric.load_rubric(path)


def test_a_rubric_by_name_or_path_and_a_missing_one(tmp_path):
    assert rubric.resolve("dns-mx") == DNS
    with pytest.raises(TopologyError, match=r"no rubric file .*nosuch\.yaml \(fix: pick one of: campus-acl, dns-mx"):
        rubric.load_rubric("nosuch")


# -- generated broken rubrics: a Rubric or one clear error, never a crash or a hang ---------------

def _alarm(signum, frame):
    raise AssertionError(f"a rubric took over {HANG_LIMIT} s to load")


def _load_or_clear_error(path: Path) -> None:
    """The property: load_rubric returns a Rubric, or raises one DiagnosticError whose text is one
    line starting with the rubric's path and carrying a fix."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_LIMIT)
    try:
        got = rubric.load_rubric(path, lab=SEED)
        assert isinstance(got, rubric.Rubric) and got.max_score > 0
    except DiagnosticError as exc:
        said = str(exc)
        assert len(exc.diagnostics) == 1 and "\n" not in said, said
        assert said.startswith(f"{path}:") and "(fix: " in said, said
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _mutate(text: str, rnd: random.Random) -> str:
    lines = text.split("\n")
    how = rnd.randrange(8)
    i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
    if how == 0:
        del lines[i]
    elif how == 1:
        lines.insert(i, lines[j])
    elif how == 2:
        lines[i], lines[j] = lines[j], lines[i]
    elif how == 3:
        lines[i] = " " * rnd.randrange(5) + lines[i].lstrip() if rnd.random() < 0.5 else lines[i][rnd.randrange(3):]
    elif how == 4:
        pos = rnd.randrange(len(lines[i]) + 1)
        junk = "".join(rnd.choice(":-[]{}#'\"&*!|>%@,? \t0123456789abcxyz\x00\x1b\u00e9\u2028")
                       for _ in range(rnd.randrange(1, 6)))
        lines[i] = lines[i][:pos] + junk + lines[i][pos:]
    elif how == 5:
        lines[i] = re.sub(r"\b\d+\b", lambda m: rnd.choice(["0", "-1", "99999", "true", "null", "x", "1e9"]),
                          lines[i])
    elif how == 6:
        words = re.findall(r"[a-z_]+", text)
        lines[i] = re.sub(r"[a-z_]+", lambda m: rnd.choice(words), lines[i], count=1)
    else:
        return text[:rnd.randrange(len(text))]
    return "\n".join(lines)


@pytest.mark.parametrize("source", [CAMPUS, DNS], ids=["campus-acl", "dns-mx"])
def test_seeded_text_mutations_of_the_rubrics_load_or_fail_clearly(tmp_path, source):
    rnd = random.Random(f"rubric-{source.name}")
    text = source.read_text()
    outcomes = set()
    for n in range(200):
        mutated = text
        for _ in range(rnd.randrange(1, 4)):
            mutated = _mutate(mutated, rnd)
        path = write(tmp_path, mutated, f"m{n}.yaml")
        _load_or_clear_error(path)
        try:
            rubric.load_rubric(path, lab=SEED)
            outcomes.add("loaded")
        except DiagnosticError:
            outcomes.add("error")
    assert outcomes == {"loaded", "error"}   # the mutations reach both answers


DOC = yaml.safe_load(CAMPUS.read_text())
VALUES = st.recursive(st.none() | st.booleans() | st.integers(-5, 2000) | st.floats(allow_nan=False)
                      | st.text(max_size=12) | st.sampled_from(["pc1", "phone1", "acd", "1.2.3.4", "80/tcp",
                                                                "reach", "points", "feedback", "sw3550.ios"]),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                      max_leaves=8)


@FUZZ
@given(data=st.data())
def test_documents_with_parts_replaced_load_or_fail_clearly(tmp_path, data):
    """The campus rubric with one part (a key's value, a check's field) replaced by any YAML value,
    or deleted: a Rubric or one clear error."""
    doc = json.loads(json.dumps(DOC))
    target = data.draw(st.sampled_from(["top", "check", "params"]))
    if target == "top":
        holder = doc
    else:
        holder = data.draw(st.sampled_from(doc["checks"]))
        if target == "params":
            holder = next(v for k, v in holder.items() if k not in rubric.ITEM_KEYS)
    key = data.draw(st.sampled_from(sorted(holder) + ["extra"]))
    if data.draw(st.booleans()):
        holder.pop(key, None)
    else:
        holder[key] = data.draw(VALUES)
    path = write(tmp_path, yaml.safe_dump(doc, allow_unicode=True), "doc.yaml")
    _load_or_clear_error(path)


# -- a student's folder ---------------------------------------------------------------------------

def test_files_match_by_path_then_by_name_and_the_rest_is_reported(tmp_path):
    rb = rubric.load_rubric(write(tmp_path, GOOD))   # no files: any of the topology's may come
    folder = tmp_path / "alice"
    (folder / "ec2").mkdir(parents=True)
    (folder / "sw3550.ios").write_text("hostname sw3550\n")
    (folder / "ec2" / "main.cf").write_text("mail_owner = postfix\n")
    (folder / "exampledomain.ca").write_text("; a zone\n")
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "router.ios.bak").write_text("x\n")
    (folder / "link.ios").symlink_to("/etc/hostname")
    sub = rubric.submission(folder, rb)
    assert {s.rel: p for s, p in sub.files.items()} == {
        "sw3550.ios": folder / "sw3550.ios", "ec2/main.cf": folder / "ec2" / "main.cf",
        "ec2/exampledomain.ca": folder / "exampledomain.ca"}
    assert sub.problems == []
    assert sub.unmatched == [
        "link.ios: a symbolic link, not read (hand in the file itself)",
        "notes.txt: none of the files of seed a student may hand in (ec2/exampledomain.ca, ec2/main.cf, "
        "internet/root.zone, internet/com.zone, internet/ca.zone, internet/gmail.com.zone, "
        "internet/yahoo.com.zone, router.ios, sw3550.ios); not used",
        "router.ios.bak: none of the files of seed a student may hand in (ec2/exampledomain.ca, ec2/main.cf, "
        "internet/root.zone, internet/com.zone, internet/ca.zone, internet/gmail.com.zone, "
        "internet/yahoo.com.zone, router.ios, sw3550.ios); not used"]


def test_a_file_the_assignment_does_not_take_is_reported_and_a_missing_one_refuses(tmp_path):
    rb = rubric.load_rubric("campus-acl")
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / "router.ios").write_text("hostname router\n")
    sub = rubric.submission(folder, rb)
    assert sub.files == {}
    assert sub.unmatched == ["router.ios: router.ios is not part of this assignment (it takes sw3550.ios); not used"]
    assert [str(d) for d in sub.problems] == [
        f"{folder}: no sw3550.ios in the folder (fix: the assignment asks for it: hand in your IOS config sw3550.ios)"]


def test_two_files_for_one_and_a_file_too_large_refuse(tmp_path):
    rb = rubric.load_rubric("campus-acl")
    folder = tmp_path / "carol"
    (folder / "old").mkdir(parents=True)
    (folder / "sw3550.ios").write_text("hostname a\n")
    (folder / "old" / "sw3550.ios").write_text("hostname b\n")
    sub = rubric.submission(folder, rb)
    assert [str(d) for d in sub.problems] == [
        f"{folder / 'sw3550.ios'}: {folder / 'old' / 'sw3550.ios'} is sw3550.ios too (fix: hand in one file for each)"]
    (folder / "old" / "sw3550.ios").unlink()
    (folder / "sw3550.ios").write_bytes(b"!" * (rubric.MAX_FILE + 1))
    sub = rubric.submission(folder, rb)
    assert sub.files == {} and "more than the 1048576 a config file may have" in str(sub.problems[0])
    assert len(sub.problems) == 1   # too large, not also missing


def test_a_name_two_topology_files_share_must_be_handed_in_at_its_path(tmp_path):
    for d, addr in (("a", "10.0.0.1"), ("b", "10.0.0.2")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "r.ios").write_text(f"hostname r\ninterface FastEthernet0/0\n ip address {addr} 255.255.255.0\nend\n")
    write(tmp_path, "name: twin\nnodes:\n  r1: {role: router, ios: a/r.ios}\n  r2: {role: router, ios: b/r.ios}\n"
          "links:\n  - r1:fa0-0 -- r2:fa0-0\n", "twin.yaml")
    checks = "checks:\n  - reach: {from: r1, to: r2}\n    points: 1\n    feedback: x\n"
    with pytest.raises(TopologyError, match=r":2: several files of twin are named 'r.ios' \(fix: name it by its path: a/r.ios, b/r.ios\)"):
        rubric.load_rubric(write(tmp_path, "lab: twin.yaml\nfiles: [r.ios]\n" + checks), lab=tmp_path / "twin.yaml")
    rb = rubric.load_rubric(write(tmp_path, "files: [b/r.ios]\n" + checks), lab=tmp_path / "twin.yaml")
    folder = tmp_path / "dave"
    (folder / "b").mkdir(parents=True)
    (folder / "r.ios").write_text("hostname r\n")
    sub = rubric.submission(folder, rb)
    assert "several files of twin have this name (a/r.ios, b/r.ios)" in str(sub.problems[0])
    (folder / "r.ios").rename(folder / "b" / "r.ios")
    sub = rubric.submission(folder, rb)
    assert [s.rel for s in sub.files] == ["b/r.ios"] and sub.problems == [] and sub.unmatched == []


def test_a_class_folder_is_its_folders_and_a_student_folder_is_itself(tmp_path):
    rb = rubric.load_rubric("campus-acl")
    said: list[str] = []
    subs = rubric.find_submissions([SUBMISSIONS / "campus-acl"], rb, said.append)
    assert [(s.name, s.folder) for s in subs] == [(n, SUBMISSIONS / "campus-acl" / n) for n in ("broken", "half", "right")]
    assert said == []
    (tmp_path / "eve" / "drafts").mkdir(parents=True)
    (tmp_path / "eve" / "sw3550.ios").write_text("hostname sw3550\n")
    (tmp_path / "README").write_text("the class\n")
    assert [s.name for s in rubric.find_submissions([tmp_path / "eve"], rb, said.append)] == ["eve"]
    subs = rubric.find_submissions([tmp_path, SUBMISSIONS / "campus-acl" / "right"], rb, said.append)
    assert [s.name for s in subs] == ["eve", "right"]
    assert said == [f"{tmp_path}: README is not a submission (in a class folder, each folder is one); not used"]
    with pytest.raises(rubric.LabkitError, match="not a folder"):
        rubric.find_submissions([tmp_path / "nosuch"], rb)


# -- validation: the student's file:line, nothing started ----------------------------------------

@pytest.fixture
def no_lab(monkeypatch):
    """Refused submissions must start nothing: any bring-up fails the test."""
    def up(*args, **kwargs):
        pytest.fail(f"a lab was started: Lab.up{args}")   # a BaseException: nothing may swallow it
    monkeypatch.setattr(rubric.Lab, "up", up)


def _graded(folder: Path, rb: rubric.Rubric) -> dict:
    report = rubric.grade_submission(rubric.submission(folder, rb), rb, progress=lambda m: None)
    assert report["instances"] == [] and report["leftovers"] == []
    return report


def test_an_ios_syntax_error_is_the_students_file_and_line_and_nothing_starts(no_lab):
    rb = rubric.load_rubric("campus-acl")
    folder = SUBMISSIONS / "campus-acl" / "broken"
    report = _graded(folder, rb)
    where = f"{folder / 'sw3550.ios'}:27"
    assert report["score"] == 0 and report["max_score"] == 10 and report["lab_checks"] == {}
    assert report["errors"] == [f"{where}: address 192.168.1.0 needs a wildcard in an extended ACL "
                                "(fix: write 'host 192.168.1.0' or '192.168.1.0 0.0.0.255')"]
    assert report["reason"] == f"refused, nothing was started: {report['errors'][0]}"
    assert [(c["points"], c["passed"], c["feedback"]) for c in report["checks"]] == [
        (0, False, f"not run, nothing was started: {where} has an error (see the reason)")] * 7
    assert report["files"] == {str(folder / "sw3550.ios"): "sw3550.ios"}


def test_a_zone_syntax_error_and_a_main_cf_one_are_the_students_file_and_line(tmp_path, no_lab):
    report = _graded(SUBMISSIONS / "dns-mx" / "broken", rubric.load_rubric("dns-mx"))
    assert report["errors"][0].startswith(f"{SUBMISSIONS / 'dns-mx' / 'broken' / 'exampledomain.ca'}:17: bad A data '1.2.3'")
    rb = rubric.load_rubric(write(tmp_path, GOOD))
    folder = tmp_path / "frank"
    folder.mkdir()
    (folder / "main.cf").write_text("mail_owner = postfix\n# fine so far\nvirtual_mailbox_base /var/vhosts\n")
    (folder / "sw3550.ios").write_bytes(b"hostname sw3550\ninterface Vlan1\n description caf\xe9\n")
    report = _graded(folder, rb)
    assert report["errors"] == [   # in the folder's name order
        f"{folder / 'main.cf'}:3: expected 'name = value', got 'virtual_mailbox_base /var/vhosts' "
        "(fix: add '=' or comment the line out with '#')",
        f"{folder / 'sw3550.ios'}:3: the file is not UTF-8 text: byte 0xe9 (byte offset 48) "
        "(fix: save the file as UTF-8 (or plain ASCII) text)"]
    assert report["reason"].endswith("(and 1 more)")


def test_the_student_files_in_the_scratch_copy_and_the_topologys_own_elsewhere(tmp_path):
    rb = rubric.load_rubric("campus-acl")
    folder = SUBMISSIONS / "campus-acl" / "half"
    sub = rubric.submission(folder, rb)
    ws = rubric.Workspace(rb.topology, rb.slots, sub.files)
    try:
        assert ws.here(SEED).is_file() and ws.topology == ws.here(SEED)
        assert ws.here(paths.topology("sw3550.ios")).read_text() == (folder / "sw3550.ios").read_text()
        assert ws.here(paths.topology("router.ios")).read_text() == paths.topology("router.ios").read_text()
        assert ws.here(paths.topology("ec2", "vmbox")).is_file()   # beside main.cf, read by Postfix
        said = ws.show(f"{ws.here(paths.topology('sw3550.ios'))}:3: x; {ws.here(paths.topology('router.ios'))}:4: y")
        assert said == f"{folder / 'sw3550.ios'}:3: x; {paths.topology('router.ios')}:4: y"
        errors, notes = rubric.validate(ws, sub)
        assert errors == [] and all(str(d).startswith(f"{folder / 'sw3550.ios'}:") for d in notes)
    finally:
        ws.close()
    assert not ws.root.exists()


def test_the_html_page_shows_the_score_feedback_and_the_error(no_lab):
    report = _graded(SUBMISSIONS / "campus-acl" / "broken", rubric.load_rubric("campus-acl"))
    page = rubric.to_html(report)
    assert "<h1>broken: 0 / 10</h1>" in page and "<th>feedback</th>" in page
    assert "broken/sw3550.ios:27: address 192.168.1.0 needs a wildcard" in page
    assert rubric.summary(report).startswith("0/10 (refused, nothing was started: ")


# -- lab tests: the prepared folders graded by the real CLI -------------------------------------

EXPECTED = {
    "campus-acl": {"right": [3, 1, 2, 1, 1, 1, 1], "half": [3, 1, 2, 0, 0, 1, 0], "broken": [0] * 7},
    "dns-mx": {"right": [3, 2, 2, 1, 1, 1], "half": [0, 2, 2, 1, 1, 0], "broken": [0] * 6},
}
BROKEN_AT = {"campus-acl": ("sw3550.ios", 27), "dns-mx": ("exampledomain.ca", 17)}


@pytest.mark.lab
@pytest.mark.parametrize("name", ["campus-acl", "dns-mx"])
def test_the_prepared_folders_get_their_points_and_feedback(tmp_path, name):
    p = labkit_cli("grade", "--configs", str(SUBMISSIONS / name), "--rubric", name, "-o", str(tmp_path), timeout=600)
    rb = rubric.load_rubric(name)
    assert [ln.split(":")[0] for ln in p.stdout.splitlines()[:3]] == ["broken", "half", "right"]
    for i, folder in enumerate(("broken", "half", "right"), 1):
        assert f"[{i}/3] {folder}: " in p.stderr
    for folder, points in EXPECTED[name].items():
        report = json.loads((tmp_path / f"{folder}.json").read_text())
        assert (tmp_path / f"{folder}.html").read_text().count("<tr>") == len(rb.checks) + 1
        assert [c["points"] for c in report["checks"]] == points, (folder, report["checks"])
        assert report["score"] == sum(points) and report["max_score"] == 10
        assert report["leftovers"] == [] and report["unmatched"] == []
        for inst in report["instances"]:
            assert leftovers(inst) == [], inst
        for c, rc in zip(report["checks"], rb.checks):
            assert c["id"] == rc.name and c["max_points"] == rc.points
            if folder == "broken":
                file, line = BROKEN_AT[name]
                assert c["feedback"] == (f"not run, nothing was started: {SUBMISSIONS / name / 'broken' / file}:{line} "
                                         "has an error (see the reason)")
            else:
                assert c["passed"] == (c["points"] > 0) and c["detail"]
                assert c["feedback"] == ("" if c["passed"] else rc.feedback)
        if folder == "broken":
            assert report["instances"] == [] and report["lab_checks"] == {}
            assert report["reason"].startswith(f"refused, nothing was started: {SUBMISSIONS / name / 'broken'}/")
        else:
            assert report["reason"] is None and len(report["instances"]) == 1
            table = report["lab_checks"][report["instances"][0]]["table"]
            assert table.endswith(f"{sum(1 for x in points if x)}/{len(points)} checks passed")
    half = {c["id"]: c for c in json.loads((tmp_path / "half.json").read_text())["checks"]}
    if name == "campus-acl":
        assert half["vlan2-router"]["detail"] == "192.168.254.1 does not answer ping"
        assert half["vlan1-opens-tcp-to-vlan2"]["detail"] == "192.168.2.10 242/tcp no answer (dropped)"
    else:
        assert half["mx"]["detail"] == "MX 10 mail.exampledomain.ca.exampledomain.ca.; missing 10 mail.exampledomain.ca."
        assert half["nxdomain"]["detail"] == "rcode NOERROR, expected NXDOMAIN"


def _interrupted(tmp_path: Path, sig: int, at: str) -> tuple[int, str, str]:
    """Grade the right campus folder, send `sig` once stderr shows `at` (after bring-up started);
    return (exit status, the lab's instance, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "labkit.cli", "grade", "--configs",
                             str(SUBMISSIONS / "campus-acl" / "right"), "--rubric", "campus-acl", "-o", str(tmp_path)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            m = re.search(r"bring-up of seed as lab (\S+)", "".join(seen))
            if m and at in line:
                instance = m.group(1)
                wait_until(lambda: LabState.load(instance) is not None, 30, what="the lab's record")
                proc.send_signal(sig)
                break
        else:
            raise AssertionError("grading ended before the signal:\n" + "".join(seen))
        rest = proc.stderr.read()
        return proc.wait(timeout=180), instance, "".join(seen) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.lab
def test_ctrl_c_during_bring_up_leaves_nothing(tmp_path):
    rc, instance, err = _interrupted(tmp_path, signal.SIGINT, "bring-up of seed")
    assert rc == 130, err
    assert LabState.load(instance) is None and leftovers(instance) == []
    assert not (tmp_path / "right.json").exists()


@pytest.mark.lab
def test_sigterm_during_the_checks_leaves_nothing(tmp_path):
    rc, instance, err = _interrupted(tmp_path, signal.SIGTERM, ": check ")
    assert rc == 130, err
    assert LabState.load(instance) is None and leftovers(instance) == []
