"""The campus lesson's in-node code (the 3550 post): scapy probes run inside lab hosts, and
the echo server they talk to. The root-side lesson helpers that drive them (ACL counter
deltas, the probe matrix, the router outage) are in labkit.lessons.campus.

In-node probes (node.call("labkit.probes.campus:NAME", ...)), one packet per probe
so ACL counters move by exactly one:
    icmp(dst)            one echo request          -> "reply" | "no reply" | ICMP error
    tcp_syn(dst, port)   one SYN                   -> "SYN-ACK" | "RST" | "no reply"
    tcp_ack(dst, port)   one bare ACK (no session) -> "RST" | "no reply"
    udp(dst, port)       one datagram              -> "reply" | "port unreachable" | "no reply"
    tcp_session(dst, port)  a real connection through the kernel, with an echo

EchoServer (root side) starts `python -m labkit.probes.campus PORT` inside a node: the echo
server (TCP and UDP on PORT), stopped by its PID.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from labkit.lab.safety import require_lab_netns
from labkit.probes.icmp import describe

TIMEOUT = 1.0


def _scapy():
    from scapy.all import conf
    conf.verb = 0


def _icmp_error(reply) -> str:
    """"unreachable 3/13 (administratively prohibited) from 192.168.2.1": type, code, sender."""
    from scapy.all import ICMP
    return f"{describe(int(reply[ICMP].type), int(reply[ICMP].code))} from {reply.src}"


def icmp(dst: str, timeout: float = TIMEOUT) -> str:
    """One ICMP echo request."""
    require_lab_netns("campus icmp probe")
    _scapy()
    from scapy.all import ICMP, IP, sr1
    r = sr1(IP(dst=dst) / ICMP(id=0x4c4b, seq=1), timeout=timeout)
    if r is None:
        return "no reply"
    return "reply" if r[ICMP].type == 0 else _icmp_error(r)


def tcp_syn(dst: str, port: int, timeout: float = TIMEOUT) -> str:
    """One SYN, as a connection attempt starts. Our kernel resets the SYN-ACK (no socket)."""
    require_lab_netns("campus tcp probe")
    _scapy()
    from scapy.all import ICMP, IP, TCP, sr1
    r = sr1(IP(dst=dst) / TCP(sport=40000 + port % 1000, dport=port, flags="S", seq=1000), timeout=timeout)
    if r is None:
        return "no reply"
    if r.haslayer(TCP):
        f = r[TCP].flags
        return "SYN-ACK" if f.S and f.A else "RST" if f.R else f"flags {f}"
    return _icmp_error(r) if r.haslayer(ICMP) else "other"


def tcp_ack(dst: str, port: int, timeout: float = TIMEOUT) -> str:
    """One bare ACK that belongs to no connection: what `established` lets through."""
    require_lab_netns("campus tcp probe")
    _scapy()
    from scapy.all import IP, TCP, sr1
    r = sr1(IP(dst=dst) / TCP(sport=41000 + port % 1000, dport=port, flags="A", seq=1, ack=1), timeout=timeout)
    if r is None:
        return "no reply"
    return "RST" if r.haslayer(TCP) and r[TCP].flags.R else "other"


def udp(dst: str, port: int, payload: bytes = b"labkit\n", timeout: float = TIMEOUT) -> str:
    """One datagram: an echo answers, a closed port answers ICMP port unreachable."""
    require_lab_netns("campus udp probe")
    _scapy()
    from scapy.all import ICMP, IP, UDP, sr1
    r = sr1(IP(dst=dst) / UDP(sport=42000 + port % 1000, dport=port) / payload, timeout=timeout)
    if r is None:
        return "no reply"
    if r.haslayer(ICMP):
        return "port unreachable" if r[ICMP].type == 3 and r[ICMP].code == 3 else _icmp_error(r)
    return "reply"


def tcp_session(dst: str, port: int, timeout: float = 2.0) -> str:
    """A real TCP connection (the kernel's handshake) and one echoed line."""
    require_lab_netns("campus tcp session")
    try:
        with socket.create_connection((dst, port), timeout=timeout) as s:
            s.sendall(b"hello from the data VLAN\n")
            data = s.recv(100)
            return "connected, echo ok" if data.startswith(b"hello") else "connected, no echo"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return f"error: {e.strerror}"


# -- the echo server (runs as its own process inside a node) -----------------------------

def _serve(port: int) -> None:
    def udp_loop() -> None:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", port))
        while True:
            data, peer = u.recvfrom(2048)
            u.sendto(data, peer)

    def tcp_client(c: socket.socket) -> None:
        with c:
            while data := c.recv(4096):
                c.sendall(data)

    threading.Thread(target=udp_loop, daemon=True).start()
    t = socket.socket()
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", port))
    t.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = t.accept()
        threading.Thread(target=tcp_client, args=(c,), daemon=True).start()


@dataclass
class EchoServer:
    """TCP+UDP echo on `port` inside `node`; stop() kills exactly the PID it started."""
    node: object
    port: int = 7
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> "EchoServer":
        self.proc = self.node.popen([sys.executable, "-m", "labkit.probes.campus", str(self.port)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            self.stop()
            raise RuntimeError(f"echo server on {self.node.name}:{self.port} did not start")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> "EchoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
