"""Tiny DNS client helpers over UDP/TCP, on loopback or from inside a lab namespace.

Every function takes ``ns``: None means the caller's own network namespace, a name means
the socket is created inside that named namespace (``ip netns``) and keeps living there,
so the lab's checks and readiness probes query a lab DNS server without a subprocess.
"""
from __future__ import annotations

import socket
import struct

from dnslib import DNSRecord

from labkit.lab.netns import open_socket
from labkit.procs import WaitTimeout, wait_until


def udp_ask(data: bytes, addr: str, port: int, timeout: float = 2.0, ns: str | None = None) -> bytes:
    """One datagram to addr:port and its reply; raises OSError (socket.timeout when
    nothing comes back, ConnectionRefusedError when the port is closed)."""
    with open_socket(socket.SOCK_DGRAM, ns) as s:
        s.settimeout(timeout)
        s.connect((addr, port))   # connected: an ICMP port-unreachable comes back as an error
        s.send(data)
        return s.recv(65535)


def udp_exchange(data: bytes, addr: str, port: int, timeout: float = 2.0,
                 ns: str | None = None) -> bytes | None:
    """`udp_ask`, with None for "no answer" (timeout or closed port)."""
    try:
        return udp_ask(data, addr, port, timeout, ns)
    except (socket.timeout, ConnectionRefusedError):
        return None


def recv_exact(s: socket.socket, n: int) -> bytes:
    """Read exactly n bytes from a stream socket (DNS over TCP frames); ConnectionError if it closes."""
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def tcp_exchange_many(messages: list[bytes], addr: str, port: int, timeout: float = 3.0,
                      ns: str | None = None) -> list[bytes | None]:
    """Send several queries on ONE TCP connection (pipelined), read the replies by ID."""
    with open_socket(socket.SOCK_STREAM, ns) as s:
        s.settimeout(timeout)
        s.connect((addr, port))
        s.sendall(b"".join(struct.pack("!H", len(m)) + m for m in messages))
        out: dict[bytes, bytes] = {}
        try:
            for _ in messages:
                (n,) = struct.unpack("!H", recv_exact(s, 2))
                msg = recv_exact(s, n)
                out[msg[:2]] = msg
        except (ConnectionError, socket.timeout):
            pass
    return [out.get(m[:2]) for m in messages]


def tcp_exchange(data: bytes, addr: str, port: int, timeout: float = 3.0,
                 ns: str | None = None) -> bytes | None:
    return tcp_exchange_many([data], addr, port, timeout, ns)[0]


def query(ns: str | None, server: str, name: str, qtype: str = "A", timeout: float = 2.0,
          tcp: bool = False, port: int = 53) -> DNSRecord:
    """One DNS query to `server` from namespace `ns`; the parsed reply.

    Raises OSError (a timeout when nothing answers, ConnectionRefusedError when the port
    is closed) so a caller can report "no answer from SERVER: why".
    """
    q = bytes(DNSRecord.question(name, qtype).pack())
    if not tcp:
        return DNSRecord.parse(udp_ask(q, server, port, timeout, ns))
    reply = tcp_exchange(q, server, port, timeout, ns)
    if reply is None:
        raise TimeoutError(f"no reply over TCP within {timeout:g} s")
    return DNSRecord.parse(reply)


def answers(addr: str, port: int, ns: str | None = None, timeout: float = 0.2) -> bool:
    """Does a DNS server answer on addr:port (UDP)? Any reply counts, whatever its rcode:
    the readiness probe of every DNS daemon labkit runs."""
    return udp_exchange(DNSRecord.question(".", "SOA").pack(), addr, port, timeout, ns) is not None


def wait_udp_ready(addr: str, port: int, timeout: float = 10.0, proc=None) -> bool:
    """Poll `answers` until the server replies; False on timeout or when `proc` exits first."""
    def state() -> str | None:
        if proc is not None and proc.poll() is not None:
            return "exited"
        return "ready" if answers(addr, port) else None
    try:
        return wait_until(state, timeout, 0.05, what=f"DNS answer on {addr}:{port}") == "ready"
    except WaitTimeout:
        return False
