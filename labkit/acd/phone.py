"""labkit SIP user agents for the ACD lab: agent phones and a gateway that places calls.

``AgentPhone`` is what the seed's agents have on their desks: it logs in by calling the
login AOR and keying the agent ID as SIP INFO digits, it answers the ACD's SUBSCRIBE and sends
RFC 4235 dialog-info NOTIFYs that follow its real call state, and it answers, refuses or ignores
calls by policy.  ``Gateway`` plays the seed's FXO gateway: it calls queue AORs with a PCMU
offer and hangs up (or vanishes without BYE, for soak tests).

**Through a PBX** (``pbx=(host, port)``, with ``secret=`` for digest): a phone registers its
user there (``register()``: labkit.acd.sip.register, refreshed at half the grant, backoff on
failure), its INVITEs name it as ``sip:USER@PBXHOST`` in From, a login calls ``sip:*44@PBX``
(``LOGIN_CODE``; the PBX's dial plan sends it to the ACD's login AOR) and a logout
``sip:*45@PBX``; challenges (401/407) from the PBX, and only from it, are answered once with
the credentials.  Calls arriving through the PBX are answered with its Record-Route copied,
and ACK, INFO and BYE follow the route set (labkit.acd.sip.endpoint.Dialog).

Both list the methods they take in ``Allow`` (RFC 3261 20.5), so the ACD knows it may
re-INVITE them; ``reinvite=`` makes one refuse (``"refuse"``, 488, or a status code) or
ignore (``"ignore"``: no answer at all) re-INVITEs, and ``allow=None`` makes one list nothing,
like sipp's built-in scenarios: the peers that independent testing met.  With ``media=True``
a call sends a tone as PCMU RTP (from the port its SDP announced, through one
``labkit.rtp.RtpScheduler`` per UA) and keeps what it receives (``PhoneCall.rtp``); without
it, signalling only.  Everything runs on the caller's asyncio loop.
"""
from __future__ import annotations

import asyncio
import itertools
import math
import random
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from labkit import rtp

from . import events
from .sip import sdp
from .sip.digest import DigestClient
from .sip.endpoint import Dialog, SipEndpoint, resolve
from .sip.message import SipMessage, SipUri, new_tag
from .sip.register import Registration
from .sip.transaction import ServerTxn, Timers

Policy = Callable[[SipMessage], tuple]   # -> ("answer", delay) | ("refuse", code) | ("ignore",)
#: What labkit's phones and gateway take (their Allow header).
ALLOW_UA = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, SUBSCRIBE, NOTIFY"
#: The longest subscription a phone grants; a SUBSCRIBE asking more gets this (RFC 6665 4.2.1.1).
MAX_SUBSCRIPTION = 3600
RTP_KEEP = 2000            # received RTP packets a call keeps (40 s of one stream)
#: What a phone dials through a PBX to log in and out (the seed's Asterisk feature codes).
LOGIN_CODE, LOGOUT_CODE = "*44", "*45"


def voice(name: str) -> float:
    """The pitch a phone called ``name`` talks at (each phone its own, so a capture tells
    whose voice a packet carries); gateways talk at 440 Hz."""
    return 300.0 + (sum(name.encode()) % 40) * 10


def tone(hz: float, seconds: float = 1.0) -> bytes:
    """A sine tone as µ-law: what a phone with media "says" (each phone its own pitch)."""
    n = int(rtp.SAMPLE_RATE * seconds)
    return rtp.ulaw_encode(int(8000 * math.sin(2 * math.pi * hz * i / rtp.SAMPLE_RATE))
                           for i in range(n))


@dataclass(eq=False)
class PhoneCall:
    dialog: Dialog
    direction: str            # "initiator" | "recipient"
    state: str = "early"      # early | confirmed | terminated
    txn: ServerTxn | None = None
    did: str = ""
    answered: asyncio.Future | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reinvited: int = 0        # re-INVITEs accepted
    reinvites_seen: int = 0   # re-INVITEs received, whatever was done with them
    reinvite: asyncio.Event = field(default_factory=asyncio.Event)   # set at the first one
    remote_sdp: bytes = b""
    sock: socket.socket | None = None      # the media port (media=True)
    sid: int = 0                           # the RTP stream we send
    rtp: deque = field(default_factory=lambda: deque(maxlen=RTP_KEEP))   # (time, bytes) received


@dataclass(eq=False)
class PhoneSub:
    """A subscription to this phone's state (the ACD's, RFC 6665 notifier side)."""
    dialog: Dialog
    event: str
    expires_at: float
    version: int = 0          # RFC 4235 4.1: counted per subscription, from 0
    timer: asyncio.TimerHandle | None = None


class _UA:
    """Shared plumbing: endpoint, dialogs keyed by (Call-ID, local tag), simple answers."""
    user = "ua"
    pitch = 440.0

    def __init__(self, timers: Timers = Timers(), host: str = "127.0.0.1", port: int = 0,
                 reinvite: str | int = "accept", allow: str | None = ALLOW_UA,
                 media: bool = False, pbx: tuple[str, int] | None = None, secret: str = "") -> None:
        if reinvite not in ("accept", "refuse", "ignore") and not (
                isinstance(reinvite, int) and 400 <= reinvite <= 699):
            raise ValueError(f"reinvite={reinvite!r}: use accept, refuse, ignore or a 4xx-6xx code")
        self.timers, self.host, self.port = timers, host, port
        self.reinvite, self.allow, self.media = reinvite, allow, media
        self.ep: SipEndpoint | None = None
        self.calls: dict[tuple[str, str], PhoneCall] = {}
        self.ids = itertools.count(1)
        self.tasks: set[asyncio.Task] = set()
        self.handles: set[asyncio.TimerHandle] = set()
        self.sched: rtp.RtpScheduler | None = None
        self.stopped = False
        self.pbx, self.secret = pbx, secret
        self.registration: Registration | None = None

    async def start(self) -> "_UA":
        self.ep = await SipEndpoint.listen(self, self.host, self.port, timers=self.timers,
                                           user_agent=f"labkit-{self.user}")
        if self.pbx is not None and self.secret:
            self.ep.auth = DigestClient(self.user, self.secret, peer=self._pbx_addr())
        if self.media:
            self.sched = rtp.RtpScheduler().start()
        return self

    def _pbx_addr(self) -> tuple[str, int]:
        return resolve(SipUri.parse(f"sip:{self.pbx[0]}:{self.pbx[1]}"))

    @property
    def domain(self) -> str:
        """The host of our From URIs: the PBX's when we go through one, else our own."""
        return self.pbx[0] if self.pbx is not None else self.ep.host

    def register(self, expires: int = 300) -> Registration:
        """Register our user at the PBX with our Contact (and keep it registered)."""
        if self.pbx is None:
            raise ValueError("register() needs a PBX: give pbx=(host, port)")
        if self.registration is None:
            self.registration = Registration(self.ep, self.user, self._pbx_addr(), self.contact,
                                             expires=expires,
                                             backoff_unit=self.timers.t1 / 0.5).start()
        return self.registration

    async def unregister(self, timeout: float = 2.0) -> None:
        """Remove our binding at the PBX (Expires: 0), waiting at most ``timeout``."""
        if self.registration is not None:
            await self.registration.stop(timeout)

    async def stop(self) -> None:
        """Stop at once, without a word to anyone: a phone unplugged (no logout, no BYE)."""
        self.stopped = True
        if self.registration is not None:
            self.registration.abandon()
        for h in list(self.handles):
            h.cancel()
        for t in list(self.tasks):
            t.cancel()
        for call in list(self.calls.values()):
            self._close_media(call)
        if self.sched is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.sched.stop)
            self.sched = None
        if self.ep:
            self.ep.close()

    # ---- media (media=True) --------------------------------------------------------------
    def _open_media(self, call: PhoneCall) -> None:
        if self.sched is None or call.sock is not None:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.ep.host, 0))
        s.setblocking(False)
        call.sock = s
        asyncio.get_running_loop().add_reader(s.fileno(), self._rtp_in, call)

    def _rtp_in(self, call: PhoneCall) -> None:
        sock = call.sock
        loop = asyncio.get_running_loop()
        for _ in range(64):
            try:
                call.rtp.append((loop.time(), sock.recv(2048)))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue

    def _talk(self, call: PhoneCall) -> None:
        """Send our tone to where the far end's SDP says (again after a re-INVITE)."""
        to = sdp.address(call.remote_sdp)
        if self.sched is None or call.sock is None or to is None:
            return
        if call.sid:
            self.sched.remove_stream(call.sid)
        call.sid = self.sched.add_stream(call.sock, to, rtp.Playlist(music=tone(self.pitch)))

    def _close_media(self, call: PhoneCall) -> None:
        sock, call.sock = call.sock, None
        if sock is None:
            return
        try:
            asyncio.get_running_loop().remove_reader(sock.fileno())
        except RuntimeError:
            pass
        if self.sched is not None:
            self.sched.release(sock)
        else:
            sock.close()

    @property
    def contact(self) -> str:
        return self.ep.uri(self.user)

    def _later(self, delay: float, fn, *args) -> asyncio.TimerHandle:
        """``loop.call_later`` whose handle ``stop()`` cancels."""
        def fire() -> None:
            self.handles.discard(h)
            fn(*args)
        h = asyncio.get_running_loop().call_later(delay, fire)
        self.handles.add(h)
        return h

    def _cancel(self, h: asyncio.TimerHandle | None) -> None:
        if h is not None:
            h.cancel()
            self.handles.discard(h)

    def _spawn(self, coro) -> None:
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def sdp(self, call: PhoneCall | None = None) -> bytes:
        """Our SDP: the call's media port, or (signalling only) a port nobody listens on."""
        port = call.sock.getsockname()[1] if call is not None and call.sock is not None \
            else 40000 + (self.ep.port % 20000)
        return sdp.build(self.ep.host, port, user=self.user)

    def _allow(self) -> list[tuple[str, str]]:
        return [("Allow", self.allow)] if self.allow else []

    def on_ack(self, req: SipMessage) -> None:
        pass

    def on_cancel(self, invite: SipMessage) -> None:
        for key, call in list(self.calls.items()):
            if call.dialog.call_id == invite.call_id and call.state == "early":
                self._terminate(key)

    def _terminate(self, key: tuple[str, str]) -> None:
        call = self.calls.pop(key, None)
        if call is not None:
            call.state = "terminated"
            self._close_media(call)
            call.ended.set()
            if call.answered is not None and not call.answered.done():
                call.answered.set_result(False)
            self.changed()

    def changed(self) -> None:
        pass

    def _in_dialog(self, req: SipMessage, txn: ServerTxn) -> PhoneCall | None:
        call = self.calls.get((req.call_id, req.to.tag))
        if call is None:
            txn.respond(txn.response(481))
        return call

    def on_request(self, req: SipMessage, txn: ServerTxn) -> None:
        m = req.method
        if m == "INVITE" and req.to.tag:
            call = self._in_dialog(req, txn)
            if call:
                self._on_reinvite(call, req, txn)
        elif m == "INVITE":
            self.on_invite(req, txn)
        elif m == "BYE":
            call = self._in_dialog(req, txn)
            if call:
                txn.respond(txn.response(200))
                self._terminate((req.call_id, req.to.tag))
        elif m in ("INFO", "OPTIONS", "UPDATE") and req.to.tag:
            if self._in_dialog(req, txn):
                txn.respond(txn.response(200))
        elif m == "OPTIONS":
            txn.respond(txn.response(200))
        else:
            self.on_other(req, txn)

    def _on_reinvite(self, call: PhoneCall, req: SipMessage, txn: ServerTxn) -> None:
        call.reinvites_seen += 1
        call.reinvite.set()
        if self.reinvite == "ignore":
            return                  # no answer at all: the sender's Timer B decides
        if self.reinvite != "accept":
            code = 488 if self.reinvite == "refuse" else self.reinvite
            txn.respond(txn.response(code))
            return
        call.reinvited += 1
        call.remote_sdp = req.body or call.remote_sdp
        resp = txn.response(200, body=self.sdp(call),
                            extra=[("Contact", f"<{self.contact}>"), *self._allow()])
        self.ep.send_2xx(txn, resp)
        self._talk(call)

    def on_invite(self, req: SipMessage, txn: ServerTxn) -> None:
        txn.respond(txn.response(486, to_tag=new_tag()))

    def on_other(self, req: SipMessage, txn: ServerTxn) -> None:
        txn.respond(txn.response(405, extra=[("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO")]))

    async def invite(self, uri: str, from_user: str, body: bytes | None = None,
                     dest: tuple[str, int] | None = None, ack: bool = True
                     ) -> tuple[SipMessage, PhoneCall | None]:
        """Place a call; on 2xx ACK it and return the confirmed dialog.  ``ack=False`` plays a
        caller that vanishes between the 200 and its ACK: nothing is sent, nothing is kept."""
        call = PhoneCall(dialog=None, direction="initiator", did=f"d{next(self.ids)}")  # type: ignore[arg-type]
        self._open_media(call)
        req = self.ep.new_request("INVITE", uri, from_=f"<sip:{from_user}@{self.domain}>",
                                  to=f"<{uri}>", contact=self.contact,
                                  body=self.sdp(call) if body is None else body,
                                  content_type="application/sdp", extra=self._allow())
        dialog = Dialog(call_id=req.call_id, local_tag=req.from_.tag, remote_tag="",
                        local_uri=f"<sip:{from_user}@{self.domain}>", remote_uri=f"<{uri}>",
                        remote_target=uri, local_contact=self.contact, local_seq=1)
        req.dialog = dialog          # a digest retry's CSeq carries on into the dialog
        call.dialog = dialog
        self.calls[dialog.key] = call
        self.changed()
        txn = self.ep.send_request(req, dest or resolve(SipUri.parse(uri)))
        resp = await txn.final
        if resp.status >= 300:
            self.calls.pop(dialog.key, None)
            self._close_media(call)
            self.changed()
            return resp, None
        if not ack:
            self.calls.pop(dialog.key, None)
            self._close_media(call)
            return resp, None
        d2 = Dialog.as_uac(txn.request, resp, self.contact)
        call.dialog.remote_tag, call.dialog.remote_target = d2.remote_tag, d2.remote_target
        call.dialog.route_set = d2.route_set
        call.remote_sdp = resp.body
        self.ep.send_ack(call.dialog, txn.request.cseq[0])   # the INVITE that got the 2xx
        call.state = "confirmed"
        self._talk(call)
        self.changed()
        return resp, call

    def hangup(self, call: PhoneCall, lose: bool = False, swap_tags: bool = False) -> None:
        """BYE the call; ``lose=True`` simulates a BYE lost on the wire (nothing is sent);
        ``swap_tags=True`` sends it with From and To swapped, as sipp's abort BYE does."""
        if call.state == "terminated":
            return
        if not lose:
            bye = call.dialog.request("BYE")
            if swap_tags:
                d = call.dialog
                bye.set("From", f"{d.remote_uri};tag={d.remote_tag}")
                bye.set("To", f"{d.local_uri};tag={d.local_tag}")
            self.ep.send_request(bye, call.dialog.destination())
        self._terminate(call.dialog.key)


class AgentPhone(_UA):
    """An agent's desk phone. ``policy`` decides per incoming INVITE."""
    user = "phone"

    def __init__(self, name: str = "phone", policy: Policy | str = "answer", answer_delay: float = 0.0,
                 talk_time: float | None = None, timers: Timers = Timers(), host: str = "127.0.0.1",
                 port: int = 0, notify_body: str = "dialog", subscribe: str = "answer",
                 max_expires: int = MAX_SUBSCRIPTION, **ua) -> None:
        """``subscribe``: ``answer`` (200, then NOTIFYs), ``silent`` (200 and never a NOTIFY)
        or ``ignore`` (no answer at all): the last two are phones a soak throws at the ACD.
        ``max_expires`` is the longest subscription granted. ``ua``: reinvite, allow, media."""
        super().__init__(timers, host, port, **ua)
        if subscribe not in ("answer", "silent", "ignore"):
            raise ValueError(f"subscribe={subscribe!r}: use answer, silent or ignore")
        self.subscribe = subscribe
        self.max_expires = max_expires
        self.pitch = voice(name)
        self.user = name
        if isinstance(policy, str):
            kind = policy
            policy = (lambda req: ("answer", answer_delay)) if kind == "answer" else \
                     (lambda req: ("refuse", 486)) if kind == "refuse" else (lambda req: ("ignore",))
        self.policy: Policy = policy
        self.talk_time = talk_time
        self.subs: dict[tuple[str, str], PhoneSub] = {}
        self.notify_body = notify_body     # "dialog" or "presence" (what events we accept)
        self.lose_next_bye = False
        self.bye_loss = 0.0                 # probability that a hang-up's BYE is lost (soak)
        self.rng = random.Random(name)
        self.acd_calls: list[PhoneCall] = []
        self.incoming = 0

    # ---- login/logout ------------------------------------------------------------------
    async def login(self, acd: tuple[str, int], agent_id: str, ctype: str = events.CT_DTMF_RELAY,
                    login_user: str = "acdlogin", hangup_after: float = 0.2) -> bool:
        """Call the login AOR, key ``agent_id`` as INFO digits, then hang up (or let the ACD).

        Returns True when every digit was accepted; whether the login itself succeeded shows in
        the ACD (GET /agents), exactly as for a real phone."""
        uri = f"sip:{login_user}@{acd[0]}:{acd[1]}"
        resp, call = await self.invite(uri, self.user, dest=acd)
        if call is None:
            return False
        for d in agent_id:
            body = events.dtmf_relay_body(d) if ctype == events.CT_DTMF_RELAY else d.encode()
            info = call.dialog.request("INFO", body=body, content_type=ctype)
            r = await self.ep.send_request(info, call.dialog.destination()).final
            if r.status != 200:
                self.hangup(call)
                return False
        await self._end_within(call, hangup_after)
        return True

    async def logout(self, acd: tuple[str, int], logout_user: str = "acdlogout",
                     hangup_after: float = 0.2) -> bool:
        uri = f"sip:{logout_user}@{acd[0]}:{acd[1]}"
        resp, call = await self.invite(uri, self.user, dest=acd)
        if call is None:
            return False
        await self._end_within(call, hangup_after)
        return True

    async def _end_within(self, call, seconds: float) -> None:
        """Let the ACD hang up a login/logout call; hang up ourselves after ``seconds``."""
        try:
            await asyncio.wait_for(call.ended.wait(), seconds)
        except asyncio.TimeoutError:
            self.hangup(call)

    # ---- being called ------------------------------------------------------------------
    def on_invite(self, req: SipMessage, txn: ServerTxn) -> None:
        self.incoming += 1
        try:
            sdp.check_offer(req.body)
        except sdp.SdpError:
            txn.respond(txn.response(488, to_tag=new_tag()))
            return
        decision = self.policy(req)
        if decision[0] == "refuse":
            txn.respond(txn.response(decision[1] if len(decision) > 1 else 486, to_tag=new_tag()))
            return
        tag = new_tag()
        dialog = Dialog.as_uas(req, tag, self.contact)
        call = PhoneCall(dialog=dialog, direction="recipient", txn=txn, did=f"d{next(self.ids)}",
                         remote_sdp=req.body)
        self._open_media(call)
        self.calls[dialog.key] = call
        txn.to_tag = tag
        txn.respond(txn.response(180, to_tag=tag, extra=[("Contact", f"<{self.contact}>")]))
        self.changed()
        if decision[0] == "answer":
            delay = decision[1] if len(decision) > 1 else 0.0
            self._later(delay, self._answer, call)

    def _answer(self, call: PhoneCall) -> None:
        if call.state != "early" or call.txn is None or call.txn.final_sent:
            return
        resp = call.txn.response(200, to_tag=call.dialog.local_tag, body=self.sdp(call),
                                 extra=[("Contact", f"<{self.contact}>"), *self._allow()])
        self.ep.send_2xx(call.txn, resp, on_no_ack=lambda: self.hangup(call))
        call.state = "confirmed"
        self._talk(call)
        self.acd_calls.append(call)
        if len(self.acd_calls) > 100:
            del self.acd_calls[:50]
        self.changed()
        if self.talk_time is not None:
            self._later(self.talk_time, self._talk_over, call)

    def _talk_over(self, call: PhoneCall) -> None:
        lose, self.lose_next_bye = self.lose_next_bye, False
        lose = lose or (self.bye_loss > 0 and self.rng.random() < self.bye_loss)
        self.hangup(call, lose=lose)

    # ---- the ACD's subscription --------------------------------------------------------
    def on_other(self, req: SipMessage, txn: ServerTxn) -> None:
        if req.method != "SUBSCRIBE":
            super().on_other(req, txn)
            return
        if self.subscribe == "ignore":
            return
        event = req.get("Event").split(";")[0].strip().lower()
        wanted = "dialog" if self.notify_body == "dialog" else "presence"
        if event != wanted:
            txn.respond(txn.response(489, to_tag=new_tag(), extra=[("Allow-Events", wanted)]))
            return
        # RFC 6665 4.2.1.1: the notifier may shorten a subscription, never lengthen it
        asked = req.get("Expires")
        granted = min(int(asked) if asked else MAX_SUBSCRIPTION, self.max_expires)
        loop = asyncio.get_running_loop()
        if req.to.tag:
            key = (req.call_id, req.to.tag)
            sub = self.subs.get(key)
            if sub is None:
                txn.respond(txn.response(481))
                return
            sub.dialog.remote_seq = req.cseq[0]
        else:
            dialog = Dialog.as_uas(req, new_tag(), self.contact)
            key = dialog.key
            sub = self.subs[key] = PhoneSub(dialog, event, 0.0)
        sub.expires_at = loop.time() + granted
        self._cancel(sub.timer)
        sub.timer = self._later(granted, self._expired, key) if granted else None
        txn.respond(txn.response(200, to_tag=sub.dialog.local_tag,
                                 extra=[("Expires", str(granted)), ("Contact", f"<{self.contact}>")]))
        if self.subscribe == "answer" or granted == 0:
            self._notify(key, terminated=granted == 0)

    def _expired(self, key: tuple[str, str]) -> None:
        """Not refreshed in time: the subscription ends (RFC 6665 4.2.2, reason=timeout)."""
        if key in self.subs:
            self._notify(key, terminated=True)

    def _body(self, sub: PhoneSub) -> tuple[str, bytes]:
        if self.notify_body == "presence":
            busy = any(c.state in ("early", "confirmed") for c in self.calls.values())
            return events.CT_PIDF, events.build_pidf(self.contact, not busy,
                                                     "on-the-phone" if busy else "")
        dl = [(c.did, c.dialog.call_id, c.direction, c.state) for c in self.calls.values()]
        body = events.build_dialog_info(self.contact, sub.version, dl)
        sub.version += 1
        return events.CT_DIALOG_INFO, body

    def _notify(self, key: tuple[str, str], terminated: bool = False) -> None:
        sub = self.subs.get(key)
        if sub is None:
            return
        ctype, body = self._body(sub)
        if terminated:
            state = "terminated;reason=timeout"
        else:   # what is left of what we granted, never more (RFC 6665 4.2.2)
            left = max(0, math.ceil(sub.expires_at - asyncio.get_running_loop().time()))
            state = f"active;expires={left}"
        req = sub.dialog.request("NOTIFY", body=body, content_type=ctype,
                                 extra=[("Event", sub.event), ("Subscription-State", state)])
        self.ep.send_request(req, sub.dialog.destination())
        if terminated:
            self._cancel(sub.timer)
            del self.subs[key]

    def changed(self) -> None:
        if self.subscribe == "answer":
            for key in list(self.subs):
                self._notify(key)

    @property
    def busy(self) -> bool:
        return any(c.state in ("early", "confirmed") for c in self.calls.values())


class Gateway(_UA):
    """Places calls into the ACD's queues (the seed's FXO gateway).  Keyword arguments as for
    every UA: ``reinvite`` (accept, refuse, ignore, a code), ``allow``, ``media``."""
    user = "gateway"

    async def call(self, acd: tuple[str, int], target: str, hold: float = 1.0,
                   lose_bye: bool = False, swap_tags: bool = False, ack: bool = True,
                   hangup_on_reinvite: bool = False) -> dict:
        """Call ``target`` (a queue or agent user) and hang up after ``hold`` seconds.

        The ways a caller can misbehave, for soaks: ``lose_bye`` (the BYE never arrives),
        ``swap_tags`` (a BYE with From and To swapped), ``ack=False`` (never ACKs the 200),
        ``hangup_on_reinvite`` (hangs up the moment the ACD's re-INVITE arrives, whatever it
        does with it).  Returns what happened: status, whether an agent got connected (a
        re-INVITE accepted), who ended the call, the Call-ID, and (media=True) the RTP it
        received as (time, bytes)."""
        uri = f"sip:{target}@{acd[0]}:{acd[1]}"
        resp, call = await self.invite(uri, self.user, dest=acd, ack=ack)
        out = {"status": resp.status, "connected": False, "ended_by": "", "call_id": resp.call_id,
               "reinvites": 0}
        if resp.status < 300 and not ack:
            out["ended_by"] = "no-ack"
        if call is None:
            return out
        waits = [asyncio.ensure_future(call.ended.wait())]
        if hangup_on_reinvite:
            waits.append(asyncio.ensure_future(call.reinvite.wait()))
        done, pending = await asyncio.wait(waits, timeout=hold, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        if call.ended.is_set():
            out["ended_by"] = "acd"
        else:
            self.hangup(call, lose=lose_bye, swap_tags=swap_tags)
            out["ended_by"] = "lost" if lose_bye else "caller"
        out["connected"] = call.reinvited > 0
        out["reinvites"] = call.reinvites_seen
        if self.media:
            out["rtp"] = list(call.rtp)
        return out


def random_policy(rng: random.Random, p_refuse: float, p_ignore: float, delay: tuple[float, float]
                  ) -> Policy:
    """A soak-test policy: some calls refused, some left ringing, the rest answered after a delay."""
    def policy(req: SipMessage) -> tuple:
        x = rng.random()
        if x < p_refuse:
            return ("refuse", 486)
        if x < p_refuse + p_ignore:
            return ("ignore",)
        return ("answer", rng.uniform(*delay))
    return policy
