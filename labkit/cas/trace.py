"""Interleaving traces: the explorer's counterexamples, as a text table and as a drawing.

The table is plain ASCII with fixed column widths so that notebook outputs are byte-for-byte
stable under nbval; the drawing is for looking at (nbval does not compare images).
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

    def draw(self, title: str | None = None, ax=None):
        """Lanes per thread (columns), steps downwards; CS occupancy shaded, overlap in red."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        n = len(self.steps)
        if ax is None:
            fig, ax = plt.subplots(figsize=(3.6 * self.threads + 1, 0.42 * n + 1.4))
        else:
            fig = ax.figure
        for i, s in enumerate(self.steps):
            y = i
            if sum(s.in_cs) >= 2:
                ax.add_patch(Rectangle((-0.5, y - 0.5), self.threads, 1, color="#f4b6b6", zorder=0))
            for t, inside in enumerate(s.in_cs):
                if inside:
                    ax.add_patch(Rectangle((t - 0.48, y - 0.5), 0.96, 1, color="#cfe3f7", zorder=1))
            ax.text(s.thread, y, f"{s.text}\n{s.effect}", ha="center", va="center", fontsize=7,
                    family="monospace", zorder=3,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="#555555", lw=0.6))
            ax.text(self.threads - 0.42, y,
                    " ".join(f"{k}={v}" for k, v in s.memory.items()), fontsize=7, va="center",
                    family="monospace", color="#444444")
        for t in range(1, self.threads):
            ax.axvline(t - 0.5, color="#999999", lw=0.5)
        ax.set_xlim(-0.5, self.threads + 0.3)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xticks(range(self.threads), [f"T{t}" for t in range(self.threads)])
        ax.xaxis.tick_top()
        ax.set_yticks(range(n), [str(i + 1) for i in range(n)])
        ax.set_ylabel("step")
        ax.set_title(title or self.verdict, fontsize=9)
        for side in ("right", "bottom"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        return fig
