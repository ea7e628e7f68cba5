"""Write a notebook from a compact cell list, then execute it in place (outputs stored for nbval).

Usage: python scripts/new_notebook.py SPEC.py OUT.ipynb
SPEC.py defines CELLS = [("md", text) | ("code", text) | ("code-ignore", text), ...];
"code-ignore" cells get the nbval-ignore-output tag (plots, timings).
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
            nb.cells.append(cell)
    return nb


def main() -> None:
    spec, out = Path(sys.argv[1]), Path(sys.argv[2])
    nb = build(runpy.run_path(str(spec))["CELLS"])
    NotebookClient(nb, timeout=1200, kernel_name="labkit",
                   resources={"metadata": {"path": str(out.parent.resolve())}}).execute()
    nbformat.write(nb, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
