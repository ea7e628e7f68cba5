"""Where the seed text (the blog posts this project rebuilds) lives on a machine.

The repository does not carry it; it sits in `shared/` beside the checkout (as on the
developers' machines and in CI). Tests that quote it byte for byte find it here.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (ROOT.parent / "shared" / "seed" / "blog-posts.txt",
              Path("/work/shared/seed/blog-posts.txt"))


def seed_path() -> Path:
    for p in CANDIDATES:
        if p.is_file():
            return p
    raise FileNotFoundError("the seed text is not beside this checkout; looked in "
                            + ", ".join(map(str, CANDIDATES)))


def seed_text() -> str:
    return seed_path().read_text()
