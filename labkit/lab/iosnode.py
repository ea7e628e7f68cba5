"""Nodes configured by an IOS file (`ios: router.ios`): the file decides their ports.

The loader asks labkit.ios which Linux interfaces the config implies (routed ports,
access ports and their VLANs, SVIs) so that links, drawings and duplicate-address
checks see them; the `ios` service then applies addresses, routes, ACLs, NAT and
DHCP inside the node at bring-up. The builder makes only the links and the VLAN
bridges of such a node, never its addresses, so there is one source of truth: the
IOS text.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

from .errors import TopologyError, Where
from .model import Interface, Node, ServiceSpec, Topology, Vlan


def ios_errors_to_topology(exc, fallback: Where) -> TopologyError:
    first = exc.errors[0]
    more = f" (and {len(exc.errors) - 1} more errors in that file)" if len(exc.errors) > 1 else ""
    return TopologyError(Where(first.file, first.line) if first.line else fallback,
                         first.message + more, first.fix or "fix the IOS line named here")


def load_ios(topo: Topology, node: Node, path: Path, where: Where) -> object:
    """Parse the node's IOS config and add the interfaces and SVIs it defines to the model."""
    from labkit import ios

    platform = "switch" if node.role == "l3switch" else "router"
    try:
        cfg = ios.load(path, platform=platform)
    except ios.IosConfigError as exc:
        raise ios_errors_to_topology(exc, where) from None
    for port in ios.interface_plan(cfg):
        addrs = [ipaddress.IPv4Interface(a) for a in port.addresses]
        if port.kind == "svi":
            if port.vlan not in topo.vlans:
                topo.vlans[port.vlan] = Vlan(port.vlan, f"VLAN{port.vlan}", Where(str(path), 0))
            if addrs:
                node.svis[port.vlan] = addrs
            continue
        intf = node.interfaces.setdefault(port.linux, Interface(name=port.linux, where=Where(str(path), 0)))
        intf.addresses = intf.addresses or addrs
        intf.shutdown = port.shutdown
        if port.kind == "access":
            intf.vlan = port.vlan
            if port.vlan not in topo.vlans:
                topo.vlans[port.vlan] = Vlan(port.vlan, f"VLAN{port.vlan}", Where(str(path), 0))
        if port.kind == "trunk":
            intf.trunk = port.allowed_vlans or sorted(topo.vlans)
    return cfg


def implicit_port(node: Node, cfg: object, linux: str) -> Interface:
    """A port a link uses but the config never mentions (a 3550 port defaults to VLAN 1)."""
    from labkit import ios

    name = ios.ios_name(linux)
    intf = Interface(name=linux)
    if name is not None:
        info = ios.port_info(cfg, name)
        intf.vlan = info.vlan if info.kind == "access" else None
    return intf


def ios_service(node: Node, path: Path, where: Where) -> ServiceSpec:
    """The `ios` service goes first on its node: it applies the L3 config the builder skipped."""
    wan = {i.name: str(i.addresses[0]) for i in node.interfaces.values()
           if i.addresses and i.where is not None and i.where.file != str(path)}
    return ServiceSpec("ios", "ios", {"config": path, "wan": wan}, where)
