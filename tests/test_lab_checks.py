"""labkit.lab.checks: the verdicts of the engine's check kinds, and the report table.

A check context needs only `node(name)`, `address(target)` and `udp_payload(port)`, so
the verdict logic runs here without a lab: ping's exit status is given, and the port
probes go to real sockets on 127.0.0.1 (a node whose namespace is None probes from the
caller's own namespace, which for these tests is loopback only).
"""
from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from labkit.lab.checks import no_reach, port_closed, port_open, reach, run_checks
from labkit.lab.errors import Where
from labkit.lab.model import Check
from labkit.procs import free_port


class Node:
    netns = None                      # probe from our own namespace (loopback)

    def __init__(self, ping_rc: int = 0):
        self.ping_rc = ping_rc
        self.argvs: list[list[str]] = []

    def run(self, argv):
        self.argvs.append(argv)
        return subprocess.CompletedProcess(argv, self.ping_rc, "", "")


class Ctx:
    def __init__(self, node: Node, payload: bytes = b"hello"):
        self.n, self.payload = node, payload

    def node(self, name):
        assert name == "h1"
        return self.n

    def address(self, target):
        return {"h2": "127.0.0.1"}.get(target, target)

    def udp_payload(self, port):
        return self.payload


PING = {"from": "h1", "to": "10.0.9.9", "timeout": 1.0}


@pytest.mark.parametrize("rc,reach_ok,no_reach_ok,detail", [
    (0, True, False, "10.0.9.9 answers ping"),
    (1, False, True, "10.0.9.9 does not answer ping"),
])
def test_reach_and_no_reach_verdicts(rc, reach_ok, no_reach_ok, detail):
    node = Node(rc)
    assert reach(Ctx(node), PING) == (reach_ok, detail)
    assert no_reach(Ctx(node), PING) == (no_reach_ok, detail)
    assert node.argvs == [["ping", "-c", "2", "-i", "0.2", "-W", "1", "-q", "10.0.9.9"]] * 2


def test_ping_timeout_is_passed_as_given():
    node = Node(0)
    reach(Ctx(node), dict(PING, timeout=2.5))
    assert node.argvs[0][5:7] == ["-W", "2.5"]


def test_tcp_port_open_and_closed_verdicts():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        p = {"from": "h1", "to": "h2", "port": f"{port}/tcp", "timeout": 1.0}
        assert port_open(Ctx(Node()), p) == (True, f"127.0.0.1 {port}/tcp accepts connections")
        assert port_closed(Ctx(Node()), p) == (False, f"127.0.0.1 {port}/tcp accepts connections")
    port = free_port()                # nothing listens there now: the kernel refuses
    p = {"from": "h1", "to": "h2", "port": f"{port}/tcp", "timeout": 1.0}
    assert port_open(Ctx(Node()), p) == (False, f"127.0.0.1 {port}/tcp refused (ECONNREFUSED)")
    assert port_closed(Ctx(Node()), p) == (True, f"127.0.0.1 {port}/tcp refused (ECONNREFUSED)")


@pytest.mark.parametrize("rc, verdict", [(111, "refused (ECONNREFUSED)"), (101, "unreachable (ENETUNREACH)"),
                                         (113, "unreachable (EHOSTUNREACH)")])
def test_only_a_reset_is_called_refused(monkeypatch, rc, verdict):
    """connect() failing with an ICMP error (net or host unreachable) is no refusal: only a
    RST is (ECONNREFUSED)."""
    class Refusing:
        def settimeout(self, t): pass
        def connect_ex(self, addr): return rc
        def close(self): pass
        def __enter__(self): return self
        def __exit__(self, *a): pass

    import labkit.lab.checks as checks
    monkeypatch.setattr(checks, "open_socket", lambda kind, ns: Refusing())
    p = {"from": "h1", "to": "h2", "port": "25/tcp", "timeout": 1.0}
    assert port_open(Ctx(Node()), p) == (False, f"127.0.0.1 25/tcp {verdict}")


def test_udp_port_open_needs_a_reply_to_the_plugins_payload():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.settimeout(5)
        port = srv.getsockname()[1]
        got = []

        def answer_once():
            data, peer = srv.recvfrom(100)
            got.append(data)
            srv.sendto(b"reply", peer)

        t = threading.Thread(target=answer_once)
        t.start()
        p = {"from": "h1", "to": "h2", "port": f"{port}/udp", "timeout": 2.0}
        assert port_open(Ctx(Node(), payload=b"dns query"), p) == (True, f"127.0.0.1 {port}/udp replies")
        t.join(5)
        assert got == [b"dns query"]
    port = free_port(socket.SOCK_DGRAM)
    p = {"from": "h1", "to": "h2", "port": f"{port}/udp", "timeout": 2.0}
    assert port_closed(Ctx(Node()), p) == (True, f"127.0.0.1 {port}/udp port unreachable")


def test_run_checks_reports_each_verdict_with_its_line():
    where = Where("lab.yaml", 12)
    checks = [Check("reach", dict(PING), where, "reach h1 -> 10.0.9.9"),
              Check("no_reach", dict(PING), Where("lab.yaml", 13), "no_reach h1 -> 10.0.9.9")]
    seen = []
    report = run_checks(Ctx(Node(0)), checks, seen.append)
    assert seen == ["check reach h1 -> 10.0.9.9", "check no_reach h1 -> 10.0.9.9"]
    assert [(r.ok, r.line) for r in report.results] == [(True, 12), (False, 13)]
    assert not report.ok
    assert report.table().splitlines() == [
        "#  check                    result  detail",
        "1  reach h1 -> 10.0.9.9     PASS    10.0.9.9 answers ping",
        "2  no_reach h1 -> 10.0.9.9  FAIL    10.0.9.9 answers ping",
        "1/2 checks passed"]
