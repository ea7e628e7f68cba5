"""The ACD server: a thin SIP dispatcher over the ACD's parts.

``AcdServer`` holds the state (queues, agents, calls, legs, subscriptions, offers) and answers
SIP requests: new INVITEs become caller, login or logout legs, BYE / re-INVITE / ACK go to their
leg, INFO to login, NOTIFY to presence. The rest is one module per job, each a mixin of this
class: ``legs`` (dialogs and how they end), ``routing`` (offers, bridge, wrap-up, transfer),
``login`` (DTMF login, logout), ``presence`` (device subscriptions) and ``admin`` (REST-time
configuration, leak counters).

How a queued call meets its agent (decision, see docs/notes/acd.md): the ACD stays a
back-to-back user agent.  It answers the caller itself (welcome + music + announcements from its
own RTP), rings agents with the *caller's* SDP offer, and when an agent answers it re-INVITEs the
caller with the agent's SDP, so RTP then flows caller <-> agent directly while BYEs still pass
through the ACD (it knows when the agent is free).  Forcing a call out of a queue through REST
uses the same mechanism towards any SIP URI.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Callable

from .admin import Admin
from .core import LOGGEDOUT, AcdConfig, Agent, Call, Queue, QueueLog
from .legs import ALLOW, Leg, Legs, Offer, Subscription, allowed
from .login import Login
from .pbx_client import PbxClient
from .presence import Presence
from .prompts import PromptPlayer
from .routing import Routing
from .sip import sdp
from .sip.endpoint import Dialog, SipEndpoint
from .sip.message import METHODS, SipMessage, SipUri, new_tag
from .sip.transaction import ServerTxn, Timers

log = logging.getLogger("labkit.acd")
__all__ = ["AcdServer", "Leg", "Offer", "Subscription", "ALLOW"]


class AcdServer(Routing, Login, Presence, Admin, Legs, PbxClient):
    """The ACD: SIP in, calls routed to agents. ``clock`` is the monotonic time every wait,
    idle time and statistic is measured with (tests pass a fake one to make them exact).
    ``pbx``: (host, port) of a PBX to register with and reach agents through (PBX mode,
    labkit.acd.pbx_client); None: callers and phones talk to the ACD directly."""

    def __init__(self, config: AcdConfig, timers: Timers = Timers(), media_host: str = "",
                 clock: Callable[[], float] = time.monotonic,
                 pbx: tuple[str, int] | None = None) -> None:
        self.pbx = pbx
        self.registrations = {}
        self.clock = clock
        self.cfg = config
        self.timers = timers
        self.queues: dict[str, Queue] = {q.name: q for q in config.queues}
        self.agents: dict[str, Agent] = {a.id: a for a in config.agents}
        self.calls: dict[str, Call] = {}
        self.legs: dict[tuple[str, str], Leg] = {}
        self.subs: dict[tuple[str, str], Subscription] = {}
        self.offers: set[Offer] = set()
        self.ep: SipEndpoint | None = None
        self.qlog = QueueLog(config.queue_log)
        self.player = PromptPlayer(enabled=config.media)
        self.media_host = media_host
        self.started = clock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task] = set()
        self.logouts: Counter[str] = Counter()     # agent logouts by reason (GET /stats)
        self.counters = {"calls": 0, "rejected_488": 0, "logins": 0, "login_rejected": 0,
                         "reinvite_failed": 0, "relayed_calls": 0, "call_id_in_use": 0,
                         "bye_tags_swapped": 0}

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str, port: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.ep = await SipEndpoint.listen(self, host, port, timers=self.timers,
                                           user_agent="labkit-acd")
        self.media_host = self.media_host or self.ep.host
        await self.player.start(self.media_host)
        self._pbx_start()

    async def stop(self) -> None:
        for a in self.agents.values():
            if a.resubscribe:
                a.resubscribe.cancel()
        if self.ep:
            await self._pbx_stop()
        for sub in list(self.subs.values()):
            if sub.refresh:
                sub.refresh.cancel()
        for leg in list(self.legs.values()):
            self._stop_leg_timers(leg)
            self.player.stop(leg.media)
        for off in list(self.offers):
            if off.timer:
                off.timer.cancel()
        for a in self.agents.values():
            if a.wrapup_handle:
                a.wrapup_handle.cancel()
        for t in list(self.tasks):
            t.cancel()
        await self.player.close()
        if self.ep:
            self.ep.close()
        self.qlog.close()

    @property
    def sip_uri(self) -> str:
        return f"sip:acd@{self.ep.host}:{self.ep.port}"

    def now(self) -> float:
        return self.clock()

    def _spawn(self, coro) -> asyncio.Task:
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self._task_done)
        return t

    def _task_done(self, t: asyncio.Task) -> None:
        self.tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("ACD task failed", exc_info=t.exception())

    # ---- SIP handler -----------------------------------------------------------------------
    def on_request(self, req: SipMessage, txn: ServerTxn) -> None:
        m = req.method
        if m not in METHODS:                # RFC 3261 21.5.2: a method nobody here knows
            txn.respond(txn.response(501, extra=[("Allow", ALLOW)]))
            return
        required = [o for v in req.get_all("Require") for o in v.replace(",", " ").split()]
        if required:                        # RFC 3261 8.2.2.3: the ACD supports no extension
            txn.respond(txn.response(420, extra=[("Unsupported", ", ".join(required))]))
            return
        if req.to.tag and not self._in_order(req):
            txn.respond(txn.response(500, "Server Internal Error - CSeq out of order"))
            return
        if m == "INVITE":
            if req.to.tag:
                self._on_reinvite(req, txn)
            else:
                self._on_invite(req, txn)
        elif m == "BYE":
            self._on_bye(req, txn)
        elif m == "INFO":
            self._on_info(req, txn)
        elif m == "NOTIFY":
            self._on_notify(req, txn)
        elif m == "OPTIONS":
            txn.respond(txn.response(200, extra=[("Allow", ALLOW), ("Accept", "application/sdp")]))
        elif m == "SUBSCRIBE":
            txn.respond(txn.response(489, extra=[("Allow-Events", "")]))
        else:
            txn.respond(txn.response(405, extra=[("Allow", ALLOW)]))

    def _in_order(self, req: SipMessage) -> bool:
        """RFC 3261 12.2.2: an in-dialog request whose CSeq is below the last one seen is
        answered 500; the dialog remembers the highest."""
        leg = self.legs.get((req.call_id, req.to.tag))
        if leg is None:
            return True
        if req.cseq[0] < leg.dialog.remote_seq:
            return False
        leg.dialog.remote_seq = req.cseq[0]
        return True

    def on_ack(self, req: SipMessage) -> None:
        leg = self.legs.get((req.call_id, req.to.tag))
        if leg is None:
            return
        leg.acked = True
        fn, leg.on_acked = leg.on_acked, None
        if fn is not None:
            fn()

    def on_cancel(self, invite: SipMessage) -> None:
        pass     # the ACD answers every INVITE at once; nothing is left half-open

    def on_stray_2xx(self, resp: SipMessage) -> None:
        """A 2xx for an INVITE whose transaction is gone (a crossed CANCEL): ACK and BYE it."""
        leg_d = Dialog.as_uac(_fake_req(resp), resp, self.sip_uri)
        self.ep.send_ack(leg_d, resp.cseq[0])
        self._send_bye_dialog(leg_d)

    # ---- INVITE: queue, agent, login, logout -----------------------------------------------
    def _on_invite(self, req: SipMessage, txn: ServerTxn) -> None:
        try:
            user = SipUri.parse(req.uri).user
        except ValueError:
            txn.respond(txn.response(400, "Bad Request-URI", to_tag=new_tag()))
            return
        if req.call_id in self.calls:
            # a new dialog under the Call-ID of a call we hold: a loop, a fork that came back
            # under another tag or CSeq, or a broken peer; a second call by that name would
            # shadow the first (RFC 3261 8.2.2.2 answers the exact repeat with 482 too)
            self.counters["call_id_in_use"] += 1
            txn.respond(txn.response(482, "Loop Detected (Call-ID in use)", to_tag=new_tag()))
            return
        queue = self.queues.get(user)
        agent = self.agents.get(user)
        kind = ("login" if user == self.cfg.login_user else "logout" if user == self.cfg.logout_user
                else "caller" if queue or agent else "")
        if not kind:
            txn.respond(txn.response(404, "No such queue or agent", to_tag=new_tag()))
            return
        if agent and not queue and agent.state == LOGGEDOUT:
            txn.respond(txn.response(480, "Agent logged out", to_tag=new_tag()))
            return
        if req.contact is None:             # RFC 3261 8.1.1.8: an INVITE carries a Contact
            txn.respond(txn.response(400, "Bad Request - INVITE without Contact", to_tag=new_tag()))
            return
        if req.body and req.content_type != "application/sdp":
            txn.respond(txn.response(415, to_tag=new_tag(), extra=[("Accept", "application/sdp")]))
            return
        try:
            offer = sdp.check_offer(req.body)
        except sdp.SdpError as exc:
            self.counters["rejected_488"] += 1
            txn.respond(txn.response(488, "Not Acceptable Here - PCMU only", to_tag=new_tag(),
                                     extra=[("Warning", f'304 labkit-acd "{exc}"')]))
            return
        tag = new_tag()
        dialog = Dialog.as_uas(req, tag, self.sip_uri)
        leg = Leg(dialog=dialog, kind=kind, remote_sdp=req.body, allows=allowed(req))
        leg.device = self._device_uri(req)
        leg.media = self.player.open()
        leg.session_id = int(time.time() * 1000) & 0x7FFFFFFF
        leg.local_sdp = sdp.build(self.media_host, self.player.port(leg.media),
                                  session_id=leg.session_id, user="acd")
        self.legs[dialog.key] = leg
        resp = txn.response(200, to_tag=tag, body=leg.local_sdp,
                            extra=[("Contact", f"<{self.sip_uri}>"), ("Allow", ALLOW)])
        self.ep.send_2xx(txn, resp, on_no_ack=lambda: self._leg_lost(leg))
        rtp_to = offer.rtp_addr()
        if kind == "caller":
            self.counters["calls"] += 1
            call = Call(id=req.call_id, from_=req.from_.uri.aor, to=SipUri.parse(req.uri).aor,
                        queue=queue, direct_agent=agent.id if agent and not queue else "",
                        enqueued=self.now(), bridge=self._bridge_plan(leg))
            call.ext["caller"] = leg
            leg.call = call
            self.calls[call.id] = call
            self.player.play_queue(leg.media, rtp_to, self.cfg.announce_every)
            if queue:
                queue.calls.append(call)
                queue.stats.entered += 1
                call.position = len(queue.calls)
            self.qlog.write(call.id, queue.name if queue else f"agent-{call.direct_agent}", "",
                            "ENTERQUEUE", "", call.from_, call.position)
            self._start_probe(leg)
            self._dispatch()
        elif kind == "login":
            self.player.play_prompt(leg.media, rtp_to, "welcome")
            leg.digit_handle = self.loop.call_later(self.cfg.digit_timeout * 4, self._login_digits_done, leg)
        else:
            self.player.play_prompt(leg.media, rtp_to, "announcement")
            self._logout(leg, req)

    def _bridge_plan(self, caller: Leg) -> str:
        """How this caller's media will meet its agent's (BRIDGES in labkit.acd.core)."""
        if self.cfg.bridge == "auto":
            return "reinvite" if "INVITE" in caller.allows else "relay"
        return self.cfg.bridge

    def _on_reinvite(self, req: SipMessage, txn: ServerTxn) -> None:
        leg = self.legs.get((req.call_id, req.to.tag))
        if leg is None or leg.ended:
            txn.respond(txn.response(481))
            return
        if req.body:
            try:
                sdp.check_offer(req.body)
            except sdp.SdpError:
                txn.respond(txn.response(488, "Not Acceptable Here - PCMU only"))
                return
            self.player.retarget(leg.media, sdp.address(leg.remote_sdp), sdp.address(req.body))
            leg.remote_sdp = req.body
        resp = txn.response(200, body=leg.local_sdp, extra=[("Contact", f"<{self.sip_uri}>")])
        self.ep.send_2xx(txn, resp)

    # ---- BYE -------------------------------------------------------------------------------
    def _on_bye(self, req: SipMessage, txn: ServerTxn) -> None:
        leg = self.legs.get((req.call_id, req.to.tag))
        if leg is None and req.from_.tag:
            # sipp's abort BYE swaps the tags (From: ours, To: its own); the dialog is still
            # unmistakable, and refusing it would leave the call up until the agent hangs up
            leg = self.legs.get((req.call_id, req.from_.tag))
            if leg is not None and leg.dialog.remote_tag == req.to.tag:
                self.counters["bye_tags_swapped"] += 1
            else:
                leg = None
        if leg is None:
            txn.respond(txn.response(481))
            return
        txn.respond(txn.response(200))
        self._remote_hangup(leg)


def _fake_req(resp: SipMessage) -> SipMessage:
    """Enough of an INVITE to build a UAC dialog from a stray 2xx."""
    req = SipMessage(method="INVITE", uri=str(resp.to.uri))
    req.headers = [(k, v) for k, v in resp.headers if k in ("From", "To", "Call-ID", "CSeq")]
    return req
