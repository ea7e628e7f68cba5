"""Packet capture inside a lab node: tcpdump in the node's own namespace, a pcap out.

tcpdump runs through the node (``ip netns exec``, the node's ``popen``), so it sees that
node's interfaces only, and so only the lab's packets; it sends nothing. Its PID goes
on the lab's record at once (``node.record_pid``), and it lives in a lab namespace, so
``labkit down``/``clean`` end it even when the process that started it was killed.

tcpdump writes the pcap to its stdout (``-w - -U``: flushed packet by packet) and this
process copies it into the file and counts the packets as they come. tcpdump itself
writes no file, so neither its drop to the ``tcpdump`` user nor Debian's AppArmor
profile for it decides where a capture may go, an unwritable path is refused before
tcpdump starts, and no file is made unless tcpdump really captures.

    Capture(node, iface, bpf=, count=, write=)   .start() returns once tcpdump is
                      listening (its "listening on" line, bounded wait), .wait(t),
                      .stop(), .packets (scapy, from the pcap); a context manager
    capture(node, iface, duration=, count=, bpf=, write=)   blocking: the packets
    interfaces(node)  the node's interfaces now: name, state, admin up, MAC, IPv4 addresses
    running(procs)    the captures of a lab's record still running (`labkit status` shows them)

Decision: the default interface is ``any`` inside the node (all of its interfaces,
loopback included), which tcpdump records as Linux "cooked" frames (LINUX_SLL2: the
interface index and direction instead of the Ethernet header). Name an interface to see
Ethernet headers and 802.1Q tags as they were on the wire.

Decision: a filter is compiled first (``tcpdump -d`` in the node, for the chosen
interface), so a bad one is refused with tcpdump's own error whatever the interface. An
interface that is down (``labkit link A B down``) is refused with that reason: tcpdump
cannot open it, and waiting for it would hang a command the user cannot see the cause of;
``any`` works throughout and sees the interface's packets once it is up again.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .errors import LabkitError

LISTEN_TIMEOUT = 10.0   # seconds tcpdump may take to start listening
STOP_GRACE = 5.0        # seconds tcpdump may take to exit after SIGINT before SIGKILL
SETTLE = 0.05           # stop: no new packet for this long means tcpdump has caught up ...
SETTLE_MAX = 1.0        # ... waiting at most this long (a busy link never goes quiet)

_STAT = re.compile(r"^(\d+) packets? (captured|received by filter|dropped by kernel)")
#: what tcpdump says on stderr that is not a reason: it prints "data link type LINUX_SLL2"
#: before it compiles the filter on `any`, so the first "tcpdump:" line is not the error
_INFO = ("listening on", "data link type", "verbose output suppressed")
#: how a capture's tcpdump is recorded (node.record_pid): NODE/capture-IFACE/tool
_RECORD = re.compile(r"^(?P<node>[^/]+)/capture-(?P<iface>[^/]+)/tool$")


class CaptureError(LabkitError):
    """A capture could not start or run; the message is one line (tcpdump's own if it refused)."""


class PcapCounter:
    """Counts the packets in a pcap byte stream fed in arbitrary pieces (tcpdump's stdout)."""

    def __init__(self) -> None:
        self.packets = 0
        self._buf = b""
        self._endian: str | None = None

    def feed(self, data: bytes) -> int:
        """Take the next bytes of the stream; return how many packets they completed."""
        self._buf += data
        before = self.packets
        if self._endian is None:
            if len(self._buf) < 24:
                return 0
            magic = self._buf[:4]
            if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                self._endian = "<"
            elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                self._endian = ">"
            else:
                raise CaptureError(f"not a pcap stream (magic {magic.hex()})")
            self._buf = self._buf[24:]
        while len(self._buf) >= 16:
            (incl,) = struct.unpack(self._endian + "I", self._buf[8:12])
            if len(self._buf) < 16 + incl:
                break
            self._buf = self._buf[16 + incl:]
            self.packets += 1
        return self.packets - before


def interfaces(node) -> list[dict[str, Any]]:
    """The node's interfaces as they are now: name, state (UP, DOWN, UNKNOWN...), MAC, and
    IPv4 addresses as CIDR strings, in the kernel's order."""
    p = node.run(["ip", "-j", "addr", "show"], timeout=15)
    if p.returncode != 0:
        msg = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[0]
        raise CaptureError(f"{node.name}: cannot list interfaces: {msg}")
    out = []
    for link in json.loads(p.stdout or "[]"):
        out.append({"name": link["ifname"], "state": link.get("operstate", "UNKNOWN"),
                    "up": "UP" in link.get("flags", []), "mac": link.get("address", ""),
                    "addresses": [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                                  if a.get("family") == "inet"]})
    return out


def tcpdump_error(stderr: list[str], status: int | None) -> str:
    """tcpdump's reason for stopping or refusing, as one line: its last 'tcpdump: ...' line
    that is not information (it exits right after the error), else its last other line."""
    said = [l for l in stderr if l.strip() and not any(i in l for i in _INFO) and not _STAT.match(l)]
    reasons = [l for l in said if l.startswith("tcpdump: ")]
    return (reasons or said or [f"tcpdump exited with status {status}"])[-1]


def running(procs) -> list[dict[str, Any]]:
    """The captures among a lab's recorded processes (LabState.procs) whose tcpdump is still
    running, e.g. left behind by a `labkit capture` that was killed: node, iface, pid."""
    out = []
    for p in procs:
        m = _RECORD.match(p.what)
        if m and p.alive():
            out.append({"node": m["node"], "iface": m["iface"], "pid": p.pid})
    return out


def check_write_path(path: str | os.PathLike) -> Path:
    """Refuse, in one line, a pcap path this process could not create."""
    path = Path(path)
    if path.is_dir():
        raise CaptureError(f"{path}: is a directory; name a file such as {path / 'capture.pcap'}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CaptureError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CaptureError(f"{path}: not writable")
    return path


def tcpdump_argv(iface: str, bpf: str | None = None, count: int | None = None,
                 pcap: bool = True) -> list[str]:
    """tcpdump's command line: numeric, unbuffered (--immediate-mode: each packet as it comes),
    a pcap on stdout (or one text line per packet); the filter after `--`, so a filter that
    starts with '-' is never read as an option."""
    argv = ["tcpdump", "-n", "--immediate-mode", "-i", iface]
    if count is not None:
        argv += ["-c", str(count)]
    argv += ["-U", "-w", "-"] if pcap else ["-l"]
    if bpf:
        argv += ["--", bpf]
    return argv


class Capture:
    """tcpdump on one interface of a node, running until stop() (or `count` packets).

    ``write``: the pcap file to make (default: a temporary one in the node's run
    directory, read back and removed at stop). ``text``: no pcap; tcpdump prints one line
    per packet and ``on_line`` gets each. ``on_packet(n)`` is called with the running
    count as packets are written (from a reader thread).
    """

    def __init__(self, node, iface: str = "any", bpf: str | None = None, count: int | None = None,
                 write: str | os.PathLike | None = None, text: bool = False,
                 on_line: Callable[[str], None] | None = None,
                 on_packet: Callable[[int], None] | None = None):
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"count must be a whole number of packets, 1 or more (got {count!r})")
        if not iface or not isinstance(iface, str):
            raise ValueError(f"iface must be an interface name or 'any' (got {iface!r})")
        self.node = node
        self.iface = iface
        self.bpf = bpf
        self.count = count
        self.text = text
        self._on_line = on_line
        self._on_packet = on_packet
        self._temp = write is None and not text
        self.path: Path | None = None if text else (Path(write) if write is not None else None)
        self.written = 0                  # packets in the pcap so far (text mode: lines printed)
        self.stats: dict[str, int] = {}   # tcpdump's own: captured, received by filter, dropped by kernel
        self.stderr: list[str] = []
        self.started = self.stopped = 0.0
        self._proc: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []
        self._listening = threading.Event()
        self._last_packet = 0.0
        self._file = None
        self._error: BaseException | None = None
        self._packets = None
        self._done = False

    def __repr__(self) -> str:
        return f"<Capture {self.node.name}:{self.iface} {self.written} packets>"

    @property
    def where(self) -> str:
        return f"{self.node.name}:{self.iface}"

    # -- start ------------------------------------------------------------------
    def start(self, timeout: float = LISTEN_TIMEOUT) -> "Capture":
        """Start tcpdump in the node; return once it is listening (packets from now on are in)."""
        if self._proc is not None:
            raise CaptureError(f"{self.where}: this capture was already started")
        if self.iface != "any":
            found = {i["name"]: i for i in interfaces(self.node)}
            if self.iface not in found:
                raise CaptureError(f"{self.node.name} has no interface '{self.iface}' "
                                   f"(it has: {', '.join([*found, 'any'])})")
            if not found[self.iface]["up"]:
                raise CaptureError(
                    f"{self.where} is down (a `labkit link ... down`, or shut in {self.node.name}'s "
                    "config), and tcpdump cannot open a device that is down; bring the link up first "
                    f"(labkit link {self.node.name} PEER up), or capture on {self.node.name} (any): "
                    f"it sees {self.iface}'s packets from the moment it is up again")
        if self.bpf:
            self.check_filter()
        if self._temp:
            self.path = self.node.run_dir / f"capture-{os.getpid()}-{id(self):x}.pcap"
        elif self.path is not None:
            check_write_path(self.path)
        argv = tcpdump_argv(self.iface, self.bpf, self.count, pcap=not self.text)
        self._proc = self.node.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.node.record_pid(self._proc.pid, f"capture-{self.iface}/tool")
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._read_stderr, daemon=True),
                         threading.Thread(target=self._read_text if self.text else self._read_pcap,
                                          daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + timeout
        try:
            while not self._listening.wait(0.01):   # the condition: tcpdump's "listening on" line
                if self._proc.poll() is not None:
                    self._finish()
                    raise CaptureError(f"{self.where}: {self.tcpdump_message()}")
                if time.monotonic() >= deadline:
                    raise CaptureError(f"{self.where}: tcpdump was not listening within {timeout:g} s")
        except BaseException:   # refused, too slow, or Ctrl-C meanwhile: leave nothing running
            self._signal(signal.SIGKILL)
            if not self._done:
                self._finish()
            raise
        return self

    def check_filter(self) -> None:
        """Have tcpdump compile the filter for this interface (`tcpdump -d`, in the node; it
        captures nothing) and refuse it with tcpdump's own error, before the capture starts."""
        p = self.node.run(["tcpdump", "-d", "-i", self.iface, "--", self.bpf], timeout=15)
        if p.returncode != 0:
            raise CaptureError(f"{self.where}: {tcpdump_error(p.stderr.splitlines(), p.returncode)}")

    def tcpdump_message(self) -> str:
        """tcpdump's reason for stopping, as one line (see tcpdump_error)."""
        return tcpdump_error(self.stderr, self._proc.returncode)

    # -- readers (threads) -----------------------------------------------------------
    def _read_stderr(self) -> None:
        for raw in self._proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stderr.append(line)
            if "listening on" in line:
                self._listening.set()
            m = _STAT.match(line)
            if m:
                self.stats[m.group(2)] = int(m.group(1))

    def _read_pcap(self) -> None:
        counter = PcapCounter()
        try:
            while True:
                data = self._proc.stdout.read1(65536)
                if not data:
                    break
                if self._file is None:   # the first bytes: tcpdump is capturing, make the file
                    self._file = open(self.path, "wb")
                self._file.write(data)
                if counter.feed(data):
                    self._file.flush()
                    self.written = counter.packets
                    self._last_packet = time.monotonic()
                    if self._on_packet:
                        self._on_packet(self.written)
        except BaseException as exc:   # reported by stop()
            self._error = exc
            self._signal(signal.SIGKILL)
        finally:
            if self._file is not None:
                self._file.close()

    def _read_text(self) -> None:
        for raw in self._proc.stdout:
            self.written += 1
            self._last_packet = time.monotonic()
            if self._on_line:
                self._on_line(raw.decode(errors="replace").rstrip("\n"))

    # -- waiting and stopping -----------------------------------------------------------
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until tcpdump ends by itself (`count` reached), at most `timeout` s; True if it did."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _signal(self, sig: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.kill(self._proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, settle: bool = True) -> "Capture":
        """End the capture (SIGINT, as Ctrl-C would; SIGKILL after STOP_GRACE s) and close the file.

        With `settle` it first lets tcpdump catch up: it waits until no packet has come for
        SETTLE s (at most SETTLE_MAX s), so a reply that arrived just before stop() is in the
        pcap (what the `with` block wants). A timed window or Ctrl-C stops at once."""
        if self._proc is None or self._done:
            return self
        if self._proc.poll() is None:
            end = time.monotonic() + (SETTLE_MAX if settle else 0)
            while time.monotonic() < end and self._proc.poll() is None:
                quiet = time.monotonic() - max(self._last_packet, self.started)
                if quiet >= SETTLE:
                    break
                time.sleep(SETTLE - quiet)
            self._signal(signal.SIGINT)
        self._finish()
        return self

    def _finish(self) -> None:
        try:
            self._proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._proc.wait(STOP_GRACE)
        for t in self._threads:
            t.join(STOP_GRACE)
        for stream in (self._proc.stdout, self._proc.stderr):
            stream.close()
        self.stopped = time.monotonic()
        self._done = True
        if self._error is not None:
            raise CaptureError(f"{self.where}: writing {self.path}: {self._error}")
        if self._temp and self.path is not None:
            self._packets = self._read_packets()
            self.path.unlink(missing_ok=True)

    @property
    def seconds(self) -> float:
        return (self.stopped or time.monotonic()) - self.started if self.started else 0.0

    # -- the result ------------------------------------------------------------------
    def _read_packets(self):
        from scapy.all import PacketList, rdpcap   # reading a file: nothing is sent

        if self.path is None or not self.path.exists() or self.path.stat().st_size < 24:
            return PacketList([])
        return rdpcap(str(self.path))

    @property
    def packets(self):
        """The captured packets as a scapy PacketList (read from the pcap once stopped)."""
        if self.text:
            raise CaptureError(f"{self.where}: a text capture keeps no packets; capture to a pcap")
        if not self._done:
            raise CaptureError(f"{self.where}: the capture is still running; stop() it first")
        if self._packets is None:
            self._packets = self._read_packets()
        return self._packets

    def __enter__(self) -> "Capture":
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def capture(node, iface: str = "any", duration: float | None = None, count: int | None = None,
            bpf: str | None = None, write: str | os.PathLike | None = None):
    """Capture on node:iface until `duration` seconds pass or `count` packets came (whichever
    is first; one of them is required) and return the packets (a scapy PacketList)."""
    if duration is None and count is None:
        raise ValueError("give duration= or count= (or use node.capturing() and stop it yourself)")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                 or not math.isfinite(duration) or duration <= 0):
        raise ValueError(f"duration must be a positive number of seconds (got {duration!r})")
    cap = Capture(node, iface, bpf=bpf, count=count, write=write)
    cap.start()
    try:
        cap.wait(duration)
    finally:
        cap.stop(settle=False)
    return cap.packets
