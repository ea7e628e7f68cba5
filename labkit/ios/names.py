"""IOS interface names: abbreviations in, canonical names and Linux names out.

IOS accepts any unique prefix of an interface type, with or without a space
before the number (`fast 0/1`, `Fast0/0`, `Fa0/1`, `FastEthernet0/1`).  Linux
names may not contain '/' and are at most 15 bytes, so labkit uses one fixed,
reversible mapping (the lab builder names veths and bridges with it):

    FastEthernet0/1     -> fa0-1
    GigabitEthernet0/1  -> gi0-1
    Ethernet0/0         -> et0-0
    Vlan2               -> vlan2
    Dialer1             -> dialer1
    FastEthernet0/0.10  -> fa0-0.10   (an 802.1Q sub-interface: the port's name, a dot, its number)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.diag import printable

# canonical type -> (linux prefix, kind of numbering)
TYPES: dict[str, tuple[str, str]] = {
    "FastEthernet": ("fa", "slot"),
    "GigabitEthernet": ("gi", "slot"),
    "TenGigabitEthernet": ("te", "slot"),
    "Ethernet": ("et", "slot"),
    "Vlan": ("vlan", "number"),
    "Dialer": ("dialer", "number"),
    "Null": ("null", "number"),
}
# Types IOS has but the lab cannot build; named so the error can say why.
UNSUPPORTED_TYPES = {
    "Loopback": "loopback interfaces are not built by the lab",
    "Serial": "serial links are not emulated; use a FastEthernet routed port",
    "Tunnel": "tunnels are not emulated",
    "Port-channel": "EtherChannel is not emulated",
    "BVI": "bridge-group virtual interfaces are not emulated",
    "Virtual-Template": "PPP virtual templates are not emulated",
    "Async": "async lines are not emulated",
    "ATM": "ATM (DSL) interfaces are not emulated; use Dialer1 as the WAN",
}
_ALL = list(TYPES) + list(UNSUPPORTED_TYPES)


class InterfaceNameError(ValueError):
    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class IfName:
    type: str     # canonical type, e.g. "FastEthernet"
    number: str   # "0/1" or "2"

    @property
    def ios(self) -> str:
        return f"{self.type}{self.number}"

    @property
    def subif(self) -> int | None:
        """The sub-interface number (FastEthernet0/0.10 -> 10), None for a whole interface."""
        _, dot, sub = self.number.partition(".")
        return int(sub) if dot else None

    @property
    def parent(self) -> "IfName":
        """The interface a sub-interface belongs to (itself for a whole interface)."""
        return IfName(self.type, self.number.partition(".")[0])

    @property
    def linux(self) -> str:
        prefix, _ = TYPES[self.type]
        return f"{prefix}{self.number.replace('/', '-')}"

    @property
    def short(self) -> str:
        """The abbreviation IOS prints in show output (Fa0/1, Vl2, Di1)."""
        abbrev = {"FastEthernet": "Fa", "GigabitEthernet": "Gi", "TenGigabitEthernet": "Te",
                  "Ethernet": "Et", "Vlan": "Vl", "Dialer": "Di", "Null": "Nu"}[self.type]
        return f"{abbrev}{self.number}"

    def __str__(self) -> str:
        return self.ios


_NAME_RE = re.compile(r"^([A-Za-z][A-Za-z-]*?)\s*(\d[\d/.:]*)$", re.ASCII)


def parse_ifname(text: str) -> IfName:
    """Canonical IfName for an IOS interface name in any accepted spelling."""
    raw = " ".join(text.split())
    m = _NAME_RE.match(raw)
    if not m:
        raise InterfaceNameError(f"'{printable(raw)}' is not an interface name",
                                 "write a type and a number, e.g. FastEthernet0/1 or Vlan2")
    word, number = m.group(1).lower(), m.group(2)
    matches = [t for t in _ALL if t.lower().startswith(word)]
    if len(matches) > 1:
        # an exact-type match wins (Ethernet vs. its longer cousins)
        exact = [t for t in matches if t.lower() == word]
        matches = exact or matches
    if not matches:
        raise InterfaceNameError(f"unknown interface type '{printable(m.group(1))}'",
                                 "use FastEthernet, GigabitEthernet, Vlan or Dialer")
    if len(matches) > 1:
        raise InterfaceNameError(f"ambiguous interface type '{printable(m.group(1))}' "
                                 f"(could be {', '.join(matches)})",
                                 "type more letters of the interface type")
    itype = matches[0]
    if itype in UNSUPPORTED_TYPES:
        raise InterfaceNameError(f"{itype}{printable(number)}: {UNSUPPORTED_TYPES[itype]}",
                                 "use a FastEthernet routed port, an SVI or Dialer1")
    kind = TYPES[itype][1]
    if kind == "slot":
        port, dot, sub = number.partition(".")
        if not re.fullmatch(r"\d+(/\d+){0,2}", port, re.ASCII):
            raise InterfaceNameError(f"bad port number '{printable(number)}' for {itype}",
                                     f"write it like {itype}0/1")
        if dot and (not re.fullmatch(r"\d{1,10}", sub, re.ASCII) or not 1 <= int(sub) <= 4294967295):
            raise InterfaceNameError(f"bad sub-interface number '{printable(sub, 40)}' in {itype}{printable(number)}",
                                     f"write it like {itype}{port}.10 (a number from 1, usually the VLAN)")
    else:
        if "." in number:
            raise InterfaceNameError(f"{itype}{printable(number)}: only Ethernet ports have sub-interfaces",
                                     "write it like FastEthernet0/0.10")
        if not re.fullmatch(r"\d+", number, re.ASCII):
            raise InterfaceNameError(f"bad number '{printable(number)}' for {itype}",
                                     f"write it like {itype}1")
        out_of_range = InterfaceNameError(f"VLAN {printable(number)} is out of range",
                                          "use a VLAN from 1 to 4094")
        if itype == "Vlan" and len(number) > 4:   # int() refuses more than 4,300 digits
            raise out_of_range
        if itype == "Vlan" and not 1 <= int(number) <= 4094:
            raise out_of_range
    name = IfName(itype, number)
    if len(name.linux) > 15:
        raise InterfaceNameError(f"{printable(name.ios)} maps to Linux name '{printable(name.linux)}', longer than 15 "
                                 "characters", "use a shorter sub-interface number, e.g. the VLAN's "
                                 f"({name.parent.ios}.10)" if name.subif is not None else "use a shorter port number")
    return name


def linux_name(ios_name: str) -> str:
    """The Linux interface name the lab builder must give an IOS interface."""
    return parse_ifname(ios_name).linux


def ios_name(linux: str) -> str | None:
    """Reverse of linux_name(): 'fa0-1' -> 'FastEthernet0/1'; None if not an IOS-mapped name."""
    for itype, (prefix, kind) in sorted(TYPES.items(), key=lambda kv: -len(kv[1][0])):
        if linux.startswith(prefix):
            rest = linux[len(prefix):]
            pattern = r"\d+(-\d+){0,2}(\.\d+)?" if kind == "slot" else r"\d+"
            if re.fullmatch(pattern, rest, re.ASCII):
                return f"{itype}{rest.replace('-', '/')}"
    return None


# The ports each platform has (docs/notes/ios.md, "Platforms"). A slot type maps to
# (slot prefix, first port, last port); a number type to (first, last).
#   switch: a Cisco 3550-24, FastEthernet0/1-0/24, GigabitEthernet0/1-0/2 and SVIs.
#   router: the seed's home router as a Cisco 1841 without switch modules:
#           FastEthernet0/0-0/1 and the Dialer (virtual, 0-255) of its DSL WAN.
PLATFORM_PORTS: dict[str, dict[str, tuple]] = {
    "switch": {"FastEthernet": ("0/", 1, 24), "GigabitEthernet": ("0/", 1, 2), "Vlan": (1, 4094)},
    "router": {"FastEthernet": ("0/", 0, 1), "Dialer": (0, 255)},
}
PLATFORM_MODEL = {"switch": "Cisco 3550-24 switch", "router": "Cisco 1841 router"}
#: platform "switch" without layer 3 (`ios.load(..., platform="switch", layer3=False)`): an
#: access switch of the 2950 class, same ports as the 3550-24 (the 2950T-24's two uplinks too)
L2_SWITCH_MODEL = "Cisco 2950T-24 switch"


def model_name(platform: str, layer3: bool = True) -> str:
    """The device a platform stands for, as error messages name it."""
    return L2_SWITCH_MODEL if platform == "switch" and not layer3 else PLATFORM_MODEL[platform]


def platform_has(platform: str, name: IfName) -> bool:
    """True when `platform` ("switch" | "router") has the interface `name` (or its port)."""
    if name.type == "Null":
        return True
    name = name.parent   # a sub-interface exists where its port does (whether it may: the parser says)
    spec = PLATFORM_PORTS[platform].get(name.type)
    if spec is None:
        return False
    prefix, lo, hi = spec if len(spec) == 3 else ("", *spec)
    port = name.number[len(prefix):] if name.number.startswith(prefix) else ""
    return re.fullmatch(r"\d{1,4}", port, re.ASCII) is not None and lo <= int(port) <= hi


def platform_ports(platform: str) -> str:
    """The ports of `platform` in words, for a fix: 'FastEthernet0/1-0/24, ...'."""
    out = []
    for itype, spec in PLATFORM_PORTS[platform].items():
        if len(spec) == 2:
            out.append(f"{itype}{spec[0]}-{spec[1]}")
        else:
            out.append(f"{itype}{spec[0]}{spec[1]}-{spec[0]}{spec[2]}")
    return ", ".join(out)
