"""The abstract machine the explorer runs listings on: N threads, shared memory, one ZF each.

Why a model of our own rather than an emulator: the question is about *interleavings*, so
the unit of execution must be exactly "one memory access that other CPUs can observe".  Each
instruction of the subset is one step, with one exception that is the point of the seed's
post: on a multi-core machine an unlocked ``cmpxchg`` is a read and a later write, and another
core's store can land in between.  The locked one (and ``xchg``, which x86 always locks) is
one indivisible step.  On a single-core machine interrupts only arrive between instructions,
so even the unlocked ``cmpxchg`` is one step there (``machine="unicore"``).

Memory is sequentially consistent.  x86 is TSO (a store may sit in a store buffer while later
loads run), but for a lock that is a single word acquired by a locked RMW this changes when the
release becomes visible, not whether two threads can be inside at once.

Every thread runs the listing to acquire the lock, falls through into the critical section
(pc == len(instrs)), and leaves it with the harness's release ``mov [lock],0``, then loops
back to the top to acquire again.  All values come from immediates or copies, so the state
space is finite and a full search is a proof.
"""
from __future__ import annotations

from dataclasses import dataclass

from .asm import JUMPS, REGISTERS, Instr, Program

MACHINES = ("multicore", "unicore")
_REG = {r: i for i, r in enumerate(REGISTERS)}
# thread state: (pc, regs tuple, zf, pending) ; pending = value read by the first half of a
# split read-modify-write, None when the thread is between instructions.
ThreadState = tuple
State = tuple   # (tuple of ThreadState, tuple of memory values)


@dataclass(frozen=True)
class Machine:
    """A program plus the machine it runs on; knows how one thread takes one step."""

    prog: Program
    lock_var: str
    kind: str = "multicore"

    def __post_init__(self) -> None:
        if self.kind not in MACHINES:
            raise ValueError(f"machine={self.kind!r}: use one of {MACHINES}")
        names = list(self.prog.memory)
        if self.lock_var not in names:
            names.append(self.lock_var)
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "_idx", {n: i for i, n in enumerate(names)})

    @property
    def cs_pc(self) -> int:
        return len(self.prog.instrs)

    def initial(self, threads: int) -> State:
        t0 = (0, (0,) * len(REGISTERS), 0, None)
        return (tuple(t0 for _ in range(threads)), (0,) * len(self.names))

    def split(self, ins: Instr) -> bool:
        """True when this instruction takes two steps (read, then write) on this machine."""
        return ins.op == "cmpxchg" and not ins.lock and self.kind == "multicore"

    def step(self, state: State, t: int) -> tuple[State, str]:
        """Run one step of thread t; return the new state and what it did (for traces)."""
        threads, mem = state
        pc, regs, zf, pending = threads[t]
        names = self.names
        if pc == self.cs_pc:                       # leave the critical section: release
            mem = _put(mem, self._idx[self.lock_var], 0)
            return _with(threads, t, (0, regs, zf, None), mem), f"leave CS: mov [{self.lock_var}],0"
        ins = self.prog.instrs[pc]
        regs_l = list(regs)

        def val(o):
            if o.kind == "reg":
                return regs_l[_REG[o.value]]
            if o.kind == "mem":
                return mem[self._idx[o.value]]
            return o.value

        op, a = ins.op, ins.args
        nxt, eff = pc + 1, ""
        if op == "mov":
            v = val(a[1])
            if a[0].kind == "reg":
                regs_l[_REG[a[0].value]] = v
            else:
                mem = _put(mem, self._idx[a[0].value], v)
            eff = f"{a[0]}={v}"
        elif op in ("cmp", "test"):
            x, y = val(a[0]), val(a[1])
            zf = int(x == y) if op == "cmp" else int((x & y) == 0)
            eff = f"ZF={zf}"
        elif op in JUMPS or op == "jmp":
            if op == "jmp" or zf == JUMPS[op]:
                nxt = self.prog.target(a[0].value)
                eff = f"-> {a[0].value}"
            else:
                eff = "falls through"
        elif op == "xchg":
            x, y = val(a[0]), val(a[1])
            for o, v in ((a[0], y), (a[1], x)):
                if o.kind == "reg":
                    regs_l[_REG[o.value]] = v
                else:
                    mem = _put(mem, self._idx[o.value], v)
            eff = f"{a[0]}={y} {a[1]}={x}"
        elif op == "cmpxchg":
            i = self._idx[a[0].value]
            if self.split(ins) and pending is None:   # first half: the read
                return (_with(threads, t, (pc, regs, zf, mem[i]), mem),
                        f"read {a[0]}={mem[i]} (write still to come)")
            old = mem[i] if pending is None else pending
            eax = regs_l[0]
            if eax == old:
                zf, new = 1, val(a[1])
                eff = f"{a[0]}={new} ZF=1"
            else:   # Intel SDM: the destination is written back even when the compare fails
                zf, new = 0, old
                regs_l[0] = old
                eff = f"eax={old} ZF=0" + (f" (writes back {a[0]}={old})" if pending is not None else "")
            mem = _put(mem, i, new)
            if pending is not None:
                eff = "write: " + eff
        # pause / nop: no effect
        new_state = _with(threads, t, (nxt, tuple(regs_l), zf, None), mem)
        if nxt == self.cs_pc:
            eff = (eff + " " if eff else "") + "=> enters CS"
        return new_state, eff


def _put(mem: tuple, i: int, v: int) -> tuple:
    return mem[:i] + (v,) + mem[i + 1:]


def _with(threads: tuple, t: int, ts: ThreadState, mem: tuple) -> State:
    return (threads[:t] + (ts,) + threads[t + 1:], mem)
