"""The pure topology model: what a lab is, with no idea of how it runs.

Kept apart from the runtime (as Mininet keeps Topo apart from Mininet), so the
loader, the linter, the drawing and the tests can all use it without root.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Where

ROLES = ("host", "router", "l3switch", "switch")
IPv4If = ipaddress.IPv4Interface


@dataclass
class Vlan:
    vid: int
    name: str
    where: Where


@dataclass
class Interface:
    """One interface inside a node's namespace (Linux name, at most 15 characters)."""

    name: str
    addresses: list[IPv4If] = field(default_factory=list)
    dhcp: bool = False            # a host interface that leases its address at bring-up
    vlan: int | None = None       # access VLAN, on switch and l3switch ports
    trunk: list[int] | None = None  # allowed VLANs on a trunk port (OVS switches only)
    shutdown: bool = False
    where: Where | None = None


@dataclass
class Route:
    prefix: ipaddress.IPv4Network
    via: ipaddress.IPv4Address | None = None
    dev: str | None = None
    where: Where | None = None


@dataclass
class ServiceSpec:
    kind: str
    name: str
    params: dict[str, Any]
    where: Where


@dataclass
class Node:
    name: str
    role: str
    where: Where
    interfaces: dict[str, Interface] = field(default_factory=dict)
    svis: dict[int, list[IPv4If]] = field(default_factory=dict)   # l3switch: VLAN -> SVI addresses
    svi_where: dict[int, Where] = field(default_factory=dict)     # where each SVI was declared
    routes: list[Route] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)
    configs: dict[str, Path] = field(default_factory=dict)       # role of file -> path (ios, named.conf, ...)
    dns: list[ipaddress.IPv4Address] = field(default_factory=list)  # the node's resolv.conf
    label: str = ""
    pos: tuple[float, float] | None = None
    #: the node expander (a plug-in's, e.g. "ios") whose config gives this node its addresses
    #: and routes at bring-up; the builder then makes only its links and VLAN bridges
    managed_by: str = ""
    #: what a node expander parsed from the node's config, kept for its implicit_port()
    expanded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def forwards(self) -> bool:
        """Routers and layer-3 switches forward IPv4; hosts and plain switches do not."""
        return self.role in ("router", "l3switch")

    def addresses(self) -> list[IPv4If]:
        out = [a for i in self.interfaces.values() for a in i.addresses]
        out += [a for addrs in self.svis.values() for a in addrs]
        return out


@dataclass
class Endpoint:
    node: str
    intf: str

    def __str__(self) -> str:
        return f"{self.node}:{self.intf}"


@dataclass
class Link:
    a: Endpoint
    b: Endpoint
    where: Where


@dataclass
class Check:
    """A declarative check that `labkit check` runs; its kind is declared by a plug-in."""

    kind: str
    params: dict[str, Any]      # converted by the kind's declared parameter types
    where: Where
    label: str = ""             # the kind's one-line description, made when loaded

    def describe(self) -> str:
        return self.label or self.kind


@dataclass
class Topology:
    name: str
    path: Path
    title: str = ""
    vlans: dict[int, Vlan] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)   # labkit.diag Diagnostics

    @property
    def base(self) -> Path:
        return self.path.parent

    def link_of(self, node: str, intf: str) -> Link | None:
        for link in self.links:
            if (link.a.node, link.a.intf) == (node, intf) or (link.b.node, link.b.intf) == (node, intf):
                return link
        return None

    def peer(self, node: str, intf: str) -> Endpoint | None:
        link = self.link_of(node, intf)
        if link is None:
            return None
        return link.b if (link.a.node, link.a.intf) == (node, intf) else link.a

    def subnets(self) -> dict[ipaddress.IPv4Network, list[str]]:
        """Each subnet with the nodes that have an address in it, for drawing and checks."""
        out: dict[ipaddress.IPv4Network, list[str]] = {}
        for node in self.nodes.values():
            for addr in node.addresses():
                out.setdefault(addr.network, []).append(node.name)
        return out

    def address_of(self, node: str) -> ipaddress.IPv4Address | None:
        """A node's first static address: what a check means by `to: NODE`."""
        addrs = self.nodes[node].addresses()
        return addrs[0].ip if addrs else None
