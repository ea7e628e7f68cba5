"""The CAS-lock lesson (notebook 05), what only the notebook needs: the exercise checker,
the trace drawing and the contention plots. The explorer and the contention kernel are labkit.cas.

The exercise checker: a lock passes only if the explorer *proves* it. "Proves" means: for 2
and for 3 threads on a multi-core machine, no interleaving puts two threads in the critical
section (mutual exclusion), and from every reachable state some thread can still get in
(progress). Progress matters because the easiest way to be "safe" is a lock that nobody can
take. Three threads matter because some broken locks only fail with a third contender (the
exercise's broken lock is one of them).
"""
from __future__ import annotations

from dataclasses import dataclass

from labkit.cas.explore import Result, explore
from labkit.cas.trace import Trace

BROKEN_LOCK = """\
; A lock from a code review: "same as the blog post, but I tidied the jumps".
        mov edx,1
spin:   mov eax,[mutex]
        cmp eax,0
        jne spin                ; spin while the lock is taken
        lock cmpxchg [mutex],edx
        jz spin                 ; try again if cmpxchg failed
"""


@dataclass
class FixReport:
    """One Result per thread count; passed only if every one is SAFE (and live)."""

    results: list[Result]

    @property
    def passed(self) -> bool:
        return all(r.safe and r.live for r in self.results)

    @property
    def exclusive(self) -> bool:
        """Mutual exclusion proved for every thread count (progress not asked)."""
        return all(r.safe for r in self.results)

    def failure(self) -> str:
        """What the explorer found against the listing, thread count by thread count, and
        what a lock must do instead: the text of a failing check's assertion."""
        seen = [f"with {r.threads} threads: {r.summary()}" for r in self.results if not (r.safe and r.live)]
        if not seen:
            return "no problem found"
        return ("; ".join(seen) + ". Wanted: no interleaving puts two threads in the critical"
                " section, and from every state some thread can still get in")

    def __str__(self) -> str:
        lines = [r.summary() for r in self.results]
        bad = next((r for r in self.results if r.safe is False), None) or \
            next((r for r in self.results if not (r.safe and r.live)), None)
        if bad is not None and bad.trace() is not None:
            lines += [f"counterexample with {bad.threads} threads:", bad.table()]
        lines.append("PASS: the lock is proved for " + " and ".join(str(r.threads) for r in self.results)
                     + " threads" if self.passed else "FAIL: fix the listing and run the check again")
        return "\n".join(lines)

    __repr__ = __str__


def check_fix(listing: str, threads: tuple[int, ...] = (2, 3)) -> FixReport:
    """Explore the listing for each thread count (multi-core machine) and report."""
    return FixReport([explore(listing, threads=n, machine="multicore") for n in threads])


def draw_trace(what: Trace | Result, title: str | None = None, ax=None):
    """A trace (or an explorer Result's trace) drawn: lanes per thread (columns), steps downwards;
    CS occupancy shaded, overlap in red. For looking at: nbval does not compare images."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    tr = what.trace() if isinstance(what, Result) else what
    if tr is None:
        raise ValueError(f"{what.summary()}: there is no trace to draw")
    n = len(tr.steps)
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.6 * tr.threads + 1, 0.42 * n + 1.4))
    else:
        fig = ax.figure
    for i, s in enumerate(tr.steps):
        y = i
        if sum(s.in_cs) >= 2:
            ax.add_patch(Rectangle((-0.5, y - 0.5), tr.threads, 1, color="#f4b6b6", zorder=0))
        for t, inside in enumerate(s.in_cs):
            if inside:
                ax.add_patch(Rectangle((t - 0.48, y - 0.5), 0.96, 1, color="#cfe3f7", zorder=1))
        ax.text(s.thread, y, f"{s.text}\n{s.effect}", ha="center", va="center", fontsize=7,
                family="monospace", zorder=3,
                bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="#555555", lw=0.6))
        ax.text(tr.threads - 0.42, y,
                " ".join(f"{k}={v}" for k, v in s.memory.items()), fontsize=7, va="center",
                family="monospace", color="#444444")
    for t in range(1, tr.threads):
        ax.axvline(t - 0.5, color="#999999", lw=0.5)
    ax.set_xlim(-0.5, tr.threads + 0.3)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xticks(range(tr.threads), [f"T{t}" for t in range(tr.threads)])
    ax.xaxis.tick_top()
    ax.set_yticks(range(n), [str(i + 1) for i in range(n)])
    ax.set_ylabel("step")
    ax.set_title(title or tr.verdict, fontsize=9)
    for side in ("right", "bottom"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def plot_contention(cv: dict, pingpong_ns: float | None = None, cores: int | None = None):
    """Two panels from contend.curves(): acquisitions/s and contended-handoff p50 per kind,
    both on log axes.

    A dashed line marks the core count (contenders past it must be preempted to run) and the
    ping-pong round trip (no handoff between two cores can beat one cache-line transfer).
    """
    import matplotlib.pyplot as plt

    thr, hof = cv["throughput"], cv["handoff"]
    kinds = sorted({k for k, _ in thr}, key=list(dict.fromkeys(k for k, _ in thr)).index)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for k in kinds:
        ns = sorted(n for kk, n in thr if kk == k)
        a.plot(ns, [thr[(k, n)].throughput / 1e6 for n in ns], marker="o", label=k)
        hn = [n for n in ns if n > 1 and hof[(k, n)].samples]
        b.plot(hn, [hof[(k, n)].handoff_p50_ns for n in hn], marker="o", label=k)
    # log axis: the kinds span more than a factor of ten (unsafe far above; glibc's unfair mutex,
    # whose owner re-acquires without a handoff, above the spinning locks on many machines)
    a.set(xlabel="contending threads", ylabel="million acquisitions / s", yscale="log",
          title="throughput (log scale)")
    b.set(xlabel="contending threads", ylabel="ns (p50)", yscale="log",
          title="contended handoff: release -> waiting core owns the lock")
    if pingpong_ns:
        b.axhline(pingpong_ns, color="k", ls=":", label=f"ping-pong round trip {pingpong_ns:.0f} ns")
    for ax in (a, b):
        if cores:
            ax.axvline(cores, color="grey", ls="--", lw=0.8)
        ax.grid(alpha=0.3)
    b.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
