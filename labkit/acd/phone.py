"""labkit SIP user agents for the ACD lab: agent phones and a gateway that places calls.

``AgentPhone`` is what the seed's agents have on their desks: it logs in by calling the
login AOR and keying the agent ID as SIP INFO digits, it answers the ACD's SUBSCRIBE and sends
RFC 4235 dialog-info NOTIFYs that follow its real call state, and it answers, refuses or ignores
calls by policy.  ``Gateway`` plays the seed's FXO gateway: it calls queue AORs with a PCMU
offer, answers the ACD's re-INVITE, and hangs up (or vanishes without BYE, for soak tests).
Both run on the same asyncio loop as anything else; no media is sent (signalling only).
"""
from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field
from typing import Callable

from . import events
from .sip import sdp
from .sip.endpoint import Dialog, SipEndpoint, resolve
from .sip.message import SipMessage, SipUri, new_tag
from .sip.transaction import ServerTxn, Timers

Policy = Callable[[SipMessage], tuple]   # -> ("answer", delay) | ("refuse", code) | ("ignore",)


@dataclass(eq=False)
class PhoneCall:
    dialog: Dialog
    direction: str            # "initiator" | "recipient"
    state: str = "early"      # early | confirmed | terminated
    txn: ServerTxn | None = None
    did: str = ""
    answered: asyncio.Future | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reinvited: int = 0
    remote_sdp: bytes = b""


class _UA:
    """Shared plumbing: endpoint, dialogs keyed by (Call-ID, local tag), simple answers."""
    user = "ua"

    def __init__(self, timers: Timers = Timers(), host: str = "127.0.0.1", port: int = 0) -> None:
        self.timers, self.host, self.port = timers, host, port
        self.ep: SipEndpoint | None = None
        self.calls: dict[tuple[str, str], PhoneCall] = {}
        self.ids = itertools.count(1)
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> "_UA":
        self.ep = await SipEndpoint.listen(self, self.host, self.port, timers=self.timers,
                                           user_agent=f"labkit-{self.user}")
        return self

    async def stop(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        if self.ep:
            self.ep.close()

    @property
    def contact(self) -> str:
        return self.ep.uri(self.user)

    def _spawn(self, coro) -> None:
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def sdp(self) -> bytes:
        return sdp.build(self.ep.host, 40000 + (self.ep.port % 20000), user=self.user)

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
                call.reinvited += 1
                call.remote_sdp = req.body or call.remote_sdp
                resp = txn.response(200, body=self.sdp(), extra=[("Contact", f"<{self.contact}>")])
                self.ep.send_2xx(txn, resp)
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

    def on_invite(self, req: SipMessage, txn: ServerTxn) -> None:
        txn.respond(txn.response(486, to_tag=new_tag()))

    def on_other(self, req: SipMessage, txn: ServerTxn) -> None:
        txn.respond(txn.response(405, extra=[("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO")]))

    async def invite(self, uri: str, from_user: str, body: bytes | None = None,
                     dest: tuple[str, int] | None = None) -> tuple[SipMessage, PhoneCall | None]:
        """Place a call; on 2xx ACK it and return the confirmed dialog."""
        req = self.ep.new_request("INVITE", uri, from_=f"<sip:{from_user}@{self.ep.host}>",
                                  to=f"<{uri}>", contact=self.contact,
                                  body=self.sdp() if body is None else body,
                                  content_type="application/sdp")
        dialog = Dialog(call_id=req.call_id, local_tag=req.from_.tag, remote_tag="",
                        local_uri=f"<sip:{from_user}@{self.ep.host}>", remote_uri=f"<{uri}>",
                        remote_target=uri, local_contact=self.contact, local_seq=1)
        call = PhoneCall(dialog=dialog, direction="initiator", did=f"d{next(self.ids)}")
        self.calls[dialog.key] = call
        self.changed()
        txn = self.ep.send_request(req, dest or resolve(SipUri.parse(uri)))
        resp = await txn.final
        if resp.status >= 300:
            self.calls.pop(dialog.key, None)
            self.changed()
            return resp, None
        d2 = Dialog.as_uac(req, resp, self.contact)
        call.dialog.remote_tag, call.dialog.remote_target = d2.remote_tag, d2.remote_target
        call.dialog.route_set = d2.route_set
        call.remote_sdp = resp.body
        self.ep.send_ack(call.dialog, req.cseq[0])
        call.state = "confirmed"
        self.changed()
        return resp, call

    def hangup(self, call: PhoneCall, lose: bool = False) -> None:
        """BYE the call; ``lose=True`` simulates a BYE lost on the wire (nothing is sent)."""
        if call.state == "terminated":
            return
        if not lose:
            self.ep.send_request(call.dialog.request("BYE"), call.dialog.destination())
        self._terminate(call.dialog.key)


class AgentPhone(_UA):
    """An agent's desk phone. ``policy`` decides per incoming INVITE."""
    user = "phone"

    def __init__(self, name: str = "phone", policy: Policy | str = "answer", answer_delay: float = 0.0,
                 talk_time: float | None = None, timers: Timers = Timers(), host: str = "127.0.0.1",
                 port: int = 0, notify_body: str = "dialog") -> None:
        super().__init__(timers, host, port)
        self.user = name
        if isinstance(policy, str):
            kind = policy
            policy = (lambda req: ("answer", answer_delay)) if kind == "answer" else \
                     (lambda req: ("refuse", 486)) if kind == "refuse" else (lambda req: ("ignore",))
        self.policy: Policy = policy
        self.talk_time = talk_time
        self.subs: dict[tuple[str, str], Dialog] = {}
        self.sub_event: dict[tuple[str, str], str] = {}
        self.version = 0
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
        self.calls[dialog.key] = call
        txn.to_tag = tag
        txn.respond(txn.response(180, to_tag=tag, extra=[("Contact", f"<{self.contact}>")]))
        self.changed()
        if decision[0] == "answer":
            delay = decision[1] if len(decision) > 1 else 0.0
            asyncio.get_running_loop().call_later(delay, self._answer, call)

    def _answer(self, call: PhoneCall) -> None:
        if call.state != "early" or call.txn is None or call.txn.final_sent:
            return
        resp = call.txn.response(200, to_tag=call.dialog.local_tag, body=self.sdp(),
                                 extra=[("Contact", f"<{self.contact}>")])
        self.ep.send_2xx(call.txn, resp, on_no_ack=lambda: self.hangup(call))
        call.state = "confirmed"
        self.acd_calls.append(call)
        if len(self.acd_calls) > 100:
            del self.acd_calls[:50]
        self.changed()
        if self.talk_time is not None:
            asyncio.get_running_loop().call_later(self.talk_time, self._talk_over, call)

    def _talk_over(self, call: PhoneCall) -> None:
        lose, self.lose_next_bye = self.lose_next_bye, False
        lose = lose or (self.bye_loss > 0 and self.rng.random() < self.bye_loss)
        self.hangup(call, lose=lose)

    # ---- the ACD's subscription --------------------------------------------------------
    def on_other(self, req: SipMessage, txn: ServerTxn) -> None:
        if req.method != "SUBSCRIBE":
            super().on_other(req, txn)
            return
        event = req.get("Event").split(";")[0].strip().lower()
        wanted = "dialog" if self.notify_body == "dialog" else "presence"
        if event != wanted:
            txn.respond(txn.response(489, to_tag=new_tag(), extra=[("Allow-Events", wanted)]))
            return
        expires = int(req.get("Expires", "3600") or 3600)
        if req.to.tag:
            key = (req.call_id, req.to.tag)
            dialog = self.subs.get(key)
            if dialog is None:
                txn.respond(txn.response(481))
                return
            dialog.remote_seq = req.cseq[0]
        else:
            dialog = Dialog.as_uas(req, new_tag(), self.contact)
            key = dialog.key
            self.subs[key] = dialog
            self.sub_event[key] = event
        txn.respond(txn.response(200, to_tag=dialog.local_tag,
                                 extra=[("Expires", str(expires)), ("Contact", f"<{self.contact}>")]))
        self._notify(key, terminated=expires == 0)

    def _body(self) -> tuple[str, bytes]:
        self.version += 1
        if self.notify_body == "presence":
            busy = any(c.state in ("early", "confirmed") for c in self.calls.values())
            return events.CT_PIDF, events.build_pidf(self.contact, not busy,
                                                     "on-the-phone" if busy else "")
        dl = [(c.did, c.dialog.call_id, c.direction, c.state) for c in self.calls.values()]
        return events.CT_DIALOG_INFO, events.build_dialog_info(self.contact, self.version, dl)

    def _notify(self, key: tuple[str, str], terminated: bool = False) -> None:
        dialog = self.subs.get(key)
        if dialog is None:
            return
        ctype, body = self._body()
        state = "terminated;reason=timeout" if terminated else "active;expires=3600"
        req = dialog.request("NOTIFY", body=body, content_type=ctype,
                             extra=[("Event", self.sub_event.get(key, "dialog")),
                                    ("Subscription-State", state)])
        self.ep.send_request(req, dialog.destination())
        if terminated:
            self.subs.pop(key, None)
            self.sub_event.pop(key, None)

    def changed(self) -> None:
        for key in list(self.subs):
            self._notify(key)

    @property
    def busy(self) -> bool:
        return any(c.state in ("early", "confirmed") for c in self.calls.values())


class Gateway(_UA):
    """Places calls into the ACD's queues (the seed's FXO gateway)."""
    user = "gateway"

    async def call(self, acd: tuple[str, int], target: str, hold: float = 1.0,
                   lose_bye: bool = False) -> dict:
        """Call ``target`` (a queue or agent user) and hang up after ``hold`` seconds.

        Returns what happened: status, whether an agent got connected (re-INVITE seen), and who
        ended the call."""
        uri = f"sip:{target}@{acd[0]}:{acd[1]}"
        resp, call = await self.invite(uri, self.user, dest=acd)
        out = {"status": resp.status, "connected": False, "ended_by": "", "call_id": resp.call_id}
        if call is None:
            return out
        try:
            await asyncio.wait_for(call.ended.wait(), hold)
            out["ended_by"] = "acd"
        except asyncio.TimeoutError:
            self.hangup(call, lose=lose_bye)
            out["ended_by"] = "lost" if lose_bye else "caller"
        out["connected"] = call.reinvited > 0
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
