"""Tiny DNS client helpers over UDP/TCP (loopback or inside a lab namespace)."""
from __future__ import annotations

import socket
import struct
import time

from dnslib import DNSRecord


def udp_exchange(data: bytes, addr: str, port: int, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (addr, port))
        try:
            return s.recv(65535)
        except socket.timeout:
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


def tcp_exchange_many(messages: list[bytes], addr: str, port: int, timeout: float = 3.0) -> list[bytes | None]:
    """Send several queries on ONE TCP connection (pipelined), read the replies by ID."""
    with socket.create_connection((addr, port), timeout=timeout) as s:
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


def tcp_exchange(data: bytes, addr: str, port: int, timeout: float = 3.0) -> bytes | None:
    return tcp_exchange_many([data], addr, port, timeout)[0]


def wait_udp_ready(addr: str, port: int, timeout: float = 10.0, proc=None) -> bool:
    """Poll with an SOA/. query until anything answers (any rcode counts as alive)."""
    q = DNSRecord.question(".", "SOA").pack()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if udp_exchange(q, addr, port, 0.2) is not None:
            return True
        time.sleep(0.05)
    return False
