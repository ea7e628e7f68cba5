"""The ACD topic's plug-in: the call-centre queue server and the lab's SIP phones."""
from __future__ import annotations

from labkit.lab.plugins import Plugin, ServiceKind

plugin = Plugin(
    name="acd",
    services=[
        ServiceKind("acd", "labkit.acd.service:AcdService", doc="the SIP ACD with its REST API"),
        ServiceKind("sipphone", "labkit.acd.service:PhoneService", doc="a SIP phone that logs in as an agent"),
    ],
)
