"""`labkit capture` without a lab: its argument parser (a generator of NODE[:IFACE] forms,
durations, counts and junk: a valid parse or a clear error, never a traceback), the pcap
stream counter, and the Capture lifecycle against a stand-in tcpdump (no namespace)."""
from __future__ import annotations

import contextlib
import io
import math
import os
import random
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from labkit import cli
from labkit.lab import capture as capmod
from labkit.lab.capture import Capture, CaptureError, PcapCounter, check_write_path, tcpdump_argv
from labkit.lab.loader import NAME_RE
from labkit.procs import wait_until

PARSER = cli.build_parser()


def parse(argv: list[str]):
    """(namespace, None) for a valid command line, (None, argparse's message) for a refused one."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return PARSER.parse_args(cli._signed_values(["capture", *argv])), None
        except SystemExit as exc:
            assert exc.code == 2, (argv, exc.code, err.getvalue())
    text = err.getvalue()
    assert "Traceback" not in text and text.startswith("usage: labkit"), (argv, text)
    start = max(text.rfind("\nlabkit capture: error: "), text.rfind("\nlabkit: error: "))
    assert start >= 0, (argv, text)
    return None, text[start + 1:].strip()


@pytest.mark.parametrize("argv, target, iface", [
    (["h1"], "h1", None),
    (["h1:eth0"], "h1", "eth0"),
    (["sw3550:Fa0/1"], "sw3550", "Fa0/1"),
    (["r1:any"], "r1", "any"),
    (["r-2:fa0-0.10"], "r-2", "fa0-0.10"),
])
def test_node_and_interface_forms(argv, target, iface):
    ns, err = parse(argv)
    assert err is None and ns.target == (target, iface)
    assert ns.fn is cli.cmd_capture and ns.write is None and ns.duration is None and ns.count is None


def test_every_option():
    ns, err = parse(["--lab", "x", "h1:eth0", "-w", "a.pcap", "--duration", "2.5s", "--filter", "icmp or arp"])
    assert err is None
    assert (ns.lab, ns.write, ns.duration, ns.count, ns.filter) == ("x", "a.pcap", 2.5, None, "icmp or arp")
    ns, err = parse(["h1", "-c", "7"])
    assert err is None and ns.count == 7
    ns, err = parse(["--list"])
    assert err is None and ns.list and ns.target is None


@pytest.mark.parametrize("argv, words", [
    (["H1"], "NODE must be a node name"),
    (["h1:"], "IFACE must be an interface name"),
    ([":eth0"], "NODE must be a node name"),
    (["h1:eth 0"], "IFACE must be"),
    (["h1", "--duration", "0"], "more than 0"),
    (["h1", "--duration", "-1"], "'-1': a duration must be more than 0"),
    (["h1", "--duration", "-0.5s"], "'-0.5s': a duration must be more than 0"),
    (["h1", "--duration", "nan"], "not a number of seconds"),
    (["h1", "--duration", "1e999"], "not a number of seconds"),
    (["h1", "--count", "0"], "from 1 to"),
    (["h1", "--count", "2.5"], "from 1 to"),
    (["h1", "--count", "99999999999"], "from 1 to"),
    (["h1", "--count", "3", "--duration", "2"], "not allowed with"),
    (["h1", "--filter", ""], "a filter is a tcpdump expression"),
    (["h1", "--filter", "icmp\nor arp"], "a filter is a tcpdump expression"),
    (["h1", "icmp", "and", "host"], "unrecognized arguments"),
])
def test_refusals_are_one_clear_line(argv, words):
    ns, err = parse(argv)
    assert ns is None and words in err, err


IFACE_OK = r"[A-Za-z][A-Za-z0-9_./-]{0,39}"
junk = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
names = st.one_of(st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True), junk)
ifaces = st.one_of(st.sampled_from(["eth0", "any", "lo", "Fa0/1", "fa0-0.10", "vlan2", "GigabitEthernet0/1"]),
                   st.from_regex(IFACE_OK, fullmatch=True), junk)
targets = st.one_of(names, st.builds(lambda n, i: f"{n}:{i}", names, ifaces))
numbers = st.one_of(st.integers(-5, 10**11).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["5s", ".5", "0.0", "1_0", "+3", " 4", "4 ", "0x10", "1e3", "s"]), junk)
options = st.lists(st.one_of(
    st.tuples(st.just("--duration"), numbers), st.tuples(st.just("--count"), numbers),
    st.tuples(st.just("-c"), numbers), st.tuples(st.just("--filter"), junk),
    st.tuples(st.just("-w"), st.sampled_from(["x.pcap", "/tmp/y.pcap"])),
    st.tuples(st.just("--list")), st.tuples(junk)), max_size=4)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(targets, options)
def test_generated_command_lines_parse_or_are_refused_clearly(target, opts):
    argv = [target] + [w for opt in opts for w in opt]
    ns, err = parse(argv)
    if ns is None:
        assert err.startswith(("labkit capture: error: ", "labkit: error: "))
        return
    if ns.target is not None:
        node, iface = ns.target
        assert NAME_RE.fullmatch(node)
        assert iface is None or re.fullmatch(IFACE_OK, iface)
    assert ns.duration is None or (math.isfinite(ns.duration) and 0 < ns.duration <= 86400)
    assert ns.count is None or (isinstance(ns.count, int) and 1 <= ns.count < 2**31)
    assert ns.duration is None or ns.count is None
    assert ns.filter is None or (ns.filter.strip() and "\n" not in ns.filter)


def test_words_capture_does_not_take_are_refused_with_captures_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["capture", "h1", "icmp"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith("usage: labkit capture ") and \
        err.strip().endswith("labkit capture: error: unrecognized arguments: icmp"), err


def test_a_missing_lab_is_one_line_and_exit_2(capsys):
    if os.geteuid() != 0:
        pytest.skip("the capture command checks for root first")
    assert cli.main(["capture", "--lab", "nosuch-capt", "h1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labkit: no lab 'nosuch-capt' is up"), err


# -- the pcap stream counter --------------------------------------------------------------

def pcap_bytes(sizes: list[int], big_endian: bool = False, nano: bool = False) -> bytes:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 262144, 1)
    for i, n in enumerate(sizes):
        out += struct.pack(e + "IIII", i, 0, n, n) + bytes([i % 256]) * n
    return out


@pytest.mark.parametrize("big, nano", [(False, False), (True, False), (False, True), (True, True)])
def test_pcap_counter_counts_records_fed_in_any_pieces(big, nano):
    rng = random.Random(14)
    for _ in range(50):
        sizes = [rng.randrange(0, 1600) for _ in range(rng.randrange(0, 20))]
        data = pcap_bytes(sizes, big, nano)
        c, i, seen = PcapCounter(), 0, 0
        while i < len(data):
            step = rng.randrange(1, 300)
            seen += c.feed(data[i:i + step])
            i += step
            assert c.packets <= len(sizes)
        assert c.packets == seen == len(sizes)


def test_pcap_counter_holds_back_a_partial_record_and_refuses_junk():
    data = pcap_bytes([100, 100])
    c = PcapCounter()
    assert c.feed(data[:-1]) == 1
    assert c.feed(data[-1:]) == 1 and c.packets == 2
    with pytest.raises(CaptureError, match="not a pcap stream"):
        PcapCounter().feed(b"\x00" * 24)


def test_pcap_counter_agrees_with_scapy(tmp_path):
    from scapy.all import ICMP, IP, Ether, rdpcap, wrpcap

    pkts = [Ether() / IP(dst=f"10.0.0.{i}") / ICMP() for i in range(1, 9)]
    wrpcap(str(tmp_path / "a.pcap"), pkts)
    c = PcapCounter()
    c.feed((tmp_path / "a.pcap").read_bytes())
    assert c.packets == len(rdpcap(str(tmp_path / "a.pcap"))) == 8


# -- tcpdump's command line and the output path -----------------------------------------------

def test_tcpdump_argv_puts_the_filter_after_double_dash():
    argv = tcpdump_argv("eth0", "-c 5 or icmp", 3)
    assert argv[:2] == ["tcpdump", "-n"] and "--immediate-mode" in argv
    assert argv[argv.index("-i") + 1] == "eth0" and argv[argv.index("-c") + 1] == "3"
    assert argv[-2:] == ["--", "-c 5 or icmp"] and argv[argv.index("-w") + 1] == "-" and "-U" in argv
    assert "--" not in tcpdump_argv("any") and "-c" not in tcpdump_argv("any")
    text = tcpdump_argv("any", pcap=False)
    assert "-w" not in text and "-l" in text


def test_write_paths_are_checked_before_anything_starts(tmp_path):
    assert check_write_path(tmp_path / "a.pcap") == tmp_path / "a.pcap"
    with pytest.raises(CaptureError, match="is a directory"):
        check_write_path(tmp_path)
    with pytest.raises(CaptureError, match="does not exist"):
        check_write_path(tmp_path / "no" / "a.pcap")


def test_bad_python_arguments_are_value_errors():
    node = FakeNode(Path("/nonexistent"))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="count"):
            Capture(node, "eth0", count=bad)
    with pytest.raises(ValueError, match="duration= or count="):
        capmod.capture(node, "eth0")
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="duration"):
            capmod.capture(node, "eth0", duration=bad)


# -- the lifecycle against a stand-in tcpdump ---------------------------------------------------

FAKE_TCPDUMP = textwrap.dedent(r'''
    import signal, struct, sys, time
    argv = sys.argv[1:]
    bpf = argv[argv.index("--") + 1] if "--" in argv else ""
    count = int(argv[argv.index("-c") + 1]) if "-c" in argv else None
    if bpf == "bad":   # as tcpdump on `any` says it: an information line first, then the error
        sys.stderr.write("tcpdump: data link type LINUX_SLL2\n")
        sys.stderr.write("tcpdump: can't parse filter expression: syntax error\n"); sys.exit(1)
    if "-d" in argv:   # the compiled filter, and nothing captured
        print("(000) ret      #262144"); sys.exit(0)
    stop = []
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    out = sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)); out.flush()
    sys.stderr.write(f"tcpdump: listening on {argv[argv.index('-i') + 1]}, link-type EN10MB\n")
    sys.stderr.flush()
    n = 0
    while not stop and (count is None or n < count) and n < (2 if bpf == "quiet" else 10**6):
        out.write(struct.pack("<IIII", n, 0, 60, 60) + b"\x00" * 60); out.flush(); n += 1
        time.sleep(0.01)
    while not stop and count is None:
        time.sleep(0.01)
    sys.stderr.write(f"{n} packets captured\n{n} packets received by filter\n0 packets dropped by kernel\n")
''')


class FakeNode:
    """A node whose 'namespace' is this one and whose tcpdump is the stand-in above."""

    name = "fake"

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.recorded: list[tuple[int, str]] = []
        self.ran: list[list[str]] = []

    def record_pid(self, pid: int, what: str) -> None:
        self.recorded.append((pid, what))

    def run(self, argv, **kw):
        import subprocess
        self.ran.append(list(argv))
        if argv[0] == "tcpdump":
            return subprocess.run([sys.executable, "-c", FAKE_TCPDUMP, *argv[1:]], capture_output=True,
                                  text=True)
        return subprocess.CompletedProcess(argv, 0, '[{"ifname": "lo", "operstate": "UNKNOWN", "addr_info": '
                                           '[{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}],'
                                           ' "flags": ["LOOPBACK", "UP", "LOWER_UP"]},'
                                           '{"ifname": "eth0", "operstate": "UP", "address": "aa:bb:cc:dd:ee:ff",'
                                           ' "addr_info": [], "flags": ["BROADCAST", "UP", "LOWER_UP"]},'
                                           '{"ifname": "eth1", "operstate": "DOWN", "address": "aa:bb:cc:dd:ee:01",'
                                           ' "addr_info": [], "flags": ["BROADCAST"]}]', "")

    def popen(self, argv, **kw):
        import subprocess
        assert argv[0] == "tcpdump"
        return subprocess.Popen([sys.executable, "-c", FAKE_TCPDUMP, *argv[1:]], **kw)


def test_interfaces_lists_name_state_and_addresses(tmp_path):
    assert capmod.interfaces(FakeNode(tmp_path)) == [
        {"name": "lo", "state": "UNKNOWN", "up": True, "mac": "", "addresses": ["127.0.0.1/8"]},
        {"name": "eth0", "state": "UP", "up": True, "mac": "aa:bb:cc:dd:ee:ff", "addresses": []},
        {"name": "eth1", "state": "DOWN", "up": False, "mac": "aa:bb:cc:dd:ee:01", "addresses": []}]


def test_count_stops_by_itself_and_the_pid_is_recorded_first(tmp_path):
    node = FakeNode(tmp_path)
    pkts = capmod.capture(node, "eth0", count=5)
    assert len(pkts) == 5
    assert len(node.recorded) == 1 and node.recorded[0][1] == "capture-eth0/tool"
    assert list(tmp_path.iterdir()) == []       # the temporary pcap is gone


def test_context_manager_stops_with_sigint_and_keeps_the_file(tmp_path):
    node = FakeNode(tmp_path)
    with Capture(node, "eth0", write=tmp_path / "k.pcap") as cap:
        assert cap.running()
        wait_until(lambda: cap.written >= 3, 10)
    assert not cap.running() and cap.written >= 3
    assert cap.stats["captured"] == cap.written == len(cap.packets)
    assert (tmp_path / "k.pcap").stat().st_size == 24 + 76 * cap.written


def test_a_quiet_link_gives_the_packets_it_had(tmp_path):
    cap = Capture(FakeNode(tmp_path), "any", bpf="quiet").start()
    assert cap.wait(0.3) is False
    assert len(cap.stop().packets) == 2


@pytest.mark.parametrize("iface", ["eth0", "any"])
def test_bad_filter_is_tcpdumps_own_line_and_leaves_no_file(tmp_path, iface):
    # on `any` tcpdump first says "data link type LINUX_SLL2": that is not the reason
    node = FakeNode(tmp_path)
    with pytest.raises(CaptureError) as exc:
        Capture(node, iface, bpf="bad", write=tmp_path / "x.pcap").start()
    assert str(exc.value) == f"fake:{iface}: tcpdump: can't parse filter expression: syntax error"
    assert list(tmp_path.iterdir()) == []
    assert ["tcpdump", "-d", "-i", iface, "--", "bad"] in node.ran
    assert node.recorded == []        # refused by `tcpdump -d`: no capture was started


@pytest.mark.parametrize("stderr, says", [
    (["tcpdump: data link type LINUX_SLL2", "tcpdump: can't parse filter expression: syntax error"],
     "tcpdump: can't parse filter expression: syntax error"),
    (["tcpdump: verbose output suppressed, use -v[v]... for full protocol decode",
      "listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes",
      "tcpdump: pcap_loop: The interface disappeared", "0 packets captured"],
     "tcpdump: pcap_loop: The interface disappeared"),
    (["Cannot open network namespace: No such file"], "Cannot open network namespace: No such file"),
    (["tcpdump: data link type LINUX_SLL2"], "tcpdump exited with status 1"),
    ([], "tcpdump exited with status 1"),
])
def test_tcpdump_error_is_the_reason_not_an_information_line(stderr, says):
    assert capmod.tcpdump_error(stderr, 1) == says


def test_a_down_interface_is_refused_with_the_reason_and_the_way_round(tmp_path):
    node = FakeNode(tmp_path)
    with pytest.raises(CaptureError) as exc:
        Capture(node, "eth1").start()
    msg = str(exc.value)
    assert msg.startswith("fake:eth1 is down") and "tcpdump cannot open a device that is down" in msg
    assert "labkit link fake PEER up" in msg and "capture on fake (any)" in msg and "\n" not in msg
    assert node.recorded == []


def test_running_lists_the_live_captures_of_a_record(tmp_path):
    from labkit.procs import Proc

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        procs = [Proc.of(live.pid, "h1/capture-any/tool"), Proc.of(live.pid, "h1/dnsmasq"),
                 Proc.of(live.pid, "sw/capture-fa0-0.10/tool"), Proc(live.pid + 10**6, 1, "h2/capture-eth0/tool")]
        assert capmod.running(procs) == [{"node": "h1", "iface": "any", "pid": live.pid},
                                         {"node": "sw", "iface": "fa0-0.10", "pid": live.pid}]
        # what Capture records is what running() reads
        node = FakeNode(tmp_path)
        cap = Capture(node, "eth0").start()
        try:
            pid, what = node.recorded[0]
            assert capmod.running([Proc.of(pid, f"h1/{what}")]) == [{"node": "h1", "iface": "eth0", "pid": pid}]
        finally:
            cap.stop()
    finally:
        live.kill()
        live.wait()


def test_unknown_interface_names_the_ones_there_are(tmp_path):
    with pytest.raises(CaptureError, match=r"fake has no interface 'eth9' \(it has: lo, eth0, eth1, any\)"):
        Capture(FakeNode(tmp_path), "eth9").start()


def test_text_mode_hands_over_lines_and_keeps_no_packets(tmp_path):
    class TextNode(FakeNode):
        def popen(self, argv, **kw):
            import subprocess
            assert "-l" in argv and "-w" not in argv
            script = ("import sys,time,signal; signal.signal(signal.SIGINT, lambda *a: sys.exit(0)); "
                      "sys.stderr.write('tcpdump: listening on any\\n'); sys.stderr.flush(); "
                      "[print(f'IP {i}', flush=True) for i in range(3)]; time.sleep(30)")
            return subprocess.Popen([sys.executable, "-c", script], **kw)
    lines: list[str] = []
    cap = Capture(TextNode(tmp_path), "any", text=True, on_line=lines.append).start()
    wait_until(lambda: len(lines) == 3, 10)
    cap.stop()
    assert lines == ["IP 0", "IP 1", "IP 2"] and cap.written == 3
    with pytest.raises(CaptureError, match="text capture"):
        cap.packets
