"""The broker daemon: a Unix socket anyone on the host may connect to, one request per
connection, each caller known by SO_PEERCRED (labkit.broker.identity).

Replies are JSON lines. `{"line": ...}` relays a line of the engine's output (bring-up
progress, check tables) while the request runs; the last line is `{"exit": N}` (the engine
command's exit status) or `{"error": MESSAGE}` (a refusal: nothing was changed). An `exec`
request carries three descriptors (SCM_RIGHTS), the command's stdin, stdout and stderr; the
reply is `{"pid": N}` once it runs, then its `{"exit": N}`.

The engine runs as it does for root, one `labkit` command per request with the caller's
instance prefix (LABKIT_INSTANCE_PREFIX): the prefix is the fence, so a request can name no
lab but the caller's own. A command the caller runs in a node (`exec`) runs as the caller, on the caller's own
stdin, stdout and stderr (sent with the request),
with CAP_NET_RAW alone (docs/notes/class.md says why not CAP_NET_ADMIN), and is recorded in
the lab's state before it may run (procs.start_gated).
"""
from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from labkit import paths
from labkit.diag import LabkitError
from labkit.lab import cgroup, loader
from labkit.lab.netns import NETNS_DIR
from labkit.lab.safety import NETNS_ENV
from labkit.lab.state import INSTANCE_PREFIX_ENV, RUN_ROOT, LabState
from labkit.procs import start_gated

from .identity import Caller, peer, uid_of
from .protocol import MAX_BYTES, BrokerError, Request, parse
from .quota import Quota

#: where the broker listens and its clients connect: LABKIT_BROKER, else /run/labkit/broker.sock
SOCKET = Path(os.environ.get("LABKIT_BROKER") or RUN_ROOT / "broker.sock")
#: seconds a client may take to send its request, or to take a reply line
IO_TIMEOUT = 10.0
#: requests served at once, for everyone and for one user (a user past it waits for its own)
MAX_ACTIVE, MAX_PER_USER = 64, 4
#: seconds between two rounds of reaping (Broker.reap)
REAP_EVERY = 2.0
#: what a student's command in a node may do beyond an ordinary user: raw sockets (scapy, tcpdump)
CAPS = "-all,+net_raw"


def send(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = (json.dumps(message) + "\n").encode()
    if fds:
        socket.send_fds(conn, [data], fds)
    else:
        conn.sendall(data)


def read_request(conn: socket.socket, fds: list[int]) -> bytes:
    """The request: everything up to the client's end of writing, refused past MAX_BYTES.
    Descriptors sent with it (at most 3: an exec's stdin, stdout, stderr) go to `fds`; the
    caller closes them."""
    chunks, size = [], 0
    while size <= MAX_BYTES:
        try:
            chunk, got, _, _ = socket.recv_fds(conn, 65536, 3)
        except TimeoutError:
            raise BrokerError(f"no complete request within {IO_TIMEOUT:g} s (send it, then end writing)") from None
        fds += got
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Broker:
    def __init__(self, quota: Quota | None = None, python: str = sys.executable, cgroups: bool = True):
        """`cgroups=False` is for a broker that serves one student in a container of their
        own (a pod per student): the container is the limit, and the host's cgroup tree is
        not the container's to write. Commands are then recorded in the lab's record."""
        self.quota = quota or Quota()
        self.python = python
        self.cgroups = cgroups
        self._locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
        self._per_user: dict[int, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(MAX_PER_USER))

    # -- what a caller has -------------------------------------------------------------
    def labs_of(self, caller: Caller) -> dict[str, int]:
        """The caller's labs: name (without the prefix) -> nodes. The broker itself has no
        prefix, so LabState.instances() lists every lab on the host."""
        out = {}
        for inst in LabState.instances():
            if inst.startswith(caller.prefix):
                state = LabState.load(inst)
                out[inst[len(caller.prefix):]] = len(state.netns) if state else 0
        return out

    def _own_lab(self, caller: Caller, name: str) -> LabState:
        state = LabState.load(caller.prefix + name)     # `name` is a checked name: no way out of the prefix
        if state is None:
            yours = ", ".join(sorted(self.labs_of(caller))) or "none"
            raise BrokerError(f"{caller.user}: you have no lab '{name}' (your labs: {yours})")
        return state

    # -- requests ----------------------------------------------------------------------
    def handle(self, conn: socket.socket, caller: Caller) -> None:
        with self._per_user[caller.uid]:
            self._handle(conn, caller)

    def _handle(self, conn: socket.socket, caller: Caller) -> None:
        fds: list[int] = []
        try:
            request = parse(read_request(conn, fds))
            if request.name.startswith(caller.prefix):   # the instance's name, as status shows it: the lab's
                request = replace(request, name=request.name[len(caller.prefix):])
            if request.op == "exec":
                self._exec(conn, caller, request, fds)
            else:
                getattr(self, f"_{request.op}")(conn, caller, request)
        except LabkitError as e:        # BrokerError, and a topology's file:line errors
            send(conn, {"error": str(e)})
        except OSError:
            raise                       # the caller went away: serve() drops the connection
        except Exception as e:          # a broker bug: the caller hears of it, the broker goes on
            print(f"labkit broker: {caller.user}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            send(conn, {"error": f"the broker failed on this request ({type(e).__name__}: {e}); "
                                 f"tell the teacher"})
        finally:
            for fd in fds:          # the broker never reads or writes a caller's descriptors
                os.close(fd)

    def _engine(self, conn: socket.socket, caller: Caller, *args: str) -> None:
        """One `labkit` command as root under the caller's prefix, its output relayed. It runs
        from / with -P (no directory of the broker's, or a student's, on its import path), and
        to its end even if the caller goes away: a bring-up is never left half made."""
        env = {**os.environ, INSTANCE_PREFIX_ENV: caller.prefix}
        p = subprocess.Popen([self.python, "-P", "-m", "labkit.cli", *args], env=env, cwd="/",
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert p.stdout is not None
        listening = True
        for line in p.stdout:
            if listening:
                try:
                    send(conn, {"line": line.rstrip("\n")})
                except OSError:
                    listening = False
        code = p.wait()
        if listening:
            send(conn, {"exit": code})

    def _up(self, conn: socket.socket, caller: Caller, req: Request) -> None:
        path = paths.topology(f"{req.topology}.yaml")
        nodes = len(loader.load(path).nodes)          # checked in full before anything starts
        owner = ["--owner", str(caller.pid)] if req.owned else []
        with self._locks[caller.uid]:                 # one bring-up per user at a time: the quota holds
            self.quota.admit(caller.user, self.labs_of(caller), req.name, nodes)
            self._engine(conn, caller, "up", str(path), "--lab", req.name, *owner)   # the file checked, not a name

    def _down(self, conn: socket.socket, caller: Caller, req: Request) -> None:
        self._own_lab(caller, req.name)
        with self._locks[caller.uid]:                 # never at the same time as the reaper
            self._engine(conn, caller, "down", "--lab", req.name)

    def reap(self) -> list[str]:
        """Remove every student's lab whose owner is gone (a kernel killed with SIGKILL, say):
        the labs a plain `labkit clean` would remove, under a user prefix. A user with a
        request under way (a bring-up, a teardown) is left for the next round."""
        reaped = []
        for inst in LabState.instances():
            uid = uid_of(inst)
            state = LabState.load(inst) if uid is not None else None
            if state is None or state.cleanable() is None:
                continue
            lock = self._locks[uid]
            if not lock.acquire(blocking=False):
                continue
            try:
                why = state.cleanable()
                subprocess.run([self.python, "-P", "-m", "labkit.cli", "clean", "--lab", inst], cwd="/",
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=120)
                reaped.append(f"{inst} ({why})")
            finally:
                lock.release()
        return reaped

    def _check(self, conn: socket.socket, caller: Caller, req: Request) -> None:
        self._own_lab(caller, req.name)
        self._engine(conn, caller, "check", "--lab", req.name)

    def _describe(self, conn: socket.socket, caller: Caller, req: Request) -> None:
        """What a student's Lab.attach needs from the record, which only root may read."""
        state = self._own_lab(caller, req.name)
        send(conn, {"lab": {"instance": state.instance, "topology": state.topology, "status": state.status,
                            "netns": state.netns}})
        send(conn, {"exit": 0})

    def _status(self, conn: socket.socket, caller: Caller, req: Request) -> None:
        args = ["--json"] if req.json else []
        if req.name:
            self._own_lab(caller, req.name)
            args += ["--lab", req.name]
        self._engine(conn, caller, "status", *args)

    def _contain(self, caller: Caller, instance: str, pid: int) -> None:
        """The record of a command the caller runs in its lab, before it may run: the lab's
        cgroup (labkit.lab.cgroup), which teardown ends whole, wherever the command went
        (a new session, a namespace of its own). It is joined under the user's lock, so
        never into a lab whose teardown has begun: the lab must still be on record."""
        with self._locks[caller.uid]:
            state = LabState.load(instance)
            if state is None:
                raise BrokerError(f"{caller.user}: your lab '{instance[len(caller.prefix):]}' was taken down")
            if self.cgroups:
                cgroup.join(instance, pid)
            else:
                state.add_proc(pid, f"exec for {caller.user}")

    def _exec(self, conn: socket.socket, caller: Caller, req: Request, fds: list[int]) -> None:
        """The command gets the caller's own stdin, stdout and stderr, sent with the request:
        the broker only hands them on, and answers with the exit status. It runs as the
        caller, with raw sockets only and under the caller's process limit (RLIMIT_NPROC,
        counted over all the caller's processes: a fork bomb stops there), in the lab's cgroup."""
        if len(fds) != 3:
            raise BrokerError("exec takes the command's stdin, stdout and stderr with the request "
                              f"(3 descriptors, SCM_RIGHTS); {len(fds)} came")
        state = self._own_lab(caller, req.name)
        ns = f"lk-{state.instance}-{req.node}"
        if ns not in state.netns:
            nodes = ", ".join(sorted(n[len(f"lk-{state.instance}-"):] for n in state.netns))
            raise BrokerError(f"lab '{req.name}' has no node '{req.node}' (its nodes: {nodes})")
        try:
            account = pwd.getpwuid(caller.uid)
            home, gid, groups = account.pw_dir, account.pw_gid, "--init-groups"
        except KeyError:
            home, gid, groups = "/", caller.gid, "--clear-groups"
        argv = ["ip", "netns", "exec", ns, "prlimit", f"--nproc={self.quota.procs}", "--",
                "setpriv", f"--reuid={caller.uid}", f"--regid={gid}", groups,
                "--no-new-privs", f"--inh-caps={CAPS}", f"--ambient-caps={CAPS}", f"--bounding-set={CAPS}",
                "--", *req.argv]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "USER": caller.user, "LANG": "C.UTF-8",
               NETNS_ENV: ns}      # /run/netns is not the student's to list: the safety check's way in
        proc = start_gated(argv, lambda pid: self._contain(caller, state.instance, pid),
                           stdin=fds[0], stdout=fds[1], stderr=fds[2], env=env,
                           cwd=home if Path(home).is_dir() else "/")
        for fd in fds:
            os.close(fd)
        fds.clear()
        send(conn, {"pid": proc.pid})
        send(conn, {"exit": proc.wait()})


def serve(path: Path = SOCKET, broker: Broker | None = None) -> None:
    """Serve until killed: a thread per connection. The socket is world-connectable (0666):
    who may do what is decided per caller, from the kernel's credentials."""
    broker = broker or Broker()
    for private in (RUN_ROOT, NETNS_DIR):   # the names of labs and namespaces: nobody lists them but root
        private.mkdir(parents=True, exist_ok=True)
        os.chmod(private, 0o711)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    os.chmod(path, 0o666)
    srv.listen(64)

    def reaper() -> None:
        while True:
            try:
                for what in broker.reap():
                    print(f"labkit broker: removed {what}", file=sys.stderr, flush=True)
            except Exception as e:      # a round that failed is tried again; the broker serves on
                print(f"labkit broker: reaping: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            time.sleep(REAP_EVERY)

    threading.Thread(target=reaper, daemon=True).start()
    try:
        _accept(srv, broker)
    finally:                                    # a stopped broker leaves no socket to connect to
        srv.close()
        path.unlink(missing_ok=True)


def _accept(srv: socket.socket, broker: Broker) -> None:
    active = threading.BoundedSemaphore(MAX_ACTIVE)

    def one(conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(IO_TIMEOUT)     # a client that sends or reads nothing lets go
                broker.handle(conn, peer(conn))
            except OSError:
                pass       # the caller went away or stalled: what it started runs to its end
            finally:
                active.release()

    while True:
        try:
            conn, _ = srv.accept()
        except OSError as e:                    # out of descriptors, say: wait, never exit
            print(f"labkit broker: accept: {e}", file=sys.stderr, flush=True)
            time.sleep(0.5)
            continue
        if not active.acquire(timeout=IO_TIMEOUT):
            with conn:
                try:
                    send(conn, {"error": "the lab broker is busy; try again in a moment"})
                except OSError:
                    pass
            continue
        try:
            threading.Thread(target=one, args=(conn,), daemon=True).start()
        except RuntimeError:                    # no thread to be had: this request only is refused
            active.release()
            conn.close()
