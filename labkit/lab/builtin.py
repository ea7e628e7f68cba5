"""The engine's own plug-in, `core`: the generic services and check kinds every lab may use.

Registered through the same entry-point group as any topic (see pyproject.toml), so the
engine has one way to learn a kind, its own included.
"""
from __future__ import annotations

from .params import Param
from .plugins import CheckKind, Plugin, ServiceKind

_FROM = Param("node", required=True, doc="e.g. from: pc1")
_TO = Param("target", required=True, doc="e.g. to: ec2 (a node name or an IPv4 address)")
_PORT = Param("proto_port", required=True, doc="e.g. port: 25/tcp")

plugin = Plugin(
    name="core",
    services=[
        ServiceKind("http", "labkit.lab.simple:HttpService",
                    {"port": Param("tcp_port", default=80), "listen": Param("address"),
                     "page": Param("str")},
                    "python -m http.server on a page of its own"),
        ServiceKind("tcp-echo", "labkit.lab.simple:TcpEchoService",
                    {"port": Param("tcp_port", default=7), "listen": Param("address")},
                    "a TCP echo server, for forwards and ACLs"),
        ServiceKind("dhcp-client", "labkit.lab.dhcp:DhcpClientService",
                    {"interface": Param("str", default="eth0")},
                    "busybox udhcpc on a host interface that says 'dhcp'"),
    ],
    checks=[
        CheckKind("reach", "labkit.lab.checks:reach",
                  {"from": _FROM, "to": _TO, "timeout": Param("seconds", default=1.0)},
                  doc="the target answers ping (2 tries)"),
        CheckKind("no_reach", "labkit.lab.checks:no_reach",
                  {"from": _FROM, "to": _TO, "timeout": Param("seconds", default=1.0)},
                  doc="the target does not answer ping"),
        CheckKind("port_open", "labkit.lab.checks:port_open",
                  {"from": _FROM, "to": _TO, "port": _PORT, "timeout": Param("seconds", default=1.5)},
                  doc="TCP connects, or a UDP datagram draws a reply"),
        CheckKind("port_closed", "labkit.lab.checks:port_closed",
                  {"from": _FROM, "to": _TO, "port": _PORT, "timeout": Param("seconds", default=1.5)},
                  doc="TCP is refused or dropped, or UDP draws no reply"),
    ],
)
