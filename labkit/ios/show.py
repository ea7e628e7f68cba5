"""IOS-like `show` commands, read from the live state of a node.

Each command takes a `runner`: a callable that runs a shell command inside the
node and returns its output (e.g. `node.cmd`). That keeps them testable with
canned outputs and usable live.  Each comes as data (a list of dataclasses, for
notebooks) and as text that looks like IOS:

    routes(runner)            show_ip_route(runner)              ip -j route, ip -j addr
    interfaces_brief(runner)  show_ip_interface_brief(runner)    ip -j addr
    access_lists(runner)      show_access_lists(runner)          nft -j list table ip labkit_ios
    dhcp_bindings(runner, f)  show_ip_dhcp_binding(runner, f)    the dnsmasq lease file
    nat_translations(runner)  show_ip_nat_translations(runner)   /proc/net/nf_conntrack + nft

NAT translations come from /proc/net/nf_conntrack, which this kernel provides
per namespace, so no `conntrack` tool is needed; the static entries IOS always
lists come from the static NAT rules' comments in the nft ruleset.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Callable

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


def _sort_key(name: str) -> tuple:
    try:
        ifn = parse_ifname(name)
    except ValueError:
        return (9, name)
    order = {"Dialer": 0, "Ethernet": 1, "FastEthernet": 2, "GigabitEthernet": 3,
             "TenGigabitEthernet": 4, "Vlan": 5, "Null": 6}[ifn.type]
    return (order, [int(x) for x in re.split(r"[/]", ifn.number)])


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
        if r.get("type") == "blackhole":
            out.append(RouteEntry("S", net, None, "Null0", r.get("metric", 0) or 1, 0))
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


def show_ip_dhcp_binding(runner: Runner, lease_file: str) -> str:
    lines = [f"{'IP address':<17}{'Hardware address':<24}{'Lease expiration':<24}Type"]
    for b in dhcp_bindings(runner, lease_file):
        exp = "Infinite" if b.expires is None else time.strftime("%b %d %Y %I:%M %p",
                                                                 time.gmtime(b.expires))
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


# -- one entry point with IOS abbreviations ----------------------------------------
_COMMANDS = {
    ("ip", "route"): show_ip_route,
    ("ip", "interface", "brief"): show_ip_interface_brief,
    ("access-lists",): show_access_lists,
    ("ip", "dhcp", "binding"): show_ip_dhcp_binding,
    ("ip", "nat", "translations"): show_ip_nat_translations,
}


def show(runner: Runner, command: str, lease_file: str | None = None) -> str:
    """`show(node.cmd, "sh ip int br")`: any IOS abbreviation of the five show commands."""
    words = command.split()
    if words and "show".startswith(words[0].lower()) and len(words[0]) >= 2:
        words = words[1:]
    for key, fn in _COMMANDS.items():
        if len(words) == len(key) and all(k.startswith(w.lower()) for w, k in zip(words, key)):
            if fn is show_ip_dhcp_binding:
                if not lease_file:
                    raise ShowError("show ip dhcp binding needs the lease file (lease_file=...)")
                return fn(runner, lease_file)
            return fn(runner)
    known = ", ".join("show " + " ".join(k) for k in _COMMANDS)
    raise ShowError(f"unknown show command '{command}' (known: {known})")
