"""A parsed IOS config -> what to run inside the node's namespace.

The lab builder creates the links (veths named by names.linux_name) and the
switching inside the node: on a switch with access ports only, one Linux bridge
`vlanN` per VLAN with the access ports enslaved; on a switch with a trunk, or a
router with 802.1Q sub-interfaces, a private Open vSwitch bridge whose trunk
ports carry the tags and whose internal ports are the SVIs (`vlanN`) and the
sub-interfaces (`fa0-0.10`, tagged 10).  This module never creates links,
bridges or ports: it assigns addresses to routed ports, SVIs, sub-interfaces and
the WAN, sets admin state, adds routes, renders the nftables ruleset (ACLs, NAT)
and the dnsmasq config (DHCP pools, DNS forwarder).

The IOS config is the truth for the node it is applied to: addresses on the
interfaces it configures are replaced, and static routes are replaced by the
config's `ip route` lines.

Interface routes (`ip route 192.168.0.0 255.255.0.0 Fast0/0`, a seed quirk): a
real Cisco ARPs for every destination out of that interface and relies on the
neighbour answering by proxy ARP (on by default in IOS, `ip proxy-arp`).  With
route_mode="device" (the default) the lab does the same: the route is `dev fa0-0`
with no gateway, and every layer-3 interface answers ARP for what it routes out
of *another* interface (Linux's proxy_arp, with proxy_delay 0 so that the answer
is immediate as on IOS).  Like IOS, it never answers for an address it would
route back out of the interface the request came in on, which is why the seed's
two interface routes do not loop for an unused address.  route_mode="peer"
resolves a route out of a /30 or /31 to the only other address on that link
(`via 192.168.254.2 dev fa0-0`), the form the proxy-ARP exchange ends up with,
for a topology that wants no ARP entry per destination.

Next-hop routes with no `ip route ... Null0` for the aggregate make an unused
address (192.168.3.x in the seed) bounce between the router's 192.168.0.0/16 and
the switch's default route until the TTL runs out; `ip route 192.168.0.0
255.255.0.0 Null0` on the switch ends it (Cisco technote "Specifying a Next Hop
IP Address for Static Routes").
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from .dhcp import DnsmasqConfig, render_dnsmasq
from labkit.diag import Diagnostic

from .errors import IosConfigError, ios_error, ios_warning
from .model import Interface, IosConfig
from .names import linux_name, parse_ifname
from .nft import render_nft


L3_KINDS = ("svi", "routed", "wan", "subif")   # ports that carry addresses
#: ICMP types the kernel rate-limits per destination host: Linux's default (0x1818) less
#: destination unreachable (3) and time exceeded (11), i.e. source quench and parameter problem
ICMP_RATEMASK = (1 << 4) | (1 << 12)


@dataclass
class PortInfo:
    """What the lab builder needs to know about one IOS interface."""
    ios_name: str
    linux: str
    kind: str                      # svi | routed | access | trunk | wan | subif
    vlan: int | None               # SVI VLAN, the access VLAN of a switchport, a sub-interface's VLAN
    shutdown: bool                 # a sub-interface is also down when its port is
    addresses: list[str] = field(default_factory=list)
    negotiated: bool = False
    allowed_vlans: list[int] | None = None   # trunk, as configured: None = all
    native_vlan: int | None = None           # trunk, as configured (IOS default 1)
    description: str = ""
    #: trunk: the VLANs it carries: the allowed ones this switch has (a router's port: the
    #: VLANs of its sub-interfaces)
    vlans: list[int] | None = None
    #: trunk: the VLAN it carries untagged, None when every VLAN is tagged (the native VLAN
    #: is not among `vlans`; a router's port without an `encapsulation dot1Q N native`)
    native: int | None = None
    parent: str | None = None      # subif: the Linux name of its port (the trunk)
    stp_edge: bool = False         # spanning tree: an edge port (portfast)
    stp_cost: int | None = None    # spanning tree: `spanning-tree cost N`
    line: int = 0                  # the `interface` line


def port_kind(cfg: IosConfig, iface: Interface) -> str:
    t = iface.name.type
    if t == "Vlan":
        return "svi"
    if t == "Dialer":
        return "wan"
    if iface.is_subif:
        return "subif"
    if cfg.platform == "router":   # a port is a trunk once one of its sub-interfaces has a VLAN
        return "trunk" if any(s.dot1q is not None for s in cfg.subinterfaces(iface.name.ios)) else "routed"
    if iface.switchport is False:
        return "routed"
    return "trunk" if iface.mode == "trunk" else "access"


def interface_plan(cfg: IosConfig) -> list[PortInfo]:
    """For each IOS interface: its Linux name, kind, VLANs and shutdown flag.

    This is what the builder calls before making veths and bridges. A router's port
    with sub-interfaces is a trunk carrying their VLANs; each sub-interface (with its
    `encapsulation dot1Q N`; one without carries nothing and is left out) is kind
    "subif" with vlan N and its port as parent.
    """
    out = []
    known = cfg.known_vlans()
    for iface in cfg.interfaces.values():
        kind = port_kind(cfg, iface)
        p = PortInfo(iface.name.ios, iface.linux, kind, None, iface.shutdown,
                     [str(a) for a in iface.addresses], iface.negotiated,
                     description=iface.description, line=iface.line)
        if kind == "svi":
            p.vlan = int(iface.name.number)
        elif kind == "access":
            p.vlan = iface.access_vlan or 1
            p.stp_edge = bool(iface.stp_portfast or (cfg.stp.portfast_default and iface.stp_portfast is None))
            p.stp_cost = iface.stp_cost
        elif kind == "subif":
            if iface.dot1q is None:
                continue
            parent = cfg.interfaces.get(iface.name.parent.ios)
            p.vlan, p.parent = iface.dot1q, iface.name.parent.linux
            p.shutdown = iface.shutdown or bool(parent and parent.shutdown)
        elif kind == "trunk" and cfg.platform == "router":
            subs = [i for i in cfg.subinterfaces(iface.name.ios) if i.dot1q is not None]
            p.vlans = p.allowed_vlans = sorted({i.dot1q for i in subs})  # type: ignore[misc]
            p.native = p.native_vlan = next((i.dot1q for i in subs if i.dot1q_native), None)
        elif kind == "trunk":
            p.allowed_vlans = sorted(iface.trunk_allowed) if iface.trunk_allowed is not None else None
            p.native_vlan = iface.trunk_native
            p.vlans = sorted(known if iface.trunk_allowed is None else known & iface.trunk_allowed)
            p.native = iface.trunk_native if iface.trunk_native in p.vlans else None
            p.stp_edge = iface.stp_portfast_trunk and iface.stp_portfast is not False
            p.stp_cost = iface.stp_cost
        out.append(p)
    return out


def bridge_vlans(cfg: IosConfig) -> list[int]:
    """VLANs that need a `vlanN` bridge on a switch: every SVI and every access VLAN."""
    return sorted({p.vlan for p in interface_plan(cfg) if p.kind in ("svi", "access") and p.vlan})


def port_info(cfg: IosConfig, name: str) -> PortInfo:
    """PortInfo for any port, including ones the config never mentions.

    A 3550 port with no config is an access port in VLAN 1; a router port with
    no config is an unaddressed routed port.
    """
    ifn = parse_ifname(name)
    for p in interface_plan(cfg):
        if p.ios_name == ifn.ios:
            return p
    if ifn.type == "Vlan":
        return PortInfo(ifn.ios, ifn.linux, "svi", int(ifn.number), False)
    if ifn.type == "Dialer":
        return PortInfo(ifn.ios, ifn.linux, "wan", None, False)
    if ifn.subif is not None:
        raise ValueError(f"{ifn.ios} is not configured: a sub-interface exists only with its "
                         "'interface' block (and is no link end: link its port)")
    if cfg.platform == "switch":
        return PortInfo(ifn.ios, ifn.linux, "access", 1, False, stp_edge=cfg.stp.portfast_default)
    return PortInfo(ifn.ios, ifn.linux, "routed", None, False)


@dataclass
class Step:
    """One command to run inside the node, with the IOS line it comes from."""
    argv: list[str]
    line: int
    why: str
    dev: str | None = None       # skipped (with a note) when this interface does not exist
    optional: bool = False       # failure is reported, not fatal

    def shell(self) -> str:
        return " ".join(shlex.quote(a) for a in self.argv)


@dataclass
class Translation:
    config: IosConfig
    interfaces: list[PortInfo]
    steps: list[Step]
    nft: str
    dnsmasq: DnsmasqConfig | None
    notes: list[Diagnostic]
    run_dir: Path
    #: the static-route steps (flush, then each route), also in `steps`: a live route change runs these
    routes: list[Step] = field(default_factory=list)

    @property
    def nft_path(self) -> Path:
        return self.run_dir / "ruleset.nft"

    def write(self) -> list[Path]:
        """Write the rendered files (ruleset, dnsmasq.conf, apply.sh for reading) into run_dir."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        written = []
        if self.nft:
            self.nft_path.write_text(self.nft)
            written.append(self.nft_path)
        if self.dnsmasq:
            self.dnsmasq.conf_path.write_text(self.dnsmasq.conf)
            written.append(self.dnsmasq.conf_path)
        script = self.run_dir / "apply.sh"
        script.write_text(self.script())
        written.append(script)
        return written

    def script(self) -> str:
        """The whole translation as a readable shell script (what the service runs)."""
        out = [f"# labkit.ios translation of {self.config.file}"]
        for s in self.steps:
            src = f"line {s.line}" if s.line else "labkit"
            out.append(f"{s.shell()}    # {src}: {s.why}")
        if self.dnsmasq:
            out.append(" ".join(self.dnsmasq.argv) + "    # DHCP pools / DNS forwarder")
        return "\n".join(out) + "\n"


def _wan_addresses(wan: dict[str, str] | None) -> dict[str, IPv4Interface]:
    """{"Dialer1" or "dialer1": "A/LEN"} -> {linux name: interface address}."""
    out: dict[str, IPv4Interface] = {}
    for key, value in (wan or {}).items():
        try:
            lname = linux_name(key)
        except ValueError:
            lname = key
        out[lname] = IPv4Interface(str(value))
    return out


NEXT_HOP_HINT = ("write the next-hop address instead, and add a Null0 route for the aggregate the "
                 "neighbour sends back (e.g. ip route 192.168.0.0 255.255.0.0 Null0), or an unused "
                 "address loops until its TTL expires")


def translate(cfg: IosConfig, run_dir: str | Path, *, wan: dict[str, str] | None = None,
              route_mode: str = "device", in_use: list[str] | None = None) -> Translation:
    """Translate a parsed config; raises IosConfigError when it cannot be applied.

    wan:        address of interfaces with `ip address negotiated`, e.g.
                {"Dialer1": "100.64.0.2/30"} (the ISP side given by the topology).
    route_mode: "peer" or "device", see the module docstring.
    in_use:     addresses of static hosts on the device's subnets; DHCP never offers
                them (IOS's ping-before-offer conflict table, see dhcp.render_dnsmasq).
    """
    if route_mode not in ("device", "peer"):
        raise ValueError("route_mode must be 'device' or 'peer'")
    if cfg.errors:
        raise IosConfigError(cfg.errors)
    run_dir = Path(run_dir)
    notes: list[Diagnostic] = []
    errors: list[Diagnostic] = []

    def note(line: int, message: str, fix: str = "") -> None:
        notes.append(ios_warning(cfg.file, line, cfg.line_text(line), message, fix))

    plan = interface_plan(cfg)
    built = {p.ios_name: p for p in plan}   # a sub-interface without a VLAN is not built
    wan_addr = _wan_addresses(wan)
    for iface in cfg.interfaces.values():
        if iface.negotiated and iface.linux not in wan_addr:
            errors.append(ios_error(cfg.file, iface.line, cfg.line_text(iface.line),
                                    f"{iface.name} has 'ip address negotiated' but the topology gives "
                                   "no address for it", f"pass wan={{'{iface.name}': 'A.B.C.D/LEN'}} "
                                   "(the `wan:` parameter of the ios service)"))
    if errors:
        raise IosConfigError(errors)

    steps: list[Step] = []
    steps.append(Step(["sysctl", "-qw", f"net.ipv4.ip_forward={1 if cfg.ip_routing else 0}"], 0,
                      "ip routing" if cfg.ip_routing else "no ip routing"))
    steps.append(Step(["sysctl", "-qw", f"net.ipv4.icmp_ratemask={ICMP_RATEMASK}"], 0,
                      "unreachables and time exceeded leave the kernel's per-host limit: the ACL "
                      "rejects have IOS's 500 ms limit (nft), time exceeded none, as on IOS"))
    if cfg.platform == "switch":
        steps.append(Step(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"], 0,
                          "bridged (same-VLAN) frames skip the routed ACLs, as on a 3550",
                          optional=True))

    l3: dict[str, list[IPv4Interface]] = {}   # linux name -> addresses (up interfaces)
    for iface in cfg.interfaces.values():
        if iface.name.ios not in built:
            continue
        kind = port_kind(cfg, iface)
        dev = iface.linux
        down = built[iface.name.ios].shutdown   # a sub-interface is down with its port, as on IOS
        if kind in L3_KINDS:
            addrs = list(iface.addresses)
            if iface.negotiated:
                addrs = [wan_addr[dev]]
            steps.append(Step(["ip", "addr", "flush", "dev", dev], iface.line,
                              f"interface {iface.name}: the IOS config owns its addresses", dev))
            for a in addrs:
                steps.append(Step(["ip", "addr", "add", str(a), "dev", dev], iface.line,
                                  f"ip address {a.ip} {a.netmask}" if not iface.negotiated
                                  else f"ip address negotiated ({a} from the topology)", dev))
            steps.append(Step(["sysctl", "-qw", f"{_conf_key(dev, 'proxy_arp')}="
                               f"{1 if iface.proxy_arp else 0}"], iface.line,
                              "ip proxy-arp (IOS default)" if iface.proxy_arp else "no ip proxy-arp", dev))
            if iface.proxy_arp:    # Linux delays a proxy answer up to 0.8 s by default; IOS answers at once
                steps.append(Step(["sysctl", "-qw", f"{_conf_key(dev, 'proxy_delay', 'neigh')}=0"],
                                  iface.line, "ip proxy-arp answers at once", dev))
            if not down:
                l3[dev] = addrs
        why = "shutdown" if iface.shutdown else f"shutdown of {iface.name.parent}" if down else "no shutdown"
        steps.append(Step(["ip", "link", "set", "dev", dev, "down" if down else "up"], iface.line, why, dev))

    routes: list[Step] = []    # every static route: what configure() re-applies alone
    routes.append(Step(["ip", "route", "flush", "table", "main", "proto", "boot"], 0,
                       "static routes come from the IOS config", optional=True))
    routes.append(Step(["ip", "route", "flush", "table", "main", "proto", "static"], 0,
                       "static routes come from the IOS config", optional=True))
    for r in cfg.routes:
        target = "default" if r.network.prefixlen == 0 else str(r.network)
        text = f"ip route {r.network.network_address} {r.network.netmask} " + \
            " ".join(str(x) for x in (r.interface, r.next_hop) if x)
        tail = ["metric", str(r.distance), "proto", "static"]
        if r.interface and r.interface.type == "Null":
            kind = "unreachable" if cfg.null_unreachables else "blackhole"
            routes.append(Step(["ip", "route", "replace", kind, target, *tail], r.line,
                               text + ("" if cfg.null_unreachables else " (no ip unreachables on Null0)")))
            continue
        if r.interface:
            iface = cfg.interfaces.get(r.interface.ios)
            if iface is None:
                continue   # the parser already warned
            dev = iface.linux
            if iface.name.ios not in built:
                note(r.line, f"route via {r.interface} is not installed: it has no 'encapsulation dot1Q', "
                     "so it carries nothing", f"add 'encapsulation dot1Q N' under interface {r.interface}")
                continue
            if built[iface.name.ios].shutdown:
                note(r.line, f"route via {r.interface} is not installed: the interface is shut down, "
                     "as IOS would do")
                continue
            if port_kind(cfg, iface) == "trunk" and cfg.platform == "router":
                note(r.line, f"route via {r.interface} is not installed: that port only carries the "
                     "802.1Q trunk of its sub-interfaces", "point the route at a sub-interface or a "
                     "next-hop address")
                continue
            if port_kind(cfg, iface) in ("access", "trunk"):
                note(r.line, f"route via {r.interface}, a layer-2 switchport: not installed",
                     "point the route at an SVI, a routed port or a next-hop address")
                continue
            addrs = l3.get(dev, [])
            if r.next_hop:
                routes.append(Step(["ip", "route", "replace", target, "via", str(r.next_hop), "dev", dev,
                                    *tail], r.line, text, dev))
                continue
            peer = _p2p_peer(addrs[0]) if addrs else None
            if peer and (route_mode == "peer" or iface.name.type == "Dialer"):
                routes.append(Step(["ip", "route", "replace", target, "via", str(peer), "dev", dev, *tail],
                                   r.line, f"{text} (resolved to the peer of {addrs[0].network})", dev))
                if iface.name.type == "Dialer":
                    note(r.line, f"'{text}': on the real router Dialer1 is a PPP point-to-point "
                         f"link that needs no ARP; the lab's emulated link sends to the ISP side, "
                         f"{peer}")
                else:
                    note(r.line, f"'{text}' names an interface, not a next hop: a real Cisco ARPs "
                         f"for every destination and needs proxy ARP on the far side; the lab "
                         f"(route_mode: peer) sends to {peer}, the only other address on "
                         f"{addrs[0].network}", NEXT_HOP_HINT)
            else:
                routes.append(Step(["ip", "route", "replace", target, "dev", dev, *tail], r.line, text, dev))
                note(r.line, f"'{text}' names an interface, not a next hop: the device ARPs for every "
                     "destination on it and relies on the neighbour's proxy ARP (IOS default, on "
                     "in the lab)",
                     NEXT_HOP_HINT)
            continue
        assert r.next_hop is not None
        if not any(r.next_hop in a.network for addrs in l3.values() for a in addrs):
            note(r.line, f"next hop {r.next_hop} is not on a connected subnet; the lab does not "
                 "resolve static routes recursively, so the route is not installed",
                 "use a next hop on a directly connected subnet")
            continue
        routes.append(Step(["ip", "route", "replace", target, "via", str(r.next_hop), *tail], r.line, text))
    if cfg.default_gateway and not cfg.ip_routing:
        gw, line = cfg.default_gateway
        if any(gw in a.network for addrs in l3.values() for a in addrs):   # else the parser warned
            routes.append(Step(["ip", "route", "replace", "default", "via", str(gw), "metric", "1",
                                "proto", "static"], line, f"ip default-gateway {gw} (the device does not route)"))

    steps += routes

    nft = render_nft(cfg, {k: v.ip for k, v in wan_addr.items()})
    if nft:
        steps.append(Step(["nft", "-f", str(run_dir / "ruleset.nft")], 0,
                          "access lists and NAT (table ip labkit_ios)"))
    inside = [i.linux for i in cfg.interfaces.values()
              if port_kind(cfg, i) in L3_KINDS and i.name.ios in built and i.nat != "outside"]
    outside = [i.linux for i in cfg.interfaces.values() if i.nat == "outside"]
    dn_notes: list[tuple[int, str, str]] = []
    dnsmasq = render_dnsmasq(cfg, run_dir, inside, outside, dn_notes,
                             [IPv4Address(a.split("/")[0]) for a in (in_use or [])])
    for line, message, fix in dn_notes:
        note(line, message, fix)
    return Translation(cfg, plan, steps, nft, dnsmasq, notes, run_dir, routes)


def _conf_key(dev: str, key: str, tree: str = "conf") -> str:
    """The sysctl name of net.ipv4.TREE.DEV.KEY (tree conf or neigh); with '/' separators
    when DEV has a dot (fa0-0.10): sysctl reads dots as separators, slashes keep them."""
    return f"net/ipv4/{tree}/{dev}/{key}" if "." in dev else f"net.ipv4.{tree}.{dev}.{key}"


def _p2p_peer(addr: IPv4Interface) -> IPv4Address | None:
    """The other address of a /30 or /31 link, else None."""
    net = addr.network
    if net.prefixlen == 31:
        return next(a for a in (net.network_address, net.broadcast_address) if a != addr.ip)
    if net.prefixlen == 30:
        hosts = [h for h in net.hosts() if h != addr.ip]
        return hosts[0] if len(hosts) == 1 else None
    return None
