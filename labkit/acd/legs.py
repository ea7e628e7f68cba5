"""The ACD's SIP dialogs: legs, subscriptions and offers, and how a leg ends.

A leg ends by a BYE either way, by a missing ACK (RFC 3261 13.3.1.4), or by a failed OPTIONS
probe (a lost BYE must not keep a call forever). Ending a leg stops its prompt and timers and
tells routing or login which side went. Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .core import Agent, Call
from .sip.endpoint import Dialog
from .sip.transaction import InviteClientTxn

log = logging.getLogger("labkit.acd")
#: The methods the ACD answers (Allow header of its responses and INVITEs).
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"


def allowed(msg) -> frozenset[str]:
    """The methods a message's Allow headers list (upper case; empty when it has none)."""
    return frozenset(m.strip().upper() for v in msg.get_all("Allow") for m in v.split(",")
                     if m.strip())


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
    allows: frozenset[str] = frozenset()   # methods the peer listed in Allow (RFC 3261 20.5)


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
    timer_n: Any = None            # no NOTIFY yet (RFC 6665 Timer N)


@dataclass(eq=False)
class Offer:
    """An INVITE from the ACD to an agent (or a transfer target) still ringing."""
    call: Call
    agent: Agent | None
    txn: InviteClientTxn
    timer: Any = None
    done: bool = False
    timed_out: bool = False
    media: Any = None              # the ACD's port offered to the agent (relayed calls)


class Legs:
    """Ending legs, BYEs and the keep-alive probes of connected legs."""

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
