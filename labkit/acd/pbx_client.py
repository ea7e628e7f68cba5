"""PBX mode: the ACD as a SIP client of a PBX (``serve --pbx ADDR:PORT``; the ``acd`` service's
``pbx`` parameter).  Without ``--pbx`` nothing here runs and the ACD is what it always was.

In the seed "all devices, including the ACD server, talk to Asterisk.  The ACD registers with
Asterisk just like any other phone would".  labkit's lab puts Kamailio (a proxy, registrar and
presence server) in that place.  Decisions:

- **Registration.**  The ACD registers, each with its own ``Registration``
  (labkit.acd.sip.register: refresh at half the grant, backoff 1 s ... 30 s, 60 s when the
  credentials are refused, one log line per state change, un-REGISTER at shutdown), the AORs
  ``pbx_user``, every queue (queues added or deleted through REST follow), ``login_user`` and
  ``logout_user``, each with Contact ``<sip:AOR@ACDIP:PORT>``, so the PBX routes
  ``sip:queue1@PBX`` to us.  Every AOR authenticates as ``pbx_user`` with ``pbx_secret``
  (digest, labkit.acd.sip.digest); credentials go to the PBX's address only.
- **Agents' devices are ``sip:<From-user>@PBXADDR:PORT``.**  Behind Asterisk, a B2BUA, the login
  call's Contact was Asterisk's own (the seed's ``sip:phone1@asterisk``), and subscribing to it
  or calling it reached the phone through Asterisk.  Kamailio is a proxy: the Contact of a login
  INVITE is the phone's own address, and using it would go around the PBX (its presence server,
  its authentication, its record-routing).  So the ACD takes the From user at the PBX: its
  SUBSCRIBE (Event: dialog) is answered by the PBX's presence server, whose NOTIFYs come from the
  PBX, and calls offered to the agent are INVITEs the PBX routes to wherever that user is
  registered.  In-dialog requests follow the route set the PBX record-routed (loose routing;
  labkit.acd.sip.endpoint.Dialog).
- **A subscription failure is not a logout.**  Through a PBX the notifier is the PBX, not the
  phone: a SUBSCRIBE or refresh that fails (the PBX gone, a 4xx/5xx, no NOTIFY, a terminated
  subscription) shows in ``GET /agents`` as the agent's ``subscription`` (its reason), the agent
  waits as ``pending`` (offered nothing), and the ACD SUBSCRIBEs again after 1 s, 2 s, 4 s ...
  up to 30 s, until the PBX answers.  A NOTIFY with an empty body (Kamailio's first one, before
  any dialog was published) means idle.  An offer no one answers at all (no 100 even) means the
  PBX is away, not that the phone vanished: the agent is not logged out for it.
- **REST** (PBX mode only; direct mode keeps the seed's shapes): each queue of ``GET /queues``
  gains ``registered`` and ``registration`` ("ok" or why not), each agent of ``GET /agents``
  gains ``subscription``, and ``GET /stats`` a ``pbx`` block.

Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

import asyncio
import logging

from .sip.digest import DigestClient
from .sip.endpoint import resolve
from .sip.message import SipMessage, SipUri
from .sip.register import Backoff, Registration

log = logging.getLogger("labkit.acd")
#: How long shutdown waits for the un-REGISTERs' answers.
UNREGISTER_WAIT = 2.0


class PbxClient:
    """Registrations with the PBX, agents' device URIs at the PBX, what REST shows of them."""

    def _pbx_start(self) -> None:
        if self.pbx is None:
            return
        self.pbx_addr = resolve(SipUri.parse(f"sip:{self.pbx[0]}:{self.pbx[1]}"))
        self.ep.auth = DigestClient(self.cfg.pbx_user, self.cfg.pbx_secret, peer=self.pbx_addr)
        for user in dict.fromkeys([self.cfg.pbx_user, *self.queues, self.cfg.login_user,
                                   self.cfg.logout_user]):
            self._pbx_register(user)

    def _backoff(self) -> Backoff:
        """A retry schedule towards the PBX: 1 s, 2 s, 4 s ... at the ACD's timer scale."""
        return Backoff(self.timers.t1 / 0.5)

    def _pbx_register(self, user: str) -> None:
        if self.pbx is None or user in self.registrations:
            return
        self.registrations[user] = Registration(
            self.ep, user, self.pbx_addr, f"sip:{user}@{self.ep.host}:{self.ep.port}",
            expires=self.cfg.register_expires, backoff_unit=self._backoff().first).start()

    def _pbx_unregister(self, user: str) -> None:
        reg = self.registrations.pop(user, None)
        if reg is not None:
            self._spawn(reg.stop(UNREGISTER_WAIT))

    async def _pbx_stop(self) -> None:
        """Un-REGISTER every AOR (best-effort, at most UNREGISTER_WAIT)."""
        regs = list(self.registrations.values())
        if regs:
            await asyncio.gather(*(r.stop(UNREGISTER_WAIT) for r in regs))

    def _device_uri(self, req: SipMessage) -> str:
        """The device an agent logging in with ``req`` has: in PBX mode the From user at the
        PBX (the module's decision), else the login call's Contact."""
        user = req.from_.uri.user
        if self.pbx is not None and user:
            return f"sip:{user}@{self.pbx[0]}:{self.pbx[1]}"
        contact = req.contact
        return str(contact.uri) if contact else str(req.from_.uri)

    def _pbx_from(self) -> str:
        """Who the ACD is in requests of its own (SUBSCRIBE): its peer at the PBX, or ``acd``."""
        if self.pbx is not None:
            return f"<sip:{self.cfg.pbx_user}@{self.pbx[0]}>"
        return f"<sip:acd@{self.ep.host}>"

    # ---- what REST shows ------------------------------------------------------------------
    def registration_of(self, user: str) -> tuple[bool, str]:
        """(registered, "ok" or why not) of one AOR."""
        reg = self.registrations.get(user)
        if reg is None:
            return False, "not registered"
        return reg.registered, reg.status

    def pbx_stats(self) -> dict:
        regs = self.registrations
        return {"address": f"{self.pbx[0]}:{self.pbx[1]}",
                "aors_registered": sum(r.registered for r in regs.values()),
                "aors_total": len(regs),
                "registers_sent": sum(r.sent for r in regs.values()),
                "auth_failures": self.ep.stats["auth_failures"] if self.ep else 0,
                "aors": {u: r.status for u, r in regs.items()}}
