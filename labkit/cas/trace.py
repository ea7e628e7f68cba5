"""Interleaving traces: the explorer's counterexamples, as a text table.

The table is plain ASCII with fixed column widths so that notebook outputs are byte-for-byte
stable under nbval; the drawing for the notebook is labkit.lessons.cas.draw_trace.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """One step of one thread: which line ran, what it did, and memory/CS afterwards."""

    thread: int
    lineno: int | None          # listing line, None for the harness's release
    text: str                   # instruction as written (labels included), no comment
    effect: str
    memory: dict[str, int]
    in_cs: tuple[bool, ...]


@dataclass
class Trace:
    """A schedule from the initial state, replayed with descriptions."""

    threads: int
    steps: list[Step]
    lock_var: str
    verdict: str                # the last line of the table: what is wrong at the end
    memory_names: tuple[str, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def schedule(self) -> list[int]:
        """Which thread moved at each step (T0 is 0)."""
        return [s.thread for s in self.steps]

    def rows(self) -> list[list[str]]:
        """One row per step: step number, one cell per thread, then the memory words."""
        out = []
        for i, s in enumerate(self.steps, start=1):
            cells = [""] * self.threads
            cells[s.thread] = f"{s.text}  {s.effect}".rstrip()
            for t, inside in enumerate(s.in_cs):
                if inside and t != s.thread:
                    cells[t] = "(in CS)"
            out.append([str(i), *cells, *(str(s.memory[n]) for n in self.memory_names)])
        return out

    def table(self) -> str:
        head = ["step", *(f"T{t}" for t in range(self.threads)),
                *(f"[{n}]" for n in self.memory_names)]
        rows = self.rows()
        widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]

        def line(r: list[str]) -> str:
            return "| " + " | ".join(x.ljust(w) for x, w in zip(r, widths)) + " |"

        sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        return "\n".join([sep, line(head), sep, *map(line, rows), sep, self.verdict])

    def __str__(self) -> str:
        return self.table()
