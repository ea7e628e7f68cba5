"""Load and validate a topology YAML file into the model.

Every error is one line, ``file:line: what is wrong (fix: what to do)``, and is
raised before anything is started, so a bad file never leaves a half-built lab.
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Callable

from labkit import paths
from labkit.diag import printable, unknown_key_fix

from .errors import TopologyError, Where
from .model import (ROLES, Check, Endpoint, Interface, Link, Node, Route, Stp,
                    ServiceSpec, Topology, Vlan)
from .params import Param, convert, validate
from .plugins import registry
from .yamlpos import YList, YMap, load_yaml, read

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
IFNAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$")
TOP_KEYS = {"name", "title", "vlans", "nodes", "links", "checks", "extends"}
NODE_KEYS = {"role", "label", "interfaces", "svis", "routes", "gateway", "services", "pos", "dns", "stp"}
INTF_KEYS = {"address", "addresses", "dhcp", "vlan", "trunk", "native", "shutdown"}
FILE_PARAMS = ("config", "zonefile", "files")   # resolved for service kinds that declare no params
_FILES = Param("files")                          # ...as one file, a list of them or a mapping role -> file


def safely(test: Callable[[], bool]) -> bool:
    """A file-system test, False for a name the OS refuses (a NUL byte, too long)."""
    try:
        return test()
    except (OSError, ValueError):
        return False


def resolve(spec: str | Path) -> Path:
    """`seed` -> the first topologies/seed.yaml on the search path (labkit.paths); else a path."""
    p = Path(spec)
    if p.suffix not in (".yaml", ".yml") and not safely(p.exists):
        try:
            p = paths.topology(f"{spec}.yaml")
        except (OSError, ValueError):   # a name the OS refuses is no topology either
            pass
    return p


def load(spec: str | Path) -> Topology:
    path = resolve(spec)
    if not safely(path.is_file):
        known = ", ".join(sorted({q.stem for d in paths.topologies_dirs() for q in d.glob("*.yaml")}))
        raise TopologyError(None, f"no topology file {path}", f"pick one of: {known or 'none found'}")
    return Loader(path, _with_base(path, load_yaml(read(path, str(path)), str(path)), [])).topology()


def _with_base(path: Path, data: Any, seen: list[Path]) -> Any:
    """`extends: seed.yaml`: this file is that one with this file's keys laid over it.

    Mappings merge key by key (so a node can change just its `ios:` file); anything else
    (a list of links or checks, a value) is replaced whole. The base is named relative to
    this file, and its own file names stay relative to where it lives in the same directory.
    """
    if not isinstance(data, YMap) or "extends" not in data:
        return data
    where = data.at("extends")
    rel = value_of(data["extends"], where, "the file 'extends' names", "e.g. 'extends: seed.yaml'")
    base = (path.parent / rel)
    if not safely(base.is_file) or base.parent.resolve() != path.parent.resolve():
        raise _fail(where, f"'extends: {printable(rel, 80)}' is not a topology file beside {path.name}",
                    "name a .yaml file in the same directory, e.g. 'extends: seed.yaml'")
    if base.resolve() in seen or len(seen) > 8:
        raise _fail(where, f"'extends' goes round in a circle ({' -> '.join(p.name for p in [*seen, base])})",
                    "let each topology extend one that does not extend it back")
    merged = _with_base(base, load_yaml(read(base, str(base)), str(base)), [*seen, path.resolve()])
    if not isinstance(merged, YMap):
        raise _fail(where, f"{base.name} is not a topology mapping", "extend a topology file such as seed.yaml")
    return _overlay(merged, data)


def _overlay(base: YMap, top: YMap) -> YMap:
    out = YMap(base)
    out.where, out.key_where = top.where, {**base.key_where, **top.key_where}
    for key, value in top.items():
        if key == "extends":
            continue
        out[key] = _overlay(base[key], value) if isinstance(value, YMap) and isinstance(base.get(key), YMap) else value
    return out


def _fail(where: Where, msg: str, fix: str = "") -> TopologyError:
    return TopologyError(where, msg, fix)


# -- shapes ----------------------------------------------------------------------------
# Every field is checked for its shape (mapping, list, one value) before its value is
# read, so a list where a mapping belongs is an error at that node's line, never an
# AttributeError deep in the loader.

def shape(value: Any) -> str:
    """What a YAML value is, in the words of an error message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"'{printable(value, 60)}'"


def _is_value(value: Any) -> bool:
    """One value: text or a number (YAML also reads dates); not a list, mapping, null or boolean."""
    return value is not None and not isinstance(value, (dict, list, bool))


def _mapping(value: Any, where: Where, what: str, example: str) -> YMap:
    """`value` if it is a mapping; nothing (an empty `key:`) is an empty one."""
    if value is None:
        empty = YMap()
        empty.where, empty.key_where = where, {}
        return empty
    if not isinstance(value, YMap):
        raise _fail(where, f"{what} must be a mapping, not {shape(value)}", example)
    return value


def sequence(value: Any, where: Where, what: str, example: str) -> YList:
    """`value` if it is a list; nothing (an empty `key:`) is an empty one."""
    if value is None:
        empty = YList()
        empty.where, empty.item_where = where, []
        return empty
    if not isinstance(value, YList):
        raise _fail(where, f"{what} must be a list, not {shape(value)}", example)
    return value


def _one_or_list(value: Any, where: Where) -> list[tuple[Any, Where]]:
    """`key: X` or `key: [X, Y]`, as (item, where) pairs."""
    if isinstance(value, YList):
        return list(zip(value, value.item_where))
    return [(value, where)]


def value_of(value: Any, where: Where, what: str, example: str) -> str:
    """One word or number, as text."""
    if not _is_value(value):
        raise _fail(where, f"{what} must be one value, not {shape(value)}", example)
    return str(value)


def _optional_text(m: YMap, key: str, what: str, example: str, default: str = "") -> str:
    return default if m.get(key) is None else value_of(m[key], m.at(key), what, example)


def _flag(m: YMap, key: str, what: str) -> bool:
    value = m.get(key, False)
    if not isinstance(value, bool):
        raise _fail(m.at(key), f"{what} must be true or false, not {shape(value)}", f"write '{key}: true' or '{key}: false'")
    return value


def unknown_keys(m: YMap, allowed: set[str], what: str) -> None:
    for key in m:
        if key not in allowed:
            raise _fail(m.at(key), f"unknown key '{printable(key, 60)}' in {what}", unknown_key_fix(key, allowed))


def parse_interface(text: Any, where: Where) -> ipaddress.IPv4Interface:
    """An address with its prefix length, e.g. 192.168.1.1/24."""
    s = str(text).strip()
    if "/" not in s:
        raise _fail(where, f"address '{s}' has no prefix length", f"write it as {s}/24 (or the right length)")
    try:
        addr = ipaddress.IPv4Interface(s)
    except ValueError as exc:
        raise _fail(where, f"bad address '{s}': {exc}", "use dotted quad/length, e.g. 192.168.1.10/24") from None
    if addr.network.prefixlen < 31 and addr.ip in (addr.network.network_address, addr.network.broadcast_address):
        raise _fail(where, f"address '{s}' is the network or broadcast address of {addr.network}",
                    "pick a host address inside the subnet")
    return addr


def parse_route(text: Any, where: Where) -> Route:
    """`PREFIX via GW`, `PREFIX dev IF` or `default via GW`."""
    words = str(text).split()
    if len(words) != 3 or words[1] not in ("via", "dev"):
        raise _fail(where, f"route '{text}' is not 'PREFIX via GATEWAY' or 'PREFIX dev INTERFACE'",
                    "e.g. 'default via 192.168.1.1' or '192.168.0.0/16 dev eth1'")
    prefix = "0.0.0.0/0" if words[0] == "default" else words[0]
    try:
        net = ipaddress.IPv4Network(prefix)
    except ValueError as exc:
        raise _fail(where, f"bad route prefix '{words[0]}': {exc}",
                    "the prefix must have no host bits set, e.g. 192.168.0.0/16") from None
    if words[1] == "via":
        try:
            return Route(net, via=ipaddress.IPv4Address(words[2]), where=where)
        except ValueError:
            raise _fail(where, f"bad gateway '{words[2]}'", "write the next hop as an IPv4 address") from None
    return Route(net, dev=words[2], where=where)


class Loader:
    """One load of one file. Also the ParamContext that typed parameters validate against."""

    def __init__(self, path: Path, data: Any):
        self.path = path
        self.data = data
        self.reg = registry()
        self.topo: Topology | None = None

    # -- params.ParamContext ---------------------------------------------------------
    def node_names(self) -> list[str]:
        return list(self.topo.nodes) if self.topo is not None else []

    def resolve_file(self, value: Any, where: Where) -> Path:
        return self.file(value, where)

    def topology(self) -> Topology:
        d = self.data
        top_where = Where(str(self.path), 1)
        if not isinstance(d, YMap):
            raise _fail(top_where, "a topology file must be a mapping with 'nodes' and 'links'",
                        "start from topologies/seed.yaml")
        unknown_keys(d, TOP_KEYS, "the topology")
        if "nodes" not in d:
            raise _fail(top_where, "the topology has no 'nodes'", "add a 'nodes:' mapping")
        name = _optional_text(d, "name", "'name'", "e.g. 'name: seed'", self.path.stem)
        if not NAME_RE.match(name):
            raise _fail(d.at("name"), f"lab name '{name}' is not a short lowercase name",
                        "use up to 12 of a-z, 0-9 and '-', starting with a letter")
        topo = Topology(name=name, path=self.path.resolve(), title=_optional_text(d, "title", "'title'", "e.g. 'title: my first lab'"))
        self.topo = topo
        self.vlans(topo, d.get("vlans"))
        nodes = d["nodes"]
        if not isinstance(nodes, YMap):
            raise _fail(d.at("nodes"), f"'nodes' must be a mapping of name -> node, not {shape(nodes)}",
                        "see topologies/seed.yaml")
        for nname, spec in nodes.items():
            topo.nodes[str(nname)] = self.node(topo, str(nname), spec, nodes.at(nname))
        links = self._list(d, "links")
        for item, where in zip(links, links.item_where):
            topo.links.append(self.link(topo, item, where))
        self.cross_checks(topo)
        checks = self._list(d, "checks")
        for item, where in zip(checks, checks.item_where):
            topo.checks.append(self.check(topo, item, where))
        return topo

    def _list(self, d: YMap, key: str) -> YList:
        return sequence(d.get(key), d.at(key), f"'{key}'", f"write each of the {key} on a line starting with '- '")

    def vlans(self, topo: Topology, spec: Any) -> None:
        if spec is None:
            return
        if not isinstance(spec, YMap):
            raise _fail(self.data.at("vlans"), f"'vlans' must map VLAN numbers to names, not {shape(spec)}",
                        "e.g. 'vlans: {1: data, 2: voice}'")
        for vid, name in spec.items():
            if not isinstance(vid, int) or not 1 <= vid <= 4094:   # never a bool: yamlpos keeps `on:` as text
                raise _fail(spec.at(vid), f"VLAN id '{vid}' is not a number from 1 to 4094", "use the 802.1Q VLAN number")
            vname = f"VLAN{vid}" if name is None else value_of(name, spec.at(vid), f"the name of VLAN {vid}", "e.g. '1: data'")
            topo.vlans[vid] = Vlan(vid, vname, spec.at(vid))

    def node(self, topo: Topology, name: str, spec: Any, where: Where) -> Node:
        if not NAME_RE.match(name):
            raise _fail(where, f"node name '{name}' is not a short lowercase name",
                        "use up to 12 of a-z, 0-9 and '-', starting with a letter")
        if not isinstance(spec, YMap):
            raise _fail(where, f"node '{name}' must be a mapping with at least 'role'", "e.g. 'role: host'")
        unknown_keys(spec, NODE_KEYS | set(self.reg.expanders), f"node '{name}'")
        role = spec.get("role")
        if not _is_value(role) or role not in ROLES:
            raise _fail(spec.at("role"), f"node '{name}' has role '{printable(role, 60)}'", f"use one of: {', '.join(ROLES)}")
        node = Node(name=name, role=role, where=where,
                    label=_optional_text(spec, "label", f"the label of node '{name}'", "e.g. 'label: web server'"))
        if "pos" in spec:
            pos = spec["pos"]
            if not (isinstance(pos, YList) and len(pos) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)):
                raise _fail(spec.at("pos"), "'pos' must be [x, y]", "e.g. 'pos: [2, 1]'")
            node.pos = (float(pos[0]), float(pos[1]))
        interfaces = _mapping(spec.get("interfaces"), spec.at("interfaces"), f"'interfaces' of node '{name}'",
                              "write one 'NAME: ADDRESS' per line under 'interfaces:', e.g. 'interfaces: {eth0: 10.0.0.1/24}'")
        for iname, ispec in interfaces.items():
            node.interfaces[str(iname)] = self.interface(topo, node, str(iname), ispec, interfaces.at(iname))
        for key, expander in self.reg.expanders.items():
            if key not in spec:
                continue
            if role not in expander.roles:
                raise _fail(spec.at(key), f"node '{name}' is a {role}; only a {' or '.join(expander.roles)} "
                            f"takes '{key}:'", f"set 'role: {expander.roles[0]}' or remove '{key}:'")
            path = self.file(spec[key], spec.at(key))
            node.configs[key] = path
            try:
                expander.expand(topo, node, path, spec.at(key))
            except (OSError, UnicodeError) as exc:   # the plug-in could not read the file it was given
                raise _fail(spec.at(key), f"cannot read the {key} config {path.name}: {printable(exc, 200)}",
                            "save it as UTF-8 text and check that it is readable") from None
        if "stp" in spec:
            mode = spec["stp"]
            if role not in ("switch", "l3switch") or not _is_value(mode) or mode not in ("rstp", "stp"):
                raise _fail(spec.at("stp"), f"'stp: {printable(mode, 40)}' on {role} '{name}'",
                            "a switch takes 'stp: rstp' (802.1w) or 'stp: stp' (802.1D)")
            node.stp = Stp(mode=mode, where=spec.at("stp"))
        svis = _mapping(spec.get("svis"), spec.at("svis"), f"'svis' of node '{name}'", "e.g. 'svis: {1: 192.168.1.1/24}'")
        if svis and role != "l3switch":
            raise _fail(spec.at("svis"), f"node '{name}' is a {role}; only an l3switch has SVIs", "set 'role: l3switch' or move the address to an interface")
        for vid, addr in svis.items():
            if vid not in topo.vlans:
                raise _fail(svis.at(vid), f"SVI for VLAN {vid}, which is not defined", f"add '{vid}: NAME' under 'vlans:'")
            addr = value_of(addr, svis.at(vid), f"the SVI address of VLAN {vid}", f"e.g. '{vid}: 192.168.1.1/24'")
            node.svis[vid] = [parse_interface(addr, svis.at(vid))]
            node.svi_where[vid] = svis.at(vid)
        routes = sequence(spec.get("routes"), spec.at("routes"), f"'routes' of node '{name}'",
                           "write each route on a line starting with '- ', e.g. 'routes: [default via 10.0.0.1]'")
        for rspec, rwhere in zip(routes, routes.item_where):
            rspec = value_of(rspec, rwhere, "a route", "e.g. '- default via 192.168.1.1'")
            node.routes.append(parse_route(rspec, rwhere))
        if "dns" in spec:
            for server, swhere in _one_or_list(spec["dns"], spec.at("dns")):
                try:
                    if not _is_value(server):
                        raise ValueError
                    node.dns.append(ipaddress.IPv4Address(str(server)))
                except ValueError:
                    raise _fail(swhere, f"DNS server {shape(server)} is not an IPv4 address",
                                "e.g. 'dns: 100.64.1.53'") from None
        if "gateway" in spec:
            gateway = value_of(spec["gateway"], spec.at("gateway"), f"the gateway of node '{name}'", "e.g. 'gateway: 192.168.1.1'")
            node.routes.append(parse_route(f"default via {gateway}", spec.at("gateway")))
        services = sequence(spec.get("services"), spec.at("services"), f"'services' of node '{name}'",
                             "write each service on a line starting with '- ', e.g. 'services: [{type: http, port: 80}]'")
        for sspec, swhere in zip(services, services.item_where):
            node.services.append(self.service(node, sspec, swhere))
        for intf in node.interfaces.values():  # a DHCP interface gets its client daemon
            if intf.dhcp:
                node.services.append(ServiceSpec("dhcp-client", f"dhcp-{intf.name}", {"interface": intf.name},
                                                 intf.where or where))
        return node

    def interface(self, topo: Topology, node: Node, iname: str, spec: Any, where: Where) -> Interface:
        if not IFNAME_RE.match(iname):
            raise _fail(where, f"interface name '{iname}' is not a Linux interface name",
                        "use at most 15 letters, digits, '-', '_' or '.', e.g. eth0 or fa0-1")
        intf = Interface(name=iname, where=where)
        if spec is None:
            return intf
        if isinstance(spec, str) and spec == "dhcp":
            spec = YMap({"dhcp": True})
            spec.where, spec.key_where = where, {}
        elif _is_value(spec):
            spec = YMap({"address": spec})
            spec.where, spec.key_where = where, {}
        elif not isinstance(spec, YMap):
            raise _fail(where, f"interface {node.name}:{iname} is {shape(spec)}",
                        f"write '{iname}: ADDRESS/LEN', '{iname}: dhcp' or a mapping such as "
                        f"'{iname}: {{addresses: [10.0.0.1/24, 10.0.1.1/24]}}'")
        unknown_keys(spec, INTF_KEYS, f"interface {node.name}:{iname}")
        if spec.get("addresses"):
            addrs = _one_or_list(spec["addresses"], spec.at("addresses"))
        else:
            addrs = [(spec["address"], spec.at("address"))] if spec.get("address") is not None else []
        intf.addresses = [parse_interface(value_of(a, w, f"an address of {node.name}:{iname}", "e.g. 10.0.0.1/24"), w)
                          for a, w in addrs]
        intf.dhcp = _flag(spec, "dhcp", f"'dhcp' of {node.name}:{iname}")
        intf.shutdown = _flag(spec, "shutdown", f"'shutdown' of {node.name}:{iname}")
        if intf.dhcp and node.role != "host":
            raise _fail(where, f"{node.name}:{iname} asks for DHCP, but only hosts lease addresses", "give the interface a static address")
        for key in ("vlan", "trunk", "native"):
            if key in spec and node.role not in ("switch", "l3switch"):
                raise _fail(spec.at(key), f"{node.name} is a {node.role}; only switch ports have '{key}'",
                            "put the VLAN on the switch port this host connects to")
        if "vlan" in spec:
            intf.vlan = self.vlan_ref(topo, spec["vlan"], spec.at("vlan"))
        if "trunk" in spec:
            intf.trunk = [self.vlan_ref(topo, v, w) for v, w in _one_or_list(spec["trunk"], spec.at("trunk"))]
        if "native" in spec:
            if "trunk" not in spec:
                raise _fail(spec.at("native"), f"{node.name}:{iname} has 'native' but no 'trunk'",
                            "a native VLAN is the untagged VLAN of a trunk: add 'trunk: [...]' or drop it")
            intf.native = self.vlan_ref(topo, spec["native"], spec.at("native"))
        return intf

    def vlan_ref(self, topo: Topology, vid: Any, where: Where) -> int:
        if not _is_value(vid):
            raise _fail(where, f"a VLAN is a number, not {shape(vid)}", "e.g. 'vlan: 1' or 'trunk: [1, 2]'")
        if vid not in topo.vlans:
            known = ", ".join(str(v) for v in sorted(topo.vlans)) or "none"
            raise _fail(where, f"VLAN {vid} is not defined (defined: {known})", f"add '{vid}: NAME' under 'vlans:' or fix the number")
        return int(vid)

    def file(self, rel: Any, where: Where) -> Path:
        rel = value_of(rel, where, "a file name", f"name the file relative to {self.path.parent}")
        p = self.path.parent / rel
        p = p.resolve() if safely(p.is_file) else p
        if not safely(p.is_file):
            raise _fail(where, f"config file '{printable(rel, 200)}' does not exist (looked for {printable(p, 300)})",
                        f"create it or fix the path; paths are relative to {self.path.parent}")
        return p

    def service(self, node: Node, spec: Any, where: Where) -> ServiceSpec:
        kinds = ", ".join(sorted(self.reg.services))
        if isinstance(spec, str):
            spec = YMap({"type": spec})
            spec.where, spec.key_where = where, {}
        if not isinstance(spec, YMap) or "type" not in spec:
            raise _fail(where, f"a service of '{node.name}' has no 'type'", f"use one of: {kinds}")
        kind = value_of(spec["type"], spec.at("type"), "a service's 'type'", f"use one of: {kinds}")
        if kind not in self.reg.services:
            raise _fail(spec.at("type"), f"unknown service type '{printable(kind, 60)}'", f"use one of: {kinds}")
        decl = self.reg.service(kind).params
        given = {k: v for k, v in spec.items() if k not in ("type", "name")}
        name = _optional_text(spec, "name", "a service's 'name'", "e.g. 'name: web'", kind)
        if decl is not None:
            shaped = YMap(given)
            shaped.where, shaped.key_where = where, {k: spec.at(k) for k in given}
            params = validate(decl, shaped, where, self, f"service '{kind}'")
            self.reg.service(kind).check_params(params, where)
        else:
            params = {}
            for key, value in given.items():
                if key in FILE_PARAMS:
                    value = convert(_FILES, value, spec.at(key), self)
                params[str(key)] = value
        if any(s.name == name for s in node.services):
            raise _fail(where, f"'{node.name}' has two services named '{name}'", "give one of them a 'name:'")
        return ServiceSpec(kind=kind, name=name, params=params, where=where)

    def endpoint(self, topo: Topology, text: Any, where: Where, used: set[tuple[str, str]]) -> Endpoint:
        s = value_of(text, where, "a link end", "e.g. 'router:fa0-0'").strip()
        nname, _, iname = s.partition(":")
        if nname not in topo.nodes:
            raise _fail(where, f"link to unknown node '{nname}'", f"define '{nname}' under 'nodes:' or fix the name (known: {', '.join(topo.nodes)})")
        node = topo.nodes[nname]
        if not iname:
            n = 0
            while (nname, f"eth{n}") in used or f"eth{n}" in node.interfaces and topo.link_of(nname, f"eth{n}"):
                n += 1
            iname = f"eth{n}"
        if (nname, iname) in used:
            raise _fail(where, f"interface {nname}:{iname} is already used by another link", "each interface takes one link; use another interface name")
        if iname in node.interfaces and node.interfaces[iname].internal:
            raise _fail(where, f"{nname}:{iname} is a port the node makes itself (a tagged sub-interface), "
                        "not a cable end", f"link the port it rides on (e.g. {iname.split('.')[0]}) instead")
        if iname not in node.interfaces:
            if not IFNAME_RE.match(iname):
                raise _fail(where, f"interface name '{iname}' is not a Linux interface name", "use at most 15 characters, e.g. eth1 or fa0-2")
            made = None
            for key in node.configs:
                if key in self.reg.expanders:
                    try:
                        made = made or self.reg.expanders[key].implicit_port(node, iname)
                    except ValueError as exc:   # a name the device's config language refuses
                        raise _fail(where, f"interface {nname}:{iname}: {printable(exc, 200)}",
                                    getattr(exc, "fix", "") or "use a port the device has") from None
            node.interfaces[iname] = made or Interface(name=iname, where=where)
        used.add((nname, iname))
        return Endpoint(nname, iname)

    def link(self, topo: Topology, item: Any, where: Where) -> Link:
        if isinstance(item, str) and item.count("--") == 1:
            ends = item.split("--")
        elif isinstance(item, list) and len(item) == 2:
            ends = list(item)
        else:
            raise _fail(where, f"a link must be 'A -- B' or [A, B], not {shape(item)}", "e.g. 'router:fa0-0 -- sw3550:fa0-1'")
        used = {(e.node, e.intf) for link in topo.links for e in (link.a, link.b)}
        a = self.endpoint(topo, ends[0], where, used)
        b = self.endpoint(topo, ends[1], where, used)
        if a.node == b.node:
            raise _fail(where, f"link joins '{a.node}' to itself", "connect two different nodes")
        return Link(a, b, where)

    def cross_checks(self, topo: Topology) -> None:
        seen: dict[ipaddress.IPv4Address, str] = {}
        for node in topo.nodes.values():
            for intf in node.interfaces.values():
                declared_here = intf.where is not None and intf.where.file == str(self.path)
                if topo.link_of(node.name, intf.name) is None and declared_here:
                    raise _fail(intf.where, f"interface {node.name}:{intf.name} is in no link",
                                f"add a link such as '{node.name}:{intf.name} -- OTHER' or remove the interface")
            places = [(a, i.where) for i in node.interfaces.values() for a in i.addresses]
            places += [(a, node.svi_where.get(vid, node.where)) for vid, addrs in node.svis.items() for a in addrs]
            for addr, where in places:
                if addr.ip in seen:
                    raise _fail(where or node.where, f"address {addr.ip} is used twice ({seen[addr.ip]} and {node.name})",
                                "give each interface its own address")
                seen[addr.ip] = node.name
            connected = [a.network for a, _ in places]
            for route in node.routes:
                if route.via is not None:
                    if not any(route.via in net for net in connected) and not any(i.dhcp for i in node.interfaces.values()):
                        raise _fail(route.where or node.where, f"next hop {route.via} of {node.name} is on none of its subnets ({', '.join(map(str, connected)) or 'no addresses'})",
                                    "use a gateway address inside one of the node's connected subnets")
                if route.dev is not None and route.dev not in node.interfaces:
                    raise _fail(route.where or node.where, f"route of {node.name} uses interface '{route.dev}', which it does not have",
                                f"use one of: {', '.join(node.interfaces) or 'none'}")

    def check(self, topo: Topology, item: Any, where: Where) -> Check:
        kinds = ", ".join(sorted(self.reg.checks))
        if not isinstance(item, YMap) or len(item) != 1:
            raise _fail(where, "a check is one mapping such as 'reach: {from: pc1, to: 1.2.3.4}'", f"kinds: {kinds}")
        kind, params = next(iter(item.items()))
        if kind not in self.reg.checks:
            raise _fail(where, f"unknown check '{printable(kind, 60)}'", f"use one of: {kinds}")
        if not isinstance(params, YMap):
            raise _fail(where, f"check '{kind}' needs a mapping of parameters, not {shape(params)}",
                        "e.g. {from: pc1, to: ec2}")
        decl = self.reg.check(kind)
        values = validate(decl.params, params, where, self, f"check '{kind}'")
        return Check(kind=str(kind), params=values, where=where, label=decl.label(values))
