"""Presence: the ACD subscribes to each logged-in agent's device (dialog event package,
RFC 4235, falling back to presence, RFC 3856) and turns its NOTIFYs into agent states.

Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

import logging
import re

from . import events
from .core import BUSY, CONNECTED, IDLE, LOGGEDOUT, PENDING, Agent
from .legs import Subscription
from .sip.endpoint import Dialog, resolve
from .sip.message import SipMessage, SipUri
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


def _int(value: str, default: int) -> int:
    try:
        return int(value.strip())
    except (ValueError, AttributeError):
        return default


def _dialog_info_version(body: bytes) -> int:
    m = re.search(rb'<dialog-info[^>]*\sversion="(\d+)"', body)
    return int(m.group(1)) if m else -1
