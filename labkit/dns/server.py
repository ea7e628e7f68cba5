"""The embedded authoritative server: asyncio UDP + TCP around ``Authority``.

Why it is fast enough to compare with BIND: a DNS answer depends only on the query bytes
after the ID (flags, question, EDNS record) and on the transport. So the first answer to
a given query is computed by ``Authority`` and cached keyed by ``wire[2:]``; every later
answer is a dict lookup with the two ID bytes patched in. The cache is bounded and is
dropped whole when full (a query flood of random names must not eat the memory).
Several processes can share the port with SO_REUSEPORT (``workers``).
"""
from __future__ import annotations

import asyncio
import os
import socket
import struct

from labkit.procs import Proc, stop

from .authority import Authority

CACHE_MAX = 50_000
TCP_IDLE = 10.0
TCP_MAX_CONN = 256


class AnswerCache:
    def __init__(self, authority: Authority, udp: bool, size: int = CACHE_MAX):
        self.authority, self.udp, self.size = authority, udp, size
        self.cache: dict[bytes, bytes | None] = {}

    def answer(self, data: bytes) -> bytes | None:
        if self.size <= 0:
            return self.authority.respond(data, udp=self.udp)
        k = data[2:]
        hit = self.cache.get(k, False)
        if hit is False:
            hit = self.authority.respond(data, udp=self.udp)
            if hit is not None:
                hit = hit[2:]
            if len(self.cache) >= self.size:
                self.cache.clear()
            self.cache[k] = hit
        if hit is None:
            return None
        return data[:2] + hit


class UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, cache: AnswerCache):
        self.cache = cache
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        try:
            out = self.cache.answer(data)
        except Exception:
            return
        if out is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc):   # ICMP unreachable from a gone client: ignore
        pass


class TCPHandler:
    """Many queries per connection, answered in order; idle connections are closed."""

    def __init__(self, cache: AnswerCache):
        self.cache = cache
        self.conns = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if self.conns >= TCP_MAX_CONN:
            writer.close()
            return
        self.conns += 1
        try:
            while True:
                try:
                    hdr = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                    (n,) = struct.unpack("!H", hdr)
                    data = await asyncio.wait_for(reader.readexactly(n), TCP_IDLE)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    break
                out = self.cache.answer(data)
                if out is not None:
                    writer.write(struct.pack("!H", len(out)) + out)
                    await writer.drain()
        except Exception:
            pass
        finally:
            self.conns -= 1
            try:
                writer.close()
            except Exception:
                pass


def _udp_socket(addr: str, port: int, reuseport: bool) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((addr, port))
    s.setblocking(False)
    return s


def _tcp_socket(addr: str, port: int, reuseport: bool) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((addr, port))
    s.listen(128)
    s.setblocking(False)
    return s


class _ReaderHandle:
    def __init__(self, loop, sock):
        self.loop, self.sock = loop, sock

    def close(self):
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


def _drain(sock: socket.socket, cache: AnswerCache, batch: int = 256) -> None:
    """Answer every datagram waiting on the socket (up to ``batch``) in one callback.

    Why not DatagramProtocol: its per-datagram transport machinery costs more than our
    cached answer does; a reader callback that drains the socket measured ~1.5-2x the
    queries per second (bench/dns.py). Replies that would block are dropped, as a UDP
    server under overload must."""
    recv, send, answer = sock.recvfrom, sock.sendto, cache.answer
    for _ in range(batch):
        try:
            data, addr = recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            continue
        try:
            out = answer(data)
            if out is not None:
                send(out, addr)
        except (BlockingIOError, OSError):
            pass
        except Exception:
            pass


async def serve(authority: Authority, listen: list[tuple[str, int]], reuseport: bool = False,
                ready=None, fast_udp: bool = True, cache_size: int = CACHE_MAX) -> None:
    """Serve until cancelled. ``ready`` (a callable) is called once all sockets listen."""
    loop = asyncio.get_running_loop()
    udp_cache, tcp_cache = AnswerCache(authority, True, cache_size), AnswerCache(authority, False, cache_size)
    servers, transports = [], []
    for addr, port in listen:
        if fast_udp:
            sock = _udp_socket(addr, port, reuseport)
            loop.add_reader(sock.fileno(), _drain, sock, udp_cache)
            transports.append(_ReaderHandle(loop, sock))
        else:
            tr, _ = await loop.create_datagram_endpoint(lambda: UDPProtocol(udp_cache),
                                                        sock=_udp_socket(addr, port, reuseport))
            transports.append(tr)
        servers.append(await asyncio.start_server(TCPHandler(tcp_cache), sock=_tcp_socket(addr, port, reuseport)))
    if ready:
        ready()
    try:
        await asyncio.Event().wait()
    finally:
        for tr in transports:
            tr.close()
        for s in servers:
            s.close()


def run_workers(make_authority, listen: list[tuple[str, int]], workers: int = 1,
                cache_size: int = CACHE_MAX, fast_udp: bool = True) -> None:
    """Run ``workers`` processes on the same ports (SO_REUSEPORT). Blocks; the children die
    with the parent (PR_SET_PDEATHSIG) so stopping the recorded PID stops them all."""
    import signal
    children = []
    if workers > 1:
        for _ in range(workers - 1):
            pid = os.fork()
            if pid == 0:
                _die_with_parent()
                _run_one(make_authority(), listen, True, cache_size, fast_udp)
                os._exit(0)
            children.append(pid)

    def _term(signum, frame):
        raise SystemExit(0)   # the finally below stops the workers
    signal.signal(signal.SIGTERM, _term)
    try:
        _run_one(make_authority(), listen, workers > 1, cache_size, fast_udp)
    finally:
        # our own forked children (not reaped yet, so their PIDs cannot be reused)
        stop([p for p in (Proc.of(c) for c in children) if p], grace=2.0)
        for c in children:
            try:
                os.waitpid(c, 0)
            except ChildProcessError:
                pass


def _die_with_parent() -> None:
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, 15)   # PR_SET_PDEATHSIG, SIGTERM
    except Exception:
        pass


def _run_one(authority: Authority, listen, reuseport: bool, cache_size: int = CACHE_MAX,
             fast_udp: bool = True) -> None:
    try:
        asyncio.run(serve(authority, listen, reuseport, cache_size=cache_size, fast_udp=fast_udp))
    except KeyboardInterrupt:
        pass
