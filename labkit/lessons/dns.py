"""Notebook 02's helpers: the tables its cells print from DNS probes and lint findings.

Pure formatting, deterministic between runs (no timings, IDs or absolute paths), so the
notebook's outputs can be checked by nbval.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from labkit.diag import Diagnostic


def format_findings(findings: list[Diagnostic], base: str | Path | None = None) -> str:
    """One line per lint finding in diag's format, paths relative to ``base``."""
    out = []
    for f in findings:
        if base is not None and f.file:
            try:
                f = dataclasses.replace(f, file=str(Path(f.file).resolve().relative_to(Path(base).resolve())))
            except ValueError:  # not under base: keep the path as it is
                pass
        out.append(str(f))
    return "\n".join(out) if out else "no findings"


def walk_table(steps: list[dict]) -> str:
    """A small fixed-width table of a ``walk`` result, for notebook cells (deterministic:
    no timings, no IDs)."""
    rows = [("step", "server", "rcode", "aa", "answer / referral", "glue")]
    for i, s in enumerate(steps, start=1):
        what = ", ".join(s["answer"]) or ("-> " + ", ".join(s["referral"]) if s["referral"] else "")
        rows.append((str(i), s["server"], str(s["rcode"]), "yes" if s["aa"] else "no", what, ", ".join(s["glue"])))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip() for r in rows)
