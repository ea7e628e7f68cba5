"""Exhaustive interleaving search over a lock listing: a proof or the shortest counterexample.

Breadth-first search makes the answer deterministic and minimal: the first state found with
two threads in the critical section is reached by a shortest schedule, and ties are broken by
thread number (T0 before T1).  The search is bounded by ``max_states``; hitting the bound is
reported as "unknown", never as "safe".

When no unsafe state exists the search has visited *every* reachable state (the state space
is finite, see machine.py), so "safe" is a proof for that number of threads.  It then also
checks progress: from every reachable state some schedule lets some thread into the critical
section.  That catches "safe" locks that nobody can take, and the lost-lock state that an
unlocked cmpxchg's write-back can leave behind.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from labkit import paths

from .asm import Program, parse
from .machine import Machine
from .trace import Step, Trace




def seed_listing(name: str) -> str:
    """The seed post's listings, verbatim: 'unsafe' (mov/cmp/je/mov) or 'cmpxchg'.

    They are kept once, as data (data/seed/mutex-NAME.asm, copied byte for byte from the post).
    """
    path = paths.data("seed", f"mutex-{name}.asm")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such listing; use 'unsafe' or 'cmpxchg'")
    return path.read_text()


def drop_lock(listing: str) -> str:
    """The same listing with every `lock` prefix removed; comments keep their column."""
    out = []
    for line in listing.splitlines():
        code, sep, comment = line.partition(";")
        new = re.sub(r"(?i)\block\s+", "", code)
        if new != code and sep:
            new = new.ljust(len(code))
        out.append(new + sep + comment)
    return "\n".join(out) + ("\n" if listing.endswith("\n") else "")


@dataclass
class Result:
    """What the search found for one listing, thread count and machine."""

    program: Program
    threads: int
    machine: str
    lock_var: str
    safe: bool | None               # None: bound reached before an answer
    states: int                     # distinct states visited
    counterexample: Trace | None    # shortest schedule to two threads in the CS
    live: bool | None = None        # progress property, checked only when safe
    stuck: Trace | None = None      # shortest schedule to a state with no way into the CS

    @property
    def verdict(self) -> str:
        if self.safe is None:
            return "UNKNOWN"
        if not self.safe:
            return "UNSAFE"
        return "SAFE" if self.live else "SAFE BUT STUCK"

    def summary(self) -> str:
        head = f"{self.verdict}: {self.threads} threads, {self.machine}, {self.states} states"
        if self.safe is None:
            return head + " (bound reached; raise max_states)"
        if not self.safe:
            extra = "" if self.live is None else (
                "; and it can also get stuck" if not self.live else "; progress holds")
            return head + f"; shortest race: {len(self.counterexample)} steps" + extra
        if not self.live:
            return head + f"; mutual exclusion holds, but after {len(self.stuck)} steps no thread can ever enter"
        return head + "; no interleaving puts two threads in the critical section, and some thread can always get in"

    __str__ = summary

    def __repr__(self) -> str:
        return f"<Result {self.summary()}>"

    def trace(self) -> Trace | None:
        """The race if there is one, else the stuck schedule, else None."""
        return self.counterexample if self.counterexample is not None else self.stuck

    def table(self) -> str:
        t = self.trace()
        return t.table() if t else self.summary()


def explore(listing: str | Program, threads: int = 2, machine: str = "multicore",
            lock_var: str | None = None, max_states: int = 2_000_000,
            source: str = "<listing>", full: bool = False, on_progress=None,
            progress_every: int = 100_000) -> Result:
    """Search every interleaving of `threads` copies of the listing around a critical section.

    By default the search stops at the first (shortest) race.  With ``full=True`` it goes on
    through the whole state space and also checks progress for unsafe listings, which shows
    the second way a lock can break (e.g. the lost lock of an unlocked cmpxchg's write-back).
    ``on_progress(states_found, states_expanded)`` is called every ``progress_every`` expanded
    states, so long searches (5 threads: ~0.9 million states) show that they are moving.
    """
    prog = listing if isinstance(listing, Program) else parse(listing, source)
    if lock_var is None:
        if len(prog.memory) > 1 and "mutex" not in prog.memory:
            raise ValueError(f"{prog.source}: the listing uses memory {prog.memory}; "
                             "say which one is the lock with lock_var=...")
        lock_var = "mutex" if "mutex" in prog.memory or not prog.memory else prog.memory[0]
    if threads < 1:
        raise ValueError("threads must be at least 1")
    m = Machine(prog, lock_var, machine)
    cs = m.cs_pc
    init = m.initial(threads)
    index = {init: 0}
    states = [init]
    parent = [(-1, -1)]
    succ: list[list[int]] = []
    race: Trace | None = None
    i = 0
    while i < len(states):
        s = states[i]
        out = []
        for t in range(threads):
            ns, _ = m.step(s, t)
            j = index.get(ns)
            if j is None:
                j = len(states)
                index[ns] = j
                states.append(ns)
                parent.append((i, t))
                if race is None and sum(1 for ts in ns[0] if ts[0] == cs) >= 2:
                    race = _replay(m, threads, _path(parent, j),
                                   "=> " + " and ".join(f"T{k}" for k, ts in enumerate(ns[0]) if ts[0] == cs)
                                   + " are both in the critical section")
                    if not full:
                        return Result(prog, threads, machine, lock_var, False, len(states), race)
                if len(states) > max_states:
                    return Result(prog, threads, machine, lock_var, None, len(states), None)
            out.append(j)
        succ.append(out)
        i += 1
        if on_progress is not None and i % progress_every == 0:
            on_progress(len(states), i)
    stuck = _no_progress(states, succ, cs)
    tr = None
    if stuck is not None:
        tr = _replay(m, threads, _path(parent, stuck),
                     f"=> stuck: [{lock_var}]={states[stuck][1][m.names.index(lock_var)]}, "
                     "and from here no schedule lets any thread into the critical section")
    return Result(prog, threads, machine, lock_var, race is None, len(states), race, stuck is None, tr)


def replay(listing: str | Program, schedule: list[int], threads: int = 2,
           machine: str = "multicore", lock_var: str = "mutex", verdict: str = "") -> Trace:
    """Run one schedule of your choosing (thread numbers, one per step) and trace it.

    For looking at a particular interleaving, e.g. the one where cmpxchg fails; the
    explorer's own traces come from the search, not from here.
    """
    prog = listing if isinstance(listing, Program) else parse(listing)
    m = Machine(prog, lock_var, machine)
    for k, t in enumerate(schedule):
        if not 0 <= t < threads:
            raise ValueError(f"schedule step {k + 1}: thread {t} does not exist (threads={threads})")
    return _replay(m, threads, list(schedule), verdict or f"schedule {schedule}")


def _path(parent: list[tuple[int, int]], j: int) -> list[int]:
    sched = []
    while parent[j][0] >= 0:
        j, t = parent[j]
        sched.append(t)
    return sched[::-1]


def _no_progress(states: list, succ: list[list[int]], cs: int) -> int | None:
    """The first (shallowest) state from which no CS state is reachable, or None."""
    pred: list[list[int]] = [[] for _ in states]
    for a, outs in enumerate(succ):
        for b in outs:
            pred[b].append(a)
    good = [any(ts[0] == cs for ts in s[0]) for s in states]
    q = deque(k for k, g in enumerate(good) if g)
    while q:
        b = q.popleft()
        for a in pred[b]:
            if not good[a]:
                good[a] = True
                q.append(a)
    return next((k for k, g in enumerate(good) if not g), None)


def _replay(m: Machine, threads: int, schedule: list[int], verdict: str) -> Trace:
    s = m.initial(threads)
    steps = []
    for t in schedule:
        pc = s[0][t][0]
        if pc == m.cs_pc:
            lineno, text = None, "critical section"
        else:
            ins = m.prog.instrs[pc]
            lineno = ins.lineno
            text = "".join(f"{lb}: " for lb in ins.labels) + ins.text
        s, eff = m.step(s, t)
        steps.append(Step(t, lineno, text, eff, dict(zip(m.names, s[1])),
                          tuple(ts[0] == m.cs_pc for ts in s[0])))
    return Trace(threads, steps, m.lock_var, verdict, tuple(m.names))
