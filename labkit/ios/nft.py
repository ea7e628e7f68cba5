"""Access lists and NAT -> one nftables table per node (`table ip labkit_ios`).

IOS semantics kept:
- `ip access-group X in` on interface I filters what arrives on I, both what the
  device routes (forward hook, `iifname I`) and what is addressed to the device
  itself (input hook).  `out` filters what the device routes out of I (forward
  hook, `oifname I`); as on IOS, traffic the device originates is not filtered.
- Entries are tried in order, first match wins, and an unmatched packet meets the
  implicit `deny any` at the end.  A permit *returns* to the base chain instead
  of accepting, so an `in` ACL on one interface and an `out` ACL on another both
  apply to a routed packet, as on IOS.
- Every entry has its own counter; the rule comment carries `ACL | SEQ | text`
  (static NAT rules carry `static | PROTO | LOCAL | GLOBAL`)
  so `show access-lists` can print IOS lines with their hit counts.
- PAT (`overload`) is masquerade on the outside interface for sources the ACL
  permits; a static port forward is a dnat on arrival at the outside interface
  plus the matching snat for connections the inside server opens.

- A denied packet is answered with ICMP type 3 code 13 (administratively prohibited)
  from the interface it was denied on, unless that interface has `no ip unreachables`,
  at most one answer per 500 ms for the whole device (IOS's default `ip icmp rate-limit
  unreachable 500`: an element of the set `ios_unreachable` that lives 500 ms).
  An ACL chain is shared by every interface using it, so a deny marks the packet
  (DENY_MARK) and returns; the rules after the jump, which know the interface, reject
  or drop it.

One difference, documented: nftables' forward hook sees a port-forwarded packet
after its destination was rewritten, so an ACL on the outside interface matches
the inside (local) address, whereas IOS checks an inbound ACL before NAT.
"""
from __future__ import annotations

import hashlib
import re
from ipaddress import IPv4Address

from labkit.diag import printable

from .model import Acl, AclEntry, AddrMatch, IosConfig, PortMatch

TABLE = "labkit_ios"
SEP = " | "
DENY_MARK = 0x1305              # set by an ACL deny, read by the rules after the jump
#: IOS's default `ip icmp rate-limit unreachable 500`: one unreachable per 500 ms per device.
#: An nft `limit` cannot say that (its bucket holds at least 3 at 2/second), so the set
#: remembers the last answer for 500 ms and a deny meanwhile is only dropped.
UNREACH_SET = "ios_unreachable"
UNREACH_INTERVAL_MS = 500


def chain_name(prefix: str, acl: str) -> str:
    """An nft chain name for an ACL: one per name (`a-b` and `a_b` must not share a chain)."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", acl)
    if safe != acl:
        safe += "_" + hashlib.sha1(acl.encode()).hexdigest()[:8]
    return prefix + safe


def _q(text: str) -> str:
    """An nft comment string: at most 127 bytes of UTF-8 (nft's limit), no double quotes."""
    text = printable(text, 10_000).replace('"', "'")
    if len(text.encode()) > 127:
        text = text.encode()[:124].decode("utf-8", "ignore") + "..."
    return '"' + text + '"'


def addr_expr(field: str, m: AddrMatch) -> str:
    if m.is_any:
        return ""
    if m.is_host:
        return f"ip {field} {m.address}"
    plen = m.prefixlen
    if plen is not None:
        return f"ip {field} {m.address}/{plen}"
    mask = IPv4Address(~int(m.wildcard) & 0xFFFFFFFF)
    return f"ip {field} & {mask} == {m.address}"


def port_expr(proto: str, field: str, p: PortMatch) -> str:
    ports = p.ports
    if p.op == "range":
        return f"{proto} {field} {ports[0]}-{ports[1]}"
    if p.op in ("lt", "gt"):
        return f"{proto} {field} {'<' if p.op == 'lt' else '>'} {ports[0]}"
    value = str(ports[0]) if len(ports) == 1 else "{ " + ", ".join(map(str, ports)) + " }"
    return f"{proto} {field} {'!= ' if p.op == 'neq' else ''}{value}"


def match_expr(e: AclEntry) -> str:
    """The nft match for one ACL entry (empty string = matches everything)."""
    from .parser import IP_PROTOCOLS
    parts: list[str] = []
    if e.protocol != "ip":
        if e.protocol in ("tcp", "udp", "icmp"):
            parts.append(f"ip protocol {e.protocol}")
        else:
            parts.append(f"ip protocol {IP_PROTOCOLS.get(e.protocol, e.protocol)}")
    parts.append(addr_expr("saddr", e.src))
    if e.dst is not None:
        parts.append(addr_expr("daddr", e.dst))
    if e.src_port:
        parts.append(port_expr(e.protocol, "sport", e.src_port))
    if e.dst_port:
        parts.append(port_expr(e.protocol, "dport", e.dst_port))
    if e.icmp_type is not None:
        parts.append(f"icmp type {e.icmp_type}")
        if e.icmp_code is not None:
            parts.append(f"icmp code {e.icmp_code}")
    if e.established:
        parts.append("tcp flags & (ack | rst) != 0")
    return " ".join(p for p in parts if p)


DENY = f"meta mark set {DENY_MARK:#x} return"


def denied(match: str, iface) -> list[str]:
    """The rules after a jump into an ACL for interface `iface` (`match` is its
    `iifname`/`oifname` test): a packet the ACL denied gets ICMP 3/13 within the rate
    limit when the interface sends unreachables, and is dropped."""
    out = []
    if iface.unreachables:
        out.append(f"\t\t{match} meta mark {DENY_MARK:#x} meta mark != @{UNREACH_SET} "
                   f"update @{UNREACH_SET} {{ meta mark timeout {UNREACH_INTERVAL_MS}ms }} counter "
                   f'reject with icmp admin-prohibited comment {_q(f"ip unreachables on {iface.name}")}')
    out.append(f"\t\t{match} meta mark {DENY_MARK:#x} counter drop comment "
               f"{_q(f'denied on {iface.name}' + ('' if iface.unreachables else ', no ip unreachables'))}")
    return out


def acl_chain(acl: Acl, name: str) -> list[str]:
    """A regular chain: one counted rule per entry, then the counted implicit deny."""
    out = [f"\tchain {name} {{"]
    for e in acl.entries:
        verdict = "return" if e.action == "permit" else DENY
        m = match_expr(e)
        out.append(f"\t\t{m + ' ' if m else ''}counter {verdict} "
                   f"comment {_q(acl.name + SEP + str(e.seq) + SEP + e.ios(acl.standard))}")
    out.append(f"\t\tcounter {DENY} comment {_q(acl.name + SEP + 'implicit' + SEP + 'deny any')}")
    out.append("\t}")
    return out


def render_nft(cfg: IosConfig, wan_addresses: dict[str, IPv4Address]) -> str:
    """The whole ruleset for a node; '' when it has no ACL in use and no NAT.

    `wan_addresses` gives the address of interfaces whose address is negotiated
    (Linux name -> address), for static NAT given as `interface Dialer1`.
    """
    body: list[str] = []
    used: dict[str, str] = {}   # ACL name -> chain
    fwd_in: list[str] = []
    fwd_out: list[str] = []     # after every `in` ACL: IOS checks the inbound ACL first
    inp: list[str] = []
    for iface in cfg.interfaces.values():
        for direction, acl_name in (("in", iface.acl_in), ("out", iface.acl_out)):
            if not acl_name or acl_name not in cfg.acls:
                continue   # an undefined ACL permits everything, as on IOS
            chain = used.setdefault(acl_name, chain_name("acl_", acl_name))
            c = _q(f"ip access-group {acl_name} {direction} on {iface.name}")
            match = f'{"iifname" if direction == "in" else "oifname"} "{iface.linux}"'
            rules = [f"\t\t{match} jump {chain} comment {c}", *denied(match, iface)]
            if direction == "in":
                fwd_in += rules
                inp += rules
            else:
                fwd_out += rules
    fwd = fwd_in + fwd_out
    if used:
        body.append(f"\tset {UNREACH_SET} {{ type mark; size 16; flags dynamic,timeout; }}")
    for acl_name, chain in used.items():
        body += acl_chain(cfg.acls[acl_name], chain)
    if fwd:
        body += ["\tchain forward {", "\t\ttype filter hook forward priority filter; policy accept;",
                 *fwd, "\t}"]
    if inp:
        body += ["\tchain input {", "\t\ttype filter hook input priority filter; policy accept;",
                 *inp, "\t}"]

    outside = [i.linux for i in cfg.interfaces.values() if i.nat == "outside"]
    pre: list[str] = []
    post: list[str] = []
    for st in cfg.nat_static:
        gif = cfg.interfaces.get(st.global_interface.ios) if st.global_interface else None
        gaddr = st.global_addr
        if gif is not None and gaddr is None:
            gaddr = gif.addresses[0].ip if gif.addresses else wan_addresses.get(gif.linux)
        ifaces = [gif.linux] if gif is not None else outside
        if not ifaces:
            continue
        ifset = _ifset("iifname", ifaces)
        oifset = _ifset("oifname", ifaces)
        text = _static_text(st, gaddr)
        if st.protocol:
            dmatch = f"ip daddr {gaddr} " if gaddr else ""
            pre.append(f"\t\t{ifset} {dmatch}{st.protocol} dport {st.global_port} counter "
                       f"dnat to {st.local}:{st.local_port} comment {_q('static' + SEP + text)}")
            to = f"snat to {gaddr}:{st.global_port}" if gaddr else f"masquerade to :{st.global_port}"
            post.append(f"\t\t{oifset} ip saddr {st.local} {st.protocol} sport {st.local_port} "
                        f"counter {to} comment {_q('static-out' + SEP + text)}")
        elif gaddr:
            pre.append(f"\t\t{ifset} ip daddr {gaddr} counter dnat to {st.local} "
                       f"comment {_q('static' + SEP + text)}")
            post.append(f"\t\t{oifset} ip saddr {st.local} counter snat to {gaddr} "
                        f"comment {_q('static-out' + SEP + text)}")
    pat_chains: list[str] = []
    for pat in cfg.nat_pat:
        acl = cfg.acls.get(pat.acl)
        oif = pat.interface.linux
        if acl is None:
            continue
        chain = chain_name("nat_list_", pat.acl) + "_" + oif.replace("-", "_")
        post.append(f'\t\toifname "{oif}" jump {chain} comment '
                    f"{_q(f'ip nat inside source list {pat.acl} interface {pat.interface} overload')}")
        pat_chains.append(f"\tchain {chain} {{")
        for e in acl.entries:
            m = match_expr(e)
            verdict = "masquerade" if e.action == "permit" else "return"
            pat_chains.append(f"\t\t{m + ' ' if m else ''}counter {verdict} "
                              f"comment {_q(acl.name + SEP + str(e.seq) + SEP + e.ios(acl.standard))}")
        pat_chains.append("\t}")
    body += pat_chains
    if pre:
        body += ["\tchain prerouting {", "\t\ttype nat hook prerouting priority dstnat; policy accept;",
                 *pre, "\t}"]
    if post:
        body += ["\tchain postrouting {", "\t\ttype nat hook postrouting priority srcnat; policy accept;",
                 *post, "\t}"]
    if not body:
        return ""
    # declare-then-delete makes the file re-appliable: the old table goes, the new one replaces it
    return (f"# rendered by labkit.ios from {cfg.file}; do not edit, edit the IOS config\n"
            f"table ip {TABLE}\ndelete table ip {TABLE}\n"
            f"table ip {TABLE} {{\n" + "\n".join(body) + "\n}\n")


def _ifset(key: str, names: list[str]) -> str:
    if len(names) == 1:
        return f'{key} "{names[0]}"'
    return f"{key} {{ " + ", ".join(f'"{n}"' for n in names) + " }"


def _static_text(st, gaddr) -> str:
    """Machine-readable comment for show ip nat translations: PROTO | LOCAL | GLOBAL."""
    glob = str(gaddr) if gaddr else f"interface {st.global_interface}"
    if st.protocol:
        return f"{st.protocol}{SEP}{st.local}:{st.local_port}{SEP}{glob}:{st.global_port}"
    return f"ip{SEP}{st.local}{SEP}{glob}"
