"""Which class runs each service `type:` named in a topology file.

Classes are named as strings and imported on first use, so loading or linting a
topology never imports BIND, Postfix or SIP code it does not need.
"""
from __future__ import annotations

import importlib

SERVICES: dict[str, str] = {
    "ios": "labkit.ios.service:IosService",
    "dhcp-client": "labkit.lab.dhcp:DhcpClientService",
    "bind": "labkit.dns.service:BindService",
    "authdns": "labkit.dns.service:EmbeddedDnsService",
    "resolver": "labkit.dns.service:ResolverService",
    "secgroup": "labkit.dns.service:SecurityGroupService",
    "postfix": "labkit.mail.service:PostfixService",
    "smtpsink": "labkit.mail.service:SinkService",
    "acd": "labkit.acd.service:AcdService",
    "sipphone": "labkit.acd.service:PhoneService",
    "http": "labkit.lab.simple:HttpService",
    "tcp-echo": "labkit.lab.simple:TcpEchoService",
}


def service_class(kind: str) -> type:
    """Import and return the Service subclass for `kind` (KeyError if unknown)."""
    module, _, cls = SERVICES[kind].partition(":")
    return getattr(importlib.import_module(module), cls)
