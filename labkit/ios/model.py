"""The parsed IOS config: plain dataclasses, no Linux in here.

Addresses are kept as ipaddress objects so the translator and the DHCP range
arithmetic never re-parse strings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from labkit.diag import Diagnostic

from .names import IfName


@dataclass
class Interface:
    name: IfName
    line: int
    description: str = ""
    shutdown: bool = False
    addresses: list[IPv4Interface] = field(default_factory=list)  # primary first
    negotiated: bool = False          # `ip address negotiated` (Dialer WAN)
    switchport: bool | None = None    # None = not said (platform default)
    mode: str | None = None           # "access" | "trunk" when `switchport mode` given
    access_vlan: int | None = None
    trunk_allowed: set[int] | None = None   # None = all
    trunk_native: int = 1
    acl_in: str | None = None
    acl_out: str | None = None
    nat: str | None = None            # "inside" | "outside"
    proxy_arp: bool = True            # IOS default: on
    unreachables: bool = True         # `ip unreachables` (IOS default): an ACL deny here answers 3/13
    dot1q: int | None = None          # sub-interface: `encapsulation dot1Q N`
    dot1q_native: bool = False        # ... `native`: its VLAN crosses the trunk untagged
    stp_portfast: bool | None = None  # `spanning-tree portfast` (True) / `... disable` (False)
    stp_portfast_trunk: bool = False  # `spanning-tree portfast trunk`
    stp_cost: int | None = None       # `spanning-tree cost N`
    stp_line: int = 0                 # its first `spanning-tree` line

    @property
    def linux(self) -> str:
        return self.name.linux

    @property
    def is_subif(self) -> bool:
        return self.name.subif is not None


@dataclass
class StaticRoute:
    line: int
    network: IPv4Network
    next_hop: IPv4Address | None
    interface: IfName | None
    distance: int = 1


@dataclass
class ExcludedRange:
    line: int
    low: IPv4Address
    high: IPv4Address


@dataclass
class DhcpPool:
    name: str
    line: int
    network: IPv4Network | None = None
    default_routers: list[IPv4Address] = field(default_factory=list)
    dns_servers: list[IPv4Address] = field(default_factory=list)
    domain_name: str = ""
    lease_seconds: int | None = 86400  # IOS default 1 day; None = infinite
    import_all: bool = False


@dataclass(frozen=True)
class AddrMatch:
    """An IOS address + wildcard. any = 0.0.0.0 255.255.255.255."""
    address: IPv4Address
    wildcard: IPv4Address

    @property
    def is_any(self) -> bool:
        return int(self.wildcard) == 0xFFFFFFFF

    @property
    def is_host(self) -> bool:
        return int(self.wildcard) == 0

    @property
    def prefixlen(self) -> int | None:
        """Prefix length if the wildcard is contiguous (0.0.0.255 -> 24), else None."""
        inv = ~int(self.wildcard) & 0xFFFFFFFF
        plen = bin(inv).count("1")
        return plen if inv == ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF) else None

    def contains(self, addr: IPv4Address) -> bool:
        mask = ~int(self.wildcard) & 0xFFFFFFFF
        return int(addr) & mask == int(self.address) & mask

    def ios(self, standard: bool = False) -> str:
        if self.is_any:
            return "any"
        if self.is_host:
            return str(self.address) if standard else f"host {self.address}"
        return f"{self.address} {self.wildcard}"


@dataclass(frozen=True)
class PortMatch:
    op: str                 # eq | neq | lt | gt | range
    ports: tuple[int, ...]

    def ios(self) -> str:
        return f"{self.op} {' '.join(str(p) for p in self.ports)}"


ICMP_NAMES = {0: "echo-reply", 3: "unreachable", 4: "source-quench", 5: "redirect", 8: "echo",
              11: "time-exceeded", 12: "parameter-problem", 13: "timestamp-request",
              14: "timestamp-reply"}


@dataclass
class AclEntry:
    line: int
    seq: int
    action: str                       # permit | deny
    protocol: str                     # ip | tcp | udp | icmp
    src: AddrMatch
    dst: AddrMatch | None = None      # None for standard ACLs
    src_port: PortMatch | None = None
    dst_port: PortMatch | None = None
    established: bool = False
    icmp_type: int | None = None
    icmp_code: int | None = None
    log: bool = False

    def ios(self, standard: bool) -> str:
        """The entry as `show access-lists` prints it, without sequence number and counter."""
        if standard:
            if self.src.is_any:
                body = "any"
            elif self.src.is_host:
                body = str(self.src.address)
            else:
                body = f"{self.src.address}, wildcard bits {self.src.wildcard}"
            return f"{self.action} {body}" + (" log" if self.log else "")
        parts = [self.action, self.protocol, self.src.ios()]
        if self.src_port:
            parts.append(self.src_port.ios())
        assert self.dst is not None
        parts.append(self.dst.ios())
        if self.dst_port:
            parts.append(self.dst_port.ios())
        if self.icmp_type is not None:
            parts.append(ICMP_NAMES.get(self.icmp_type, str(self.icmp_type))
                         if self.icmp_code is None else str(self.icmp_type))
            if self.icmp_code is not None:
                parts.append(str(self.icmp_code))
        if self.established:
            parts.append("established")
        if self.log:
            parts.append("log")
        return " ".join(parts)


@dataclass
class Acl:
    name: str
    kind: str                          # standard | extended
    line: int
    entries: list[AclEntry] = field(default_factory=list)

    @property
    def standard(self) -> bool:
        return self.kind == "standard"


@dataclass
class NatPat:
    """ip nat inside source list ACL interface IF overload"""
    line: int
    acl: str
    interface: IfName


@dataclass
class NatStatic:
    """ip nat inside source static [tcp|udp] LOCAL [LPORT] GLOBAL|interface IF [GPORT]"""
    line: int
    protocol: str | None               # tcp | udp | None (1:1 static)
    local: IPv4Address
    local_port: int | None
    global_addr: IPv4Address | None    # None when given as `interface X`
    global_interface: IfName | None
    global_port: int | None


@dataclass
class SpanningTree:
    """The global `spanning-tree` lines, and what the lab runs from them.

    The parser fills `run`, `priority` and `priority_line` when it has read the whole
    config: OVS runs one tree for all VLANs, so one mode and one bridge priority.
    """
    mode: str = "pvst"                 # IOS: pvst (its default) | rapid-pvst | mst
    mode_line: int = 0
    priorities: dict[int, tuple[int, int]] = field(default_factory=dict)  # VLAN -> (priority, line)
    portfast_default: bool = False     # `spanning-tree portfast default`
    lines: list[int] = field(default_factory=list)   # every global spanning-tree line
    run: bool = False                  # a switch with a trunk: the lab runs spanning tree
    priority: int | None = None        # the bridge priority (None: 32768)
    priority_line: int = 0

    @property
    def lab_mode(self) -> str:
        """What OVS runs: 802.1D for pvst, 802.1w for rapid-pvst and mst."""
        return "stp" if self.mode == "pvst" else "rstp"


@dataclass
class IosConfig:
    file: str
    platform: str                      # "switch" | "router"
    hostname: str = ""
    interfaces: dict[str, Interface] = field(default_factory=dict)   # key: canonical name
    routes: list[StaticRoute] = field(default_factory=list)
    excluded: list[ExcludedRange] = field(default_factory=list)
    pools: dict[str, DhcpPool] = field(default_factory=dict)
    acls: dict[str, Acl] = field(default_factory=dict)
    nat_pat: list[NatPat] = field(default_factory=list)
    nat_static: list[NatStatic] = field(default_factory=list)
    dns_server: bool = False
    name_servers: list[IPv4Address] = field(default_factory=list)
    ip_routing: bool = True
    null_unreachables: bool = True     # `interface Null0` / `no ip unreachables` turns it off
    layer3: bool = True                # False: a 2950-class access switch (no routing at all)
    default_gateway: tuple[IPv4Address, int] | None = None   # `ip default-gateway A` and its line
    vlans: dict[int, str] = field(default_factory=dict)   # `vlan N` / `name X`
    vlan_lines: dict[int, int] = field(default_factory=dict)   # VLAN -> its `vlan N` line
    stp: SpanningTree = field(default_factory=SpanningTree)
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    source: list[str] = field(default_factory=list, repr=False)   # the config's lines

    def line_text(self, line: int) -> str:
        return self.source[line - 1].strip() if 0 < line <= len(self.source) else ""

    @property
    def ok(self) -> bool:
        return not self.errors

    def interface(self, name: str) -> Interface | None:
        from .names import parse_ifname
        return self.interfaces.get(parse_ifname(name).ios)

    def subinterfaces(self, parent: str) -> list[Interface]:
        """The sub-interfaces of interface `parent` (canonical name), in config order."""
        return [i for i in self.interfaces.values() if i.is_subif and i.name.parent.ios == parent]

    def known_vlans(self) -> set[int]:
        """The VLANs this switch has: VLAN 1, every `vlan N`, every SVI and access VLAN.

        What a trunk carries when it allows all VLANs, and the VLANs an explicit allowed
        list is cut down to (a switch forwards no frame of a VLAN it does not have).
        """
        out = {1, *self.vlans}
        for i in self.interfaces.values():
            if i.name.type == "Vlan":
                out.add(int(i.name.number))
            elif i.switchport and i.mode != "trunk" and i.access_vlan:
                out.add(i.access_vlan)
        return out
