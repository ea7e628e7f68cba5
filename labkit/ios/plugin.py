"""The IOS topic's plug-in: the `ios` service, and the node expander for `ios: FILE`.

A node that names an IOS config gets its ports from that config: the expander asks
labkit.ios which Linux interfaces the config implies (routed ports, access ports and
their VLANs, trunks and the VLANs they carry, a router's 802.1Q sub-interfaces, SVIs),
so links, drawings and duplicate-address checks see them. The `ios` service then applies
addresses, routes, ACLs, NAT and DHCP inside the node at bring-up. The builder makes only
the links and the switching of such a node (VLAN bridges, or its Open vSwitch with trunk,
internal and SVI ports and spanning tree), never its addresses, so there is one source of
truth: the IOS text.

Roles and the device each stands for: `router` a Cisco 1841, `l3switch` a Catalyst 3550
(layer 3), `switch` a Catalyst 2950 access switch (layer 2: `ios.load(path,
platform="switch", layer3=False)`, whose routing lines are errors).

The config's `vlan N` / `name X` reach the topology's VLANs (`topo.vlans[N].name`, what
`show vlan brief` prints); a VLAN the config uses but does not name gets IOS's default name
(`default` for VLAN 1, `VLAN0010` for 10) unless the topology names it.
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from labkit.diag import warning
from labkit.lab.errors import TopologyError, Where
from labkit.lab.model import Interface, Node, ServiceSpec, Stp, Topology, Vlan
from labkit.lab.params import TYPES, Param, mapping_of
from labkit.lab.plugins import Plugin, ServiceKind


def ios_default_name(vid: int) -> str:
    """The name IOS gives a VLAN created without `name`: 'default' for 1, else VLAN0010."""
    return "default" if vid == 1 else f"VLAN{vid:04d}"


def _default_name(vlan: Vlan) -> bool:
    """True when nobody named the VLAN (IOS's default name, or the loader's `VLAN10`)."""
    return vlan.name in (ios_default_name(vlan.vid), f"VLAN{vlan.vid}")


def panel_number(ios_name: str) -> int | None:
    """The number a switch gives a port in its spanning-tree port ID: Fa0/7 -> 7."""
    slot = re.search(r"/(\d+)$", ios_name)
    return int(slot.group(1)) if slot else None


# IOS's default spanning-tree path costs ("short" method), by port type; OVS would
# otherwise give every veth the 802.1t cost of 10 Gbit/s (2000) and show that instead.
DEFAULT_COSTS = {"Ethernet": 100, "FastEthernet": 19, "GigabitEthernet": 4, "TenGigabitEthernet": 2}


def default_cost(ios_name: str) -> int | None:
    return next((c for t, c in DEFAULT_COSTS.items() if re.fullmatch(rf"{t}\d.*", ios_name)), None)


def switchport_fields(intf: Interface, port) -> set[int]:
    """Set a switch port's VLAN fields in the lab model from its IOS PortInfo (an access
    port's VLAN, or a trunk's allowed list and native VLAN); returns the VLANs it carries.
    The expander uses it at load, IosService.configure for a live change."""
    if port.kind == "access":
        intf.vlan, intf.trunk, intf.native = port.vlan, None, None
        return {port.vlan}
    intf.vlan, intf.trunk, intf.native = None, list(port.vlans or []), port.native
    return set(intf.trunk)


class IosExpander:
    key = "ios"
    roles = ("router", "l3switch", "switch")

    def expand(self, topo: Topology, node: Node, path: Path, where: Where) -> None:
        from labkit import ios

        platform = "router" if node.role == "router" else "switch"
        try:
            cfg = ios.load(path, platform=platform, layer3=node.role != "switch")
        except ios.IosConfigError as exc:
            first = exc.errors[0]
            more = f" (and {len(exc.errors) - 1} more errors in that file)" if len(exc.errors) > 1 else ""
            raise TopologyError(Where(first.file, first.line) if first.line else where,
                                first.message + more, first.fix or "fix the IOS line named here") from None
        node.expanded[self.key] = cfg
        node.managed_by = self.key
        used: set[int] = set()
        for port in ios.interface_plan(cfg):
            addrs = [ipaddress.IPv4Interface(a) for a in port.addresses]
            if port.kind == "svi":
                used.add(port.vlan)
                if addrs:
                    node.svis[port.vlan] = addrs
                    node.svi_where[port.vlan] = Where(str(path), port.line)
                continue
            intf = node.interfaces.setdefault(port.linux, Interface(name=port.linux, where=Where(str(path), 0)))
            intf.addresses = intf.addresses or addrs
            intf.shutdown = port.shutdown
            intf.stp_edge, intf.stp_cost = port.stp_edge, port.stp_cost or default_cost(port.ios_name)
            intf.stp_port = panel_number(port.ios_name)
            if port.kind in ("access", "trunk"):
                used.update(switchport_fields(intf, port))
            elif port.kind == "subif":   # an OVS internal port tagged with its VLAN
                intf.vlan, intf.internal = port.vlan, True
                intf.where = Where(str(path), port.line)
                used.add(port.vlan)
        if platform == "switch":
            used |= cfg.known_vlans()
        self._vlans(topo, cfg, sorted(used), path)
        node.stp = None
        if cfg.stp.run and node.switching == "ovs":
            st = cfg.stp
            node.stp = Stp(mode=st.lab_mode, priority=st.priority, auto_edge=False,
                           where=Where(str(path), st.priority_line or st.mode_line or (st.lines or [0])[0]))
        # The `ios` service goes first on its node: it applies the L3 config the builder skips.
        wan = {i.name: str(i.addresses[0]) for i in node.interfaces.values()
               if i.addresses and i.where is not None and i.where.file != str(path)}
        params = {"config": path, "wan": wan}
        if node.role == "switch":   # for IosService.lint, which sees the spec but not the node
            params["layer3"] = False
        node.services.append(ServiceSpec("ios", "ios", params, where))

    def _vlans(self, topo: Topology, cfg, vids: list[int], path: Path) -> None:
        """The config's VLANs into the topology, with the names its `vlan N` / `name X` give."""
        for vid in vids:
            name = cfg.vlans.get(vid, "")
            at = Where(str(path), cfg.vlan_lines.get(vid, 0))
            vlan = topo.vlans.get(vid)
            if vlan is None:
                topo.vlans[vid] = Vlan(vid, name or ios_default_name(vid), at)
            elif name and vlan.name != name:
                if not _default_name(vlan):
                    topo.warnings.append(warning(
                        at, f"VLAN {vid} is named '{vlan.name}' at {vlan.where} but '{name}' here; the "
                        f"lab (and show vlan) calls it '{name}'", "give the VLAN one name everywhere"))
                vlan.name, vlan.where = name, at

    def implicit_port(self, node: Node, linux: str) -> Interface | None:
        """A port a link uses but the config never mentions (a 3550 port defaults to VLAN 1)."""
        from labkit import ios

        cfg = node.expanded.get(self.key)
        name = ios.ios_name(linux)
        if cfg is None or name is None:
            return None
        intf = Interface(name=linux, stp_port=panel_number(name), stp_cost=default_cost(name))
        info = ios.port_info(cfg, name)
        intf.vlan = info.vlan if info.kind == "access" else None
        intf.stp_edge = info.stp_edge
        return intf


def _wan_interface(value, where: Where, ctx) -> str:
    """A `wan:` key: an IOS interface name in any spelling (Dialer1) or its Linux name (dialer1)."""
    from labkit import ios
    from labkit.diag import printable

    if isinstance(value, str):
        name = None
        for spelling in (value, ios.ios_name(value)):   # IOS's name (Dialer1) or Linux's (dialer1)
            try:
                name = name or (ios.parse_ifname(spelling) if spelling else None)
            except ValueError:
                pass
        if name is not None and name.subif is not None:
            raise TopologyError(where, f"'{printable(value, 60)}' is a sub-interface, which takes no negotiated "
                                "address", "give the sub-interface its 'ip address' in the IOS config")
        if name is not None:
            return value
    raise TopologyError(where, f"'{printable(value, 60)}' is not an IOS interface name",
                        "name the interface with 'ip address negotiated', e.g. wan: {Dialer1: 100.64.0.2/30}")


plugin = Plugin(
    name="ios",
    services=[ServiceKind("ios", "labkit.ios.service:IosService",
                          {"config": Param("file", required=True, doc="e.g. config: sw3550.ios"),
                           "wan": Param(mapping_of(_wan_interface, TYPES["interface_address"],
                                                   "interface -> address/len")),
                           "route_mode": Param("str", default="device", choices=("device", "peer"),
                                               doc="device: interface routes ARP as IOS does; peer: resolved")},
                          doc="applies a node's IOS config: addresses, routes, ACLs, NAT, DHCP")],
    expanders=[IosExpander()],
)
