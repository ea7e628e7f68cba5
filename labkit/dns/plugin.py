"""The DNS topic's plug-in: BIND, the embedded servers, the security group, and the `dns` check."""
from __future__ import annotations

from labkit.lab.params import Param
from labkit.lab.plugins import CheckKind, Plugin, ServiceKind

from . import labcheck

plugin = Plugin(
    name="dns",
    services=[
        ServiceKind("bind", "labkit.dns.service:BindService", doc="BIND 9 with the node's named.conf"),
        ServiceKind("authdns", "labkit.dns.service:EmbeddedDnsService",
                    doc="labkit's authoritative server (dnslib wire format, own answer logic)"),
        ServiceKind("resolver", "labkit.dns.service:ResolverService", doc="a recursive resolver for the lab"),
        ServiceKind("secgroup", "labkit.dns.service:SecurityGroupService",
                    doc="an EC2 security group as nftables rules on the node"),
    ],
    checks=[
        CheckKind("dns", "labkit.dns.labcheck:run",
                  {"from": Param("node", required=True, doc="e.g. from: pc1"),
                   "server": Param("address", required=True, doc="e.g. server: 192.168.254.1"),
                   "name": Param("str", required=True, doc="e.g. name: exampledomain.ca"),
                   "type": Param(labcheck.qtype, default="A"),
                   "expect": Param("strs"),
                   "rcode": Param(labcheck.rcode, default="NOERROR"),
                   "timeout": Param("seconds", default=2.0)},
                  describe=labcheck.describe,
                  doc="a DNS query whose answer includes `expect`"),
    ],
    udp_payloads={53: labcheck.probe_payload},
)
