"""The main job: bring up the seed lab, check it, execute every notebook, summarise, tear down.

Executed notebooks go to ``out/`` as .ipynb and .html. The seed lab runs as
instance ``demo`` so it never clashes with a lab a teacher brought up by hand,
and notebooks bring up their own instances beside it.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from .lab.runtime import Lab, stderr_progress

ROOT = Path(__file__).resolve().parents[1]   # the clone: notebooks/ and out/ live there


def execute_notebook(path: Path, out_dir: Path, timeout: int = 1200) -> tuple[bool, str]:
    """Run a notebook top to bottom with the labkit kernel; write .ipynb and .html."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="labkit", resources={"metadata": {"path": str(path.parent)}})
    ok, note = True, "ok"
    try:
        client.execute()
    except CellExecutionError as exc:
        ok = False
        last = str(exc).strip().splitlines()[-1]
        note = re.sub(r"\x1b\[[0-9;]*m", "", last)[:120]  # the traceback's colours
    nbformat.write(nb, out_dir / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / path.with_suffix(".html").name).write_text(html)
    return ok, note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="labkit demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out"), help="folder for executed notebooks (default: out/)")
    ap.add_argument("--topology", default="seed")
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: all in notebooks/)")
    args = ap.parse_args(argv)
    books = [Path(n) for n in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not books:
        # an installed labkit has no notebooks/: the demo is the clone's job (./run demo)
        print(f"labkit demo: no notebooks in {ROOT / 'notebooks'} (fix: run it from a clone, "
              "./run demo, or name the notebooks to run)", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, float, str]] = []

    t0 = time.perf_counter()
    lab = Lab.up(args.topology, name="demo", replace=True, progress=stderr_progress)
    try:
        rows.append(("bring up seed lab", "ok", time.perf_counter() - t0, f"{len(lab.topo.nodes)} nodes, {len(lab.services)} services"))
        t1 = time.perf_counter()
        report = lab.check(progress=stderr_progress)
        print(report.table())
        passed = sum(r.ok for r in report.results)
        rows.append(("seed lab checks", "ok" if report.ok else "FAIL", time.perf_counter() - t1, f"{passed}/{len(report.results)} passed"))
        for i, nb in enumerate(books, 1):
            stderr_progress(f"notebook {i}/{len(books)}: {nb.name}")
            t2 = time.perf_counter()
            ok, note = execute_notebook(nb, out_dir)
            rows.append((nb.name, "ok" if ok else "FAIL", time.perf_counter() - t2, note))
    finally:
        t3 = time.perf_counter()
        leftovers = lab.down()
        rows.append(("tear down", "ok" if not leftovers else "FAIL", time.perf_counter() - t3, "; ".join(leftovers) or "nothing left"))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'step'.ljust(width)}  result  seconds  note")
    for name, res, secs, note in rows:
        print(f"{name.ljust(width)}  {res:<6}  {secs:7.1f}  {note}")
    print(f"executed notebooks (.ipynb and .html) are in {out_dir}")
    return 0 if all(r[1] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
