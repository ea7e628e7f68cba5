"""The grader's fence around a submission: it may use its own labs, and nothing else.

`labkit grade` runs a student's notebook as root (its labs need it), so a submission could
reach past its labs. Two ways out are named by the course issue, and each has a guard here:

1. **Entering another lab's namespace** (`ip netns exec lk-tour-pc1 ...`, `nsenter`,
   `ip -n`, opening `/run/netns/...` or `/proc/PID/ns/...`). A submission reaches its own
   nodes only through the lab API (`lab.node("pc1").cmd(...)`, `.call`, `.popen`), so
   *any* of these in a code cell is refused before the notebook runs (`scan`): score 0,
   the reason names the cell and line, and nothing has started. Setting
   LABKIT_INSTANCE_PREFIX (the name fence below) is refused the same way. At run time the
   engine adds a name fence: a process with LABKIT_INSTANCE_PREFIX set can bring up,
   attach to, take down and clean only labs under its prefix (labkit.lab.runtime.scoped).
2. **Sending from the root namespace** (scapy's `send()` in the kernel itself, a socket to
   some address). The kernel does not run in the root namespace: `kernel_argv` starts it
   under `unshare --net`, in a namespace of its own (`python -m labkit.sandbox CMD...`
   prepares it and execs the kernel). There, lo is up and a default route leads into one
   end of a veth pair (`outside0`, 198.51.100.2/24, a documentation network) whose other
   end is a dead end. A packet sent "to the world" from the kernel goes nowhere, and is
   counted: `escaped(pid)` reads the pair's counters through /proc/PID/net/dev, and the
   grader scores the submission 0 with "sent N packets from outside its labs". IPv6 is
   off on the pair, so an IPv6 send fails at once (network unreachable) and sends nothing.
   The kernel talks to the grader over Unix sockets (Jupyter's `ipc` transport), which do
   not care about network namespaces.

The namespace lives exactly as long as the kernel and what it left in it: it has no name
and no file, so there is nothing of it to record or clean (lab processes live in their
lab's named namespaces, not here).

What this is not: a security boundary against a determined root user. A submission can
still hide a command from `scan` (string tricks) or unmount things as root. The boundary
for that is not running students as root at all (the class issue's unprivileged students).
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

OUTSIDE = "outside0"          # the kernel's way "out"; its peer outside1 is a dead end
OUTSIDE_ADDR = "198.51.100.2/24"
OUTSIDE_GW = "198.51.100.1"

# What a submission may not write, with the reason shown to the student.
_ESCAPES = [
    # `ip netns exec X`, `["ip", "netns", ...]`, `ip -4 -n X ...`: words apart by anything but letters
    (re.compile(r"\bip\W+(?:-\w+\W+)*netns\b"), "`ip netns` reaches namespaces outside the lab API"),
    (re.compile(r"\bip\W+(?:-\w+\W+)*-n(?:etns)?\b"), "`ip -n` runs in a namespace outside the lab API"),
    (re.compile(r"\bnsenter\b"), "`nsenter` enters a namespace outside the lab API"),
    (re.compile(r"\bunshare\b"), "`unshare` makes namespaces outside the lab API"),
    (re.compile(r"\bsetns\b"), "`setns` enters a namespace outside the lab API"),
    (re.compile(r"/run/netns\b"), "/run/netns holds every lab's namespaces"),
    (re.compile(r"/proc/[^/\s'\"]+/ns\b"), "/proc/PID/ns reaches another process's namespaces"),
    (re.compile(r"INSTANCE_PREFIX"), "LABKIT_INSTANCE_PREFIX keeps the submission's labs apart"),
]


def scan(cells) -> list[str]:
    """Reasons to refuse a notebook, one per offending line: 'cell 7 line 2: ... (why)'.

    `cells` are nbformat cells; only code cells are read (markdown may talk about anything).
    """
    found = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        for n, line in enumerate(without_comments(cell.get("source", "")).splitlines(), 1):
            for pattern, why in _ESCAPES:
                if pattern.search(line):
                    text = line.strip()
                    text = text if len(text) <= 60 else text[:57] + "..."
                    found.append(f"cell {index} line {n}: '{text}': {why}")
                    break
    return found


def without_comments(source: str) -> str:
    """The cell's text with its comments blanked (a comment may mention `ip netns`; running it
    cannot). Python's tokenizer finds them, so a '#' inside a string stays; `!shell` lines
    lose what follows ' #'. Text the tokenizer cannot read is kept whole: nothing is hidden."""
    lines = source.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    for tok in reversed(tokens):
        if tok.type == tokenize.COMMENT and tok.start[0] == tok.end[0]:
            row, col = tok.start[0] - 1, tok.start[1]
            lines[row] = lines[row][:col]
    return "\n".join(re.sub(r"\s#.*$", "", l) if l.lstrip().startswith("!") else l for l in lines)


def kernel_argv(python: str = sys.executable) -> list[str]:
    """The kernelspec argv of a fenced kernel (for jupyter_client's `ipc` transport)."""
    return ["unshare", "--net", "--", python, "-m", "labkit.sandbox",
            python, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _counters(pid: int) -> dict[str, int]:
    """{iface: tx packets} in the network namespace of process `pid`."""
    out = {}
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if len(fields) >= 10:
            out[name.strip()] = int(fields[9])
    return out


def escaped(pid: int) -> int:
    """Packets the fenced process `pid` (and whatever shares its namespace) sent out; 0 if it is gone."""
    try:
        return _counters(pid).get(OUTSIDE, 0)
    except OSError:
        return 0


def prepare() -> None:
    """Inside the fresh namespace: lo up, the dead-end pair, the default route into it."""
    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    ip("link", "set", "lo", "up")
    ip("link", "add", OUTSIDE, "type", "veth", "peer", "name", "outside1")
    for end in (OUTSIDE, "outside1"):
        Path(f"/proc/sys/net/ipv6/conf/{end}/disable_ipv6").write_text("1\n")
    ip("addr", "add", OUTSIDE_ADDR, "dev", OUTSIDE)
    ip("link", "set", OUTSIDE, "up")
    ip("link", "set", "outside1", "up")
    ip("route", "add", "default", "via", OUTSIDE_GW)


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: unshare --net -- python -m labkit.sandbox COMMAND [ARG...]")
    if set(_counters(os.getpid())) != {"lo"}:   # a fresh namespace has lo only; the root one has more
        raise SystemExit("labkit.sandbox: refused: this is not a fresh network namespace, and may be the root "
                         "one (run it under unshare --net)")
    prepare()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
