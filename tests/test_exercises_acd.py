"""The graded exercises of notebooks 04 (who rings next, a sales line), 05 (fix a broken lock)
and 06 (fix `*44`) in nbgrader's convention.

The helpers' logic is tested here without a lab; then, for each notebook, students'
submissions built from its student edition (nbformat) are graded by `labkit grade`, each in
labs of its own: left untouched (nbgrader's stub), each check fails; answered so as to pass only
the visible check, the hidden test takes its points with its own message; and (05, which needs
no lab) the teacher's answer gets full marks. That the teacher's edition passes every check,
hidden tests included, is nbval's run of the notebooks.
"""
from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from labkit import course
from labkit.lessons import acd
from labkit.lessons.cas import BROKEN_LOCK, check_fix

from labtest import ROOT, labkit_cli, leftovers

NOTEBOOKS = ROOT / "notebooks"
SOLUTION_05 = BROKEN_LOCK.replace("jz spin", "jnz spin")

AGENTS = {"agents": [
    {"id": "2772", "state": "idle", "idletime": "7", "memberof": ["queue2", "predict"]},
    {"id": "2771", "state": "idle", "idletime": "9", "memberof": ["queue1", "predict"]},
    {"id": "2773", "state": "idle", "idletime": "40", "memberof": ["predict"]},
    {"id": "2774", "state": "idle", "idletime": "7", "memberof": ["predict"]},
    {"id": "2775", "state": "idle", "idletime": "99", "memberof": ["queue3"]},
]}


# ---- without a lab ----------------------------------------------------------------------------
def test_members_are_listed_longest_idle_first_ties_by_id_as_the_acd_breaks_them():
    assert [a["id"] for a in acd.members(AGENTS, "predict")] == ["2773", "2771", "2772", "2774"]
    assert acd.members_lines(AGENTS, "predict")[:2] == ["1. 2773 (phone3) idle", "2. 2771 (phone1) idle"]
    assert acd.members(AGENTS, "nosuch") == []


def _sip(src: str, dst: str, first: str, call_id: str, cseq: str = "1 INVITE") -> Ether:
    (sip, sport), (dip, dport) = (e.split(":") for e in (src, dst))
    text = (f"{first}\r\nVia: SIP/2.0/UDP {src};branch=z9hG4bK{call_id}{cseq.split()[0]}\r\n"
            f"From: <sip:gw@{sip}>;tag=1\r\nTo: <sip:agent@{dip}>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n")
    return Ether() / IP(src=sip, dst=dip) / UDP(sport=int(sport), dport=int(dport)) / text.encode()


def test_offers_on_the_wire_are_the_acds_new_invites_to_phones_in_order(tmp_path):
    phone3, phone1, phone2 = "192.168.2.2:5070", "192.168.2.101:5060", "192.168.2.102:5060"
    pkts = [_sip("192.168.2.2:40000", acd.SIP, "INVITE sip:predict@acd SIP/2.0", "caller"),
            _sip(acd.SIP, phone3, "INVITE sip:phone3@x SIP/2.0", "o1"),
            _sip(acd.SIP, phone3, "INVITE sip:phone3@x SIP/2.0", "o1"),          # retransmission
            _sip(acd.SIP, phone3, "CANCEL sip:phone3@x SIP/2.0", "o1", "1 CANCEL"),
            _sip(acd.SIP, phone1, "INVITE sip:phone1@x SIP/2.0", "o2"),
            _sip(acd.SIP, "192.168.2.2:40000", "INVITE sip:gw@x SIP/2.0", "caller", "2 INVITE"),
            _sip(acd.SIP, phone1, "INVITE sip:phone1@x SIP/2.0", "o2", "2 INVITE"),   # re-INVITE
            _sip(phone2, acd.SIP, "INVITE sip:acdlogin@acd SIP/2.0", "login"),     # a phone calling in
            _sip(acd.SIP, phone2, "INVITE sip:phone2@x SIP/2.0", "o3")]
    pcap = tmp_path / "offers.pcap"
    wrpcap(str(pcap), pkts)
    assert acd.offers_on_wire(pcap) == ["2773", "2771", "2772"]


def test_the_lock_check_proves_exclusion_and_its_hidden_test_progress():
    """The visible check asks mutual exclusion for 2 and 3 threads: the colleague's lock fails
    it (two threads in with three), and a lock nobody can take passes it. The hidden test asks
    progress too, with a fourth thread: only a real fix passes."""
    broken = check_fix(BROKEN_LOCK)
    assert not broken.exclusive
    assert broken.failure().startswith("with 2 threads: SAFE BUT STUCK") and "with 3 threads: UNSAFE" in broken.failure()
    assert "Wanted: no interleaving puts two threads in the critical section" in broken.failure()
    stuck = check_fix("l: jmp l\n")
    assert stuck.exclusive and not check_fix("l: jmp l\n", threads=(2, 3, 4)).passed
    fixed = check_fix(SOLUTION_05, threads=(2, 3, 4))
    assert fixed.exclusive and fixed.passed and fixed.failure() == "no problem found"


# ---- graded submissions ---------------------------------------------------------------------------
def _submission(source, answers: dict[str, str | None]) -> nbformat.NotebookNode:
    """The student's edition of ``source`` with solution cells filled in by grade_id (None: left
    as nbgrader's stub)."""
    nb = course.student_edition(source)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and answers.get(meta["grade_id"]) is not None:
            cell.source = answers[meta["grade_id"]]
    return nb


def _grade(tmp_path_factory, book: str, submissions: dict[str, dict]) -> dict[str, dict]:
    d = tmp_path_factory.mktemp(book.split("-")[0])
    for kind, answers in submissions.items():
        nbformat.write(_submission(NOTEBOOKS / f"{book}.ipynb", answers), d / f"{kind}.ipynb")
    labkit_cli("grade", *(str(d / f"{k}.ipynb") for k in submissions), "-o", str(d / "out"),
               "--source", str(NOTEBOOKS), "--cell-timeout", "300", "--timeout", "900", timeout=3600)
    reports = {k: json.loads((d / "out" / f"{k}.json").read_text()) for k in submissions}
    shutil.rmtree(d, ignore_errors=True)
    return reports


def _by_id(report: dict) -> dict[str, dict]:
    assert report["reason"] is None, report["reason"]
    assert report["leftovers"] == [] and all(leftovers(i) == [] for i in report["instances"])
    return {e["grade_id"]: e for e in report["exercises"]}


@pytest.fixture(scope="module")
def graded_04(tmp_path_factory):
    hard_coded = 'def predict(agents, queue, silent):\n    return [["2773", "2771"], ["2772"]]'
    only_sales = ('acd.rest(lab, "/queues", "POST", {"name": "sales"})\n'
                  'acd.rest(lab, "/agents/2771", "PATCH", {"memberof": ["sales"]})')
    return _grade(tmp_path_factory, "04-acd-sip", {
        "untouched": {}, "visible-only": {"who-rings": hard_coded, "sales-line": only_sales}})


@pytest.mark.lab
def test_04_untouched_fails_every_check(graded_04):
    r = graded_04["untouched"]
    ex = _by_id(r)
    assert (r["score"], r["max_score"]) == (0, 6)
    assert (ex["who-rings-check"]["visible"], ex["who-rings-check"]["hidden"]) == ("fail", "fail")
    assert ex["who-rings-check"]["feedback"].startswith(
        "visible check: predict() raises NotImplementedError: write its body in the cell above")
    sales = ex["sales-line-check"]
    assert (sales["visible"], sales["hidden"]) == ("fail", "fail")
    assert "no queue 'sales' in GET /queues" in sales["feedback"]


@pytest.mark.lab
def test_04_visible_only_answers_lose_the_hidden_points(graded_04):
    """A prediction written for the visible starting state (2773, 2771, 2772) fails the hidden
    one (2773, 2772, 2771); a sales line that drops 2771's other queues fails the hidden test."""
    r = graded_04["visible-only"]
    ex = _by_id(r)
    assert r["score"] == 3
    rings = ex["who-rings-check"]
    assert (rings["points"], rings["visible"], rings["hidden"]) == (2, "pass", "fail")
    assert ("hidden test: predicted [['2773', '2771'], ['2772']], but the ACD offered call 1 to "
            "['2773', '2772'] and call 2 to ['2771']") in rings["feedback"]
    sales = ex["sales-line-check"]
    assert (sales["points"], sales["visible"], sales["hidden"]) == (1, "pass", "fail")
    assert sales["feedback"].startswith("hidden test: 2771 is a member of ['sales']; want sales added")


@pytest.fixture(scope="module")
def graded_05(tmp_path_factory):
    return _grade(tmp_path_factory, "05-cas-lock", {
        "untouched": {}, "visible-only": {"lock-fix": 'my_fix = "l: jmp l\\n"'},
        "correct": {"lock-fix": f'my_fix = """{SOLUTION_05}"""'}})


@pytest.mark.lab
def test_05_untouched_fails_and_a_lock_nobody_can_take_loses_the_hidden_point(graded_05):
    untouched, stuck, correct = (_by_id(graded_05[k])["lock-fix-check"]
                                 for k in ("untouched", "visible-only", "correct"))
    assert (untouched["points"], untouched["visible"], untouched["hidden"]) == (0, "fail", "fail")
    assert "with 3 threads: UNSAFE" in untouched["feedback"]
    assert (stuck["points"], stuck["visible"], stuck["hidden"]) == (1, "pass", "fail")
    assert stuck["feedback"].startswith("hidden test: with 2 threads: SAFE BUT STUCK")
    assert (correct["points"], correct["max_points"], correct["feedback"]) == (2, 2, "")


@pytest.fixture(scope="module")
def graded_06(tmp_path_factory):
    # what login needs, and an [fxo] that sip.conf's gateway names, left empty
    login_only = ('fixed = """\n[acdserver]\nexten => _.,1,Dial(SIP/${EXTEN})\n[acdpresence]\n'
                  'exten => _.,hint,SIP/${EXTEN}\n[phones]\nexten => *44,1,Dial(SIP/acdserver/acdlogin)\n'
                  '[fxo]\n"""')
    return _grade(tmp_path_factory, "06-acd-pbx", {
        "untouched": {}, "visible-only": {"star44-fix": login_only}})


@pytest.mark.lab
def test_06_untouched_fails_and_a_login_only_plan_loses_the_hidden_point(graded_06):
    untouched, login_only = (_by_id(graded_06[k])["star44-check"] for k in ("untouched", "visible-only"))
    assert (untouched["points"], untouched["visible"], untouched["hidden"]) == (0, "fail", "fail")
    assert ("visible check: phone2 dialled *44 and keyed 2772, but GET /agents does not show 2772 idle; "
            "the plan's *44 line: ['exten => *44,1,Dial(SIP/acdserver/acdlogon)']") in untouched["feedback"]
    assert (login_only["points"], login_only["visible"], login_only["hidden"]) == (1, "pass", "fail")
    assert "hidden test: the gateway's call to queue1 through the PBX" in login_only["feedback"]
