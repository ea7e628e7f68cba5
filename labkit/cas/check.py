"""The notebook's exercise checker: a lock passes only if the explorer *proves* it.

"Proves" means: for 2 and for 3 threads on a multi-core machine, no interleaving puts two
threads in the critical section (mutual exclusion), and from every reachable state some thread
can still get in (progress).  Progress matters because the easiest way to be "safe" is a lock
that nobody can take.  Three threads matter because some broken locks only fail with a third
contender (the exercise's broken lock is one of them).
"""
from __future__ import annotations

from dataclasses import dataclass

from .explore import Result, explore

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
