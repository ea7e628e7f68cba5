"""Routing: queued calls offered to agents (MIA or ring-all), offers ringing out, the media
bridge by re-INVITE, wrap-up, and forced transfers.

Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

import logging

from .core import (ASSIGNED, BUSY, CONNECTED, IDLE, INCALL, LOGGEDOUT, RINGING,
                   TRANSFERRING, WAITING, WRAPUP, Agent, Call, pick_agents)
from .legs import ALLOW, Leg, Offer
from .sip import sdp
from .sip.endpoint import Dialog, resolve
from .sip.message import SipMessage, SipUri

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
