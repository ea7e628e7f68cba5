"""IOS-like `show` commands, read from the live state of a node.

Each command takes a `runner`: a callable that runs a shell command inside the
node and returns its output (e.g. `node.cmd`). That keeps them testable with
canned outputs and usable live.  Each comes as data (a list of dataclasses, for
notebooks) and as text that looks like IOS and parses with ntc-templates
(`ntc_templates.parse.parse_output(platform="cisco_ios", command=..., data=...)`):

    show ip route               routes(r)                   ip -j route
    show ip interface brief     interfaces_brief(r)         ip -j addr
    show access-lists           access_lists(r)             nft -j list table ip labkit_ios
    show ip dhcp binding        dhcp_bindings(r, f)         the dnsmasq lease file f
    show ip nat translations    nat_translations(r)         /proc/net/nf_conntrack + nft
    show ip arp                 arp_entries(r)              ip -j addr + ip -4 -j -s neigh
    show vlan brief             vlans(r, ovs, names)        OVS ports, or the Linux bridges
    show interfaces trunk       trunks(r, ovs, names)       OVS ports + spanning tree
    show interfaces switchport  switch_state(r, ovs)        OVS ports, or the Linux bridges
    show mac address-table      mac_address_table(r, ovs)   ovs-appctl fdb/show, or bridge -j fdb
    show spanning-tree [vlan N] spanning_tree(r, ovs, ...)  ovs-appctl rstp/show or stp/show

`show(r, "sh vlan br", lease_file=..., ovs=..., vlan_names=...)` takes any IOS
abbreviation of these (and the old `show mac-address-table`). `ovs` is the node's
`labkit.lab.ovs.OvsPaths` when the node switches with its private Open vSwitch, None
for Linux bridges; `vlan_names` are the config's `vlan N` / `name` lines. With
`platform="router"` the layer-2 commands raise ShowError, as IOS on a router without
a switch module answers "% Invalid input detected".

ntc-templates (9.x) has no cisco_ios template for `show interfaces trunk`:
parse_output answers [] for it (its index sends it to the `show interfaces`
template). The same trunk fields parse from `show interfaces switchport`, which is
why labkit answers that command too. Where a template reads real IOS output wrongly,
labkit still prints what IOS prints (a script written against a real switch sees
the same fields): `show access-lists` "(1 match)" and entries ending in
`established` give no match count, and a `tcp ... eq 80` destination port lands
in source_port. The one departure from IOS is the lease date of `show ip dhcp
binding` (see show_ip_dhcp_binding).

NAT translations come from /proc/net/nf_conntrack, which this kernel provides
per namespace, so no `conntrack` tool is needed; the static entries IOS always
lists come from the static NAT rules' comments in the nft ruleset.
"""
from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Callable

from labkit.lab.ovs import BRIDGE

from .names import ios_name, parse_ifname
from .nft import SEP, TABLE
from .parser import IP_PROTOCOLS, acl_kind_for_number

Runner = Callable[[str], str]


class ShowError(RuntimeError):
    """A show command could not read the node's state (the tool's output is included)."""


def _json(runner: Runner, cmd: str) -> object:
    out = runner(cmd)
    try:
        return json.loads(out) if out.strip() else []
    except json.JSONDecodeError:
        raise ShowError(f"'{cmd}' did not return JSON: {out.strip()[:300]}") from None


def _ios(linux: str | None) -> str:
    if not linux:
        return ""
    return ios_name(linux) or linux


def _canonical(name: str):
    """The IfName of a canonical IOS name (FastEthernet0/2); None for anything else (eth7,
    which parse_ifname would read as the abbreviation of Ethernet7)."""
    try:
        ifn = parse_ifname(name)
    except ValueError:
        return None
    return ifn if ifn.ios == name else None


def _sort_key(name: str) -> tuple:
    ifn = _canonical(name)
    if ifn is None:
        return (9, name)
    order = {"Dialer": 0, "Ethernet": 1, "FastEthernet": 2, "GigabitEthernet": 3,
             "TenGigabitEthernet": 4, "Vlan": 5, "Null": 6}[ifn.type]
    return (order, [int(x) for x in re.split(r"[/.:]", ifn.number) if x.isdigit()])


# -- show ip route ---------------------------------------------------------------
@dataclass
class RouteEntry:
    code: str                 # C, S, S*
    network: str              # 192.168.1.0/24
    next_hop: str | None
    interface: str | None     # IOS name
    distance: int | None = None
    metric: int | None = None


def routes(runner: Runner) -> list[RouteEntry]:
    data = _json(runner, "ip -j route show table main")
    out: list[RouteEntry] = []
    for r in data:  # type: ignore[union-attr]
        dst = r.get("dst", "")
        net = "0.0.0.0/0" if dst == "default" else (dst if "/" in dst else f"{dst}/32")
        proto = r.get("protocol", "")
        if r.get("type") in ("blackhole", "unreachable"):   # ip route ... Null0
            out.append(RouteEntry("S*" if net == "0.0.0.0/0" else "S", net, None, "Null0",
                                  r.get("metric", 0) or 1, 0))
            continue
        if proto == "kernel" and r.get("scope") == "link":
            out.append(RouteEntry("C", net, None, _ios(r.get("dev"))))
            continue
        code = "S*" if net == "0.0.0.0/0" else "S"
        out.append(RouteEntry(code, net, r.get("gateway"), _ios(r.get("dev")),
                              r.get("metric", 0) or 1, 0))
    out.sort(key=lambda e: (IPv4Network(e.network).network_address, IPv4Network(e.network).prefixlen))
    return out


def show_ip_route(runner: Runner) -> str:
    entries = routes(runner)
    default = next((e for e in entries if e.network == "0.0.0.0/0"), None)
    lines = ["Codes: C - connected, S - static, * - candidate default", ""]
    if default and default.next_hop:
        lines.append(f"Gateway of last resort is {default.next_hop} to network 0.0.0.0")
    elif default:
        lines.append("Gateway of last resort is 0.0.0.0 to network 0.0.0.0")
    else:
        lines.append("Gateway of last resort is not set")
    lines.append("")
    for e in entries:
        if e.code == "C" or not e.next_hop:
            lines.append(f"{e.code:<5}{e.network} is directly connected, {e.interface}")
        else:
            lines.append(f"{e.code:<5}{e.network} [{e.distance}/{e.metric}] via {e.next_hop}")
    return "\n".join(lines) + "\n"


# -- show ip interface brief -----------------------------------------------------
@dataclass
class InterfaceBrief:
    interface: str
    ip_address: str
    ok: str
    method: str
    status: str
    protocol: str


def interfaces_brief(runner: Runner) -> list[InterfaceBrief]:
    data = _json(runner, "ip -j addr show")
    out = []
    for link in data:  # type: ignore[union-attr]
        name = ios_name(link.get("ifname", "").split("@")[0])
        if name is None:
            continue   # lo and non-IOS interfaces
        flags = link.get("flags", [])
        addrs = [a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet"]
        if "UP" not in flags:
            status, proto = "administratively down", "down"
        elif "LOWER_UP" in flags:
            status, proto = "up", "up"
        else:
            status, proto = "down", "down"
        out.append(InterfaceBrief(name, addrs[0] if addrs else "unassigned", "YES",
                                  "manual" if addrs else "unset", status, proto))
    out.sort(key=lambda b: _sort_key(b.interface))
    return out


def show_ip_interface_brief(runner: Runner) -> str:
    lines = [f"{'Interface':<23}{'IP-Address':<16}{'OK?':<4}{'Method':<7}{'Status':<22}Protocol"]
    for b in interfaces_brief(runner):
        lines.append(f"{b.interface:<23}{b.ip_address:<16}{b.ok:<4}{b.method:<7}{b.status:<22}{b.protocol}")
    return "\n".join(lines) + "\n"


# -- show ip arp -------------------------------------------------------------------
@dataclass
class ArpEntry:
    address: str
    age: str           # minutes since the neighbour last confirmed it; "-" for the device's own
    mac: str           # aa:bb:cc:dd:ee:ff
    interface: str     # IOS name

    @property
    def cisco_mac(self) -> str:
        return dotted_mac(self.mac)


def arp_entries(runner: Runner) -> list[ArpEntry]:
    """The ARP cache as IOS lists it: the device's own addresses (age "-"), then every
    neighbour with a hardware address. An entry answered by a neighbour's proxy ARP carries
    that neighbour's MAC, which is how an interface route shows in this table."""
    out: list[ArpEntry] = []
    for link in _json(runner, "ip -j addr show"):  # type: ignore[union-attr]
        name = ios_name(link.get("ifname", "").split("@")[0])
        if name is None or not link.get("address"):
            continue
        out += [ArpEntry(a["local"], "-", link["address"], name)
                for a in link.get("addr_info", []) if a.get("family") == "inet"]
    for n in _json(runner, "ip -4 -j -s neigh show"):  # type: ignore[union-attr]
        name = ios_name(n.get("dev", ""))
        if name is None or not n.get("lladdr") or {"FAILED", "INCOMPLETE"} & set(n.get("state", [])):
            continue
        out.append(ArpEntry(n["dst"], str(int(n.get("confirmed", 0)) // 60), n["lladdr"], name))
    out.sort(key=lambda e: IPv4Address(e.address))
    return out


def show_ip_arp(runner: Runner) -> str:
    lines = [f"{'Protocol':<10}{'Address':<17}{'Age (min)':<11}{'Hardware Addr':<16}{'Type':<7}Interface"]
    lines += [f"{'Internet':<10}{e.address:<17}{e.age:>9}  {e.cisco_mac:<16}{'ARPA':<7}{e.interface}"
              for e in arp_entries(runner)]
    return "\n".join(lines) + "\n"


# -- show access-lists ------------------------------------------------------------
@dataclass
class AceCount:
    acl: str
    kind: str          # standard | extended
    seq: int | None    # None for the implicit deny
    text: str
    matches: int


def _rules(runner: Runner) -> list[dict]:
    out = runner(f"nft -j list table ip {TABLE} 2>&1")
    if "No such file or directory" in out or "does not exist" in out or not out.strip():
        return []   # no ACL or NAT on this node
    try:
        data = json.loads(out)
    except json.JSONDecodeError:
        raise ShowError(f"nft did not return JSON: {out.strip()[:300]}") from None
    return [item["rule"] for item in data.get("nftables", []) if "rule" in item]


def _packets(rule: dict) -> int:
    for e in rule.get("expr", []):
        if isinstance(e, dict) and "counter" in e and isinstance(e["counter"], dict):
            return int(e["counter"].get("packets", 0))
    return 0


def _acl_kind(name: str, text: str) -> str:
    numbered = acl_kind_for_number(name)
    if numbered:
        return numbered
    words = text.split()
    return "extended" if len(words) > 1 and (words[1] in IP_PROTOCOLS or words[1].isdigit()) else "standard"


def access_lists(runner: Runner, include_implicit: bool = True) -> list[AceCount]:
    """Hit counts per ACL entry; an ACL used by both a filter and NAT sums both."""
    found: dict[tuple[str, str], AceCount] = {}
    order: list[tuple[str, str]] = []
    for rule in _rules(runner):
        comment = rule.get("comment", "")
        parts = comment.split(SEP, 2)
        if len(parts) != 3 or parts[0] in ("static", "static-out"):
            continue
        name, seq, text = parts
        if not (seq.isdigit() or seq == "implicit"):
            continue
        key = (name, seq)
        if key not in found:
            found[key] = AceCount(name, _acl_kind(name, text), int(seq) if seq.isdigit() else None,
                                  text, 0)
            order.append(key)
        found[key].matches += _packets(rule)
    out = [found[k] for k in order]
    if not include_implicit:
        out = [a for a in out if a.seq is not None]
    # numbered ACLs in numeric order, then named ones; entries by sequence
    out.sort(key=lambda a: (not a.acl.isdigit(), int(a.acl) if a.acl.isdigit() else 0, a.acl,
                            a.seq if a.seq is not None else 1 << 40))
    return out


def show_access_lists(runner: Runner) -> str:
    lines: list[str] = []
    current = None
    for a in access_lists(runner, include_implicit=False):
        if a.acl != current:
            current = a.acl
            lines.append(f"{'Standard' if a.kind == 'standard' else 'Extended'} IP access list {a.acl}")
        hits = f" ({a.matches} match{'es' if a.matches != 1 else ''})" if a.matches else ""
        lines.append(f"    {a.seq} {a.text}{hits}")
    return "\n".join(lines) + ("\n" if lines else "")


# -- show ip dhcp binding ---------------------------------------------------------
@dataclass
class DhcpBinding:
    ip_address: str
    hardware_address: str     # IOS form: 01 + MAC in dotted groups
    mac: str
    hostname: str
    expires: int | None       # epoch seconds; None = infinite
    type: str = "Automatic"


def _ios_hw(mac: str) -> str:
    h = "01" + mac.replace(":", "").lower()
    return ".".join(h[i:i + 4] for i in range(0, len(h), 4))


def dhcp_bindings(runner: Runner, lease_file: str) -> list[DhcpBinding]:
    out = runner(f"cat {lease_file} 2>/dev/null")
    binds = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4 or not f[0].isdigit():
            continue   # dnsmasq also writes a "duid" line for DHCPv6
        expiry = int(f[0])
        binds.append(DhcpBinding(f[2], _ios_hw(f[1]), f[1].lower(), "" if f[3] == "*" else f[3],
                                 None if expiry == 0 else expiry))
    binds.sort(key=lambda b: IPv4Address(b.ip_address))
    return binds


def _lease_expiration(expires: int | None, exact: bool = False) -> str:
    if expires is None:
        return "Infinite"
    if exact:
        return time.strftime("%b %d %Y %I:%M %p", time.gmtime(expires))
    return time.strftime("%b-%d-%Y-%I:%M%p", time.gmtime(expires))


def show_ip_dhcp_binding(runner: Runner, lease_file: str, exact_dates: bool = False) -> str:
    """IOS 12.4/15's layout (the one ntc-templates' cisco_ios template reads).

    Real IOS prints an automatic lease's expiration as `Nov 27 2025 02:20 AM` (five words,
    UTC here as on a switch with no clock set), and "Infinite" for a manual one. The
    ntc-templates template (9.x) takes EXPIRATION as one word (`\\S+`): fed a dated line
    exactly as IOS prints it, it fails with a TextFSM error, so not even the IP and hardware
    address of any automatic binding come out. labkit therefore joins the same date's
    words with hyphens, `Nov-27-2025-02:20AM` (`time.strptime(s, "%b-%d-%Y-%I:%M%p")`
    reads it back), and every field parses: ip_address, hardware_address (IOS's client-ID
    form: 01 + the MAC, dotted), expiration, type. `exact_dates=True` prints IOS's own
    five-word date, for a reader who wants the exact look and needs no parser.
    """
    lines = ["Bindings from all pools not associated with VRF:",
             "IP address      Client-ID/\t    Lease expiration        Type",
             "\t\t    Hardware address/",
             "\t\t    User name"]
    for b in dhcp_bindings(runner, lease_file):
        exp = _lease_expiration(b.expires, exact_dates)
        lines.append(f"{b.ip_address:<17}{b.hardware_address:<24}{exp:<24}{b.type}")
    return "\n".join(lines) + "\n"


# -- show ip nat translations -----------------------------------------------------
@dataclass
class NatTranslation:
    protocol: str            # tcp | udp | icmp | ip ("---" ports for static ip)
    inside_global: str
    inside_local: str
    outside_local: str
    outside_global: str
    static: bool = False


def _ct_entries(text: str) -> list[tuple[str, list[dict[str, str]]]]:
    """/proc/net/nf_conntrack lines -> (protocol, [orig tuple, reply tuple])."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 6 or f[0] != "ipv4":
            continue
        proto = f[2]
        tuples: list[dict[str, str]] = []
        for tok in f[3:]:
            if "=" not in tok:
                continue
            k, _, v = tok.partition("=")
            if k == "src":
                tuples.append({})
            if tuples and k in ("src", "dst", "sport", "dport", "id", "type") and k not in tuples[-1]:
                tuples[-1][k] = v
        if len(tuples) >= 2:
            out.append((proto, tuples[:2]))
    return out


def nat_translations(runner: Runner) -> list[NatTranslation]:
    out: list[NatTranslation] = []
    for rule in _rules(runner):
        parts = rule.get("comment", "").split(SEP)
        if len(parts) == 4 and parts[0] == "static":
            _, proto, local, glob = parts
            out.append(NatTranslation(proto if proto != "ip" else "---", glob, local, "---", "---", True))
    text = runner("cat /proc/net/nf_conntrack 2>/dev/null")
    for proto, (orig, reply) in _ct_entries(text):
        o_src, o_sport = orig.get("src"), orig.get("sport") or orig.get("id")
        o_dst, o_dport = orig.get("dst"), orig.get("dport") or orig.get("id")
        r_src, r_sport = reply.get("src"), reply.get("sport") or reply.get("id")
        r_dst, r_dport = reply.get("dst"), reply.get("dport") or reply.get("id")

        def ep(a, p):
            return f"{a}:{p}" if p else str(a)
        snat = (r_dst, r_dport) != (o_src, o_sport)
        dnat = (r_src, r_sport) != (o_dst, o_dport)
        if snat:      # inside host -> outside (PAT or static out)
            out.append(NatTranslation(proto, ep(r_dst, r_dport), ep(o_src, o_sport),
                                      ep(o_dst, o_dport), ep(o_dst, o_dport)))
        elif dnat:    # outside -> inside global (port forward)
            out.append(NatTranslation(proto, ep(o_dst, o_dport), ep(r_src, r_sport),
                                      ep(o_src, o_sport), ep(o_src, o_sport)))
    return out


def show_ip_nat_translations(runner: Runner) -> str:
    lines = [f"{'Pro':<5}{'Inside global':<22}{'Inside local':<22}{'Outside local':<22}Outside global"]
    for t in nat_translations(runner):
        lines.append(f"{t.protocol:<5}{t.inside_global:<22}{t.inside_local:<22}"
                     f"{t.outside_local:<22}{t.outside_global}")
    return "\n".join(lines) + "\n"


# -- layer 2: switch ports, VLANs, trunks, MAC table, spanning tree --------------------
#
# Two kinds of switch are read (labkit.lab.model.Node.switching):
#   "ovs"     a private Open vSwitch in the node (labkit.lab.ovs): ports and VLANs from
#             `ovs-vsctl list port/interface/bridge`, the MAC table from `ovs-appctl fdb/show`,
#             spanning tree from `ovs-appctl rstp/show` or `stp/show`. The commands run inside
#             the node through the runner, against the database and control sockets that
#             `OvsPaths` names (the `ovs=` argument).
#   "bridge"  one Linux bridge `vlanN` per VLAN: access ports are the bridges' ports
#             (`ip -j link show`, master), the MAC table is `bridge -j fdb show`; such a
#             switch has no trunks and runs no spanning tree.
# VLAN names are the IOS config's (`vlan N` / `name X`, the `vlan_names=` argument).

#: The VLANs every IOS switch lists, whatever its config (`show vlan brief` prints them last).
RESERVED_VLANS = {1002: "fddi-default", 1003: "token-ring-default", 1004: "fddinet-default",
                  1005: "trnet-default"}
ALL_VLANS = list(range(1, 4095))


def _short(name: str) -> str:
    """The abbreviation IOS prints in tables (Fa0/2, Gi0/1); other names unchanged."""
    ifn = _canonical(name)
    return ifn.short if ifn else name


def dotted_mac(mac: str) -> str:
    """aa:bb:cc:dd:ee:ff -> aabb.ccdd.eeff (Cisco's form)."""
    h = mac.replace(":", "").replace(".", "").lower()
    return ".".join(h[i:i + 4] for i in range(0, 12, 4))


def vlan_name(vid: int, vlan_names: dict[int, str] | None = None) -> str:
    """The name IOS gives VLAN `vid`: the config's `name`, else "default" (VLAN 1), the
    reserved 1002-1005 names, or VLAN0002-style."""
    if vid == 1:
        return "default"
    if vid in RESERVED_VLANS:
        return RESERVED_VLANS[vid]
    return (vlan_names or {}).get(vid) or f"VLAN{vid:04d}"


def vlan_ranges(vids) -> str:
    """[1, 2, 3, 5] -> "1-3,5", IOS's VLAN list; "none" for no VLAN."""
    vs = sorted(set(vids))
    if not vs:
        return "none"
    out, start, prev = [], vs[0], vs[0]
    for v in vs[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ",".join(out)


def parse_vlan_ranges(text: str) -> list[int]:
    """Inverse of vlan_ranges(): "1-3,5" -> [1, 2, 3, 5]; "none" -> []; "ALL" -> 1-4094."""
    text = text.strip()
    if text.lower() == "none":
        return []
    if text.upper() == "ALL":
        return list(ALL_VLANS)
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


@dataclass
class SwitchPort:
    interface: str            # IOS name (FastEthernet0/2); the Linux name if it has no IOS form
    linux: str
    mode: str                 # "access" | "trunk"
    vlan: int | None = None   # access VLAN
    native: int | None = None  # trunk: the VLAN that crosses untagged (None: every VLAN tagged)
    allowed: list[int] = field(default_factory=list)   # trunk: allowed VLANs
    up: bool = False          # the link is up at both ends (IOS: connected)
    ofport: int | None = None  # OVS port number (fdb/show names ports by it)
    edge: bool = False        # spanning-tree edge port (portfast)


@dataclass
class SwitchState:
    """What one switch's ports, VLANs and spanning tree are right now."""
    kind: str                                   # "ovs" | "bridge" | ""
    ports: list[SwitchPort] = field(default_factory=list)
    vlans: set[int] = field(default_factory=set)  # VLANs the switch carries (ports, SVIs, bridges)
    routed: list[str] = field(default_factory=list)  # physical ports that are not switch ports (IOS names)
    stp: str = ""                               # "rstp" | "stp" | "" (off)
    aging: int = 300


def _ovs_set(value) -> list:
    """An OVSDB JSON set as a list (a one-element set comes as the bare atom)."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return list(value[1])
    return [value]


def _ovs_map(value) -> dict:
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return {k: v for k, v in value[1]}
    return {}


def _ovs_tables(out: str, cmd: str) -> list[list[dict]]:
    """The JSON tables that one ovs-vsctl call with several `list` commands prints, as rows."""
    tables, dec, i = [], json.JSONDecoder(), 0
    text = out.strip()
    while i < len(text):
        try:
            doc, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            raise ShowError(f"'{cmd}' did not return JSON: {text[:300]}") from None
        tables.append([dict(zip(doc["headings"], row)) for row in doc["data"]])
        i = end
        while i < len(text) and text[i].isspace():
            i += 1
    return tables


def _sh(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv) + " 2>&1"


def ovs_state_cmd(ovs) -> str:
    """The one ovs-vsctl call that reads ports, interfaces and the bridge."""
    return _sh(ovs.vsctl("--format=json", "--columns=name,tag,trunks,vlan_mode,other_config", "list", "port",
                         "--", "--columns=name,ofport,type", "list", "interface",
                         "--", "--columns=name,rstp_enable,stp_enable,other_config", "list", "bridge"))


def _links(runner: Runner) -> dict[str, dict]:
    return {l.get("ifname", "").split("@")[0]: l for l in _json(runner, "ip -j link show")}  # type: ignore[union-attr]


def _is_up(link: dict | None) -> bool:
    flags = (link or {}).get("flags", [])
    return "UP" in flags and "LOWER_UP" in flags


def _physical(name: str) -> bool:
    try:
        return parse_ifname(ios_name(name) or "").type in ("FastEthernet", "GigabitEthernet",
                                                           "TenGigabitEthernet", "Ethernet")
    except ValueError:
        return False


def switch_state(runner: Runner, ovs=None) -> SwitchState:
    """The switch's ports and VLANs: from its private OVS when `ovs` (an OvsPaths) is given,
    else from its Linux bridges."""
    links = _links(runner)
    svi = re.compile(r"vlan(\d+)$")
    st = SwitchState(kind="ovs" if ovs is not None else "")
    member: set[str] = set()
    if ovs is not None:
        cmd = ovs_state_cmd(ovs)
        tables = _ovs_tables(runner(cmd), cmd)
        if len(tables) != 3:
            raise ShowError(f"'{cmd}' printed {len(tables)} tables, not 3")
        ports, intfs, bridges = tables
        by_intf = {i["name"]: i for i in intfs}
        bridge_names = {b["name"] for b in bridges}
        for b in bridges:
            if b.get("rstp_enable") is True:
                st.stp = "rstp"
            elif b.get("stp_enable") is True:
                st.stp = "stp"
            aging = _ovs_map(b.get("other_config")).get("mac-aging-time")
            if aging and str(aging).isdigit():
                st.aging = int(aging)
        for row in ports:
            name = row["name"]
            member.add(name)
            intf = by_intf.get(name, {})
            tag = next(iter(_ovs_set(row.get("tag"))), None)
            trunks = [t for t in _ovs_set(row.get("trunks")) if isinstance(t, int)]
            mode = next(iter(_ovs_set(row.get("vlan_mode"))), None)
            if name in bridge_names or intf.get("type") == "internal":
                m = svi.match(name)
                if m and tag is not None:
                    st.vlans.add(int(m.group(1)))
                continue          # the switch's own ports (bridge, SVIs, sub-interfaces)
            ofport = intf.get("ofport")
            cfg = _ovs_map(row.get("other_config"))
            edge = cfg.get("rstp-port-admin-edge") == "true"
            common = dict(interface=_ios(name), linux=name, up=_is_up(links.get(name)),
                          ofport=ofport if isinstance(ofport, int) else None, edge=edge)
            if tag is not None and mode in (None, "access"):
                st.ports.append(SwitchPort(mode="access", vlan=tag, **common))
                st.vlans.add(tag)
            else:
                allowed = [t for t in trunks if 1 <= t <= 4094] if trunks else list(ALL_VLANS)
                native = tag if mode in ("native-untagged", "native-tagged") else None
                st.ports.append(SwitchPort(mode="trunk", native=native, allowed=allowed, **common))
    else:
        for name, link in links.items():
            m = svi.match(name)
            if m:
                st.vlans.add(int(m.group(1)))
                st.kind = "bridge"
        for name, link in links.items():
            m = svi.match(link.get("master", "") or "")
            if m and not svi.match(name):
                member.add(name)
                st.ports.append(SwitchPort(_ios(name), name, "access", vlan=int(m.group(1)),
                                           up=_is_up(link)))
    st.routed = [_ios(n) for n in links if n not in member and _physical(n)]
    st.ports.sort(key=lambda p: _sort_key(p.interface))
    st.routed.sort(key=_sort_key)
    return st


def _known_vlans(st: SwitchState, vlan_names: dict[int, str] | None) -> list[int]:
    """The switch's VLAN database: VLAN 1, the config's `vlan N`, VLANs its ports and SVIs
    use (IOS creates an access port's VLAN), without the reserved 1002-1005."""
    vids = {1, *(vlan_names or {}), *st.vlans, *(p.vlan for p in st.ports if p.vlan is not None)}
    return sorted(v for v in vids if 1 <= v <= 4094 and v not in RESERVED_VLANS)


# -- show vlan brief ----------------------------------------------------------------
@dataclass
class VlanBrief:
    vlan_id: int
    name: str
    status: str              # "active"; "act/unsup" for 1002-1005
    ports: list[str]         # access ports in the VLAN (IOS names), trunks not included


def vlans(runner: Runner, ovs=None, vlan_names: dict[int, str] | None = None) -> list[VlanBrief]:
    """`show vlan brief` as data. Decisions: the VLANs are the switch's VLAN database (VLAN 1,
    the config's `vlan N`, and the VLANs its access ports and SVIs use), then 1002-1005
    "act/unsup" as every IOS switch lists them (a script written against a real switch
    filters them already). Ports are the access ports, up or down, as IOS lists them;
    trunk and routed ports are not listed."""
    st = switch_state(runner, ovs)
    out = [VlanBrief(v, vlan_name(v, vlan_names), "active",
                     [p.interface for p in st.ports if p.mode == "access" and p.vlan == v])
           for v in _known_vlans(st, vlan_names)]
    out += [VlanBrief(v, n, "act/unsup", []) for v, n in RESERVED_VLANS.items()]
    return out


def _wrap_ports(ports: list[str], width: int = 31) -> list[str]:
    lines, cur = [], ""
    for p in ports:
        cand = f"{cur}, {p}" if cur else p
        if cur and len(cand) > width:
            lines.append(cur + ",")
            cur = p
        else:
            cur = cand
    return lines + [cur] if cur else [""]


def show_vlan_brief(runner: Runner, ovs=None, vlan_names: dict[int, str] | None = None) -> str:
    lines = [f"{'VLAN':<5}{'Name':<33}{'Status':<10}Ports",
             f"{'-' * 4} {'-' * 32} {'-' * 9} {'-' * 31}"]
    for v in vlans(runner, ovs, vlan_names):
        chunks = _wrap_ports([_short(p) for p in v.ports])
        lines.append(f"{v.vlan_id:<5}{v.name:<33}{v.status:<10}{chunks[0]}".rstrip())
        lines += [" " * 48 + c for c in chunks[1:]]
    return "\n".join(lines) + "\n"


# -- spanning tree (read before trunks: their last column needs it) ------------------
@dataclass
class StpPort:
    interface: str      # IOS name
    role: str           # IOS words: Root, Desg, Altn, Back
    state: str          # FWD, BLK, LRN, LIS
    cost: int
    priority: int
    number: int
    type: str = "P2p"   # "P2p", "P2p Edge"


@dataclass
class StpBridge:
    protocol: str              # "rstp" | "ieee"
    root_priority: int
    root_address: str          # Cisco dotted MAC
    bridge_priority: int
    bridge_address: str
    root_cost: int
    root_port: str | None      # IOS name; None on the root bridge
    hello: int
    max_age: int
    forward_delay: int
    ports: dict[str, StpPort]  # Linux port name -> port (ports with a link only)
    aging: int = 300           # MAC aging time, seconds

    @property
    def is_root(self) -> bool:
        return self.root_port is None


@dataclass
class StpInstance:
    """`show spanning-tree vlan N`: the one tree OVS runs, seen from VLAN N's ports."""
    vlan_id: int
    bridge: StpBridge
    ports: list[StpPort]


_ROLES = {"root": "Root", "designated": "Desg", "alternate": "Altn", "backup": "Back", "disabled": "Disa"}
_STATES = {"forwarding": "FWD", "discarding": "BLK", "blocking": "BLK", "learning": "LRN",
           "listening": "LIS", "disabled": "DIS"}


def stp_cmd(ovs) -> str:
    """rstp/show, a marker, stp/show: one of the two answers (the other prints nothing or
    "no such stp object")."""
    return (_sh(ovs.appctl("rstp/show", BRIDGE)) + "; echo '#stp/show'; "
            + _sh(ovs.appctl("stp/show", BRIDGE)))


def parse_ovs_stp(text: str, protocol: str) -> StpBridge | None:
    """ovs-appctl rstp/show or stp/show output (one bridge) -> StpBridge; None if empty."""
    if "Root ID:" not in text:
        return None
    sect, info = "", {"root": {}, "bridge": {}}
    ports: dict[str, StpPort] = {}
    rows = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Root ID:"):
            sect = "root"
        elif line.startswith("Bridge ID:"):
            sect = "bridge"
        elif line.startswith("Interface") and "Role" in line:
            sect, rows = "ports", False
        elif sect == "ports":
            if line.startswith("---"):
                rows = True
            elif rows and line:
                f = line.split()
                if len(f) >= 5 and "." in f[4]:
                    prio, _, nbr = f[4].partition(".")
                    ports[f[0]] = StpPort(_ios(f[0]), _ROLES.get(f[1].lower(), f[1][:4]),
                                          _STATES.get(f[2].lower(), f[2][:3].upper()), int(f[3]),
                                          int(prio), int(nbr))
        elif sect in ("root", "bridge") and line:
            key, _, value = line.partition(" ")
            info[sect][key] = value.strip()
    r, b = info["root"], info["bridge"]

    def secs(v: str | None, default: int) -> int:
        v = (v or "").rstrip("s")
        return int(v) if v.isdigit() else default
    root_port = r.get("root-port")
    return StpBridge(
        protocol="rstp" if protocol == "rstp" else "ieee",
        root_priority=int(r.get("stp-priority", "32768")), root_address=dotted_mac(r.get("stp-system-id", "")),
        bridge_priority=int(b.get("stp-priority", "32768")), bridge_address=dotted_mac(b.get("stp-system-id", "")),
        root_cost=int(r.get("root-path-cost", "0") or 0),
        root_port=_ios(root_port) if root_port else None,
        hello=secs(b.get("stp-hello-time"), 2), max_age=secs(b.get("stp-max-age"), 20),
        forward_delay=secs(b.get("stp-fwd-delay"), 15),
        ports={k: p for k, p in ports.items() if p.role != "Disa"})


def _stp_bridge(runner: Runner, ovs, st: SwitchState) -> StpBridge | None:
    if ovs is None or not st.stp:
        return None
    cmd = stp_cmd(ovs)
    out = runner(cmd)
    rstp, _, stp = out.partition("#stp/show")
    bridge = parse_ovs_stp(rstp if st.stp == "rstp" else stp, st.stp)
    if bridge is None:
        raise ShowError(f"'{cmd}' printed no spanning tree for {BRIDGE}: {out.strip()[:300]}")
    bridge.aging = st.aging
    edges = {p.linux for p in st.ports if p.edge}
    for name, p in bridge.ports.items():
        if name in edges:
            p.type = "P2p Edge"
    return bridge


def spanning_tree(runner: Runner, ovs=None, vlan_names: dict[int, str] | None = None,
                  vlan: int | None = None) -> list[StpInstance]:
    """`show spanning-tree [vlan N]` as data: one instance per VLAN that has a port in the
    tree, as PVST+ prints it, although OVS runs one tree for all VLANs (so every VLAN shows
    the same root, bridge and port states). A port is listed under each VLAN it carries
    (access VLAN, or the active VLANs its trunk allows) while its link is up. No OVS
    spanning tree (Linux bridges, or OVS with STP off): no instance."""
    st = switch_state(runner, ovs)
    bridge = _stp_bridge(runner, ovs, st)
    if bridge is None:
        return []
    known = set(_known_vlans(st, vlan_names))
    out = []
    for v in sorted(known):
        if vlan is not None and v != vlan:
            continue
        ports = [bridge.ports[p.linux] for p in st.ports if p.linux in bridge.ports and p.up
                 and (p.vlan == v if p.mode == "access" else v in p.allowed)]
        if ports:
            out.append(StpInstance(v, bridge, ports))
    return out


def _stp_block(i: StpInstance) -> list[str]:
    b = i.bridge
    timers = f"Hello Time  {b.hello:>2} sec  Max Age {b.max_age:>2} sec  Forward Delay {b.forward_delay:>2} sec"
    lines = [f"VLAN{i.vlan_id:04d}",
             f"  Spanning tree enabled protocol {b.protocol}",
             f"  Root ID    Priority    {b.root_priority}",
             f"             Address     {b.root_address}"]
    if b.is_root:
        lines.append("             This bridge is the root")
    else:
        nbr = next((p.number for p in b.ports.values() if p.interface == b.root_port), 0)
        lines += [f"             Cost        {b.root_cost}",
                  f"             Port        {nbr} ({b.root_port})"]
    lines += [f"             {timers}", "",
              f"  Bridge ID  Priority    {b.bridge_priority:<6} (priority {b.bridge_priority} sys-id-ext 0)",
              f"             Address     {b.bridge_address}",
              f"             {timers}",
              f"             Aging Time {b.aging}", "",
              f"{'Interface':<17}{'Role':<5}{'Sts':<4}{'Cost':<10}{'Prio.Nbr':<9}Type",
              f"{'-' * 16} {'-' * 4} {'-' * 3} {'-' * 9} {'-' * 8} {'-' * 32}"]
    for p in sorted(i.ports, key=lambda p: _sort_key(p.interface)):
        lines.append(f"{_short(p.interface):<17}{p.role:<5}{p.state:<4}{p.cost:<10}"
                     f"{f'{p.priority}.{p.number}':<9}{p.type}")
    return lines


def show_spanning_tree(runner: Runner, ovs=None, vlan_names: dict[int, str] | None = None,
                       vlan: int | None = None) -> str:
    """IOS's PVST+ layout, one block per VLAN. The bridge ID is the one OVS sends in its
    BPDUs: priority without a VLAN added (sys-id-ext 0), since its one tree is not per VLAN.
    Costs and port numbers are what the IOS config gives OVS: IOS's default costs by port
    type (19 for FastEthernet) unless `spanning-tree cost` says otherwise, and the port's
    own number (Fa0/7 is 128.7).
    Without spanning tree IOS answers "No spanning tree instance exists."; for a VLAN with
    none, "Spanning tree instance(s) for vlan N does not exist."."""
    inst = spanning_tree(runner, ovs, vlan_names, vlan)
    if not inst:
        return ("No spanning tree instance exists.\n" if vlan is None
                else f"Spanning tree instance(s) for vlan {vlan} does not exist.\n")
    blocks = ["\n".join(_stp_block(i)) for i in inst]
    return "\n\n".join(blocks) + "\n\n"


# -- show interfaces trunk ------------------------------------------------------------
@dataclass
class TrunkPort:
    interface: str
    mode: str                # "on": a static trunk (no DTP in the lab)
    encapsulation: str       # "802.1q"
    status: str              # "trunking"
    native_vlan: int         # the native VLAN; 1 when every VLAN crosses tagged (see below)
    allowed: list[int]       # Vlans allowed on trunk
    active: list[int]        # ... and active in management domain (exist on this switch)
    forwarding: list[int]    # ... in spanning tree forwarding state and not pruned


def trunks(runner: Runner, ovs=None, vlan_names: dict[int, str] | None = None) -> list[TrunkPort]:
    """`show interfaces trunk` as data. Only trunks whose link is up are listed, as IOS lists
    only ports that are trunking. A trunk without a native VLAN (OVS vlan_mode trunk: every
    frame tagged) shows native VLAN 1, as IOS does with `vlan dot1q tag native`. A VLAN
    forwards on a trunk when the port forwards in the one spanning tree (or there is none);
    a blocked (alternate) trunk forwards none. A Linux-bridge switch has no trunks."""
    st = switch_state(runner, ovs)
    bridge = _stp_bridge(runner, ovs, st)
    known = set(_known_vlans(st, vlan_names))
    out = []
    for p in st.ports:
        if p.mode != "trunk" or not p.up:
            continue
        active = [v for v in p.allowed if v in known]
        fwd = active
        if bridge is not None:
            sp = bridge.ports.get(p.linux)
            fwd = active if sp is not None and sp.state == "FWD" else []
        out.append(TrunkPort(p.interface, "on", "802.1q", "trunking", p.native or 1, p.allowed, active, fwd))
    return out


def show_interfaces_trunk(runner: Runner, ovs=None, vlan_names: dict[int, str] | None = None) -> str:
    """IOS 12.2's four sections; nothing at all when no port is trunking, as on IOS."""
    ts = trunks(runner, ovs, vlan_names)
    if not ts:
        return ""
    lines = ["", f"{'Port':<12}{'Mode':<13}{'Encapsulation':<15}{'Status':<14}Native vlan"]
    lines += [f"{_short(t.interface):<12}{t.mode:<13}{t.encapsulation:<15}{t.status:<14}{t.native_vlan}"
              for t in ts]
    for title, attr in (("Vlans allowed on trunk", "allowed"),
                        ("Vlans allowed and active in management domain", "active"),
                        ("Vlans in spanning tree forwarding state and not pruned", "forwarding")):
        lines += ["", f"{'Port':<12}{title}"]
        lines += [f"{_short(t.interface):<12}{vlan_ranges(getattr(t, attr))}" for t in ts]
    return "\n".join(lines) + "\n"


# -- show interfaces switchport ---------------------------------------------------------
def _switchport_vlans(vids: list[int], first: str) -> list[str]:
    """`Trunking VLANs Enabled:` with IOS's wrapping (a line ends with a comma and the next
    is indented); at most 20 ranges a line, which ntc-templates' template reads in full."""
    if vids == ALL_VLANS:
        return [f"{first}ALL"]
    if not vids:
        return [f"{first}NONE"]
    items = vlan_ranges(vids).split(",")
    lines, cur, n = [], first, 0
    for k, item in enumerate(items):
        sep = "," if k < len(items) - 1 else ""
        if n and (n >= 20 or len(cur) + len(item) + 1 > 78):
            lines.append(cur)
            cur, n = "    ", 0
        cur += item + sep
        n += 1
    return lines + [cur]


def show_interfaces_switchport(runner: Runner, ovs=None, vlan_names: dict[int, str] | None = None) -> str:
    """IOS's `show interfaces switchport` for every physical port: access and trunk ports
    with their VLANs, routed ports as `Switchport: Disabled`. ntc-templates has no template
    for `show interfaces trunk` (cisco_ios, 9.x): this is the command whose trunk fields
    (mode, native VLAN, trunking VLANs) a script can parse."""
    st = switch_state(runner, ovs)
    blocks: list[tuple[str, list[str]]] = []
    for p in st.ports:
        trunk = p.mode == "trunk"
        native = p.native or 1
        oper = "down" if not p.up else ("trunk" if trunk else "static access")
        access = p.vlan if p.vlan is not None else 1
        lines = [f"Name: {_short(p.interface)}", "Switchport: Enabled",
                 f"Administrative Mode: {'trunk' if trunk else 'static access'}",
                 f"Operational Mode: {oper}",
                 "Administrative Trunking Encapsulation: dot1q",
                 f"Operational Trunking Encapsulation: {'dot1q' if trunk and p.up else 'native'}",
                 "Negotiation of Trunking: Off",
                 f"Access Mode VLAN: {access} ({vlan_name(access, vlan_names)})",
                 f"Trunking Native Mode VLAN: {native} ({vlan_name(native, vlan_names)})",
                 f"Administrative Native VLAN tagging: {'disabled' if trunk and p.native else 'enabled'}",
                 "Voice VLAN: none",
                 "Administrative private-vlan host-association: none",
                 "Administrative private-vlan mapping: none",
                 "Operational private-vlan: none",
                 *_switchport_vlans(p.allowed if trunk else ALL_VLANS, "Trunking VLANs Enabled: "),
                 "Pruning VLANs Enabled: 2-1001",
                 "Capture Mode Disabled",
                 "Capture VLANs Allowed: ALL",
                 "",
                 "Protected: false",
                 "Unknown unicast blocked: disabled",
                 "Unknown multicast blocked: disabled",
                 "Appliance trust: none"]
        blocks.append((p.interface, lines))
    for name in st.routed:
        blocks.append((name, [f"Name: {_short(name)}", "Switchport: Disabled"]))
    blocks.sort(key=lambda b: _sort_key(b[0]))
    return "".join("\n".join(lines) + "\n\n" for _, lines in blocks)


# -- show mac address-table ------------------------------------------------------------
@dataclass
class MacEntry:
    vlan: int
    mac: str            # aa:bb:cc:dd:ee:ff
    type: str           # "DYNAMIC"
    port: str           # IOS name

    @property
    def cisco_mac(self) -> str:
        return dotted_mac(self.mac)


def fdb_cmd(ovs) -> str:
    return _sh(ovs.appctl("fdb/show", BRIDGE))


def mac_address_table(runner: Runner, ovs=None) -> list[MacEntry]:
    """Learned addresses on the switch's ports. Decision: only what the switch learned on
    its ports (DYNAMIC); its own addresses (SVIs, the bridge, each port's MAC) are left out,
    as are the STATIC CPU entries a real switch adds for protocols the lab does not run."""
    st = switch_state(runner, ovs)
    out: list[MacEntry] = []
    if ovs is not None:
        by_ofport = {p.ofport: p for p in st.ports if p.ofport is not None}
        cmd = fdb_cmd(ovs)
        text = runner(cmd)
        if "MAC" not in text.split("\n", 1)[0]:
            raise ShowError(f"'{cmd}' did not print a MAC table: {text.strip()[:300]}")
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) < 3 or not f[0].isdigit() or not f[1].isdigit():
                continue      # LOCAL: the bridge's own port
            port = by_ofport.get(int(f[0]))
            if port is not None:
                out.append(MacEntry(int(f[1]), f[2].lower(), "DYNAMIC", port.interface))
    else:
        access = {p.linux: p for p in st.ports}
        for e in _json(runner, "bridge -j fdb show"):  # type: ignore[union-attr]
            port = access.get(e.get("ifname", ""))
            if port is None or e.get("state") == "permanent" or "self" in e.get("flags", []) \
                    or port.vlan is None or not e.get("master"):
                continue
            out.append(MacEntry(port.vlan, e["mac"].lower(), "DYNAMIC", port.interface))
    out.sort(key=lambda m: (m.vlan, m.mac))
    return out


def show_mac_address_table(runner: Runner, ovs=None) -> str:
    """IOS 12.2's table (Catalyst 3550/2950)."""
    entries = mac_address_table(runner, ovs)
    lines = ["          Mac Address Table", "-" * 43, "",
             f"{'Vlan':<8}{'Mac Address':<18}{'Type':<12}Ports",
             f"{'----':<8}{'-----------':<18}{'--------':<12}-----"]
    lines += [f"{m.vlan:>4}    {m.cisco_mac:<18}{m.type:<12}{_short(m.port)}" for m in entries]
    lines.append(f"Total Mac Addresses for this criterion: {len(entries)}")
    return "\n".join(lines) + "\n"


# -- one entry point with IOS abbreviations ----------------------------------------
# Each key is the words of a command after `show`; "N" stands for a number (a VLAN).
_COMMANDS: list[tuple[tuple[str, ...], Callable[..., str]]] = [
    (("ip", "route"), lambda c, n: show_ip_route(c.runner)),
    (("ip", "interface", "brief"), lambda c, n: show_ip_interface_brief(c.runner)),
    (("access-lists",), lambda c, n: show_access_lists(c.runner)),
    (("ip", "dhcp", "binding"), lambda c, n: show_ip_dhcp_binding(c.runner, c.need_lease_file())),
    (("ip", "nat", "translations"), lambda c, n: show_ip_nat_translations(c.runner)),
    (("ip", "arp"), lambda c, n: show_ip_arp(c.runner)),
    (("vlan", "brief"), lambda c, n: show_vlan_brief(c.runner, c.ovs, c.vlan_names)),
    (("interfaces", "trunk"), lambda c, n: show_interfaces_trunk(c.runner, c.ovs, c.vlan_names)),
    (("interfaces", "switchport"), lambda c, n: show_interfaces_switchport(c.runner, c.ovs, c.vlan_names)),
    (("mac", "address-table"), lambda c, n: show_mac_address_table(c.runner, c.ovs)),
    (("mac-address-table",), lambda c, n: show_mac_address_table(c.runner, c.ovs)),
    (("spanning-tree",), lambda c, n: show_spanning_tree(c.runner, c.ovs, c.vlan_names)),
    (("spanning-tree", "vlan", "N"), lambda c, n: show_spanning_tree(c.runner, c.ovs, c.vlan_names, n)),
]


@dataclass
class _Ctx:
    runner: Runner
    lease_file: str | None
    ovs: object
    vlan_names: dict[int, str] | None

    def need_lease_file(self) -> str:
        if not self.lease_file:
            raise ShowError("show ip dhcp binding needs the lease file (lease_file=...)")
        return self.lease_file


def _match(words: list[str], key: tuple[str, ...]) -> tuple[bool, int | None]:
    if len(words) != len(key):
        return False, None
    number = None
    for w, k in zip(words, key):
        if k == "N":
            if not (w.isdigit() and 1 <= int(w) <= 4094):
                return False, None
            number = int(w)
        elif not k.startswith(w.lower()):
            return False, None
    return True, number


#: The commands a router without switch modules (the seed's 1841) does not have.
SWITCH_ONLY = {"vlan", "interfaces", "mac", "mac-address-table", "spanning-tree"}


def show(runner: Runner, command: str, lease_file: str | None = None, ovs=None,
         vlan_names: dict[int, str] | None = None, platform: str | None = None) -> str:
    """`show(node.cmd, "sh vlan br")`: any IOS abbreviation of the commands in the module
    docstring. `lease_file` is the dnsmasq lease file (show ip dhcp binding); `ovs` the
    node's `labkit.lab.ovs.OvsPaths` when its switching is "ovs" (None: Linux bridges);
    `vlan_names` the config's `vlan N` / `name` (IosConfig.vlans); `platform` "router"
    refuses the layer-2 commands, as an 1841 without a switch module does (its
    router-on-a-stick OVS is no switch to IOS)."""
    words = command.split()
    if words and "show".startswith(words[0].lower()) and len(words[0]) >= 2:
        words = words[1:]
    ctx = _Ctx(runner, lease_file, ovs, vlan_names)
    for key, fn in _COMMANDS:
        ok, number = _match(words, key)
        if ok:
            if platform == "router" and key[0] in SWITCH_ONLY:
                raise ShowError(f"'{command}' is a switch command: a router has no VLANs, trunks, MAC "
                                "table or spanning tree (IOS: % Invalid input detected)")
            return fn(ctx, number)
    known = ", ".join("show " + " ".join(k) for k, _ in _COMMANDS)
    raise ShowError(f"unknown show command '{command}' (known: {known})")
