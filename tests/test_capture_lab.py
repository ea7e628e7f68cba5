"""`labkit capture` and `node.capture()` in a real lab (tests/topologies/tiny.yaml).

tcpdump runs inside the lab's nodes only; the one tcpdump in the root namespace here is
`tcpdump -r` on a file, which opens no interface. Needs root (network namespaces).
"""
from __future__ import annotations

import ipaddress
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labkit.lab import Lab
from labkit.lab.state import LabState
from labkit.procs import start_time, wait_until

from labtest import ROOT, labkit_cli, leftovers

pytestmark = pytest.mark.lab

TOPO = Path(__file__).parent / "topologies" / "tiny.yaml"
LAB = "capt"


@pytest.fixture(scope="module")
def lab():
    labkit_cli("up", str(TOPO), "--lab", LAB, "--replace", timeout=300)
    try:
        yield Lab.attach(LAB)
    finally:
        labkit_cli("down", "--lab", LAB, timeout=120)
        assert leftovers(LAB) == []


def ping(lab: Lab, src: str, dst: str, n: int = 1) -> None:
    p = lab.node(src).run(["ping", "-n", "-c", str(n), "-i", "0.2", "-W", "1", dst], timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def networks(lab: Lab) -> list[ipaddress.IPv4Network]:
    return [a.network for n in lab.topo.nodes.values() for a in n.addresses()]


# On-link addresses a lab's own kernels use and no router forwards: the unspecified source
# and the link-local multicast block (an interface coming up sends IGMPv3 reports from
# 0.0.0.0 to 224.0.0.22), and the limited broadcast.
ON_LINK = [ipaddress.ip_network(n) for n in ("0.0.0.0/32", "224.0.0.0/24", "255.255.255.255/32")]


def foreign_addresses(lab: Lab, packets) -> list[str]:
    """Every IPv4 address (IP and ARP) in the packets that is in none of the lab's subnets
    (nor on-link only: ON_LINK)."""
    from scapy.all import ARP, IP

    nets = networks(lab) + ON_LINK
    out = []
    for p in packets:
        addrs = [p[IP].src, p[IP].dst] if p.haslayer(IP) else []
        addrs += [p[ARP].psrc, p[ARP].pdst] if p.haslayer(ARP) else []
        out += [a for a in addrs if not any(ipaddress.ip_address(a) in n for n in nets)]
    return out


class Cli:
    """`labkit capture` running in the background; its stderr collected line by line."""

    def __init__(self, *args: str):
        self.p = subprocess.Popen([sys.executable, "-m", "labkit.cli", "capture", "--lab", LAB, *args],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.t = threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True)
        self.t.start()

    def listening(self) -> None:
        wait_until(lambda: any("capturing on" in l for l in self.err) or self.p.poll() is not None, 30,
                   what="labkit capture listening")
        assert self.p.poll() is None, self.err

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        out = self.p.stdout.read()
        rc = self.p.wait(timeout)
        self.t.join(10)
        return rc, out, "".join(self.err)


def tcpdump_read(path: Path) -> list[str]:
    """`tcpdump -r` on the file (root namespace, a file only: nothing is sent or sniffed)."""
    p = subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def test_cli_count_writes_a_pcap_scapy_and_tcpdump_open(lab, tmp_path):
    from scapy.all import ICMP, rdpcap

    f = tmp_path / "h1.pcap"
    cap = Cli("h1:eth0", "-w", str(f), "--count", "6", "--filter", "icmp")
    cap.listening()
    ping(lab, "h1", "10.0.1.10", 3)
    rc, out, err = cap.finish()
    assert rc == 0, err
    assert "6 packets captured on h1:eth0" in err and f"wrote {f}" in err and "(--count reached)" in err
    assert "(6 packets)" not in err        # the count once, not twice
    pkts = rdpcap(str(f))
    assert len(pkts) == 6 and all(p.haslayer(ICMP) for p in pkts)
    assert sorted(p[ICMP].type for p in pkts) == [0, 0, 0, 8, 8, 8]
    lines = tcpdump_read(f)
    assert len(lines) == 6 and all("10.0.0.10" in l and "10.0.1.10" in l for l in lines), lines
    assert foreign_addresses(lab, pkts) == []
    from scapy.all import IP
    assert foreign_addresses(lab, [IP(src="1.2.3.4", dst="10.0.0.10")]) == ["1.2.3.4"]   # the check bites


def test_cli_duration_on_any_holds_the_labs_packets_only(lab, tmp_path):
    from scapy.all import rdpcap

    f = tmp_path / "r1.pcap"
    cap = Cli("r1", "-w", str(f), "--duration", "2")
    cap.listening()
    t0 = time.monotonic()
    while cap.p.poll() is None and time.monotonic() - t0 < 10:
        ping(lab, "h1", "10.0.1.10")
    rc, out, err = cap.finish()
    assert rc == 0, err
    assert "captured on r1:any in 2." in err and "(--duration reached)" in err
    pkts = rdpcap(str(f))
    assert len(pkts) >= 4      # at least a request and its reply, each on both of r1's ports
    assert foreign_addresses(lab, pkts) == []
    assert len(tcpdump_read(f)) == len(pkts)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_stops_cleanly_on_a_signal(lab, tmp_path, sig):
    from scapy.all import rdpcap

    f = tmp_path / "sig.pcap"
    cap = Cli("h2:eth0", "-w", str(f))
    cap.listening()
    ping(lab, "h1", "10.0.1.10", 2)
    wait_until(lambda: f.exists() and f.stat().st_size > 24, 10, what="packets in the file")
    cap.p.send_signal(sig)
    rc, out, err = cap.finish()
    assert rc == 0, err
    assert "(interrupted)" in err and f"wrote {f}" in err
    pkts = rdpcap(str(f))
    assert len(pkts) >= 4 and foreign_addresses(lab, pkts) == []
    assert tcpdump_pids(lab, "h2") == []


def test_cli_without_a_file_prints_a_line_per_packet(lab):
    cap = Cli("h2", "--count", "2", "--filter", "icmp")
    cap.listening()
    ping(lab, "h1", "10.0.1.10")
    rc, out, err = cap.finish()
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and "ICMP echo request" in lines[0] and "ICMP echo reply" in lines[1], out
    assert "2 packets captured on h2:any" in err


def test_cli_list_shows_every_nodes_interfaces(lab):
    out = labkit_cli("capture", "--list", "--lab", LAB).stdout
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()[1:-1]}
    assert rows[("h1", "eth0")] == ["UP", "10.0.0.10/24"]
    assert rows[("r1", "eth1")] == ["UP", "10.0.1.1/24"]
    assert ("sw", "p1") in rows and ("h2", "lo") in rows
    assert out.splitlines()[0].split() == ["node", "interface", "state", "addresses"]
    one = labkit_cli("capture", "--list", "h1", "--lab", LAB).stdout
    assert {l.split()[0] for l in one.splitlines()[1:-1]} == {"h1"}


def tcpdump_pids(lab: Lab, node: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", lab.node(node).netns], capture_output=True, text=True).stdout
    found = []
    for pid in out.split():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "tcpdump":
                found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("args, words", [
    (["nosuch"], "labkit: no node 'nosuch' in lab capt (nodes: r1, sw, h1, h2)"),
    (["h1:eth9"], "labkit: h1 has no interface 'eth9' (it has: lo, eth0, any)"),
    (["h1:eth0", "--filter", "icmp and and"], "labkit: h1:eth0: tcpdump: can't parse filter expression: syntax error"),
    # on `any` tcpdump says "data link type LINUX_SLL2" first: the error is still the reason
    (["h1", "--filter", "icmpp or"], "labkit: h1:any: tcpdump: can't parse filter expression: syntax error"),
    (["h1", "-w", "/nonexistent-dir/x.pcap"], "labkit: /nonexistent-dir/x.pcap: directory /nonexistent-dir does not exist"),
    ([], "labkit: name a node: labkit capture NODE[:IFACE]"),
])
def test_errors_are_one_line_and_leave_nothing(lab, tmp_path, args, words):
    f = tmp_path / "never.pcap"
    p = labkit_cli("capture", "--lab", LAB, *args, *([] if "-w" in args else ["-w", str(f)]),
                   "--count", "1", check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and p.stderr.startswith(words), p.stderr
    assert not f.exists()
    assert tcpdump_pids(lab, "h1") == []


def test_a_port_that_is_down_is_refused_with_the_reason_and_any_still_works(lab):
    lab.link("h1", "r1").down()
    try:
        p = labkit_cli("capture", "--lab", LAB, "h1:eth0", "--count", "1", check=False)
        assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
        assert p.stderr.startswith("labkit: h1:eth0 is down") and "capture on h1 (any)" in p.stderr, p.stderr
        assert tcpdump_pids(lab, "h1") == []
        cap = Cli("h1", "--count", "2", "--filter", "icmp")     # `any` while the port is down ...
        cap.listening()
    finally:
        lab.link("h1", "r1").up()
    ping(lab, "h1", "10.0.1.10")                                  # ... sees it once it is up again
    rc, out, err = cap.finish()
    assert rc == 0 and len(out.splitlines()) == 2 and "eth0" in out, (out, err)


def test_list_leaves_out_open_vswitchs_own_devices():
    inst = "captovs"
    labkit_cli("up", str(TOPO.parent / "trunk-pair.yaml"), "--lab", inst, "--replace", "--no-services", timeout=300)
    try:
        out = labkit_cli("capture", "--list", "sw1", "--lab", inst).stdout
        names = {line.split()[1] for line in out.splitlines()[1:] if not line.startswith("(")}
        assert {"eth1", "eth2", "eth3", "lo"} <= names and not names & {"ovs-netdev", "lkbr"}, out
        assert "(not listed: lkbr, ovs-netdev: Open vSwitch's own devices" in out
        assert labkit_cli("exec", "--lab", inst, "sw1", "--", "ip", "link", "show", "lkbr").returncode == 0
    finally:
        labkit_cli("down", "--lab", inst, timeout=120)
    assert leftovers(inst) == []


def test_missing_lab_is_one_line():
    p = labkit_cli("capture", "--lab", "nosuchcapt", "h1", check=False)
    assert p.returncode == 2 and p.stderr.startswith("labkit: no lab 'nosuchcapt' is up") and \
        len(p.stderr.strip().splitlines()) == 1


def test_api_capture_and_capturing(lab, tmp_path):
    from scapy.all import ICMP, Ether, rdpcap

    h2 = lab.node("h2")
    with h2.capturing("eth0", bpf="icmp") as cap:      # listening when the block starts
        ping(lab, "h1", "10.0.1.10", 2)
    assert [p[ICMP].type for p in cap.packets] == [8, 0, 8, 0]
    assert all(p.haslayer(Ether) for p in cap.packets)   # a named port: real Ethernet frames
    assert list(h2.run_dir.glob("capture-*")) == []      # the temporary pcap is gone

    done = threading.Event()

    def traffic() -> None:
        while not done.is_set():
            ping(lab, "h1", "10.0.1.10")
    t = threading.Thread(target=traffic)
    t.start()
    try:
        pkts = lab.node("r1").capture("eth1", count=3, bpf="icmp", write=tmp_path / "api.pcap")
    finally:
        done.set()
        t.join(30)
    assert len(pkts) == 3 and len(rdpcap(str(tmp_path / "api.pcap"))) == 3
    assert foreign_addresses(lab, pkts) == []
    quiet = lab.node("h1").capture("eth0", duration=0.5, bpf="tcp port 9")
    assert len(quiet) == 0


def test_a_sigkilled_capture_leaves_nothing_after_clean(tmp_path):
    inst = "captk"
    labkit_cli("up", str(TOPO), "--lab", inst, "--replace", "--no-services", timeout=300)
    try:
        p = subprocess.Popen([sys.executable, "-m", "labkit.cli", "capture", "--lab", inst, "h1", "-w",
                              str(tmp_path / "k.pcap")], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        assert "capturing on h1:any" in p.stderr.readline()
        recorded = [q for q in LabState.load(inst).procs if q.what == "h1/capture-any/tool"]
        assert len(recorded) == 1 and recorded[0].alive()
        p.kill()
        p.wait(10)
        assert recorded[0].alive()        # tcpdump outlived the command that started it ...
        st = labkit_cli("status", "--lab", inst).stdout   # ... and status shows it to the teacher
        assert f"pid {recorded[0].pid:<8} running  capture h1:any (tcpdump)" in st, st
        js = json.loads(labkit_cli("status", "--lab", inst, "--json").stdout)
        assert js[0]["captures"] == [{"node": "h1", "iface": "any", "pid": recorded[0].pid}]
    finally:
        out = labkit_cli("clean", "--lab", inst, timeout=120).stdout
    assert f"removed: {inst}" in out
    assert start_time(recorded[0].pid) != recorded[0].start     # ... and clean ended it
    assert leftovers(inst) == []


def test_labkit_down_ends_a_running_capture():
    inst = "captd"
    labkit_cli("up", str(TOPO), "--lab", inst, "--replace", "--no-services", timeout=300)
    try:
        p = subprocess.Popen([sys.executable, "-m", "labkit.cli", "capture", "--lab", inst, "r1"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert "capturing on r1:any" in p.stderr.readline()
    finally:
        labkit_cli("down", "--lab", inst, timeout=120)
    assert p.wait(30) == 1
    assert "tcpdump ended by itself (the lab went down?)" in p.stderr.read()
    assert leftovers(inst) == []
