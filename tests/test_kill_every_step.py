"""SIGKILL `labkit up` at every bring-up progress message in turn, then `labkit clean --lab`:
nothing of the lab may remain (namespaces, root-namespace links, run and /etc/netns
directories, processes in or from its namespaces).

The seed's bring-up prints a few dozen progress lines; a first full run counts them, then
each kill point k gets a fresh bring-up killed as its k-th line arrives. Every wait is
bounded, so a hang fails the test. About 3 s per kill point: a few minutes in all.
"""
from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest

from labkit.procs import Proc, run_gated, stop, wait_until

from labtest import ROOT, labkit_cli, leftovers, root_veths

INSTANCE = "killN"
UP_TIMEOUT = 90.0  # the seed comes up in ~2 s; a bring-up this slow is a hang


def _up() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "labkit.cli", "up", "seed", "--lab", INSTANCE],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)


def _progress_lines(proc: subprocess.Popen, stop_at: int | None = None) -> list[str]:
    """The `[labkit] ...` lines proc writes to stderr, until it exits or the stop_at-th one
    (then proc is SIGKILLed at once). Bounded by UP_TIMEOUT."""
    lines: list[str] = []
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + UP_TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise AssertionError(f"labkit up still running after {UP_TIMEOUT:g} s; last lines: {lines[-3:]}")
            if not sel.select(left):
                continue
            chunk = proc.stderr.read1(65536)
            if not chunk:
                return lines
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                if text.startswith("[labkit] "):
                    lines.append(text)
                    if stop_at is not None and len(lines) == stop_at:
                        proc.send_signal(signal.SIGKILL)
                        return lines
    finally:
        sel.close()


def _finish(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(timeout=30)
    finally:
        proc.stderr.close()


def _nothing_left(baseline_veths: set[str]) -> list[str]:
    return leftovers(INSTANCE) + [f"root veth {v}" for v in sorted(root_veths() - baseline_veths)]


@pytest.mark.lab
def test_kill_at_every_progress_message_then_clean_leaves_nothing():
    labkit_cli("clean", "--lab", INSTANCE)
    assert leftovers(INSTANCE) == []
    veths = root_veths()

    # a full run: how many progress messages, and a kept lab is removed by clean --lab
    full = _up()
    messages = _progress_lines(full)
    assert _finish(full) == 0, messages
    assert len(messages) >= 5, messages
    status = labkit_cli("status", "--lab", INSTANCE).stdout   # DHCP hosts show their lease
    assert re.search(r"^  pc1 .* dhcp:192\.168\.1\.\d+$", status, re.M), status
    assert re.search(r"^  phone1 .* dhcp:192\.168\.2\.\d+$", status, re.M), status
    assert "(up from 'labkit up'" in labkit_cli("clean").stdout   # a plain clean keeps it
    labkit_cli("clean", "--lab", INSTANCE, timeout=60)
    assert _nothing_left(veths) == []

    failures = {}
    for k in range(1, len(messages) + 1):
        proc = _up()
        seen = _progress_lines(proc, stop_at=k)
        _finish(proc)
        assert len(seen) == k, f"kill point {k}: only {len(seen)} messages arrived: {seen[-3:]}"
        labkit_cli("clean", "--lab", INSTANCE, timeout=60)
        left = _nothing_left(veths)
        if left:
            failures[f"{k}: {seen[-1]}"] = left
            labkit_cli("clean", "--lab", INSTANCE, "--force", timeout=60, check=False)
    print(f"{len(messages)} kill points; leftovers at {len(failures)}")
    assert failures == {}


def test_a_gated_process_never_runs_if_its_recorder_dies():
    """run_gated's write-ahead: the tool starts only after its PID is recorded; a recorder
    killed first (SIGKILL, here simulated by an exception) leaves no tool running."""
    recorded: list[Proc] = []
    out = run_gated(["sh", "-c", "echo $$"], lambda pid: recorded.append(Proc.of(pid)))
    assert out.returncode == 0 and int(out.stdout) == recorded[0].pid  # same PID: the record names the tool

    pids: list[int] = []

    def dies(pid: int) -> None:
        pids.append(pid)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_gated(["sh", "-c", "echo ran > /dev/stderr; sleep 30"], dies)
    assert not Proc.of(pids[0])

    # the caller SIGKILLed while recording: the shell waits on the pipe, gets EOF, never runs argv
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys, time\n"
         "from labkit.procs import run_gated\n"
         "def rec(pid):\n    print(pid, flush=True); time.sleep(60)\n"
         "run_gated(['sh', '-c', 'touch ' + sys.argv[1]], rec)\n", str(ROOT / ".gate-ran")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        child = int(holder.stdout.readline())
        holder.kill()
        holder.wait(10)
        wait_until(lambda: not Proc.of(child), 5, what="gated shell exiting")
        assert not (ROOT / ".gate-ran").exists()
    finally:
        if holder.poll() is None:
            holder.kill()
        (ROOT / ".gate-ran").unlink(missing_ok=True)


def test_stop_ends_the_workers_a_killed_group_leader_left():
    """A daemon that forks workers (Kamailio does) and is killed with -9 leaves them running in
    its process group; stop(group=True) of its recorded PID still ends them, and only them."""
    leader = subprocess.Popen([sys.executable, "-c", "import os, time\n"
                               "if os.fork() == 0:\n    time.sleep(60)\nelse:\n    print(flush=True)\n    time.sleep(60)"],
                              stdout=subprocess.PIPE, start_new_session=True)
    leader.stdout.readline()                       # the worker exists
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rec = Proc.of(leader.pid, "daemon")
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait()
        assert not rec.alive() and rec.orphans()   # the worker lives on in the group
        assert stop([rec], grace=1.0, group=True) == [rec]
        wait_until(lambda: not rec.orphans(), 5, what="the worker gone")
        assert bystander.poll() is None and stop([rec], group=True) == []
    finally:
        bystander.kill()
        bystander.wait()


def test_own_processes_stop_the_workers_of_a_leader_that_died_first():
    """A rig's daemon (Kamailio in bench/pbx.py) killed mid-run leaves its workers; the rig's
    OwnProcesses.stop() still ends them: it recorded the leader when it started."""
    from labkit.procs import OwnProcesses, group_members

    with OwnProcesses() as own:
        leader = own.spawn([sys.executable, "-c", "import os, time\nos.fork()\ntime.sleep(60)"])
        wait_until(lambda: len(group_members(leader.pid)) == 2, 10, what="the leader and its worker")
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait()
        assert group_members(leader.pid)            # the worker is still there
    assert group_members(leader.pid) == []


@pytest.mark.lab
def test_kill_at_every_recorded_process_of_an_ovs_bring_up_then_clean_leaves_nothing():
    """The trunk loop (two switches, each with a private ovsdb-server and ovs-vswitchd):
    SIGKILL `labkit up` as the k-th process lands in the lab's record, for every k, then
    `labkit clean --lab`. The OVS daemons, their sockets and databases must all go."""
    from labkit.lab.state import LabState

    inst, topo = "killovs", str(ROOT / "tests/topologies/trunk-loop.yaml")
    labkit_cli("clean", "--lab", inst)
    veths = root_veths()

    def up() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "labkit.cli", "up", topo, "--lab", inst],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)

    def recorded() -> int:
        try:
            st = LabState.load(inst)
        except Exception:      # caught mid-write: read again
            return -1
        return len(st.procs) if st else 0

    full = up()
    assert full.wait(timeout=UP_TIMEOUT) == 0
    total = recorded()
    assert any(p.what.endswith("ovs-vswitchd") for p in LabState.load(inst).procs)
    labkit_cli("clean", "--lab", inst, timeout=60)
    assert leftovers(inst) == []

    failures = {}
    for k in range(1, total + 1):
        proc = up()
        try:
            wait_until(lambda: recorded() >= k or proc.poll() is not None, UP_TIMEOUT, 0.002,
                       what=f"process {k} recorded")
        finally:
            proc.kill()
            proc.wait(30)
        labkit_cli("clean", "--lab", inst, timeout=60)
        left = leftovers(inst) + [f"root veth {v}" for v in sorted(root_veths() - veths)]
        if left:
            failures[k] = left
            labkit_cli("clean", "--lab", inst, "--force", timeout=60, check=False)
    print(f"{total} kill points; leftovers at {len(failures)}")
    assert failures == {}
