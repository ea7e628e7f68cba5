"""Notebooks stay thin and stay what their sources say (CONTRIBUTING rule 8).

Pure file checks, no kernel: every notebook in notebooks/ is the build of its source in
notebooks/src/ (same cells, same kinds, same tags: nobody edited one and forgot the other),
no code cell is longer than MAX_LINES (logic belongs in labkit/lessons/, where unit tests
cover it), and the last code cell of a notebook that brings a lab up tears it down.
"""
from __future__ import annotations

import importlib.util
import runpy
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 25
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _builder():
    spec = importlib.util.spec_from_file_location("new_notebook", ROOT / "scripts/new_notebook.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    sources = {p.stem for p in (ROOT / "notebooks/src").glob("[0-9][0-9]-*.py")}
    assert NOTEBOOKS and sources == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_is_the_build_of_its_source(path):
    built = _builder().build(runpy.run_path(str(ROOT / "notebooks/src" / f"{path.stem}.py"))["CELLS"])
    stored = nbformat.read(path, as_version=4)
    shape = lambda nb: [(c.cell_type, c.source, c.metadata.get("tags", []), c.metadata.get("nbgrader"))
                        for c in nb.cells]
    for i, (want, got) in enumerate(zip(shape(built), shape(stored))):
        assert want == got, f"{path.name} cell {i} differs from notebooks/src/{path.stem}.py: regenerate it"
    assert len(built.cells) == len(stored.cells), f"{path.name}: cell count differs from its source"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short_and_the_last_one_tears_down(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    long = [(i, len(c.source.splitlines())) for i, c in enumerate(code) if len(c.source.splitlines()) > MAX_LINES]
    assert not long, f"{path.name}: code cells over {MAX_LINES} lines (index, lines): {long}"
    if any("lab = " in c.source for c in code):         # it brings a lab up (05 runs none)
        assert "down(" in code[-1].source, f"{path.name}: the last code cell does not tear the lab down"
