"""A course from labkit's notebooks: the teacher's edition and the student's, in nbgrader's format.

Exercises follow nbgrader's convention (its metadata, schema 3), so nbgrader itself can take
a course built here: a *solution* cell holds the answer between `### BEGIN SOLUTION` and
`### END SOLUTION`; a *check* cell is a locked, autograded test worth some points, and its
`### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` part probes the lab from another angle,
so a student who only satisfies the visible check does not get every point.

`build(OUT)` writes
    OUT/teacher/NN-name.ipynb   the notebooks as they are (nbval keeps testing these)
    OUT/student/NN-name.ipynb   solutions replaced by nbgrader's stub, hidden tests removed,
                                outputs cleared
using nbgrader's own preprocessors (ClearSolutions, ClearHiddenTests, ClearOutput). What
nbgrader's `generate_assignment` adds on top (its course directory and gradebook database)
is left out: a labkit course is a folder of notebooks, and `labkit grade` (labkit.grade)
runs each submission in labs of its own, which nbgrader's autograder cannot start.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from labkit.lab.errors import LabkitError

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def notebooks(src: Path) -> list[Path]:
    return sorted(p for p in src.glob("[0-9][0-9]-*.ipynb"))


def student_edition(path: Path):
    """The student's copy of one notebook (an nbformat node)."""
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    nb = nbformat.read(path, as_version=4)
    resources: dict = {}
    for pre in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
        nb, resources = pre.preprocess(nb, resources)
    return nb


def exercises(path: Path) -> list[dict]:
    """Each graded cell of a notebook: grade_id, points, and whether it has hidden tests."""
    import nbformat

    out = []
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            out.append({"grade_id": meta["grade_id"], "points": meta.get("points", 0),
                        "hidden": HIDDEN_BEGIN in cell.source})
    return out


def build(out: Path, src: Path | None = None, progress=print) -> dict[str, list[Path]]:
    """Write OUT/teacher and OUT/student; returns the files of each edition.

    A rebuild rewrites both: an NN-name.ipynb in an edition's folder that the source no longer
    has is removed (other files are left alone)."""
    import nbformat

    from labkit import paths

    src = Path(src) if src else paths.find("notebooks")
    if not src.is_dir():
        raise LabkitError(f"{src}: not a folder of notebooks (fix: --from DIR, a folder holding NN-name.ipynb)")
    books = notebooks(src)
    if not books:
        raise LabkitError(f"no NN-name.ipynb notebooks in {src}")
    for where in (Path(out), Path(out) / "teacher", Path(out) / "student"):
        if where.exists() and not where.is_dir():
            raise LabkitError(f"{where}: a file is there; OUT must be a folder (e.g. labkit course build course/)")
    made: dict[str, list[Path]] = {"teacher": [], "student": []}
    for edition in made:
        folder = Path(out) / edition
        folder.mkdir(parents=True, exist_ok=True)
        for stale in sorted(set(notebooks(folder)) - {folder / b.name for b in books}):
            progress(f"removed {stale} (no such notebook in {src} any more)")
            stale.unlink()
    for i, book in enumerate(books, 1):
        progress(f"[{i}/{len(books)}] {book.name}: {len(exercises(book))} graded cells")
        teacher = Path(out) / "teacher" / book.name
        shutil.copyfile(book, teacher)
        student = Path(out) / "student" / book.name
        nbformat.write(student_edition(book), student)
        made["teacher"].append(teacher)
        made["student"].append(student)
    return made
