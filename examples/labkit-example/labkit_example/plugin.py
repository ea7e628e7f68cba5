"""The plug-in object labkit finds through the `labkit.plugins` entry point.

It adds one service kind (`banner`: a TCP server that greets each client with a line)
and one check kind (`banner`: connect from a node and expect words in the greeting).
Parameters are declared once with their types; labkit validates topologies against
them before anything starts, and hands the converted values to the service and check.
"""
from __future__ import annotations

from labkit.lab.params import Param
from labkit.lab.plugins import CheckKind, Plugin, ServiceKind


def _describe(p: dict) -> str:
    return f"banner {p['from']} -> {p['to']}:{p['port']} says {p['expect']!r}"


plugin = Plugin(
    name="example",
    services=[ServiceKind("banner", "labkit_example.banner:BannerService",
                          {"port": Param("tcp_port", default=2323),
                           "text": Param("str", default="hello from labkit")},
                          doc="a TCP server that greets each client with one line")],
    checks=[CheckKind("banner", "labkit_example.banner:check",
                      {"from": Param("node", required=True), "to": Param("target", required=True),
                       "port": Param("tcp_port", default=2323), "expect": Param("str", required=True),
                       "timeout": Param("seconds", default=2.0)},
                      describe=_describe, doc="the greeting read from the port contains `expect`")],
)
