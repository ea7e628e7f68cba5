"""ONE asyncio loop in ONE thread that paces every RTP stream of the ACD.

The seed lists "use one thread only for all RTP sessions" as a wish. ``RtpScheduler``
is that wish: it sends a 20 ms PCMU packet for every stream on absolute deadlines
(``start + k * 20 ms``), so lateness never accumulates into drift.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Sequence

from .packet import HEADER as _HDR, PT_PCMU
from .playlist import Playlist
from .relay import Renumber
from .ulaw import FRAME_SAMPLES, FRAME_SECONDS

_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


@dataclass
class _Stream:
    sid: int
    sock: socket.socket
    own_sock: bool
    remote: tuple
    playlist: Playlist
    ssrc: int
    seq: int
    ts: int
    payload_type: int
    slot: int
    deadline: float = 0.0
    marker: bool = True
    sent: int = 0
    errors: int = 0
    skipped: int = 0


@dataclass(eq=False)
class _Relay:
    """Packets arriving on ``src`` go out of ``dst`` to ``remote``, renumbered."""
    rid: int
    src: socket.socket
    dst: socket.socket
    remote: tuple
    numbering: Renumber
    errors: int = 0


@dataclass
class SchedulerStats:
    """What ``RtpScheduler.stats()`` returns. Lateness = send time - deadline, in ms, over
    the packets sent since the last ``reset_stats()`` (a bounded window of recent ones)."""

    streams: int
    packets_sent: int
    send_errors: int
    frames_skipped: int
    wakeups: int
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    cpu_seconds: float          # CPU time of the scheduler thread (time.thread_time)
    wall_seconds: float
    wake_p50_ms: float = 0.0    # how late the thread woke up: the machine's share of the
    wake_p99_ms: float = 0.0    # lateness; the rest is waiting for earlier sends in a batch
    relays: int = 0             # relayed directions now (add_relay)
    relayed: int = 0            # packets forwarded by relays, all time
    relay_dropped: int = 0      # datagrams a relay refused (not PCMU RTP)

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["cpu_percent"] = round(self.cpu_percent, 2)
        return d


#: The pacer's last stretch before a deadline is a precise time.sleep (see _pace).
_FINE = 0.0015


def _percentile(sorted_vals: Sequence[float], q: float) -> float:
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, round(q / 100 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


class RtpScheduler:
    """ONE asyncio loop in ONE thread pacing MANY 20 ms RTP streams.

    Every stream is pinned to one of ``phases`` slots of the 20 ms period (the least loaded
    one when it is added), and the loop wakes once per non-empty slot and sends the packets
    of every stream due in it in one batch: with 10 phases that is at most 500 wakeups/s
    whether 10 or 1000 streams play (none when idle), and each batch is a tenth of the
    streams, so the last packet of a batch waits for 1/10 of the sends, not all of them
    (measured on 600 streams: 1 phase gave p50/p99 lateness 4.5/19 ms, 4 phases 1.4/5.0,
    10 phases 0.6/3.9, at the same CPU). Deadlines are absolute
    (``t0 + k * 20 ms / phases``), so a late wakeup makes its packets late but never shifts the
    following ones. If the loop falls more than ``max_behind`` seconds behind (a stall),
    missed frames are skipped: the timestamp jumps by 160 per skipped frame, as RFC 3550
    wants, and the sequence number stays continuous.

    ``add_stream`` / ``remove_stream`` / ``stats`` may be called from any thread.
    Sends use non-blocking ``sendto`` on plain UDP sockets; a send error is counted, never
    raised into the loop.
    """

    def __init__(self, phases: int = 10, max_behind: float = 0.2, stats_window: int = 200_000,
                 realtime: bool = False):
        if phases < 1:
            raise ValueError("phases must be >= 1")
        self.phases = phases
        self.max_behind = max_behind
        #: Ask Linux for SCHED_FIFO (priority 10) for the pacer thread only, so other busy
        #: processes cannot delay its wake-ups. Needs root/CAP_SYS_NICE; if refused, the
        #: thread stays normal and ``self.realtime`` becomes False. The thread sleeps between
        #: batches, and the kernel's RT throttling caps it at 95% of a CPU anyway.
        self.realtime = realtime
        self._slot_len = FRAME_SECONDS / phases
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._streams: dict[int, _Stream] = {}
        self._relays: dict[int, _Relay] = {}        # by the fd of their source socket
        # receiver -> (the numbering it last heard from us, the socket that sent it), kept
        # when a stream or relay stops so the next relay to it continues (add_relay); gone
        # when that socket is released
        self._heard: dict[tuple, tuple[Renumber, socket.socket]] = {}
        self._relayed = self._relay_dropped = 0
        self._slots: list[dict[int, _Stream]] = [{} for _ in range(phases)]
        self._slot_load = [0] * phases   # counted at add time (any thread), under _lock
        self._lateness = array("d")     # per packet: send time - deadline
        self._wake_late = array("d")    # per wakeup: wake time - deadline (the OS's share)
        self._stats_window = stats_window
        self._sent = self._errors = self._skipped = self._wakeups = 0
        self._cpu0 = 0.0
        self._wall0 = 0.0
        self._task: asyncio.Task | None = None
        self._t0 = 0.0
        self._target = 0.0
        self._rng = random.Random()
        self.finished: set[int] = set()   # sids whose playlist ended (or that failed)
        self.failed: dict[int, str] = {}  # sid -> the exception that stopped that stream
        self._final: SchedulerStats | None = None
        self.crashed: BaseException | None = None

    # -- lifecycle --
    def start(self) -> RtpScheduler:
        if self._thread is not None:
            raise RuntimeError("RtpScheduler already started")
        if self._loop.is_closed():
            raise RuntimeError("an RtpScheduler runs once; make a new one after stop()")
        self._thread = threading.Thread(target=self._run, name="rtp-scheduler", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def _run(self) -> None:
        if self.realtime:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))  # this thread
            except (AttributeError, OSError):
                self.realtime = False
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self._pace())
        self._loop.call_soon(self._ready.set)
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug in the pacer itself: keep it for the next caller
            self.crashed = exc
        finally:
            self._final = self._collect()
            for stream in list(self._streams.values()):
                self._drop(stream)
            for relay in list(self._relays.values()):
                self._unrelay(relay)
            self._loop.close()

    def stop(self) -> None:
        """Stop the loop, close the sockets the scheduler opened, join the thread."""
        if self._thread is None:
            return
        if self._task is not None:
            try:
                self._loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:   # the loop already ended (and closed)
                pass
        self._thread.join(5)
        self._thread = None

    def __enter__(self) -> RtpScheduler:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- streams --
    def add_stream(self, local: socket.socket | tuple | None, remote: tuple,
                   playlist: Playlist, ssrc: int | None = None, payload_type: int = PT_PCMU,
                   first_seq: int | None = None, first_ts: int | None = None) -> int:
        """Start sending ``playlist`` to ``remote`` = (ip, port); returns a stream id.

        ``local`` is a UDP socket to send from (the caller keeps owning it and may read the
        far end's RTP from it; that is the port the SDP answer announced), or an (ip, port)
        to bind a new send-only socket, connected to ``remote`` (the scheduler owns and
        closes it), or None for an ephemeral port. SSRC, first sequence number and
        first timestamp are random unless given (RFC 3550). The first packet has the marker
        bit set (start of a talkspurt)."""
        self._check_running()
        family = socket.AF_INET6 if ":" in str(remote[0]) else socket.AF_INET
        if isinstance(local, socket.socket):
            sock, own = local, False
        else:
            sock, own = socket.socket(family, socket.SOCK_DGRAM), True
            sock.setblocking(False)
            try:
                sock.bind(local or (("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
                # Our own send-only socket: connect it, send() skips the per-packet address
                # lookup, and a closed far end shows up as send errors.
                sock.connect(tuple(remote))
            except OSError:
                sock.close()
                raise
        with self._lock:
            sid = next(self._ids)
            slot = min(range(self.phases), key=self._slot_load.__getitem__)
            self._slot_load[slot] += 1
            rng = self._rng
            stream = _Stream(
                sid=sid, sock=sock, own_sock=own, remote=tuple(remote), playlist=playlist,
                ssrc=rng.getrandbits(32) if ssrc is None else ssrc,
                seq=rng.getrandbits(16) if first_seq is None else first_seq,
                ts=rng.getrandbits(32) if first_ts is None else first_ts,
                payload_type=payload_type, slot=slot)
        try:
            self._loop.call_soon_threadsafe(self._attach, stream)
        except RuntimeError:   # stopped meanwhile
            with self._lock:
                self._slot_load[slot] -= 1
            if own:
                sock.close()
            raise RuntimeError("the RTP scheduler was stopped; make a new one") from None
        return sid

    def remove_stream(self, sid: int) -> None:
        """Stop a stream (unknown or finished ids are ignored)."""
        if self._thread is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._detach, sid)

    def _attach(self, stream: _Stream) -> None:
        self._streams[stream.sid] = stream
        self._slots[stream.slot][stream.sid] = stream
        # The first packet goes out at the stream's first slot time after the deadline the
        # pacer is sleeping towards (it may be sleeping past empty slots).
        stream.deadline = self._next_slot_time(stream.slot, max(self._loop.time(),
                                                                self._target))
        self._wake.set()

    def _detach(self, sid: int) -> None:
        stream = self._streams.get(sid)
        if stream is not None:
            self._drop(stream)

    def _drop(self, stream: _Stream) -> None:
        self._streams.pop(stream.sid, None)
        self._slots[stream.slot].pop(stream.sid, None)
        with self._lock:
            self._slot_load[stream.slot] -= 1
        if stream.own_sock:
            stream.sock.close()
        else:   # the caller's socket: a relay to the same receiver may carry on the numbering
            self._heard[stream.remote] = (
                Renumber(stream.ssrc, stream.seq, stream.ts, stream.deadline), stream.sock)

    def _next_slot_time(self, slot: int, after: float) -> float:
        base = self._t0 + slot * self._slot_len
        k = max(0, int((after - base) // FRAME_SECONDS) + 1)
        return base + k * FRAME_SECONDS

    # -- relays: media between two call legs, in this same thread --
    def add_relay(self, src: socket.socket, dst: socket.socket, remote: tuple) -> int:
        """Forward every PCMU packet arriving on ``src`` out of ``dst`` to ``remote``,
        renumbered as one stream of ours (labkit.rtp.relay.Renumber).

        The receiver at ``remote`` hears ONE stream from us: if something of ours is playing
        to it (a caller's music), that stream stops and the relay carries on with its SSRC,
        sequence numbers and timestamps; if something played to it before (a stream or relay
        since stopped), the relay continues that numbering; otherwise it starts from a random
        SSRC, sequence and timestamp.  One relay per source socket: a new one on the same
        ``src`` replaces the old.  Both sockets stay the caller's; close them through
        ``release``.  Returns a relay id."""
        self._check_running()
        with self._lock:
            rid = next(self._ids)
        try:
            self._loop.call_soon_threadsafe(self._attach_relay, rid, src, dst, tuple(remote))
        except RuntimeError:
            raise RuntimeError("the RTP scheduler was stopped; make a new one") from None
        return rid

    def remove_relay(self, rid: int) -> None:
        """Stop a relay (unknown ids are ignored); its sockets stay open."""
        self._soon(self._detach_relay, rid)

    def retarget(self, sock: socket.socket, old: tuple, new: tuple) -> None:
        """Whatever plays or relays out of ``sock`` to ``old`` goes to ``new`` from now on (the
        far end moved its media, e.g. in a re-INVITE)."""
        self._soon(self._retarget, sock, tuple(old), tuple(new))

    def release(self, sock: socket.socket) -> None:
        """Stop every stream and relay that uses ``sock``, then close it, in the RTP thread
        (so no send or read ever meets a closed descriptor).  Safe after ``stop()``."""
        if not self._soon(self._release, sock):
            sock.close()

    def _soon(self, fn, *args) -> bool:
        """Run ``fn(*args)`` in the RTP thread; False when the loop is not running any more."""
        if self._thread is None or self._loop.is_closed():
            return False
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            return False
        return True

    def _check_running(self) -> None:
        if self._thread is None:
            raise RuntimeError("call RtpScheduler.start() before adding streams or relays")
        if self.crashed is not None or self._loop.is_closed():
            raise RuntimeError(f"the RTP scheduler is not running (it stopped: "
                               f"{self.crashed!r}); make a new one")

    def _attach_relay(self, rid: int, src: socket.socket, dst: socket.socket, remote: tuple) -> None:
        if src.fileno() < 0 or dst.fileno() < 0:
            return                          # released before the relay got here
        for stream in [s for s in self._streams.values() if s.remote == remote]:
            self._drop(stream)              # what played to the receiver stops here ...
        old = self._relays.get(src.fileno())
        if old is not None:
            self._unrelay(old)
        kept = self._heard.pop(remote, None)
        if kept is not None:                # ... and the relay carries on its numbering
            numbering = kept[0]
        else:
            rng = self._rng
            numbering = Renumber(rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32),
                                 self._loop.time())
        relay = _Relay(rid, src, dst, remote, numbering)
        self._relays[src.fileno()] = relay
        self._loop.add_reader(src.fileno(), self._relay_readable, relay)

    def _relay_readable(self, relay: _Relay) -> None:
        recv, send, numbering = relay.src.recv, relay.dst.sendto, relay.numbering
        now_fn = time.monotonic
        for _ in range(64):
            try:
                data = recv(2048, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:               # an ICMP error queued on the socket; read on
                continue
            out = numbering.packet(data, now_fn())
            if out is None:
                self._relay_dropped += 1
                continue
            try:
                send(out, _DONTWAIT, relay.remote)
                self._relayed += 1
            except OSError:
                relay.errors += 1

    def _unrelay(self, relay: _Relay) -> None:
        fd = relay.src.fileno()
        if self._relays.get(fd) is relay:
            del self._relays[fd]
            self._loop.remove_reader(fd)
            n = relay.numbering
            self._heard[relay.remote] = (Renumber(n.ssrc, n.next_seq, n.next_ts, n.due), relay.dst)

    def _detach_relay(self, rid: int) -> None:
        for relay in list(self._relays.values()):
            if relay.rid == rid:
                self._unrelay(relay)

    def _retarget(self, sock: socket.socket, old: tuple, new: tuple) -> None:
        for relay in self._relays.values():
            if relay.dst is sock and relay.remote == old:
                relay.remote = new
        for stream in self._streams.values():
            if stream.sock is sock and not stream.own_sock and stream.remote == old:
                stream.remote = new

    def _release(self, sock: socket.socket) -> None:
        for stream in [s for s in self._streams.values() if s.sock is sock]:
            self._drop(stream)
        for relay in [r for r in self._relays.values() if sock in (r.src, r.dst)]:
            self._unrelay(relay)
        for remote in [r for r, (_, s) in self._heard.items() if s is sock]:
            del self._heard[remote]
        sock.close()

    # -- the loop --
    async def _pace(self) -> None:
        loop = self._loop
        self._t0 = loop.time() + 0.005
        self._cpu0, self._wall0 = time.thread_time(), time.monotonic()
        self._wake = asyncio.Event()
        slot_len, phases = self._slot_len, self.phases
        tick = 0
        lateness = self._lateness
        wake_late = self._wake_late
        now_fn = time.monotonic   # same clock as loop.time()
        pack = _HDR.pack
        slots = self._slots
        while True:
            if not self._streams:           # idle: no wakeups at all until a stream comes
                self._wake.clear()
                await self._wake.wait()
                tick = int((now_fn() - self._t0) // slot_len) + 1
                continue    # re-check: the stream that woke us may be gone in the same turn
            for _ in range(phases):         # skip empty slots without waking for them
                if slots[tick % phases]:
                    break
                tick += 1
            deadline = self._target = self._t0 + tick * slot_len
            # epoll rounds its timeout UP to whole milliseconds, so asyncio.sleep wakes
            # 0..1 ms late. Sleep coarsely to _FINE before the deadline, then finish with
            # time.sleep (clock_nanosleep, ~0.1 ms precise). This thread has nothing else to
            # do in that last stretch; add/remove callbacks wait at most _FINE.
            delay = deadline - now_fn() - _FINE
            await asyncio.sleep(delay if delay > 0 else 0)   # 0: still run callbacks
            rest = deadline - now_fn()
            if rest > 0:
                time.sleep(rest)
            self._wakeups += 1
            slot = tick % phases
            tick += 1
            now = now_fn()
            wake_late.append(now - deadline)
            if now - deadline > self.max_behind:   # stalled: jump to the current tick
                tick = int((now - self._t0) // slot_len) + 1
            streams = slots[slot]
            if not streams:
                continue
            done = []
            for stream in list(streams.values()):
                try:
                    self._send_due(stream, now, pack, now_fn, lateness, done)
                except Exception as exc:   # a broken playlist must not stop the others
                    self.failed[stream.sid] = f"{type(exc).__name__}: {exc}"
                    done.append(stream)
            if len(lateness) > self._stats_window:
                del lateness[:len(lateness) - self._stats_window // 2]
            if len(wake_late) > self._stats_window:
                del wake_late[:len(wake_late) - self._stats_window // 2]
            for stream in done:
                self.finished.add(stream.sid)
                self._drop(stream)

    def _send_due(self, stream: _Stream, now: float, pack, now_fn, lateness: array,
                  done: list) -> None:
        """Send every frame ``stream`` owes up to ``now`` (one, unless the loop was late
        by more than a period)."""
        while stream.deadline <= now + 1e-4:
            behind = now - stream.deadline
            if behind > self.max_behind:   # stalled: skip, keep timestamps in real time
                missed = int(behind // FRAME_SECONDS)
                stream.ts = (stream.ts + FRAME_SAMPLES * missed) & 0xFFFFFFFF
                stream.deadline += missed * FRAME_SECONDS
                stream.skipped += missed
                self._skipped += missed
                for _ in range(missed):
                    if stream.playlist.next_frame() is None:
                        break
                continue
            frame = stream.playlist.next_frame()
            if frame is None:
                done.append(stream)
                return
            b1 = stream.payload_type | (0x80 if stream.marker else 0)
            packet = pack(0x80, b1, stream.seq, stream.ts, stream.ssrc) + frame
            try:
                if stream.own_sock:
                    stream.sock.send(packet)
                else:   # the caller's socket: non-blocking per call, its mode untouched
                    stream.sock.sendto(packet, _DONTWAIT, stream.remote)
                stream.sent += 1
                self._sent += 1
            except OSError:   # full buffer, unreachable, closed by its owner...
                stream.errors += 1
                self._errors += 1
            lateness.append(now_fn() - stream.deadline)
            stream.marker = False
            stream.seq = (stream.seq + 1) & 0xFFFF
            stream.ts = (stream.ts + FRAME_SAMPLES) & 0xFFFFFFFF
            stream.deadline += FRAME_SECONDS

    # -- statistics --
    def _collect(self) -> SchedulerStats:
        vals = sorted(self._lateness)
        wakes = sorted(self._wake_late)
        return SchedulerStats(
            streams=len(self._streams), packets_sent=self._sent, send_errors=self._errors,
            frames_skipped=self._skipped, wakeups=self._wakeups,
            lateness_p50_ms=round(_percentile(vals, 50) * 1e3, 3),
            lateness_p99_ms=round(_percentile(vals, 99) * 1e3, 3),
            lateness_max_ms=round((vals[-1] if vals else 0.0) * 1e3, 3),
            cpu_seconds=time.thread_time() - self._cpu0,
            wall_seconds=time.monotonic() - self._wall0,
            wake_p50_ms=round(_percentile(wakes, 50) * 1e3, 3),
            wake_p99_ms=round(_percentile(wakes, 99) * 1e3, 3),
            relays=len(self._relays), relayed=self._relayed, relay_dropped=self._relay_dropped)

    def _reset(self) -> None:
        del self._lateness[:]
        del self._wake_late[:]
        self._sent = self._errors = self._skipped = self._wakeups = 0
        self._cpu0, self._wall0 = time.thread_time(), time.monotonic()

    def _call(self, fn):
        """Run ``fn`` on the loop thread and wait for its result (thread_time must be read
        there)."""
        if self._thread is None or not self._loop.is_running():
            raise RuntimeError("the scheduler is not running")

        async def call():
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(5)

    def stats(self) -> SchedulerStats:
        """Counters and lateness percentiles since start / the last reset_stats(); after
        stop(), the figures at the moment it stopped."""
        if self._final is not None and (self._thread is None or not self._loop.is_running()):
            return self._final
        return self._call(self._collect)

    def counters(self) -> dict[str, int]:
        """Streams, relays and packet counts, read without a hop into the RTP thread (plain
        integers, each read atomically): cheap enough for a status page under load."""
        return {"streams": len(self._streams), "relays": len(self._relays),
                "packets_sent": self._sent, "relayed": self._relayed,
                "relay_dropped": self._relay_dropped}

    def reset_stats(self) -> None:
        self._call(self._reset)

    def stream_info(self, sid: int) -> dict | None:
        """ssrc, next seq/ts, packets sent and what is playing, or None if gone."""
        def info():
            s = self._streams.get(sid)
            if s is None:
                return None
            return {"ssrc": s.ssrc, "seq": s.seq, "ts": s.ts, "sent": s.sent,
                    "errors": s.errors, "skipped": s.skipped, "playing": s.playlist.current,
                    "slot": s.slot, "local": s.sock.getsockname()}
        return self._call(info)
