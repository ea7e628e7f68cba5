"""RFC 3261 section 17 transactions over UDP, with the RFC 6026 "Accepted" state.

A transaction sees its endpoint only through ``Transport`` (below): send a datagram, arm a
timer, make a future, run a TU callback guarded, register itself, count a retransmission.
Any object with those few methods can carry transactions; ``SipEndpoint`` is the one labkit has.

Timers run on ``loop.call_later`` handles, never on tasks, so ten thousand idle transactions cost
a few dicts.  ``Timers`` can be scaled down (tests and the soak compress T1/T2/T4) without
changing any state machine.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .message import SipMessage, make_response

Addr = tuple[str, int]


@dataclass(frozen=True)
class Timers:
    """T1 (RTT estimate), T2 (max non-INVITE retransmit interval), T4 (max network lifetime)."""
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @classmethod
    def scaled(cls, factor: float) -> "Timers":
        return cls(0.5 * factor, 4.0 * factor, 5.0 * factor)

    @property
    def timeout(self) -> float:
        """64*T1: Timer B/F/H/J/L."""
        return 64 * self.t1

    @property
    def timer_c(self) -> float:
        """How long an INVITE may ring (provisionals only) before it is CANCELled: 6*64*T1,
        above the three minutes RFC 3261 16.6 asks of Timer C at the default T1."""
        return 6 * self.timeout

    @property
    def lifetime(self) -> float:
        """No transaction lives longer than this, whatever its peer does (Timer C, then the
        CANCEL's 64*T1, then Timer D): what ``SipEndpoint.overdue`` measures against."""
        return 9 * self.timeout


class Transport(Protocol):
    """What a transaction needs from the endpoint under it, and nothing more."""

    timers: "Timers"

    def send_raw(self, data: bytes, addr: Addr, msg: SipMessage | None) -> None:
        """Send one datagram (``msg`` is the parsed form for traces, None for retransmits)."""

    def call_later(self, delay: float, fn: Callable, *args: Any) -> asyncio.TimerHandle:
        """Arm a timer on the endpoint's loop."""

    def now(self) -> float:
        """The loop's clock (when a transaction was born, for ``overdue``)."""

    def timed_out(self) -> None:
        """Count one client transaction that ended by its own timer (a local 408)."""

    def create_future(self) -> asyncio.Future:
        """A future on the endpoint's loop (a client transaction's final response)."""

    def guarded(self, fn: Callable, *args: Any) -> None:
        """Run a TU callback; an exception in it is counted and logged, never raised here."""

    def retransmitted(self) -> None:
        """Count one retransmission."""

    def txn_started(self, txn: "ClientTxn") -> None:
        """Register a client transaction so responses find it."""

    def txn_ended(self, txn: "ServerTxn | ClientTxn") -> None:
        """Forget a terminated transaction."""

    def send_request(self, req: SipMessage, addr: Addr) -> "ClientTxn":
        """Start a new client transaction (a CANCEL does this)."""

    def challenged(self, txn: "ClientTxn", resp: SipMessage) -> bool:
        """A 401/407 ends ``txn``: re-send its request with credentials (``txn.follow``) and
        say True, or say False and the challenge is delivered as the final response."""


def _terminated(txn: "ServerTxn | ClientTxn", *timers: asyncio.TimerHandle | None) -> None:
    """A transaction's end, server or client: its timers off, the transport forgets it."""
    txn.state = "terminated"
    for h in timers:
        if h:
            h.cancel()
    txn.ep.txn_ended(txn)


def local_timeout(resp: SipMessage) -> bool:
    """A 408 this side made when Timer B/F ran out (nobody answered), not one a peer sent."""
    return resp.status == 408 and resp.get("X-Labkit-Local") == "timeout"


def auth_refused(resp: SipMessage) -> str:
    """Why this side gave up authenticating (credentials refused, a challenge it cannot
    answer), as the reason phrase says it; "" for any other response."""
    return resp.reason if resp.get("X-Labkit-Local") == "auth" else ""


def server_key(msg: SipMessage) -> tuple[str, str, str]:
    via = msg.top_via
    method = "INVITE" if msg.method == "ACK" else msg.method
    return (via.branch, via.sent_by, method)


def client_key(branch: str, method: str) -> tuple[str, str]:
    return (branch, method)


class ServerTxn:
    """Base for server transactions: holds the request and the last response we sent."""
    invite = False

    def __init__(self, ep: "Transport", req: SipMessage, addr: Addr) -> None:
        self.ep, self.request, self.addr = ep, req, addr
        self.key = server_key(req)
        self.state = "trying"
        self.last: bytes | None = None
        self._h: asyncio.TimerHandle | None = None
        self._g: asyncio.TimerHandle | None = None
        # Safety net: a TU that never answers must not leak the transaction forever.
        self._guard = ep.call_later(ep.timers.timeout * 8, self._terminate)
        self.born = ep.now()
        self.merge_key: tuple | None = None     # set by the endpoint (merged-request check)

    @property
    def final_sent(self) -> bool:
        return self.state not in ("trying", "proceeding")

    def response(self, status: int, reason: str = "", **kw) -> SipMessage:
        return make_response(self.request, status, reason, **kw)

    def respond(self, resp: SipMessage) -> None:
        if self.final_sent:
            return
        data = resp.encode()
        self.last = data
        self.ep.send_raw(data, self.addr, resp)
        self._after_response(resp.status)

    def _after_response(self, status: int) -> None:
        """Timer work after a response is sent: each server transaction kind defines its own."""
        raise TypeError(f"{type(self).__name__} must define _after_response")

    def retransmission(self, req: SipMessage) -> None:
        if self.last is not None:
            self.ep.retransmitted()
            self.ep.send_raw(self.last, self.addr, None)

    def _terminate(self) -> None:
        _terminated(self, self._h, self._g, self._guard)


class NonInviteServerTxn(ServerTxn):
    def _after_response(self, status: int) -> None:
        if status < 200:
            self.state = "proceeding"
            return
        self.state = "completed"
        self.request = None      # only ``last`` is needed now: keeps 64*T1 of history light
        self._h = self.ep.call_later(self.ep.timers.timeout, self._terminate)  # Timer J


class InviteServerTxn(ServerTxn):
    invite = True

    def __init__(self, ep: "Transport", req: SipMessage, addr: Addr) -> None:
        super().__init__(ep, req, addr)
        self.state = "proceeding"
        self._interval = ep.timers.t1

    def _after_response(self, status: int) -> None:
        if status < 200:
            return
        self.request = None      # only ``last`` is needed from here on
        if status < 300:
            # RFC 6026 Accepted: absorb INVITE retransmissions, 2xx retransmits are the TU's job
            self.state = "accepted"
            self._h = self.ep.call_later(self.ep.timers.timeout, self._terminate)  # Timer L
            return
        self.state = "completed"
        self._g = self.ep.call_later(self._interval, self._timer_g)
        self._h = self.ep.call_later(self.ep.timers.timeout, self._terminate)  # Timer H

    def _timer_g(self) -> None:
        if self.state != "completed" or self.last is None:
            return
        self.ep.retransmitted()
        self.ep.send_raw(self.last, self.addr, None)
        self._interval = min(self._interval * 2, self.ep.timers.t2)
        self._g = self.ep.call_later(self._interval, self._timer_g)

    def ack(self) -> None:
        if self.state == "completed":
            self.state = "confirmed"
            if self._g:
                self._g.cancel()
            if self._h:
                self._h.cancel()
            self._h = self.ep.call_later(self.ep.timers.t4, self._terminate)  # Timer I


class ClientTxn:
    """Base client transaction; ``final`` resolves with the final response (or a local 408)."""
    invite = False

    def __init__(self, ep: "Transport", req: SipMessage, addr: Addr) -> None:
        self.ep, self.request, self.addr = ep, req, addr
        self.branch = req.top_via.branch
        self.key = client_key(self.branch, req.method)
        self.final: asyncio.Future[SipMessage] = ep.create_future()
        self.on_provisional: Callable[[SipMessage], None] | None = None
        # Called synchronously with the final response, before ``final`` resolves: an ACK sent
        # from here leaves before anything else the TU does for packets read in the same batch.
        self.on_final: Callable[[SipMessage], None] | None = None
        self.provisional: SipMessage | None = None
        # The same request re-sent with credentials after a 401/407 (labkit.acd.sip.digest):
        # this transaction's TU hears what the retry ends with; ``auth_round`` counts retries.
        self.retry: ClientTxn | None = None
        self.auth_round = 0
        self.state = "calling" if req.method == "INVITE" else "trying"
        self.data = req.encode()
        self._interval = ep.timers.t1
        self._a: asyncio.TimerHandle | None = None
        self._b: asyncio.TimerHandle | None = None
        self._c: asyncio.TimerHandle | None = None
        self._d: asyncio.TimerHandle | None = None
        self.born = ep.now()

    def start(self) -> "ClientTxn":
        self.ep.txn_started(self)
        self.ep.send_raw(self.data, self.addr, self.request)
        self._a = self.ep.call_later(self._interval, self._retransmit)
        self._b = self.ep.call_later(self.ep.timers.timeout, self._timeout)
        return self

    def _retransmit(self) -> None:
        if self.state not in ("calling", "trying", "proceeding"):
            return
        self.ep.retransmitted()
        self.ep.send_raw(self.data, self.addr, None)
        if self.state == "proceeding":
            self._interval = self.ep.timers.t2
        else:
            self._interval = min(self._interval * 2, self.ep.timers.t2)
        self._a = self.ep.call_later(self._interval, self._retransmit)

    def _timeout(self) -> None:
        """Timer B / F (or the 64*T1 after a CANCEL): the transaction ends with a local 408."""
        if self.final.done():
            return
        self.ep.timed_out()
        resp = make_response(self.request, 408, "Request Timeout (no response)")
        resp.headers.append(("X-Labkit-Local", "timeout"))
        self._end(resp)
        self._terminate()

    def _end(self, resp: SipMessage) -> None:
        """The ONE way a client transaction delivers its final response, whether it came from
        the wire or from a timer: retransmissions stop, ``on_final`` runs (synchronously, so an
        ACK it sends leaves first), then ``final`` resolves.  A TU that relies on either of the
        two sees every ending, timeouts included.  A challenge (401/407) the transport answers
        with credentials is not an ending: the retry's ending is delivered instead
        (``follow``), so every caller authenticates through this one place."""
        for h in (self._a, self._b, self._c):
            if h:
                h.cancel()
        if self.final.done() or self.retry is not None:
            return
        if resp.status in (401, 407) and self.ep.challenged(self, resp):
            return
        self._deliver(resp)

    def _deliver(self, resp: SipMessage) -> None:
        if self.on_final is not None:
            self.ep.guarded(self.on_final, resp)
        self.final.set_result(resp)

    def follow(self, retry: "ClientTxn") -> None:
        """``retry`` carries this request on (re-sent with credentials): its provisionals and
        its final response are this transaction's, and ``request`` becomes the request that
        got the answer (its CSeq is the one an ACK or a dialog must use)."""
        self.retry = retry
        retry.auth_round = self.auth_round + 1
        retry.on_provisional = self._retry_provisional
        retry.on_final = self._retry_final

    def _retry_provisional(self, resp: SipMessage) -> None:
        self.provisional = resp
        if self.on_provisional:
            self.on_provisional(resp)

    def _retry_final(self, resp: SipMessage) -> None:
        self.request = self.retry.request
        self._deliver(resp)

    def _terminate(self) -> None:
        _terminated(self, self._a, self._b, self._c, self._d)

    def on_response(self, resp: SipMessage) -> None:
        if resp.status < 200:
            if self.state in ("calling", "trying"):
                self.state = "proceeding"
                if self.invite:
                    for h in (self._a, self._b):   # INVITE: provisional stops Timers A and B
                        if h:
                            h.cancel()
            self.provisional = resp
            if self.on_provisional:
                self.on_provisional(resp)
            return
        if self.state in ("completed", "terminated"):
            self._retransmitted_final(resp)
            return
        self.state = "completed"
        self._end(resp)
        self._after_final(resp)

    def _after_final(self, resp: SipMessage) -> None:
        self._d = self.ep.call_later(self.ep.timers.t4, self._terminate)    # Timer K

    def _retransmitted_final(self, resp: SipMessage) -> None:
        pass


class InviteClientTxn(ClientTxn):
    invite = True

    def __init__(self, ep: "Transport", req: SipMessage, addr: Addr,
                 limit: float | None = None) -> None:
        super().__init__(ep, req, addr)
        self.limit = limit or ep.timers.timer_c
        self.expired = False                 # CANCELled because ``limit`` ran out
        self.cancel_requested = False
        self.cancel_txn: ClientTxn | None = None
        self._ack: bytes | None = None

    def _retransmit(self) -> None:
        if self.state != "calling":
            return
        self.ep.retransmitted()
        self.ep.send_raw(self.data, self.addr, None)
        self._interval *= 2
        self._a = self.ep.call_later(self._interval, self._retransmit)

    def start(self) -> "ClientTxn":
        super().start()
        # Timers A and B stop at the first provisional; ``limit`` (Timer C by default) bounds
        # how long the INVITE may go without a final answer at all: then it is CANCELled
        self._c = self.ep.call_later(self.limit, self._expire)
        return self

    def _expire(self) -> None:
        self._c = None
        if not self.final.done():
            self.expired = True
            self.cancel()

    def on_response(self, resp: SipMessage) -> None:
        if resp.status < 200 and self.cancel_requested and self.cancel_txn is None:
            super().on_response(resp)
            self._send_cancel()
            return
        super().on_response(resp)

    def _after_final(self, resp: SipMessage) -> None:
        if resp.status < 300:
            # 2xx: the transaction ends; the TU ACKs (and re-ACKs retransmitted 2xx).
            self._terminate()
            return
        self._ack = self._build_ack(resp).encode()
        self.ep.send_raw(self._ack, self.addr, None)
        self._d = self.ep.call_later(self.ep.timers.timeout, self._terminate)   # Timer D

    def _retransmitted_final(self, resp: SipMessage) -> None:
        if self._ack is not None and resp.status >= 300:
            self.ep.send_raw(self._ack, self.addr, None)

    def _build_ack(self, resp: SipMessage) -> SipMessage:
        """ACK for a non-2xx final: same branch, part of this transaction (RFC 3261 17.1.1.3)."""
        req = self.request
        ack = SipMessage(method="ACK", uri=req.uri)
        ack.headers.append(("Via", req.get_all("Via")[0]))
        for name in ("Route",):
            for v in req.get_all(name):
                ack.headers.append((name, v))
        ack.headers.append(("Max-Forwards", "70"))
        ack.headers.append(("From", req.get("From")))
        ack.headers.append(("To", resp.get("To")))
        ack.headers.append(("Call-ID", req.call_id))
        ack.headers.append(("CSeq", f"{req.cseq[0]} ACK"))
        return ack

    def _retry_final(self, resp: SipMessage) -> None:
        self.expired = self.retry.expired
        super()._retry_final(resp)

    def cancel(self) -> None:
        """Send CANCEL once a provisional has arrived (RFC 3261 9.1); later if none yet.  An
        INVITE re-sent with credentials is cancelled in its retry."""
        if self.retry is not None:
            self.retry.cancel()
            return
        if self.final.done() or self.cancel_requested:
            return
        self.cancel_requested = True
        if self.provisional is not None:
            self._send_cancel()

    def _send_cancel(self) -> None:
        req = self.request
        c = SipMessage(method="CANCEL", uri=req.uri)
        c.headers.append(("Via", req.get_all("Via")[0]))
        for v in req.get_all("Route"):
            c.headers.append(("Route", v))
        c.headers.append(("Max-Forwards", "70"))
        c.headers.append(("From", req.get("From")))
        c.headers.append(("To", req.get("To")))
        c.headers.append(("Call-ID", req.call_id))
        c.headers.append(("CSeq", f"{req.cseq[0]} CANCEL"))
        self.cancel_txn = self.ep.send_request(c, self.addr)
        # RFC 3261 9.1: no final within 64*T1 of the CANCEL -> give the INVITE up.
        self._b = self.ep.call_later(self.ep.timers.timeout, self._timeout)
