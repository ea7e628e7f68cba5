"""The one process toolkit: free ports, bounded waits, starting and stopping by recorded PID.

Everything in labkit that starts or ends a process goes through here: the lab engine
(whose records live on disk, labkit.lab.state), the loopback rigs that run a daemon
without a lab, the tests and the benchmarks. A process is identified by its PID *and*
its start time (field 22 of /proc/PID/stat), so a recycled PID that now belongs to an
unrelated process is never signalled. Nothing here finds a process by name.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A bounded wait ran out; the message says what was awaited."""


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, poll: float = 0.02,
               what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy, and return that value.

    The bound is mandatory: tests and services wait on a condition, never with a bare
    sleep, and a condition that never comes raises WaitTimeout naming `what`.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what} not reached within {timeout:g} s")
        time.sleep(poll)


def _stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first); OSError if gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a live process has used so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid: int, seconds: float = 10.0) -> float:
    """The share of one CPU a process uses over ``seconds`` of wall time: how an idle daemon
    shows that nothing in it spins.  The window is the measurement, not a wait for a condition."""
    import threading
    c0, t0 = cpu_seconds(pid), time.monotonic()
    threading.Event().wait(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port the kernel just handed out on `host` for `kind` (TCP or UDP) and released."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_time(pid: int) -> int | None:
    """When a live process started (ticks since boot); None if it is gone or a zombie."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return None
    if fields[0] in ("Z", "X"):  # finished; only its parent's wait() is missing
        return None
    return int(fields[19])


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes whose process group is `pgid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry.name)
        except OSError:
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


@dataclass
class Proc:
    """A recorded process: what `stop` may signal, and nothing else."""

    pid: int
    start: int
    what: str = ""

    @classmethod
    def of(cls, pid: int, what: str = "") -> "Proc | None":
        st = start_time(pid)
        return None if st is None else cls(pid, st, what)

    def alive(self) -> bool:
        return start_time(self.pid) == self.start

    def orphans(self) -> bool:
        """True when this process is gone but the process group it led still has live members.

        A daemon started with start_new_session leads a group; if it is killed (kill -9) the
        workers it forked live on in that group, reparented. Its PID is not reused while
        the group exists (the kernel keeps a PID in use as a PGID), so signalling the group
        reaches only them. A zombie (the leader itself, not yet reaped) is not a live member."""
        return not self.alive() and bool(group_members(self.pid))


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop(procs: Iterable[Proc], grace: float = 1.0, group: bool = False) -> list[Proc]:
    """SIGTERM each recorded process still alive, SIGKILL what outlives `grace` seconds.

    With `group`, each PID is also the leader of its own process group (started with
    start_new_session) and the whole group is signalled, so children a daemon forked
    go with it, even when the leader itself was killed first (Proc.orphans). Returns the
    processes that were still running when the call began.
    """
    def running(p: Proc) -> bool:
        return p.alive() or (group and p.orphans())

    live = [p for p in procs if running(p)]

    def send(p: Proc, sig: int) -> None:
        if group:
            try:
                os.killpg(p.pid, sig)  # p.pid leads its group: the daemon and what it forked
                return
            except ProcessLookupError:  # not a group leader: a live PID names no other group
                pass
        _signal(p.pid, sig)

    for p in live:
        send(p, signal.SIGTERM)
    try:
        wait_until(lambda: not any(running(p) for p in live), grace, what="processes exiting")
    except WaitTimeout:
        for p in live:
            if running(p):
                send(p, signal.SIGKILL)
        wait_until(lambda: not any(running(p) for p in live), 2.0, what="killed processes exiting")
    return live


#: the gate: wait for one line on a pipe of its own (its descriptor is $1; the line comes once
#: the PID is recorded), close it, then become argv. EOF instead (the recorder died first)
#: ends it before argv ever ran. stdin, stdout and stderr are argv's own throughout. bash, not
#: sh: dash takes only single-digit descriptors in a redirection.
_GATE = 'fd=$1; shift; read -r _ <&"$fd" || exit 111; exec {fd}<&-; exec "$@"'


def start_gated(argv: Sequence[str], record: Callable[[int], None], **popen: Any) -> subprocess.Popen:
    """Start argv, but let it run only after `record(pid)` returned: the write-ahead for a
    process that runs outside any lab namespace, where no sweep would find it.

    The child is a shell blocked on a pipe of its own until its PID is on record; it then
    execs argv under the same PID (and start time), so the record names the tool. If the
    caller is killed before or while recording, the pipe closes and the shell exits without
    running argv. `popen` is Popen's (stdin, stdout, env, ...), all argv's."""
    gate_r, gate_w = os.pipe()
    try:
        p = subprocess.Popen(["bash", "-c", _GATE, "gate", str(gate_r), *argv], start_new_session=True,
                             pass_fds=(gate_r, *popen.pop("pass_fds", ())), **popen)
    except BaseException:
        os.close(gate_w)
        raise
    finally:
        os.close(gate_r)
    try:
        record(p.pid)
        os.write(gate_w, b"go\n")
    except BaseException:
        p.kill()
        p.communicate()
        raise
    finally:
        os.close(gate_w)
    return p


def run_gated(argv: Sequence[str], record: Callable[[int], None], input: str | None = None,
              timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run argv to completion (output captured, text) behind start_gated's write-ahead;
    `input` is argv's stdin."""
    p = start_gated(argv, record, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(input or "", timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    return subprocess.CompletedProcess(list(argv), p.returncode, out, err)


class OwnProcesses:
    """Processes a rig, test or benchmark started itself, kept in memory.

    The in-memory counterpart of a lab's on-disk record: only these are ever signalled.
    Use it as a context manager so they are stopped however the block ends.
    """

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.records: list[Proc] = []    # PID and start time, taken as each one starts

    def spawn(self, argv: Sequence[str], log: Path | None = None, **kw) -> subprocess.Popen:
        """Start argv (stdout+stderr to `log`, or discarded) in its own session, and remember it."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        if log is None:
            p = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        else:
            with open(log, "ab") as out:
                p = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, **kw)
        self.procs.append(p)
        rec = Proc.of(p.pid, str(argv[0]))
        if rec is not None:
            self.records.append(rec)
        return p

    def stop(self, grace: float = 5.0) -> None:
        """Stop every process still running and its group, then reap them all. A leader that
        already died (Kamailio's main process after a kill -9) still has the workers it left
        in its group stopped (Proc.orphans)."""
        for p in self.procs:
            p.poll()                         # reap the dead, so a zombie leader reads as gone
        stop(self.records, grace, group=True)
        for p in self.procs:
            try:
                p.wait(2.0)
            except subprocess.TimeoutExpired:  # not ours any more (setuid, reparented): leave it
                pass

    def __enter__(self) -> "OwnProcesses":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
