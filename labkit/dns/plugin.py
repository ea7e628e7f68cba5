"""The DNS topic's plug-in: BIND, the embedded servers, the security group, and the `dns` check.

Every parameter the services read is declared here with its type, so `labkit lint`
refuses what bring-up would: a security-group rule that is not PORT/tcp, PORT/udp or
icmp, a zone origin that is not a DNS name, a zone file that does not exist.
"""
from __future__ import annotations

from typing import Any

from labkit.diag import printable
from labkit.lab.errors import TopologyError
from labkit.lab.params import TYPES, Param, int_range, list_of, mapping_of, only_port
from labkit.lab.plugins import CheckKind, Plugin, ServiceKind

from . import labcheck
from .secgroup import SEED_ALLOW, parse_allow


def secgroup_rule(value: Any, where, ctx) -> str:
    """One security-group entry, parsed by the same function the service renders with."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            parse_allow([value])
            return str(value).strip().lower()
        except ValueError:
            pass
    raise TopologyError(where, f"security group entry '{printable(value, 60)}' is not PORT/tcp, PORT/udp or icmp",
                        "write each rule as PORT/tcp, PORT/udp (PORT 1-65535) or icmp, e.g. 25/tcp")


# The DNS services' readiness probe asks 53/udp and 53/tcp (service.DNS_PORTS): another
# port would never become ready, so it is refused here rather than after 20 s of bring-up.
_DNS_PORT = Param(only_port(53, "the lab's DNS servers answer on 53 only (the readiness probe asks 53)"),
                  default=53)
_LISTEN = Param("address", doc="an address of the node, e.g. listen: 1.2.3.4 (default: all)")

plugin = Plugin(
    name="dns",
    services=[
        ServiceKind("bind", "labkit.dns.service:BindService",
                    {"config": Param("file", required=True, doc="e.g. config: ec2/named.conf"),
                     "listen": _LISTEN, "port": _DNS_PORT},
                    doc="BIND 9 with the node's named.conf"),
        ServiceKind("authdns", "labkit.dns.service:EmbeddedDnsService",
                    {"config": Param("file"),
                     "zonefile": Param(mapping_of(TYPES["domain"], TYPES["file"], "zone origin -> zone file")),
                     "listen": _LISTEN, "port": _DNS_PORT,
                     "workers": Param(int_range(1, 64), default=1)},
                    doc="labkit's authoritative server (dnslib wire format, own answer logic)"),
        ServiceKind("resolver", "labkit.dns.service:ResolverService",
                    {"root": Param("addresses", default=("198.41.0.4",)),
                     "listen": _LISTEN, "port": _DNS_PORT},
                    doc="a recursive resolver for the lab"),
        ServiceKind("secgroup", "labkit.dns.service:SecurityGroupService",
                    {"allow": Param(list_of(secgroup_rule, "rules PORT/tcp, PORT/udp or icmp", single=True),
                                    default=SEED_ALLOW)},
                    doc="an EC2 security group as nftables rules on the node"),
    ],
    checks=[
        CheckKind("dns", "labkit.dns.labcheck:run",
                  {"from": Param("node", required=True, doc="e.g. from: pc1"),
                   "server": Param("address", required=True, doc="e.g. server: 192.168.254.1"),
                   "name": Param("domain", required=True, doc="e.g. name: exampledomain.ca"),
                   "type": Param(labcheck.qtype, default="A"),
                   "expect": Param("strs"),
                   "rcode": Param(labcheck.rcode, default="NOERROR"),
                   "timeout": Param("seconds", default=2.0)},
                  describe=labcheck.describe,
                  doc="a DNS query whose answer includes `expect`"),
    ],
    udp_payloads={53: labcheck.probe_payload},
)
