"""The graded exercises of notebooks 00 (the lost default route), 01 (the retyped ACL), 02 (the
zone fix, live) and 03 (a mailbox by hand): answers that satisfy only the visible check, graded
by `labkit grade` in labs of their own, lose the hidden test's point with its own message.

That the teacher's answers pass every check, hidden tests included, is nbval's run of the
notebooks; that the student editions left untouched fail every check is
tests/test_course.py::test_each_student_edition_left_untouched_fails_its_checks.
"""
from __future__ import annotations

import nbformat
import pytest

from labtest import ROOT, grade_submissions

pytestmark = pytest.mark.lab
NOTEBOOKS = ROOT / "notebooks"


def _teacher_solution(book: str, grade_id: str) -> str:
    nb = nbformat.read(NOTEBOOKS / book, as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _visible_only(book: str, grade_id: str, answer: str, tmp_path) -> dict:
    ex = grade_submissions(NOTEBOOKS / book, {"visible-only": {grade_id: answer}}, tmp_path)["visible-only"]
    (check,) = ex.values()
    assert (check["points"], check["max_points"], check["visible"], check["hidden"]) == (1, 2, "pass", "fail"), check
    return check


def test_00_a_linux_route_passes_the_checks_but_not_the_switchs_running_config(tmp_path):
    check = _visible_only("00-tour.ipynb", "default-route",
                          'lab.node("sw3550").cmd("ip route add default via 192.168.254.1")', tmp_path)
    assert check["feedback"].startswith("hidden test: the 3550's running config has no 'ip route 0.0.0.0 "
                                        "0.0.0.0 ...' line (want the route typed in IOS")


def test_01_a_deny_for_one_host_passes_the_probed_pair_but_not_the_vlans(tmp_path):
    answer = '''warnings = sw.replace_acl("102", """
access-list 102 permit tcp 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255 established
access-list 102 deny   ip host 192.168.2.10 192.168.1.0 0.0.0.255
access-list 102 permit ip any any
""")'''
    check = _visible_only("01-campus-routing.ipynb", "acl-fix", answer, tmp_path)
    assert check["feedback"].startswith("hidden test: between other hosts of the two VLANs: "
                                        "phone1 -> pc1 icmp: reply (want unreachable 3/13 (administratively prohibited) from 192.168.2.1)")


def test_02_a_fix_served_without_a_new_serial_loses_the_hidden_point(tmp_path):
    solution = _teacher_solution("02-dns-mx.ipynb", "zone-fix")
    answer = solution.replace("2012220105      ; serial: one more than the seed's", "2012220104      ;")
    assert answer != solution
    check = _visible_only("02-dns-mx.ipynb", "zone-fix", answer, tmp_path)
    assert check["feedback"] == ("hidden test: SOA serial served by 1.2.3.4: 2012220104 "
                                 "(want more than the seed's 2012220104)")


def test_03_a_vmbox_rewritten_with_one_line_delivers_it_but_loses_the_seeds_mailboxes(tmp_path):
    answer = '''with open(conf / "vmbox", "w") as f:          # "w": the seed's lines are gone
    f.write("student@exampledomain.ca   exampledomain.ca/student\\n")   # an mbox
ec2.run(["postmap", "-c", str(conf), f"hash:{conf}/vmbox"], check=True)
_ = ec2.run(["postfix", "-c", str(conf), "reload"], check=True)'''
    check = _visible_only("03-mail.ipynb", "vmbox", answer, tmp_path)
    assert check["feedback"].startswith("hidden test: RCPT TO admin@exampledomain.ca from the internet: 550 ")
    assert check["feedback"].endswith("(want 250)")
