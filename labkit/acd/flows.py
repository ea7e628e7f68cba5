"""Call flows as data, for notebook 04: run a scenario in-process and get its SIP ladder.

``login_and_call()`` starts an ACD with one queue, logs an agent phone in with INFO digits,
places one gateway call that the agent answers, and returns every SIP message the ACD sent, in
order, as :class:`labkit.acd.ladder.LadderRow` (names instead of ports, no times): a
deterministic ladder that ``ladder_table`` prints and ``plot_ladder`` draws, without root or a
capture.  In the lab, ``ladder.sip_rows(pcap)`` gives the same rows from tcpdump's capture.
"""
from __future__ import annotations

import asyncio

from .harness import AcdLab
from .ladder import LadderRow
from .sip.message import SipMessage
from .sip.transaction import Timers

FLOW_CONFIG = {"queues": [{"name": "queue1"}], "agents": [{"id": "2771", "memberof": ["queue1"]}],
               "media": False, "wrapup": 0, "login_hangup_delay": 0.05, "ring_timeout": 2}


def _label(msg: SipMessage) -> str:
    if msg.is_request:
        label = msg.method
    else:
        label = f"{msg.status} {msg.reason} ({msg.cseq[1]})"
    if msg.content_type:
        label += f" [{msg.content_type.split('/')[-1]}]"
    return label


async def _login_and_call(talk: float) -> list[LadderRow]:
    async with AcdLab(FLOW_CONFIG, timers=Timers.scaled(0.2)) as lab:
        phone = await lab.phone("phone1", talk_time=talk)
        gw = await lab.gateway()
        names = {lab.acd.ep.port: "acd", phone.ep.port: "phone1", gw.ep.port: "gateway"}
        rows: list[LadderRow] = []

        def trace(direction: str, msg: SipMessage, addr) -> None:
            if direction != "tx":
                return
            peer = names.get(addr[1], str(addr[1]))
            rows.append(LadderRow(0.0, "acd", peer, _label(msg), msg.call_id, msg.is_request))

        def peer_trace(me: str):
            def t(direction: str, msg: SipMessage, addr) -> None:
                if direction == "tx" and addr[1] == lab.acd.ep.port:
                    rows.append(LadderRow(0.0, me, "acd", _label(msg), msg.call_id, msg.is_request))
            return t
        lab.acd.ep.trace = trace
        phone.ep.trace = peer_trace("phone1")
        gw.ep.trace = peer_trace("gateway")
        await lab.login(phone, "2771")
        await gw.call(lab.sip, "queue1", hold=talk + 3)
        await asyncio.sleep(0.3)
        lab.acd.ep.trace = phone.ep.trace = gw.ep.trace = None
        return rows


def login_and_call(talk: float = 0.2) -> list[LadderRow]:
    """The seed's typical scenario, end to end: login (*44 + INFO), SUBSCRIBE/NOTIFY, a queued
    call offered to the agent, the media re-INVITE, the hang-ups."""
    return asyncio.run(_login_and_call(talk))
