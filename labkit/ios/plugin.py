"""The IOS topic's plug-in: the `ios` service, and the node expander for `ios: FILE`.

A node that names an IOS config gets its ports from that config: the expander asks
labkit.ios which Linux interfaces the config implies (routed ports, access ports and
their VLANs, SVIs), so links, drawings and duplicate-address checks see them. The `ios`
service then applies addresses, routes, ACLs, NAT and DHCP inside the node at bring-up.
The builder makes only the links and the VLAN bridges of such a node, never its
addresses, so there is one source of truth: the IOS text.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

from labkit.lab.errors import TopologyError, Where
from labkit.lab.model import Interface, Node, ServiceSpec, Topology, Vlan
from labkit.lab.params import TYPES, Param, mapping_of
from labkit.lab.plugins import Plugin, ServiceKind


class IosExpander:
    key = "ios"
    roles = ("router", "l3switch")

    def expand(self, topo: Topology, node: Node, path: Path, where: Where) -> None:
        from labkit import ios

        platform = "switch" if node.role == "l3switch" else "router"
        try:
            cfg = ios.load(path, platform=platform)
        except ios.IosConfigError as exc:
            first = exc.errors[0]
            more = f" (and {len(exc.errors) - 1} more errors in that file)" if len(exc.errors) > 1 else ""
            raise TopologyError(Where(first.file, first.line) if first.line else where,
                                first.message + more, first.fix or "fix the IOS line named here") from None
        node.expanded[self.key] = cfg
        node.managed_by = self.key
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
        # The `ios` service goes first on its node: it applies the L3 config the builder skips.
        wan = {i.name: str(i.addresses[0]) for i in node.interfaces.values()
               if i.addresses and i.where is not None and i.where.file != str(path)}
        node.services.append(ServiceSpec("ios", "ios", {"config": path, "wan": wan}, where))

    def implicit_port(self, node: Node, linux: str) -> Interface | None:
        """A port a link uses but the config never mentions (a 3550 port defaults to VLAN 1)."""
        from labkit import ios

        cfg = node.expanded.get(self.key)
        name = ios.ios_name(linux)
        if cfg is None or name is None:
            return None
        intf = Interface(name=linux)
        info = ios.port_info(cfg, name)
        intf.vlan = info.vlan if info.kind == "access" else None
        return intf


def _wan_interface(value, where: Where, ctx) -> str:
    """A `wan:` key: an IOS interface name in any spelling (Dialer1) or its Linux name (dialer1)."""
    from labkit import ios
    from labkit.diag import printable

    if isinstance(value, str):
        try:
            ios.linux_name(value)
            return value
        except ValueError:
            if ios.ios_name(value) is not None:
                return value
    raise TopologyError(where, f"'{printable(value, 60)}' is not an IOS interface name",
                        "name the interface with 'ip address negotiated', e.g. wan: {Dialer1: 100.64.0.2/30}")


plugin = Plugin(
    name="ios",
    services=[ServiceKind("ios", "labkit.ios.service:IosService",
                          {"config": Param("file", required=True, doc="e.g. config: sw3550.ios"),
                           "wan": Param(mapping_of(_wan_interface, TYPES["interface_address"],
                                                   "interface -> address/len")),
                           "route_mode": Param("str", default="peer", choices=("peer", "device"))},
                          doc="applies a node's IOS config: addresses, routes, ACLs, NAT, DHCP")],
    expanders=[IosExpander()],
)
