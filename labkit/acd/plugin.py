"""The ACD topic's plug-in: the call-centre queue server and the lab's SIP phones."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from labkit.diag import printable
from labkit.lab.errors import TopologyError
from labkit.lab.params import Param
from labkit.lab.plugins import Plugin, ServiceKind


def sip_address(key: str, what: str, example: str):
    """A parameter type: `ADDR:PORT` of a SIP peer (``what``: "the ACD", "the PBX"), an IPv4
    address and a UDP port, e.g. 192.168.2.10:5060."""
    def check(value: Any, where, ctx) -> str:
        m = re.fullmatch(r"([0-9.]+):(\d{1,5})", value) if isinstance(value, str) else None
        try:
            ok = m is not None and 0 < int(m.group(2)) < 65536 and bool(ipaddress.IPv4Address(m.group(1)))
        except ValueError:
            ok = False
        if not ok:
            raise TopologyError(where, f"{key} '{printable(value, 60)}' is not ADDR:PORT of {what}",
                                f"e.g. {key}: \"{example}\" (quoted, an IPv4 address and a port 1-65535)")
        return value
    check.__doc__ = f"`ADDR:PORT` of {what}'s SIP side, e.g. {example}."
    return check


acd_address = sip_address("acd", "the ACD", "192.168.2.10:5060")
pbx_address = sip_address("pbx", "the PBX", "192.168.2.5:5060")


def sip_user(value: Any, where, ctx) -> str:
    """A SIP user name (a phone's account on the PBX): ASCII letters, digits, - _ . *"""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not text or len(text) > 64 or not all((c.isascii() and c.isalnum()) or c in "-_.*" for c in text):
        raise TopologyError(where, f"user '{printable(value, 60)}' is not a SIP user name",
                            "e.g. user: phone1 (ASCII letters, digits, - _ . *; at most 64)")
    return text


def sip_secret(value: Any, where, ctx) -> str:
    """A SIP password: one line of printable ASCII (it is hashed, never sent)."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not text or len(text) > 128 or not all(" " <= c <= "~" for c in text):
        raise TopologyError(where, f"secret '{printable(value, 20)}' is not a SIP password",
                            "e.g. secret: \"phone1secret\" (printable ASCII, 1 to 128 characters)")
    return text


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
                     "timer_scale": Param(timer_scale, default=1.0),
                     "pbx": Param(pbx_address, doc='e.g. pbx: "192.168.2.5:5060": register there '
                                                   '(pbx_user, pbx_secret in the config)')},
                    doc="the SIP ACD with its REST API"),
        ServiceKind("sipphone", "labkit.acd.service:PhoneService",
                    {"acd": Param(acd_address, doc='e.g. acd: "192.168.2.10:5060" (without pbx)'),
                     "pbx": Param(pbx_address, doc='e.g. pbx: "192.168.2.5:5060": register there, '
                                                   'log in by calling *44'),
                     "user": Param(sip_user, doc="the phone's SIP user on the PBX (default: the node name)"),
                     "secret": Param(sip_secret, doc="its password on the PBX"),
                     "agent": Param(agent_id), "policy": Param("str", default="answer",
                                                              choices=("answer", "refuse", "ignore")),
                     "talk": Param("seconds"), "port": Param("port", default=5060),
                     "listen": Param("address"),
                     "media": Param("bool", default=False, doc="send a tone as PCMU RTP in calls")},
                    doc="a SIP phone that logs in as an agent"),
    ],
)
