"""`labkit grade`: submissions of notebook 07 scored in labs of their own (labkit.grade).

The submissions are built here from the notebook (nbformat): the student's edition with the
teacher's solution, with a fix of one uplink only, untouched (nbgrader's stub), and with a
solution cell that never returns. The lab tests grade all four in one `labkit grade` run.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from labkit import course, grade
from labkit.lab.errors import LabStateError
from labkit.lab.runtime import INSTANCE_PREFIX_ENV, Lab

from labtest import ROOT, labkit_cli, leftovers

SOURCE = ROOT / "notebooks" / "07-trunks.ipynb"
VISIBLE_ONLY = """warnings = sw2950.configure('''
interface FastEthernet0/1
 switchport trunk allowed vlan add 2
''')"""
CELL_TIMEOUT = 90     # a bring-up or the failover test stays well under it; the hang does not


def _solution(nb) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))


def submission(kind: str) -> nbformat.NotebookNode:
    """The student's edition of notebook 07, its solution cell filled in as `kind` says."""
    nb = course.student_edition(SOURCE)
    answer = {"correct": _solution(nbformat.read(SOURCE, as_version=4)).source,
              "visible-only": VISIBLE_ONLY, "empty": None,
              "hang": "import time; time.sleep(10**6)"}[kind]
    if answer is not None:
        _solution(nb).source = answer
    return nb


def test_points_split_between_the_visible_check_and_the_hidden_test():
    assert [grade.split_points(p, True) for p in (1, 2, 3, 4, 5)] == [(0, 1), (1, 1), (2, 1), (2, 2), (3, 2)]
    assert grade.split_points(3, False) == (3, 0)


def test_a_check_cell_is_split_into_its_visible_and_hidden_parts():
    nb = nbformat.read(SOURCE, as_version=4)
    n = len(nb.cells)
    parts = grade.split_checks(nb)
    assert [(p["grade_id"], p["part"], p["points"]) for p in parts] == [
        ("trunk-fix-check", "visible", 1), ("trunk-fix-check", "hidden", 1)]
    visible, hidden = (p["cell"].source for p in parts)
    assert len(nb.cells) == n + 1 and nb.cells.index(parts[1]["cell"]) == nb.cells.index(parts[0]["cell"]) + 1
    assert 'assert ok, "VLAN 2 still does not cross the trunk"' in visible and "HIDDEN" not in visible
    assert "with Fa0/1 down, VLAN 2 does not cross Fa0/2" in hidden and "###" not in hidden


def test_the_source_is_found_by_grade_ids_and_a_tampered_check_is_put_back(tmp_path):
    """A submission renamed alice.ipynb, whose check cell was edited to `pass` and which has
    no hidden tests, gets the teacher's check back, hidden tests included (OverwriteCells)."""
    nb = submission("empty")
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    check.source = "pass"
    check.metadata["nbgrader"]["points"] = 99
    sources = {s: grade.grade_ids(s) for s in course.notebooks(ROOT / "notebooks") if grade.grade_ids(s)}
    assert grade.find_source(tmp_path / "alice.ipynb", nb, sources) == SOURCE
    book = grade.Gradebook()
    try:
        nb = book.overwrite(nb, SOURCE)
    finally:
        book.close()
    teacher = next(c for c in nbformat.read(SOURCE, as_version=4).cells
                   if c.metadata.get("nbgrader", {}).get("grade"))
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert check.source == teacher.source and course.HIDDEN_BEGIN in check.source
    assert check.metadata["nbgrader"]["points"] == 2
    assert _solution(nb).source == _solution(course.student_edition(SOURCE)).source   # the student's own


def test_a_notebook_of_no_course_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print(1)"))
    with pytest.raises(grade.GradeError, match="no source notebook has its graded cells"):
        grade.find_source(tmp_path / "bob.ipynb", nb, {SOURCE: grade.grade_ids(SOURCE)})


def test_the_instance_prefix_must_leave_a_valid_name(monkeypatch):
    monkeypatch.setenv(INSTANCE_PREFIX_ENV, "gabcdefghij-")
    with pytest.raises(LabStateError, match="gabcdefghij-trunks.*not up to 12"):
        Lab.up("campus-trunk", name="trunks")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One `labkit grade` run over the four submissions; the reports by kind."""
    d = tmp_path_factory.mktemp("grade")
    kinds = ["correct", "visible-only", "empty", "hang"]
    for kind in kinds:
        nbformat.write(submission(kind), d / f"{kind}.ipynb")
    p = labkit_cli("grade", *(str(d / f"{k}.ipynb") for k in kinds), "-o", str(d / "out"),
                   "--cell-timeout", str(CELL_TIMEOUT), "--timeout", "400", timeout=1800)
    for i, kind in enumerate(kinds, 1):
        assert f"[{i}/4] {kind}: " in p.stderr
    reports = {k: json.loads((d / "out" / f"{k}.json").read_text()) for k in kinds}
    yield reports, d / "out", p
    shutil.rmtree(d, ignore_errors=True)


def _left(report: dict) -> list[str]:
    return report["leftovers"] + [x for inst in report["instances"] for x in leftovers(inst)]


@pytest.mark.lab
def test_a_correct_submission_gets_full_marks_in_labs_of_its_own(graded):
    reports, out, p = graded
    r = reports["correct"]
    assert (r["score"], r["max_score"], r["reason"], r["restored"]) == (2, 2, None, [])
    assert r["exercises"] == [{"grade_id": "trunk-fix-check", "points": 2, "max_points": 2,
                               "visible": "pass", "hidden": "pass", "feedback": ""}]
    prefixes = {inst.split("-")[0] for rep in reports.values() for inst in rep["instances"]}
    assert len(prefixes) == 4       # each submission had instances of its own
    assert sorted(i.split("-", 1)[1] for i in r["instances"]) == ["routed", "svi", "trunks"]
    assert _left(r) == []
    assert "correct: 2/2" in p.stdout


@pytest.mark.lab
def test_a_visible_only_fix_loses_the_hidden_points_with_the_hidden_tests_message(graded):
    reports, out, _ = graded
    r = reports["visible-only"]
    assert (r["score"], r["max_score"], r["reason"]) == (1, 2, None)
    ex, = r["exercises"]
    assert (ex["points"], ex["visible"], ex["hidden"]) == (1, "pass", "fail")
    assert ex["feedback"] == "hidden test: FastEthernet0/2's running config does not allow VLAN 2 ([1])"
    (inst, checks), = r["lab_checks"].items()       # the lab was up after the graded cell
    assert inst.endswith("-trunks") and "checks passed" in checks["table"]
    page = (out / "visible-only.html").read_text()
    for text in ("1 / 2", "FastEthernet0/2&#x27;s running config does not allow VLAN 2", "labkit check", "reach pc1 -&gt; pc2"):
        assert text in page
    assert _left(r) == []


@pytest.mark.lab
def test_an_empty_submission_gets_0_with_feedback_per_exercise(graded):
    reports, out, _ = graded
    r = reports["empty"]
    assert (r["score"], r["max_score"], r["reason"], r["restored"]) == (0, 2, None, [])
    ex, = r["exercises"]
    assert (ex["visible"], ex["hidden"]) == ("fail", "fail")
    assert ex["feedback"] == ("visible check: VLAN 2 still does not cross the trunk; an earlier cell failed: "
                              "cell 26 (solution trunk-fix: # YOUR CODE HERE): NotImplementedError; "
                              "hidden test: FastEthernet0/1's running config does not allow VLAN 2 ([1])")
    assert r["errors"] == ["cell 26 (solution trunk-fix: # YOUR CODE HERE): NotImplementedError"]
    assert _left(r) == []


@pytest.mark.lab
def test_a_hanging_submission_is_stopped_at_the_cell_limit_and_scored_0(graded):
    reports, out, p = graded
    r = reports["hang"]
    assert (r["score"], r["max_score"]) == (0, 2)
    assert r["reason"].startswith("timed out: cell ") and "(solution trunk-fix: import time;" in r["reason"]
    assert r["reason"].endswith(f"ran over its {CELL_TIMEOUT} s limit per cell")
    assert r["seconds"] < 400                     # stopped by the cell limit, under the submission's
    assert r["exercises"][0]["visible"] == "fail" and "timed out" in r["exercises"][0]["feedback"]
    assert "Scored 0:</b> timed out" in (out / "hang.html").read_text()
    assert _left(r) == [] and r["instances"]


def test_report_names_stay_apart_when_a_class_hands_in_one_file_name():
    paths = [Path("subs/alice/07-trunks.ipynb"), Path("subs/bob/07-trunks.ipynb"), Path("subs/carol.ipynb"),
             Path("a/x/07-trunks.ipynb"), Path("b/x/07-trunks.ipynb")]
    assert grade.report_names(paths) == ["alice-07-trunks", "bob-07-trunks", "carol", "x-07-trunks-1",
                                         "x-07-trunks-2"]


def test_a_failing_check_names_the_errors_of_the_exercises_own_cells():
    nb = nbformat.v4.new_notebook()
    def cell(src, error=None, **meta):
        c = nbformat.v4.new_code_cell(src, execution_count=1)
        if error:
            c.outputs = [nbformat.v4.new_output("error", ename="SyntaxError", evalue=error, traceback=[])]
        c.metadata.update(meta)
        return c
    grader = {"nbgrader": {"grade": True, "grade_id": "c1", "points": 2}}
    nb.cells = [cell("broken_setup(", "setup typo"), cell("x = 1", **grader),
                cell("sw.configure(", "'(' was never closed", nbgrader={"solution": True, "grade_id": "s2"}),
                cell("assert ok, 'VLAN 2 still does not cross'", "VLAN 2 still does not cross",
                     nbgrader={"grade": True, "grade_id": "c2", "points": 2})]
    parts = grade.split_checks(nb)
    exercises, errors = grade._score(nb, parts, None)
    assert [(e["grade_id"], e["points"]) for e in exercises] == [("c1", 2), ("c2", 0)]
    assert exercises[1]["feedback"] == ("visible check: VLAN 2 still does not cross; an earlier cell failed: "
                                        "cell 2 (solution s2: sw.configure(): '(' was never closed")
    assert errors == ["cell 0 (broken_setup(): setup typo", "cell 2 (solution s2: sw.configure(): '(' was never closed"]
    refused, _ = grade._score(nb, parts, "refused: because")
    assert [(e["points"], e["visible"], e["feedback"]) for e in refused] == [(0, "fail", "refused: because")] * 2


def test_an_unreadable_or_foreign_notebook_is_not_graded_and_says_why(tmp_path):
    (tmp_path / "junk.ipynb").write_text("{not json")
    foreign = nbformat.v4.new_notebook()
    foreign.cells.append(nbformat.v4.new_code_cell("print(1)"))
    nbformat.write(foreign, tmp_path / "bob.ipynb")
    book = grade.Gradebook()
    try:
        junk, bob = (grade.grade_one(tmp_path / f"{n}.ipynb", n, {SOURCE: grade.grade_ids(SOURCE)}, book, tmp_path,
                                     60, 30, progress=lambda m: None) for n in ("junk", "bob"))
    finally:
        book.close()
    assert junk["graded"] is False and junk["reason"].startswith("unreadable: not a notebook nbformat can read")
    assert bob["graded"] is False and bob["reason"].startswith("unreadable: bob.ipynb: no source notebook")
    assert (junk["score"], bob["score"], junk["instances"], bob["instances"]) == (0, 0, [], [])
