"""Where labkit finds its topologies and data, from a clone or from an installed copy.

The search path, first match wins:

1. each directory in ``$LABKIT_PATH`` (``:``-separated), which may hold
   ``topologies/`` and ``data/`` (a teacher's own course tree, say);
2. the checkout this package was imported from, when it is one (``topologies/``
   and ``data/`` beside the ``labkit/`` directory);
3. ``share/labkit/`` under the installation prefix, where ``pip install`` puts the
   same two trees (see pyproject.toml).

Nothing else is looked at: labkit never reads outside these places.
"""
from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def roots() -> list[Path]:
    """The directories searched, in order (only those that exist)."""
    out = [Path(p) for p in os.environ.get("LABKIT_PATH", "").split(":") if p]
    if (_CHECKOUT / "labkit").is_dir() and (_CHECKOUT / "topologies").is_dir():
        out.append(_CHECKOUT)
    for prefix in dict.fromkeys([sysconfig.get_path("data"), sys.prefix]):
        out.append(Path(prefix) / "share" / "labkit")
    return [p for p in out if p.is_dir()]


def find(kind: str, *parts: str) -> Path:
    """The first ``ROOT/kind/parts...`` that exists on the search path.

    `kind` is ``topologies`` or ``data``. When nothing matches, the path under the
    first root is returned, so the caller's "no such file" error names a real place.
    """
    rel = Path(kind, *parts)
    rs = roots()
    for root in rs:
        if (root / rel).exists():
            return root / rel
    return (rs[0] if rs else _CHECKOUT) / rel


def topologies_dirs() -> list[Path]:
    return [r / "topologies" for r in roots() if (r / "topologies").is_dir()]


def data(*parts: str) -> Path:
    return find("data", *parts)


def topology(*parts: str) -> Path:
    return find("topologies", *parts)
