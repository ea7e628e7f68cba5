"""The ACD topic's plug-in: the call-centre queue server and the lab's SIP phones."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from labkit.diag import printable
from labkit.lab.errors import TopologyError
from labkit.lab.params import Param
from labkit.lab.plugins import Plugin, ServiceKind


def acd_address(value: Any, where, ctx) -> str:
    """`ADDR:PORT` of the ACD's SIP side, e.g. 192.168.2.10:5060."""
    m = re.fullmatch(r"([0-9.]+):(\d{1,5})", value) if isinstance(value, str) else None
    try:
        ok = m is not None and 0 < int(m.group(2)) < 65536 and bool(ipaddress.IPv4Address(m.group(1)))
    except ValueError:
        ok = False
    if not ok:
        raise TopologyError(where, f"acd '{printable(value, 60)}' is not ADDR:PORT of the ACD",
                            "e.g. acd: \"192.168.2.10:5060\" (quoted, an IPv4 address and a port 1-65535)")
    return value


def agent_id(value: Any, where, ctx) -> str:
    """An agent id: its digits, as typed on the phone's keypad."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not re.fullmatch(r"\d{1,16}", str(value)):
        raise TopologyError(where, f"agent '{printable(value, 60)}' is not the digits of an agent id",
                            "e.g. agent: \"2771\" (quoted, so a leading 0 stays)")
    return str(value)


def timer_scale(value: Any, where, ctx) -> float:
    """How much faster than RFC 3261's SIP timers the ACD runs (1: as written; 0.1: Timer B is
    3.2 s instead of 32 s, for tests and demos that wait on it)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.01 <= value <= 1
    if not ok:
        raise TopologyError(where, f"timer_scale '{printable(value, 30)}' is not a number from 0.01 to 1",
                            "e.g. timer_scale: 0.1 (SIP timers 10 times faster)")
    return float(value)


plugin = Plugin(
    name="acd",
    services=[
        ServiceKind("acd", "labkit.acd.service:AcdService",
                    {"config": Param("file", required=True, doc="e.g. config: acd/acd.yaml"),
                     "sip_port": Param("port", default=5060), "http_port": Param("port", default=242),
                     "media": Param("bool", default=True), "listen": Param("address"),
                     "timer_scale": Param(timer_scale, default=1.0)},
                    doc="the SIP ACD with its REST API"),
        ServiceKind("sipphone", "labkit.acd.service:PhoneService",
                    {"acd": Param(acd_address, required=True, doc='e.g. acd: "192.168.2.10:5060"'),
                     "agent": Param(agent_id), "policy": Param("str", default="answer",
                                                              choices=("answer", "refuse", "ignore")),
                     "talk": Param("seconds"), "port": Param("port", default=5060),
                     "listen": Param("address"),
                     "media": Param("bool", default=False, doc="send a tone as PCMU RTP in calls")},
                    doc="a SIP phone that logs in as an agent"),
    ],
)
