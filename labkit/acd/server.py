"""The ACD server: SIP front end, queue/agent routing, login by INFO DTMF, device subscriptions.

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
from dataclasses import dataclass, field
from typing import Any

from . import events
from .core import (ASSIGNED, BUSY, CONNECTED, IDLE, INCALL, LOGGEDOUT, PENDING, RINGING,
                   TRANSFERRING, WAITING, WRAPUP, AcdConfig, Agent, Call, Queue, QueueLog,
                   pick_agents)
from .prompts import PromptPlayer
from .sip import sdp
from .sip.endpoint import Dialog, SipEndpoint, resolve
from .sip.message import NameAddr, SipMessage, SipUri, new_tag
from .sip.transaction import InviteClientTxn, ServerTxn, Timers

log = logging.getLogger("labkit.acd")
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"


@dataclass(eq=False)
class Leg:
    """One SIP dialog of the ACD (caller side, agent side, login call)."""
    dialog: Dialog
    kind: str                      # "caller" | "agent" | "login" | "logout" | "transfer"
    call: Call | None = None
    agent: Agent | None = None
    remote_sdp: bytes = b""
    local_sdp: bytes = b""
    sdp_version: int = 1
    session_id: int = 0
    media: Any = None
    ended: bool = False
    digits: str = ""
    digit_handle: Any = None
    probe_handle: Any = None
    device: str = ""
    acked: bool = False            # our 2xx was ACKed: the INVITE transaction is over
    on_acked: Any = None           # deferred re-INVITE (RFC 3261 14.1: one INVITE at a time)


@dataclass(eq=False)
class Subscription:
    agent: Agent
    dialog: Dialog
    event: str = "dialog"
    active: bool = False
    refresh: Any = None
    last_version: int = -1
    seen_call_ids: set[str] = field(default_factory=set)
    ending: bool = False
    announced: bool = False        # AGENTLOGIN written (first idle NOTIFY)


@dataclass(eq=False)
class Offer:
    """An INVITE from the ACD to an agent (or a transfer target) still ringing."""
    call: Call
    agent: Agent | None
    txn: InviteClientTxn
    timer: Any = None
    done: bool = False
    timed_out: bool = False


class AcdServer:
    def __init__(self, config: AcdConfig, timers: Timers = Timers(), media_host: str = "") -> None:
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
        self.started = time.monotonic()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task] = set()
        self.counters = {"calls": 0, "rejected_488": 0, "logins": 0, "login_rejected": 0}

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str, port: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.ep = await SipEndpoint.listen(self, host, port, timers=self.timers,
                                           user_agent="labkit-acd")
        self.media_host = self.media_host or self.ep.host
        await self.player.start(self.media_host)

    async def stop(self) -> None:
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
        return time.monotonic()

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
            txn.respond(txn.response(400, "Bad Request-URI"))
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
        try:
            offer = sdp.check_offer(req.body)
        except sdp.SdpError as exc:
            self.counters["rejected_488"] += 1
            txn.respond(txn.response(488, "Not Acceptable Here - PCMU only", to_tag=new_tag(),
                                     extra=[("Warning", f'304 labkit-acd "{exc}"')]))
            return
        tag = new_tag()
        dialog = Dialog.as_uas(req, tag, self.sip_uri)
        leg = Leg(dialog=dialog, kind=kind, remote_sdp=req.body)
        contact = req.contact
        leg.device = str(contact.uri) if contact else str(req.from_.uri)
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
                        enqueued=self.now())
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
            leg.remote_sdp = req.body
        leg.dialog.remote_seq = req.cseq[0]
        resp = txn.response(200, body=leg.local_sdp, extra=[("Contact", f"<{self.sip_uri}>")])
        self.ep.send_2xx(txn, resp)

    # ---- BYE -------------------------------------------------------------------------------
    def _on_bye(self, req: SipMessage, txn: ServerTxn) -> None:
        leg = self.legs.get((req.call_id, req.to.tag))
        if leg is None:
            txn.respond(txn.response(481))
            return
        txn.respond(txn.response(200))
        self._remote_hangup(leg)

    def _remote_hangup(self, leg: Leg) -> None:
        """The far end of ``leg`` is gone (BYE, lost dialog, failed probe)."""
        if leg.ended:
            return
        self._end_leg(leg)
        if leg.kind == "caller" and leg.call:
            self._caller_gone(leg.call)
        elif leg.kind in ("agent", "transfer") and leg.call:
            self._agent_side_gone(leg.call, leg)
        elif leg.kind == "login" and not leg.digits.endswith("!"):
            self._login_digits_done(leg)

    def _end_leg(self, leg: Leg) -> None:
        leg.ended = True
        self._stop_leg_timers(leg)
        self.player.stop(leg.media)
        leg.media = None
        self.legs.pop(leg.dialog.key, None)

    def _stop_leg_timers(self, leg: Leg) -> None:
        for h in (leg.digit_handle, leg.probe_handle):
            if h:
                h.cancel()

    def _hangup(self, leg: Leg | None) -> None:
        """We end ``leg``: send BYE (its transaction retransmits; we forget the leg at once)."""
        if leg is None or leg.ended:
            return
        self._end_leg(leg)
        self._send_bye_dialog(leg.dialog)

    def _send_bye_dialog(self, dialog: Dialog) -> None:
        try:
            bye = dialog.request("BYE")
            self.ep.send_request(bye, dialog.destination())
        except (OSError, ValueError) as exc:
            log.warning("cannot send BYE to %s: %s", dialog.remote_target, exc)

    def _leg_lost(self, leg: Leg) -> None:
        """No ACK for our 2xx within 64*T1: RFC 3261 13.3.1.4 says BYE the dialog."""
        if leg.ended:
            return
        self._hangup(leg)
        if leg.call and leg.kind == "caller":
            self._caller_gone(leg.call)
        elif leg.kind in ("agent", "transfer") and leg.call:
            self._agent_side_gone(leg.call, leg)

    # ---- probes: lost BYEs must not leave calls forever -------------------------------------
    def _start_probe(self, leg: Leg) -> None:
        if self.cfg.probe_interval > 0:
            leg.probe_handle = self.loop.call_later(self.cfg.probe_interval, self._probe, leg)

    def _probe(self, leg: Leg) -> None:
        if leg.ended:
            return
        txn = self.ep.send_request(leg.dialog.request("OPTIONS"), leg.dialog.destination())
        self._spawn(self._probe_result(leg, txn))

    async def _probe_result(self, leg: Leg, txn) -> None:
        resp = await txn.final
        if leg.ended:
            return
        if resp.status in (408, 481):
            log.info("dialog %s is gone (%s): ending it", leg.dialog.call_id, resp.status)
            self._remote_hangup(leg)
            return
        self._start_probe(leg)

    # ---- callers leave ---------------------------------------------------------------------
    def _caller_gone(self, call: Call) -> None:
        now = self.now()
        q = call.queue
        qname = q.name if q else f"agent-{call.direct_agent}"
        for off in [o for o in self.offers if o.call is call]:
            self._cancel_offer(off)
        if call.state in (WAITING, ASSIGNED):
            if q:
                q.stats.abandoned += 1
            self.qlog.write(call.id, qname, "", "ABANDON", call.position, call.position,
                            int(now - call.enqueued))
        elif call.state in (CONNECTED, TRANSFERRING):
            self.qlog.write(call.id, qname, call.agent.id if call.agent else "", "COMPLETECALLER",
                            int(call.answered_at - call.enqueued), int(now - call.answered_at),
                            call.position)
            self._hangup(call.ext.get("agent_leg"))
            self._agent_done(call.agent)
        self._forget_call(call)

    def _agent_side_gone(self, call: Call, leg: Leg) -> None:
        now = self.now()
        q = call.queue
        if call.state in (CONNECTED, TRANSFERRING) and call.ext.get("agent_leg") is leg:
            self.qlog.write(call.id, q.name if q else f"agent-{call.direct_agent}",
                            call.agent.id if call.agent else "", "COMPLETEAGENT",
                            int(call.answered_at - call.enqueued), int(now - call.answered_at),
                            call.position)
            self._hangup(call.ext.get("caller"))
            self._agent_done(call.agent)
            self._forget_call(call)

    def _forget_call(self, call: Call) -> None:
        call.state = "ended"
        self.calls.pop(call.id, None)
        if call.queue and call in call.queue.calls:
            call.queue.calls.remove(call)
        caller = call.ext.get("caller")
        if caller and not caller.ended:
            self._end_leg(caller)
        call.ext.clear()
        call.agent = None

    # ---- agents: availability --------------------------------------------------------------
    def _agent_done(self, agent: Agent | None) -> None:
        """An ACD call of ``agent`` ended: wrap-up, then idle again."""
        if agent is None:
            return
        agent.call = None
        if agent.state == LOGGEDOUT:
            return
        if self.cfg.wrapup > 0:
            agent.state = WRAPUP
            if agent.wrapup_handle:
                agent.wrapup_handle.cancel()
            agent.wrapup_handle = self.loop.call_later(self.cfg.wrapup, self._wrapup_done, agent)
        else:
            self._make_idle(agent)

    def _wrapup_done(self, agent: Agent) -> None:
        agent.wrapup_handle = None
        if agent.state == WRAPUP:
            self._make_idle(agent)

    def _make_idle(self, agent: Agent) -> None:
        if agent.state == LOGGEDOUT or agent.call is not None:
            return
        if agent.device_idle:
            if agent.state != IDLE:
                agent.state = IDLE
                agent.idle_since = self.now()
            self._dispatch()
        else:
            agent.state = BUSY

    def _device_state(self, sub: Subscription, st: events.DeviceState, version: int) -> None:
        agent = sub.agent
        if version >= 0:
            if version <= sub.last_version:
                return          # stale or retransmitted NOTIFY
            sub.last_version = version
        agent.device_idle = st.idle
        for cid in st.call_ids:               # Call-IDs the device has reported as live
            sub.seen_call_ids.add(cid)
        if len(sub.seen_call_ids) > 256:
            sub.seen_call_ids = set(st.call_ids)
        call = agent.call
        if call is not None:
            leg = call.ext.get("agent_leg")
            if leg is not None and call.state == CONNECTED:
                if leg.dialog.call_id in st.call_ids:
                    pass
                elif leg.dialog.call_id in sub.seen_call_ids:
                    # The phone says our call ended, but its BYE never reached us.
                    log.info("agent %s: device dropped call %s without BYE", agent.id, call.id)
                    self._remote_hangup(leg)
            return
        if agent.state in (PENDING, BUSY, IDLE) and agent.state != LOGGEDOUT:
            if st.idle:
                if agent.state != IDLE:
                    if not sub.announced:
                        sub.announced = True
                        self.qlog.write("", "NONE", agent.id, "AGENTLOGIN", agent.device)
                    agent.state = IDLE
                    agent.idle_since = self.now()
                    self._dispatch()
            else:
                agent.state = BUSY

    # ---- routing ---------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if not any(a.available for a in self.agents.values()):
            return                      # nothing to offer: skip the sort (hot under load)
        waiting = sorted((c for c in self.calls.values() if c.state == WAITING),
                         key=lambda c: c.enqueued)
        for call in waiting:
            if not any(a.available for a in self.agents.values()):
                return
            if call.direct_agent:
                a = self.agents.get(call.direct_agent)
                targets = [a] if a is not None and a.available else []
            elif call.queue is not None:
                targets = pick_agents(call.queue, call, self.agents)
            else:
                targets = []
            if not targets:
                continue
            call.state = ASSIGNED
            for agent in targets:
                self._offer(call, agent)

    def _ring_timeout(self, call: Call) -> float:
        if call.queue and call.queue.ring_timeout:
            return call.queue.ring_timeout
        return self.cfg.ring_timeout

    def _offer(self, call: Call, agent: Agent) -> None:
        caller: Leg = call.ext["caller"]
        agent.state = RINGING
        agent.call = call
        call.tried.add(agent.id)
        req = self.ep.new_request(
            "INVITE", agent.device, from_=f"<sip:{call.from_}>",
            to=f"<{agent.device}>", contact=self.sip_uri, body=caller.remote_sdp,
            content_type="application/sdp",
            extra=[("Allow", ALLOW), ("Subject", f"ACD {call.queue.name if call.queue else 'direct'}")])
        try:
            txn = self.ep.send_request(req, resolve(SipUri.parse(agent.device)))
        except (OSError, ValueError) as exc:
            log.warning("agent %s device %s unreachable: %s", agent.id, agent.device, exc)
            agent.call = None
            agent.state = BUSY
            call.state = WAITING
            return
        off = Offer(call=call, agent=agent, txn=txn)
        off.timer = self.loop.call_later(self._ring_timeout(call), self._offer_timeout, off)
        self.offers.add(off)
        self._spawn(self._offer_result(off))

    def _offer_timeout(self, off: Offer) -> None:
        if off.done:
            return
        off.timed_out = True
        off.txn.cancel()
        agent = off.agent
        qname = off.call.queue.name if off.call.queue else ""
        self.qlog.write(off.call.id, qname, agent.id, "RINGNOANSWER", int(self._ring_timeout(off.call) * 1000))
        self._offer_failed(off, missed=True)

    def _cancel_offer(self, off: Offer) -> None:
        if off.done:
            return
        off.txn.cancel()
        self._offer_failed(off, missed=False)

    def _offer_failed(self, off: Offer, missed: bool) -> None:
        off.done = True
        if off.timer:
            off.timer.cancel()
        self.offers.discard(off)
        agent, call = off.agent, off.call
        if agent is not None and agent.call is call and agent.state == RINGING:
            agent.call = None
            if missed:
                agent.missed += 1
                if self.cfg.autopause_after and agent.missed >= self.cfg.autopause_after:
                    agent.paused = True
                    self.qlog.write("", "NONE", agent.id, "PAUSE", "autopause")
            agent.state = IDLE if agent.device_idle else BUSY
            agent.idle_since = self.now()       # to the back of the MIA line
        if call.state == ASSIGNED and not any(o.call is call for o in self.offers):
            call.state = WAITING
            self._dispatch()

    async def _offer_result(self, off: Offer) -> None:
        resp = await off.txn.final
        call, agent = off.call, off.agent
        if resp.status >= 300:
            if not off.done:
                if resp.status != 487:
                    self.qlog.write(call.id, call.queue.name if call.queue else "", agent.id,
                                    "RINGNOANSWER", resp.status)
                self._offer_failed(off, missed=resp.status not in (487,))
            return
        dialog = Dialog.as_uac(off.txn.request, resp, self.sip_uri)
        self.ep.send_ack(dialog, off.txn.request.cseq[0])
        leg = Leg(dialog=dialog, kind="agent", call=call, agent=agent, remote_sdp=resp.body)
        if off.done or call.state != ASSIGNED or call.id not in self.calls:
            # answered after CANCEL/timeout or another agent won the ring-all race
            self._send_bye_dialog(dialog)
            if agent.call is call and agent.state == RINGING:
                agent.call = None
                self._agent_done(agent)
            return
        off.done = True
        if off.timer:
            off.timer.cancel()
        self.offers.discard(off)
        for other in [o for o in self.offers if o.call is call]:
            self._cancel_offer(other)
        self.legs[dialog.key] = leg
        now = self.now()
        call.state = CONNECTED
        call.agent = agent
        call.answered_at = now
        call.ext["agent_leg"] = leg
        agent.state = INCALL
        agent.missed = 0
        q = call.queue
        wait = now - call.enqueued
        if q:
            q.stats.answered += 1
            q.stats.total_wait += wait
            q.stats.max_wait = max(q.stats.max_wait, wait)
            if wait <= q.service_level:
                q.stats.within_sl += 1
        self.qlog.write(call.id, q.name if q else f"agent-{agent.id}", agent.id, "CONNECT",
                        int(wait), dialog.call_id, 0)
        self._start_probe(leg)
        self._bridge(call, leg)

    def _bridge(self, call: Call, leg: Leg) -> None:
        """Point the caller's media at the agent (re-INVITE with the agent's SDP)."""
        caller: Leg = call.ext["caller"]
        self.player.stop(caller.media)
        if self.cfg.bridge != "reinvite" or not leg.remote_sdp:
            return
        if not caller.acked:
            # the caller's INVITE transaction is still open (our 200 not ACKed yet): a second
            # INVITE now would cross it, so re-INVITE once the ACK arrives
            caller.on_acked = lambda: (not leg.ended and call.ext.get("agent_leg") is leg
                                       and self._bridge(call, leg))
            return
        try:
            peer = sdp.parse(leg.remote_sdp)
            host, port = peer.rtp_addr()
        except sdp.SdpError:
            return
        caller.sdp_version += 1
        caller.local_sdp = sdp.build(host, port, session_id=caller.session_id,
                                     version=caller.sdp_version, user="acd")
        reinv = caller.dialog.request("INVITE", body=caller.local_sdp, content_type="application/sdp")
        txn = self.ep.send_request(reinv, caller.dialog.destination())
        txn.on_final = lambda resp: self._reinvite_final(caller, txn, resp)

    def _reinvite_final(self, caller: Leg, txn, resp: SipMessage) -> None:
        """ACK at once: a BYE read in the same batch must not overtake the ACK (peers like
        sipp insist on the order)."""
        if 200 <= resp.status < 300:
            self.ep.send_ack(caller.dialog, txn.request.cseq[0])
        elif resp.status in (408, 481) and not caller.ended:
            self._remote_hangup(caller)

    # ---- forced transfer (REST) ------------------------------------------------------------
    def transfer(self, call_id: str, target: str) -> Call:
        """Take a call out of its queue and connect it to ``target`` (any SIP URI)."""
        call = self.calls.get(call_id)
        if call is None:
            raise KeyError(call_id)
        SipUri.parse(target)
        for off in [o for o in self.offers if o.call is call]:
            self._cancel_offer(off)
        old = call.ext.get("agent_leg")
        if old is not None:
            self._hangup(old)
            self._agent_done(call.agent)
            call.agent = None
            call.ext.pop("agent_leg", None)
        call.state = TRANSFERRING
        caller: Leg = call.ext["caller"]
        req = self.ep.new_request("INVITE", target, from_=f"<sip:{call.from_}>", to=f"<{target}>",
                                  contact=self.sip_uri, body=caller.remote_sdp,
                                  content_type="application/sdp")
        txn = self.ep.send_request(req, resolve(SipUri.parse(target)))
        off = Offer(call=call, agent=None, txn=txn)
        self.offers.add(off)
        self.qlog.write(call.id, call.queue.name if call.queue else "", "", "TRANSFER", target)
        self._spawn(self._transfer_result(off, target))
        return call

    async def _transfer_result(self, off: Offer, target: str) -> None:
        resp = await off.txn.final
        call = off.call
        self.offers.discard(off)
        off.done = True
        if resp.status >= 300:
            if call.id in self.calls and call.state == TRANSFERRING:
                call.state = WAITING          # target refused: back into the queue
                self._dispatch()
            return
        dialog = Dialog.as_uac(off.txn.request, resp, self.sip_uri)
        self.ep.send_ack(dialog, off.txn.request.cseq[0])
        if call.id not in self.calls:
            self._send_bye_dialog(dialog)
            return
        leg = Leg(dialog=dialog, kind="transfer", call=call, remote_sdp=resp.body)
        self.legs[dialog.key] = leg
        call.ext["agent_leg"] = leg
        call.answered_at = self.now()
        self._start_probe(leg)
        self._bridge(call, leg)

    # ---- INFO: DTMF ------------------------------------------------------------------------
    def _on_info(self, req: SipMessage, txn: ServerTxn) -> None:
        leg = self.legs.get((req.call_id, req.to.tag))
        if leg is None:
            txn.respond(txn.response(481))
            return
        ct = req.content_type
        if ct not in (events.CT_DTMF_RELAY, events.CT_DTMF):
            txn.respond(txn.response(415, extra=[("Accept", f"{events.CT_DTMF_RELAY}, {events.CT_DTMF}")]))
            return
        try:
            digit = events.parse_dtmf(ct, req.body)
        except events.BodyError as exc:
            txn.respond(txn.response(400, f"Bad DTMF - {exc}"))
            return
        txn.respond(txn.response(200))
        if leg.kind != "login" or leg.digits.endswith("!"):
            return
        if leg.digit_handle:
            leg.digit_handle.cancel()
        if digit == "#":
            self._login_digits_done(leg)
            return
        leg.digits += digit
        matches = [a for a in self.agents if a.startswith(leg.digits)]
        if leg.digits in self.agents and len(matches) == 1:
            self._login_digits_done(leg)
        else:
            leg.digit_handle = self.loop.call_later(self.cfg.digit_timeout, self._login_digits_done, leg)

    # ---- login / logout --------------------------------------------------------------------
    def _login_digits_done(self, leg: Leg) -> None:
        if leg.digits.endswith("!"):
            return
        digits, leg.digits = leg.digits, leg.digits + "!"
        if leg.digit_handle:
            leg.digit_handle.cancel()
        agent = self.agents.get(digits)
        device = leg.device
        reason = ""
        if agent is None:
            reason = f"unknown agent id {digits!r}"
        elif agent.state != LOGGEDOUT and agent.device != device:
            reason = f"agent {agent.id} is already logged in on {agent.device}"
        else:
            other = next((a for a in self.agents.values()
                          if a.device == device and a.state != LOGGEDOUT and a is not agent), None)
            if other is not None:
                reason = f"device {device} already has agent {other.id}"
        if reason:
            self.counters["login_rejected"] += 1
            log.info("login rejected: %s", reason)
            self.qlog.write("", "NONE", digits or "unknown", "AGENTLOGINFAIL", reason)
            self._say_then_hangup(leg, "announcement")
            return
        if agent.state == LOGGEDOUT:
            self.counters["logins"] += 1
            agent.state = PENDING
            agent.device = device
            agent.device_idle = False
            agent.missed = 0
            agent.paused = False
            self._subscribe(agent, "dialog")
        self._say_then_hangup(leg, "")

    def _say_then_hangup(self, leg: Leg, prompt: str) -> None:
        """Play ``prompt`` (if any), then BYE unless the phone hangs up first.

        The BYE goes to the login call's Contact, the agent's device; phones usually hang up
        themselves after the prompt, so the ACD waits ``login_hangup_delay`` first."""
        if leg.ended:
            return
        delay = self.cfg.login_hangup_delay
        if prompt and self.player.enabled:
            try:
                self.player.play_prompt(leg.media, sdp.parse(leg.remote_sdp).rtp_addr(), prompt)
            except sdp.SdpError:
                pass
            delay = max(delay, min(self.player.duration(prompt), 5.0))
        if leg.digit_handle:
            leg.digit_handle.cancel()
        if delay > 0:
            leg.digit_handle = self.loop.call_later(delay, self._hangup, leg)
        else:
            self._hangup(leg)

    def _logout(self, leg: Leg, req: SipMessage) -> None:
        agent = next((a for a in self.agents.values()
                      if a.state != LOGGEDOUT and a.device == leg.device), None)
        if agent is None:
            user = req.from_.uri.user
            agent = self.agents.get(user) if user in self.agents else None
        if agent is not None and agent.state != LOGGEDOUT:
            self.logout_agent(agent)
        self._say_then_hangup(leg, "")

    def logout_agent(self, agent: Agent) -> None:
        if agent.state == LOGGEDOUT:
            return
        sub = agent.sub
        if sub is not None:
            self._unsubscribe(sub)
        if agent.call is not None and agent.state == RINGING:
            for off in [o for o in self.offers if o.agent is agent]:
                self._cancel_offer(off)
        agent.state = LOGGEDOUT
        agent.device = ""
        agent.device_idle = False
        agent.idle_since = 0.0
        if agent.wrapup_handle:
            agent.wrapup_handle.cancel()
            agent.wrapup_handle = None
        self.qlog.write("", "NONE", agent.id, "AGENTLOGOFF", "")

    # ---- subscriptions to agent devices ----------------------------------------------------
    def _subscribe(self, agent: Agent, event: str) -> None:
        accept = (f"{events.CT_DIALOG_INFO}, {events.CT_PIDF}" if event == "dialog"
                  else events.CT_PIDF)
        req = self.ep.new_request("SUBSCRIBE", agent.device, from_=f"<sip:acd@{self.ep.host}>",
                                  to=f"<{agent.device}>", contact=self.sip_uri,
                                  extra=[("Event", event), ("Accept", accept),
                                         ("Expires", str(self.cfg.subscribe_expires))])
        dialog = Dialog(call_id=req.call_id, local_tag=req.from_.tag, remote_tag="",
                        local_uri=f"<sip:acd@{self.ep.host}>", remote_uri=f"<{agent.device}>",
                        remote_target=agent.device, local_contact=self.sip_uri, local_seq=1)
        sub = Subscription(agent=agent, dialog=dialog, event=event)
        old = agent.sub
        if old is not None:
            self._drop_sub(old)
        agent.sub = sub
        self.subs[dialog.key] = sub
        try:
            txn = self.ep.send_request(req, resolve(SipUri.parse(agent.device)))
        except (OSError, ValueError):
            self._sub_failed(sub)
            return
        self._spawn(self._subscribe_result(sub, txn))

    async def _subscribe_result(self, sub: Subscription, txn) -> None:
        resp = await txn.final
        if sub.ending or sub.agent.sub is not sub:
            return
        if 200 <= resp.status < 300:
            sub.active = True
            if resp.to.tag and not sub.dialog.remote_tag:
                sub.dialog.remote_tag = resp.to.tag
            c = resp.contact
            if c:
                sub.dialog.remote_target = str(c.uri)
            expires = _int(resp.get("Expires"), self.cfg.subscribe_expires)
            if expires > 0:
                sub.refresh = self.loop.call_later(max(expires * 0.8, 1.0), self._refresh, sub)
            return
        if resp.status == 489 and sub.event == "dialog":
            self._drop_sub(sub)
            sub.agent.sub = None
            self._subscribe(sub.agent, "presence")   # RFC 3856 fallback
            return
        self._sub_failed(sub)

    def _sub_failed(self, sub: Subscription) -> None:
        agent = sub.agent
        log.info("agent %s: subscription to %s failed; logged out", agent.id, agent.device)
        self._drop_sub(sub)
        if agent.sub is sub:
            agent.sub = None
            self.logout_agent(agent)

    def _refresh(self, sub: Subscription) -> None:
        if sub.ending:
            return
        req = sub.dialog.request("SUBSCRIBE", extra=[("Event", sub.event),
                                                     ("Expires", str(self.cfg.subscribe_expires))])
        txn = self.ep.send_request(req, sub.dialog.destination())
        self._spawn(self._refresh_result(sub, txn))

    async def _refresh_result(self, sub: Subscription, txn) -> None:
        resp = await txn.final
        if sub.ending:
            return
        if 200 <= resp.status < 300:
            expires = _int(resp.get("Expires"), self.cfg.subscribe_expires)
            sub.refresh = self.loop.call_later(max(expires * 0.8, 1.0), self._refresh, sub)
        else:
            self._sub_failed(sub)

    def _unsubscribe(self, sub: Subscription) -> None:
        sub.ending = True
        if sub.refresh:
            sub.refresh.cancel()
        if sub.dialog.remote_tag:
            try:
                req = sub.dialog.request("SUBSCRIBE", extra=[("Event", sub.event), ("Expires", "0")])
                self.ep.send_request(req, sub.dialog.destination())
            except (OSError, ValueError):
                pass
        # keep the entry for the final NOTIFY (terminated), then drop it
        self.loop.call_later(self.timers.timeout, self._drop_sub, sub)
        sub.agent.sub = None

    def _drop_sub(self, sub: Subscription) -> None:
        sub.ending = True
        if sub.refresh:
            sub.refresh.cancel()
        self.subs.pop(sub.dialog.key, None)

    def _on_notify(self, req: SipMessage, txn: ServerTxn) -> None:
        sub = self.subs.get((req.call_id, req.to.tag))
        if sub is None:
            txn.respond(txn.response(481))
            return
        state = req.get("Subscription-State").split(";")[0].strip().lower()
        if not sub.dialog.remote_tag:
            sub.dialog.remote_tag = req.from_.tag
            c = req.contact
            if c:
                sub.dialog.remote_target = str(c.uri)
        if sub.ending:
            txn.respond(txn.response(200))
            return
        if req.body:
            try:
                st = events.parse_device_state(req.content_type, req.body)
            except events.BodyError as exc:
                txn.respond(txn.response(400, f"Bad NOTIFY body - {exc}"[:120]))
                return
            version = -1
            if req.content_type == events.CT_DIALOG_INFO:
                version = _dialog_info_version(req.body)
            txn.respond(txn.response(200))
            self._device_state(sub, st, version)
        else:
            txn.respond(txn.response(200))
        if state == "terminated":
            agent = sub.agent
            self._drop_sub(sub)
            if agent.sub is sub:
                agent.sub = None
                self.logout_agent(agent)

    # ---- run-time configuration (REST) -----------------------------------------------------
    def add_queue(self, queue: Queue) -> None:
        if queue.name in self.queues:
            raise ValueError(f"queue {queue.name!r} exists")
        if queue.name in (self.cfg.login_user, self.cfg.logout_user) or queue.name in self.agents:
            raise ValueError(f"{queue.name!r} is already an agent or service name")
        self.queues[queue.name] = queue
        self.qlog.write("", queue.name, "", "ADDQUEUE", queue.strategy)

    def remove_queue(self, name: str) -> None:
        q = self.queues[name]
        if q.calls:
            raise RuntimeError(f"queue {name!r} still has {len(q.calls)} call(s)")
        del self.queues[name]
        for a in self.agents.values():
            if name in a.memberof:
                a.memberof.remove(name)
        self.qlog.write("", name, "", "REMOVEQUEUE")

    def add_agent(self, agent: Agent) -> None:
        if agent.id in self.agents:
            raise ValueError(f"agent {agent.id!r} exists")
        self.agents[agent.id] = agent
        for q in agent.memberof:
            self.qlog.write("", q, agent.id, "ADDMEMBER")

    def remove_agent(self, agent_id: str) -> None:
        agent = self.agents[agent_id]
        if agent.call is not None:
            raise RuntimeError(f"agent {agent_id} is on a call")
        self.logout_agent(agent)
        del self.agents[agent_id]
        for q in agent.memberof:
            self.qlog.write("", q, agent_id, "REMOVEMEMBER")

    def set_paused(self, agent: Agent, paused: bool) -> None:
        agent.paused = paused
        if not paused:
            agent.missed = 0
        self.qlog.write("", "NONE", agent.id, "PAUSE" if paused else "UNPAUSE", "rest")
        if not paused:
            self._dispatch()

    # ---- health ----------------------------------------------------------------------------
    def leaks(self) -> dict[str, int]:
        """Everything that should be empty once no call is up: used by soak and tests."""
        return {"calls": len(self.calls),
                "queued": sum(len(q.calls) for q in self.queues.values()),
                "call_legs": sum(1 for leg in self.legs.values() if leg.kind != "login"),
                "legs": len(self.legs),
                "offers": len(self.offers),
                "server_txns": len(self.ep.server_txns) if self.ep else 0,
                "client_txns": len(self.ep.client_txns) if self.ep else 0,
                "pending_2xx": len(self.ep.pending_2xx) if self.ep else 0,
                "media": self.player.active()}


def _int(value: str, default: int) -> int:
    try:
        return int(value.strip())
    except (ValueError, AttributeError):
        return default


def _dialog_info_version(body: bytes) -> int:
    import re
    m = re.search(rb'<dialog-info[^>]*\sversion="(\d+)"', body)
    return int(m.group(1)) if m else -1


def _fake_req(resp: SipMessage) -> SipMessage:
    """Enough of an INVITE to build a UAC dialog from a stray 2xx."""
    req = SipMessage(method="INVITE", uri=str(resp.to.uri))
    req.headers = [(k, v) for k, v in resp.headers if k in ("From", "To", "Call-ID", "CSeq")]
    return req
