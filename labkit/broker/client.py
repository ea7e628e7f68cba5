"""The student's side of the broker: one request per connection, the replies as they come.

    request(req)                     send one request; relay {"line"} replies; return the exit status
    run(lab, node, argv, input)      a command in a node of one's own lab, as oneself: CompletedProcess

A refusal raises BrokerError with the broker's message (nothing was changed).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

from .protocol import BrokerError, Request, encode
from .server import SOCKET


def _connect(req: Request, path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as e:
        sock.close()
        raise BrokerError(f"no lab broker at {path} ({e.strerror}); ask the teacher to start it "
                          f"(labkit broker, as root)") from None
    sock.sendall(encode(req))
    sock.shutdown(socket.SHUT_WR)
    return sock


def _replies(sock: socket.socket) -> Iterator[tuple[dict, list[int]]]:
    """Each JSON line the broker sends, with the descriptors that came with it."""
    buf, fds = b"", []
    while True:
        while b"\n" not in buf:
            data, got, _, _ = socket.recv_fds(sock, 65536, 3)
            fds += got
            if not data:
                if buf:
                    raise BrokerError("the broker's reply was cut short")
                return
            buf += data
        line, buf = buf.split(b"\n", 1)
        yield json.loads(line), fds
        fds = []


def request(req: Request, path: Path = SOCKET, show: Callable[[str], None] = print) -> int:
    with _connect(req, path) as sock:
        for reply, _ in _replies(sock):
            if "line" in reply:
                show(reply["line"])
            elif "error" in reply:
                raise BrokerError(reply["error"])
            elif "exit" in reply:
                return int(reply["exit"])
    raise BrokerError("the broker closed the connection without an answer")


def run(lab: str, node: str, argv: list[str], input: str | None = None, timeout: float = 60,
        path: Path = SOCKET) -> subprocess.CompletedProcess:
    """`argv` in node `node` of the caller's lab `lab`, as the caller; output captured, text."""
    with _connect(Request(op="exec", name=lab, node=node, argv=tuple(argv)), path) as sock:
        sock.settimeout(timeout)
        replies = _replies(sock)
        for reply, fds in replies:
            if "error" in reply:
                raise BrokerError(reply["error"])
            if "pid" in reply:
                break
        else:
            raise BrokerError("the broker closed the connection without starting the command")
        stdin, stdout, stderr = (os.fdopen(fd, mode) for fd, mode in zip(fds, ("w", "r", "r")))
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.append(stderr.read()), daemon=True)
        reader.start()
        with stdin:
            stdin.write(input or "")
        with stdout:
            out = stdout.read()
        reader.join(timeout)
        stderr.close()
        for reply, _ in replies:
            if "exit" in reply:
                return subprocess.CompletedProcess(argv, int(reply["exit"]), out, "".join(err))
    raise BrokerError("the broker closed the connection before the command ended")


def main_exec(lab: str, node: str, argv: list[str]) -> int:
    """`labkit exec` for a student: the command's output on this terminal, its exit status."""
    p = run(lab, node, argv, sys.stdin.read() if not sys.stdin.isatty() else None)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p.returncode


#: the `labkit` commands a student runs through the broker, the same words as root's
BROKERED = ("up", "down", "status", "check", "exec")


def cli(args) -> int:
    """`labkit up|down|status|check|exec` for a user who is not root: the same command line,
    sent to the broker. Labs are named with --lab (a student may have several)."""
    if args.cmd == "status":
        return request(Request(op="status"))
    if args.cmd == "up":
        return request(Request(op="up", topology=args.topology, name=args.lab or args.topology))
    if not args.lab:
        raise BrokerError(f"name your lab: labkit {args.cmd} --lab NAME ... (labkit status lists yours)")
    if args.cmd == "exec":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            raise BrokerError("give the command to run: labkit exec --lab NAME NODE -- COMMAND ...")
        return main_exec(args.lab, args.node, command)
    return request(Request(op=args.cmd, name=args.lab))
