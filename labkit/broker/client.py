"""The student's side of the broker: one request per connection, the replies as they come.

    request(req)                     send one request; relay {"line"} replies; return the exit status
    describe(lab)                    one of one's labs from its record (what Lab.attach needs)
    exec_with(lab, node, argv, ...)  a command in a node of one's own lab, as oneself, on three
                                     descriptors of one's own (a terminal): its exit status

A refusal raises BrokerError with the broker's message (nothing was changed).
"""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Callable, Iterator

from .protocol import BrokerError, Request, encode
from .server import SOCKET


def _connect(req: Request, path: Path, fds: list[int] | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as e:
        sock.close()
        raise BrokerError(f"no lab broker at {path} ({e.strerror}); ask the teacher to start it "
                          f"(labkit broker, as root)") from None
    if fds:
        socket.send_fds(sock, [encode(req)], fds)
    else:
        sock.sendall(encode(req))
    sock.shutdown(socket.SHUT_WR)
    return sock


def _replies(sock: socket.socket) -> Iterator[dict]:
    """Each JSON line the broker sends."""
    buf = b""
    while True:
        while b"\n" not in buf:
            data = sock.recv(65536)
            if not data:
                if buf:
                    raise BrokerError("the broker's reply was cut short")
                return
            buf += data
        line, buf = buf.split(b"\n", 1)
        yield json.loads(line)


def _answer(sock: socket.socket, key: str, show: Callable[[str], None] | None = None):
    """The broker's reply `key` ("exit", "lab"), the {"line"} before it shown; a refusal raises."""
    for reply in _replies(sock):
        if "error" in reply:
            raise BrokerError(reply["error"])
        if key in reply:
            return reply[key]
        if "line" in reply and show is not None:
            show(reply["line"])
    raise BrokerError("the broker closed the connection without an answer")


def request(req: Request, path: Path = SOCKET, show: Callable[[str], None] = print) -> int:
    with _connect(req, path) as sock:
        return int(_answer(sock, "exit", show))


def describe(lab: str, path: Path = SOCKET) -> dict:
    """One of the caller's labs, from its record: instance, topology, status, netns."""
    with _connect(Request(op="describe", name=lab), path) as sock:
        return _answer(sock, "lab")


def exec_with(lab: str, node: str, argv: list[str], stdin: int, stdout: int, stderr: int) -> int:
    """`argv` in node `node` of the caller's lab `lab`, as the caller, on these three
    descriptors (handed to the broker, which hands them to the command); its exit status."""
    with _connect(Request(op="exec", name=lab, node=node, argv=tuple(argv)), SOCKET, [stdin, stdout, stderr]) as sock:
        return int(_answer(sock, "exit"))


def main_exec(lab: str, node: str, argv: list[str]) -> int:
    """`labkit exec` for a student: the command on this terminal (an interactive shell too)."""
    return exec_with(lab, node, argv, sys.stdin.fileno(), sys.stdout.fileno(), sys.stderr.fileno())


#: the `labkit` commands a student runs through the broker, the same words as root's
BROKERED = ("up", "down", "status", "check", "exec")


def cli(args) -> int:
    """`labkit up|down|status|check|exec` for a user who is not root: the same command line,
    sent to the broker. Labs are named with --lab (a student may have several)."""
    if args.cmd == "status":
        return request(Request(op="status", name=args.lab or "", json=args.json))
    if args.cmd == "up":
        return request(Request(op="up", topology=args.topology, name=args.lab or args.topology))
    if not args.lab:
        raise BrokerError(f"name your lab: labkit {args.cmd} --lab NAME ... (labkit status lists yours)")
    if args.cmd == "exec":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return main_exec(args.lab, args.node, command or ["bash"])     # a shell on one's own terminal
    return request(Request(op=args.cmd, name=args.lab))
