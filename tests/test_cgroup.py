"""A lab's cgroup (labkit.lab.cgroup) on this host's real cgroup v2: what joins it is ended
by remove(), forks and new sessions too, and clean's orphan search stays within a prefix.
Needs root."""
from __future__ import annotations

import os

import pytest

from labkit.lab import cgroup
from labkit.procs import OwnProcesses, start_gated, start_time, wait_until

pytestmark = pytest.mark.lab


@pytest.fixture
def names():
    made = [f"lkcgt{os.getpid() % 10000}-{i}" for i in range(3)]
    yield made
    for name in made:
        cgroup.remove(name)


def test_remove_ends_every_member_and_its_children_then_the_cgroup(names):
    if cgroup.hierarchy() is None:
        pytest.fail("this host has no cgroup v2 mount: the broker could not contain a student's command")
    p = start_gated(["sh", "-c", "setsid -f sleep 600; sleep 600"], lambda pid: cgroup.join(names[0], pid))
    try:
        wait_until(lambda: len(cgroup.members(names[0])) >= 2, 10, what="both sleeps")
        members = {pid: start_time(pid) for pid in cgroup.members(names[0])}
        assert cgroup.remove(names[0]) == []
    finally:
        p.kill()
        p.wait(5)
    assert not cgroup.path(names[0]).exists()
    assert all(start_time(pid) != t for pid, t in members.items())


def test_orphans_are_the_unrecorded_ones_under_the_prefix_only(names):
    with OwnProcesses() as own:
        for name in names:
            cgroup.join(name, own.spawn(["sleep", "600"]).pid)
        pre = names[0].split("-")[0] + "-"
        assert cgroup.orphans({names[1]}, pre) == sorted({names[0], names[2]})
        assert cgroup.orphans(set(names), pre) == []
        assert cgroup.orphans(set(), "nosuchprefix-") == []


def test_joining_where_no_cgroup_can_be_made_refuses_and_runs_nothing(monkeypatch, tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    monkeypatch.setattr(cgroup, "MOUNTS", mounts)
    with pytest.raises(cgroup.LabStateError, match="no cgroup v2 hierarchy"):
        cgroup.join("x", os.getpid())
    assert cgroup.remove("x") == [] and cgroup.orphans(set()) == []


def test_a_broker_without_cgroups_records_the_command_in_the_labs_record():
    """--no-cgroups (a pod per student): the command is on the lab's record instead, so
    teardown still ends it."""
    from labkit.broker.identity import Caller
    from labkit.broker.server import Broker
    from labkit.lab.state import LabState

    inst = f"u0-nocg{os.getpid() % 1000}"
    state = LabState(instance=inst, topology="seed", status="up")
    state.save()
    try:
        with OwnProcesses() as own:
            p = own.spawn(["sleep", "600"])
            Broker(cgroups=False)._contain(Caller(os.getpid(), 0, 0), inst, p.pid)
            assert [q.pid for q in LabState.load(inst).procs] == [p.pid]
            assert not cgroup.path(inst).exists()
            assert LabState.load(inst).destroy() == []
            assert p.wait(5) is not None
    finally:
        LabState(instance=inst, topology="seed").destroy()
