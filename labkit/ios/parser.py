"""A line parser for the IOS subset labkit emulates.

Hand-written rather than built on ciscoconfparse2: we need the exact line of
every problem and a fix for it, IOS's keyword abbreviations (`int fa0/1`,
`sw mode acc`), and IOS's own rule for leaving a sub-mode (a line that is not
valid in the current mode is tried in global mode, whatever its indentation).
A block-structure library gives none of these, and the subset is small.

parse() never raises on bad input: every problem becomes a labkit.diag.Diagnostic (error or
warning) in the returned IosConfig, so a notebook can show them all at once.
"""
from __future__ import annotations

import re
from ipaddress import AddressValueError, IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from labkit.diag import printable as _p

from .errors import IosConfigError, ios_error, ios_warning
from .model import (Acl, AclEntry, AddrMatch, DhcpPool, ExcludedRange, Interface, IosConfig,
                    NatPat, NatStatic, PortMatch, StaticRoute)
from .names import IfName, InterfaceNameError, model_name, parse_ifname, platform_has, platform_ports
from .source import read, split_lines

# Port and protocol keywords IOS accepts in ACLs (a subset of its tables).
TCP_PORTS = {"bgp": 179, "chargen": 19, "cmd": 514, "daytime": 13, "discard": 9,
             "domain": 53, "echo": 7, "exec": 512, "finger": 79, "ftp": 21, "ftp-data": 20,
             "gopher": 70, "hostname": 101, "ident": 113, "irc": 194, "klogin": 543,
             "kshell": 544, "login": 513, "lpd": 515, "nntp": 119, "pop2": 109, "pop3": 110,
             "smtp": 25, "sunrpc": 111, "tacacs": 49, "talk": 517, "telnet": 23, "time": 37,
             "uucp": 540, "whois": 43, "www": 80, "sip": 5060}
UDP_PORTS = {"biff": 512, "bootpc": 68, "bootps": 67, "discard": 9, "dnsix": 195,
             "domain": 53, "echo": 7, "isakmp": 500, "mobile-ip": 434, "nameserver": 42,
             "netbios-dgm": 138, "netbios-ns": 137, "netbios-ss": 139, "ntp": 123,
             "rip": 520, "snmp": 161, "snmptrap": 162, "sunrpc": 111, "syslog": 514,
             "tacacs": 49, "talk": 517, "tftp": 69, "time": 37, "who": 513, "xdmcp": 177,
             "sip": 5060}
ICMP_TYPES = {"echo-reply": 0, "unreachable": 3, "source-quench": 4, "redirect": 5,
              "echo": 8, "time-exceeded": 11, "ttl-exceeded": 11, "parameter-problem": 12,
              "timestamp-request": 13, "timestamp-reply": 14}
IP_PROTOCOLS = {"ip": 0, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50,
                "ahp": 51, "eigrp": 88, "ospf": 89, "pim": 103}

# Global commands accepted and deliberately ignored (they change nothing in a lab).
IGNORED_GLOBAL = {
    "hostname": "only names the prompt",
    "service": "service options do not change forwarding",
    "enable": "no login in the lab",
    "username": "no login in the lab",
    "version": "informational",
    "boot": "the lab does not boot images",
    "logging": "logs go to the run directory instead",
    "ntp": "the lab uses the host clock",
    "snmp-server": "no SNMP agent in the lab",
    "clock": "the lab uses the host clock",
    "vtp": "VLANs come from the config, not VTP",
    "cdp": "CDP is not emulated",
    "aaa": "no login in the lab",
    "system": "platform setting",
    "mls": "QoS is not emulated",
    "errdisable": "ports are not err-disabled in the lab",
    "power": "platform setting",
    "archive": "no config archive in the lab",
    "alias": "CLI aliases do not change forwarding",
    "privilege": "no login in the lab",
    "Building": "show running-config header",
    "Current": "show running-config header",
    "end": "end of config",
    "exit": "leaves a sub-mode",
    "memory-size": "platform setting",
    "security": "platform setting",
    "file": "platform setting",
    "license": "platform setting",
    "diagnostic": "platform setting",
    "vlan-internal": "platform setting",
}
# Global blocks whose indented sub-lines are skipped with the block.
IGNORED_BLOCKS = {"line": "console/vty lines: no login in the lab",
                  "control-plane": "control-plane policing is not emulated",
                  "banner": "banners only print text"}
IGNORED_IP_GLOBAL = {
    "domain-name": "DNS domain of the device itself", "domain": "DNS domain of the device itself",
    "domain-lookup": "CLI name lookups", "classless": "Linux routing is always classless",
    "subnet-zero": "Linux always allows subnet zero", "http": "no web UI in the lab",
    "cef": "Linux has its own forwarding path", "ssh": "no login in the lab",
    "forward-protocol": "no helper-address relay in the lab",
    "finger": "no finger service", "source-route": "source routing is not emulated",
    "bootp": "BOOTP server is not emulated", "tcp": "TCP stack tuning is not emulated",
    "multicast-routing": "multicast routing is not emulated", "igmp": "IGMP is not emulated",
    "scp": "no file transfer in the lab", "ftp": "no file transfer in the lab",
    "tftp": "no file transfer in the lab", "icmp": "ICMP rate limits are not emulated",
    "options": "IP options are not emulated", "sla": "IP SLA is not emulated",
}
IGNORED_INTERFACE = {
    "speed": "veths have no speed", "duplex": "veths are always full duplex",
    "mtu": "the lab keeps the veth MTU", "keepalive": "not emulated",
    "load-interval": "not emulated", "bandwidth": "routing metrics are not emulated",
    "delay": "routing metrics are not emulated",
    "storm-control": "not emulated", "mls": "QoS is not emulated", "auto": "QoS is not emulated",
    "cdp": "CDP is not emulated", "negotiation": "veths need no negotiation",
    "media-type": "veths have no media type", "dialer": "the WAN is an emulated link, no dialer",
    "ppp": "the WAN is an emulated link, no PPP",
    "pppoe-client": "the WAN is an emulated link, no PPPoE", "pppoe": "no PPPoE",
    "hold-queue": "not emulated", "tx-ring-limit": "not emulated", "srr-queue": "QoS is not emulated",
    "priority-queue": "QoS is not emulated", "wrr-queue": "QoS is not emulated",
    "flowcontrol": "not emulated", "carrier-delay": "not emulated", "logging": "not emulated",
    "snmp": "no SNMP agent in the lab", "channel-group": "EtherChannel is not emulated",
}
IGNORED_IP_INTERFACE = {
    "mtu": "the lab keeps the veth MTU", "tcp": "MSS clamping is not emulated",
    "virtual-reassembly": "Linux reassembles as needed", "redirects": "not emulated",
    "route-cache": "not emulated",
    "directed-broadcast": "Linux drops directed broadcasts", "verify": "uRPF is not emulated",
    "mroute-cache": "multicast is not emulated", "pim": "multicast is not emulated",
    "igmp": "multicast is not emulated", "flow": "NetFlow is not emulated",
    "helper-address": "no DHCP relay in the lab; the switch serves its own VLANs",
    "dhcp": "DHCP client options are not emulated", "ospf": "dynamic routing is not emulated",
    "mask-reply": "not emulated", "accounting": "not emulated",
}
# Global `spanning-tree` commands accepted with a warning: the lab's one OVS tree has no such knob.
STP_GLOBAL_IGNORED = {
    "extend": "the lab's bridge ID carries no VLAN number (OVS runs one tree for all VLANs)",
    "loopguard": "loop guard is not emulated",
    "uplinkfast": "UplinkFast is not emulated",
    "backbonefast": "BackboneFast is not emulated",
    "pathcost": "the lab keeps OVS's path costs, computed from the link speed",
    "etherchannel": "EtherChannel is not emulated",
    "logging": "spanning-tree logging is not emulated",
    "bridge": "not emulated",
    "transmit": "not emulated",
}
# Interface `spanning-tree` commands accepted with a warning.
STP_INTERFACE_IGNORED = {
    "bpduguard": "BPDU guard is not emulated (a BPDU does not err-disable the port)",
    "bpdufilter": "BPDU filter is not emulated",
    "guard": "root guard and loop guard are not emulated",
    "link-type": "the lab's links are all point-to-point",
    "port-priority": "the lab keeps OVS's port priority (128)",
}
# spanning-tree vlan timers: (lowest, highest, IOS and OVS default) in seconds
STP_TIMERS = {"forward-time": (4, 30, 15), "hello-time": (1, 10, 2), "max-age": (6, 40, 20)}
L2_DEVICE = "a 2950-class access switch does not route"
L2_FIX = "remove the line, or make the node a layer-3 switch ('role: l3switch', a 3550)"


class _Fail(Exception):
    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.message, self.fix = message, fix


def _kw(token: str, options: list[str] | dict, what: str) -> str:
    """IOS keyword abbreviation: the unique option `token` is a prefix of."""
    t = token.lower()
    opts = list(options)
    if t in [o.lower() for o in opts]:
        return next(o for o in opts if o.lower() == t)
    found = [o for o in opts if o.lower().startswith(t)]
    if len(found) == 1:
        return found[0]
    if found:
        raise _Fail(f"ambiguous {what} '{_p(token)}' (could be {', '.join(found)})",
                    "type more letters")
    raise _Fail(f"unknown {what} '{_p(token)}'", f"expected one of: {', '.join(opts)}")


def _kw_or_ignored(token: str, options: list[str], ignored: dict, what: str) -> str:
    """Keyword match on the supported commands; ignored ones must be spelled in full."""
    if token.lower() in ignored and token.lower() not in options:
        return token.lower()
    if token in ignored:
        return token
    try:
        return _kw(token, options, what)
    except _Fail as f:
        raise _Fail(f.message, f"supported here: {', '.join(options)}") from None


_GLOBAL_IP = {"route", "dhcp", "access-list", "dns", "name-server", "routing", "host", "domain-name",
              "domain", "domain-lookup", "classless", "http", "cef", "ssh", "subnet-zero",
              "forward-protocol", "default-gateway", "source-route", "finger", "bootp"}


def _stp_global(w: list[str]) -> bool:
    """`spanning-tree ...` words (without `no`) that only exist in global mode."""
    if len(w) < 2:
        return False
    second = w[1].lower()
    if second in ("mode", "extend", "mst", "loopguard", "uplinkfast", "backbonefast", "pathcost",
                  "etherchannel", "logging"):
        return True
    if second == "portfast":   # `portfast default`, `portfast bpduguard default`
        return any(t.lower() == "default" for t in w[2:])
    if second == "vlan":       # `vlan LIST [priority|root|timers]`; `vlan LIST cost` is per interface
        words = [t.lower() for t in w[2:] if t[:1].isalpha()]
        return not words or words[0] in ("priority", "root", *STP_TIMERS)
    return False


def _looks_global(w: list[str]) -> bool:
    """True when a line reads as a global command (so it closes the current block)."""
    first = w[0].lower()
    if first == "spanning-tree":
        return _stp_global(w)
    if first == "no" and len(w) > 1 and w[1].lower() == "spanning-tree":
        return _stp_global(w[1:])
    if len(first) >= 3 and "interface".startswith(first):
        return True
    if first in ("access-list", "vlan", "router", "hostname", "end", "ipv6") or first in IGNORED_BLOCKS:
        return True
    if first in IGNORED_GLOBAL and first not in IGNORED_INTERFACE and first != "exit":
        return True
    if first == "ip" and len(w) > 1:
        second = w[1].lower()
        if second in _GLOBAL_IP:
            return True
        if second == "nat" and len(w) > 3:
            return True
    if first == "no" and len(w) > 2 and w[1].lower() == "ip":
        return w[2].lower() in _GLOBAL_IP
    return False


def _ip(token: str, what: str = "address") -> IPv4Address:
    try:
        return IPv4Address(token)
    except (AddressValueError, ValueError):
        raise _Fail(f"'{_p(token)}' is not an IPv4 {what}",
                    f"write the {what} as four numbers 0-255, e.g. "
                    f"{'0.0.0.255' if what == 'wildcard' else '255.255.255.0' if 'mask' in what else '192.168.1.1'}") from None


def _mask(token: str) -> int:
    """A subnet mask (255.255.255.0) or IOS prefix form (/24) -> prefix length."""
    if token.startswith("/") and _isnum(token[1:]) and len(token) <= 3 and int(token[1:]) <= 32:
        return int(token[1:])
    m = int(_ip(token, "subnet mask"))
    plen = bin(m).count("1")
    if m != ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF):
        hint = ""
        if plen and (~m & 0xFFFFFFFF) == (0xFFFFFFFF >> (32 - plen)):
            hint = " (it looks like a wildcard; subnet masks have their ones on the left)"
        raise _Fail(f"'{_p(token)}' is not a valid subnet mask{hint}",
                    "use a contiguous mask such as 255.255.255.0")
    return plen


def _isnum(token: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²' and other scripts' digits."""
    return token.isascii() and token.isdigit()


def _int(token: str, lo: int, hi: int, what: str) -> int:
    if not _isnum(token) or len(token) > 12 or not lo <= int(token) <= hi:
        raise _Fail(f"{what} '{_p(token)}' is not a number from {lo} to {hi}", f"use a {what} from {lo} to {hi}")
    return int(token)


def _need(words: list[str], n: int, usage: str) -> None:
    if len(words) < n:
        raise _Fail("incomplete command", f"usage: {usage}")


def _no_extra(words: list[str], n: int, usage: str) -> None:
    if len(words) > n:
        raise _Fail(f"unexpected '{_p(' '.join(words[n:]))}' at the end of the line", f"usage: {usage}")


def _ifname(text: str) -> IfName:
    try:
        return parse_ifname(text)
    except InterfaceNameError as e:
        raise _Fail(str(e), e.fix) from None


_NAME_OK = re.compile(r"[A-Za-z0-9_.-]{1,40}", re.ASCII)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_OK = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?", re.ASCII)


def _name(token: str, what: str) -> str:
    """An ACL or pool name the lab can carry into nft chains, comments and dnsmasq tags."""
    if not _NAME_OK.fullmatch(token):
        raise _Fail(f"{what} name '{_p(token)}' is not emulated: the lab takes at most 40 letters, "
                    "digits, '-', '_' or '.'", f"rename the {what}, e.g. WEB_IN")
    return token


def _domain(token: str) -> str:
    if len(token) > 253 or not _DOMAIN_OK.fullmatch(token):
        raise _Fail(f"'{_p(token)}' is not a domain name", "write it like home.example")
    return token


def acl_kind_for_number(name: str) -> str | None:
    if not _isnum(name) or len(name) > 4:
        return None
    n = int(name)
    if 1 <= n <= 99 or 1300 <= n <= 1999:
        return "standard"
    if 100 <= n <= 199 or 2000 <= n <= 2699:
        return "extended"
    return None


def _vlan_list(words: list[str]) -> set[int]:
    """`1,2,10-20` (possibly split over tokens) -> set of VLAN ids."""
    text = "".join(words)
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise _Fail(f"empty item in VLAN list '{_p(text)}'", "write VLANs like 1,2,10-20")
        lo, _, hi = part.partition("-")
        a = _int(lo, 1, 4094, "VLAN")
        b = _int(hi, 1, 4094, "VLAN") if hi else a
        if b < a:
            raise _Fail(f"VLAN range '{_p(part)}' runs backwards", f"write it as {b}-{a}")
        out.update(range(a, b + 1))
    return out


def _vlan_text(vlans: set[int]) -> str:
    """{1, 2, 3, 5} -> '1-3,5', as IOS prints VLAN lists."""
    out: list[str] = []
    for v in sorted(vlans):
        if out and out[-1].split("-")[-1] == str(v - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{v}"
        else:
            out.append(str(v))
    return ",".join(out)


def _range_parts(part: str) -> tuple[str, str, str | None]:
    """`fa0/2 - 5` -> ("fa0/", "2", "5"); last is None when `part` is no range.

    Written without a regex: `(.*?)(\\d+)\\s*-\\s*(\\d+)` backtracks quadratically
    on a long run of digits.
    """
    left, dash, right = part.rpartition("-")
    right = right.strip()
    if not dash or not _isnum(right):
        return part, "", None
    body = left.rstrip()
    k = len(body)
    while k and body[k - 1] in "0123456789":
        k -= 1
    if k == len(body):
        return part, "", None
    return body[:k], body[k:], right


class _Parser:
    def __init__(self, text: str, file: str, platform: str | None, layer3: bool = True):
        self.cfg = IosConfig(file=file, platform=platform or "", layer3=layer3, ip_routing=layer3)
        self.lines = split_lines(text)
        self.cfg.source = self.lines
        self.mode = "global"
        self.cur: object = None
        self.banner_end: str | None = None
        self.lineno = 0
        self.line = ""
        self.addr_lines: dict[str, int] = {}      # interface -> line of its ip address
        self.switch_lines: dict[str, int] = {}    # interface -> first switchport line
        self.acl_lines: dict[tuple[str, str], int] = {}   # (interface, in|out) -> access-group line
        self.access_lines: dict[str, int] = {}    # interface -> its 'switchport access vlan' line
        self.router_lines: dict[str, int] = {}    # dhcp pool -> its 'default-router' line
        self.encap_lines: dict[str, int] = {}     # sub-interface -> its 'encapsulation dot1Q' line
        self.trunk_encap: set[str] = set()        # ports with 'switchport trunk encapsulation dot1q'
        self.mode_lines: dict[str, int] = {}      # port -> its 'switchport mode' line
        self.dns_line = 0
        self.commands = 0                         # lines that configure something (not `end`)
        self.end_line = 0                         # the line of `end`, once seen
        self.end_warned = False

    # -- reporting -------------------------------------------------------
    def _text(self, line: int | None) -> str:
        if line is None:
            return self.line.strip()
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""

    def _diag(self, make, message: str, fix: str, line: int | None):
        # Every message is made safe here as well (control characters escaped, length
        # bounded), whatever a handler quoted; the handlers cut each quoted token already.
        return make(self.cfg.file, self.lineno if line is None else line, self._text(line),
                    _p(message, 600), _p(fix, 600))

    def error(self, message: str, fix: str = "", line: int | None = None):
        self.cfg.errors.append(self._diag(ios_error, message, fix, line))

    def warn(self, message: str, fix: str = "", line: int | None = None):
        self.cfg.warnings.append(self._diag(ios_warning, message, fix, line))

    # -- driver ----------------------------------------------------------
    def run(self) -> IosConfig:
        for self.lineno, raw in enumerate(self.lines, start=1):
            self.line = raw.rstrip()
            try:
                if self.end_line:
                    self.after_end(raw)
                else:
                    self.one(raw)
            except _Fail as f:
                self.error(f.message, f.fix)
            except Exception as e:  # a parser bug must not hide the rest of the config
                self.error(f"internal error while parsing this line: {e!r}",
                           "report this line to the labkit maintainers")
        self.lineno, self.line = 0, ""
        if not self.commands:
            self.error("the config is empty: it has no commands, only blank lines or comments"
                       if not self.end_line else "the config has no commands before 'end'",
                       "write the device's interfaces, routes and services into it", line=1)
        self.finish()
        return self.cfg

    def after_end(self, raw: str) -> None:
        """IOS stops reading a config at `end`: warn once, at the first command after it."""
        stripped = raw.strip()
        if self.end_warned or not stripped or stripped.startswith("!"):
            return
        rest = sum(1 for ln in self.lines[self.lineno:] if ln.strip() and not ln.strip().startswith("!"))
        more = f" (and {rest} more line{'s' if rest != 1 else ''} after it)" if rest else ""
        self.warn(f"this line{more} comes after 'end' on line {self.end_line} and is ignored",
                  "move it above 'end', or delete it")
        self.end_warned = True

    def one(self, raw: str) -> None:
        if self.banner_end is not None:
            if self.banner_end in raw:
                self.banner_end = None
            return
        stripped = raw.strip()
        if not stripped or stripped.startswith("!"):
            return
        if stripped.startswith("#"):
            self.warn("line starting with '#' ignored: IOS comments start with '!'",
                      "write the comment as '! ...'")
            return
        indented = raw[:1].isspace()
        words = stripped.split()
        if words[0].lower() != "end":
            self.commands += 1
        if self.mode == "ignored":
            if indented:
                return
        elif self.mode != "global":
            # IOS rule: a line valid in the sub-mode stays there; one that is not is tried
            # in global mode.  Indentation decides the ambiguous cases (`ip ...`).
            if indented or not _looks_global(words):
                try:
                    getattr(self, f"sub_{self.mode}")(words)
                    return
                except _Fail:
                    if not _looks_global(words):
                        raise
        self.mode, self.cur = "global", None
        if indented and words[0].lower() in ("network", "default-router", "dns-server", "lease",
                                             "import", "switchport", "permit", "deny"):
            raise _Fail(f"'{_p(words[0])}' is a sub-mode command but no block is open above it",
                        "put it under its 'interface', 'ip dhcp pool' or 'ip access-list' line")
        self.global_cmd(words)

    # -- global mode -----------------------------------------------------
    def global_cmd(self, w: list[str]) -> None:
        head = w[0]
        if head in ("Building", "Current"):
            return self.warn(f"'{head} ...' ignored: {IGNORED_GLOBAL[head]}")
        handlers = {"interface": self.cmd_interface, "ip": self.cmd_ip, "access-list": self.cmd_access_list,
                    "no": self.cmd_no_global, "vlan": self.cmd_vlan, "spanning-tree": self.cmd_spanning_tree}
        cmd = _kw_or_ignored(head, [*handlers, "router", "ipv6"], {**IGNORED_GLOBAL, **IGNORED_BLOCKS},
                             "command")
        if cmd in handlers:
            return handlers[cmd](w)
        if cmd == "router":
            raise _Fail(f"dynamic routing ('{_p(' '.join(w))}') is not emulated",
                        "use static 'ip route' lines")
        if cmd == "ipv6":
            return self.warn("IPv6 lines are ignored: the lab is IPv4 only")
        if cmd == "hostname":
            _need(w, 2, "hostname NAME")
            self.cfg.hostname = w[1]
            return
        if cmd == "banner":
            rest = " ".join(w[1:])
            parts = rest.split(None, 1)
            delim_src = parts[1] if len(parts) > 1 else (parts[0] if parts else "")
            if not delim_src:
                raise _Fail("banner without a delimiter", "write: banner motd ^C text ^C")
            delim = "^C" if delim_src.startswith("^C") else delim_src[0]
            body = delim_src[len(delim):]
            if delim not in body:
                self.banner_end = delim
            return self.warn(f"'banner' ignored: {IGNORED_BLOCKS['banner']}")
        if cmd in IGNORED_BLOCKS:
            self.mode = "ignored"
            return self.warn(f"'{cmd}' block ignored: {IGNORED_BLOCKS[cmd]}")
        if cmd == "end":
            self.end_line = self.lineno
            return
        if cmd == "exit":
            return
        self.warn(f"'{cmd}' ignored: {IGNORED_GLOBAL[cmd]}")

    def cmd_interface(self, w: list[str]) -> None:
        _need(w, 2, "interface NAME (e.g. interface FastEthernet0/1)")
        if len(w) > 2 and w[1].lower() == "range":
            names = self.range_names(" ".join(w[2:]))
        else:
            names = [_ifname(" ".join(w[1:]))]
        ifaces = []
        for name in names:
            if name.type == "Null":
                if len(names) > 1:
                    raise _Fail("Null0 cannot be part of an interface range", "configure interface Null0 alone")
                self.mode, self.cur = "null", None
                return
            iface = self.cfg.interfaces.get(name.ios)
            if iface is None:
                iface = Interface(name=name, line=self.lineno)
                self.cfg.interfaces[name.ios] = iface
            ifaces.append(iface)
        self.mode, self.cur = "interface", ifaces[0] if len(ifaces) == 1 else ifaces

    def range_names(self, text: str) -> list[IfName]:
        """`fa0/2 - 5 , fa0/7` -> the interfaces of an `interface range`."""
        out: list[IfName] = []
        for part in text.split(","):
            part = part.strip()
            prefix, first, last = _range_parts(part)
            if last is not None and ("/" in prefix or prefix.strip().lower().startswith("v")):
                if len(first) > 4 or len(last) > 4:
                    raise _Fail(f"interface range '{_p(part)}' is too large", "list at most 512 interfaces")
                lo, hi = int(first), int(last)
                if hi < lo:
                    raise _Fail(f"interface range '{_p(part)}' runs backwards", f"write it as {hi} - {lo}")
                if hi - lo > 512:
                    raise _Fail(f"interface range '{_p(part)}' is too large", "list at most 512 interfaces")
                out += [_ifname(f"{prefix.strip()}{n}") for n in range(lo, hi + 1)]
            elif part:
                out.append(_ifname(part))
            else:
                raise _Fail("empty item in interface range", "write: interface range fa0/2 - 5")
        return out

    def cmd_vlan(self, w: list[str]) -> None:
        _need(w, 2, "vlan N")
        if w[1].lower() in ("database", "internal"):
            return self.warn(f"'vlan {_p(w[1])}' ignored: VLANs come from vlan N lines and ports")
        vlans = _vlan_list(w[1:])
        for v in sorted(vlans):
            self.cfg.vlans.setdefault(v, "")
            self.cfg.vlan_lines.setdefault(v, self.lineno)
        self.mode, self.cur = "vlan", vlans

    def sub_vlan(self, w: list[str]):
        cmd = _kw(w[0], ["name", "state", "exit", "shutdown", "mtu", "remote-span"], "vlan command")
        if cmd == "exit":
            self.mode = "global"
        elif cmd == "name":
            _need(w, 2, "name NAME")
            _no_extra(w, 2, "name NAME (one word, at most 32 characters)")
            if 1 in self.cur:  # type: ignore[operator]
                raise _Fail("VLAN 1 is the default VLAN; IOS does not let its name change",
                            "name another VLAN, or drop the 'name' line (show vlan calls VLAN 1 'default')")
            if not re.fullmatch(r"[\x21-\x7e]{1,32}", w[1], re.ASCII):
                raise _Fail(f"VLAN name '{_p(w[1], 40)}' is not 1 to 32 printable ASCII characters",
                            "e.g. name voice")
            for v in self.cur:  # type: ignore[union-attr]
                self.cfg.vlans[v] = w[1]
        else:
            self.warn(f"vlan '{cmd}' ignored: VLAN state is not emulated")

    def cmd_no_global(self, w: list[str]) -> None:
        _need(w, 2, "no COMMAND")
        if w[1].lower() == "spanning-tree":
            self.cfg.stp.lines.append(self.lineno)
            if len(w) > 2 and w[2].lower() == "vlan":
                return self.warn("'no spanning-tree vlan' is not emulated: spanning tree stays on for "
                                 "every VLAN (OVS runs one tree for all of them)", "remove the line")
            return self.warn(f"'{_p(' '.join(w[:3]))}' ignored: the lab keeps spanning tree's defaults")
        if w[1].lower() == "ip" and len(w) > 2:
            sub = _kw_or_ignored(w[2], ["routing", "route", "access-list", "nat", "dhcp", "dns",
                                        "name-server", "default-gateway"], IGNORED_IP_GLOBAL, "ip command")
            if sub == "routing":
                _no_extra(w, 3, "no ip routing")
                self.cfg.ip_routing = False
                if not self.cfg.layer3:
                    return   # what a layer-2 switch always is
                return self.warn("'no ip routing': the device will not forward between its "
                                 "interfaces (IP forwarding off)")
            if sub in IGNORED_IP_GLOBAL:
                return self.warn(f"'no ip {sub}' ignored: {IGNORED_IP_GLOBAL[sub]}")
        else:
            try:
                cmd = _kw(w[1], list(IGNORED_GLOBAL) + list(IGNORED_BLOCKS), "command")
            except _Fail:
                cmd = ""
            if cmd:
                return self.warn(f"'no {cmd}' ignored: {IGNORED_GLOBAL.get(cmd) or IGNORED_BLOCKS[cmd]}")
        raise _Fail(f"'{_p(' '.join(w))}' removes configuration; a config file should only state "
                    "what is configured", "delete the line that configured it instead")

    # -- ip ... (global) --------------------------------------------------
    def cmd_ip(self, w: list[str]) -> None:
        _need(w, 2, "ip COMMAND")
        handlers = {"route": self.cmd_route, "dhcp": self.cmd_dhcp, "access-list": self.cmd_named_acl,
                    "nat": self.cmd_nat}
        sub = _kw_or_ignored(w[1], [*handlers, "dns", "name-server", "routing", "host", "default-gateway"],
                             IGNORED_IP_GLOBAL, "ip command")
        if not self.cfg.layer3 and sub in ("route", "nat", "routing", "dns"):
            raise _Fail(f"{L2_DEVICE}: 'ip {sub}' is not a command there", L2_FIX)
        if sub in handlers:
            return handlers[sub](w)
        if sub == "default-gateway":
            usage = "ip default-gateway ADDRESS"
            _need(w, 3, usage)
            _no_extra(w, 3, usage)
            self.cfg.default_gateway = (_ip(w[2], "gateway address"), self.lineno)
            return
        if sub == "dns":
            _need(w, 3, "ip dns server")
            _kw(w[2], ["server"], "ip dns command")
            _no_extra(w, 3, "ip dns server")
            self.cfg.dns_server = True
            self.dns_line = self.lineno
            return
        if sub == "name-server":
            _need(w, 3, "ip name-server ADDRESS [ADDRESS ...]")
            for t in w[2:]:
                self.cfg.name_servers.append(_ip(t, "name server address"))
            return
        if sub == "routing":
            _no_extra(w, 2, "ip routing")
            self.cfg.ip_routing = True
            return
        if sub == "host":
            return self.warn("'ip host' ignored: the DNS forwarder only forwards; put lab names "
                             "in the zone served by the lab's DNS server")
        self.warn(f"'ip {sub}' ignored: {IGNORED_IP_GLOBAL[sub]}")

    def cmd_route(self, w: list[str]) -> None:
        usage = "ip route PREFIX MASK NEXTHOP|INTERFACE [DISTANCE]"
        _need(w, 5, usage)
        prefix = _ip(w[2], "network")
        plen = _mask(w[3])
        net = IPv4Network(f"{prefix}/{plen}", strict=False)
        if net.network_address != prefix:
            raise _Fail(f"{prefix} has host bits set for mask {_p(w[3])}",
                        f"write the network address: ip route {net.network_address} {_p(w[3])} ...")
        rest = w[4:]
        nh: IPv4Address | None = None
        ifn: IfName | None = None
        try:
            nh = IPv4Address(rest[0])
            rest = rest[1:]
        except (AddressValueError, ValueError):
            # interface names may be split ("Fast 0/0"): take the tokens that form one
            if len(rest) > 1 and _isnum(rest[1][:1]) and not _isnum(rest[0][-1:]):
                ifn, rest = _ifname(rest[0] + rest[1]), rest[2:]
            else:
                ifn, rest = _ifname(rest[0]), rest[1:]
            if rest:
                try:
                    nh = IPv4Address(rest[0])
                    rest = rest[1:]
                except (AddressValueError, ValueError):
                    pass
        distance = 1
        while rest:
            t = rest[0]
            if _isnum(t):
                distance = _int(t, 1, 255, "administrative distance")
                rest = rest[1:]
            elif t.lower() in ("permanent",):
                rest = rest[1:]
            elif t.lower() in ("name", "tag") and len(rest) > 1:
                rest = rest[2:]
            else:
                raise _Fail(f"unexpected '{_p(t)}' in ip route", f"usage: {usage}")
        self.cfg.routes.append(StaticRoute(self.lineno, net, nh, ifn, distance))

    def cmd_dhcp(self, w: list[str]) -> None:
        _need(w, 3, "ip dhcp excluded-address LOW [HIGH] | ip dhcp pool NAME")
        sub = _kw(w[2], ["excluded-address", "pool", "conflict", "ping", "database", "relay",
                         "snooping", "use", "bootp"], "ip dhcp command")
        if not self.cfg.layer3 and sub in ("excluded-address", "pool"):
            raise _Fail(f"{L2_DEVICE} and has no DHCP server ('ip dhcp {sub}')",
                        "serve DHCP from the layer-3 switch or the router")
        if sub == "excluded-address":
            _need(w, 4, "ip dhcp excluded-address LOW [HIGH]")
            _no_extra(w, 5, "ip dhcp excluded-address LOW [HIGH]")
            low = _ip(w[3])
            high = _ip(w[4]) if len(w) > 4 else low
            if high < low:
                raise _Fail(f"excluded range {low} - {high} runs backwards",
                            f"write: ip dhcp excluded-address {high} {low}")
            self.cfg.excluded.append(ExcludedRange(self.lineno, low, high))
            return
        if sub == "pool":
            _need(w, 4, "ip dhcp pool NAME")
            _no_extra(w, 4, "ip dhcp pool NAME")
            pool = self.cfg.pools.get(_name(w[3], "dhcp pool"))
            if pool is None:
                pool = DhcpPool(w[3], self.lineno)
                self.cfg.pools[w[3]] = pool
            self.mode, self.cur = "pool", pool
            return
        if sub == "snooping" or sub == "relay":
            raise _Fail(f"'ip dhcp {sub}' is not emulated", "remove the line")
        self.warn(f"'ip dhcp {sub}' ignored: dnsmasq handles conflicts and its lease database itself")

    def sub_pool(self, w: list[str]):
        pool: DhcpPool = self.cur  # type: ignore[assignment]
        cmd = _kw(w[0], ["network", "default-router", "dns-server", "lease", "import",
                         "domain-name", "netbios-name-server", "netbios-node-type", "option",
                         "host", "hardware-address", "client-identifier", "client-name", "exit"],
                  "dhcp pool command")
        if cmd == "exit":
            self.mode = "global"
        elif cmd == "network":
            _need(w, 3, "network ADDRESS MASK")
            _no_extra(w, 3, "network ADDRESS MASK")
            addr, plen = _ip(w[1], "network"), _mask(w[2])
            net = IPv4Network(f"{addr}/{plen}", strict=False)
            if net.network_address != addr:
                raise _Fail(f"{addr} has host bits set for mask {_p(w[2])}",
                            f"write: network {net.network_address} {_p(w[2])}")
            if plen > 30:
                raise _Fail(f"a /{plen} pool has no room for clients", "use a /30 or larger network")
            pool.network = net
        elif cmd == "default-router":
            _need(w, 2, "default-router ADDRESS [ADDRESS ...]")
            pool.default_routers = [_ip(t) for t in w[1:]]
            self.router_lines[pool.name] = self.lineno
        elif cmd == "dns-server":
            _need(w, 2, "dns-server ADDRESS [ADDRESS ...]")
            pool.dns_servers = [_ip(t) for t in w[1:]]
        elif cmd == "domain-name":
            _need(w, 2, "domain-name NAME")
            pool.domain_name = _domain(w[1])
        elif cmd == "lease":
            _need(w, 2, "lease DAYS [HOURS [MINUTES]] | lease infinite")
            if w[1].lower().startswith("inf"):
                pool.lease_seconds = None
            else:
                _no_extra(w, 4, "lease DAYS [HOURS [MINUTES]]")
                d = _int(w[1], 0, 365, "lease days")
                h = _int(w[2], 0, 23, "lease hours") if len(w) > 2 else 0
                m = _int(w[3], 0, 59, "lease minutes") if len(w) > 3 else 0
                secs = d * 86400 + h * 3600 + m * 60
                if secs == 0:
                    raise _Fail("a lease of 0 minutes", "give at least 2 minutes (lease 0 0 2)")
                if secs < 120:
                    self.warn("dnsmasq's shortest lease is 2 minutes; the lab uses 2 minutes")
                    secs = 120
                pool.lease_seconds = secs
        elif cmd == "import":
            _need(w, 2, "import all")
            _kw(w[1], ["all"], "import option")
            pool.import_all = True
            self.warn("'import all' accepted: it imports options learned from an upstream DHCP/PPP "
                      "server, and nothing is imported in the lab", "give dns-server and "
                      "default-router explicitly, as the seed does")
        elif cmd in ("host", "hardware-address", "client-identifier", "client-name"):
            raise _Fail(f"manual DHCP bindings ('{cmd}') are not emulated",
                        "give the host a static address outside the pool instead")
        else:
            self.warn(f"dhcp pool '{cmd}' ignored: only router, DNS server, domain and lease "
                      "options are served")

    # -- access lists ----------------------------------------------------
    def cmd_access_list(self, w: list[str]) -> None:
        usage = "access-list NUMBER permit|deny|remark ..."
        _need(w, 3, usage)
        kind = acl_kind_for_number(w[1])
        if kind is None:
            raise _Fail(f"access-list number '{_p(w[1])}' is not an IP access list",
                        "use 1-99 or 1300-1999 (standard), 100-199 or 2000-2699 (extended)")
        acl = self.cfg.acls.get(w[1])
        if acl is None:
            acl = Acl(w[1], kind, self.lineno)
            self.cfg.acls[w[1]] = acl
        action = _kw(w[2], ["permit", "deny", "remark", "dynamic"], "access-list action")
        if action == "remark":
            return
        if action == "dynamic":
            raise _Fail("dynamic (lock-and-key) ACL entries are not emulated", "use permit/deny")
        seq = (acl.entries[-1].seq + 10) if acl.entries else 10
        acl.entries.append(self.ace(acl, seq, action, w[3:]))

    def cmd_named_acl(self, w: list[str]) -> None:
        _need(w, 4, "ip access-list standard|extended NAME")
        kind = _kw(w[2], ["standard", "extended", "resequence", "logging", "log-update"],
                   "access-list type")
        if kind not in ("standard", "extended"):
            raise _Fail(f"'ip access-list {kind}' is not emulated", "remove the line")
        _no_extra(w, 4, "ip access-list standard|extended NAME")
        name = _name(w[3], "access-list")
        numbered = acl_kind_for_number(name)
        if numbered and numbered != kind:
            raise _Fail(f"access list {_p(name)} is a {numbered} number but declared {kind}",
                        f"write: ip access-list {numbered} {_p(name)}")
        if _isnum(name) and not numbered:
            raise _Fail(f"'{_p(name)}' is not a valid access-list number",
                        "use a name that starts with a letter, or a number in the right range")
        acl = self.cfg.acls.get(name)
        if acl is None:
            acl = Acl(name, kind, self.lineno)
            self.cfg.acls[name] = acl
        elif acl.kind != kind:
            raise _Fail(f"access list {_p(name)} was declared {acl.kind} on line {acl.line}",
                        "use another name")
        self.mode, self.cur = "acl", acl

    def sub_acl(self, w: list[str]):
        acl: Acl = self.cur  # type: ignore[assignment]
        seq = None
        if _isnum(w[0]):
            seq = _int(w[0], 1, 2147483647, "sequence number")
            w = w[1:]
            _need(w, 1, "[SEQ] permit|deny ...")
        action = _kw(w[0], ["permit", "deny", "remark", "exit"], "access-list command")
        if action == "exit":
            self.mode = "global"
            return
        if action == "remark":
            return
        if seq is None:
            seq = (max(e.seq for e in acl.entries) + 10) if acl.entries else 10
        if any(e.seq == seq for e in acl.entries):
            raise _Fail(f"sequence number {seq} is already used in {_p(acl.name)}", "pick another number")
        acl.entries.append(self.ace(acl, seq, action, w[1:]))
        acl.entries.sort(key=lambda e: e.seq)

    def addr(self, w: list[str], i: int, standard: bool) -> tuple[AddrMatch, int]:
        if i >= len(w):
            raise _Fail("missing address", "give 'any', 'host A.B.C.D' or 'A.B.C.D WILDCARD'")
        t = w[i].lower()
        if t == "any":
            return AddrMatch(IPv4Address(0), IPv4Address(0xFFFFFFFF)), i + 1
        if t == "host":
            if i + 1 >= len(w):
                raise _Fail("'host' needs an address", "write: host 192.168.1.10")
            return AddrMatch(_ip(w[i + 1]), IPv4Address(0)), i + 2
        a = _ip(w[i])
        wild: IPv4Address | None = None
        if i + 1 < len(w):
            nxt = w[i + 1]
            if re.fullmatch(r"[0-9]*\.[0-9.]*", nxt):   # meant as a wildcard: it must be one
                wild = _ip(nxt, "wildcard")
        if wild is None:
            if not standard:
                raise _Fail(f"address {a} needs a wildcard in an extended ACL",
                            f"write 'host {a}' or '{a} 0.0.0.255'")
            return AddrMatch(a, IPv4Address(0)), i + 1
        wi = int(wild)
        inv = ~wi & 0xFFFFFFFF
        ones = bin(wi).count("1")
        if 0 < ones < 32 and wi == ((0xFFFFFFFF << (32 - ones)) & 0xFFFFFFFF):
            self.warn(f"wildcard {wild} looks like a subnet mask; IOS reads it as a wildcard "
                      "(ones = don't care), so this matches a different set of addresses",
                      f"use the inverse mask {IPv4Address(inv)}")
        return AddrMatch(IPv4Address(int(a) & inv), wild), i + 2

    def port(self, w: list[str], i: int, proto: str) -> tuple[PortMatch | None, int]:
        if i >= len(w) or w[i].lower() not in ("eq", "neq", "lt", "gt", "range"):
            return None, i
        op = w[i].lower()
        if proto not in ("tcp", "udp"):
            raise _Fail(f"port match '{op}' is only valid for tcp and udp", "use tcp or udp as the protocol")
        names = TCP_PORTS if proto == "tcp" else UDP_PORTS
        ports: list[int] = []
        j = i + 1
        while j < len(w):
            t = w[j].lower()
            if _isnum(t):
                ports.append(_int(t, 0, 65535, "port"))
            elif t in names:
                ports.append(names[t])
            else:
                break
            j += 1
            if op in ("lt", "gt") and len(ports) == 1:
                break
            if op == "range" and len(ports) == 2:
                break
        if not ports:
            got = w[i + 1] if i + 1 < len(w) else "nothing"
            raise _Fail(f"'{op}' needs a {proto} port, got {_p(got)}",
                        f"give a number or one of: {', '.join(sorted(names)[:8])}, ...")
        if op == "range":
            if len(ports) != 2:
                raise _Fail("'range' needs two ports", "write: range 10000 20000")
            if ports[1] < ports[0]:
                raise _Fail(f"port range {ports[0]}-{ports[1]} runs backwards",
                            f"write: range {ports[1]} {ports[0]}")
        return PortMatch(op, tuple(ports)), j

    def ace(self, acl: Acl, seq: int, action: str, w: list[str]) -> AclEntry:
        if acl.standard:
            src, i = self.addr(w, 0, standard=True)
            log = False
            if i < len(w) and w[i].lower() in ("log", "log-input"):
                log, i = True, i + 1
            _no_extra(w, i, "permit|deny any | host A | A WILDCARD [log]")
            e = AclEntry(self.lineno, seq, action, "ip", src, log=log)
        else:
            usage = "permit|deny PROTOCOL SOURCE [PORT] DEST [PORT] [established] [log]"
            _need(w, 3, usage)
            t = w[0].lower()
            if _isnum(t):
                num = _int(t, 0, 255, "protocol number")
                proto = next((k for k, v in IP_PROTOCOLS.items() if v == num and k != "ip"), t)
            else:
                if t not in IP_PROTOCOLS:
                    raise _Fail(f"unknown protocol '{_p(w[0])}'", "use ip, tcp, udp or icmp")
                proto = t
            src, i = self.addr(w, 1, standard=False)
            sp, i = self.port(w, i, proto)
            dst, i = self.addr(w, i, standard=False)
            dp, i = self.port(w, i, proto)
            e = AclEntry(self.lineno, seq, action, proto, src, dst, sp, dp)
            if proto == "icmp" and i < len(w) and w[i].lower() not in ("log", "log-input"):
                t = w[i].lower()
                if _isnum(t):
                    e.icmp_type = _int(t, 0, 255, "ICMP type")
                    i += 1
                    if i < len(w) and _isnum(w[i]):
                        e.icmp_code = _int(w[i], 0, 255, "ICMP code")
                        i += 1
                elif t in ICMP_TYPES:
                    e.icmp_type = ICMP_TYPES[t]
                    i += 1
                else:
                    raise _Fail(f"unknown ICMP type '{_p(w[i])}'",
                                f"use a number or one of: {', '.join(ICMP_TYPES)}")
            while i < len(w):
                t = w[i].lower()
                if t == "established":
                    if proto != "tcp":
                        raise _Fail("'established' only applies to tcp", "use 'permit tcp ... established'")
                    e.established = True
                elif t in ("log", "log-input"):
                    e.log = True
                elif t in ("precedence", "tos", "dscp", "fragments", "time-range", "ttl", "option",
                           "reflect", "evaluate", "match-any", "match-all", "ack", "syn", "fin",
                           "psh", "rst", "urg"):
                    raise _Fail(f"ACL option '{_p(w[i])}' is not emulated",
                                "remove it; labkit matches protocol, addresses, ports and established")
                else:
                    raise _Fail(f"unexpected '{_p(w[i])}' in an access-list entry", f"usage: {usage}")
                i += 1
        if e.log:
            self.warn("'log' on an ACL entry: the lab counts hits per entry (show access-lists) "
                      "but writes no log lines")
        return e

    # -- NAT -------------------------------------------------------------
    def cmd_nat(self, w: list[str]) -> None:
        usage = ("ip nat inside source list ACL interface IF overload | "
                 "ip nat inside source static [tcp|udp] LOCAL [PORT] GLOBAL [PORT]")
        _need(w, 4, usage)
        side = _kw(w[2], ["inside", "outside", "pool", "translation", "service", "log"], "nat command")
        if side != "inside":
            raise _Fail(f"'ip nat {side}' is not emulated", "use ip nat inside source list/static")
        if _kw(w[3], ["source", "destination"], "nat direction") != "source":
            raise _Fail("'ip nat inside destination' is not emulated", "use static port forwards")
        _need(w, 5, usage)
        how = _kw(w[4], ["list", "static", "route-map"], "nat source type")
        if how == "route-map":
            raise _Fail("NAT with route-maps is not emulated", "use 'list ACL interface IF overload'")
        if how == "list":
            _need(w, 8, "ip nat inside source list ACL interface IF overload")
            acl = _name(w[5], "access-list")
            target = _kw(w[6], ["interface", "pool"], "nat target")
            if target == "pool":
                raise _Fail("NAT pools are not emulated (the lab has one WAN address)",
                            f"write: ip nat inside source list {_p(acl)} interface Dialer1 overload")
            rest = w[7:]
            overload = bool(rest) and rest[-1].lower() == "overload"
            if overload:
                rest = rest[:-1]
            if not rest:
                raise _Fail("missing interface", "write: ... interface Dialer1 overload")
            ifn = _ifname(" ".join(rest))
            if not overload:
                self.warn("NAT to an interface address without 'overload' still overloads "
                          "(one address, many inside hosts), as IOS does",
                          "add 'overload' to say what happens")
            self.cfg.nat_pat.append(NatPat(self.lineno, acl, ifn))
            return
        # static
        rest = w[5:]
        rest = [t for t in rest if t.lower() not in ("extendable", "no-alias", "no-payload")]
        proto = None
        if rest and rest[0].lower() in ("tcp", "udp"):
            proto, rest = rest[0].lower(), rest[1:]
        susage = ("ip nat inside source static tcp|udp LOCAL LPORT GLOBAL|interface IF GPORT"
                  if proto else "ip nat inside source static LOCAL GLOBAL|interface IF")
        _need(rest, 2, susage)
        local = _ip(rest[0], "inside local address")
        i = 1
        lport = None
        if proto:
            lport = _int(rest[1], 1, 65535, "port")
            i = 2
        _need(rest, i + 1, susage)
        gaddr, gif = None, None
        if rest[i].lower().startswith("int"):
            _need(rest, i + 2, susage)
            # interface name may be one or two tokens
            if proto and len(rest) >= i + 4:
                gif = _ifname(rest[i + 1] + rest[i + 2]); i += 3
            else:
                gif = _ifname(rest[i + 1]); i += 2
        else:
            gaddr = _ip(rest[i], "inside global address"); i += 1
        gport = None
        if proto:
            _need(rest, i + 1, susage)
            gport = _int(rest[i], 1, 65535, "port"); i += 1
        _no_extra(rest, i, susage)
        self.cfg.nat_static.append(NatStatic(self.lineno, proto, local, lport, gaddr, gif, gport))

    # -- interface Null0 ------------------------------------------------
    def sub_null(self, w: list[str]):
        """Under `interface Null0` only `[no] ip unreachables` means something (its blackhole
        routes answer with ICMP host unreachable unless it is off)."""
        usage = "[no] ip unreachables"
        if w[0].lower() == "exit" and len(w) == 1:
            self.mode = "global"
            return
        neg = w[0].lower() == "no"
        rest = w[1:] if neg else w
        if len(rest) >= 2 and rest[0].lower() == "ip" and "unreachables".startswith(rest[1].lower()):
            _no_extra(rest, 2, usage)
            self.cfg.null_unreachables = not neg
            return
        raise _Fail(f"'{_p(' '.join(w))}' is not valid under interface Null0",
                    f"Null0 takes only '{usage}'")

    # -- interface mode --------------------------------------------------
    def sub_interface(self, w: list[str]):
        if isinstance(self.cur, list):   # interface range: apply to each, warn once
            group = self.cur
            mark = len(self.cfg.warnings)
            try:
                for i, iface in enumerate(group):
                    self.cur = iface
                    self.sub_interface(w)
                    if i == 0:
                        mark = len(self.cfg.warnings)
                    else:
                        del self.cfg.warnings[mark:]
            finally:
                if self.mode == "interface":
                    self.cur = group
            return
        iface: Interface = self.cur  # type: ignore[assignment]
        neg = w[0].lower() == "no"
        if neg:
            _need(w, 2, "no COMMAND")
            w = w[1:]
        cmd = _kw_or_ignored(w[0], ["ip", "switchport", "shutdown", "description", "exit", "encapsulation",
                                    "spanning-tree"], IGNORED_INTERFACE, "interface command")
        if cmd == "exit":
            self.mode = "global"
            return
        if cmd in IGNORED_INTERFACE:
            return self.warn(f"'{_p(' '.join(w[:2]))}' ignored on {iface.name}: {IGNORED_INTERFACE[cmd]}")
        if cmd == "encapsulation":
            return self.cmd_encapsulation(iface, w, neg)
        if cmd == "spanning-tree":
            return self.cmd_interface_stp(iface, w, neg)
        if cmd == "shutdown":
            _no_extra(w, 1, "[no] shutdown")
            iface.shutdown = not neg
            return
        if cmd == "description":
            iface.description = "" if neg else self.line.strip().split(None, 1 + neg)[-1] if len(w) > 1 else ""
            return
        if cmd == "switchport":
            return self.cmd_switchport(iface, w, neg)
        # ip ...
        _need(w, 2, "ip address|access-group|nat|proxy-arp|unreachables ...")
        sub = _kw_or_ignored(w[1], ["address", "access-group", "nat", "proxy-arp", "unreachables"],
                             IGNORED_IP_INTERFACE, "interface ip command")
        if sub in IGNORED_IP_INTERFACE:
            return self.warn(f"'ip {sub}' ignored on {iface.name}: {IGNORED_IP_INTERFACE[sub]}")
        if sub == "proxy-arp":
            _no_extra(w, 2, "[no] ip proxy-arp")
            iface.proxy_arp = not neg
            return
        if sub == "unreachables":
            _no_extra(w, 2, "[no] ip unreachables")
            iface.unreachables = not neg
            return
        if sub == "address":
            if neg:
                iface.addresses, iface.negotiated = [], False
                return
            usage = "ip address ADDRESS MASK [secondary] | ip address negotiated"
            _need(w, 3, usage)
            if iface.is_subif and iface.dot1q is None:
                raise _Fail(f"IOS refuses an address on {iface.name} before its VLAN is set: a LAN "
                            "sub-interface needs 'encapsulation dot1Q N' first",
                            f"put 'encapsulation dot1Q {iface.name.subif if iface.name.subif <= 4094 else 10}' "
                            f"above this line, under interface {iface.name}")
            if w[2].lower() in ("negotiated", "dhcp"):
                if w[2].lower() == "dhcp" or iface.name.type != "Dialer":
                    raise _Fail(f"'ip address {w[2].lower()}' is only emulated on the Dialer WAN "
                                "interface", "give a static address: ip address A.B.C.D MASK")
                iface.negotiated = True
                self.addr_lines[iface.name.ios] = self.lineno
                return
            _need(w, 4, usage)
            addr, plen = _ip(w[2]), _mask(w[3])
            ifa = IPv4Interface(f"{addr}/{plen}")
            if plen < 31 and addr in (ifa.network.network_address, ifa.network.broadcast_address):
                raise _Fail(f"{addr} is the {'network' if addr == ifa.network.network_address else 'broadcast'} "
                            f"address of {ifa.network}", "pick a host address inside the subnet")
            secondary = len(w) > 4 and w[4].lower().startswith("sec")
            _no_extra(w, 5 if secondary else 4, usage)
            if secondary:
                if not iface.addresses:
                    raise _Fail("a secondary address needs a primary address first",
                                "put the primary 'ip address' line above this one")
                iface.addresses.append(ifa)
            else:
                iface.addresses[:1] = [ifa]
            self.addr_lines.setdefault(iface.name.ios, self.lineno)
            return
        if sub == "access-group":
            _need(w, 4, "ip access-group ACL in|out")
            _no_extra(w, 4, "ip access-group ACL in|out")
            direction = _kw(w[3], ["in", "out"], "direction")
            _name(w[2], "access-list")
            self.acl_lines[(iface.name.ios, direction)] = self.lineno
            if direction == "in":
                iface.acl_in = None if neg else w[2]
            else:
                iface.acl_out = None if neg else w[2]
            if not neg and _isnum(w[2]) and acl_kind_for_number(w[2]) is None:
                raise _Fail(f"'{_p(w[2])}' is not an IP access-list number",
                            "use 1-99/1300-1999 (standard) or 100-199/2000-2699 (extended)")
            return
        if sub == "nat":
            if not self.cfg.layer3:
                raise _Fail(f"{L2_DEVICE} and has no NAT ('ip nat')", L2_FIX)
            _need(w, 3, "ip nat inside|outside")
            _no_extra(w, 3, "ip nat inside|outside")
            iface.nat = None if neg else _kw(w[2], ["inside", "outside", "enable"], "nat side")
            if iface.nat == "enable":
                raise _Fail("NVI NAT ('ip nat enable') is not emulated", "use ip nat inside/outside")
            return

    def cmd_switchport(self, iface: Interface, w: list[str], neg: bool) -> None:
        if iface.name.type in ("Vlan", "Dialer") or iface.is_subif:
            raise _Fail(f"'switchport' is not valid on {iface.name}", "use it on FastEthernet ports")
        self.switch_lines.setdefault(iface.name.ios, self.lineno)
        if len(w) == 1:
            if neg and not self.cfg.layer3:
                raise _Fail(f"{L2_DEVICE}: its ports are all switchports ('no switchport' is not a "
                            "command there)", L2_FIX)
            iface.switchport = not neg
            return
        if neg:
            raise _Fail(f"'no switchport {_p(w[1])}' is not emulated", "state the mode you want instead")
        sub = _kw(w[1], ["mode", "access", "trunk", "voice", "nonegotiate", "port-security",
                         "host", "priority", "protected", "block", "backup"], "switchport command")
        if iface.switchport is None:
            iface.switchport = True
        if sub == "mode":
            _need(w, 3, "switchport mode access|trunk")
            mode = _kw(w[2], ["access", "trunk", "dynamic", "dot1q-tunnel", "private-vlan"], "switchport mode")
            if mode not in ("access", "trunk"):
                raise _Fail(f"'switchport mode {mode}' is not emulated (no DTP in the lab)",
                            "use 'switchport mode access' or 'switchport mode trunk'")
            iface.mode = mode
            self.mode_lines[iface.name.ios] = self.lineno
        elif sub == "access":
            _need(w, 4, "switchport access vlan N")
            _kw(w[2], ["vlan"], "switchport access option")
            _no_extra(w, 4, "switchport access vlan N")
            iface.access_vlan = _int(w[3], 1, 4094, "VLAN")
            self.access_lines[iface.name.ios] = self.lineno
        elif sub == "trunk":
            _need(w, 3, "switchport trunk allowed vlan LIST | native vlan N | encapsulation dot1q")
            opt = _kw(w[2], ["allowed", "native", "encapsulation", "pruning"], "trunk option")
            if opt == "encapsulation":
                _need(w, 4, "switchport trunk encapsulation dot1q")
                enc = _kw(w[3], ["dot1q", "isl", "negotiate"], "trunk encapsulation")
                if enc != "dot1q":
                    raise _Fail(f"trunk encapsulation {enc} is not emulated", "use dot1q")
                self.trunk_encap.add(iface.name.ios)
            elif opt == "native":
                _need(w, 5, "switchport trunk native vlan N")
                _kw(w[3], ["vlan"], "trunk native option")
                _no_extra(w, 5, "switchport trunk native vlan N")
                iface.trunk_native = _int(w[4], 1, 4094, "VLAN")
            elif opt == "allowed":
                _need(w, 5, "switchport trunk allowed vlan LIST|add LIST|remove LIST|all|none|except LIST")
                _kw(w[3], ["vlan"], "trunk allowed option")
                rest = w[4:]
                op = rest[0].lower()
                if op == "all":
                    iface.trunk_allowed = None
                elif op == "none":
                    iface.trunk_allowed = set()
                elif op in ("add", "remove", "except"):
                    _need(rest, 2, f"switchport trunk allowed vlan {op} LIST")
                    vl = _vlan_list(rest[1:])
                    cur = set(range(1, 4095)) if iface.trunk_allowed is None else iface.trunk_allowed
                    iface.trunk_allowed = (cur | vl if op == "add" else cur - vl if op == "remove"
                                           else set(range(1, 4095)) - vl)
                else:
                    iface.trunk_allowed = _vlan_list(rest)
            else:
                self.warn("'switchport trunk pruning' ignored: no VTP in the lab")
        elif sub == "voice":
            raise _Fail("'switchport voice vlan' tags voice frames on an access port; the Linux-bridge "
                        "builder cannot tag", "put phones on access ports in the voice VLAN "
                        "(switchport access vlan 2)")
        elif sub == "nonegotiate":
            self.warn("'switchport nonegotiate' ignored: no DTP in the lab")
        else:
            self.warn(f"'switchport {sub}' ignored: not emulated")

    def cmd_encapsulation(self, iface: Interface, w: list[str], neg: bool) -> None:
        """`encapsulation dot1Q N [native]` on a router's sub-interface; other kinds on the WAN."""
        usage = "encapsulation dot1Q VLAN [native]"
        _need(w, 2, usage)
        t = w[1].lower()
        if not (t.startswith("dot1q") or (len(t) >= 2 and "dot1q".startswith(t))):
            if t == "isl" or iface.is_subif:
                raise _Fail(f"'encapsulation {_p(w[1], 40)}' is not emulated on {iface.name}",
                            f"use 802.1Q: {usage}")
            return self.warn(f"'{_p(' '.join(w[:2]))}' ignored on {iface.name}: the WAN is an emulated link")
        if not iface.is_subif:
            if iface.switchport or self.cfg.platform == "switch":
                raise _Fail(f"'encapsulation dot1Q' is a router sub-interface command; {iface.name} "
                            "is a switch port", "make it a trunk: switchport trunk encapsulation dot1q, "
                            "switchport mode trunk")
            raise _Fail(f"'encapsulation dot1Q' belongs on an 802.1Q sub-interface, not on {iface.name}",
                        f"write 'interface {iface.name}.10' and put 'encapsulation dot1Q 10' under it")
        if neg:
            iface.dot1q, iface.dot1q_native = None, False
            return
        _need(w, 3, usage)
        vlan = _int(w[2], 1, 4094, "VLAN")
        rest = [x.lower() for x in w[3:]]
        if rest and rest[0].startswith("second"):
            raise _Fail("QinQ ('second-dot1q') is not emulated", f"use one tag: {usage}")
        native = bool(rest) and "native".startswith(rest[0]) and len(rest[0]) >= 2
        _no_extra(w, 4 if native else 3, usage)
        iface.dot1q, iface.dot1q_native = vlan, native
        self.encap_lines[iface.name.ios] = self.lineno

    def cmd_spanning_tree(self, w: list[str]) -> None:
        """Global `spanning-tree ...`: mode, per-VLAN priority, portfast default, the rest warned."""
        st = self.cfg.stp
        st.lines.append(self.lineno)
        _need(w, 2, "spanning-tree mode|vlan|portfast ...")
        sub = _kw(w[1], ["mode", "vlan", "portfast", "mst", *STP_GLOBAL_IGNORED], "spanning-tree command")
        if sub == "mode":
            usage = "spanning-tree mode pvst|rapid-pvst|mst"
            _need(w, 3, usage)
            _no_extra(w, 3, usage)
            st.mode, st.mode_line = _kw(w[2], ["pvst", "rapid-pvst", "mst"], "spanning-tree mode"), self.lineno
            if st.mode == "mst":
                self.warn("MST regions and instances are not emulated: the lab runs RSTP (802.1w), one "
                          "tree for all VLANs, as MST's common instance would with every VLAN in it",
                          "write 'spanning-tree mode rapid-pvst' to say what the lab runs")
            return
        if sub == "vlan":
            usage = ("spanning-tree vlan LIST [priority N | root primary|secondary | "
                     "forward-time S | hello-time S | max-age S]")
            vlans, rest = self._stp_vlans(w, usage)
            if not rest:
                return   # spanning tree on for these VLANs: the default
            opt = _kw(rest[0], ["priority", "root", *STP_TIMERS], "spanning-tree vlan option")
            _need(rest, 2, usage)
            if opt == "priority":
                _no_extra(rest, 2, usage)
                prio = _int(rest[1], 0, 61440, "bridge priority")
                if prio % 4096:
                    raise _Fail(f"bridge priority {prio} is not a multiple of 4096",
                                f"use one of 0, 4096, 8192, ... 61440, e.g. {prio // 4096 * 4096}")
            elif opt == "root":
                which = _kw(rest[1], ["primary", "secondary"], "root option")
                prio = 24576 if which == "primary" else 28672
                self.warn(f"'root {which}' is a macro: IOS sets {prio}, or less than the current root's "
                          f"priority if that is lower; the lab sets {prio}",
                          f"give the priority itself: spanning-tree vlan ... priority {prio}")
            else:
                _no_extra(rest, 2, usage)
                lo, hi, default = STP_TIMERS[opt]
                value = _int(rest[1], lo, hi, f"{opt} (seconds)")
                if value != default:
                    self.warn(f"'{opt} {value}' is not emulated: the lab's spanning tree keeps the "
                              f"default ({default} s)", "remove the line")
                return
            for v in vlans:
                st.priorities[v] = (prio, self.lineno)
            return
        if sub == "portfast":
            usage = "spanning-tree portfast default"
            words = w[3:] if len(w) > 2 and w[2].lower() == "edge" else w[2:]   # newer IOS: portfast edge
            _need(words, 1, usage)
            opt = _kw(words[0], ["default", "bpduguard", "bpdufilter"], "portfast option")
            if opt == "default":
                _no_extra(words, 1, usage)
                st.portfast_default = True
                return
            return self.warn(f"'spanning-tree portfast {opt}' ignored: {STP_INTERFACE_IGNORED[opt]}")
        if sub == "mst":
            if len(w) > 2 and "configuration".startswith(w[2].lower()):
                self.mode = "ignored"   # its indented name/revision/instance lines go with it
            return self.warn("'spanning-tree mst ...' ignored: MST regions are not emulated (the lab runs "
                             "one tree for all VLANs)")
        self.warn(f"'{_p(' '.join(w[:3]), 80)}' ignored: {STP_GLOBAL_IGNORED[sub]}")

    def _stp_vlans(self, w: list[str], usage: str) -> tuple[set[int], list[str]]:
        """`spanning-tree vlan 1,2 - 5 priority N` -> ({1..5}, ["priority", "N"])."""
        i = 2
        while i < len(w) and not w[i][:1].isalpha():
            i += 1
        if i == 2:
            raise _Fail("missing VLAN list", f"usage: {usage}")
        return _vlan_list(w[2:i]), w[i:]

    def cmd_interface_stp(self, iface: Interface, w: list[str], neg: bool) -> None:
        """Interface `spanning-tree ...`: portfast and cost are honoured, the rest warned."""
        usage = "spanning-tree portfast [trunk|disable] | cost N"
        _need(w, 2, usage)
        if _stp_global(w):   # e.g. `spanning-tree vlan 1 priority 4096` indented under an interface
            raise _Fail(f"'{_p(' '.join(w[:2]))} ...' is a global command, not an interface one",
                        "put it outside the interface block")
        self.cfg.stp.lines.append(self.lineno)
        iface.stp_line = iface.stp_line or self.lineno
        sub = _kw(w[1], ["portfast", "cost", "vlan", *STP_INTERFACE_IGNORED], "interface spanning-tree command")
        if iface.name.type in ("Vlan", "Dialer") or iface.is_subif or iface.switchport is False:
            return self.warn(f"'spanning-tree {sub}' ignored on {iface.name}: it is not a switchport, "
                             "and spanning tree runs on switchports")
        if sub == "portfast":
            opts = [_kw(t, ["trunk", "disable", "edge"], "portfast option") for t in w[2:]]
            if neg:
                iface.stp_portfast, iface.stp_portfast_trunk = None, False
            elif "disable" in opts:
                _no_extra(w, 3, usage)
                iface.stp_portfast, iface.stp_portfast_trunk = False, False
            elif "trunk" in opts:
                iface.stp_portfast_trunk = True
            else:
                iface.stp_portfast = True
            return
        if sub == "cost":
            if neg:
                iface.stp_cost = None
                return
            _need(w, 3, usage)
            _no_extra(w, 3, usage)
            iface.stp_cost = _int(w[2], 1, 200000000, "path cost")
            return
        if sub == "vlan":
            vusage = "spanning-tree vlan LIST cost N | port-priority N"
            _, rest = self._stp_vlans(w, vusage)
            _need(rest, 2, vusage)
            _no_extra(rest, 2, vusage)
            opt = _kw(rest[0], ["cost", "port-priority"], "spanning-tree vlan option")
            if opt == "port-priority":
                _int(rest[1], 0, 255, "port priority")
                return self.warn(f"'spanning-tree vlan ... port-priority' ignored on {iface.name}: "
                                 f"{STP_INTERFACE_IGNORED['port-priority']}")
            if not neg:
                iface.stp_cost = _int(rest[1], 1, 200000000, "path cost")
            return self.warn(f"per-VLAN cost on {iface.name} applies to every VLAN: OVS runs one tree",
                             "write 'spanning-tree cost N' to say what the lab does")
        if sub == "port-priority" and not neg:
            _need(w, 3, "spanning-tree port-priority N")
            _int(w[2], 0, 255, "port priority")
        self.warn(f"'spanning-tree {sub}' ignored on {iface.name}: {STP_INTERFACE_IGNORED[sub]}")

    # -- checks across lines ----------------------------------------------
    def finish(self) -> None:
        cfg = self.cfg
        if cfg.platform not in ("switch", "router"):
            is_switch = bool(cfg.vlans) or any(
                i.switchport is not None or i.name.type == "Vlan" for i in cfg.interfaces.values())
            cfg.platform = "switch" if is_switch else "router"
        self.check_ports()
        self.check_subifs()
        for iface in cfg.interfaces.values():
            n = iface.name.ios
            physical = iface.name.type not in ("Vlan", "Dialer") and not iface.is_subif
            if physical and cfg.platform == "switch" and iface.switchport is None:
                iface.switchport = True
            if physical and cfg.platform == "router" and iface.switchport:
                self.error(f"{n}: switchport commands on a router port", "remove them, or parse this "
                           "config as a switch", line=self.switch_lines.get(n, iface.line))
            if iface.switchport and (iface.addresses or iface.negotiated):
                self.error(f"{n} is a layer-2 switchport and cannot have an IP address",
                           f"add 'no switchport' under interface {n} before 'ip address'",
                           line=self.addr_lines.get(n, iface.line))
            if iface.switchport is False and (iface.mode or iface.access_vlan):
                self.error(f"{n} has 'no switchport' but also switchport settings",
                           "keep either the routed port or the switchport lines",
                           line=self.switch_lines.get(n, iface.line))
            if iface.mode == "trunk" and iface.access_vlan:
                self.warn(f"{n} is a trunk; its 'switchport access vlan' is kept but unused",
                          line=self.access_lines.get(n, iface.line))
            if iface.name.type == "Dialer" and not (iface.addresses or iface.negotiated):
                self.warn(f"{n} has no address; the WAN link will carry no IP",
                          "add 'ip address negotiated' or a static address", line=iface.line)
            for d, acl in (("in", iface.acl_in), ("out", iface.acl_out)):
                if acl and acl not in cfg.acls:
                    self.warn(f"{n} applies access list {_p(acl)} ({d}), which is not defined; IOS "
                              "then permits everything, and so does the lab",
                              f"define access list {_p(acl)}", line=self.acl_lines.get((n, d), iface.line))
        self.check_overlaps()
        for r in cfg.routes:
            if r.interface and r.interface.type != "Null" and r.interface.ios not in cfg.interfaces:
                self.warn(f"route via {r.interface}, which is not configured here; IOS keeps such "
                          "a route out of the table, and so does the lab",
                          f"add 'interface {r.interface}' with an address", line=r.line)
        for pool in cfg.pools.values():
            if pool.network is None:
                self.error(f"dhcp pool {_p(pool.name)} has no 'network' line", "add: network A.B.C.D MASK",
                           line=pool.line)
                continue
            for gw in pool.default_routers:
                if gw not in pool.network:
                    self.warn(f"dhcp pool {_p(pool.name)}: default-router {gw} is outside {pool.network}; "
                              "clients cannot reach it", "use the SVI address of that VLAN",
                              line=self.router_lines.get(pool.name, pool.line))
        for pat in cfg.nat_pat:
            if pat.acl not in cfg.acls:
                self.error(f"NAT uses access list {_p(pat.acl)}, which is not defined, so nothing is "
                           "translated", f"add: access-list {_p(pat.acl)} permit 192.168.0.0 0.0.255.255",
                           line=pat.line)
            iface = cfg.interfaces.get(pat.interface.ios)
            if iface is None:
                self.error(f"NAT overloads {pat.interface}, which is not configured",
                           f"add interface {pat.interface} with 'ip nat outside'", line=pat.line)
            elif iface.nat != "outside":
                self.warn(f"NAT overloads {pat.interface}, which lacks 'ip nat outside'; IOS would "
                          "translate nothing", f"add 'ip nat outside' under {pat.interface}",
                          line=pat.line)
        for st in cfg.nat_static:
            if st.global_interface and st.global_interface.ios not in cfg.interfaces:
                self.error(f"static NAT uses {st.global_interface}, which is not configured",
                           f"add interface {st.global_interface}", line=st.line)
        if (cfg.nat_pat or cfg.nat_static) and not any(i.nat == "inside" for i in cfg.interfaces.values()):
            self.warn("NAT is configured but no interface has 'ip nat inside'",
                      "add 'ip nat inside' on the LAN-facing interface",
                      line=min([p.line for p in cfg.nat_pat] + [s.line for s in cfg.nat_static]))
        if cfg.dns_server and not cfg.name_servers:
            self.warn("'ip dns server' without 'ip name-server': the forwarder has nowhere to send "
                      "queries", "add: ip name-server ADDRESS", line=self.dns_line)
        self.check_vlans()
        if not cfg.layer3:
            self.check_management_address()
        self.check_stp()
        if cfg.default_gateway:
            gw, line = cfg.default_gateway
            if cfg.ip_routing:
                self.warn("'ip default-gateway' ignored: this device routes ('ip routing'); IOS uses it "
                          "only on a device that does not route (a 2950, or after 'no ip routing')",
                          f"write 'ip route 0.0.0.0 0.0.0.0 {gw}' instead", line=line)
            elif not any(gw in a.network for i in cfg.interfaces.values() for a in i.addresses):
                self.warn(f"default gateway {gw} is on none of this device's subnets: it cannot be "
                          "reached, so the lab installs no default route",
                          "use an address in the management SVI's subnet", line=line)

    def check_subifs(self) -> None:
        """Sub-interfaces: a router's only; one per VLAN on a port; their port carries no address."""
        cfg = self.cfg
        subifs = [i for i in cfg.interfaces.values() if i.is_subif]
        if subifs and cfg.platform != "router":
            for i in subifs:
                self.error(f"{i.name}: a {model_name(cfg.platform, cfg.layer3)} has no sub-interfaces "
                           "(router-on-a-stick is a router's)", "on a switch, use SVIs (interface VlanN) "
                           "and a trunk (switchport mode trunk)", line=i.line)
            return
        vlans: dict[str, dict[int, Interface]] = {}    # port -> VLAN -> its sub-interface
        native: dict[str, Interface] = {}
        for i in subifs:
            if not platform_has(cfg.platform, i.name):
                continue   # check_ports said so
            parent = i.name.parent
            if parent.ios not in cfg.interfaces:   # a router's port exists without its own block
                cfg.interfaces[parent.ios] = Interface(name=parent, line=i.line)
            if i.dot1q is None:
                self.warn(f"{i.name} has no 'encapsulation dot1Q N': it carries no VLAN, so the lab does "
                          "not build it", f"add 'encapsulation dot1Q N' under interface {i.name}", line=i.line)
                continue
            line = self.encap_lines.get(i.name.ios, i.line)
            other = vlans.setdefault(parent.ios, {}).get(i.dot1q)
            if other is not None:
                self.error(f"{i.name} and {other.name} both use VLAN {i.dot1q} on {parent}; IOS allows one "
                           "sub-interface per VLAN on a port", "give each sub-interface its own VLAN", line=line)
                continue
            vlans[parent.ios][i.dot1q] = i
            if i.dot1q_native:
                if parent.ios in native:
                    self.error(f"{i.name} and {native[parent.ios].name} are both 'native' on {parent}; a trunk "
                               "has one native VLAN", "keep 'native' on one of them", line=line)
                else:
                    native[parent.ios] = i
            elif i.dot1q == 1:
                self.warn(f"{i.name} sends and expects VLAN 1 tagged, but VLAN 1 is a Cisco switch's default "
                          "native VLAN, which crosses the trunk untagged: the two ends disagree",
                          "write 'encapsulation dot1Q 1 native'", line=line)
        for parent in vlans:
            p = cfg.interfaces[parent]
            if p.addresses or p.negotiated:
                self.error(f"an address on {parent}, the port of sub-interfaces, is not emulated: the lab makes "
                           f"{parent} an 802.1Q trunk that only its sub-interfaces use",
                           "put the address on a sub-interface, with 'encapsulation dot1Q N native' for the "
                           "untagged VLAN", line=self.addr_lines.get(parent, p.line))

    def check_vlans(self) -> None:
        """A switch's access ports must be in VLANs it has (IOS refuses the others)."""
        cfg = self.cfg
        if cfg.platform != "switch":
            return
        for iface in cfg.interfaces.values():
            n = iface.name.ios
            if iface.name.type == "Vlan":
                v = int(iface.name.number)
                if v != 1 and v not in cfg.vlans:
                    self.warn(f"{n}: VLAN {v} is not defined; IOS keeps the SVI down until it is, and the "
                              "lab brings it up", f"add 'vlan {v}' to the config", line=iface.line)
            elif iface.switchport and iface.mode == "trunk":
                if cfg.layer3 and n not in self.trunk_encap:
                    self.warn(f"a 3550 refuses 'switchport mode trunk' on {n} until its trunk encapsulation "
                              "is set (it also speaks ISL); the lab's trunks are 802.1Q",
                              "add 'switchport trunk encapsulation dot1q' above 'switchport mode trunk'",
                              line=self.mode_lines.get(n, iface.line))
            elif iface.switchport and iface.access_vlan and iface.access_vlan != 1 \
                    and iface.access_vlan not in cfg.vlans:
                v = iface.access_vlan
                self.error(f"{n} is an access port in VLAN {v}, which is not defined",
                           f"add 'vlan {v}' (with ' name NAME' under it) to the config: a switch in VTP server "
                           "mode keeps its VLANs in vlan.dat, not in the running config, so a pasted config "
                           "may lack them", line=self.access_lines.get(n, iface.line))

    def check_management_address(self) -> None:
        """A layer-2 switch has one IP address, on one SVI, for its management."""
        svis = sorted((i for i in self.cfg.interfaces.values() if i.name.type == "Vlan" and i.addresses),
                      key=lambda i: self.addr_lines.get(i.name.ios, i.line))
        for i in svis[1:]:
            self.error(f"{L2_DEVICE}: it has one management address, already on {svis[0].name} (line "
                       f"{self.addr_lines.get(svis[0].name.ios, svis[0].line)}), so {i.name} cannot have one",
                       "keep one management SVI; a 3550 ('role: l3switch') routes between SVIs",
                       line=self.addr_lines.get(i.name.ios, i.line))

    def check_stp(self) -> None:
        """Decide whether the lab runs spanning tree, and with which mode and bridge priority."""
        cfg, st = self.cfg, self.cfg.stp
        lines = sorted(set(st.lines))
        if cfg.platform == "router":
            for line in lines:
                self.warn("spanning tree ignored: a router does not run it (its ports route, they do not "
                          "bridge)", "remove the line", line=line)
            return
        ifaces = list(cfg.interfaces.values())
        if not any(i.switchport and i.mode == "trunk" for i in ifaces):
            for line in lines:
                self.warn("spanning tree is not run here: it runs only on switches with trunks, and this one "
                          "has none (its VLANs are Linux bridges, which a loop between switches cannot "
                          "join)", "add a trunk ('switchport mode trunk') to run it", line=line)
            return
        st.run = True
        for i in ifaces:
            if i.switchport is False and (i.stp_portfast or i.stp_portfast_trunk or i.stp_cost):
                self.warn(f"'spanning-tree' settings on {i.name} are ignored: it is a routed port",
                          line=i.stp_line)
            elif i.mode == "trunk" and i.stp_portfast and not i.stp_portfast_trunk:
                self.warn(f"'spanning-tree portfast' has no effect on {i.name}, a trunk: IOS makes only "
                          "access ports edge ports", "write 'spanning-tree portfast trunk' to make a trunk "
                          "an edge port", line=i.stp_line)
        if not st.priorities:
            return
        chosen = min(p for p, _ in st.priorities.values())
        st.priority = chosen
        st.priority_line = min(line for p, line in st.priorities.values() if p == chosen)
        others: dict[tuple[int, int], set[int]] = {}   # (priority, line) -> VLANs with it
        for v in cfg.known_vlans():
            prio, line = st.priorities.get(v, (32768, 0))
            if prio != chosen:
                others.setdefault((prio, line), set()).add(v)
        for (prio, line), vs in sorted(others.items(), key=lambda kv: kv[0][1]):
            why = f"with no priority line, IOS gives VLAN {_vlan_text(vs)} 32768" if not line else \
                f"IOS would give VLAN {_vlan_text(vs)} priority {prio}"
            self.warn(f"OVS runs one spanning tree for all VLANs, so the bridge takes priority {chosen} (the "
                      f"lowest asked, line {st.priority_line}) in every VLAN; {why}",
                      f"give every VLAN the same priority: spanning-tree vlan "
                      f"{_vlan_text(cfg.known_vlans())} priority {chosen}", line=line or st.priority_line)

    def check_ports(self) -> None:
        """Every configured interface must exist on the platform: one error per line."""
        missing: dict[int, list[str]] = {}
        for iface in self.cfg.interfaces.values():
            if not platform_has(self.cfg.platform, iface.name):
                missing.setdefault(iface.line, []).append(iface.name.ios)
        model = model_name(self.cfg.platform, self.cfg.layer3)
        for line, names in missing.items():
            what = names[0] if len(names) == 1 else f"{names[0]} ... {names[-1]} ({len(names)} interfaces)"
            self.error(f"{what}: a {model} has no such interface" if len(names) == 1 else
                       f"{what}: a {model} has none of these interfaces",
                       f"use the ports it has: {platform_ports(self.cfg.platform)}", line=line)

    def check_overlaps(self) -> None:
        seen: list[tuple[IPv4Network, str]] = []
        for iface in self.cfg.interfaces.values():
            for a in iface.addresses:
                for net, other in seen:
                    if net.overlaps(a.network):
                        self.error(f"{a.network} on {iface.name} overlaps with {other}",
                                   "give each interface its own subnet",
                                   line=self.addr_lines.get(iface.name.ios, iface.line))
                seen.append((a.network, iface.name.ios))


def parse(text: str, file: str = "<config>", platform: str | None = None,
          layer3: bool = True) -> IosConfig:
    """Parse IOS text; problems are returned in .errors/.warnings, never raised.

    platform: "router" (a Cisco 1841: FastEthernet0/0-0/1, Dialer, sub-interfaces), "switch"
              (a 24-port Catalyst: FastEthernet0/1-0/24, GigabitEthernet0/1-0/2, SVIs), or None
              to infer it from the config (switchport lines, SVIs or `vlan` make a switch).
    layer3:   True (default) for a layer-3 switch, a Catalyst 3550 (routed ports, SVIs, static
              routes, DHCP, ACLs). False for a layer-2 access switch, a Catalyst 2950: every port is
              a switchport, one SVI may carry the management address, `ip default-gateway` is its
              way out, and `ip routing`, `no switchport`, `ip route`, NAT, DHCP pools and a second
              addressed SVI are errors on their line. False implies platform "switch"; the topology
              passes it for `role: switch` nodes, True for `l3switch`.
    """
    if platform not in (None, "switch", "router"):
        raise ValueError("platform must be 'switch', 'router' or None (infer)")
    if not layer3 and platform == "router":
        raise ValueError("a router routes: layer3=False is for platform 'switch' only")
    return _Parser(text, file, platform if layer3 else "switch", layer3).run()


def load(path: str | Path, platform: str | None = None, layer3: bool = True) -> IosConfig:
    """Parse a config file; raise IosConfigError listing every error if there is any.

    `platform` and `layer3` as for parse(): `load(path, platform="switch", layer3=False)` reads
    an access switch (a 2950). IosConfigError is the only exception bad input can raise
    (tests/test_ios_fuzz.py).
    """
    cfg = parse(read(path), str(path), platform, layer3)
    if cfg.errors:
        raise IosConfigError(cfg.errors)
    return cfg
