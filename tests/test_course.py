"""`labkit course build`: the teacher's and the student's editions of the notebooks."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from labkit import course
from labkit.lab.errors import LabkitError

from labtest import ROOT, grade_submissions, labkit_cli, leftovers

NOTEBOOKS = ROOT / "notebooks"


def _regions(text: str, begin: str, end: str) -> list[str]:
    return re.findall(rf"{re.escape(begin)}\n(.*?){re.escape(end)}", text, re.S)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    p = labkit_cli("course", "build", str(out))
    assert f"student: {len(course.notebooks(NOTEBOOKS))} notebooks" in p.stdout
    return out


def test_the_teacher_edition_is_the_notebooks_as_they_are(built):
    for book in course.notebooks(NOTEBOOKS):
        assert (built / "teacher" / book.name).read_bytes() == book.read_bytes()


def test_no_solution_or_hidden_test_line_survives_in_the_student_edition(built):
    """No line of a solution appears anywhere in the student's notebook (prose included), and
    each graded cell keeps its visible check but none of its hidden tests."""
    graded = 0
    for book in course.notebooks(NOTEBOOKS):
        teacher = nbformat.read(book, as_version=4)
        student_text = (built / "student" / book.name).read_text()
        student = nbformat.reads(student_text, as_version=4)
        text = "\n".join(c.source for c in student.cells)
        solutions = {line.strip() for c in teacher.cells
                     for region in _regions(c.source, course.SOLUTION_BEGIN, course.SOLUTION_END)
                     for line in region.splitlines() if len(line.strip()) > 3}
        assert [line for line in solutions if line in text] == [], book.name
        for marker in (course.SOLUTION_BEGIN, course.HIDDEN_BEGIN):
            assert marker not in student_text, book.name
        checks = {c.metadata["nbgrader"]["grade_id"]: c.source for c in student.cells
                  if c.metadata.get("nbgrader", {}).get("grade")}
        for cell in teacher.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade"):
                continue
            graded += 1
            visible = cell.source.split(course.HIDDEN_BEGIN)[0].strip()
            assert checks[meta["grade_id"]].strip() == visible, (book.name, meta["grade_id"])
        assert all(c.get("outputs", []) == [] for c in student.cells)    # no answers in outputs
    assert graded >= 1


def test_graded_cells_carry_nbgrader_metadata_and_points():
    ex = course.exercises(NOTEBOOKS / "07-trunks.ipynb")
    assert ex == [{"grade_id": "trunk-fix-check", "points": 2, "hidden": True}]


@pytest.mark.lab
def test_the_student_edition_runs_to_its_first_exercise_and_leaves_no_lab(built):
    """Top to bottom: every cell before the first solution cell runs; that cell stops with
    nbgrader's stub (NotImplementedError); the kernel's exit takes the lab down."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = built / "student" / "07-trunks.ipynb"
    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    client = NotebookClient(nb, timeout=600, kernel_name="labkit",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert "NotImplementedError" in str(err.value)
    ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
    assert max(ran) == first
    assert not any(o.get("output_type") == "error" for c in nb.cells[:first] for o in c.get("outputs", []))
    assert leftovers("trunks") == []


@pytest.mark.lab
@pytest.mark.parametrize("book", [b.name for b in course.notebooks(NOTEBOOKS) if course.exercises(b)])
def test_each_student_edition_left_untouched_fails_its_checks(built, book, tmp_path):
    """The student's edition, nothing filled in, graded by `labkit grade` (the teacher's checks
    put back, hidden tests included): every exercise scores 0, its visible check fails with
    feedback, and no lab is left."""
    student = nbformat.read(built / "student" / book, as_version=4)      # what `course build` wrote
    assert [c.source for c in student.cells] == [c.source for c in course.student_edition(NOTEBOOKS / book).cells]
    ex = grade_submissions(NOTEBOOKS / book, {"untouched": {}}, tmp_path)["untouched"]
    assert sorted(ex) == sorted(e["grade_id"] for e in course.exercises(NOTEBOOKS / book))
    for grade_id, e in ex.items():
        assert (e["points"], e["visible"]) == (0, "fail"), (book, grade_id, e)
        assert e["feedback"].startswith("visible check: "), (book, grade_id, e)


def test_a_rebuild_drops_notebooks_the_source_lost_and_a_file_for_out_is_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(ROOT / "notebooks" / "07-trunks.ipynb", src / "07-trunks.ipynb")
    stale = tmp_path / "out" / "student" / "99-gone.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    keep = tmp_path / "out" / "student" / "notes.txt"
    keep.write_text("mine")
    said = []
    made = course.build(tmp_path / "out", src, progress=said.append)
    assert not stale.exists() and keep.exists() and [p.name for p in made["student"]] == ["07-trunks.ipynb"]
    assert any("removed" in m and "99-gone.ipynb" in m for m in said)
    with pytest.raises(LabkitError, match="a file is there; OUT must be a folder"):
        course.build(src / "07-trunks.ipynb", src)
    with pytest.raises(LabkitError, match="not a folder of notebooks"):
        course.build(tmp_path / "o2", src / "07-trunks.ipynb")
