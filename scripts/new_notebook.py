"""Write a notebook from a compact cell list, then execute it in place (outputs stored for nbval).

Usage: python scripts/new_notebook.py SPEC.py OUT.ipynb
SPEC.py defines CELLS = [("md", text) | ("code", text) | ("code-ignore", text)
                       | ("solution:ID", text) | ("check:ID:POINTS", text), ...];
"code-ignore" cells get the nbval-ignore-output tag (plots, timings). The last two are
exercises in nbgrader's convention (labkit.course): a solution cell holds the answer between
`### BEGIN SOLUTION` and `### END SOLUTION`; a check cell is an autograded test worth POINTS,
whose `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` part the student edition drops.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "labkit", "display_name": "Python (labkit)", "language": "python"}
    for kind, text in cells:
        text = text.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(text)
            if kind == "code-ignore":
                cell.metadata["tags"] = ["nbval-ignore-output"]
            elif kind.startswith(("solution:", "check:")):
                cell.metadata["nbgrader"] = nbgrader_metadata(kind, text)
            nb.cells.append(cell)
    return nb


def nbgrader_metadata(kind: str, text: str) -> dict:
    """nbgrader's cell metadata (schema 3) for "solution:ID" or "check:ID:POINTS"."""
    from labkit.course import SOLUTION_BEGIN, SOLUTION_END

    role, grade_id, *points = kind.split(":")
    meta = {"grade_id": grade_id, "schema_version": 3, "task": False,
            "solution": role == "solution", "grade": role == "check", "locked": role == "check"}
    if role == "solution" and not (SOLUTION_BEGIN in text and SOLUTION_END in text):
        raise SystemExit(f"solution cell {grade_id} has no {SOLUTION_BEGIN} ... {SOLUTION_END}")
    if role == "check":
        meta["points"] = int(points[0])
    return meta


def main() -> None:
    spec, out = Path(sys.argv[1]), Path(sys.argv[2])
    nb = build(runpy.run_path(str(spec))["CELLS"])
    NotebookClient(nb, timeout=1200, kernel_name="labkit",
                   resources={"metadata": {"path": str(out.parent.resolve())}}).execute()
    nbformat.write(nb, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
