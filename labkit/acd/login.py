"""Agent login and logout: the login call's INFO DTMF digits, the checks, the closing prompt.

An agent logs in by calling the login user and keying its id (RFC 2976 INFO, dtmf-relay or
dtmf); a logout call, REST or a failed subscription logs it out. Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

import logging

from . import events
from .core import LOGGEDOUT, PENDING, RINGING, Agent
from .legs import Leg
from .sip import sdp
from .sip.message import SipMessage
from .sip.transaction import ServerTxn

log = logging.getLogger("labkit.acd")


class Login:
    """DTMF login, logout."""

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
            self.logout_agent(agent, "logout-call")
        self._say_then_hangup(leg, "")

    def logout_agent(self, agent: Agent, reason: str = "") -> None:
        """Log ``agent`` out (a logout call, REST, a failed subscription, a vanished phone:
        ``reason`` says which in the queue log)."""
        if agent.state == LOGGEDOUT:
            return
        sub = agent.sub
        if sub is not None:
            self._unsubscribe(sub)
        if agent.resubscribe:
            agent.resubscribe.cancel()
        agent.resubscribe = agent.backoff = None
        agent.subscription = ""
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
        self.qlog.write("", "NONE", agent.id, "AGENTLOGOFF", reason)
        self.logouts[reason or "unspecified"] += 1
