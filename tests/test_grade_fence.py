"""A graded submission cannot leave its labs (labkit.sandbox, state.scoped).

Unit: the scan of a submission's code, the name scope of a prefixed process, the fence's
own refusal to run in the root namespace. Lab: a one-exercise course on tests/topologies/
tiny.yaml is graded while another lab ("fvictim") is up; submissions that enter the
victim's namespace, send from the notebook's own process, or clean every lab are scored as
the fence says, and the victim is untouched.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from hypothesis import given, settings, strategies as st

from labkit import course, sandbox
from labkit.lab import state as lab_state
from labkit.lab.runtime import Lab

from labtest import ROOT, labkit_cli, leftovers


def _cells(*sources: str):
    return [nbformat.v4.new_code_cell(s) for s in sources]


@pytest.mark.parametrize("line", [
    "!ip netns exec lk-tour-pc1 ping -c1 10.0.0.1",
    'subprocess.run(["ip", "netns", "exec", "lk-tour-pc1", "true"])',
    "os.system('ip -4 -n lk-tour-pc1 link set eth0 down')",
    "subprocess.run(['nsenter', '-t', '1234', '-n', 'true'])",
    "fd = os.open('/run/netns/lk-tour-pc1', os.O_RDONLY)",
    "open('/proc/1234/ns/net')",
    "os.environ['LABKIT_INSTANCE_PREFIX'] = ''",
    "!unshare -n true",
    "libc.setns(fd, 0)",
])
def test_the_scan_names_cell_and_line_of_every_way_out(line):
    found = sandbox.scan(_cells("import os", f"x = 1\n{line}"))
    assert len(found) == 1 and found[0].startswith("cell 1 line 2: '")


def test_the_lab_api_and_prose_pass_the_scan():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("`ip netns exec` is what the lab API does for you"),
                *_cells('lab.node("pc1").cmd("ip -4 addr show")', "pip install nothing", "ship = 1\nskip_netns = 2")]
    assert sandbox.scan(nb.cells) == []
    for path in course.notebooks(ROOT / "notebooks"):   # the teacher's notebooks themselves
        assert sandbox.scan(nbformat.read(path, as_version=4).cells) == [], path.name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_the_scan_never_fails_on_any_text(text):
    for reason in sandbox.scan(_cells(text)):
        assert reason.startswith("cell 0 line ")


def test_a_prefixed_process_sees_only_its_own_labs(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_state, "RUN_ROOT", tmp_path)
    for inst in ("tour", "gab12-tour", "gab12-trunks", "gzz99-tour"):
        (tmp_path / inst).mkdir()
        (tmp_path / inst / "state.json").write_text(json.dumps({"instance": inst, "topology": "seed"}))
    monkeypatch.delenv(lab_state.INSTANCE_PREFIX_ENV, raising=False)
    assert lab_state.LabState.instances() == ["gab12-tour", "gab12-trunks", "gzz99-tour", "tour"]
    assert lab_state.scoped("tour") == "tour"
    monkeypatch.setenv(lab_state.INSTANCE_PREFIX_ENV, "gab12-")
    assert lab_state.LabState.instances() == ["gab12-tour", "gab12-trunks"]
    assert lab_state.scoped("tour") == lab_state.scoped("gab12-tour") == "gab12-tour"
    assert lab_state.LabState.load("tour").instance == "gab12-tour"
    assert lab_state.LabState.load("gzz99-tour") is None      # another submission's lab is not there
    # attached by its short name, the lab's nodes are the prefixed lab's namespaces
    lab = Lab.attach("tour")
    assert (lab.instance, lab.node("pc1").netns) == ("gab12-tour", "lk-gab12-tour-pc1")


def test_the_fence_refuses_to_run_in_the_root_namespace():
    p = subprocess.run([sys.executable, "-m", "labkit.sandbox", "true"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode != 0 and "refused: this is not a fresh network namespace" in p.stderr


def test_inside_the_fence_a_send_goes_nowhere_and_is_counted():
    """A process under the fence pings 'the internet': the ping fails, the dead end counts it."""
    script = ("import subprocess, os; from labkit import sandbox; "
              "before = sandbox.escaped(os.getpid()); "
              "r = subprocess.run(['ping', '-c', '2', '-W', '1', '192.0.2.1'], capture_output=True); "
              "print(r.returncode, before, sandbox.escaped(os.getpid()))")
    p = subprocess.run(["unshare", "--net", "--", sys.executable, "-m", "labkit.sandbox",
                        sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    rc, before, after = map(int, p.stdout.split())
    assert rc != 0 and before == 0 and after > 0, p.stdout + p.stderr


# -- a course of one exercise, graded next to a victim lab --------------------------------
TINY = ROOT / "tests" / "topologies" / "tiny.yaml"
SOLUTION = "### BEGIN SOLUTION\nanswer = lab.node('h1').cmd('echo 42').strip()\n### END SOLUTION"
ANSWERS = {
    "correct": None,
    "root-send": "from scapy.all import IP, ICMP, send\nsend(IP(dst='10.0.1.10')/ICMP(), count=3, verbose=False)\nanswer = '42'",
    "netns-escape": "import subprocess\nsubprocess.run(['ip', 'netns', 'exec', 'lk-fvictim-h1', 'ip', 'link', 'set', 'eth0', 'down'])\nanswer = '42'",
    "clean-all": ("from labkit.lab.runtime import clean\nimport labkit\nanswer = '42'\nclean(force=True)\n"
                  "labkit.Lab.attach('fvictim').down()"),
}


def _source() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "labkit", "display_name": "Python (labkit)", "language": "python"}
    check = nbformat.v4.new_code_cell(
        "assert answer == '42', f'answer is {answer!r} (want 42)'\n### BEGIN HIDDEN TESTS\n"
        "assert lab.check().ok, 'the lab checks fail'\n### END HIDDEN TESTS")
    check.metadata["nbgrader"] = {"grade_id": "fence-check", "schema_version": 3, "task": False,
                                  "solution": False, "grade": True, "locked": True, "points": 2}
    solution = nbformat.v4.new_code_cell(SOLUTION)
    solution.metadata["nbgrader"] = {"grade_id": "fence-fix", "schema_version": 3, "task": False,
                                     "solution": True, "grade": False, "locked": False}
    nb.cells = [nbformat.v4.new_code_cell(f"import labkit\nlab = labkit.Lab.up({str(TINY)!r}, name='fence', replace=True)"),
                solution, check, nbformat.v4.new_code_cell("lab.down()")]
    return nb


@pytest.fixture(scope="module")
def fenced(tmp_path_factory):
    d = tmp_path_factory.mktemp("fence")
    (d / "src").mkdir()
    nbformat.write(_source(), d / "src" / "90-fence.ipynb")
    for kind, answer in ANSWERS.items():
        nb = course.student_edition(d / "src" / "90-fence.ipynb")
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        cell.source = answer or SOLUTION
        nbformat.write(nb, d / f"{kind}.ipynb")
    victim = Lab.up(str(TINY), name="fvictim", replace=True)
    try:
        p = labkit_cli("grade", *(str(d / f"{k}.ipynb") for k in ANSWERS), "--source", str(d / "src"),
                       "-o", str(d / "out"), "--cell-timeout", "90", "--timeout", "300", timeout=900)
        reports = {k: json.loads((d / "out" / f"{k}.json").read_text()) for k in ANSWERS}
        link = victim.node("h1").cmd("ip -o link show eth0")
        yield reports, d / "out", victim, link
    finally:
        victim.down()
        assert leftovers("fvictim") == []
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.lab
def test_the_fence_lets_a_correct_submission_through(fenced):
    reports, _, _, _ = fenced
    r = reports["correct"]
    assert (r["score"], r["max_score"], r["reason"], r["leftovers"]) == (2, 2, None, [])


@pytest.mark.lab
def test_a_send_from_the_notebooks_own_process_is_scored_0_and_goes_nowhere(fenced):
    reports, out, victim, _ = fenced
    r = reports["root-send"]
    assert r["score"] == 0 and r["reason"].startswith("refused: cell 1 (solution fence-fix) sent ")
    assert "packet(s), ARP lookups included, from outside its labs" in r["reason"] and r["leftovers"] == []
    assert "refused" in (out / "root-send.html").read_text()


@pytest.mark.lab
def test_entering_another_labs_namespace_is_refused_before_anything_runs(fenced):
    reports, _, victim, link = fenced
    r = reports["netns-escape"]
    assert r["score"] == 0 and r["instances"] == []          # refused before its lab was made
    assert r["reason"] == ("refused: it reaches outside its labs: cell 1 line 2: "
                           "'subprocess.run(['ip', 'netns', 'exec', 'lk-fvictim-h1', '...': "
                           "`ip netns` reaches namespaces outside the lab API")
    assert "state UP" in link or "LOWER_UP" in link            # the victim's link is still up


@pytest.mark.lab
def test_a_prefixed_kernel_cannot_clean_or_attach_to_another_lab(fenced):
    reports, out, victim, _ = fenced
    r = reports["clean-all"]
    graded = nbformat.read(out / "graded" / "clean-all.graded.ipynb", as_version=4)
    err = next(o for o in graded.cells[1].outputs if o.output_type == "error")
    assert err.ename == "LabStateError" and err.evalue.startswith("no lab 'fvictim' is up among this process's labs (LABKIT_INSTANCE_PREFIX=g")
    assert r["leftovers"] == [] and r["score"] < 2        # it removed its own lab, so the hidden test fails
    assert victim.check().ok                               # and the victim lab is whole


def test_a_comment_is_not_a_way_out_but_the_same_words_in_code_are():
    cell = ("# I looked around with `ip netns list` first, then fixed it:\n"
            "x = 'a # not a comment'  # nsenter would not help\n"
            "!ip link show  # and ip netns is not needed")
    assert sandbox.scan(_cells(cell)) == []
    assert sandbox.scan(_cells("s = 'ip netns exec lk-x-h1 true'  # a string is kept")) != []
    assert sandbox.scan(_cells("'''unterminated\nip netns exec x")) != []     # unreadable: kept whole
