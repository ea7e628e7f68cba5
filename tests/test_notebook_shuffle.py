"""Notebooks survive out-of-order runs: each notebook, its sections shuffled, still passes its checks.

A **section** is the unit of state: a `## ` markdown heading and every cell up to the next one
(`### ` subheadings stay inside their section; a section starts at the markdown cell that holds
its heading). Each section that needs state (a queue, a
capture, a variable of an earlier section) sets it up itself, with the idempotent helpers of
`labkit/lessons/`. The test keeps the setup section (everything before the first `## `) first
and the teardown section (the last one) last, runs the sections in between in a seeded
shuffled order, and runs one of them a second time after a later one (a student re-running a
cell out of order); cells within a section keep their order. The shuffled teacher's edition
(the solutions in) is graded by the real `labkit grade` (labkit.grade: a fresh kernel, every
check cell split into its visible and hidden parts): no cell may raise, every part of every
check must pass, the notebook's own teardown must leave its kernel no lab, and the grader must
find nothing left (tests/labtest.py leftovers).

The seed is the CRC-32 of the notebook file unless LABKIT_SHUFFLE_SEED is set: the same commit
always runs the same order (CI is reproducible), and every change to a notebook explores a new
one (a random seed made CI fail on whichever latent order bug it drew). It is printed, and every failure message
names it and the order that ran, so a failure replays with
`LABKIT_SHUFFLE_SEED=N pytest -m lab tests/test_notebook_shuffle.py -k NN` (the failure
message has the command). One shuffled run per notebook, no more: each costs about what the
notebook costs under nbval (measured on the 2-core machine, graded time per notebook: 00 52 s,
01 71 s, 02 31 s, 03 28 s, 04 93-101 s, 05 9 s, 06 34-59 s, 07 45-88 s (07 costs more when a
section must bring the campus up again); about 6-7 minutes for all eight).
"""
from __future__ import annotations

import copy
import os
import random
import secrets
import zlib
from pathlib import Path

import nbformat
import pytest

from labkit import course
from labtest import ROOT, grade_notebooks, leftovers

NOTEBOOKS = ROOT / "notebooks"
SEED_ENV = "LABKIT_SHUFFLE_SEED"

# The notebook's teardown must leave its kernel no lab: the grader would remove one anyway, so
# this cell, run after the teardown section, is what notices a section that forgot its own.
NO_LAB_LEFT = """
from labkit.lab.state import LabState
assert LabState.instances() == [], f"labs still up after the teardown section: {LabState.instances()}"
"""


def _headings(cell) -> list[str]:
    return [line[3:].strip() for line in cell.source.splitlines()
            if line.startswith("## ")] if cell.cell_type == "markdown" else []


def sections(cells: list) -> list[list]:
    """The cells cut before each markdown cell holding a `## ` heading: [setup, section, ...,
    teardown] (a cell that holds two headings opens one section, named by the last)."""
    out: list[list] = [[]]
    for cell in cells:
        if _headings(cell):
            out.append([])
        out[-1].append(cell)
    return out


def heading(section: list) -> str:
    names = _headings(section[0]) if section else []
    return names[-1] if names else "(setup)"


def plain_copy(cell):
    """A cell to run again: the same code, no nbgrader role (a re-run is not graded twice, but
    an error in it is one of the notebook's errors all the same)."""
    again = copy.deepcopy(cell)
    again.metadata.pop("nbgrader", None)
    again["id"] = secrets.token_hex(8)
    return again


def plan(n: int, seed: int) -> list[int]:
    """The order the n middle sections run in (indexes): a seeded shuffle, with one section run
    a second time right after a later one."""
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    if n >= 2:
        later = rng.randrange(1, n)
        order.insert(later + 1, order[rng.randrange(0, later)])
    return order


def shuffled(nb, seed: int) -> tuple[object, list[str]]:
    """The notebook run in ``plan``'s order, setup first and teardown last, then NO_LAB_LEFT;
    and the headings in the order they run."""
    setup, *middle, teardown = sections(nb.cells)
    order, seen, runs = plan(len(middle), seed), set(), []
    for i in order:
        runs.append((heading(middle[i]) + " (again)", [plain_copy(c) for c in middle[i]]) if i in seen
                    else (heading(middle[i]), middle[i]))
        seen.add(i)
    runs = [("(setup)", setup), *runs, (heading(teardown), teardown)]
    out = copy.deepcopy(nb)
    out.cells = [c for _, cells in runs for c in cells] + [nbformat.v4.new_code_cell(NO_LAB_LEFT.strip())]
    return out, [title for title, _ in runs]


def test_the_plan_runs_every_section_once_and_one_again_after_a_later_one():
    orders = set()
    for seed in range(50):
        order = plan(9, seed)
        again = next(i for i in order if order.count(i) == 2)
        first, second = (k for k, i in enumerate(order) if i == again)
        assert sorted(order) == sorted([*range(9), again]) and second - first >= 2, (seed, order)
        assert plan(9, seed) == order                                    # a seed replays its order
        orders.add(tuple(order))
    assert len(orders) == 50
    assert plan(1, 3) == [0] and plan(0, 3) == []


def test_a_section_starts_at_the_markdown_cell_holding_its_heading():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("# Title"), code("lab = up()"), md("## One\ntext"), code("a = 1"),
             md("about a\n\n## Two"), code("b = 2"), md("### inside two"), code("c = 3"), md("## Tear down"),
             code("lab.down()")]
    parts = sections(cells)
    assert [heading(p) for p in parts] == ["(setup)", "One", "Two", "Tear down"]
    assert [len(p) for p in parts] == [2, 2, 4, 2]


def test_setup_stays_first_teardown_last_and_the_copy_is_not_graded_twice():
    source = NOTEBOOKS / "04-acd-sip.ipynb"
    nb = nbformat.read(source, as_version=4)
    parts = sections(nb.cells)
    assert heading(parts[0]) == "(setup)" and heading(parts[-1]) == "Tear down"
    assert all(heading(p) != "(setup)" for p in parts[1:])
    for seed in range(10):
        out, titles = shuffled(nb, seed)
        assert titles[0] == "(setup)" and titles[-1] == "Tear down" and len(titles) == len(parts) + 1
        assert out.cells[:len(parts[0])] == parts[0]
        assert out.cells[-1].source == NO_LAB_LEFT.strip()
        graded = [c.metadata["nbgrader"]["grade_id"] for c in out.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert sorted(graded) == sorted(e["grade_id"] for e in course.exercises(source))


@pytest.mark.lab
@pytest.mark.parametrize("book", [b.name for b in course.notebooks(NOTEBOOKS)])
def test_a_notebook_with_its_sections_shuffled_passes_its_checks(book, tmp_path):
    source = NOTEBOOKS / book
    seed = int(os.environ.get(SEED_ENV) or zlib.crc32(source.read_bytes()))
    nb, titles = shuffled(nbformat.read(source, as_version=4), seed)
    replay = f"seed {seed} ({SEED_ENV}={seed} pytest -m lab tests/{Path(__file__).name} -k {book[:2]}); order: {' | '.join(titles)}"
    print(f"{book}: {replay}")
    report = grade_notebooks(source, {source.stem: nb}, tmp_path)[source.stem]
    print(f"{book}: graded in {report['seconds']} s")
    assert report["reason"] is None, f"{book}: {report['reason']}; {replay}"
    failed = [f"{e['grade_id']}: {e['feedback']}" for e in report["exercises"] if e["points"] < e["max_points"]]
    assert (report["errors"], failed) == ([], []), \
        f"{book}: cells failed: {report['errors']}; checks failed: {failed}; {replay}"
    assert report["exercises"], f"{book}: no graded check ran; {replay}"
    assert report["leftovers"] == [] and all(leftovers(i) == [] for i in report["instances"]), \
        f"{book}: left behind {report['leftovers']}; {replay}"
