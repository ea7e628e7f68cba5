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
    vlan: int | None = None       # access VLAN of a switch port; the tag of an internal port
    trunk: list[int] | None = None  # allowed VLANs on a trunk port (built with Open vSwitch)
    native: int | None = None     # trunk: the VLAN whose frames cross it untagged (None: all tagged)
    #: a port the node's switch makes itself rather than a link end: an OVS internal port
    #: tagged `vlan`, e.g. a router's sub-interface fa0-0.10 (`encapsulation dot1Q 10`)
    internal: bool = False
    stp_edge: bool = False        # spanning tree: an edge port (IOS `spanning-tree portfast`)
    stp_cost: int | None = None   # spanning tree: the port's path cost (None: by link speed)
    stp_port: int | None = None   # spanning tree: the port number in its port ID (None: by name order)
    shutdown: bool = False
    where: Where | None = None


@dataclass
class Stp:
    """Spanning tree on a node's OVS bridge: one tree for all VLANs (OVS has no per-VLAN STP)."""

    mode: str = "rstp"            # "rstp" (802.1w) | "stp" (802.1D)
    priority: int | None = None   # bridge priority (None: 32768)
    #: RSTP: whether a port that hears no BPDU becomes an edge port by itself after a few
    #: seconds (OVS's default). IOS has no such thing: a host port without portfast waits
    #: out the forward delay, so an IOS switch sets this False.
    auto_edge: bool = True
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
    stp: Stp | None = None        # spanning tree on the node's switch (OVS switching only)

    @property
    def switching(self) -> str:
        """How the builder switches frames inside this node, decided per node from its ports.

        "ovs": a private Open vSwitch (userspace datapath) in the node's namespace, needed for
        802.1Q trunks and tagged internal ports; only such a node runs spanning tree (`stp`),
        since a loop between switches needs trunks here. "bridge": one Linux bridge per VLAN,
        the fast path, enough when every port is an access port. "": no switching.
        """
        intfs = self.interfaces.values()
        if any(i.trunk is not None or i.internal for i in intfs):
            return "ovs"
        if self.svis or any(i.vlan is not None for i in intfs):
            return "bridge"
        return ""

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
