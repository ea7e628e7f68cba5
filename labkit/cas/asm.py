"""Parse the small x86 (Intel syntax) subset that the seed's mutex listings are written in.

The explorer must read the seed's listings *as written* -- labels, `;` comments, the
`lock` prefix glued to a comment (`lock cmpxchg [mutex],edx; At this point ...`) -- so the
parser is a line-oriented reader rather than a full assembler.  Anything outside the subset is
refused with an :class:`AsmError` that names the line, because a silently ignored instruction
would make the explorer prove things about a different program than the student wrote.

Accepted subset (case-insensitive, one instruction per line, Intel operand order dest,src):

====================  ==============================================================
``label:``            a label, alone or in front of an instruction
``; text``            a comment, anywhere on a line
``mov r, [m]``        load (one step)
``mov [m], r|imm``    store (one step)
``mov r, r|imm``      register move
``cmp a, b``          sets ZF = (a == b); a, b are registers, ``[m]`` or immediates
``test a, b``         sets ZF = ((a & b) == 0)
``je/jz L``           jump if ZF = 1
``jne/jnz L``         jump if ZF = 0
``jmp L``             unconditional jump
``cmpxchg [m], r``    if eax == [m]: [m] = r, ZF = 1  else: eax = [m], ZF = 0
``xchg r, [m]``       swap (x86 makes it atomic even without ``lock``)
``pause``, ``nop``    one step, no effect
``lock`` prefix       only on ``cmpxchg`` and ``xchg`` (x86 raises #UD elsewhere)
====================  ==============================================================

Registers: eax ebx ecx edx esi edi ebp.  Memory operands are ``[name]`` or ``[0x1234]``,
optionally with ``dword``/``dword ptr``.  Immediates are decimal, ``0x..`` or ``..h``.
Only ZF is modelled, which is all that je/jne/jz/jnz read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from labkit.diag import Diagnostic, DiagnosticError

REGISTERS = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")
JUMPS = {"je": True, "jz": True, "jne": False, "jnz": False}   # value: jump when ZF is this
SUBSET = "mov, cmp, test, je/jz, jne/jnz, jmp, cmpxchg, xchg, pause, nop, lock prefix"

_LABEL = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s*:(.*)$")
_MEM = re.compile(r"^(?:dword\s+(?:ptr\s+)?)?\[\s*([A-Za-z_.$][\w.$]*|0x[0-9a-fA-F]+|\d+)\s*\]$",
                  re.IGNORECASE)
_IMM = re.compile(r"^(?:0x[0-9a-fA-F]+|[0-9][0-9a-fA-F]*h|\d+)$", re.IGNORECASE)


class AsmError(DiagnosticError, ValueError):
    """A listing line the explorer cannot model; its one diagnostic names the line and the fix.

    Printed in labkit's one format (`FILE:LINE: PROBLEM (fix: FIX)`); the line as written is
    the diagnostic's `text`; `.lineno`, `.line`, `.problem` and `.fix` are its fields again.
    """

    def __init__(self, source: str, lineno: int, line: str, problem: str, fix: str):
        super().__init__([Diagnostic(source, lineno, problem, fix, text=line.strip())])
        self.lineno, self.line, self.problem, self.fix = lineno, line.strip(), problem, fix


@dataclass(frozen=True)
class Operand:
    """One operand: kind is 'reg', 'mem', 'imm' or 'label'."""

    kind: str
    value: str | int

    def __str__(self) -> str:
        return f"[{self.value}]" if self.kind == "mem" else str(self.value)


@dataclass(frozen=True)
class Instr:
    """One instruction of the listing, with the source line it came from."""

    op: str
    args: tuple[Operand, ...]
    lock: bool
    lineno: int
    labels: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The instruction in canonical form, without comment (what trace tables show)."""
        ops = ",".join(str(a) for a in self.args)
        return ("lock " if self.lock else "") + self.op + (" " + ops if ops else "")


@dataclass
class Program:
    """A parsed listing: instructions, label targets, memory names it touches."""

    instrs: list[Instr]
    labels: dict[str, int]
    source: str = "<listing>"
    text: str = ""
    memory: list[str] = field(default_factory=list)

    def target(self, label: str) -> int:
        return self.labels[label]


def _imm(tok: str) -> int:
    t = tok.lower()
    if t.startswith("0x"):
        return int(t, 16)
    if t.endswith("h"):
        return int(t[:-1], 16)
    return int(t)


def _operand(tok: str, err) -> Operand:
    t = tok.strip()
    low = t.lower()
    if low in REGISTERS:
        return Operand("reg", low)
    m = _MEM.match(t)
    if m:
        return Operand("mem", m.group(1))
    if _IMM.match(t):
        return Operand("imm", _imm(t))
    if low.startswith("-") and _IMM.match(low[1:]):
        return Operand("imm", -_imm(low[1:]))
    if low in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "ax", "al", "dx", "dl"):
        err(f"register {t} is outside the subset", f"use a 32-bit register ({', '.join(REGISTERS)})")
    if "[" in t:
        err(f"memory operand {t} is outside the subset",
            "write a plain named or absolute address such as [mutex] or [0x12345678]")
    err(f"operand {t!r} is not a register, [memory] or immediate",
        f"use one of {', '.join(REGISTERS)}, [name] or a number")
    raise AssertionError  # unreachable: err raises


def _split_operands(rest: str) -> list[str]:
    rest = rest.strip()
    return [p.strip() for p in rest.split(",")] if rest else []


def parse(text: str, source: str = "<listing>") -> Program:
    """Parse a listing; raise AsmError naming the first line that is outside the subset."""
    instrs: list[Instr] = []
    labels: dict[str, int] = {}
    pending_labels: list[str] = []
    label_lines: dict[str, int] = {}
    jump_refs: list[tuple[str, int, str]] = []
    memory: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        def err(problem: str, fix: str, _n=lineno, _r=raw) -> None:
            raise AsmError(source, _n, _r, problem, fix)

        code = raw.split(";", 1)[0].strip()
        while True:
            m = _LABEL.match(code)
            if not m:
                break
            name = m.group(1)
            if name in label_lines:
                err(f"label {name} is already defined on line {label_lines[name]}",
                    "rename one of the two labels")
            label_lines[name] = lineno
            pending_labels.append(name)
            code = m.group(2).strip()
        if not code:
            continue
        words = code.split(None, 1)
        lock = False
        if words[0].lower() == "lock":
            lock = True
            words = words[1].split(None, 1) if len(words) > 1 else []
            if not words:
                err("a lone lock prefix", "put it in front of cmpxchg or xchg on the same line")
        op = words[0].lower()
        args_txt = _split_operands(words[1]) if len(words) > 1 else []
        if op in JUMPS or op == "jmp":
            if len(args_txt) != 1 or not re.match(r"^[A-Za-z_.$][\w.$]*$", args_txt[0]):
                err(f"{op} needs one label operand", f"write e.g. `{op} l2`")
            args = (Operand("label", args_txt[0]),)
            jump_refs.append((args_txt[0], lineno, raw))
        elif op.startswith("j"):
            err(f"{op} is outside the accepted subset ({SUBSET}); only ZF is modelled",
                "express the test with cmp/test and je/jne/jz/jnz")
        else:
            args = tuple(_operand(a, err) for a in args_txt)
            _check_shape(op, args, lock, err)
        for a in args:
            if a.kind == "mem" and a.value not in memory:
                memory.append(str(a.value))
        for name in pending_labels:
            labels[name] = len(instrs)
        instrs.append(Instr(op, args, lock, lineno, tuple(pending_labels)))
        pending_labels = []
    for name in pending_labels:          # a label at the very end points past the listing
        labels[name] = len(instrs)
    for name, lineno, raw in jump_refs:
        if name not in labels:
            raise AsmError(source, lineno, raw, f"jump to undefined label {name}",
                           f"define `{name}:` in front of an instruction")
    if not instrs:
        raise AsmError(source, 1, text.splitlines()[0] if text.strip() else "",
                       "the listing has no instructions", "paste the lock-acquire code")
    return Program(instrs, labels, source, text, memory)


def _check_shape(op: str, args: tuple[Operand, ...], lock: bool, err) -> None:
    kinds = tuple(a.kind for a in args)
    if lock and op not in ("cmpxchg", "xchg"):
        err(f"lock prefix on {op}: outside the subset (x86 raises #UD for lock mov/cmp/...)",
            "use lock only with cmpxchg or xchg")
    if op == "mov":
        ok = kinds in (("reg", "mem"), ("mem", "reg"), ("reg", "imm"), ("reg", "reg"), ("mem", "imm"))
        if not ok:
            err(f"mov {','.join(kinds)} is not a valid form",
                "use mov reg,[m] / mov [m],reg / mov [m],imm / mov reg,imm / mov reg,reg")
    elif op in ("cmp", "test"):
        if len(args) != 2 or kinds[0] == "imm" or kinds == ("mem", "mem"):
            err(f"{op} needs two operands, the first a register or [m], not both memory",
                f"write e.g. `{op} eax,1`")
    elif op == "cmpxchg":
        if kinds != ("mem", "reg"):
            err("cmpxchg needs a memory destination and a register source",
                "write `lock cmpxchg [mutex],edx` (eax holds the expected value)")
    elif op == "xchg":
        if kinds not in (("reg", "mem"), ("mem", "reg"), ("reg", "reg")):
            err("xchg needs two registers or a register and [m]", "write `xchg eax,[mutex]`")
    elif op in ("pause", "nop"):
        if args:
            err(f"{op} takes no operands", f"write `{op}` alone")
    else:
        err(f"{op} is outside the accepted subset ({SUBSET})",
            "rewrite the lock with these instructions; see docs/notes/cas.md")
