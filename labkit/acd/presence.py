"""Presence: the ACD subscribes to each logged-in agent's device (dialog event package,
RFC 4235, falling back to presence, RFC 3856) and turns its NOTIFYs into agent states.

Directly (no PBX) a failed subscription logs the agent out.  Through a PBX (labkit.acd.pbx_client)
it does not: the agent waits as pending, ``Agent.subscription`` says why, and the ACD SUBSCRIBEs
again after a bounded backoff; an empty NOTIFY body (Kamailio's presence server before anything
was published) means idle there.  The subscription dialog takes its route set from whichever
of the 2xx and the first NOTIFY comes first (RFC 6665 4.1.2.4 / RFC 3261 12.1), so a notifier
behind a record-routing proxy is reached through it.

Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

import logging
import re

from . import events
from labkit.digits import uint

from .core import BUSY, CONNECTED, IDLE, LOGGEDOUT, PENDING, Agent
from .legs import Subscription
from .sip.endpoint import Dialog, resolve
from .sip.message import SipMessage, SipUri
from .sip.register import failure
from .sip.transaction import ServerTxn

log = logging.getLogger("labkit.acd")


class Presence:
    """Device subscriptions and the agent states they give."""

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

    # ---- subscriptions to agent devices ----------------------------------------------------
    def _subscribe(self, agent: Agent, event: str, announced: bool = False) -> None:
        accept = (f"{events.CT_DIALOG_INFO}, {events.CT_PIDF}" if event == "dialog"
                  else events.CT_PIDF)
        me = self._pbx_from()
        req = self.ep.new_request("SUBSCRIBE", agent.device, from_=me,
                                  to=f"<{agent.device}>", contact=self.sip_uri,
                                  extra=[("Event", event), ("Accept", accept),
                                         ("Expires", str(self.cfg.subscribe_expires))])
        dialog = Dialog(call_id=req.call_id, local_tag=req.from_.tag, remote_tag="",
                        local_uri=me, remote_uri=f"<{agent.device}>",
                        remote_target=agent.device, local_contact=self.sip_uri, local_seq=1)
        req.dialog = dialog          # a digest retry's CSeq carries on into the dialog
        sub = Subscription(agent=agent, dialog=dialog, event=event, announced=announced)
        old = agent.sub
        if old is not None:
            self._drop_sub(old)
        agent.sub = sub
        if self.pbx is not None and not agent.subscription:
            agent.subscription = "pending"     # a retry keeps showing why the last one failed
        self.subs[dialog.key] = sub
        try:
            txn = self.ep.send_request(req, resolve(SipUri.parse(agent.device)))
        except (OSError, ValueError) as exc:
            self._sub_failed(sub, f"cannot send the SUBSCRIBE: {exc}")
            return
        # Timer N (RFC 6665 4.1.2.4): no NOTIFY within 64*T1 and the subscription has failed,
        # whatever the SUBSCRIBE's answer was (a phone that says 200 and never notifies)
        sub.timer_n = self.loop.call_later(self.timers.timeout, self._no_notify, sub)
        self._spawn(self._subscribe_result(sub, txn))

    def _no_notify(self, sub: Subscription) -> None:
        sub.timer_n = None
        if not sub.ending and sub.agent.sub is sub:
            log.info("agent %s: no NOTIFY from %s within 64*T1", sub.agent.id, sub.agent.device)
            self._sub_failed(sub, "no NOTIFY within 64*T1")

    async def _subscribe_result(self, sub: Subscription, txn) -> None:
        resp = await txn.final
        if sub.ending or sub.agent.sub is not sub:
            return
        if 200 <= resp.status < 300:
            sub.active = True
            if resp.to.tag and not sub.dialog.remote_tag:
                sub.dialog.remote_tag = resp.to.tag
                # the 2xx came before any NOTIFY: it sets the route set (reversed Record-Route)
                sub.dialog.route_set = list(reversed(resp.get_all("Record-Route")))
            c = resp.contact
            if c:
                sub.dialog.remote_target = str(c.uri)
            expires = _int(resp.get("Expires"), self.cfg.subscribe_expires)
            if expires > 0:
                sub.refresh = self.loop.call_later(_refresh_after(expires), self._refresh, sub)
            return
        if resp.status == 489 and sub.event == "dialog":
            self._drop_sub(sub)
            sub.agent.sub = None
            self._subscribe(sub.agent, "presence", sub.announced)   # RFC 3856 fallback
            return
        self._sub_failed(sub, failure(resp, txn.addr)[0])

    def _sub_failed(self, sub: Subscription, why: str) -> None:
        """The subscription to ``sub.agent``'s device failed: directly, the agent is logged out;
        through a PBX it waits (pending) and is subscribed again after a bounded backoff."""
        agent = sub.agent
        self._drop_sub(sub)
        if agent.sub is not sub:
            return
        agent.sub = None
        if self.pbx is None:
            log.info("agent %s: subscription to %s failed (%s); logged out", agent.id,
                     agent.device, why)
            self.logout_agent(agent, "subscription-failed")
            return
        if agent.subscription != why:          # one line per change, not per attempt
            log.warning("agent %s: subscription to %s failed: %s; subscribing again",
                        agent.id, agent.device, why)
        agent.subscription = why
        agent.device_idle = False
        if agent.state in (IDLE, BUSY):
            agent.state = PENDING              # nothing is offered until a NOTIFY says idle
        agent.backoff = agent.backoff or self._backoff()
        if agent.resubscribe:
            agent.resubscribe.cancel()
        agent.resubscribe = self.loop.call_later(agent.backoff.delay(), self._resubscribe, agent,
                                                 sub.event, sub.announced)

    def _resubscribe(self, agent: Agent, event: str, announced: bool) -> None:
        agent.resubscribe = None
        if agent.state != LOGGEDOUT and agent.sub is None:
            self._subscribe(agent, event, announced)

    def _sub_working(self, sub: Subscription, state: str) -> None:
        """PBX mode: the subscription answers again (a NOTIFY came)."""
        agent = sub.agent
        if self.pbx is None or agent.sub is not sub:
            return
        shown = "pending" if state == "pending" else "active"
        if agent.subscription not in ("pending", "active"):
            log.warning("agent %s: subscription to %s %s again", agent.id, agent.device, shown)
        agent.subscription = shown
        if agent.backoff is not None:
            agent.backoff.reset()

    def _refresh(self, sub: Subscription) -> None:
        if sub.ending:
            return
        req = sub.dialog.request("SUBSCRIBE", extra=[("Event", sub.event),
                                                     ("Expires", str(self.cfg.subscribe_expires))])
        try:
            txn = self.ep.send_request(req, sub.dialog.destination())
        except (OSError, ValueError) as exc:       # the phone's Contact no longer resolves
            self._sub_failed(sub, f"cannot send the refresh: {exc}")
            return
        self._spawn(self._refresh_result(sub, txn))

    async def _refresh_result(self, sub: Subscription, txn) -> None:
        resp = await txn.final
        if sub.ending:
            return
        if 200 <= resp.status < 300:
            expires = _int(resp.get("Expires"), self.cfg.subscribe_expires)
            sub.refresh = self.loop.call_later(_refresh_after(expires), self._refresh, sub)
        else:
            self._sub_failed(sub, "refresh failed: " + failure(resp, txn.addr)[0])

    def _unsubscribe(self, sub: Subscription) -> None:
        sub.ending = True
        for h in (sub.refresh, sub.timer_n):
            if h:
                h.cancel()
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
        for h in (sub.refresh, sub.timer_n):
            if h:
                h.cancel()
        if self.subs.get(sub.dialog.key) is sub:
            del self.subs[sub.dialog.key]

    def _on_notify(self, req: SipMessage, txn: ServerTxn) -> None:
        sub = self.subs.get((req.call_id, req.to.tag))
        if sub is None:
            txn.respond(txn.response(481))
            return
        state = req.get("Subscription-State").split(";")[0].strip().lower()
        if sub.timer_n:
            sub.timer_n.cancel()
            sub.timer_n = None
        if not sub.dialog.remote_tag:
            # the NOTIFY came before the 2xx: it makes the dialog, route set = its Record-Route
            sub.dialog.remote_tag = req.from_.tag
            sub.dialog.route_set = req.get_all("Record-Route")
            c = req.contact
            if c:
                sub.dialog.remote_target = str(c.uri)
        if sub.ending:
            txn.respond(txn.response(200))
            return
        if state != "terminated":
            self._sub_working(sub, state)
        if not req.body and self.pbx is not None and state == "active":
            # Kamailio's presence server before anything was published: no dialog, idle
            txn.respond(txn.response(200))
            self._device_state(sub, events.DeviceState(idle=True), -1)
        elif req.body:
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
            if self.pbx is not None:
                reason = req.get("Subscription-State").partition("reason=")[2].split(";")[0].strip()
                self._sub_failed(sub, f"terminated by the PBX ({reason or 'no reason'})")
                return
            self._drop_sub(sub)
            if agent.sub is sub:
                agent.sub = None
                self.logout_agent(agent, "subscription-terminated")


def _refresh_after(expires: float) -> float:
    """When to refresh a subscription granted for ``expires`` seconds: at 80% of it, but at
    least 5 s before it ends when it is that long, and never later than its half (a notifier
    that grants 1 s must not see the refresh arrive after it expired)."""
    return max(expires * 0.5, min(expires * 0.8, expires - 5))


def _int(value: str, default: int) -> int:
    """An Expires value (already checked as digits by the parser), or ``default`` if absent."""
    try:
        return uint(value.strip(), 2**32 - 1, "Expires")
    except (ValueError, AttributeError):
        return default


def _dialog_info_version(body: bytes) -> int:
    m = re.search(rb'<dialog-info[^>]*\sversion="([0-9]{1,10})"', body)
    return int(m.group(1)) if m else -1
