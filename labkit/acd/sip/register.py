"""REGISTER as a client (RFC 3261 10): one address-of-record bound to our Contact at a PBX.

``Registration`` keeps one AOR registered: REGISTER ``sip:PBXADDR:PORT`` with To/From
``sip:USER@PBXADDR``, our Contact and ``Expires``; one Call-ID for its whole life and a CSeq
that only grows (RFC 3261 10.2.4), digest credentials through the endpoint's one place
(labkit.acd.sip.digest).  Decisions, shared by the ACD and labkit's phones:

- **Refresh at half the grant.**  The grant is our Contact's ``expires`` parameter in the 2xx,
  else its ``Expires`` header, else what we asked; 423 Interval Too Brief is answered once with
  the registrar's ``Min-Expires``.
- **Failures back off, never storm.**  A timeout, a 4xx/5xx/6xx or refused credentials mark the
  AOR unregistered with the reason, and the next attempt comes after 1 s, 2 s, 4 s ... capped at
  30 s (60 s when the credentials were refused: a 401/407 after digest, or a 403), the unit
  scaled with the SIP timers (``Backoff``).  A success resets the backoff.
- **One log line per state change**, not per attempt: registered, or a new reason for not
  being registered.
- **Stop un-REGISTERs** (``Expires: 0``) best-effort, bounded by the caller's timeout.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from labkit.digits import uint

from .endpoint import SipEndpoint
from .message import NameAddr, SipMessage, SipParseError, SipUri, new_call_id
from .transaction import Addr, ClientTxn, auth_refused, local_timeout

log = logging.getLogger("labkit.acd.sip")

#: Longest wait between attempts: after a failure, and after refused credentials.
CAP, CAP_REFUSED = 30.0, 60.0
#: The longest expiry asked for or taken from a Min-Expires (a day).
MAX_EXPIRES = 86400


class Backoff:
    """Waits of ``first``, 2 x ``first``, 4 x ``first`` ... capped: how every retry towards a
    PBX (registrations, subscriptions) spaces itself."""

    def __init__(self, first: float = 1.0) -> None:
        self.first = first
        self.failures = 0

    def delay(self, cap: float = CAP) -> float:
        """The wait before the next attempt (and one failure more counted)."""
        d = min(cap * self.first, self.first * 2 ** min(self.failures, 30))
        self.failures += 1
        return d

    def reset(self) -> None:
        self.failures = 0


def rounds(txn: ClientTxn) -> int:
    """How many requests a client transaction put on the wire: itself and its digest retries."""
    n = 1
    while txn.retry is not None:
        txn, n = txn.retry, n + 1
    return n


def failure(resp: SipMessage, peer: Addr) -> tuple[str, bool]:
    """(why a request to the PBX failed, whether its credentials were refused)."""
    refused = auth_refused(resp)
    if refused:
        return refused, True
    if local_timeout(resp):
        return f"no answer from {peer[0]}:{peer[1]} (timeout)", False
    return f"{resp.status} {resp.reason}"[:120], resp.status in (401, 403, 407)


class Registration:
    """Keep ``user`` registered at ``registrar`` with ``contact`` (see the module's decisions).
    ``backoff_unit`` scales the retry waits (1.0: 1 s, 2 s, 4 s ...)."""

    def __init__(self, ep: SipEndpoint, user: str, registrar: Addr, contact: str,
                 expires: int = 300, backoff_unit: float = 1.0,
                 on_change: Callable[["Registration"], None] | None = None) -> None:
        self.ep, self.user, self.registrar, self.contact = ep, user, registrar, contact
        self.expires = expires
        self.aor = f"sip:{user}@{registrar[0]}"
        self.on_change = on_change
        self.registered = False
        self.reason = "not registered yet"
        self.granted = 0                  # seconds the last 2xx granted
        self.sent = 0                     # REGISTERs put on the wire (digest retries included)
        self.refused = 0                  # attempts whose credentials were refused
        self.backoff = Backoff(backoff_unit)
        self.call_id = new_call_id(ep.host)
        self.cseq = 0
        self._handle: asyncio.TimerHandle | None = None
        self._txn: ClientTxn | None = None
        self._stopped = False

    @property
    def status(self) -> str:
        """"ok" when registered, else why not (what GET /queues shows)."""
        return "ok" if self.registered else self.reason

    def start(self) -> "Registration":
        self._send(self.expires)
        return self

    def _request(self, expires: int) -> SipMessage:
        self.cseq += 1
        host, port = self.registrar
        return self.ep.new_request("REGISTER", f"sip:{host}:{port}", from_=f"<{self.aor}>",
                                   to=f"<{self.aor}>", call_id=self.call_id, cseq=self.cseq,
                                   contact=self.contact, extra=[("Expires", str(expires))])

    def _send(self, expires: int) -> None:
        self._handle = None
        if self._stopped or self.ep.sock is None:
            return
        txn = self._txn = self.ep.send_request(self._request(expires), self.registrar)
        self.sent += 1
        txn.on_final = lambda resp: self._final(txn, resp, expires)

    def _final(self, txn: ClientTxn, resp: SipMessage, asked: int) -> None:
        self.cseq = max(self.cseq, txn.request.cseq[0])
        self.sent += rounds(txn) - 1          # its digest retries
        self._txn = None
        if self._stopped:
            return
        if 200 <= resp.status < 300:
            granted = self._granted(resp, asked)
            if granted > 0:
                self.granted = granted
                self.backoff.reset()
                self._set(True, "ok")
                self._handle = self.ep.call_later(granted / 2, self._send, self.expires)
                return
            why, refused = "the PBX granted no time (expires=0)", False
        elif resp.status == 423 and asked < _min_expires(resp) <= MAX_EXPIRES:
            self.expires = _min_expires(resp)       # RFC 3261 10.2.8: ask again with its minimum
            self._send(self.expires)
            return
        else:
            why, refused = failure(resp, self.registrar)
        self.refused += refused
        self._set(False, why)
        wait = self.backoff.delay(CAP_REFUSED if refused else CAP)
        self._handle = self.ep.call_later(wait, self._send, self.expires)

    def _granted(self, resp: SipMessage, asked: int) -> int:
        """Our Contact's expires in the 2xx, else its Expires header, else what we asked."""
        ours = SipUri.parse(self.contact)
        for value in resp.get_all("Contact"):
            try:
                na = NameAddr.parse(value)
            except SipParseError:
                continue
            u = na.uri
            if (u.user, u.host, u.port or 5060) == (ours.user, ours.host, ours.port or 5060) \
                    and "expires" in na.params:
                return _seconds(na.params["expires"], asked)
        return _seconds(resp.get("Expires"), asked)

    def _set(self, registered: bool, reason: str) -> None:
        if (registered, reason) == (self.registered, self.reason):
            return
        self.registered, self.reason = registered, reason
        if registered:
            log.info("PBX: %s registered (Contact %s, %d s)", self.aor, self.contact, self.granted)
        elif reason == "unregistered":
            log.info("PBX: %s unregistered", self.aor)
        else:
            log.warning("PBX: %s not registered: %s", self.aor, reason)
        if self.on_change is not None:
            self.on_change(self)

    def abandon(self) -> None:
        """Stop refreshing without a word to the registrar (a phone unplugged)."""
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    async def stop(self, timeout: float = 2.0) -> None:
        """Stop refreshing and un-REGISTER (Expires: 0), waiting at most ``timeout``."""
        if self._stopped:
            return
        self.abandon()
        if not (self.registered or self._txn is not None) or self.ep.sock is None:
            return
        txn = self.ep.send_request(self._request(0), self.registrar)
        try:
            await asyncio.wait_for(asyncio.shield(txn.final), timeout)
        except asyncio.TimeoutError:
            pass
        self.sent += rounds(txn)           # the un-REGISTER and its digest retries
        self._set(False, "unregistered")


def _min_expires(resp: SipMessage) -> int:
    return _seconds(resp.get("Min-Expires"), 0)


def _seconds(text: str, default: int) -> int:
    try:
        return uint(text.strip(), 2**32 - 1, "expires")
    except (ValueError, AttributeError):
        return default
