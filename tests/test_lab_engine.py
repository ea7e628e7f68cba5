"""The engine end to end: real namespaces, real daemons, real packets (needs root)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.lab import Lab, ServiceError
from labkit.lab.errors import SafetyError
from labkit.lab.netns import in_netns
from labkit.lab.state import LabState

from labtest import ROOT, labkit_cli, leftovers

pytestmark = pytest.mark.lab
TINY = str(ROOT / "tests/topologies/tiny.yaml")


def test_shell_round_trip():
    labkit_cli("up", TINY, "--lab", "rt", "--replace")
    try:
        st = labkit_cli("status", "--lab", "rt").stdout
        assert "lk-rt-h1" in st and "10.0.0.10/24" in st and "h2/http" in st
        out = labkit_cli("exec", "--lab", "rt", "h1", "--", "ip", "-br", "addr").stdout
        assert "10.0.0.10/24" in out
        chk = labkit_cli("check", "--lab", "rt")
        assert "4/4 checks passed" in chk.stdout
    finally:
        labkit_cli("down", "--lab", "rt")
    assert leftovers("rt") == []


def test_check_exits_1_on_failure():
    lab = Lab.up(TINY, name="ckf", replace=True)
    try:
        # break the route: h1 can no longer reach h2, and `labkit check` must say so
        lab.node("h1").cmd("ip route del default")
        p = labkit_cli("check", "--lab", "ckf", check=False)
        assert p.returncode == 1
        lines = p.stdout.splitlines()
        assert "FAIL" in lines[1] and "FAIL" in lines[2] and "PASS" in lines[4]
        assert "2/4 checks passed" in p.stdout
    finally:
        lab.down()
    assert leftovers("ckf") == []


def test_kill_9_then_clean_leaves_nothing():
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, labkit; lab = labkit.Lab.up(sys.argv[1], name='k9', replace=True); "
         "print('UP', flush=True); time.sleep(600)", TINY],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "UP"
        state = LabState.load("k9")
        daemons = [p for p in state.procs if p.what == "h2/http"]
        assert daemons and all(Path(f"/proc/{p.pid}").exists() for p in daemons)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert leftovers("k9"), "the lab outlives its holder until cleaned"
    finally:
        if holder.poll() is None:
            holder.kill()
    labkit_cli("clean")
    assert leftovers("k9") == []
    for p in daemons:
        assert not Path(f"/proc/{p.pid}").exists() or LabState.load("k9") is None and _start(p.pid) != p.start


def _start(pid: int):
    from labkit.lab.state import start_time
    return start_time(pid)


def test_failed_dry_run_stops_bring_up_and_leaves_nothing():
    with pytest.raises(ServiceError) as info:
        Lab.up(str(ROOT / "tests/topologies/tiny-baddaemon.yaml"), replace=True)
    assert "tiny-baddaemon.yaml:" in str(info.value) and "named-checkconf" in str(info.value)
    assert "10.0.1.300" in str(info.value)   # the daemon's own message reaches the user
    assert leftovers("tinybad") == []


def test_service_ready_and_stopped_by_pid():
    with Lab.up(TINY, name="svc", replace=True) as lab:
        procs = [p for p in lab.state.procs if p.what == "h2/http"]
        assert len(procs) == 1
        out = lab.node("h1").cmd(f"{sys.executable} -c \"import urllib.request;print(urllib.request.urlopen('http://10.0.1.10:8080/').read().decode())\"")
        assert "<h1>h2</h1>" in out
        pid = procs[0].pid
    assert _start(pid) != procs[0].start
    assert leftovers("svc") == []


def test_second_up_of_same_instance_is_refused():
    with Lab.up(TINY, name="dup", replace=True):
        with pytest.raises(Exception) as info:
            Lab.up(TINY, name="dup")
        assert "already up" in str(info.value)
    assert leftovers("dup") == []


def test_scapy_probe_runs_inside_node_and_root_is_refused():
    from labkit.probes.icmp import ping

    with pytest.raises(SafetyError):
        ping("127.0.0.1", count=1)
    with Lab.up(TINY, name="scp", replace=True, services=False) as lab:
        res = lab.node("h1").call("labkit.probes.icmp:ping", "10.0.1.10", count=2)
        assert res["received"] == 2
        assert [r[1] for r in res["replies"]] == ["10.0.1.10", "10.0.1.10"]
        hops = lab.node("h1").call("labkit.probes.icmp:traceroute", "10.0.1.10")
        assert hops == [(1, "10.0.0.1"), (2, "10.0.1.10")]


def test_in_netns_socket_belongs_to_the_lab():
    import socket
    with Lab.up(TINY, name="ins", replace=True, services=False) as lab:
        with in_netns(lab.node("h2").netns):
            srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv.bind(("10.0.1.10", 9999))
        with in_netns(lab.node("h1").netns):
            cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cli.sendto(b"hi", ("10.0.1.10", 9999))
        srv.settimeout(2)
        data, (src, _) = srv.recvfrom(100)
        assert data == b"hi" and src == "10.0.0.10"
        srv.close(); cli.close()
    # the root namespace has no such address: binding it here must fail
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(OSError):
        s.bind(("10.0.1.10", 9999))
    s.close()


def test_no_lab_traffic_in_root_namespace():
    """Sniff every root-namespace interface while the lab pings and sends scapy traffic."""
    from scapy.all import AsyncSniffer

    lab_nets = ("1.2.3.", "192.168.", "198.41.0.", "100.64.", "10.0.")
    sniffer = AsyncSniffer(store=True, filter="ip or arp")
    sniffer.start()
    time.sleep(0.5)
    try:
        with Lab.up("seed", name="leak", replace=True) as lab:
            for src, dst in [("pc1", "198.41.0.4"), ("phone1", "198.41.0.4"), ("ec2", "198.41.0.4")]:
                assert " 0% packet loss" in lab.node(src).cmd(f"ping -c2 -i0.2 -W1 {dst}")
            assert "25/tcp accepts" in str(lab.check())  # TCP to the EC2 host through the NAT
            res = lab.node("pc1").call("labkit.probes.icmp:ping", "198.41.0.4", count=3)
            assert res["received"] == 3
            # an address outside the lab: no route, so nothing may leave
            assert "Network is unreachable" in lab.node("ec2").cmd("ping -c1 -W1 8.8.8.8") or \
                "100% packet loss" in lab.node("ec2").cmd("ping -c1 -W1 8.8.8.8")
    finally:
        time.sleep(0.3)
        packets = sniffer.stop()
    from scapy.all import ARP, IP
    leaked = [p.summary() for p in packets
              if (p.haslayer(IP) and (p[IP].src.startswith(lab_nets) or p[IP].dst.startswith(lab_nets)))
              or (p.haslayer(ARP) and p[ARP].pdst.startswith(lab_nets))]
    assert leaked == []
    assert leftovers("leak") == []


def test_clean_spares_a_lab_whose_owner_is_alive_unless_forced():
    lab = Lab.up(TINY, name="held", replace=True, services=False)
    try:
        out = labkit_cli("clean").stdout
        assert "held (held by pid" in out
        assert leftovers("held"), "a lab in use must survive a plain clean"
        assert " 0% packet loss" in lab.node("h1").cmd("ping -c1 -W1 10.0.1.10")
        out = labkit_cli("clean", "--force").stdout
        assert "removed: " in out and "held" in out
        assert leftovers("held") == []
    finally:
        lab.down()


def test_clean_lab_touches_that_lab_alone_and_up_labs_outlive_a_plain_clean():
    for inst in ("c1", "c2"):
        labkit_cli("up", TINY, "--lab", inst, "--replace", "--no-services")
    try:
        out = labkit_cli("clean").stdout   # labs from `labkit up` are kept until named
        assert "c1 (up from 'labkit up'" in out and "c2 (up from 'labkit up'" in out
        assert leftovers("c1") and leftovers("c2")
        out = labkit_cli("clean", "--lab", "c1").stdout
        assert "removed: c1" in out and "c2" not in out
        assert leftovers("c1") == []
        assert "lk-c2-h1" in labkit_cli("status", "--lab", "c2").stdout
        assert " 0% packet loss" in labkit_cli("exec", "--lab", "c2", "h1", "--", "ping", "-c1", "-W1",
                                               "10.0.1.10").stdout
        assert "no lab 'c1' is recorded" in labkit_cli("clean", "--lab", "c1").stdout
    finally:
        labkit_cli("clean", "--lab", "c1", check=False)
        labkit_cli("down", "--lab", "c2", check=False)
    assert leftovers("c2") == []


def test_down_ends_processes_in_the_namespaces_that_were_never_recorded():
    lab = Lab.up(TINY, name="stray", replace=True, services=False)
    try:
        # started behind labkit's back: no record names it, but its namespace is recorded
        stray = subprocess.Popen(lab.node("h1").argv(["sleep", "300"]), start_new_session=True)
        forked = lab.node("h2").popen(["sh", "-c", "sleep 300 & sleep 300"], start_new_session=True)
        from labkit.lab.netns import pids_in
        from labkit.procs import wait_until
        wait_until(lambda: len(pids_in(lab.node("h2").netns)) >= 2, 5, what="both sleeps in h2")
        inside = pids_in(lab.node("h1").netns) + pids_in(lab.node("h2").netns)
        assert stray.pid in inside and forked.pid in inside
    finally:
        assert lab.down() == []
    assert stray.wait(5) is not None and forked.wait(5) is not None
    assert all(_start(pid) is None for pid in inside)
    assert leftovers("stray") == []
