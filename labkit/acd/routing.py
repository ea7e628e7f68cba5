"""Routing: queued calls offered to agents (MIA or ring-all), offers ringing out, how a
connected call's media meets (re-INVITE or relay), wrap-up, and forced transfers.

How media meets (``bridge:`` in the config, labkit.acd.core.BRIDGES; docs/notes/acd.md).  The
ACD answers every caller itself, so the caller's RTP first flows to the ACD's port.  When an
agent answers, one of two things happens:

- **re-INVITE** (3PCC): the agent was offered the *caller's* SDP, so it already sends to the
  caller; the ACD re-INVITEs the caller with the agent's SDP and the caller then sends to the
  agent.  Until the caller takes it, the ACD passes the caller's RTP on to the agent, so the
  two hear each other from the first moment.
- **relay**: the agent was offered an SDP of the ACD's own (a port per agent leg), and the
  ACD carries the RTP both ways in its one RTP thread, renumbered per leg (labkit.rtp.relay).

A caller is re-INVITEd only if the config says ``reinvite``, or says ``auto`` and the caller's
INVITE listed INVITE in its Allow header (sipp's built-in ``uac`` does not, and aborts a call
that gets one).  When a re-INVITE fails (no final answer before Timer B, 488, 491, 501, any
error but 481), the ACD falls back to relaying: the queue log says so (RELAYFALLBACK), the
counters count it, and if the agent's phone listed INVITE in Allow, it is re-INVITEd towards
the ACD so both directions pass the relay; if not, the caller's direction is relayed and the
agent keeps sending to the caller directly.

Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

import logging

from .core import (ASSIGNED, BUSY, CONNECTED, IDLE, INCALL, LOGGEDOUT, RINGING,
                   TRANSFERRING, WAITING, WRAPUP, Agent, Call, pick_agents)
from .legs import ALLOW, Leg, Offer, allowed
from .sip import sdp
from .sip.endpoint import Dialog, resolve
from .sip.message import SipMessage, SipUri
from .sip.transaction import local_timeout

log = logging.getLogger("labkit.acd")


class Routing:
    """Calls meet agents."""

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
        if self.calls.get(call.id) is call:
            del self.calls[call.id]
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

    def _offer_sdp(self, call: Call):
        """What an agent (or a transfer target) is offered: the caller's SDP when the caller
        will be re-INVITEd, else an SDP of the ACD's own on a new port.  (body, port or None)"""
        if call.bridge == "reinvite":
            return call.ext["caller"].remote_sdp, None
        media = self.player.open()
        return sdp.build(self.media_host, self.player.port(media), user="acd"), media

    def _offer(self, call: Call, agent: Agent) -> None:
        agent.state = RINGING
        agent.call = call
        call.tried.add(agent.id)
        body, media = self._offer_sdp(call)
        req = self.ep.new_request(
            "INVITE", agent.device, from_=f"<sip:{call.from_}>",
            to=f"<{agent.device}>", contact=self.sip_uri, body=body,
            content_type="application/sdp",
            extra=[("Allow", ALLOW), ("Subject", f"ACD {call.queue.name if call.queue else 'direct'}")])
        try:
            txn = self.ep.send_request(req, resolve(SipUri.parse(agent.device)))
        except (OSError, ValueError) as exc:
            log.warning("agent %s device %s unreachable: %s", agent.id, agent.device, exc)
            self.player.stop(media)
            agent.call = None
            agent.state = BUSY
            call.state = WAITING
            return
        off = Offer(call=call, agent=agent, txn=txn, media=media)
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
        self.player.stop(off.media)
        off.media = None
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
            if local_timeout(resp) and off.txn.provisional is None:
                self._device_gone(agent)
            return
        dialog = Dialog.as_uac(off.txn.request, resp, self.sip_uri)
        self.ep.send_ack(dialog, off.txn.request.cseq[0])
        if off.done or call.state != ASSIGNED or call.id not in self.calls:
            # answered after CANCEL/timeout or another agent won the ring-all race
            self._send_bye_dialog(dialog)
            self.player.stop(off.media)
            if agent.call is call and agent.state == RINGING:
                agent.call = None
                self._agent_done(agent)
            return
        leg = Leg(dialog=dialog, kind="agent", call=call, agent=agent, remote_sdp=resp.body,
                  local_sdp=off.txn.request.body, media=off.media, allows=allowed(resp))
        off.media = None
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

    def _device_gone(self, agent: Agent) -> None:
        """An offer got no response at all before Timer B: the agent's phone is gone (it logged
        in and vanished).  Logged out, so no caller waits on it again.  Through a PBX, silence
        means the PBX is away, not the phone: the agent stays (labkit.acd.pbx_client)."""
        if agent.state != LOGGEDOUT and self.pbx is None:
            log.info("agent %s: device %s does not answer; logged out", agent.id, agent.device)
            self.logout_agent(agent, "device-unreachable")

    # ---- how the media meets ---------------------------------------------------------------
    def _bridge(self, call: Call, leg: Leg) -> None:
        """Make the caller's and the agent's (or transfer target's) media meet."""
        caller: Leg = call.ext["caller"]
        if call.bridge == "relay":
            self.counters["relayed_calls"] += 1
            self._relay_both(call, leg)
            return
        self.player.silence(caller.media)       # music off: the agent talks to the caller now
        # until the caller takes the agent's SDP its RTP still comes to our port: pass it on
        if self.player.relay(caller.media, caller.media, sdp.address(leg.remote_sdp)):
            call.media = "half-relay"
        if not caller.acked:
            # the caller's INVITE transaction is still open (our 200 not ACKed yet): a second
            # INVITE now would cross it, so re-INVITE once the ACK arrives
            caller.on_acked = lambda: self._still_bridged(call, leg) and self._reinvite_caller(call, leg)
            return
        self._reinvite_caller(call, leg)

    def _still_bridged(self, call: Call, leg: Leg) -> bool:
        caller = call.ext.get("caller")
        return (not leg.ended and caller is not None and not caller.ended
                and call.ext.get("agent_leg") is leg)

    def _relay_both(self, call: Call, leg: Leg) -> None:
        """The ACD carries the RTP both ways (the agent was offered the ACD's port)."""
        caller: Leg = call.ext["caller"]
        to_caller = self.player.relay(leg.media, caller.media, sdp.address(caller.remote_sdp))
        to_agent = self.player.relay(caller.media, leg.media, sdp.address(leg.remote_sdp))
        call.media = "relay" if to_caller and to_agent else call.media

    def _reinvite_caller(self, call: Call, leg: Leg) -> None:
        """Point the caller's media at the agent: a re-INVITE with the agent's SDP."""
        caller: Leg = call.ext["caller"]
        try:
            host, port = sdp.parse(leg.remote_sdp).rtp_addr()
        except sdp.SdpError:
            self._fallback(call, leg, "the agent's SDP has no address to re-INVITE the caller with")
            return
        caller.sdp_version += 1
        caller.local_sdp = sdp.build(host, port, session_id=caller.session_id,
                                     version=caller.sdp_version, user="acd")
        reinv = caller.dialog.request("INVITE", body=caller.local_sdp, content_type="application/sdp",
                                      extra=[("Allow", ALLOW)])
        # a final answer within 64*T1 (Timer B's span), a 100 Trying or not, else CANCEL
        txn = self.ep.send_request(reinv, caller.dialog.destination(), limit=self.timers.timeout)
        txn.on_final = lambda resp: self._reinvite_final(call, leg, caller, txn, resp)

    def _reinvite_final(self, call: Call, leg: Leg, caller: Leg, txn, resp: SipMessage) -> None:
        """Every ending of the caller's re-INVITE, Timer B included (one path: ClientTxn._end).
        A 2xx is ACKed at once: a BYE read in the same batch must not overtake the ACK."""
        if 200 <= resp.status < 300:
            self.ep.send_ack(caller.dialog, txn.request.cseq[0])
            if self._still_bridged(call, leg):
                self.player.unrelay(caller.media)   # the caller sends to the agent now
                call.media = "direct"
            return
        if not self._still_bridged(call, leg):
            return
        if resp.status == 481:                  # the caller's dialog is gone
            self._remote_hangup(caller)
            return
        if local_timeout(resp) or txn.expired:
            why = "no final answer within 64*T1 (Timer B)"
        else:
            why = f"{resp.status} {resp.reason}"
        self._fallback(call, leg, why, resp.status)

    def _fallback(self, call: Call, leg: Leg, why: str, status: int = 0) -> None:
        """The caller will not take the agent's SDP: the ACD relays the media instead."""
        self.counters["reinvite_failed"] += 1
        self.counters["relayed_calls"] += 1
        q = call.queue
        self.qlog.write(call.id, q.name if q else f"agent-{call.direct_agent}",
                        call.agent.id if call.agent else "", "RELAYFALLBACK", status or "", why)
        log.info("call %s: re-INVITE failed (%s); relaying its media", call.id, why)
        caller: Leg = call.ext["caller"]
        if "INVITE" not in leg.allows:
            return      # the caller's direction stays relayed; the agent sends to the caller
        if leg.media is None:
            leg.media = self.player.open()
        offered = leg.local_sdp or caller.remote_sdp     # what the agent was offered first
        offer = sdp.reoffer(offered, self.media_host, self.player.port(leg.media))
        leg.local_sdp = offer
        reinv = leg.dialog.request("INVITE", body=offer, content_type="application/sdp",
                                   extra=[("Allow", ALLOW)])
        try:
            txn = self.ep.send_request(reinv, leg.dialog.destination(), limit=self.timers.timeout)
        except (OSError, ValueError):
            return
        txn.on_final = lambda resp: self._agent_reinvite_final(call, leg, txn, resp)

    def _agent_reinvite_final(self, call: Call, leg: Leg, txn, resp: SipMessage) -> None:
        """The agent's phone took (or not) the ACD's port: relay both ways, or keep half."""
        if 200 <= resp.status < 300:
            self.ep.send_ack(leg.dialog, txn.request.cseq[0])
            if self._still_bridged(call, leg):
                leg.remote_sdp = resp.body or leg.remote_sdp
                self._relay_both(call, leg)
        elif resp.status == 481 and self._still_bridged(call, leg):
            self._remote_hangup(leg)

    # ---- forced transfer (REST) ------------------------------------------------------------
    def transfer(self, call_id: str, target: str) -> Call:
        """Take a call out of its queue and connect it to ``target`` (any SIP URI)."""
        call = self.calls.get(call_id)
        if call is None:
            raise KeyError(call_id)
        dest = resolve(SipUri.parse(target))     # checked before anything changes
        for off in [o for o in self.offers if o.call is call]:
            self._cancel_offer(off)
        old = call.ext.get("agent_leg")
        if old is not None:
            self._hangup(old)
            self._agent_done(call.agent)
            call.agent = None
            call.ext.pop("agent_leg", None)
        call.state = TRANSFERRING
        body, media = self._offer_sdp(call)
        req = self.ep.new_request("INVITE", target, from_=f"<sip:{call.from_}>", to=f"<{target}>",
                                  contact=self.sip_uri, body=body, content_type="application/sdp",
                                  extra=[("Allow", ALLOW)])
        txn = self.ep.send_request(req, dest)
        off = Offer(call=call, agent=None, txn=txn, media=media)
        self.offers.add(off)
        self.qlog.write(call.id, call.queue.name if call.queue else "", "", "TRANSFER", target)
        self._spawn(self._transfer_result(off, target))
        return call

    async def _transfer_result(self, off: Offer, target: str) -> None:
        resp = await off.txn.final
        call = off.call
        self.offers.discard(off)
        off.done = True
        media, off.media = off.media, None
        if resp.status >= 300:
            self.player.stop(media)
            if call.id in self.calls and call.state == TRANSFERRING:
                call.state = WAITING          # target refused: back into the queue
                self._dispatch()
            return
        dialog = Dialog.as_uac(off.txn.request, resp, self.sip_uri)
        self.ep.send_ack(dialog, off.txn.request.cseq[0])
        if self.calls.get(call.id) is not call:
            self._send_bye_dialog(dialog)
            self.player.stop(media)
            return
        leg = Leg(dialog=dialog, kind="transfer", call=call, remote_sdp=resp.body, media=media,
                  allows=allowed(resp))
        self.legs[dialog.key] = leg
        call.ext["agent_leg"] = leg
        call.answered_at = self.now()
        self._start_probe(leg)
        self._bridge(call, leg)

